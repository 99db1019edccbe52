// Element-wise ops over whole tensors: activations (forward from x, backward from the saved
// output y: sigmoid' = y(1-y), tanh' = 1-y^2, relu' = [y > 0]) and the product with a mask
// (inverted dropout). The only code that calls act_* and mul.
import { ACT, type ActName } from "../kernels.js";
import type { Tensor } from "../tensor.js";

/** y = f(x). Writes y. */
export function activationForward(y: Tensor, x: Tensor, kind: ActName): void {
  x.backend.kernels.act_forward(y.ptr, x.ptr, x.size, ACT[kind]);
}

/** dx = dy * f'(.) from the forward's output y. Writes dx. */
export function activationBackward(dx: Tensor, dy: Tensor, y: Tensor, kind: ActName): void {
  dy.backend.kernels.act_backward(dx.ptr, dy.ptr, y.ptr, dy.size, ACT[kind]);
}

/** y = x * mask, element by element. Writes y. */
export function multiply(y: Tensor, x: Tensor, mask: Tensor): void {
  x.backend.kernels.mul(y.ptr, x.ptr, mask.ptr, x.size);
}
