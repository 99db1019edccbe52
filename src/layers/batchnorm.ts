// BatchNorm1d and BatchNorm2d with PyTorch's semantics (Ioffe & Szegedy 2015).
// Training: normalize with the batch's mean and biased variance, update the running
// estimates with the unbiased variance m/(m-1)*var. Eval: the folded y = a*x + b.
// Layouts: channels-first ([N, C], [N, C, L], [N, C, H, W]) or channels-last ([N, H, W, C]).
import { type Backend, getBackend } from "../backend.js";
import { Buffers } from "../buffers.js";
import { checkFinite, type GradTarget, Layer, Parameter, type StateDict, type StateValue } from "../module.js";
import { contiguousGrad, deliverGrad, deliverOutput } from "./io.js";
import { type BnBatchStats, type BnLayout, bnBackward, bnForwardTrain, bnFold, bnLayout, bnSavedFromRunning, bnScratchBytes, bnUpdateRunning, type DataFormat, scaleShift } from "../ops/bn.js";
import { boolOption, checkOptions, describe, epsOption } from "../options.js";
import { fmt, type Shape, sameShape } from "../shape.js";
import { checkTensorArg, Tensor } from "../tensor.js";

export interface BatchNormOptions {
  /** Added to the variance before the square root. Default 1e-5. */
  eps?: number;
  /** Weight of the new batch in the running estimates; null for a cumulative average. Default 0.1. */
  momentum?: number | null;
  /** Learn gamma and beta. Default true. */
  affine?: boolean;
  /** Keep running estimates for eval mode. Default true. */
  trackRunningStats?: boolean;
  /** Keras: learn gamma (otherwise gamma = 1). Default = affine. */
  scale?: boolean;
  /** Keras: learn beta (otherwise beta = 0). Default = affine. */
  center?: boolean;
  /** Where the channel axis is. Default channelsFirst. */
  dataFormat?: DataFormat;
}

/** The kernel layout of a shape whose channel axis is 1 (channelsFirst) or last (channelsLast). */
export const layoutFor = bnLayout;

interface Saved {
  x: Tensor;
  shape: readonly number[];
  layout: BnLayout;
  batchStats: boolean;
}

export type { BnLayout, DataFormat };

export abstract class BatchNorm extends Layer {
  /** backward() reads `into.x` when given (see GradTarget). */
  readonly acceptsRematerializedInput = true;
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;
  readonly dataFormat: DataFormat;
  /** gamma, or null without scale. */
  readonly weight: Parameter | null;
  /** beta, or null without center. */
  readonly bias: Parameter | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  numBatchesTracked = 0;

  protected readonly backend: Backend;
  protected readonly gamma: Tensor;
  protected readonly beta: Tensor;
  /** Batch mean, variance and invStd of the last forward (mean and invStd: the running ones in eval), for backward. */
  protected readonly stats: BnBatchStats;
  /** Eval mode's folded y = a*x + b. */
  private readonly foldA: Tensor;
  private readonly foldB: Tensor;
  /** The kernels' per-channel scratch (its size depends on C only). */
  protected readonly scratch: Tensor;
  protected readonly bufs: Buffers;
  private saved: Saved | null = null;
  /** saveForwardState()'s copy: running mean then running var, and the counter. */
  private backup: Tensor | null = null;
  private backupBatches = 0;
  private lastLayout: { shape: number[]; layout: BnLayout } | null = null;

  protected abstract describeExpected(): string;
  protected abstract ranks(): readonly number[];

