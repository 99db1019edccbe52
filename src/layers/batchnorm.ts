// BatchNorm1d and BatchNorm2d with PyTorch's semantics (Ioffe & Szegedy 2015).
// Training: normalize with the batch's mean and biased variance, update the running
// estimates with the unbiased variance m/(m-1)*var. Eval: the folded y = a*x + b.
// Layouts: channels-first ([N, C], [N, C, L], [N, C, H, W]) or channels-last ([N, H, W, C]).
// Two training variants with Keras 2's names and statistics: Batch Renormalization
// (`renorm`, Ioffe 2017) and Ghost Batch Normalization (`virtualBatchSize`, Hoffer et al.
// 2017). Both are plain BN at inference, so they fold like BN.
//
// Renorm follows Keras 2's BatchNormalization(renorm=True): r and d come from moving averages
// of the batch mean and of the batch stddev sqrt(var + eps) (`renorm_mean`, `renorm_stddev`,
// initialized 0 and 1) kept apart from the inference estimates and moved by renorm.momentum
// after r and d are computed; the stddev is floored at sqrt(eps). Differences from Keras 2:
// r is clipped to [1 / rMax, rMax] (the paper's rule; Keras takes an independent rmin, 0 when
// missing), and the inference estimates are PyTorch's (running_var: the unbiased batch
// variance, momentum 0.1) where Keras 2 with renorm averages the stddev and derives the
// variance from it; so renorm with rMax 1 and dMax 0 is exactly this layer without renorm.
//
// Ghost batches are runs of virtualBatchSize consecutive samples (Keras 2 reshapes to
// [virtualBatchSize, N / virtualBatchSize, ...] and so groups samples i with the same
// i mod (N / virtualBatchSize); for a shuffled batch the two are alike). As in Keras the
// batch must be a multiple of virtualBatchSize, and the running estimates move once per
// batch, from the sub-batches' averaged means and averaged (biased) variances; the variance
// then takes PyTorch's Bessel factor of one sub-batch, m_g / (m_g - 1), so that
// virtualBatchSize = N is this layer without ghost batches.
import { type Backend, getBackend } from "../backend.js";
import { Buffers } from "../buffers.js";
import { checkFinite, type GradTarget, Layer, Parameter, type StateDict, type StateValue } from "../module.js";
import { contiguousGrad, deliverGrad, deliverOutput } from "./io.js";
import { bnGhostBackward, bnGhostForwardTrain, bnGhostMoments, bnRenormBackward, bnRenormForwardTrain, bnRenormUpdate, type RenormClip } from "../ops/bn_renorm.js";
import { type RenormOptions, type RenormSettings, renormSettings } from "./renorm.js";
import { type BnBatchStats, type BnLayout, bnBackward, bnForwardTrain, bnFold, bnLayout, bnSavedFromRunning, bnScratchBytes, bnUpdateRunning, type DataFormat, scaleShift } from "../ops/bn.js";
import { boolOption, checkOptions, describe, epsOption } from "../options.js";
import { fmt, type Shape, sameShape } from "../shape.js";
import { checkIntoArg, checkOutArg, checkTensorArg, Tensor } from "../tensor.js";

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
  /** Batch Renormalization in training: { rMax, dMax, momentum? } (see RenormOptions). Needs trackRunningStats. */
  renorm?: RenormOptions;
  /** Ghost Batch Norm: normalize each run of this many consecutive samples with its own statistics (Keras 2's virtual_batch_size). */
  virtualBatchSize?: number;
}

/** The kernel layout of a shape whose channel axis is 1 (channelsFirst) or last (channelsLast). */
export const layoutFor = bnLayout;

/** How the last forward normalized: the plain kernels, renorm's (r, d saved), or G ghost batches. */
type Mode = "plain" | "renorm" | "ghost";

