// Layer-owned tensors that are reused from call to call and reallocated only when the
// shape they must hold changes: a training loop with fixed shapes allocates nothing after
// its first step.
import type { Backend } from "./backend.js";
import { type Shape, sameShape } from "./shape.js";
import { Tensor } from "./tensor.js";

export class Buffers {
  private readonly slots = new Map<string, Tensor>();
  private readonly backend: Backend;
  private readonly owner: string;

  constructor(backend: Backend, owner: string) {
    this.backend = backend;
    this.owner = owner;
  }

  get(name: string, shape: Shape): Tensor {
    const t = this.slots.get(name);
    if (t && sameShape(t.shape, shape)) return t;
    const fresh = new Tensor(this.backend, shape, this.owner);
    t?.release();
    this.slots.set(name, fresh);
    return fresh;
  }

  /** get() for `like` with its last dimension replaced by `last`; the new shape is built only when the buffer must change. */
  getWithLastDim(name: string, like: Shape, last: number): Tensor {
    const t = this.slots.get(name);
    const r = like.length;
    if (t && t.shape.length === r && t.shape[r - 1] === last) {
      let same = true;
      for (let i = 0; i < r - 1; i++) same &&= t.shape[i] === like[i];
      if (same) return t;
    }
    return this.get(name, [...like.slice(0, -1), last]);
  }

  releaseAll(): void {
    for (const t of this.slots.values()) t.release();
    this.slots.clear();
  }
}
