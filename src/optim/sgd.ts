// Optimizers with PyTorch's update rules (torch.optim), one kernel call per parameter per
// step, on pointers: the state (momentum buffers, Adam's moments) lives in wasm memory,
// allocated once when the optimizer is made. This file holds the shared base and SGD.
// State dicts follow torch.optim's content with flat keys: "step" (I64 scalar), "lr" and the
// other hyper-parameters (F64 scalars: the kernels take them as float64, so a float32 copy
// would not resume bit-exactly), "state.<i>.<buffer>" per parameter i in the optimizer's
// order. Buffers exist from construction (zeros before the first step, which overwrites
// momentum buffers and starts the moments from 0), so every state dict has the same keys.
import type { Backend } from "../backend.js";
import { checkFinite, INSPECT, Parameter, type StateDict, type StateValue } from "../module.js";
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
  stateDict?(): StateDict;
  loadStateDict?(sd: StateDict): void;
}

/** A fixed hyper-parameter: a number or a pair (F64) or a flag (I64 0/1). */
type Hyper = number | boolean | readonly number[];

export abstract class OptimizerBase implements Optimizer {
  readonly params: readonly Parameter[];
  /** Number of step() calls so far. */
  stepCount = 0;
  protected readonly backend: Backend;
  private _lr = 0;
  private readonly state: Tensor[] = [];
  /** "SGD", "Adam", "AdamW". */
  readonly name: string;
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

  /** The hyper-parameters fixed when the optimizer was made, with torch.optim's names (lr excluded). */
  protected abstract hyperParameters(): Record<string, Hyper>;

  /** The per-parameter buffers by torch.optim's names ("momentum_buffer", "exp_avg", ...). */
  protected abstract buffers(): Record<string, readonly Tensor[]>;

  /**
   * Copies of the state needed to continue bit-exactly: "step", "lr", the fixed
   * hyper-parameters and "state.<i>.<buffer>" for parameter i.
   */
  stateDict(): StateDict {
    this.assertUsable("stateDict");
    const sd: StateDict = { step: BigInt64Array.of(BigInt(this.stepCount)), lr: Float64Array.of(this.lr) };
    for (const [k, v] of Object.entries(this.hyperParameters())) sd[k] = encodeHyper(v);
    for (const [name, list] of Object.entries(this.buffers())) {
      list.forEach((t, i) => (sd[`state.${i}.${name}`] = t.data.slice()));
    }
    return sd;
  }

  /** The shape of each stateDict entry (scalars [], buffers their parameter's shape), for toSafetensors. */
  stateShapes(): Record<string, number[]> {
    const shapes: Record<string, number[]> = { step: [], lr: [] };
    for (const [k, v] of Object.entries(this.hyperParameters())) shapes[k] = typeof v === "object" ? [v.length] : [];
    for (const [name, list] of Object.entries(this.buffers())) {
      list.forEach((_, i) => (shapes[`state.${i}.${name}`] = [...this.params[i].value.shape]));
    }
    return shapes;
  }

