// The geometry every 2-D convolution kernel reads (assembly/conv_nhwc.ts, conv_nchw.ts), and
// the scratch they share. The caller writes the geometry once per layer and input shape as
// CONV_FIELDS int32 values at `desc` (the order of the constants below) and passes the pointer:
//   N images of H x W x C in, OH x OW x OC out, a KH x KW kernel, strides SH, SW,
//   dilations DH, DW, top/left padding PT, PL (bottom/right padding is whatever OH, OW
//   imply: taps past the input read zeros, so TensorFlow's asymmetric 'same' is just
//   PT = floor(total / 2) with OH = ceil(H / SH));
//   XS, YS: where a tensor sits inside a bigger one (a channel slice of a concatenation):
//     NHWC: floats from one pixel to the next of x and dx (>= C), of y and dy (>= OC);
//     NCHW: floats from one image to the next of x and dx (>= C*H*W), of y and dy (>= OC*OH*OW).
// The output pixel (oh, ow) reads the input at ih = oh*SH - PT + kh*DH, iw = ow*SW - PL + kw*DW.
import { kStep, PACK_UNIT, packedSize } from "./gemm";
import { PACK_ZERO_BYTES } from "./im2col";

export const CONV_N = 0;
export const CONV_H = 1;
export const CONV_W = 2;
export const CONV_C = 3;
export const CONV_OH = 4;
export const CONV_OW = 5;
export const CONV_OC = 6;
export const CONV_KH = 7;
export const CONV_KW = 8;
export const CONV_SH = 9;
export const CONV_SW = 10;
export const CONV_DH = 11;
export const CONV_DW = 12;
export const CONV_PT = 13;
export const CONV_PL = 14;
export const CONV_XS = 15;
export const CONV_YS = 16;
export const CONV_FIELDS = 17;

// The geometry of the current call, read from the descriptor (module globals: each instance
// of a threaded build has its own).
export let nImg = 0, inH = 0, inW = 0, inC = 0, outH = 0, outW = 0, outC = 0;
export let kerH = 0, kerW = 0, strH = 0, strW = 0, dilH = 0, dilW = 0, padT = 0, padL = 0;
export let xStride = 0, yStride = 0;
/** KH * KW * C: the depth of one patch. */
export let patchK = 0;
/** Output pixels per tile: the patch tile (tilePix x patchK floats) fits the scratch. */
export let tilePix = 0;
/** Output pixels per tile of the NHWC forward, whose patches are packed one P block (at most kStepF deep) at a time. */
export let tilePixF = 0;
/** The depth of the GEMM's P blocks over patchK. */
export let kStepF = 0;
/** Byte offset in the scratch of packPatchesNhwc's zeros, after the forward's packed patch block. */
export let zeroOffset: usize = 0;
/** Output pixels per tile of backward_filter (deeper: each tile reads and writes all of dW). */
export let tilePixW = 0;
/** Byte offset in the scratch of the weights packed for the GEMM, after the patch tile. */
export let packedWOffset: usize = 0;

// Bytes of patches (or columns) a tile may hold: the A block of the GEMM stays in L2.
const TILE_BUDGET: i32 = 256 << 10;
// Output pixels per tile at most (small K): the GEMM's row block.
const TILE_MAX: i32 = 256;
// Bytes of one packed P block of the NHWC forward's patches: it stays in L2 next to that
// block's packed weights and the tile of y it accumulates into.
const TILE_BUDGET_F: i32 = 128 << 10;
// backward_filter's tiles are the depth of its products, dW[OC, K] += dY_tile^T . patches:
// every tile loads and stores all of dW (884 KiB for 3x3 128->192), so deeper tiles (1 MiB
// of patches) amortize that traffic (measured up to ~10% faster than 256 KiB tiles).
const TILE_BUDGET_W: i32 = 1024 << 10;
const TILE_MAX_W: i32 = 1024;

@inline function field(desc: usize, i: i32): i32 {
  return load<i32>(desc + (<usize>i << 2));
}

