// Concat: runs every branch on the same input and concatenates their outputs along the
// channel axis (an Inception module's parallel branches; a PyTorch nn.ModuleList subclass
// whose forward is torch.cat([b(x) for b in self], dim=1) maps one to one, state keys
// "<branch>.<name>"). Each branch writes straight into its channel slice of the output;
// backward hands each branch its slice of dy in place and sums the branches' input
// gradients into one buffer (the first branch writes, the others accumulate).
import { type Backend, getBackend } from "../backend.js";
import { Buffers } from "../buffers.js";
import type { GradTarget, Module } from "../module.js";
import type { DataFormat } from "../ops/bn.js";
import { checkOptions, describe } from "../options.js";
import { fmt, type Shape, sameShape } from "../shape.js";
import { checkIntoArg, checkOutArg, checkTensorArg, type Tensor } from "../tensor.js";
import { canRecompute, checkDistinct, Container, isModule, layerName, readsInput, rethrow } from "./container.js";

export interface ConcatOptions {
  /** Where the channel axis is: 1 (channelsFirst, default) or last (channelsLast). */
  dataFormat?: DataFormat;
}

/** Channel slices of one tensor, made once per tensor (no objects per step). */
class Slices {
  private of: Tensor | null = null;
  private list: Tensor[] = [];
  get(t: Tensor, axis: number, widths: readonly number[]): Tensor[] {
    if (this.of === t && this.list.length === widths.length) return this.list;
    let at = 0;
    this.list = widths.map((w) => {
      const s = t.narrow(axis, at, w);
      at += w;
      return s;
    });
    this.of = t;
    return this.list;
  }
}

export class Concat extends Container {
  protected readonly kind = "Concat";
  readonly branches: readonly Module[];
  readonly dataFormat: DataFormat;
  private readonly keys: readonly (readonly [string, Module])[];
  private readonly backend: Backend;
  private readonly bufs: Buffers;
  private readonly outSlices = new Slices();
  private readonly dySlices = new Slices();
  private targets: GradTarget[] = [];
  /** Channels of each branch's output for the last input shape. */
  private widths: number[] = [];
  private inputShape: readonly number[] | null = null;

  constructor(branches: readonly Module[], opts?: ConcatOptions) {
    super();
    const options = checkOptions("Concat", opts, ["dataFormat"]);
    if (!Array.isArray(branches) || branches.length === 0) throw new Error(`Concat: expected a non-empty array of branches, got ${describe(branches)}`);
    branches.forEach((b, i) => {
      if (!isModule(b)) throw new Error(`Concat: branch ${i} is not a Module (it needs forward, backward and parameters), got ${describe(b)}`);
      if (typeof b.outputShape !== "function") throw new Error(`Concat: branch ${i} (${layerName(b)}) cannot tell its output shape (outputShape), which Concat needs to place its slice`);
    });
    const dataFormat = options.dataFormat ?? "channelsFirst";
    if (dataFormat !== "channelsFirst" && dataFormat !== "channelsLast") throw new Error(`Concat: dataFormat must be 'channelsFirst' or 'channelsLast', got ${describe(dataFormat)}`);
    this.branches = Object.freeze([...branches]);
    this.dataFormat = dataFormat;
    this.keys = this.branches.map((b, i) => [String(i), b] as const);
    this.backend = getBackend();
    this.bufs = new Buffers(this.backend, "Concat");
    checkDistinct(this, "Concat");
  }

  namedChildren(): readonly (readonly [string, Module])[] {
    return this.keys;
  }

  toString(): string {
    return this.describeChildren();
  }

  private axisOf(rank: number): number {
    return this.dataFormat === "channelsLast" ? rank - 1 : 1;
  }

  /** Every branch's output shape for `input`: the same except along the channel axis, which adds up. */
  outputShape(input: Shape): Shape {
    const shapes = this.branches.map((b, i) => {
      try {
        return b.outputShape!(input);
      } catch (e) {
        return rethrow(e, `Concat: branch ${i} (${layerName(b)})`, this.kind);
      }
    });
    const first = shapes[0];
    const axis = this.axisOf(first.length);
    if (first.length < 2) throw new Error(`Concat: branch 0 (${layerName(this.branches[0])}) outputs ${fmt(first)}, which has no channel axis`);
    let channels = 0;
    shapes.forEach((s, i) => {
      const same = s.length === first.length && s.every((d, k) => k === axis || d === first[k]);
      if (!same) {
        throw new Error(
          `Concat: branch ${i} (${layerName(this.branches[i])}) outputs ${fmt(s)}, but branch 0 outputs ${fmt(first)}: ` +
            `the branches' outputs may differ only along the channel axis (dimension ${axis}, ${this.dataFormat})`,
        );
      }
      channels += s[axis];
    });
    const out = [...first];
    out[axis] = channels;
    return out;
  }