  constructor(numFeatures: number, options: BatchNormOptions = {}) {
    super();
    const name = new.target.name;
    if (!Number.isInteger(numFeatures) || numFeatures < 1) {
      throw new Error(`${name}: numFeatures must be a positive integer, got ${numFeatures}`);
    }
    checkOptions(name, options, ["eps", "momentum", "affine", "trackRunningStats", "scale", "center", "dataFormat"]);
    const eps = epsOption(name, options.eps, 1e-5);
    const momentum = options.momentum === undefined ? 0.1 : options.momentum;
    if (momentum !== null && (typeof momentum !== "number" || !(momentum >= 0 && momentum <= 1))) {
      throw new Error(`${name}: momentum must be a number in [0, 1] or null (cumulative average), got ${describe(momentum)}`);
    }
    const dataFormat = options.dataFormat ?? "channelsFirst";
    if (dataFormat !== "channelsFirst" && dataFormat !== "channelsLast") {
      throw new Error(`${name}: dataFormat must be 'channelsFirst' or 'channelsLast', got ${describe(dataFormat)}`);
    }
    const affine = boolOption(name, "affine", options.affine, true);
    const trackRunningStats = boolOption(name, "trackRunningStats", options.trackRunningStats, true);
    const scale = boolOption(name, "scale", options.scale, affine);
    const center = boolOption(name, "center", options.center, affine);
    this.backend = getBackend();
    this.numFeatures = numFeatures;
    this.eps = eps;
    this.momentum = momentum;
    this.affine = affine;
    this.trackRunningStats = trackRunningStats;
    this.dataFormat = dataFormat;
    const C = numFeatures;
    const owner = `${name}(${C})`;
    const make = (v: number) => {
      const t = new Tensor(this.backend, [C], owner);
      t.data.fill(v);
      return t;
    };
    this.gamma = make(1);
    this.beta = make(0);
    this.weight = scale ? new Parameter("weight", this.gamma, make(0)) : null;
    this.bias = center ? new Parameter("bias", this.beta, make(0)) : null;
    this.runningMean = this.trackRunningStats ? make(0) : null;
    this.runningVar = this.trackRunningStats ? make(1) : null;
    this.stats = { mean: make(0), var: make(0), invStd: make(0) };
    this.foldA = make(0);
    this.foldB = make(0);
    this.scratch = new Tensor(this.backend, [Math.ceil(bnScratchBytes(this.backend, C) / 4)], owner);
    this.bufs = new Buffers(this.backend, owner);
  }

  protected get name(): string {
    return `${this.constructor.name}(${this.numFeatures})`;
  }

  toString(): string {
    return this.name;
  }

  /** Null if this layer accepts `shape`, else the input it expects (Sequential's wiring check). */
  expectedInput(shape: Shape): string | null {
    const C = this.numFeatures;
    const axis = this.dataFormat === "channelsLast" ? shape.length - 1 : 1;
    if (this.ranks().includes(shape.length) && shape[axis] === C) return null;
    return this.describeExpected().replace(/\bC\b/g, String(C));
  }

  /** Maps an input shape to the kernel layout, or throws naming what was expected. */
  layoutOf(shape: Shape): BnLayout {
    // Training loops repeat one shape: reuse its layout instead of re-deriving it each call.
    if (this.lastLayout && sameShape(shape, this.lastLayout.shape)) return this.lastLayout.layout;
    const layout = this.deriveLayout(shape);
    this.lastLayout = { shape: [...shape], layout };
    return layout;
  }

  private deriveLayout(shape: Shape): BnLayout {
    const C = this.numFeatures;
    if (shape.includes(0)) throw new Error(`${this.name}: expected a ${this.describeExpected()} input without empty dimensions, got shape ${fmt(shape)}`);
    if (!this.ranks().includes(shape.length)) {
      throw new Error(`${this.name}: expected a ${this.describeExpected()} input, got shape ${fmt(shape)} (rank ${shape.length})`);
    }
    const last = this.dataFormat === "channelsLast";
    const axis = last ? shape.length - 1 : 1;
    if (shape[axis] !== C) {
      throw new Error(
        `${this.name}: expected ${C} channels at dimension ${axis} of ${this.describeExpected()}, got ${shape[axis]} (input shape ${fmt(shape)})`,
      );
    }
    return layoutFor(shape, this.dataFormat);
  }

  /** The input's shape, once it is checked as forward checks it (in the current mode). */
  outputShape(input: Shape): Shape {
    this.checkedLayout(input);
    return input;
  }

  /** layoutOf(), and in batch-statistics mode at least 2 values per channel. */
  protected checkedLayout(shape: Shape): BnLayout {
    const layout = this.layoutOf(shape);
    if (this.usesBatchStats && layout.m <= 1) {
      throw new Error(`${this.name}: Expected more than 1 value per channel when training, got input size ${fmt(shape)}`);
    }
    return layout;
  }

  /** Training normalizes with the batch's statistics, and so does eval without running estimates. */
  protected get usesBatchStats(): boolean {
    return this.training || !this.trackRunningStats;
  }

