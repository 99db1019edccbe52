// InstanceNorm1d and InstanceNorm2d with PyTorch's semantics (Ulyanov et al. 2016): each
// sample's channel is normalized over its positions with its own mean and biased variance
// (GroupNorm's kernels with one group per channel). With trackRunningStats, training also
// updates running estimates as PyTorch does (the average over the batch of the per-sample
// BN updates, the variance unbiased by L/(L-1)), and eval normalizes with them (BN's folded
// map y = a*x + b). num_batches_tracked is kept in the state dict and, as in PyTorch, never
// incremented. Inputs [N, C, L] / [N, C, H, W] or channels-last [N, L, C] / [N, H, W, C].
import { bnBackward, bnFold, bnLayout, bnSavedFromRunning, bnScratchBytes, type DataFormat, scaleShift } from "../ops/bn.js";
import { groupLayout, groupNormBackward, groupNormForward, instanceNormUpdateRunning, type NormStats } from "../ops/norm.js";
import { checkFinite, type StateDict } from "../module.js";
import { boolOption, checkOptions, describe, epsOption } from "../options.js";
import { fmt, type Shape } from "../shape.js";
import { Tensor } from "../tensor.js";
import { checkChannelShape, dataFormatOption } from "./group_norm.js";
import { SampleNorm } from "./norm_base.js";

export interface InstanceNormOptions {
  /** Added to the variance before the square root. Default 1e-5. */
  eps?: number;
  /** Weight of the new batch in the running estimates. Default 0.1. */
  momentum?: number;
  /** Learn a weight and bias per channel. Default false (as PyTorch). */
  affine?: boolean;
  /** Keep running estimates, and normalize with them in eval mode. Default false (as PyTorch). */
  trackRunningStats?: boolean;
  /** Where the channel axis is. Default channelsFirst. */
  dataFormat?: DataFormat;
}

/** What eval mode with running estimates uses: BN's inference map and the fixed statistics backward reads. */
interface Running {
  mean: Tensor;
  var: Tensor;
  foldA: Tensor;
  foldB: Tensor;
  fixedMean: Tensor;
  fixedInvStd: Tensor;
  bnScratch: Tensor;
}

export abstract class InstanceNorm extends SampleNorm {
  readonly numFeatures: number;
  readonly momentum: number;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;
  readonly dataFormat: DataFormat;
  /** Always 0, as in PyTorch (its instance_norm does not count batches); kept for the state dict. */
  numBatchesTracked = 0;
  private readonly running: Running | null;
  /** Whether the last forward normalized with the input's statistics (else the running ones). */
  private lastInputStats = true;
  private backup: { mean: Float32Array; var: Float32Array } | null = null;

  protected abstract ranks(): readonly number[];
  protected abstract describeExpected(): string;

  constructor(numFeatures: number, options: InstanceNormOptions = {}) {
    const name = new.target.name;
    if (!Number.isInteger(numFeatures) || numFeatures < 1) throw new Error(`${name}: numFeatures must be a positive integer, got ${describe(numFeatures)}`);
    checkOptions(name, options, ["eps", "momentum", "affine", "trackRunningStats", "dataFormat"]);
    const eps = epsOption(name, options.eps, 1e-5);
    const momentum: unknown = options.momentum === undefined ? 0.1 : options.momentum;
    if (typeof momentum !== "number" || !(momentum >= 0 && momentum <= 1)) {
      throw new Error(`${name}: momentum must be a number in [0, 1] (PyTorch's instance norm takes no cumulative average), got ${describe(momentum)}`);
    }
    const affine = boolOption(name, "affine", options.affine, false);
    const track = boolOption(name, "trackRunningStats", options.trackRunningStats, false);
    const dataFormat = dataFormatOption(name, options.dataFormat);
    super(`${name}(${numFeatures})`, eps, affine, [numFeatures], numFeatures);
    this.numFeatures = numFeatures;
    this.momentum = momentum;
    this.affine = affine;
    this.trackRunningStats = track;
    this.dataFormat = dataFormat;
    const C = numFeatures, owner = `${name}(${C})`;
    const make = (v: number, n = C) => {
      const t = new Tensor(this.backend, [n], owner);
      t.data.fill(v);
      return t;
    };
    this.running = track
      ? { mean: make(0), var: make(1), foldA: make(0), foldB: make(0), fixedMean: make(0), fixedInvStd: make(0), bnScratch: make(0, Math.ceil(bnScratchBytes(this.backend, C) / 4)) }
      : null;
  }

  get runningMean(): Tensor | null {
    return this.running?.mean ?? null;
  }

  get runningVar(): Tensor | null {
    return this.running?.var ?? null;
  }

  toString(): string {
    const opts = [this.affine ? "affine" : "", this.trackRunningStats ? "trackRunningStats" : "", this.dataFormat === "channelsLast" ? "channelsLast" : ""].filter(Boolean);
    return `${this.constructor.name}(${this.numFeatures}${opts.length ? ", " + opts.join(", ") : ""})`;
  }

  /** Training normalizes with the input's statistics, and so does eval without running estimates. */
  private get usesInputStats(): boolean {
    return this.training || !this.trackRunningStats;
  }

  protected describeInput(): string {
    return this.describeExpected().replace("C", String(this.numFeatures));
  }

  protected checkInput(shape: Shape): void {
    checkChannelShape(String(this), shape, this.numFeatures, this.dataFormat, this.ranks(), this.describeInput());
  }

