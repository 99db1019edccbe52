// What every layer offers (PyTorch's nn.Module, reduced to what training needs).
import type { Tensor } from "./tensor.js";

export type StateValue = Float32Array | BigInt64Array;
export type StateDict = Record<string, StateValue>;

/** A trainable tensor and its gradient, which backward() accumulates into. */
export class Parameter {
  readonly name: string;
  readonly value: Tensor;
  readonly grad: Tensor;

  constructor(name: string, value: Tensor, grad: Tensor) {
    this.name = name;
    this.value = value;
    this.grad = grad;
  }

  zeroGrad(): void {
    this.grad.data.fill(0);
  }
}

export interface Module {
  training: boolean;
  forward(x: Tensor): Tensor;
  backward(dy: Tensor): Tensor;
  train(mode?: boolean): this;
  eval(): this;
  parameters(): Parameter[];
  zeroGrad(): void;
  stateDict(): StateDict;
  loadStateDict(sd: StateDict): void;
}