  forward(x: Tensor, out?: Tensor): Tensor {
    this.assertUsable("forward");
    checkTensorArg(x, this.backend, this, "forward");
    const layout = this.checkedLayout(x.shape);
    const batchStats = this.usesBatchStats;
    const y = this.bufs.get("y", x.shape);
    if (batchStats) {
      bnForwardTrain(y, this.stats, x, this.gamma, this.beta, this.eps, layout, this.scratch);
      if (this.training && this.trackRunningStats) this.updateRunningStats(layout.m);
    } else {
      const rm = this.runningMean!, rv = this.runningVar!;
      bnFold(this.foldA, this.foldB, this.gamma, this.beta, rm, rv, this.eps);
      scaleShift(y, x, this.foldA, this.foldB, layout, false);
      // Backward in eval mode differentiates the same fixed affine map.
      bnSavedFromRunning(this.stats.mean, this.stats.invStd, rm, rv, this.eps);
    }
    const saved = this.saved ?? (this.saved = { x, shape: x.shape, layout, batchStats });
    saved.x = x;
    saved.shape = x.shape;
    saved.layout = layout;
    saved.batchStats = batchStats;
    return deliverOutput(this, y, out);
  }

  /** dx for the last forward's input; accumulates into weight.grad and bias.grad. */
  backward(grad: Tensor, into?: GradTarget): Tensor {
    this.assertUsable("backward");
    const saved = this.saved;
    if (!saved) throw new Error(`${this.name}.backward: called before forward (there is no saved input to differentiate)`);
    checkTensorArg(grad, this.backend, this, "backward", true);
    const dy = contiguousGrad(this.bufs, grad);
    if (!sameShape(dy.shape, saved.shape)) {
      throw new Error(`${this.name}.backward: expected dy of shape ${fmt(saved.shape)} (the last forward's input), got ${fmt(dy.shape)}`);
    }
    const x = into?.x ?? saved.x;
    if (x.isDisposed) {
      throw new Error(`${this.name}.backward: the input of the last forward was disposed; keep it alive until backward`);
    }
    const dx = this.bufs.get("dx", dy.shape);
    const { mean, invStd } = this.stats;
    bnBackward(dx, this.weight?.grad ?? null, this.bias?.grad ?? null, dy, x, mean, invStd, this.gamma, saved.layout, saved.batchStats, this.scratch);
    return deliverGrad(this, dx, into);
  }

  /** PyTorch's update, momentum m: r = (1 - m) r + m * batch; momentum null: m = 1 / batches seen. */
  protected updateRunningStats(m: number): void {
    this.numBatchesTracked += 1;
    const f = this.momentum ?? 1 / this.numBatchesTracked;
    bnUpdateRunning(this.runningMean!, this.runningVar!, this.stats, f, m / (m - 1));
  }

  /** Batch mean and biased variance of the last training forward (copies). */
  lastBatchStats(): { mean: Float32Array; var: Float32Array } {
    return { mean: this.stats.mean.toArray(), var: this.stats.var.toArray() };
  }

  parameters(): Parameter[] {
    return [this.weight, this.bias].filter((p): p is Parameter => p !== null);
  }

  /** Copies the running estimates and their counter aside (buffers made on the first call). */
  saveForwardState(): void {
    if (!this.trackRunningStats) return;
    this.assertUsable("saveForwardState");
    const C = this.numFeatures;
    const backup = this.backup ?? (this.backup = new Tensor(this.backend, [2 * C], this.name));
    const f32 = this.backend.heap.f32;
    f32.copyWithin(backup.ptr >>> 2, this.runningMean!.ptr >>> 2, (this.runningMean!.ptr >>> 2) + C);
    f32.copyWithin((backup.ptr >>> 2) + C, this.runningVar!.ptr >>> 2, (this.runningVar!.ptr >>> 2) + C);
    this.backupBatches = this.numBatchesTracked;
  }

  /** Puts back what saveForwardState() copied. */
  restoreForwardState(): void {
    const backup = this.backup;
    if (!this.trackRunningStats || !backup) return;
    this.assertUsable("restoreForwardState");
    const C = this.numFeatures;
    const f32 = this.backend.heap.f32;
    f32.copyWithin(this.runningMean!.ptr >>> 2, backup.ptr >>> 2, (backup.ptr >>> 2) + C);
    f32.copyWithin(this.runningVar!.ptr >>> 2, (backup.ptr >>> 2) + C, (backup.ptr >>> 2) + 2 * C);
    this.numBatchesTracked = this.backupBatches;
  }

