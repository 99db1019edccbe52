// Matrix-product ops of the Dense layer (y = x W^T + b with W in PyTorch's [out, in]
// layout): the only code that calls the gemm_* kernels. Rows are every leading dimension
// of x flattened: [..., in] is M = size / in rows.
import { ACT, type ActName } from "../kernels.js";
import type { Tensor } from "../tensor.js";

/** y[M, out] = act(x[M, in] W[out, in]^T + b[out]); b null: no bias. Writes y. */
export function linearForward(y: Tensor, x: Tensor, w: Tensor, b: Tensor | null, act: ActName | "none" = "none"): void {
  const [out, inF] = w.shape;
  x.backend.kernels.gemm_nt(y.ptr, x.ptr, w.ptr, b ? b.ptr : 0, x.size / inF, out, inF, ACT[act]);
}

/** dx[M, in] = dy[M, out] W[out, in]. Writes dx. */
export function linearBackwardInput(dx: Tensor, dy: Tensor, w: Tensor): void {
  const [out, inF] = w.shape;
  dy.backend.kernels.gemm_nn(dx.ptr, dy.ptr, w.ptr, dy.size / out, out, inF);
}

/** dW[out, in] += dy^T x; db[out] += column sums of dy (db null: no bias). Accumulates. */
export function linearBackwardParams(dw: Tensor, db: Tensor | null, dy: Tensor, x: Tensor): void {
  const [out, inF] = dw.shape;
  const k = dy.backend.kernels;
  const M = x.size / inF;
  k.gemm_tn_acc(dw.ptr, dy.ptr, x.ptr, M, out, inF);
  if (db) k.bias_backward_acc(db.ptr, dy.ptr, M, out);
}
