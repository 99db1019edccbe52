// Sequential (PyTorch's nn.Sequential): runs its layers in order, backward in reverse.
// Before each layer it checks the input shape, so a wiring mistake names the layer index,
// the layer and both shapes instead of failing inside a kernel. State is keyed like
// PyTorch's state_dict(): "<index>.<name>" ("0.weight", "1.running_mean", ...).
import { Dense } from "./layers/dense.js";
import type { Module, Parameter, StateDict, StateValue } from "./module.js";
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

export class Sequential implements Module {
  private readonly list: Module[];
  training = true;
  private lastOutputShape: readonly number[] | null = null;

  /** `new Sequential([a, b, c])` or, as in PyTorch, `new Sequential(a, b, c)`. */
  constructor(layers: readonly Module[] | Module = [], ...rest: Module[]) {
    const list = Array.isArray(layers) ? [...(layers as readonly Module[]), ...rest] : [layers as Module, ...rest];
    list.forEach((m, i) => this.checkLayer(m, i));
    this.list = list;
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
    this.checkLayer(layer, this.list.length);
    layer.train(this.training);
    this.list.push(layer);
    return this;
  }

  toString(): string {
    return `Sequential(\n${this.list.map((m, i) => `  (${i}): ${layerName(m).replace(/\n/g, "\n  ")}`).join("\n")}\n)`;
  }

  /** Runs the layers in order. The result belongs to the last layer (overwritten by the next call). */
  forward(x: Tensor): Tensor {
    let h = x;
    for (let i = 0; i < this.list.length; i++) {
      const layer = this.list[i];
      const expected = h && Array.isArray(h.shape) ? expectedInput(layer, h.shape) : null;
      if (expected !== null) throw new Error(`Sequential: layer ${i} (${layerName(layer)}) expects input ${expected}, got ${fmt(h.shape)}`);
      try {
        h = layer.forward(h);
      } catch (e) {
        rethrow(e, `Sequential: layer ${i} (${layerName(layer)})`);
      }
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
          if (layer instanceof Dense || layer instanceof Sequential) layer.backwardParams(g);
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

  /** Releases every layer's memory (layers that have a dispose()). */
  dispose(): void {
    for (const m of this.list) (m as { dispose?: () => void }).dispose?.();
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
