// Patches in and out of a tile, for the convolution kernels (geometry: assembly/conv.ts).
//   NHWC: a tile is `rows` consecutive output pixels p (p = (n*OH + oh)*OW + ow); its patch
//     matrix is [rows, KH*KW*C], row r holding the taps (kh, kw) in order, C channels each:
//     the order of the weights [OC, KH, KW, C], so Y_tile = patches . W^T. Every tap is a
//     run of C contiguous floats of x (KW*C when the taps of a kernel row are adjacent
//     pixels), copied with f32x4 loads and stores; taps in the padding are zeros.
//   NCHW: a tile is `cols` consecutive output pixels q of one image; its column matrix is
//     [C*KH*KW, cols] (ld = cols), row (c, kh, kw) holding that tap of every pixel of the
//     tile: the order of the weights [OC, C, KH, KW], so Y_tile = W . columns. Along an
//     output row a stride-1 tap reads a contiguous run of the input row.
// gather* write the tile (im2col); scatter* add a tile of patch gradients back into dx
// (col2im: overlapping taps of neighbouring pixels sum).
import {
  dilH, dilW, inC, inH, inW, kerH, kerW, outH, outW, padL, padT, patchK, strH, strW, xStride,
} from "./conv";
import { addF32, copyF32, zeroF32 } from "./common";

// The first and one-past-last output column ow whose tap at input column offset `off`
// (iw = ow*SW + off) lands inside [0, W): ceil(-off / SW) .. floor((W - 1 - off) / SW) + 1.
@inline function validLo(off: i32, s: i32): i32 {
  return off >= 0 ? 0 : (-off + s - 1) / s;
}
@inline function validHi(off: i32, s: i32, size: i32): i32 {
  const last = size - 1 - off;
  return last < 0 ? 0 : last / s + 1;
}

/** NHWC: the patches of output pixels [p, p + rows) into dst ([rows, KH*KW*C]). */
export function gatherNhwc(dst: usize, x: usize, p: i32, rows: i32): void {
  const ohw = outH * outW;
  let n = p / ohw, rem = p - n * ohw;
  let oh = rem / outW, ow = rem - oh * outW;
  const C = inC, kwc = kerW * C;
  const pixB = <usize>xStride << 2, rowB = <usize>inW * pixB, imgB = <usize>inH * rowB;
  // The taps of one kernel row are adjacent pixels of one input row, packed back to back.
  const runs = dilW == 1 && xStride == C;
  for (let r = 0; r < rows; r++) {
    let d = dst + (<usize>(r * patchK) << 2);
    const img = x + <usize>n * imgB;
    const iw0 = ow * strW - padL;
    for (let kh = 0; kh < kerH; kh++, d += <usize>kwc << 2) {
      const ih = oh * strH - padT + kh * dilH;
      if (<u32>ih >= <u32>inH) {
        zeroF32(d, kwc);
        continue;
      }
      const row = img + <usize>ih * rowB;
      if (runs && iw0 >= 0 && iw0 + kerW <= inW) {
        copyF32(d, row + <usize>iw0 * pixB, kwc);
        continue;
      }
      let t = d;
      for (let kw = 0; kw < kerW; kw++, t += <usize>C << 2) {
        const iw = iw0 + kw * dilW;
        if (<u32>iw < <u32>inW) copyF32(t, row + <usize>iw * pixB, C);
        else zeroF32(t, C);
      }
    }
    if (++ow == outW) {
      ow = 0;
      if (++oh == outH) {
        oh = 0;
        n++;
      }
    }
  }
}