  /** Runs each branch on x, writing into its channel slice of the output (`out` when given). */
  forward(x: Tensor, out?: Tensor): Tensor {
    this.assertUsable("forward");
    checkTensorArg(x, this.backend, this.kind, "forward");
    checkOutArg(out, this.backend, this.kind);
    this.checkInputOnce(x.shape);
    const shape = this.outputShape(x.shape);
    const axis = this.axisOf(shape.length);
    if (!this.inputShape || !sameShape(this.inputShape, x.shape)) {
      this.widths = this.branches.map((b) => b.outputShape!(x.shape)[axis]);
      this.inputShape = x.shape;
    }
    let y: Tensor;
    if (out) {
      checkTensorArg(out, this.backend, this.kind, "forward (out)", true);
      if (!sameShape(out.shape, shape)) throw new Error(`Concat.forward: expected an output tensor of shape ${fmt(shape)}, got ${fmt(out.shape)}`);
      y = out;
    } else y = this.bufs.get("y", shape);
    const slices = this.outSlices.get(y, axis, this.widths);
    for (let i = 0; i < this.branches.length; i++) {
      try {
        this.branches[i].forward(x, slices[i]);
      } catch (e) {
        rethrow(e, `Concat: branch ${i} (${layerName(this.branches[i])})`, this.kind);
      }
    }
    return y;
  }

  /** backward() reads `into.x` when every branch does. */
  get acceptsRematerializedInput(): boolean {
    return this.branches.every((b) => b.acceptsRematerializedInput === true);
  }

  /** Whether recompute() can run: every branch can rebuild its output. */
  canRecompute(): boolean {
    return this.branches.every(canRecompute);
  }

  /** Whether recompute() reads x: some branch's does. */
  recomputeReadsInput(): boolean {
    return this.branches.some(readsInput);
  }

  /** The last forward's output again, into `out`, from x (that forward's input; null if no branch reads it): each branch into its slice. */
  recompute(x: Tensor | null, out: Tensor): void {
    this.assertUsable("recompute");
    if (!this.canRecompute()) throw new Error("Concat.recompute: a branch cannot recompute its output");
    const axis = this.axisOf(out.shape.length);
    const slices = this.outSlices.get(out, axis, this.widths);
    for (let i = 0; i < this.branches.length; i++) this.branches[i].recompute!(x, slices[i]);
  }

  /** Each branch's backward on its slice of dy; their input gradients summed into one dx. */
  backward(dy: Tensor, into?: GradTarget): Tensor {
    this.assertUsable("backward");
    checkIntoArg(into, this.backend, this.kind);
    const inShape = this.inputShape;
    if (!inShape) throw new Error("Concat.backward: called before forward");
    checkTensorArg(dy, this.backend, this.kind, "backward", true);
    const axis = this.axisOf(dy.shape.length);
    const dx = into ? into.dx : this.bufs.get("dx", inShape);
    const slices = this.dySlices.get(dy, axis, this.widths);
    const targets = this.targetsFor(dx, into?.accumulate ?? false, into?.x);
    for (let i = 0; i < this.branches.length; i++) {
      try {
        this.branches[i].backward(slices[i], targets[i]);
      } catch (e) {
        rethrow(e, `Concat: branch ${i} (${layerName(this.branches[i])}) backward`, this.kind);
      }
    }
    return dx;
  }

  /** One GradTarget per branch: the first writes (or adds, when accumulating), the others add. */
  private targetsFor(dx: Tensor, accumulate: boolean, x: Tensor | undefined): GradTarget[] {
    const t = this.targets;
    if (t.length !== this.branches.length || t[0].dx !== dx || t[0].accumulate !== accumulate || this.targetX !== x) {
      this.targets = this.branches.map((b, i) => (x && b.acceptsRematerializedInput ? { dx, accumulate: accumulate || i > 0, x } : { dx, accumulate: accumulate || i > 0 }));
      this.targetX = x;
    }
    return this.targets;
  }

  private targetX: Tensor | undefined = undefined;

  protected releaseMemory(): void {
    this.bufs.releaseAll();
  }
}
