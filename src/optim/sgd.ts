// Optimizers with PyTorch's update rules (torch.optim), one kernel call per parameter per
// step, on pointers: the state (momentum buffers, Adam's moments) lives in wasm memory,
// allocated once when the optimizer is made. This file holds the shared base and SGD.
import type { Backend } from "../backend.js";
import { INSPECT, Parameter } from "../module.js";
import { sgdStep } from "../ops/optim.js";
import { boolOption, checkOptions } from "../options.js";
import { Tensor } from "../tensor.js";

/** What fit() and the schedules need from an optimizer. */
export interface Optimizer {
  /** The learning rate of the next step (settable, as schedules do). */
  lr: number;
  readonly params: readonly Parameter[];
  step(): void;
  zeroGrad(): void;
}

export abstract class OptimizerBase implements Optimizer {
  readonly params: readonly Parameter[];
  /** Number of step() calls so far. */
  stepCount = 0;
  protected readonly backend: Backend;
  private _lr = 0;
  private readonly state: Tensor[] = [];
  private readonly name: string;
  private disposed = false;

  constructor(name: string, params: Iterable<Parameter>, lr: number) {
    this.name = name;
    if (params === null || typeof params !== "object" || typeof (params as Iterable<Parameter>)[Symbol.iterator] !== "function") {
      throw new Error(`${name}: expected the parameters as an array (e.g. model.parameters()), got ${params === null ? "null" : typeof params}`);
    }
    const list = [...params];
    if (list.length === 0) throw new Error(`${name}: got an empty parameter list`);
    list.forEach((p, i) => {
      if (!(p instanceof Parameter)) throw new Error(`${name}: parameter ${i} is not a Parameter (pass model.parameters()), got ${p === null ? "null" : typeof p}`);
    });
    const unique = [...new Set(list)];
    if (unique.length !== list.length) throw new Error(`${name}: some parameters appear more than once in the list`);
    this.params = Object.freeze(unique);
    this.backend = unique[0].value.backend;
    for (const p of unique) {
      p.value.assertLive();
      if (p.value.backend !== this.backend) throw new Error(`${name}: the parameters come from different backends (init() was called again in between)`);
    }
    this.lr = lr;
  }

  get lr(): number {
    return this._lr;
  }

  set lr(v: number) {
    if (typeof v !== "number" || !(v >= 0) || !Number.isFinite(v)) throw new Error(`${this.name}: lr must be a finite number >= 0, got ${v}`);
    this._lr = v;
  }

  /** A zeroed state tensor shaped like p, owned by the optimizer. */
  protected stateLike(p: Parameter): Tensor {
    const t = new Tensor(this.backend, p.value.shape, this.name);
    t.data.fill(0);
    this.state.push(t);
    return t;
  }

  abstract step(): void;

  /**
   * Throws before a step writes anything if the optimizer or the layer of one of its
   * parameters was disposed: the kernels would otherwise write into freed memory.
   */
  protected assertUsable(): void {
    if (this.disposed) throw new Error(`${this.name}.step: this optimizer was disposed; create a new one`);
    const params = this.params;
    for (let i = 0; i < params.length; i++) {
      if (params[i].isDisposed) {
        throw new Error(`${this.name}.step: parameter ${i} ("${params[i].name}") belongs to a layer that was disposed; create the optimizer from the parameters of a live model`);
      }
    }
  }

  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }

  toString(): string {
    return `${this.name}(lr=${this.lr}, ${this.params.length} parameters${this.disposed ? ", disposed" : ""})`;
  }

  [INSPECT](): string {
    return this.toString();
  }

  /** Releases the optimizer's state buffers; step() throws afterwards. */
  dispose(): void {
    this.disposed = true;
    for (const t of this.state) t.release();
    this.state.length = 0;
  }
}

export interface SGDOptions {
  lr: number;
  /** Default 0. */
  momentum?: number;
  /** Default 0. */
  dampening?: number;
  /** Nesterov momentum (needs momentum > 0 and dampening 0). Default false. */
  nesterov?: boolean;
  /** L2 penalty added to the gradient. Default 0. */
  weightDecay?: number;
}

const SGD_OPTIONS = ["lr", "momentum", "dampening", "nesterov", "weightDecay"] as const;

export function nonNegative(name: string, key: string, v: unknown, fallback: number): number {
  const x = v ?? fallback;
  if (typeof x !== "number" || !(x >= 0) || !Number.isFinite(x)) throw new Error(`${name}: ${key} must be a finite number >= 0, got ${String(v)}`);
  return x;
}

/** Stochastic gradient descent with optional (Nesterov) momentum, as torch.optim.SGD. */
export class SGD extends OptimizerBase {
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;
  private readonly bufs: (Tensor | null)[];

  constructor(params: Iterable<Parameter>, options: SGDOptions) {
    checkOptions("SGD", options, SGD_OPTIONS);
    if (options === undefined || options.lr === undefined) {
      throw new Error("SGD: options.lr is required, e.g. new SGD(model.parameters(), { lr: 0.01 })");
    }
    super("SGD", params, options.lr);
    this.momentum = nonNegative("SGD", "momentum", options.momentum, 0);
    this.dampening = nonNegative("SGD", "dampening", options.dampening, 0);
    this.weightDecay = nonNegative("SGD", "weightDecay", options.weightDecay, 0);
    this.nesterov = boolOption("SGD", "nesterov", options.nesterov, false);
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new Error(`SGD: Nesterov momentum requires a momentum > 0 and zero dampening, got momentum ${this.momentum}, dampening ${this.dampening}`);
    }
    this.bufs = this.params.map((p) => (this.momentum !== 0 ? this.stateLike(p) : null));
  }

  step(): void {
    this.assertUsable();
    const first = this.stepCount === 0;
    for (let i = 0; i < this.params.length; i++) {
      const p = this.params[i];
      sgdStep(p.value, p.grad, this.bufs[i], this, first);
    }
    this.stepCount++;
  }
}
