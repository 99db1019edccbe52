// LayerNorm with PyTorch's semantics (Ba et al. 2016): each sample is normalized over its
// last dimensions, normalizedShape, with its own mean and biased variance; weight and bias
// (elementwiseAffine) have normalizedShape. The same in training and eval.
import { checkOptions, boolOption, describe, epsOption } from "../options.js";
import { layerNormBackward, layerNormForward, type NormStats } from "../ops/norm.js";
import { fmt, type Shape } from "../shape.js";
import type { Tensor } from "../tensor.js";
import { SampleNorm } from "./norm_base.js";

export interface LayerNormOptions {
  /** Added to the variance before the square root. Default 1e-5. */
  eps?: number;
  /** Learn weight and bias of normalizedShape. Default true. */
  elementwiseAffine?: boolean;
}

export class LayerNorm extends SampleNorm {
  readonly normalizedShape: readonly number[];
  readonly elementwiseAffine: boolean;
  /** Values per normalized row. */
  private readonly D: number;

  constructor(normalizedShape: number | readonly number[], options: LayerNormOptions = {}) {
    const shape = typeof normalizedShape === "number" ? [normalizedShape] : normalizedShape;
    if (!Array.isArray(shape) || shape.length === 0 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new Error(`LayerNorm: normalizedShape must be a positive integer or a non-empty array of them, got ${Array.isArray(normalizedShape) ? JSON.stringify(normalizedShape) : describe(normalizedShape)}`);
    }
    checkOptions("LayerNorm", options, ["eps", "elementwiseAffine"]);
    const eps = epsOption("LayerNorm", options.eps, 1e-5);
    const affine = boolOption("LayerNorm", "elementwiseAffine", options.elementwiseAffine, true);
    const D = shape.reduce((a, b) => a * b, 1);
    super(`LayerNorm(${fmt(shape)})`, eps, affine, shape, D);
    this.normalizedShape = Object.freeze([...shape]);
    this.elementwiseAffine = affine;
    this.D = D;
  }

  toString(): string {
    return `LayerNorm(${fmt(this.normalizedShape)}${this.elementwiseAffine ? "" : ", elementwiseAffine=false"})`;
  }

  protected describeInput(): string {
    return `[*, ${this.normalizedShape.join(", ")}]`;
  }

  protected checkInput(shape: Shape): void {
    const k = this.normalizedShape.length;
    const tail = shape.slice(shape.length - k);
    if (shape.length < k || tail.some((d, i) => d !== this.normalizedShape[i])) {
      throw new Error(`${this}: expected an input whose last ${k} dimension${k > 1 ? "s are" : " is"} ${fmt(this.normalizedShape)}, got shape ${fmt(shape)}`);
    }
    if (shape.includes(0)) throw new Error(`${this}: expected an input without empty dimensions, got shape ${fmt(shape)}`);
  }

  protected statCount(shape: Shape): number {
    this.checkInput(shape);
    return shape.slice(0, shape.length - this.normalizedShape.length).reduce((a, b) => a * b, 1);
  }

  protected run(y: Tensor, x: Tensor, stats: NormStats): void {
    layerNormForward(y, stats, x, this.gamma, this.beta, this.eps, x.size / this.D, this.D);
  }

  protected runBackward(dx: Tensor, dy: Tensor, x: Tensor, stats: NormStats): void {
    layerNormBackward(dx, this.weight?.grad ?? null, this.bias?.grad ?? null, dy, x, stats, this.gamma, x.size / this.D, this.D, this.scratch);
  }
}