  /**
   * Loads what stateDict() gave. Every key, type, length and value is checked first (the
   * fixed hyper-parameters must equal this optimizer's: make it with the same options), so
   * an error changes nothing.
   */
  loadStateDict(sd: StateDict): void {
    this.assertUsable("loadStateDict");
    const where = `${this.name}.loadStateDict`;
    if (sd === null || typeof sd !== "object") throw new Error(`${where}: expected an object of typed arrays (stateDict() gives one), got ${sd === null ? "null" : typeof sd}`);
    const shapes = this.stateShapes();
    for (const key of Object.keys(sd)) {
      if (!Object.hasOwn(shapes, key)) throw new Error(`${where}: unexpected key "${key}" (expected ${describeKeys(Object.keys(shapes))})`);
    }
    const hyper = this.hyperParameters();
    for (const [key, shape] of Object.entries(shapes)) {
      const v: StateValue | undefined = sd[key];
      if (v === undefined) throw new Error(`${where}: missing key "${key}"`);
      const n = shape.reduce((a, b) => a * b, 1);
      const type = key === "step" || typeof hyper[key] === "boolean" ? BigInt64Array : key.startsWith("state.") ? Float32Array : Float64Array;
      if (!(v instanceof type)) throw new Error(`${where}: "${key}" must be a ${type.name} of length ${n}, got ${(v as object)?.constructor?.name ?? typeof v}`);
      if (v.length !== n) throw new Error(`${where}: "${key}" must have length ${n} (shape [${shape.join(", ")}]), got ${v.length}`);
      if (!(v instanceof BigInt64Array)) checkFinite(where, key, v);
    }
    const step = (sd.step as BigInt64Array)[0];
    if (step < 0n || step > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${where}: "step" must be a non-negative count, got ${step}`);
    const lr = (sd.lr as Float64Array)[0];
    if (!(lr >= 0)) throw new Error(`${where}: "lr" must be a finite number >= 0, got ${lr}`);
    for (const [key, mine] of Object.entries(hyper)) {
      const theirs = decodeHyper(sd[key], mine);
      if (JSON.stringify(theirs) !== JSON.stringify(mine)) {
        throw new Error(`${where}: "${key}" is ${JSON.stringify(theirs)} in the state dict, but this ${this.name} was made with ${JSON.stringify(mine)}; make the optimizer with the options of the saved one`);
      }
    }
    this.stepCount = Number(step);
    this.lr = lr;
    for (const [name, list] of Object.entries(this.buffers())) {
      list.forEach((t, i) => t.data.set(sd[`state.${i}.${name}`] as Float32Array));
    }
  }

  /**
   * Throws before a step writes anything if the optimizer or the layer of one of its
   * parameters was disposed: the kernels would otherwise write into freed memory.
   */
  protected assertUsable(what = "step"): void {
    if (this.disposed) throw new Error(`${this.name}.${what}: this optimizer was disposed; create a new one`);
    const params = this.params;
    for (let i = 0; i < params.length; i++) {
      if (params[i].isDisposed) {
        throw new Error(`${this.name}.${what}: parameter ${i} ("${params[i].name}") belongs to a layer that was disposed; create the optimizer from the parameters of a live model`);
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

function encodeHyper(v: Hyper): StateValue {
  if (typeof v === "boolean") return BigInt64Array.of(v ? 1n : 0n);
  return typeof v === "number" ? Float64Array.of(v) : Float64Array.from(v);
}

/** A stored hyper-parameter in the form of `like` (a flag 0/1 as a boolean, a scalar as a number). */
function decodeHyper(v: StateValue, like: Hyper): unknown {
  if (typeof like === "boolean") return (v as BigInt64Array)[0] === 1n ? true : (v as BigInt64Array)[0] === 0n ? false : String((v as BigInt64Array)[0]);
  return typeof like === "number" ? v[0] : Array.from(v as Float64Array);
}

/** A key list for messages, with runs of per-parameter keys shortened. */
function describeKeys(keys: string[]): string {
  const plain = keys.filter((k) => !k.startsWith("state."));
  const kinds = [...new Set(keys.filter((k) => k.startsWith("state.")).map((k) => k.slice(k.indexOf(".", 6) + 1)))];
  const n = keys.filter((k) => k.startsWith("state.")).length / Math.max(kinds.length, 1);
  return [...plain, ...kinds.map((b) => `state.<0..${n - 1}>.${b}`)].join(", ");
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

  protected hyperParameters(): Record<string, Hyper> {
    return { momentum: this.momentum, dampening: this.dampening, weight_decay: this.weightDecay, nesterov: this.nesterov };
  }

  /** Without momentum SGD keeps no buffer (as torch.optim.SGD). */
  protected buffers(): Record<string, readonly Tensor[]> {
    return this.momentum !== 0 ? { momentum_buffer: this.bufs as Tensor[] } : {};
  }
}
