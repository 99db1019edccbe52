// CrossEntropyLoss (PyTorch's nn.CrossEntropyLoss, reduction 'mean'): softmax of the logits
// and the mean negative log-likelihood of the labels in one kernel, which keeps the
// probabilities for backward: dlogits = (softmax - onehot) / M.
import { type Backend, getBackend } from "./backend.js";
import { Buffers } from "./buffers.js";
import { softmaxCrossEntropyBackward, softmaxCrossEntropyForward } from "./ops/loss.js";
import { fillInto } from "./ops/rows.js";
import { fmt } from "./shape.js";
import { checkTensorArg, type Tensor } from "./tensor.js";

export type Labels = Int32Array | Uint8Array;

/** What fit() needs from a loss. */
export interface Loss {
  forward(logits: Tensor, labels: Labels): number;
  backward(): Tensor;
}

export class CrossEntropyLoss implements Loss {
  private readonly backend: Backend;
  private readonly bufs = new Buffers(getBackend(), "CrossEntropyLoss");
  private saved: { M: number; N: number; probs: Tensor; labels: Tensor; shape: readonly number[] } | null = null;

  constructor() {
    this.backend = getBackend();
  }

  toString(): string {
    return "CrossEntropyLoss()";
  }

  /** Mean cross-entropy of logits [M, classes] against integer labels [M] in [0, classes). */
  forward(logits: Tensor, labels: Labels): number {
    checkTensorArg(logits, this.backend, "CrossEntropyLoss", "forward");
    if (logits.shape.length !== 2) throw new Error(`CrossEntropyLoss.forward: expected logits of shape [N, classes], got ${fmt(logits.shape)}`);
    const [M, N] = logits.shape;
    return this.forwardRows(logits, labels, M, M, N);
  }

  /**
   * @internal The mean loss over the first `rows` rows of logits [M, N] (evaluation pads its
   * last batch to the fixed batch size so that no layer reallocates).
   */
  forwardRows(logits: Tensor, labels: Labels, rows: number, M = logits.shape[0], N = logits.shape[1]): number {
    if (M === 0 || rows === 0) throw new Error("CrossEntropyLoss.forward: the batch is empty (batch size 0); the mean loss of no samples is undefined");
    if (N === 0) throw new Error(`CrossEntropyLoss.forward: logits ${fmt(logits.shape)} have no classes`);
    if (!(labels instanceof Int32Array || labels instanceof Uint8Array)) {
      throw new Error(`CrossEntropyLoss.forward: labels must be an Int32Array or Uint8Array, got ${labels === null ? "null" : (labels as object)?.constructor?.name ?? typeof labels}`);
    }
    if (labels.length < rows || (rows === M && labels.length !== M)) {
      throw new Error(`CrossEntropyLoss.forward: ${rows} rows of logits ${fmt(logits.shape)} but ${labels.length} labels`);
    }
    for (let i = 0; i < rows; i++) {
      const c = labels[i];
      if (!(c >= 0 && c < N)) throw new Error(`CrossEntropyLoss.forward: label ${c} at index ${i} is out of range: expected an integer in [0, ${N})`);
    }
    const probs = this.bufs.get("probs", logits.shape);
    const lab = this.bufs.get("labels", [M]);
    const i32 = this.backend.heap.i32;
    const off = lab.ptr >>> 2;
    for (let i = 0; i < rows; i++) i32[off + i] = labels[i];
    const loss = softmaxCrossEntropyForward(probs, logits, lab, rows, N);
    this.saved = { M: rows, N, probs, labels: lab, shape: logits.shape };
    return loss;
  }

  /** d(mean loss)/d(logits) for the last forward, [M, classes] (owned by the loss, overwritten by the next call). */
  backward(): Tensor {
    const s = this.saved;
    if (!s) throw new Error("CrossEntropyLoss.backward: called before forward");
    const d = this.bufs.get("dlogits", s.shape);
    if (s.M < s.shape[0]) fillInto(d, 0);
    softmaxCrossEntropyBackward(d, s.probs, s.labels, s.M, s.N);
    return d;
  }

  /** Softmax probabilities of the last forward (owned by the loss). */
  get probs(): Tensor {
    if (!this.saved) throw new Error("CrossEntropyLoss.probs: called before forward");
    return this.saved.probs;
  }

  dispose(): void {
    this.bufs.releaseAll();
    this.saved = null;
  }
}