  stateDict(): StateDict {
    this.assertUsable("stateDict");
    const sd: StateDict = {};
    if (this.weight) sd.weight = this.weight.value.toArray();
    if (this.bias) sd.bias = this.bias.value.toArray();
    if (this.trackRunningStats) {
      sd.running_mean = this.runningMean!.toArray();
      sd.running_var = this.runningVar!.toArray();
      sd.num_batches_tracked = BigInt64Array.of(BigInt(this.numBatchesTracked));
    }
    return sd;
  }

  /** Loads PyTorch-named state; checks every entry before changing anything. */
  loadStateDict(sd: StateDict): void {
    this.assertUsable("loadStateDict");
    if (sd === null || typeof sd !== "object") throw new Error(`${this.name}.loadStateDict: expected an object of typed arrays (stateDict() gives one), got ${describe(sd)}`);
    const C = this.numFeatures;
    const targets: [string, Tensor][] = [];
    if (this.weight) targets.push(["weight", this.weight.value]);
    if (this.bias) targets.push(["bias", this.bias.value]);
    if (this.trackRunningStats) targets.push(["running_mean", this.runningMean!], ["running_var", this.runningVar!]);
    const expected = new Set([...targets.map(([k]) => k), ...(this.trackRunningStats ? ["num_batches_tracked"] : [])]);
    for (const key of Object.keys(sd)) {
      if (!expected.has(key)) throw new Error(`${this.name}.loadStateDict: unexpected key "${key}" (expected ${[...expected].join(", ")})`);
    }
    for (const [key] of targets) {
      const v: StateValue | undefined = sd[key];
      if (!(v instanceof Float32Array)) {
        throw new Error(`${this.name}.loadStateDict: "${key}" must be a Float32Array of length ${C}, got ${v === undefined ? "nothing" : v.constructor.name}`);
      }
      if (v.length !== C) throw new Error(`${this.name}.loadStateDict: "${key}" must have length ${C}, got ${v.length}`);
      checkFinite(`${this.name}.loadStateDict`, key, v);
      if (key === "running_var") {
        const i = v.findIndex((x) => x < 0);
        if (i >= 0) throw new Error(`${this.name}.loadStateDict: "running_var" holds ${v[i]} at index ${i}; a variance must be >= 0`);
      }
    }
    let nbt: number | null = null;
    if (this.trackRunningStats) {
      const v = sd.num_batches_tracked as unknown;
      if (v === undefined) throw new Error(`${this.name}.loadStateDict: missing "num_batches_tracked"`);
      const n = v instanceof BigInt64Array || v instanceof Float32Array ? Number(v[0]) : typeof v === "bigint" ? Number(v) : (v as number);
      if (!Number.isInteger(n) || n < 0) throw new Error(`${this.name}.loadStateDict: "num_batches_tracked" must be a non-negative integer, got ${String(v)}`);
      nbt = n;
    }
    for (const [key, t] of targets) t.data.set(sd[key] as Float32Array);
    if (nbt !== null) this.numBatchesTracked = nbt;
  }

  /** Releases every tensor this layer owns. */
  protected releaseMemory(): void {
    this.bufs.releaseAll();
    for (const t of [this.gamma, this.beta, this.stats.mean, this.stats.invStd, this.stats.var, this.foldA, this.foldB, this.scratch, this.runningMean, this.runningVar, this.weight?.grad, this.bias?.grad, this.backup]) {
      t?.release();
    }
    this.saved = null;
  }
}

/** Batch Normalization over [N, C] or [N, C, L] (PyTorch's nn.BatchNorm1d). */
export class BatchNorm1d extends BatchNorm {
  protected ranks(): readonly number[] {
    return [2, 3];
  }
  protected describeExpected(): string {
    return this.dataFormat === "channelsLast" ? "[N, C] or [N, L, C]" : "[N, C] or [N, C, L]";
  }
}

/** Batch Normalization over [N, C, H, W] (PyTorch's nn.BatchNorm2d) or channels-last [N, H, W, C]. */
export class BatchNorm2d extends BatchNorm {
  protected ranks(): readonly number[] {
    return [4];
  }
  protected describeExpected(): string {
    return this.dataFormat === "channelsLast" ? "[N, H, W, C]" : "[N, C, H, W]";
  }
}
