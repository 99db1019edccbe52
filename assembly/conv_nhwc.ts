// 2-D convolution, channels-last (NHWC): x [N, H, W, C] (pixels XS floats apart), y [N, OH, OW, OC]
// (pixels YS apart), weights [OC, KH, KW, C] contiguous, bias [OC]. Geometry: assembly/conv.ts.
//   forward:         y[p, oc] = b[oc] + sum_{kh,kw,c} x[n, ih, iw, c] w[oc, kh, kw, c]       writes y
//   backward_input:  dx[n, ih, iw, c] (+)= sum over the (p, kh, kw) that read it of
//                    dy[p, oc] w[oc, kh, kw, c]                                  writes or accumulates dx
//   backward_filter: dw[oc, kh, kw, c] += sum_p dy[p, oc] x[n, ih, iw, c];  db[oc] += sum_p dy[p, oc]
//                                                                             accumulates dw, db
// (p = (n*OH + oh)*OW + ow runs over output pixels; ih = oh*SH - PT + kh*DH, iw = ow*SW - PL + kw*DW.)
// An implicit GEMM by tiles of output pixels (K = KH*KW*C): a tile's patches [P, K] (zeros
// for padding; assembly/im2col.ts) are
//   forward:  packed straight from x into the GEMM's A layout, one P block of K at a time, then
//             Y_tile[P, OC] (rows YS apart, in place in y) = patches . W^T (+ b)
//   backward_input: dpatches[P, K] = dY_tile[P, OC] (read in place) . W, scattered into dx
//   backward_filter: gathered into the scratch, then dW[OC, K] += dY_tile^T . patches
// so the scratch is one tile plus the weights packed once per call for the GEMM, whatever
// the batch (conv2d_scratch_bytes). A 1 x 1, stride-1, unpadded convolution is one product
// over all pixels, x and y read and written in place (lda = XS, ldc = YS).
// Splitting the work (threads): forward and backward_filter compute output pixels [p0, p1)
// of any range (backward_filter into a dw/db of the caller's: one per worker, summed after);
// backward_input computes images [n0, n1): a tile scatters into the input rows of its
// neighbours, so two workers on the same image would add into the same dx. Each call packs
// the weights into its own scratch, so concurrent calls need one scratch each.
import {
  inC, inH, inW, isPointwise, kStepF, LAYOUT_NHWC, nImg, outC, outH, outW, packedWOffset, patchK, readDesc, tilePix, tilePixF, tilePixW, xStride, yStride, zeroOffset,
} from "./conv";
import { zeroF32 } from "./common";
import {
  A_COLS, A_PACKED, A_ROWS, ACT_NONE, B_COLS, B_PACKED, B_ROWS, gemm, INIT_BIAS, INIT_LOAD, INIT_ZERO, KC, NR, packOperandB, roundUp, sumRowsAcc,
} from "./gemm";
import { gatherNhwc, packPatchesNhwc, scatterNhwc } from "./im2col";

/** y = conv(x, w) + b over output pixels [p0, p1) of N*OH*OW (b == 0: no bias). Writes y. */
export function conv2d_forward_nhwc(y: usize, x: usize, w: usize, b: usize, desc: usize, p0: i32, p1: i32, scratch: usize): void {
  readDesc(desc, LAYOUT_NHWC);
  if (p0 < 0 || p1 > nImg * outH * outW) unreachable();
  if (p1 <= p0) return;
  const init = b ? INIT_BIAS : INIT_ZERO;
  // W^T [K, OC] packed once for all tiles.
  const wp = scratch + packedWOffset;
  packOperandB(wp, w, patchK, B_COLS, patchK, outC);
  if (isPointwise()) {
    gemm(y + pixelOffset(p0, yStride), yStride, x + pixelOffset(p0, xStride), xStride, A_ROWS, wp, 0, B_PACKED, p1 - p0, outC, inC, init, b, ACT_NONE);
    return;
  }
  // Tile by tile, P block by P block: the block's patches are packed straight from x, then
  // multiplied by that block of the packed weights into the tile of y (the products add up in
  // the same order as one GEMM over all of K).
  const zero = scratch + zeroOffset;
  zeroF32(zero, KC);
  const wBlock = <usize>roundUp(outC, NR) << 2;
  for (let p = p0; p < p1; p += tilePixF) {
    const rows = min(tilePixF, p1 - p);
    const yp = y + pixelOffset(p, yStride);
    for (let k0 = 0; k0 < patchK; k0 += kStepF) {
      const kc = min(kStepF, patchK - k0);
      packPatchesNhwc(scratch, x, p, rows, k0, kc, zero);
      gemm(yp, yStride, scratch, 0, A_PACKED, wp + <usize>k0 * wBlock, 0, B_PACKED, rows, outC, kc, k0 == 0 ? init : INIT_LOAD, b, ACT_NONE);
    }
  }
}

