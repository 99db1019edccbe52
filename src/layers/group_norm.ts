// GroupNorm with PyTorch's semantics (Wu & He 2018): the C channels are split into
// numGroups groups of consecutive channels, and each sample's group is normalized with its
// own mean and biased variance; weight and bias are per channel. Input [N, C, *]
// (channelsFirst, PyTorch's layout; [N, C] groups the features) or [N, *, C] (channelsLast).
// The same in training and eval.
import { boolOption, checkOptions, describe, epsOption } from "../options.js";
import type { DataFormat } from "../ops/bn.js";
import { cachedGroupLayout, type GroupLayout, groupNormBackward, groupNormForward, type NormStats } from "../ops/norm.js";
import { fmt, type Shape } from "../shape.js";
import type { Tensor } from "../tensor.js";
import { SampleNorm } from "./norm_base.js";

export interface GroupNormOptions {
  /** Added to the variance before the square root. Default 1e-5. */
  eps?: number;
  /** Learn a weight and bias per channel. Default true. */
  affine?: boolean;
  /** Where the channel axis is. Default channelsFirst. */
  dataFormat?: DataFormat;
}

/** A dataFormat option: 'channelsFirst' (the default) or 'channelsLast'. */
export function dataFormatOption(where: string, v: unknown): DataFormat {
  const f = v ?? "channelsFirst";
  if (f !== "channelsFirst" && f !== "channelsLast") throw new Error(`${where}: dataFormat must be 'channelsFirst' or 'channelsLast', got ${describe(f)}`);
  return f;
}

/** Checks an input shape of a channel layer: rank in `ranks`, C channels at the channel axis, no empty dimension. */
export function checkChannelShape(where: string, shape: Shape, C: number, dataFormat: DataFormat, ranks: readonly number[], expected: string): void {
  if (!ranks.includes(shape.length)) throw new Error(`${where}: expected a ${expected} input, got shape ${fmt(shape)} (rank ${shape.length})`);
  const axis = dataFormat === "channelsLast" ? shape.length - 1 : 1;
  if (shape[axis] !== C) throw new Error(`${where}: expected ${C} channels at dimension ${axis} of ${expected}, got ${shape[axis]} (input shape ${fmt(shape)})`);
  if (shape.includes(0)) throw new Error(`${where}: expected a ${expected} input without empty dimensions, got shape ${fmt(shape)}`);
}

export class GroupNorm extends SampleNorm {
  readonly numGroups: number;
  readonly numChannels: number;
  readonly affine: boolean;
  readonly dataFormat: DataFormat;

  constructor(numGroups: number, numChannels: number, options: GroupNormOptions = {}) {
    for (const [name, v] of [["numGroups", numGroups], ["numChannels", numChannels]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`GroupNorm: ${name} must be a positive integer, got ${describe(v)}`);
    }
    if (numChannels % numGroups !== 0) {
      throw new Error(`GroupNorm: numChannels must be divisible by numGroups, got ${numChannels} channels in ${numGroups} groups`);
    }
    checkOptions("GroupNorm", options, ["eps", "affine", "dataFormat"]);
    const eps = epsOption("GroupNorm", options.eps, 1e-5);
    const affine = boolOption("GroupNorm", "affine", options.affine, true);
    const dataFormat = dataFormatOption("GroupNorm", options.dataFormat);
    super(`GroupNorm(${numGroups}, ${numChannels})`, eps, affine, [numChannels], numChannels);
    this.numGroups = numGroups;
    this.numChannels = numChannels;
    this.affine = affine;
    this.dataFormat = dataFormat;
  }

  toString(): string {
    return `GroupNorm(${this.numGroups}, ${this.numChannels}${this.affine ? "" : ", affine=false"}${this.dataFormat === "channelsLast" ? ", channelsLast" : ""})`;
  }

  private expected(): string {
    return this.dataFormat === "channelsLast" ? "[N, *, C]" : "[N, C, *]";
  }

  protected describeInput(): string {
    return this.expected().replace("C", String(this.numChannels));
  }

  protected checkInput(shape: Shape): void {
    const ranks = shape.length >= 2 ? [shape.length] : [2];
    checkChannelShape(String(this), shape, this.numChannels, this.dataFormat, ranks, this.describeInput());
  }

  protected statCount(shape: Shape): number {
    this.checkInput(shape);
    return shape[0] * this.numGroups;
  }

  private lastLayout: { shape: Shape; layout: GroupLayout } | null = null;

  private layout(shape: Shape): GroupLayout {
    this.lastLayout = cachedGroupLayout(this.lastLayout, shape, this.dataFormat, this.numGroups);
    return this.lastLayout.layout;
  }

  protected run(y: Tensor, x: Tensor, stats: NormStats): void {
    groupNormForward(y, stats, x, this.gamma, this.beta, this.eps, this.layout(x.shape), this.scratch);
  }

  protected runBackward(dx: Tensor, dy: Tensor, x: Tensor, stats: NormStats): void {
    groupNormBackward(dx, this.weight?.grad ?? null, this.bias?.grad ?? null, dy, x, stats, this.gamma, this.layout(x.shape), this.scratch);
  }
}