// Which tensor strides readDesc checks.
export const LAYOUT_ANY = 0;
export const LAYOUT_NHWC = 1;
export const LAYOUT_NCHW = 2;

/** Reads the descriptor into the globals; traps on a geometry no kernel may run (sizes < 1, negative padding, strides short of the layout's blocks). */
export function readDesc(desc: usize, layout: i32): void {
  nImg = field(desc, CONV_N); inH = field(desc, CONV_H); inW = field(desc, CONV_W); inC = field(desc, CONV_C);
  outH = field(desc, CONV_OH); outW = field(desc, CONV_OW); outC = field(desc, CONV_OC);
  kerH = field(desc, CONV_KH); kerW = field(desc, CONV_KW);
  strH = field(desc, CONV_SH); strW = field(desc, CONV_SW); dilH = field(desc, CONV_DH); dilW = field(desc, CONV_DW);
  padT = field(desc, CONV_PT); padL = field(desc, CONV_PL);
  xStride = field(desc, CONV_XS); yStride = field(desc, CONV_YS);
  if (nImg < 1 || inH < 1 || inW < 1 || inC < 1 || outH < 1 || outW < 1 || outC < 1 || kerH < 1 || kerW < 1) unreachable();
  if (strH < 1 || strW < 1 || dilH < 1 || dilW < 1 || padT < 0 || padL < 0) unreachable();
  if (layout == LAYOUT_NHWC && (xStride < inC || yStride < outC)) unreachable();
  if (layout == LAYOUT_NCHW && (xStride < inC * inH * inW || yStride < outC * outH * outW)) unreachable();
  patchK = kerH * kerW * inC;
  tilePix = tilePixels(patchK, TILE_BUDGET, TILE_MAX);
  tilePixW = tilePixels(patchK, TILE_BUDGET_W, TILE_MAX_W);
  kStepF = kStep(patchK);
  tilePixF = tilePixels(kStepF, TILE_BUDGET_F, TILE_MAX);
  zeroOffset = <usize>tilePixF * kStepF * 4;
  // A pointwise convolution gathers nothing: its scratch is the packed weights alone.
  packedWOffset = isPointwise() ? 0 : (max(<usize>tilePix * patchK * 4, zeroOffset + PACK_ZERO_BYTES) + 15) & ~15;
}

// Output pixels per tile for patches of depth k: a multiple of the GEMM's packing unit
// (its register tile rows and columns), at least one unit.
function tilePixels(k: i32, budget: i32, most: i32): i32 {
  const fit = budget / (k << 2);
  return max(PACK_UNIT, min(most, fit - fit % PACK_UNIT));
}

/** True when the convolution is a plain matrix product over pixels: 1 x 1, stride 1, no padding. */
export function isPointwise(): bool {
  return kerH == 1 && kerW == 1 && strH == 1 && strW == 1 && padT == 0 && padL == 0 && outH == inH && outW == inW;
}

/**
 * Bytes of scratch every conv2d kernel of this geometry (either layout) needs, 16-byte
 * aligned by the caller. Forward and backward_input: one tile of patches (at most 256 KiB
 * unless one patch row is deeper than 8,192 floats), or the NHWC forward's packed P block
 * (at most 128 KiB) and 5 KiB of zeros and runs when that is more, then the weights packed
 * once per call for the GEMM (their size, rounded up to whole register tiles);
 * backward_filter: one deeper tile of patches (at most 1 MiB) over the same bytes. A
 * pointwise convolution (1 x 1, stride 1, unpadded) needs the packed weights only.
 * Independent of the batch size.
 */
export function conv2d_scratch_bytes(desc: usize): i32 {
  readDesc(desc, LAYOUT_ANY);
  // The largest of the packings: as B [K, OC] or [OC, K] (NHWC), as A [OC, K] or [K, OC] (NCHW).
  const packed = max(packedSize(patchK, outC), packedSize(outC, patchK));
  if (isPointwise()) return packed * 4;
  return max(<i32>packedWOffset + packed * 4, tilePixW * patchK * 4);
}

