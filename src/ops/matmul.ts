// Matrix-product ops of the Dense layer (y = x W^T + b with W in PyTorch's [out, in]
// layout): the only code that calls the gemm_* kernels. Rows are every leading dimension
// of x flattened: [..., in] is M = size / in rows.
// With a thread pool, a large product is split by output tiles: rows of C when it has at
// least as many rows as columns, else columns, in multiples of 8 (the GEMM's packing unit);
// one part per thread, more for a large product (PART_MACS each at least: every part packs
// the whole of the operand it shares). Every element of C is still one sum in the same order,
// so the result is bit-identical to one thread's whatever the thread count.
import type { Backend } from "../backend.js";
import { ACT, type ActName } from "../kernels.js";
import type { Tensor } from "../tensor.js";
import { splitRange } from "../threads/partition.js";
import { rowLayout } from "./rows.js";

/** Multiply-adds per part at least when a product is cut into more parts than threads. */
export const PART_MACS = 1 << 22;

/**
 * gemm_f32's product split over the backend's threads; false (nothing done) when there is
 * no pool or the product is too small to gain from it.
 */
export function gemmParallel(
  backend: Backend, c: number, ldc: number, a: number, lda: number, transA: number, b: number, ldb: number, transB: number,
  bias: number, M: number, N: number, K: number, accumulate: number, act: number,
): boolean {
  const pool = backend.pool;
  if (!pool || M * N * K < pool.minMacs) return false;
  const byRows = M >= N;
  const ranges = splitRange(byRows ? M : N, pool.partsFor(M * N * K, PART_MACS), 8);
  if (ranges.length < 2) return false;
  pool.run("gemm_f32", ranges.map(([s, e]) => byRows
    ? [c + s * ldc * 4, ldc, transA ? a + s * 4 : a + s * lda * 4, lda, transA, b, ldb, transB, bias, e - s, N, K, accumulate, act]
    : [c + s * 4, ldc, a, lda, transA, transB ? b + s * ldb * 4 : b + s * 4, ldb, transB, bias ? bias + s * 4 : 0, M, e - s, K, accumulate, act]));
  return true;
}

/** y[M, out] = act(x[M, in] W[out, in]^T + b[out]); b null: no bias. Writes y. */
export function linearForward(y: Tensor, x: Tensor, w: Tensor, b: Tensor | null, act: ActName | "none" = "none"): void {
  const [out, inF] = w.shape;
  const M = x.size / inF;
  if (gemmParallel(x.backend, y.ptr, out, x.ptr, inF, 0, w.ptr, inF, 1, b ? b.ptr : 0, M, out, inF, 0, ACT[act])) return;
  x.backend.kernels.gemm_nt(y.ptr, x.ptr, w.ptr, b ? b.ptr : 0, M, out, inF, ACT[act]);
}

/**
 * dx[M, in] (+)= dy[M, out] W[out, in]: writes dx, or accumulates into it (the gradient of an
 * input several layers read). dx may be rows of a bigger tensor (its row stride is passed to
 * the product, so a slice is written in place).
 */
export function linearBackwardInput(dx: Tensor, dy: Tensor, w: Tensor, accumulate = false): void {
  const [out, inF] = w.shape;
  const k = dy.backend.kernels;
  const M = dy.size / out;
  if (!accumulate && dx.contiguous) {
    if (!gemmParallel(dy.backend, dx.ptr, inF, dy.ptr, out, 0, w.ptr, inF, 0, 0, M, inF, out, 0, 0)) k.gemm_nn(dx.ptr, dy.ptr, w.ptr, M, out, inF);
    return;
  }
  const ld = dx.contiguous ? inF : rowStride(dx, inF);
  if (gemmParallel(dy.backend, dx.ptr, ld, dy.ptr, out, 0, w.ptr, inF, 0, 0, M, inF, out, accumulate ? 1 : 0, 0)) return;
  k.gemm_f32(dx.ptr, ld, dy.ptr, out, 0, w.ptr, inF, 0, 0, M, inF, out, accumulate ? 1 : 0, 0);
}

/** The row stride of a tensor that is rows of `cols` contiguous floats. */
function rowStride(t: Tensor, cols: number): number {
  const L = rowLayout(t);
  if (!L || L.cols !== cols) throw new Error(`linear: dx of shape [${t.shape.join(", ")}] with strides [${t.strides.join(", ")}] is not rows of ${cols} floats`);
  return L.strides[0];
}

/** dW[out, in] += dy^T x; db[out] += column sums of dy (db null: no bias). Accumulates. */
export function linearBackwardParams(dw: Tensor, db: Tensor | null, dy: Tensor, x: Tensor): void {
  const [out, inF] = dw.shape;
  const k = dy.backend.kernels;
  const M = x.size / inF;
  if (!gemmParallel(dy.backend, dw.ptr, inF, dy.ptr, out, 1, x.ptr, inF, 0, 0, out, inF, M, 1, 0)) k.gemm_tn_acc(dw.ptr, dy.ptr, x.ptr, M, out, inF);
  if (db) k.bias_backward_acc(db.ptr, dy.ptr, M, out);
}
