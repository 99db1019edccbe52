// Softmax cross-entropy ops: the only code that calls softmax_xent_*. Labels are int32 in
// wasm memory; only the first `rows` rows of the logits count (evaluation pads its last batch).
import type { Tensor } from "../tensor.js";

/** Mean cross-entropy over rows of logits[., N] against labels; writes the softmax to probs and returns the loss. */
export function softmaxCrossEntropyForward(probs: Tensor, logits: Tensor, labels: Tensor, rows: number, N: number): number {
  return logits.backend.kernels.softmax_xent_forward(probs.ptr, logits.ptr, labels.ptr, rows, N);
}

/** dlogits = (probs - onehot(labels)) / rows over the first rows rows. Writes dlogits. */
export function softmaxCrossEntropyBackward(dlogits: Tensor, probs: Tensor, labels: Tensor, rows: number, N: number): void {
  probs.backend.kernels.softmax_xent_backward(dlogits.ptr, probs.ptr, labels.ptr, rows, N);
}