interface Saved {
  x: Tensor;
  shape: readonly number[];
  layout: BnLayout;
  batchStats: boolean;
  mode: Mode;
  groups: number;
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
  /** Batch Renormalization's checked settings, or null. */
  readonly renorm: RenormSettings | null;
  /** Ghost batch size, or null. */
  readonly virtualBatchSize: number | null;
  /** Renorm's moving mean and stddev of the batch statistics (Keras 2's renorm_mean, renorm_stddev), or null. */
  readonly renormMean: Tensor | null;
  readonly renormStd: Tensor | null;
  /** The last renorm training forward's r and d (per channel). */
  private readonly renormR: Tensor | null;
  private readonly renormD: Tensor | null;
  private readonly clip: RenormClip = { rMin: 1, rMax: 1, dMax: 0 };
  private ghost: { G: number; stats: BnBatchStats } | null = null;

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
  /** saveForwardState()'s copy: running mean, running var (then renorm mean and stddev), and the counter. */
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
    checkOptions(name, options, ["eps", "momentum", "affine", "trackRunningStats", "scale", "center", "dataFormat", "renorm", "virtualBatchSize"]);
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
    const renorm = renormSettings(name, options.renorm);
    if (renorm && !trackRunningStats) throw new Error(`${name}: renorm needs trackRunningStats (r and d come from moving statistics)`);
    const vbs = options.virtualBatchSize ?? null;
    if (vbs !== null && (typeof vbs !== "number" || !Number.isInteger(vbs) || vbs < 1)) {
      throw new Error(`${name}: virtualBatchSize must be a positive integer (it must divide the batch size), got ${describe(vbs)}`);
    }
    if (renorm && vbs !== null) {
      throw new Error(`${name}: renorm and virtualBatchSize together are not supported (Keras 2 computes r and d from the ghost batches' averaged moments); use one of them`);
    }
    this.renorm = renorm;
    this.virtualBatchSize = vbs;
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
    this.renormMean = renorm ? make(0) : null;
    this.renormStd = renorm ? make(1) : null;
    this.renormR = renorm ? make(1) : null;
    this.renormD = renorm ? make(0) : null;
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
    // A schedule's bad value stops the step here, in the wiring check, before any layer runs.
    if (this.renorm && this.training) this.renormClip();
    const v = this.virtualBatchSize;
    if (v !== null && this.usesBatchStats) {
      const N = shape[0];
      if (N % v !== 0) throw new Error(`${this.name}: virtualBatchSize ${v} must divide the batch size, got a batch of ${N} (input shape ${fmt(shape)})`);
      if ((layout.m / N) * v <= 1) {
        throw new Error(`${this.name}: a ghost batch of ${v} sample(s) holds 1 value per channel; batch statistics need more than 1 (input shape ${fmt(shape)})`);
      }
    }
    return layout;
  }

  /** Ghost batches of the current forward: N / virtualBatchSize, or 0 when not in use. */
  private ghostGroups(shape: Shape): number {
    return this.virtualBatchSize !== null && this.usesBatchStats ? shape[0] / this.virtualBatchSize : 0;
  }

  /** The G sub-batches' statistics, G rows of C (reallocated only when G changes). */
  private groupStats(G: number): BnBatchStats {
    const g = this.ghost;
    if (g && g.G === G && !g.stats.mean.isDisposed) return g.stats;
    const shape = [G, this.numFeatures];
    const stats = { mean: this.bufs.get("ghostMean", shape), var: this.bufs.get("ghostVar", shape), invStd: this.bufs.get("ghostInvStd", shape) };
    this.ghost = { G, stats };
    return stats;
  }

  /** This step's clipping bounds from the schedules (checked before any state moves). */
  private renormClip(): RenormClip {
    const s = this.renorm!, step = this.numBatchesTracked;
    const rMax = s.rMax(step);
    this.clip.rMax = rMax;
    this.clip.rMin = 1 / rMax;
    this.clip.dMax = s.dMax(step);
    return this.clip;
  }

  /** The current clipping bounds (for the step num_batches_tracked): { rMin, rMax, dMax }. */
  renormBounds(): RenormClip {
    if (!this.renorm) throw new Error(`${this.name}.renormBounds: this layer has no renorm`);
    const c = this.renormClip();
    return { rMin: c.rMin, rMax: c.rMax, dMax: c.dMax };
  }

  /** r and d of the last renorm training forward (copies). */
  lastRenormCorrection(): { r: Float32Array; d: Float32Array } {
    if (!this.renorm) throw new Error(`${this.name}.lastRenormCorrection: this layer has no renorm`);
    return { r: this.renormR!.toArray(), d: this.renormD!.toArray() };
  }

  /** Training normalizes with the batch's statistics, and so does eval without running estimates. */
  protected get usesBatchStats(): boolean {
    return this.training || !this.trackRunningStats;
  }

  forward(x: Tensor, out?: Tensor): Tensor {
    this.assertUsable("forward");
    checkTensorArg(x, this.backend, this, "forward");
    checkOutArg(out, this.backend, this);
    const layout = this.checkedLayout(x.shape);
    const batchStats = this.usesBatchStats;
    const G = this.ghostGroups(x.shape);
    const mode: Mode = G > 0 ? "ghost" : batchStats && this.renorm ? "renorm" : "plain";
    const y = this.bufs.get("y", x.shape);
    if (mode === "ghost") {
      const groups = this.groupStats(G);
      bnGhostForwardTrain(y, groups, x, this.gamma, this.beta, this.eps, layout, G, this.scratch);
      if (this.training && this.trackRunningStats) {
        bnGhostMoments(this.stats, groups, G);
        this.updateRunningStats(layout.m / G);
      }
    } else if (mode === "renorm") {
      bnRenormForwardTrain(y, this.stats, this.renormR!, this.renormD!, x, this.gamma, this.beta, this.renormMean!, this.renormStd!, this.eps, this.clip, layout, this.scratch);
      this.updateRunningStats(layout.m);
      bnRenormUpdate(this.renormMean!, this.renormStd!, this.stats, this.renorm!.momentum, this.eps);
    } else if (batchStats) {
      bnForwardTrain(y, this.stats, x, this.gamma, this.beta, this.eps, layout, this.scratch);
      if (this.training && this.trackRunningStats) this.updateRunningStats(layout.m);
    } else {
      const rm = this.runningMean!, rv = this.runningVar!;
      bnFold(this.foldA, this.foldB, this.gamma, this.beta, rm, rv, this.eps);
      scaleShift(y, x, this.foldA, this.foldB, layout, false);
      // Backward in eval mode differentiates the same fixed affine map.
      bnSavedFromRunning(this.stats.mean, this.stats.invStd, rm, rv, this.eps);
    }
    const saved = this.saved ?? (this.saved = { x, shape: x.shape, layout, batchStats, mode, groups: G });
    saved.x = x;
    saved.shape = x.shape;
    saved.layout = layout;
    saved.batchStats = batchStats;
    saved.mode = mode;
    saved.groups = G;
    return deliverOutput(this, y, out);
  }

  /** dx for the last forward's input; accumulates into weight.grad and bias.grad. */
  backward(grad: Tensor, into?: GradTarget): Tensor {
    this.assertUsable("backward");
    checkIntoArg(into, this.backend, this);
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
    const dgamma = this.weight?.grad ?? null, dbeta = this.bias?.grad ?? null;
    if (saved.mode === "ghost") bnGhostBackward(dx, dgamma, dbeta, dy, x, this.groupStats(saved.groups), this.gamma, saved.layout, saved.groups, this.scratch);
    else if (saved.mode === "renorm") bnRenormBackward(dx, dgamma, dbeta, dy, x, mean, invStd, this.gamma, this.renormR!, this.renormD!, saved.layout, this.scratch);
    else bnBackward(dx, dgamma, dbeta, dy, x, mean, invStd, this.gamma, saved.layout, saved.batchStats, this.scratch);
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
    const kept = this.keptState();
    const backup = this.backup ?? (this.backup = new Tensor(this.backend, [kept.length * C], this.name));
    const f32 = this.backend.heap.f32;
    kept.forEach((t, i) => f32.copyWithin((backup.ptr >>> 2) + i * C, t.ptr >>> 2, (t.ptr >>> 2) + C));
    this.backupBatches = this.numBatchesTracked;
  }

  /** Puts back what saveForwardState() copied. */
  restoreForwardState(): void {
    const backup = this.backup;
    if (!this.trackRunningStats || !backup) return;
    this.assertUsable("restoreForwardState");
    const C = this.numFeatures;
    const f32 = this.backend.heap.f32;
    this.keptState().forEach((t, i) => f32.copyWithin(t.ptr >>> 2, (backup.ptr >>> 2) + i * C, (backup.ptr >>> 2) + (i + 1) * C));
    this.numBatchesTracked = this.backupBatches;
  }

  /** The per-channel state a training forward moves. */
  private keptState(): Tensor[] {
    const t = [this.runningMean!, this.runningVar!];
    if (this.renorm) t.push(this.renormMean!, this.renormStd!);
    return t;
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
    if (this.renorm) {
      sd.renorm_mean = this.renormMean!.toArray();
      sd.renorm_stddev = this.renormStd!.toArray();
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
    if (this.renorm) targets.push(["renorm_mean", this.renormMean!], ["renorm_stddev", this.renormStd!]);
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
      if (key === "running_var" || key === "renorm_stddev") {
        const i = v.findIndex((x) => x < 0);
        if (i >= 0) throw new Error(`${this.name}.loadStateDict: "${key}" holds ${v[i]} at index ${i}; a ${key === "running_var" ? "variance" : "standard deviation"} must be >= 0`);
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
    for (const t of [this.gamma, this.beta, this.stats.mean, this.stats.invStd, this.stats.var, this.foldA, this.foldB, this.scratch, this.runningMean, this.runningVar, this.weight?.grad, this.bias?.grad, this.backup, this.renormMean, this.renormStd, this.renormR, this.renormD]) {
      t?.release();
    }
    this.saved = null;
    this.ghost = null;
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
