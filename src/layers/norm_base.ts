// What LayerNorm, GroupNorm and InstanceNorm share: optional affine parameters (PyTorch's
// weight and bias), a saved input and the statistics of the last forward, the buffers,
// backward's argument checks and the weight/bias state dict. They normalize each sample
// on its own, so they work at batch size 1 and train and eval agree (InstanceNorm with
// running estimates aside, which overrides the eval path).
import { type Backend, getBackend } from "../backend.js";
import { Buffers } from "../buffers.js";
import { checkFloatState, type GradTarget, Layer, Parameter, type StateDict } from "../module.js";
import type { NormStats } from "../ops/norm.js";
import { normScratchBytes } from "../ops/norm.js";
import { fmt, type Shape, sameShape } from "../shape.js";
import { checkIntoArg, checkOutArg, checkTensorArg, Tensor } from "../tensor.js";
import { contiguousGrad, deliverGrad, deliverOutput } from "./io.js";

interface Saved {
  x: Tensor;
  shape: readonly number[];
}

export abstract class SampleNorm extends Layer {
  /** backward() reads `into.x` when given (see GradTarget). */
  readonly acceptsRematerializedInput = true;
  readonly eps: number;
  /** gamma, or null without affine parameters. */
  readonly weight: Parameter | null;
  /** beta, or null without affine parameters. */
  readonly bias: Parameter | null;

  protected readonly backend: Backend;
  /** Ones and zeros without affine parameters: the kernels always read gamma and beta. */
  protected readonly gamma: Tensor;
  protected readonly beta: Tensor;
  protected readonly paramShape: readonly number[];
  protected readonly scratch: Tensor;
  protected readonly bufs: Buffers;
  protected saved: Saved | null = null;
  /** The last shape checked, in which mode, and its statistics count: training loops repeat one shape. */
  private lastCheck: { shape: readonly number[]; training: boolean; count: number } | null = null;

  /** Checks a shape's rank and channels (throws naming what was expected and what was received). */
  protected abstract checkInput(shape: Shape): void;
  /** The input this layer takes, for wiring errors ("[N, 4, *]"). */
  protected abstract describeInput(): string;
  /** Checks a shape (throwing what forward would throw) and returns the number of statistics it has. */
  protected abstract statCount(shape: Shape): number;
  /** y from x (a checked shape); fills `stats`. */
  protected abstract run(y: Tensor, x: Tensor, stats: NormStats): void;
  /** dx (written) and the parameter gradients (accumulated) of the last forward. */
  protected abstract runBackward(dx: Tensor, dy: Tensor, x: Tensor, stats: NormStats): void;
  abstract toString(): string;

  constructor(owner: string, eps: number, affine: boolean, paramShape: readonly number[], scratchC: number) {
    super();
    this.backend = getBackend();
    this.eps = eps;
    this.paramShape = paramShape;
    const make = (v: number) => {
      const t = new Tensor(this.backend, [paramShape.reduce((a, b) => a * b, 1)], owner);
      t.data.fill(v);
      return t;
    };
    this.gamma = make(1);
    this.beta = make(0);
    this.weight = affine ? new Parameter("weight", this.gamma, make(0)) : null;
    this.bias = affine ? new Parameter("bias", this.beta, make(0)) : null;
    this.scratch = new Tensor(this.backend, [Math.ceil(normScratchBytes(this.backend, scratchC) / 4)], owner);
    this.bufs = new Buffers(this.backend, owner);
  }

  /** Null if this layer accepts `shape`, else what it expects (Sequential's wiring check). */
  expectedInput(shape: Shape): string | null {
    try {
      this.checkInput(shape);
      return null;
    } catch {
      return this.describeInput();
    }
  }

  outputShape(input: Shape): Shape {
    this.statCount(input);
    return input;
  }

  /** The statistics buffers for `count` values (mean, invStd; var when `withVar`). */
  protected statsFor(count: number, withVar: boolean): NormStats {
    return { mean: this.bufs.get("mean", [count]), var: withVar ? this.bufs.get("var", [count]) : null, invStd: this.bufs.get("invStd", [count]) };
  }

  /** statCount(), skipped when the shape and mode are the last ones checked. */
  protected checkedCount(shape: Shape): number {
    const c = this.lastCheck;
    if (c && c.training === this.training && sameShape(shape, c.shape)) return c.count;
    const count = this.statCount(shape);
    this.lastCheck = { shape: [...shape], training: this.training, count };
    return count;
  }

  protected withVar(): boolean {
    return false;
  }

  forward(x: Tensor, out?: Tensor): Tensor {
    this.assertUsable("forward");
    checkTensorArg(x, this.backend, this, "forward");
    checkOutArg(out, this.backend, this);
    const count = this.checkedCount(x.shape);
    const y = this.bufs.get("y", x.shape);
    this.run(y, x, this.statsFor(count, this.withVar()));
    const saved = this.saved ?? (this.saved = { x, shape: x.shape });
    saved.x = x;
    saved.shape = x.shape;
    return deliverOutput(this, y, out);
  }

  /** dx for the last forward's input; accumulates into weight.grad and bias.grad. */
  backward(grad: Tensor, into?: GradTarget): Tensor {
    this.assertUsable("backward");
    checkIntoArg(into, this.backend, this);
    const saved = this.saved;
    if (!saved) throw new Error(`${this}.backward: called before forward (there is no saved input to differentiate)`);
    checkTensorArg(grad, this.backend, this, "backward", true);
    const dy = contiguousGrad(this.bufs, grad);
    if (!sameShape(dy.shape, saved.shape)) {
      throw new Error(`${this}.backward: expected dy of shape ${fmt(saved.shape)} (the last forward's input), got ${fmt(dy.shape)}`);
    }
    const x = into?.x ?? saved.x;
    if (x.isDisposed) throw new Error(`${this}.backward: the input of the last forward was disposed; keep it alive until backward`);
    const dx = this.bufs.get("dx", dy.shape);
    this.runBackward(dx, dy, x, this.statsFor(this.checkedCount(saved.shape), this.withVar()));
    return deliverGrad(this, dx, into);
  }

  parameters(): Parameter[] {
    return [this.weight, this.bias].filter((p): p is Parameter => p !== null);
  }

  /** weight and bias as PyTorch names them (flat Float32Arrays; shape paramShape). */
  stateDict(): StateDict {
    this.assertUsable("stateDict");
    const sd: StateDict = {};
    if (this.weight) sd.weight = this.weight.value.toArray();
    if (this.bias) sd.bias = this.bias.value.toArray();
    return sd;
  }

  /** The Float32Array entries this layer's state dict holds, with their PyTorch shapes. */
  protected floatShapes(): Record<string, number[]> {
    return this.weight ? { weight: [...this.paramShape], bias: [...this.paramShape] } : {};
  }

  /** Loads PyTorch-named state; checks every entry before changing anything. */
  loadStateDict(sd: StateDict): void {
    this.assertUsable("loadStateDict");
    checkFloatState(`${this}.loadStateDict`, sd, this.floatShapes());
    if (this.weight) this.weight.value.data.set(sd.weight as Float32Array);
    if (this.bias) this.bias.value.data.set(sd.bias as Float32Array);
  }

  protected releaseMemory(): void {
    this.bufs.releaseAll();
    for (const t of [this.gamma, this.beta, this.scratch, this.weight?.grad, this.bias?.grad]) t?.release();
    this.saved = null;
  }
}
