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

/**
 * What layers share: the train/eval switch, and for layers without parameters or state,
 * empty parameters() and stateDict() and a loadStateDict() that accepts only {}. Layers
 * with parameters override parameters(), stateDict() and loadStateDict().
 */
export abstract class Layer implements Module {
  training = true;

  abstract forward(x: Tensor): Tensor;
  abstract backward(dy: Tensor): Tensor;

  train(mode = true): this {
    this.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  parameters(): Parameter[] {
    return [];
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  stateDict(): StateDict {
    return {};
  }

  loadStateDict(sd: StateDict): void {
    const keys = Object.keys(sd ?? {});
    if (keys.length > 0) throw new Error(`${this}.loadStateDict: unexpected key "${keys[0]}" (this layer has no state)`);
  }
}
