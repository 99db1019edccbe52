// Transient tensors shared by the layers of memory-lean containers: gradients passed from
// one layer to the next, inputs recomputed for backward, max-pooling indices. A layer
// that owned such buffers would hold each for the model's whole life; here they are taken
// for one use and given back, so memory holds only the ones alive at the same time.
// Blocks stay allocated between steps (a training loop with fixed shapes allocates nothing
// after its first step); a request takes the smallest free block that holds it, and when
// none does, the largest free block is replaced by one of the requested size.
import type { Backend } from "./backend.js";
import { contiguousStrides, Tensor } from "./tensor.js";
import type { Shape } from "./shape.js";
import { sizeOf } from "./shape.js";

interface Block {
  t: Tensor;
  free: boolean;
}

export class Workspace {
  private readonly backend: Backend;
  private readonly blocks: Block[] = [];
  private readonly byBase = new Map<Tensor, Block>();

  constructor(backend: Backend) {
    this.backend = backend;
  }

  /** A contiguous float32 (or int32-sized) tensor of `shape`, to give back with release(). Its values are undefined. */
  acquire(shape: Shape): Tensor {
    const n = sizeOf(shape);
    let best: Block | null = null, largest: Block | null = null;
    for (const b of this.blocks) {
      if (!b.free) continue;
      if (b.t.size >= n && (!best || b.t.size < best.t.size)) best = b;
      if (!largest || b.t.size > largest.t.size) largest = b;
    }
    if (!best) {
      if (largest) {
        this.byBase.delete(largest.t);
        largest.t.release();
        this.blocks.splice(this.blocks.indexOf(largest), 1);
      }
      best = { t: new Tensor(this.backend, [n], "Workspace"), free: true };
      this.blocks.push(best);
      this.byBase.set(best.t, best);
    }
    best.free = false;
    return new Tensor(this.backend, shape, "Workspace", best.t, { ptr: best.t.ptr, strides: contiguousStrides(shape) });
  }

  /** Gives back a tensor from acquire(); its memory may be handed out again at once. */
  release(t: Tensor): void {
    const b = t.base ? this.byBase.get(t.base) : undefined;
    if (!b || b.free) throw new Error("Workspace.release: expected a tensor acquired from this workspace and not yet released");
    b.free = true;
  }

  /** Bytes the workspace holds (free or taken). */
  get bytes(): number {
    return this.blocks.reduce((s, b) => s + b.t.size * 4, 0);
  }

  /** Returns every free block to the heap. */
  trim(): void {
    for (let i = this.blocks.length - 1; i >= 0; i--) {
      const b = this.blocks[i];
      if (!b.free) continue;
      this.byBase.delete(b.t);
      b.t.release();
      this.blocks.splice(i, 1);
    }
  }
}

const workspaces = new WeakMap<Backend, Workspace>();

/** The backend's workspace (one per backend, made on first use). */
export function workspaceOf(backend: Backend): Workspace {
  let w = workspaces.get(backend);
  if (!w) {
    w = new Workspace(backend);
    workspaces.set(backend, w);
  }
  return w;
}