/** NHWC: dx += the patch gradients src ([rows, KH*KW*C]) of output pixels [p, p + rows), tap by tap. */
export function scatterNhwc(dx: usize, src: usize, p: i32, rows: i32): void {
  const ohw = outH * outW;
  let n = p / ohw, rem = p - n * ohw;
  let oh = rem / outW, ow = rem - oh * outW;
  const C = inC, kwc = kerW * C;
  const pixB = <usize>xStride << 2, rowB = <usize>inW * pixB, imgB = <usize>inH * rowB;
  const runs = dilW == 1 && xStride == C;
  for (let r = 0; r < rows; r++) {
    const s0 = src + (<usize>(r * patchK) << 2);
    const img = dx + <usize>n * imgB;
    const iw0 = ow * strW - padL;
    for (let kh = 0; kh < kerH; kh++) {
      const ih = oh * strH - padT + kh * dilH;
      if (<u32>ih >= <u32>inH) continue;
      const row = img + <usize>ih * rowB;
      let s = s0 + (<usize>(kh * kwc) << 2);
      if (runs && iw0 >= 0 && iw0 + kerW <= inW) {
        addF32(row + <usize>iw0 * pixB, s, kwc);
        continue;
      }
      for (let kw = 0; kw < kerW; kw++, s += <usize>C << 2) {
        const iw = iw0 + kw * dilW;
        if (<u32>iw < <u32>inW) addF32(row + <usize>iw * pixB, s, C);
      }
    }
    if (++ow == outW) {
      ow = 0;
      if (++oh == outH) {
        oh = 0;
        n++;
      }
    }
  }
}

/** NCHW: the columns of output pixels [q0, q0 + cols) of the image at x (C x H x W) into dst ([C*KH*KW, cols]). */
export function gatherNchw(dst: usize, x: usize, q0: i32, cols: i32): void {
  const plane = inH * inW;
  let d = dst;
  for (let c = 0; c < inC; c++) {
    const xc = x + (<usize>(c * plane) << 2);
    for (let kh = 0; kh < kerH; kh++) {
      for (let kw = 0; kw < kerW; kw++, d += <usize>cols << 2) {
        const offW = kw * dilW - padL;
        const lo = validLo(offW, strW), hi = validHi(offW, strW, inW);
        let oh = q0 / outW, ow = q0 - oh * outW;
        let j = 0;
        while (j < cols) {
          const seg = min(outW - ow, cols - j);
          const t = d + (<usize>j << 2);
          const ih = oh * strH - padT + kh * dilH;
          if (<u32>ih >= <u32>inH) {
            zeroF32(t, seg);
          } else {
            // ow in [ow, ow + seg): zeros left of lo, the input row inside, zeros from hi.
            const a = min(max(lo, ow), ow + seg), b = max(min(hi, ow + seg), a);
            zeroF32(t, a - ow);
            const src = xc + (<usize>(ih * inW + a * strW + offW) << 2);
            if (strW == 1) copyF32(t + (<usize>(a - ow) << 2), src, b - a);
            else {
              const step = <usize>strW << 2;
              let s = src, u = t + (<usize>(a - ow) << 2);
              for (let k = a; k < b; k++, s += step, u += 4) store<f32>(u, load<f32>(s));
            }
            zeroF32(t + (<usize>(b - ow) << 2), ow + seg - b);
          }
          j += seg;
          ow = 0;
          oh++;
        }
      }
    }
  }
}

/** NCHW: dx (the image's C x H x W) += the column gradients src ([C*KH*KW, cols]) of output pixels [q0, q0 + cols). */
export function scatterNchw(dx: usize, src: usize, q0: i32, cols: i32): void {
  const plane = inH * inW;
  let s = src;
  for (let c = 0; c < inC; c++) {
    const xc = dx + (<usize>(c * plane) << 2);
    for (let kh = 0; kh < kerH; kh++) {
      for (let kw = 0; kw < kerW; kw++, s += <usize>cols << 2) {
        const offW = kw * dilW - padL;
        const lo = validLo(offW, strW), hi = validHi(offW, strW, inW);
        let oh = q0 / outW, ow = q0 - oh * outW;
        let j = 0;
        while (j < cols) {
          const seg = min(outW - ow, cols - j);
          const ih = oh * strH - padT + kh * dilH;
          if (<u32>ih < <u32>inH) {
            const a = min(max(lo, ow), ow + seg), b = max(min(hi, ow + seg), a);
            const dst = xc + (<usize>(ih * inW + a * strW + offW) << 2);
            const t = s + (<usize>(j + a - ow) << 2);
            if (strW == 1) addF32(dst, t, b - a);
            else {
              const step = <usize>strW << 2;
              let u = dst, v = t;
              for (let k = a; k < b; k++, u += step, v += 4) store<f32>(u, load<f32>(u) + load<f32>(v));
            }
          }
          j += seg;
          ow = 0;
          oh++;
        }
      }
    }
  }
}
