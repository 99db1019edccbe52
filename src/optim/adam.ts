// Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019) with torch.optim's update
// rules; the first and second moments live in wasm memory, one pair per parameter.
import type { Parameter } from "../module.js";
import type { Tensor } from "../tensor.js";
import { adamStep } from "../ops/optim.js";
import { boolOption, checkOptions } from "../options.js";
import { nonNegative, OptimizerBase } from "./sgd.js";

export interface AdamOptions {
  /** Default 1e-3. */
  lr?: number;
  /** Decay rates of the moment estimates. Default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Default 1e-8. */
  eps?: number;
  /** Default 0 (the AdamW class defaults to 0.01, as PyTorch's). */
  weightDecay?: number;
  /** Decoupled weight decay (AdamW): shrink the weights instead of adding wd * w to the gradient. Default false. */
  decoupled?: boolean;
}

export class Adam extends OptimizerBase {
  readonly betas: readonly [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  readonly decoupled: boolean;
  private readonly m: Tensor[];
  private readonly v: Tensor[];

  constructor(params: Iterable<Parameter>, options: AdamOptions = {}) {
    const name = options?.decoupled ? "AdamW" : "Adam";
    checkOptions(name, options, ["lr", "betas", "eps", "weightDecay", "decoupled"]);
    super(name, params, options.lr ?? 1e-3);
    const betas = options.betas ?? [0.9, 0.999];
    if (!Array.isArray(betas) || betas.length !== 2 || !betas.every((b) => typeof b === "number" && b >= 0 && b < 1)) {
      throw new Error(`${name}: betas must be two numbers in [0, 1), got ${JSON.stringify(betas)}`);
    }
    this.betas = [betas[0], betas[1]];
    this.eps = nonNegative(name, "eps", options.eps, 1e-8);
    this.decoupled = boolOption(name, "decoupled", options.decoupled, false);
    this.weightDecay = nonNegative(name, "weightDecay", options.weightDecay, 0);
    this.m = this.params.map((p) => this.stateLike(p));
    this.v = this.params.map((p) => this.stateLike(p));
  }

  step(): void {
    this.assertUsable();
    const step = ++this.stepCount;
    for (let i = 0; i < this.params.length; i++) {
      const p = this.params[i];
      adamStep(p.value, p.grad, this.m[i], this.v[i], this, step);
    }
  }

  protected hyperParameters(): Record<string, readonly number[] | number | boolean> {
    return { betas: this.betas, eps: this.eps, weight_decay: this.weightDecay, decoupled: this.decoupled };
  }

  protected buffers(): Record<string, readonly Tensor[]> {
    return { exp_avg: this.m, exp_avg_sq: this.v };
  }
}

/** Adam with decoupled weight decay (torch.optim.AdamW; weightDecay defaults to 0.01 as there). */
export class AdamW extends Adam {
  constructor(params: Iterable<Parameter>, options: Omit<AdamOptions, "decoupled"> = {}) {
    checkOptions("AdamW", options, ["lr", "betas", "eps", "weightDecay"]);
    super(params, { ...options, weightDecay: options?.weightDecay ?? 0.01, decoupled: true });
  }
}
