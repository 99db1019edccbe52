// Sequential (PyTorch's nn.Sequential): runs its layers in order, backward in reverse.
// Before each layer it checks the input shape, so a wiring mistake names the layer index,
// the layer and both shapes instead of failing inside a kernel. State is keyed like
// PyTorch's state_dict(): "<index>.<name>" ("0.weight", "1.running_mean", ...).
import { INSPECT, type Module, type Parameter, type StateDict, type StateValue } from "./module.js";
import { fmt, type Shape, sameShape } from "./shape.js";
import type { Tensor } from "./tensor.js";

/** A layer that can say which input shapes it accepts. */
interface ChecksInput {
  expectedInput(shape: Shape): string | null;
}

/** How a layer is named in messages: its toString() if it has one, else its class name. */
export function layerName(m: Module): string {
  const s = (m as { toString?: () => string }).toString;
  if (typeof s === "function" && s !== Object.prototype.toString) return String(m);
  return m?.constructor?.name ?? "layer";
}

/** Null if `layer` accepts `shape`, otherwise a description of what it expects. */
function expectedInput(layer: Module, shape: Shape): string | null {
  const f = (layer as Partial<ChecksInput>).expectedInput;
  return typeof f === "function" ? f.call(layer, shape) : null;
}

function isModule(m: unknown): m is Module {
  const x = m as Partial<Module> | null;
  return x !== null && typeof x === "object" && typeof x.forward === "function" && typeof x.backward === "function" && typeof x.parameters === "function";
}

function rethrow(e: unknown, prefix: string): never {
  if (e instanceof Error && !e.message.startsWith("Sequential:")) throw new Error(`${prefix}: ${e.message}`, { cause: e });
  throw e;
}

/**
 * Where each module of a tree of Sequentials stands ("2", "3.1"); throws if one instance
 * stands in two places. A layer keeps what its last forward saved for its backward, so a
 * second use in the same pass would overwrite what the first one's backward needs.
 */
function checkDistinct(list: readonly Module[], self: Module): void {
  const seen = new Map<Module, string>([[self, "the model itself"]]);
  const walk = (mods: readonly Module[], prefix: string) => {
    mods.forEach((m, i) => {
      const at = `${prefix}${i}`;
      const first = seen.get(m);
      if (first !== undefined) {
        throw new Error(
          `Sequential: layer ${at} (${layerName(m)}) is the same instance as ${first === "the model itself" ? first : `layer ${first}`}; ` +
            "a module keeps the state of its last forward for backward, so one instance cannot appear twice in a model: create a separate one for each place (weight sharing is not supported)",
        );
      }
      seen.set(m, at);
      if (m instanceof Sequential) walk(m.layers, `${at}.`);
    });
  };
  walk(list, "");
}

export class Sequential implements Module {
  private readonly list: Module[];
  training = true;
  private lastOutputShape: readonly number[] | null = null;
  /** The input shape and mode whose chain of shapes was last checked (the check runs once per shape). */
  private checkedShape: readonly number[] | null = null;
  private checkedTraining = true;
  private disposed = false;