/**
 * dx (+)= the gradient of conv(x, w) with respect to x, from dy, for images [n0, n1):
 * accumulate 0 writes dx (its C channels of each pixel; the rest of a wider pixel is not
 * touched), 1 adds to it.
 */
export function conv2d_backward_input_nhwc(dx: usize, dy: usize, w: usize, desc: usize, accumulate: i32, n0: i32, n1: i32, scratch: usize): void {
  readDesc(desc, LAYOUT_NHWC);
  if (<u32>accumulate > 1 || n0 < 0 || n1 > nImg) unreachable();
  if (n1 <= n0) return;
  const ohw = outH * outW;
  const p0 = n0 * ohw, p1 = n1 * ohw;
  // W [OC, K] packed once for all tiles.
  const wp = scratch + packedWOffset;
  packOperandB(wp, w, patchK, B_ROWS, outC, patchK);
  if (isPointwise()) {
    gemm(dx + pixelOffset(p0, xStride), xStride, dy + pixelOffset(p0, yStride), yStride, A_ROWS, wp, 0, B_PACKED, p1 - p0, inC, outC, accumulate ? INIT_LOAD : INIT_ZERO, 0, ACT_NONE);
    return;
  }
  if (!accumulate) {
    const pixels = (n1 - n0) * inH * inW;
    const base = dx + (<usize>n0 * inH * inW) * (<usize>xStride << 2);
    if (xStride == inC) zeroF32(base, pixels * inC);
    else for (let i = 0; i < pixels; i++) zeroF32(base + <usize>i * (<usize>xStride << 2), inC);
  }
  for (let p = p0; p < p1; p += tilePix) {
    const rows = min(tilePix, p1 - p);
    gemm(scratch, patchK, dy + pixelOffset(p, yStride), yStride, A_ROWS, wp, 0, B_PACKED, rows, patchK, outC, INIT_ZERO, 0, ACT_NONE);
    scatterNhwc(dx, scratch, p, rows);
  }
}

/** dw += the gradient with respect to w, db += the column sums of dy (db == 0: no bias), over output pixels [p0, p1). Accumulates. */
export function conv2d_backward_filter_nhwc(dw: usize, db: usize, dy: usize, x: usize, desc: usize, p0: i32, p1: i32, scratch: usize): void {
  readDesc(desc, LAYOUT_NHWC);
  if (p0 < 0 || p1 > nImg * outH * outW) unreachable();
  if (p1 <= p0) return;
  if (db) sumRowsAcc(db, dy + pixelOffset(p0, yStride), yStride, p1 - p0, outC);
  if (isPointwise()) {
    gemm(dw, inC, dy + pixelOffset(p0, yStride), yStride, A_COLS, x + pixelOffset(p0, xStride), xStride, B_ROWS, outC, inC, p1 - p0, INIT_LOAD, 0, ACT_NONE);
    return;
  }
  for (let p = p0; p < p1; p += tilePixW) {
    const rows = min(tilePixW, p1 - p);
    gatherNhwc(scratch, x, p, rows);
    gemm(dw, patchK, dy + pixelOffset(p, yStride), yStride, A_COLS, scratch, patchK, B_ROWS, outC, patchK, rows, INIT_LOAD, 0, ACT_NONE);
  }
}

// Byte offset of pixel p in a tensor whose pixels are `stride` floats apart.
@inline function pixelOffset(p: i32, stride: i32): usize {
  return <usize>p * (<usize>stride << 2);
}
