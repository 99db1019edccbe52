// Element-wise ops over whole tensors: activations (forward from x, backward from the saved
// output y: sigmoid' = y(1-y), tanh' = 1-y^2, relu' = [y > 0]) and the product with a mask
// (inverted dropout). The only code that calls act_* and mul.
import { ACT, type ActName } from "../kernels.js";
import type { Tensor } from "../tensor.js";
import { rowLayoutOf } from "./rows.js";
import { splitCall } from "./split.js";

/**
 * A forward sigmoid or tanh costs about as much per float as 8 copies of it (an exp and a
 * division; `npm run bench -- threads`: 2.7 ns a float, where a copy streams a float in
 * 0.1-0.2 ns), so it is worth splitting at an eighth of the size of a memory-bound op.
 */
const EXP_COST = 8;

/** y = f(x). Writes y; y and x may be slices (rows of a common width). */
export function activationForward(y: Tensor, x: Tensor, kind: ActName): void {
  const k = x.backend.kernels;
  const a = ACT[kind];
  const work = (kind === "relu" ? 2 : 2 * EXP_COST) * x.size;
  if (y.contiguous && x.contiguous) {
    if (splitCall(x.backend, "act_forward", work, x.size, 4, (s, e) => [y.ptr + 4 * s, x.ptr + 4 * s, e - s, a])) return;
    k.act_forward(y.ptr, x.ptr, x.size, a);
    return;
  }
  const L = rowLayoutOf("activation", y, x);
  const [ys, xs] = L.strides;
  if (splitCall(x.backend, "act_forward_rows", work, L.rows, 1, (s, e) => [y.ptr + 4 * s * ys, ys, x.ptr + 4 * s * xs, xs, e - s, L.cols, a])) return;
  k.act_forward_rows(y.ptr, L.strides[0], x.ptr, L.strides[1], L.rows, L.cols, ACT[kind]);
}

/** dx (+)= dy * f'(.) from the forward's output y. Writes dx, or accumulates; any of them may be slices. */
export function activationBackward(dx: Tensor, dy: Tensor, y: Tensor, kind: ActName, accumulate = false): void {
  const k = dy.backend.kernels;
  const a = ACT[kind], acc = accumulate ? 1 : 0;
  if (!accumulate && dx.contiguous && dy.contiguous && y.contiguous) {
    if (splitCall(dy.backend, "act_backward", 3 * dy.size, dy.size, 4, (s, e) => [dx.ptr + 4 * s, dy.ptr + 4 * s, y.ptr + 4 * s, e - s, a])) return;
    k.act_backward(dx.ptr, dy.ptr, y.ptr, dy.size, a);
    return;
  }
  const L = rowLayoutOf("activation backward", dx, dy, y);
  const [xs, ds, ys] = L.strides;
  if (splitCall(dy.backend, "act_backward_rows", 3 * dy.size, L.rows, 1, (s, e) => [dx.ptr + 4 * s * xs, xs, dy.ptr + 4 * s * ds, ds, y.ptr + 4 * s * ys, ys, e - s, L.cols, a, acc])) return;
  k.act_backward_rows(dx.ptr, L.strides[0], dy.ptr, L.strides[1], y.ptr, L.strides[2], L.rows, L.cols, ACT[kind], accumulate ? 1 : 0);
}

/** y = x * mask, element by element. Writes y. */
export function multiply(y: Tensor, x: Tensor, mask: Tensor): void {
  if (splitCall(x.backend, "mul", 3 * x.size, x.size, 4, (s, e) => [y.ptr + 4 * s, x.ptr + 4 * s, mask.ptr + 4 * s, e - s])) return;
  x.backend.kernels.mul(y.ptr, x.ptr, mask.ptr, x.size);
}
