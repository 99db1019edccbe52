// Matrix-product ops of the Dense layer (y = x W^T + b with W in PyTorch's [out, in]
// layout): the only code that calls the gemm_* kernels. Rows are every leading dimension
// of x flattened: [..., in] is M = size / in rows.
import { ACT, type ActName } from "../kernels.js";
import type { Tensor } from "../tensor.js";
import { rowLayout } from "./rows.js";

/** y[M, out] = act(x[M, in] W[out, in]^T + b[out]); b null: no bias. Writes y. */
export function linearForward(y: Tensor, x: Tensor, w: Tensor, b: Tensor | null, act: ActName | "none" = "none"): void {
  const [out, inF] = w.shape;
  x.backend.kernels.gemm_nt(y.ptr, x.ptr, w.ptr, b ? b.ptr : 0, x.size / inF, out, inF, ACT[act]);
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
    k.gemm_nn(dx.ptr, dy.ptr, w.ptr, M, out, inF);
    return;
  }
  const ld = dx.contiguous ? inF : rowStride(dx, inF);
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
  k.gemm_tn_acc(dw.ptr, dy.ptr, x.ptr, M, out, inF);
  if (db) k.bias_backward_acc(db.ptr, dy.ptr, M, out);
}
