// Copies and sums between tensors of one shape whose memory may be strided slices (a
// channel slice of a concatenated output, read or written in place). Both tensors are seen
// as rows of contiguous floats: the largest trailing block of dimensions that is contiguous
// in both, with one row stride per tensor for the dimensions before it.
import { fmt, sameShape } from "../shape.js";
import type { Tensor } from "../tensor.js";
import { splitCall } from "./split.js";

/** rows x cols with one row stride (in floats) per tensor. */
export interface RowLayout {
  rows: number;
  cols: number;
  strides: number[];
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

/** The row layout shared by tensors of one shape, with the widest rows; null if there is none. */
export function rowLayout(...ts: Tensor[]): RowLayout | null {
  const shape = ts[0].shape;
  const r = shape.length;
  for (let k = 0; k <= r; k++) {
    if (!ts.every((t) => denseFrom(t, k) && uniformBefore(t, k))) continue;
    let rows = 1, cols = 1;
    for (let i = 0; i < k; i++) rows *= shape[i];
    for (let i = k; i < r; i++) cols *= shape[i];
    return { rows, cols, strides: ts.map((t) => (k === 0 ? cols : t.strides[k - 1])) };
  }
  return null;
}

/** rowLayout() of same-shaped tensors, or an error naming `what` and their strides. */
export function rowLayoutOf(what: string, ...ts: Tensor[]): RowLayout {
  for (const t of ts) if (!sameShape(t.shape, ts[0].shape)) throw new Error(`${what}: shapes differ: ${fmt(ts[0].shape)} and ${fmt(t.shape)}`);
  const L = rowLayout(...ts);
  if (!L) throw new Error(`${what}: the strides ${ts.map((t) => fmt(t.strides)).join(" and ")} of ${fmt(ts[0].shape)} do not form rows of a common width`);
  return L;
}

/** Both live and in one memory: a pointer into another backend's memory, or into memory freed for reuse, would read or write the wrong floats silently. */
function assertPair(what: string, dst: Tensor, src: Tensor): void {
  dst.assertLive();
  src.assertLive();
  if (dst.backend !== src.backend) throw new Error(`${what}: the two tensors belong to different backends`);
}

/** dst = src. Writes dst. */
export function copyInto(dst: Tensor, src: Tensor): void {
  assertPair("copyInto", dst, src);
  if (dst.ptr === src.ptr && dst.contiguous && src.contiguous) return;
  const L = rowLayoutOf("copyInto", dst, src);
  const [ds, ss] = L.strides;
  if (L.rows === 1 ? splitCall(dst.backend, "rows_copy", 2 * dst.size, L.cols, 4, (s, e) => [dst.ptr + 4 * s, e - s, src.ptr + 4 * s, e - s, 1, e - s])
    : splitCall(dst.backend, "rows_copy", 2 * dst.size, L.rows, 1, (s, e) => [dst.ptr + 4 * s * ds, ds, src.ptr + 4 * s * ss, ss, e - s, L.cols])) return;
  dst.backend.kernels.rows_copy(dst.ptr, L.strides[0], src.ptr, L.strides[1], L.rows, L.cols);
}

/** dst += src. Accumulates into dst. */
export function addInto(dst: Tensor, src: Tensor): void {
  assertPair("addInto", dst, src);
  const L = rowLayoutOf("addInto", dst, src);
  const [ds, ss] = L.strides;
  if (L.rows === 1 ? splitCall(dst.backend, "rows_add", 3 * dst.size, L.cols, 4, (s, e) => [dst.ptr + 4 * s, e - s, src.ptr + 4 * s, e - s, 1, e - s])
    : splitCall(dst.backend, "rows_add", 3 * dst.size, L.rows, 1, (s, e) => [dst.ptr + 4 * s * ds, ds, src.ptr + 4 * s * ss, ss, e - s, L.cols])) return;
  dst.backend.kernels.rows_add(dst.ptr, L.strides[0], src.ptr, L.strides[1], L.rows, L.cols);
}

/** t = value everywhere (t may be a slice). Writes t. Stays on the calling thread: a fill streams at the memory's write speed, and zeroing a layer's gradients is a few microseconds. */
export function fillInto(t: Tensor, value: number): void {
  t.assertLive();
  const L = rowLayoutOf("fillInto", t);
  t.backend.kernels.rows_fill(t.ptr, L.strides[0], L.rows, L.cols, value);
}
