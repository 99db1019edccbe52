// Copies and sums between tensors of one shape whose memory may be strided slices (a
// channel slice of a concatenated output, read or written in place). Both tensors are seen
// as rows of contiguous floats: the largest trailing block of dimensions that is contiguous
// in both, with one row stride per tensor for the dimensions before it.
import { fmt, sameShape } from "../shape.js";
import type { Tensor } from "../tensor.js";

/** rows x cols with row strides (in floats) of a and b, or null if one of them is not rows of a common width. */
export interface RowLayout {
  rows: number;
  cols: number;
  strideA: number;
  strideB: number;
}

/** Whether dimensions [from, r) of t are one dense block. */
function denseFrom(t: Tensor, from: number): boolean {
  let s = 1;
  for (let i = t.shape.length - 1; i >= from; i--) {
    if (t.shape[i] !== 1 && t.strides[i] !== s) return false;
    s *= t.shape[i];
  }
  return true;
}

/** Whether dimensions [0, k) of t step by one uniform stride (so they flatten into rows). */
function uniformBefore(t: Tensor, k: number): boolean {
  for (let i = 0; i < k - 1; i++) {
    if (t.shape[i + 1] !== 1 && t.shape[i] !== 1 && t.strides[i] !== t.strides[i + 1] * t.shape[i + 1]) return false;
  }
  return true;
}

/** The row layout shared by a and b (same shape), with the widest rows; null if there is none. */
export function rowLayout(a: Tensor, b: Tensor): RowLayout | null {
  const r = a.shape.length;
  for (let k = 0; k <= r; k++) {
    if (!denseFrom(a, k) || !denseFrom(b, k) || !uniformBefore(a, k) || !uniformBefore(b, k)) continue;
    let rows = 1, cols = 1;
    for (let i = 0; i < k; i++) rows *= a.shape[i];
    for (let i = k; i < r; i++) cols *= a.shape[i];
    const stride = (t: Tensor) => (k === 0 ? cols : t.strides[k - 1]);
    return { rows, cols, strideA: stride(a), strideB: stride(b) };
  }
  return null;
}

function layoutOf(what: string, dst: Tensor, src: Tensor): RowLayout {
  if (!sameShape(dst.shape, src.shape)) throw new Error(`${what}: shapes differ: ${fmt(dst.shape)} and ${fmt(src.shape)}`);
  const L = rowLayout(dst, src);
  if (!L) throw new Error(`${what}: the strides ${fmt(dst.strides)} and ${fmt(src.strides)} of ${fmt(dst.shape)} do not form rows of a common width`);
  return L;
}

/** dst = src. Writes dst. */
export function copyInto(dst: Tensor, src: Tensor): void {
  if (dst.ptr === src.ptr && dst.contiguous && src.contiguous) return;
  const L = layoutOf("copyInto", dst, src);
  dst.backend.kernels.rows_copy(dst.ptr, L.strideA, src.ptr, L.strideB, L.rows, L.cols);
}

/** dst += src. Accumulates into dst. */
export function addInto(dst: Tensor, src: Tensor): void {
  const L = layoutOf("addInto", dst, src);
  dst.backend.kernels.rows_add(dst.ptr, L.strideA, src.ptr, L.strideB, L.rows, L.cols);
}
