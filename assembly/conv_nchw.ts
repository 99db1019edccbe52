// 2-D convolution, channels-first (NCHW): x [N, C, H, W] (images XS floats apart), y [N, OC, OH, OW]
// (images YS apart), weights [OC, C, KH, KW] (PyTorch's order), bias [OC]. Geometry:
// assembly/conv.ts. The same three kernels as assembly/conv_nhwc.ts:
//   forward:         y[n, oc, oh, ow] = b[oc] + sum_{c,kh,kw} w[oc, c, kh, kw] x[n, c, ih, iw]    writes y
//   backward_input:  dx[n, c, ih, iw] (+)= sum over the (oh, ow, kh, kw) that read it of
//                    w[oc, c, kh, kw] dy[n, oc, oh, ow]                        writes or accumulates dx
//   backward_filter: dw[oc, c, kh, kw] += sum_{n,oh,ow} dy[n, oc, oh, ow] x[n, c, ih, iw];
//                    db[oc] += sum_{n,oh,ow} dy[n, oc, oh, ow]                   accumulates dw, db
// Per image, by tiles of output pixels q = oh*OW + ow (K = C*KH*KW): the tile's columns
// [K, P] are gathered into the scratch (assembly/im2col.ts), then
//   forward:  Y[OC, tile] (rows OH*OW apart, in place in y) = W[OC, K] . columns (+ b per row)
//   backward_input: dcolumns[K, P] = W^T . dY[OC, tile] (read in place), scattered into dx
//   backward_filter: dW[OC, K] += dY[OC, tile] . columns^T
// The weights are packed once per call into the scratch (after the tile), as in NHWC. A
// 1 x 1, stride-1, unpadded convolution is one product per image: Y = W . X in place.
// Splitting the work (threads): as in NHWC, output pixels [p0, p1) of N*OH*OW for forward
// and backward_filter (tiles never cross an image), images [n0, n1) for backward_input; one
// scratch per concurrent call.
import {
  inC, inH, inW, isPointwise, LAYOUT_NCHW, nImg, outC, outH, outW, packedWOffset, patchK, readDesc, tilePix, tilePixW, xStride, yStride,
} from "./conv";
import { zeroF32 } from "./common";
import { A_COLS, A_PACKED, A_ROWS, ACT_NONE, B_COLS, B_ROWS, gemm, INIT_LOAD, INIT_ZERO, packOperandA } from "./gemm";
import { gatherNchw, scatterNchw } from "./im2col";

/** y = conv(x, w) + b over output pixels [p0, p1) of N*OH*OW (b == 0: no bias). Writes y. */
export function conv2d_forward_nchw(y: usize, x: usize, w: usize, b: usize, desc: usize, p0: i32, p1: i32, scratch: usize): void {
  readDesc(desc, LAYOUT_NCHW);
  const ohw = outH * outW;
  if (p0 < 0 || p1 > nImg * ohw) unreachable();
  if (p1 <= p0) return;
  // The bias is per row of Y: written first, then the products accumulate onto it.
  const init = b ? INIT_LOAD : INIT_ZERO;
  // W [OC, K] packed once for all tiles.
  const wp = scratch + packedWOffset;
  packOperandA(wp, w, patchK, A_ROWS, outC, patchK);
  for (let p = p0; p < p1;) {
    const n = p / ohw, qa = p - n * ohw, qb = min(ohw, p1 - n * ohw);
    const yn = y + imageOffset(n, yStride), xn = x + imageOffset(n, xStride);
    if (isPointwise()) {
      if (b) fillRows(yn + (<usize>qa << 2), ohw, b, outC, qb - qa);
      gemm(yn + (<usize>qa << 2), ohw, wp, 0, A_PACKED, xn + (<usize>qa << 2), inH * inW, B_ROWS, outC, qb - qa, inC, init, 0, ACT_NONE);
    } else {
      for (let q = qa; q < qb; q += tilePix) {
        const cols = min(tilePix, qb - q);
        gatherNchw(scratch, xn, q, cols);
        if (b) fillRows(yn + (<usize>q << 2), ohw, b, outC, cols);
        gemm(yn + (<usize>q << 2), ohw, wp, 0, A_PACKED, scratch, cols, B_ROWS, outC, cols, patchK, init, 0, ACT_NONE);
      }
    }
    p += qb - qa;
  }
}

/**
 * dx (+)= the gradient of conv(x, w) with respect to x, from dy, for images [n0, n1):
 * accumulate 0 writes dx (each image's C*H*W block; the rest of a longer image stride is not
 * touched), 1 adds to it.
 */
