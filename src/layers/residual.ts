// Residual: y = block(x) + shortcut(x), or block(x) + x without a shortcut (He et al. 2016,
// the ResNet block where Batch Normalization is most used today). The block's output is
// copied to y and the shortcut's added to it; backward sends dy to both and sums their input
// gradients into one dx. State keys "block.<name>" and "shortcut.<name>".
import { type Backend, getBackend } from "../backend.js";
import { Buffers } from "../buffers.js";
import type { GradTarget, Module } from "../module.js";
import { addInto, copyInto } from "../ops/rows.js";
import { checkOptions, describe } from "../options.js";
import { fmt, type Shape, sameShape } from "../shape.js";
import { checkIntoArg, checkOutArg, checkTensorArg, type Tensor } from "../tensor.js";
import { checkDistinct, Container, isModule, layerName, rethrow } from "./container.js";

export interface ResidualOptions {
  /** Applied to x on the skip path (e.g. a 1x1 strided Conv2d + BatchNorm2d); default the identity. */
  shortcut?: Module | null;
}

export class Residual extends Container {
  protected readonly kind = "Residual";
  readonly block: Module;
  readonly shortcut: Module | null;
  private readonly keys: readonly (readonly [string, Module])[];
  private readonly backend: Backend;
  private readonly bufs: Buffers;
  private inputShape: readonly number[] | null = null;
  private blockTarget: GradTarget | null = null;
  private shortcutTarget: GradTarget | null = null;

  constructor(block: Module, opts?: ResidualOptions) {
    super();
    const options = checkOptions("Residual", opts, ["shortcut"]);
    if (!isModule(block)) throw new Error(`Residual: the block is not a Module (it needs forward, backward and parameters), got ${describe(block)}`);
    const shortcut = options.shortcut ?? null;
    if (shortcut !== null && !isModule(shortcut)) throw new Error(`Residual: the shortcut is not a Module, got ${describe(shortcut)}`);
    for (const [name, m] of [["block", block], ["shortcut", shortcut]] as const) {
      if (m && typeof m.outputShape !== "function") throw new Error(`Residual: the ${name} (${layerName(m)}) cannot tell its output shape (outputShape), which Residual needs to check the sum`);
    }
    this.block = block;
    this.shortcut = shortcut;
    this.keys = shortcut ? [["block", block], ["shortcut", shortcut]] : [["block", block]];
    this.backend = getBackend();
    this.bufs = new Buffers(this.backend, "Residual");
    checkDistinct(this, "Residual");
  }

  namedChildren(): readonly (readonly [string, Module])[] {
    return this.keys;
  }

  toString(): string {
    return this.describeChildren();
  }

  /** The block's output shape, which the shortcut's (or the input's) must equal. */
  outputShape(input: Shape): Shape {
    const out = (m: Module, name: string) => {
      try {
        return m.outputShape!(input);
      } catch (e) {
        return rethrow(e, `Residual: ${name} (${layerName(m)})`, this.kind);
      }
    };
    const b = out(this.block, "block");
    const s = this.shortcut ? out(this.shortcut, "shortcut") : input;
    if (!sameShape(b, s)) {
      throw new Error(`Residual: the block outputs ${fmt(b)} but the ${this.shortcut ? `shortcut (${layerName(this.shortcut)}) outputs` : "input (the identity shortcut) is"} ${fmt(s)}; they must match to be added`);
    }
    return b;
  }

  forward(x: Tensor, out?: Tensor): Tensor {
    this.assertUsable("forward");
    checkTensorArg(x, this.backend, this.kind, "forward");
    checkOutArg(out, this.backend, this.kind);
    this.checkInputOnce(x.shape);
    const shape = this.outputShape(x.shape);
    let y: Tensor;
    if (out) {
      checkTensorArg(out, this.backend, this.kind, "forward (out)", true);
      if (!sameShape(out.shape, shape)) throw new Error(`Residual.forward: expected an output tensor of shape ${fmt(shape)}, got ${fmt(out.shape)}`);
      y = out;
    } else y = this.bufs.get("y", shape);
    // The block computes into its own buffers (a layer may keep its output for backward, so
    // the sum cannot be formed in place there), then y = block(x) + shortcut(x).
    let b: Tensor;
    try {
      b = this.block.forward(x);
    } catch (e) {
      return rethrow(e, `Residual: block (${layerName(this.block)})`, this.kind);
    }
    copyInto(y, b);
    if (this.shortcut) {
      let s: Tensor;
      try {
        s = this.shortcut.forward(x);
      } catch (e) {
        return rethrow(e, `Residual: shortcut (${layerName(this.shortcut)})`, this.kind);
      }
      addInto(y, s);
    } else addInto(y, x);
    this.inputShape = x.shape;
    return y;
  }

  backward(dy: Tensor, into?: GradTarget): Tensor {
    this.assertUsable("backward");
    checkIntoArg(into, this.backend, this.kind);
    const inShape = this.inputShape;
    if (!inShape) throw new Error("Residual.backward: called before forward");
    checkTensorArg(dy, this.backend, this.kind, "backward", true);
    const dx = into ? into.dx : this.bufs.get("dx", inShape);
    const accumulate = into?.accumulate ?? false;
    if (!this.blockTarget || this.blockTarget.dx !== dx || this.blockTarget.accumulate !== accumulate) {
      this.blockTarget = { dx, accumulate };
      this.shortcutTarget = { dx, accumulate: true };
    }
    try {
      this.block.backward(dy, this.blockTarget);
    } catch (e) {
      rethrow(e, `Residual: block (${layerName(this.block)}) backward`, this.kind);
    }
    if (this.shortcut) {
      try {
        this.shortcut.backward(dy, this.shortcutTarget!);
      } catch (e) {
        rethrow(e, `Residual: shortcut (${layerName(this.shortcut)}) backward`, this.kind);
      }
    } else addInto(dx, dy);
    return dx;
  }

  protected releaseMemory(): void {
    this.bufs.releaseAll();
  }
}
