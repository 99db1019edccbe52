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
// (col2im: overlapping taps of neighbouring pixels sum). The NHWC forward packs instead:
// packPatchesNhwc writes the patches straight in the GEMM's packed A layout, one P block at
// a time, so x is read once and nothing is copied twice.
import {
  dilH, dilW, inC, inH, inW, kerH, kerW, outH, outW, padL, padT, patchK, strH, strW, xStride,
} from "./conv";
import { addF32, copyF32, zeroF32 } from "./common";
import { KC, MR, transpose4Store } from "./gemm";

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
      kernelRowTaps(d, row, iw0, 0, kwc, pixB);
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

/** Bytes packPatchesNhwc needs at `zero`: zeros for a padding row, a gathered run per pixel of a micro-panel, their positions. */
export const PACK_ZERO_BYTES: i32 = (KC << 2) * (1 + MR) + MR * 16;

/**
 * NHWC: columns [k0, k0 + kc) (kc <= KC) of the patches of output pixels [p, p + rows), as
 * gatherNhwc orders them, packed as the GEMM's A operand for one P block (A_PACKED): MR-row
 * micro-panels of kc x MR floats, p-major, rows past `rows` zero. `zero` is PACK_ZERO_BYTES
 * of scratch whose first kc floats are zero.
 * A micro-panel is packed kernel row by kernel row: each pixel's part of the kernel row is
 * read in place when it is one run of x, from the zeros when it is padding, and otherwise
 * (a window over the left or right edge, dilation, a channel slice) gathered tap by tap first.
 */
export function packPatchesNhwc(dst: usize, x: usize, p: i32, rows: i32, k0: i32, kc: i32, zero: usize): void {
  const ohw = outH * outW;
  let n = p / ohw, rem = p - n * ohw;
  let oh = rem / outW, ow = rem - oh * outW;
  const C = inC, kwc = kerW * C, k1 = k0 + kc;
  const pixB = <usize>xStride << 2, rowB = <usize>inW * pixB, imgB = <usize>inH * rowB;
  // A kernel row's taps are adjacent pixels of one input row, back to back.
  const runs = dilW == 1 && xStride == C;
  const khFirst = k0 / kwc, khLast = (k1 - 1) / kwc;
  const panelB = <usize>kc * MR * 4;
  const runsAt = zero + (<usize>KC << 2), pos = runsAt + (<usize>(KC * MR) << 2);
  for (let r = 0; r < rows; r += MR, dst += panelB) {
    // Each pixel of the micro-panel: its image (0: a row past the tile), top input row, left input column.
    let inside = runs;
    for (let j = 0; j < MR; j++) {
      const at = pos + (<usize>j << 4);
      if (r + j >= rows) {
        store<usize>(at, 0);
        inside = false;
        continue;
      }
      const ih = oh * strH - padT, iw = ow * strW - padL;
      store<usize>(at, x + <usize>n * imgB);
      store<i32>(at, ih, 4);
      store<i32>(at, iw, 8);
      if (ih < 0 || ih + (kerH - 1) * dilH >= inH || iw < 0 || iw + kerW > inW) inside = false;
      if (++ow == outW) {
        ow = 0;
        if (++oh == outH) {
          oh = 0;
          n++;
        }
      }
    }
    // Four whole windows inside the input: each kernel row is one run of x per pixel.
    if (inside) {
      const s0 = windowAt(pos, rowB, pixB), s1 = windowAt(pos + 16, rowB, pixB);
      const s2 = windowAt(pos + 32, rowB, pixB), s3 = windowAt(pos + 48, rowB, pixB);
      for (let kh = khFirst; kh <= khLast; kh++) {
        const base = kh * kwc;
        const a = max(k0, base), e = min(k1, base + kwc);
        const off = <usize>kh * dilH * rowB + (<usize>(a - base) << 2);
        interleave4(dst + (<usize>(a - k0) << 4), s0 + off, s1 + off, s2 + off, s3 + off, e - a);
      }
      continue;
    }
    for (let kh = khFirst; kh <= khLast; kh++) {
      const base = kh * kwc;
      const a = max(k0, base), e = min(k1, base + kwc);
      interleave4(dst + (<usize>(a - k0) << 4),
        kernelRowRun(pos, runsAt, kh, a - base, e - a, runs, rowB, pixB, zero),
        kernelRowRun(pos + 16, runsAt + (<usize>KC << 2), kh, a - base, e - a, runs, rowB, pixB, zero),
        kernelRowRun(pos + 32, runsAt + (<usize>KC << 3), kh, a - base, e - a, runs, rowB, pixB, zero),
        kernelRowRun(pos + 48, runsAt + (<usize>KC * 12), kh, a - base, e - a, runs, rowB, pixB, zero), e - a);
    }
  }
}

// Where a pixel's window (kernel row 0, tap 0) starts in x.
@inline function windowAt(at: usize, rowB: usize, pixB: usize): usize {
  return load<usize>(at) + <usize>load<i32>(at, 4) * rowB + <usize>load<i32>(at, 8) * pixB;
}

// Floats [t0, t0 + len) of a pixel's kernel row kh (t = kw*C + c): in place in x when they are
// one run of it, `zero` when the row is padding or the pixel is past the tile, or else
// gathered tap by tap (zeros in the padding) into `run`.
function kernelRowRun(at: usize, run: usize, kh: i32, t0: i32, len: i32, runs: bool, rowB: usize, pixB: usize, zero: usize): usize {
  const img = load<usize>(at), ih = load<i32>(at, 4) + kh * dilH, iw0 = load<i32>(at, 8);
  if (!img || <u32>ih >= <u32>inH) return zero;
  const row = img + <usize>ih * rowB;
  if (runs && iw0 >= 0 && iw0 + kerW <= inW) return row + <usize>iw0 * pixB + (<usize>t0 << 2);
  kernelRowTaps(run, row, iw0, t0, t0 + len, pixB);
  return run;
}

// Floats [t0, t1) of a kernel row (t = kw*C + c) whose first tap is input column iw0 of the
// input row at `row`, tap by tap into dst: each tap's channels from x, or zeros in the padding.
function kernelRowTaps(dst: usize, row: usize, iw0: i32, t0: i32, t1: i32, pixB: usize): void {
  const C = inC;
  for (let kw = t0 / C; kw * C < t1; kw++) {
    const t = kw * C, sa = max(t0, t), se = min(t1, t + C);
    const d = dst + (<usize>(sa - t0) << 2);
    const iw = iw0 + kw * dilW;
    if (<u32>iw < <u32>inW) copyF32(d, row + <usize>iw * pixB + (<usize>(sa - t) << 2), se - sa);
    else zeroF32(d, se - sa);
  }
}

// dst[i*MR + j] = s_j[i] for i < len, j < 4 (MR = 4): four runs interleaved, p-major.
@inline function interleave4(dst: usize, s0: usize, s1: usize, s2: usize, s3: usize, len: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= len; i += 4) {
      const o = <usize>i << 2;
      transpose4Store(dst + (<usize>i << 4), 16, v128.load(s0 + o), v128.load(s1 + o), v128.load(s2 + o), v128.load(s3 + o));
    }
  }
  for (; i < len; i++) {
    const o = <usize>i << 2, d = dst + (<usize>i << 4);
    store<f32>(d, load<f32>(s0 + o));
    store<f32>(d, load<f32>(s1 + o), 4);
    store<f32>(d, load<f32>(s2 + o), 8);
    store<f32>(d, load<f32>(s3 + o), 12);
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