  /** `new Sequential([a, b, c])` or, as in PyTorch, `new Sequential(a, b, c)`. */
  constructor(layers: readonly Module[] | Module = [], ...rest: Module[]) {
    const list = Array.isArray(layers) ? [...(layers as readonly Module[]), ...rest] : [layers as Module, ...rest];
    list.forEach((m, i) => this.checkLayer(m, i));
    checkDistinct(list, this);
    this.list = list;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  private assertUsable(what: string): void {
    if (this.disposed) throw new Error(`Sequential.${what}: this model was disposed (its layers' memory now belongs to other tensors); build a new model`);
  }

  private checkLayer(m: unknown, i: number): void {
    if (!isModule(m)) {
      const got = m === null ? "null" : typeof m === "object" ? ((m as object).constructor?.name ?? "an object") : typeof m;
      throw new Error(`Sequential: layer ${i} is not a Module (it needs forward, backward and parameters), got ${got}`);
    }
  }

  /** The layers, in order (read-only; use append() to add one). */
  get layers(): readonly Module[] {
    return this.list;
  }

  get length(): number {
    return this.list.length;
  }

  /** Adds a layer at the end (PyTorch's append). */
  append(layer: Module): this {
    this.assertUsable("append");
    this.checkLayer(layer, this.list.length);
    checkDistinct([...this.list, layer], this);
    layer.train(this.training);
    this.list.push(layer);
    this.checkedShape = null;
    return this;
  }

  toString(): string {
    return `Sequential(\n${this.list.map((m, i) => `  (${i}): ${layerName(m).replace(/\n/g, "\n  ")}`).join("\n")}\n)`;
  }

  [INSPECT](): string {
    return this.toString() + (this.disposed ? " (disposed)" : "");
  }

  /**
   * The output shape for `input`, checking every layer's input on the way (what each
   * forward would reject, in the current mode). Stops checking at a custom module that
   * cannot tell its output shape; that module and the ones after it check their own input.
   */
  outputShape(input: Shape): Shape {
    let h = input;
    for (let i = 0; i < this.list.length; i++) {
      const layer = this.list[i];
      const expected = expectedInput(layer, h);
      if (expected !== null) throw new Error(`Sequential: layer ${i} (${layerName(layer)}) expects input ${expected}, got ${fmt(h)}`);
      if (typeof layer.outputShape !== "function") return h;
      try {
        h = layer.outputShape(h);
      } catch (e) {
        rethrow(e, `Sequential: layer ${i} (${layerName(layer)})`);
      }
    }
    return h;
  }

  /**
   * Runs the layers in order. The result belongs to the last layer (overwritten by the next
   * call). `observe`, if given, sees each layer's output as it is made (layer index, output).
   */
  forward(x: Tensor, observe?: (index: number, output: Tensor) => void): Tensor {
    this.assertUsable("forward");
    // The whole chain is checked before any layer runs, so that a wiring error leaves every
    // layer's state (running statistics, counters) as it was.
    if (x && Array.isArray(x.shape) && !(this.checkedShape && this.checkedTraining === this.training && sameShape(x.shape, this.checkedShape))) {
      this.outputShape(x.shape);
      checkDistinct(this.list, this);
      this.checkedShape = x.shape;
      this.checkedTraining = this.training;
    }
    let h = x;
    for (let i = 0; i < this.list.length; i++) {
      const layer = this.list[i];
      try {
        h = layer.forward(h);
      } catch (e) {
        rethrow(e, `Sequential: layer ${i} (${layerName(layer)})`);
      }
      observe?.(i, h);
    }
    this.lastOutputShape = h.shape;
    return h;
  }

  /** Backward through every layer: accumulates parameter gradients, returns d(loss)/d(input). */
  backward(dy: Tensor): Tensor {
    return this.backwardFrom(dy, true) as Tensor;
  }

  /**
   * backward() without the gradient with respect to the model's input, which a training
   * step does not need (PyTorch skips it too when the input does not require grad): skips
   * the first Dense layer's dX product and everything before it.
   */
  backwardParams(dy: Tensor): void {
    this.backwardFrom(dy, false);
  }

  private backwardFrom(dy: Tensor, inputGrad: boolean): Tensor | null {
    this.assertUsable("backward");
    const want = this.lastOutputShape;
    if (!want) throw new Error("Sequential.backward: called before forward");
    if (dy && Array.isArray(dy.shape) && !sameShape(dy.shape, want)) {
      throw new Error(`Sequential.backward: expected dy of shape ${fmt(want)} (the last forward's output), got ${fmt(dy.shape)}`);
    }
    // Without the input's gradient, backward stops at the first layer that has parameters
    // (the layers before it, e.g. Flatten, have nothing to accumulate).
    let stop = 0;
    if (!inputGrad) while (stop < this.list.length - 1 && this.list[stop].parameters().length === 0) stop++;
    let g = dy;
    for (let i = this.list.length - 1; i >= stop; i--) {
      const layer = this.list[i];
      try {
        if (i === stop && !inputGrad) {
          const params = (layer as { backwardParams?: (dy: Tensor) => void }).backwardParams;
          if (typeof params === "function") params.call(layer, g);
          else layer.backward(g);
          return null;
        }
        g = layer.backward(g);
      } catch (e) {
        rethrow(e, `Sequential: layer ${i} (${layerName(layer)}) backward`);
      }
    }
    return g;
  }

  train(mode = true): this {
    this.training = mode;
    for (const m of this.list) m.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  parameters(): Parameter[] {
    return this.list.flatMap((m) => m.parameters());
  }

  /** [key, parameter] pairs with PyTorch's names ("0.weight", ...). */
  namedParameters(): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    this.list.forEach((m, i) => {
      if (m instanceof Sequential) for (const [k, p] of m.namedParameters()) out.push([`${i}.${k}`, p]);
      else for (const p of m.parameters()) out.push([`${i}.${p.name}`, p]);
    });
    return out;
  }

  zeroGrad(): void {
    for (const m of this.list) m.zeroGrad();
  }

  /** PyTorch-keyed copies of every layer's state ("0.weight", "1.num_batches_tracked", ...). */
  stateDict(): StateDict {
    this.assertUsable("stateDict");
    const sd: StateDict = {};
    this.list.forEach((m, i) => {
      for (const [k, v] of Object.entries(m.stateDict())) sd[`${i}.${k}`] = v;
    });
    return sd;
  }

  /** The PyTorch shape of every stateDict entry (num_batches_tracked is a scalar: []). */
  stateShapes(): Record<string, number[]> {
    const shapes: Record<string, number[]> = {};
    this.list.forEach((m, i) => {
      for (const [k, s] of Object.entries(shapesOf(m))) shapes[`${i}.${k}`] = s;
    });
    return shapes;
  }

  /**
   * Loads PyTorch-keyed state. Checks every key, type and length first (missing or
   * unexpected keys and wrong lengths throw naming the key) and changes nothing on error.
   */
  loadStateDict(sd: StateDict): void {
    this.assertUsable("loadStateDict");
    if (sd === null || typeof sd !== "object") throw new Error(`Sequential.loadStateDict: expected an object of typed arrays, got ${sd === null ? "null" : typeof sd}`);
    const shapes = this.stateShapes();
    for (const key of Object.keys(sd)) {
      if (!(key in shapes)) throw new Error(`Sequential.loadStateDict: unexpected key "${key}"${nearest(key, shapes)}`);
    }
    for (const [key, shape] of Object.entries(shapes)) {
      const v: StateValue | undefined = sd[key];
      if (v === undefined) throw new Error(`Sequential.loadStateDict: missing key "${key}"`);
      const n = shape.reduce((a, b) => a * b, 1);
      const isCount = key.endsWith("num_batches_tracked");
      const okType = isCount ? v instanceof BigInt64Array : v instanceof Float32Array;
      if (!okType) {
        throw new Error(`Sequential.loadStateDict: "${key}" must be a ${isCount ? "BigInt64Array" : "Float32Array"} of length ${n}, got ${(v as object)?.constructor?.name ?? typeof v}`);
      }
      if (v.length !== n) throw new Error(`Sequential.loadStateDict: "${key}" must have length ${n} (shape ${fmt(shape)}), got ${v.length}`);
      if (isCount && (v as BigInt64Array)[0] < 0n) throw new Error(`Sequential.loadStateDict: "${key}" must be a non-negative count, got ${(v as BigInt64Array)[0]}`);
    }
    const parts: StateDict[] = this.list.map(() => ({}));
    for (const [key, v] of Object.entries(sd)) {
      const dot = key.indexOf(".");
      parts[Number(key.slice(0, dot))][key.slice(dot + 1)] = v;
    }
    // Everything is validated; if a layer still refuses, put back the ones already loaded.
    const before = this.list.map((m) => m.stateDict());
    let i = 0;
    try {
      for (; i < this.list.length; i++) this.list[i].loadStateDict(parts[i]);
    } catch (e) {
      for (let j = 0; j < i; j++) this.list[j].loadStateDict(before[j]);
      rethrow(e, `Sequential.loadStateDict: layer ${i} (${layerName(this.list[i])})`);
    }
  }

  saveForwardState(): void {
    for (const m of this.list) m.saveForwardState?.();
  }

  restoreForwardState(): void {
    for (const m of this.list) m.restoreForwardState?.();
  }

  /** Releases every layer's memory (layers that have a dispose()); any later call throws. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const m of this.list) m.dispose?.();
  }
}

/** The PyTorch shape of each of a layer's stateDict entries. */
export function shapesOf(m: Module): Record<string, number[]> {
  const own = (m as { stateShapes?: () => Record<string, number[]> }).stateShapes;
  if (typeof own === "function") return own.call(m);
  const out: Record<string, number[]> = {};
  for (const [k, v] of Object.entries(m.stateDict())) out[k] = k === "num_batches_tracked" && v.length === 1 ? [] : [v.length];
  return out;
}

function nearest(key: string, shapes: Record<string, number[]>): string {
  const keys = Object.keys(shapes);
  const suffix = key.slice(key.indexOf(".") + 1);
  const same = keys.filter((k) => k.endsWith(`.${suffix}`));
  return same.length > 0 ? ` (keys with that name: ${same.join(", ")})` : keys.length > 0 ? ` (expected ${keys.join(", ")})` : " (this model has no state)";
}
