// One optimizer step, the same for fit(), the experiments and the benchmarks: forward, loss,
// and when the loss is finite, zero the gradients, backward and update. The gradient with
// respect to the model's input is skipped (backwardParams) where the model offers it.
import type { Labels, Loss } from "../loss.js";
import type { Module } from "../module.js";
import type { Optimizer } from "../optim/sgd.js";
import type { Tensor } from "../tensor.js";

export interface TrainStepOptions {
  /**
   * On a NaN or infinite loss, put back what the forward changed (running statistics, their
   * counters, dropout's generator), so that a skipped step leaves the model as it was.
   * Costs a copy of the running statistics per step. Default false.
   */
  undoNonFinite?: boolean;
}

export class TrainStep {
  readonly model: Module;
  readonly loss: Loss;
  readonly optimizer: Optimizer;
  /** The logits of the last run (owned by the model: overwritten by its next forward). */
  logits: Tensor | null = null;
  private readonly undo: boolean;
  private readonly backwardParams: ((dy: Tensor) => void) | null;

  constructor(model: Module, loss: Loss, optimizer: Optimizer, options: TrainStepOptions = {}) {
    this.model = model;
    this.loss = loss;
    this.optimizer = optimizer;
    this.undo = options.undoNonFinite === true && typeof model.saveForwardState === "function" && typeof model.restoreForwardState === "function";
    const bp = (model as { backwardParams?: (dy: Tensor) => void }).backwardParams;
    this.backwardParams = typeof bp === "function" ? bp.bind(model) : null;
  }

  /** One step on the batch (x, labels); returns its loss. A non-finite loss updates nothing. */
  run(x: Tensor, labels: Labels): number {
    const model = this.model;
    if (this.undo) model.saveForwardState!();
    const logits = model.forward(x);
    this.logits = logits;
    const value = this.loss.forward(logits, labels);
    if (!Number.isFinite(value)) {
      if (this.undo) model.restoreForwardState!();
      return value;
    }
    model.zeroGrad();
    const dlogits = this.loss.backward();
    if (this.backwardParams) this.backwardParams(dlogits);
    else model.backward(dlogits);
    this.optimizer.step();
    return value;
  }
}