export function conv2d_backward_input_nchw(dx: usize, dy: usize, w: usize, desc: usize, accumulate: i32, n0: i32, n1: i32, scratch: usize): void {
  readDesc(desc, LAYOUT_NCHW);
  if (<u32>accumulate > 1 || n0 < 0 || n1 > nImg) unreachable();
  const ohw = outH * outW, hw = inH * inW;
  if (n1 <= n0) return;
  // W^T [K, OC] packed once for all tiles.
  const wp = scratch + packedWOffset;
  packOperandA(wp, w, patchK, A_COLS, patchK, outC);
  for (let n = n0; n < n1; n++) {
    const dxn = dx + imageOffset(n, xStride), dyn = dy + imageOffset(n, yStride);
    if (isPointwise()) {
      gemm(dxn, hw, wp, 0, A_PACKED, dyn, ohw, B_ROWS, inC, hw, outC, accumulate ? INIT_LOAD : INIT_ZERO, 0, ACT_NONE);
      continue;
    }
    if (!accumulate) zeroF32(dxn, inC * hw);
    for (let q = 0; q < ohw; q += tilePix) {
      const cols = min(tilePix, ohw - q);
      gemm(scratch, cols, wp, 0, A_PACKED, dyn + (<usize>q << 2), ohw, B_ROWS, patchK, cols, outC, INIT_ZERO, 0, ACT_NONE);
      scatterNchw(dxn, scratch, q, cols);
    }
  }
}

/** dw += the gradient with respect to w, db += the sums of dy's planes (db == 0: no bias), over output pixels [p0, p1). Accumulates. */
export function conv2d_backward_filter_nchw(dw: usize, db: usize, dy: usize, x: usize, desc: usize, p0: i32, p1: i32, scratch: usize): void {
  readDesc(desc, LAYOUT_NCHW);
  const ohw = outH * outW;
  if (p0 < 0 || p1 > nImg * ohw) unreachable();
  for (let p = p0; p < p1;) {
    const n = p / ohw, qa = p - n * ohw, qb = min(ohw, p1 - n * ohw);
    const dyn = dy + imageOffset(n, yStride), xn = x + imageOffset(n, xStride);
    if (db) sumPlanesAcc(db, dyn + (<usize>qa << 2), ohw, outC, qb - qa);
    if (isPointwise()) {
      gemm(dw, inC, dyn + (<usize>qa << 2), ohw, A_ROWS, xn + (<usize>qa << 2), inH * inW, B_COLS, outC, inC, qb - qa, INIT_LOAD, 0, ACT_NONE);
    } else {
      for (let q = qa; q < qb; q += tilePixW) {
        const cols = min(tilePixW, qb - q);
        gatherNchw(scratch, xn, q, cols);
        gemm(dw, patchK, dyn + (<usize>q << 2), ohw, A_ROWS, scratch, cols, B_COLS, outC, patchK, cols, INIT_LOAD, 0, ACT_NONE);
      }
    }
    p += qb - qa;
  }
}

@inline function imageOffset(n: i32, stride: i32): usize {
  return <usize>n * (<usize>stride << 2);
}

// y[r, 0 .. cols) = v[r] for rows r < R, rows ld floats apart.
function fillRows(y: usize, ld: i32, v: usize, R: i32, cols: i32): void {
  for (let r = 0; r < R; r++) {
    const row = y + (<usize>(r * ld) << 2);
    const s = load<f32>(v + (<usize>r << 2));
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      const sv = f32x4.splat(s);
      for (; j + 4 <= cols; j += 4) v128.store(row + (<usize>j << 2), sv);
    }
    for (; j < cols; j++) store<f32>(row + (<usize>j << 2), s);
  }
}

// db[r] += sum of dy[r, 0 .. cols) for rows r < R, rows ld floats apart. Eight partial sums
// (two f32x4, or their scalar twins in the same order: both builds give the same bits).
function sumPlanesAcc(db: usize, dy: usize, ld: i32, R: i32, cols: i32): void {
  for (let r = 0; r < R; r++) {
    const row = dy + (<usize>(r * ld) << 2);
    let s: f32 = 0;
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      let a0 = f32x4.splat(0), a1 = a0;
      for (; j + 8 <= cols; j += 8) {
        a0 = f32x4.add(a0, v128.load(row + (<usize>j << 2)));
        a1 = f32x4.add(a1, v128.load(row + (<usize>j << 2), 16));
      }
      for (; j + 4 <= cols; j += 4) a0 = f32x4.add(a0, v128.load(row + (<usize>j << 2)));
      a0 = f32x4.add(a0, a1);
      s = f32x4.extract_lane(a0, 0) + f32x4.extract_lane(a0, 1) + f32x4.extract_lane(a0, 2) + f32x4.extract_lane(a0, 3);
    } else {
      let a0: f32 = 0, a1: f32 = 0, a2: f32 = 0, a3: f32 = 0, b0: f32 = 0, b1: f32 = 0, b2: f32 = 0, b3: f32 = 0;
      for (; j + 8 <= cols; j += 8) {
        const q = row + (<usize>j << 2);
        a0 += load<f32>(q); a1 += load<f32>(q, 4); a2 += load<f32>(q, 8); a3 += load<f32>(q, 12);
        b0 += load<f32>(q, 16); b1 += load<f32>(q, 20); b2 += load<f32>(q, 24); b3 += load<f32>(q, 28);
      }
      for (; j + 4 <= cols; j += 4) {
        const q = row + (<usize>j << 2);
        a0 += load<f32>(q); a1 += load<f32>(q, 4); a2 += load<f32>(q, 8); a3 += load<f32>(q, 12);
      }
      s = (a0 + b0) + (a1 + b1) + (a2 + b2) + (a3 + b3);
    }
    for (; j < cols; j++) s += load<f32>(row + (<usize>j << 2));
    const d = db + (<usize>r << 2);
    store<f32>(d, load<f32>(d) + s);
  }
}