  protected statCount(shape: Shape): number {
    this.checkInput(shape);
    const L = groupLayout(shape, this.dataFormat, this.numFeatures);
    if (this.usesInputStats && L.HW <= 1) throw new Error(`${this}: Expected more than 1 spatial element when training, got input size ${fmt(shape)}`);
    return L.N * L.C;
  }

  protected withVar(): boolean {
    return this.trackRunningStats && this.training;
  }

  protected run(y: Tensor, x: Tensor, stats: NormStats): void {
    this.lastInputStats = this.usesInputStats;
    const r = this.running;
    if (this.lastInputStats) {
      const L = groupLayout(x.shape, this.dataFormat, this.numFeatures);
      groupNormForward(y, stats, x, this.gamma, this.beta, this.eps, L, this.scratch);
      if (this.training && r) instanceNormUpdateRunning(r.mean, r.var, stats.mean, stats.var!, L.N, this.momentum, L.HW / (L.HW - 1));
      return;
    }
    bnFold(r!.foldA, r!.foldB, this.gamma, this.beta, r!.mean, r!.var, this.eps);
    scaleShift(y, x, r!.foldA, r!.foldB, bnLayout(x.shape, this.dataFormat), false);
    // Backward in eval mode differentiates the same fixed affine map.
    bnSavedFromRunning(r!.fixedMean, r!.fixedInvStd, r!.mean, r!.var, this.eps);
  }

  protected runBackward(dx: Tensor, dy: Tensor, x: Tensor, stats: NormStats): void {
    const dg = this.weight?.grad ?? null, db = this.bias?.grad ?? null;
    if (this.lastInputStats) {
      groupNormBackward(dx, dg, db, dy, x, stats, this.gamma, groupLayout(x.shape, this.dataFormat, this.numFeatures), this.scratch);
      return;
    }
    const r = this.running!;
    bnBackward(dx, dg, db, dy, x, r.fixedMean, r.fixedInvStd, this.gamma, bnLayout(x.shape, this.dataFormat), false, r.bnScratch);
  }

  /** Copies the running estimates aside (fit() undoes a skipped step with it). */
  saveForwardState(): void {
    if (!this.running) return;
    this.assertUsable("saveForwardState");
    this.backup = { mean: this.running.mean.toArray(), var: this.running.var.toArray() };
  }

  restoreForwardState(): void {
    if (!this.running || !this.backup) return;
    this.assertUsable("restoreForwardState");
    this.running.mean.data.set(this.backup.mean);
    this.running.var.data.set(this.backup.var);
  }

  stateDict(): StateDict {
    const sd = super.stateDict();
    if (this.running) {
      sd.running_mean = this.running.mean.toArray();
      sd.running_var = this.running.var.toArray();
      sd.num_batches_tracked = BigInt64Array.of(BigInt(this.numBatchesTracked));
    }
    return sd;
  }

  protected floatShapes(): Record<string, number[]> {
    const C = this.numFeatures;
    return { ...super.floatShapes(), ...(this.running ? { running_mean: [C], running_var: [C] } : {}) };
  }

  /** Loads PyTorch-named state; checks every entry before changing anything. */
  loadStateDict(sd: StateDict): void {
    this.assertUsable("loadStateDict");
    if (sd === null || typeof sd !== "object") throw new Error(`${this}.loadStateDict: expected an object of typed arrays (stateDict() gives one), got ${describe(sd)}`);
    let nbt: number | null = null;
    const floats: StateDict = { ...sd };
    if (this.running) {
      const v = sd.num_batches_tracked as unknown;
      if (v === undefined) throw new Error(`${this}.loadStateDict: missing "num_batches_tracked"`);
      const n = v instanceof BigInt64Array || v instanceof Float32Array ? Number(v[0]) : typeof v === "bigint" ? Number(v) : (v as number);
      if (!Number.isInteger(n) || n < 0) throw new Error(`${this}.loadStateDict: "num_batches_tracked" must be a non-negative integer, got ${String(v)}`);
      nbt = n;
      delete floats.num_batches_tracked;
      const rv = sd.running_var;
      if (rv instanceof Float32Array) {
        checkFinite(`${this}.loadStateDict`, "running_var", rv);
        const i = rv.findIndex((x) => x < 0);
        if (i >= 0) throw new Error(`${this}.loadStateDict: "running_var" holds ${rv[i]} at index ${i}; a variance must be >= 0`);
      }
    }
    super.loadStateDict(floats);
    if (this.running) {
      this.running.mean.data.set(sd.running_mean as Float32Array);
      this.running.var.data.set(sd.running_var as Float32Array);
      this.numBatchesTracked = nbt!;
    }
  }

  protected releaseMemory(): void {
    super.releaseMemory();
    const r = this.running;
    if (r) for (const t of [r.mean, r.var, r.foldA, r.foldB, r.fixedMean, r.fixedInvStd, r.bnScratch]) t.release();
  }
}

/** Instance Normalization over [N, C, L] (PyTorch's nn.InstanceNorm1d) or channels-last [N, L, C]. */
export class InstanceNorm1d extends InstanceNorm {
  protected ranks(): readonly number[] {
    return [3];
  }
  protected describeExpected(): string {
    return this.dataFormat === "channelsLast" ? "[N, L, C]" : "[N, C, L]";
  }
}

/** Instance Normalization over [N, C, H, W] (PyTorch's nn.InstanceNorm2d) or channels-last [N, H, W, C]. */
export class InstanceNorm2d extends InstanceNorm {
  protected ranks(): readonly number[] {
    return [4];
  }
  protected describeExpected(): string {
    return this.dataFormat === "channelsLast" ? "[N, H, W, C]" : "[N, C, H, W]";
  }
}
