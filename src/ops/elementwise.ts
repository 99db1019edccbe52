// Element-wise ops over whole tensors: activations (forward from x, backward from the saved
// output y: sigmoid' = y(1-y), tanh' = 1-y^2, relu' = [y > 0]) and the product with a mask
// (inverted dropout). The only code that calls act_* and mul.
import { ACT, type ActName } from "../kernels.js";
import type { Tensor } from "../tensor.js";
import { rowLayoutOf } from "./rows.js";

/** y = f(x). Writes y; y and x may be slices (rows of a common width). */
export function activationForward(y: Tensor, x: Tensor, kind: ActName): void {
  const k = x.backend.kernels;
  if (y.contiguous && x.contiguous) {
    k.act_forward(y.ptr, x.ptr, x.size, ACT[kind]);
    return;
  }
  const L = rowLayoutOf("activation", y, x);
  k.act_forward_rows(y.ptr, L.strides[0], x.ptr, L.strides[1], L.rows, L.cols, ACT[kind]);
}

/** dx (+)= dy * f'(.) from the forward's output y. Writes dx, or accumulates; any of them may be slices. */
export function activationBackward(dx: Tensor, dy: Tensor, y: Tensor, kind: ActName, accumulate = false): void {
  const k = dy.backend.kernels;
  if (!accumulate && dx.contiguous && dy.contiguous && y.contiguous) {
    k.act_backward(dx.ptr, dy.ptr, y.ptr, dy.size, ACT[kind]);
    return;
  }
  const L = rowLayoutOf("activation backward", dx, dy, y);
  k.act_backward_rows(dx.ptr, L.strides[0], dy.ptr, L.strides[1], y.ptr, L.strides[2], L.rows, L.cols, ACT[kind], accumulate ? 1 : 0);
}

/** y = x * mask, element by element. Writes y. */
export function multiply(y: Tensor, x: Tensor, mask: Tensor): void {
  x.backend.kernels.mul(y.ptr, x.ptr, mask.ptr, x.size);
}
