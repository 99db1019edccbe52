// What containers of modules share (Sequential, Concat, Residual; PyTorch's nn.Module with
// children): named children, whose parameters and state are keyed "<child>.<name>" as in
// PyTorch's state_dict() ("3.1.0.weight", "block.0.running_mean"); the train/eval switch,
// gradients, saved forward state and disposal passed down; one instance in one place only.
import { checkRngStates, type GradTarget, INSPECT, type Module, type Parameter, type StateDict, type StateValue } from "../module.js";
import { fmt, type Shape, sameShape } from "../shape.js";
import type { Tensor } from "../tensor.js";

/** How a module is named in messages: its toString() if it has one, else its class name. */
export function layerName(m: Module): string {
  const s = (m as { toString?: () => string }).toString;
  if (typeof s === "function" && s !== Object.prototype.toString) return String(m);
  return m?.constructor?.name ?? "layer";
}

/** Null if `layer` accepts `shape`, otherwise a description of what it expects (layers that can tell). */
export function expectedInput(layer: Module, shape: Shape): string | null {
  const f = (layer as { expectedInput?: (s: Shape) => string | null }).expectedInput;
  return typeof f === "function" ? f.call(layer, shape) : null;
}

export function isModule(m: unknown): m is Module {
  const x = m as Partial<Module> | null;
  return x !== null && typeof x === "object" && typeof x.forward === "function" && typeof x.backward === "function" && typeof x.parameters === "function";
}

/** Rethrows `e` with `prefix` (a container and the child's place), once: inner containers' messages keep theirs. */
export function rethrow(e: unknown, prefix: string, own: string): never {
  if (e instanceof Error && !e.message.startsWith(`${own}:`) && !/^(Sequential|Concat|Residual)[:.]/.test(e.message)) {
    throw new Error(`${prefix}: ${e.message}`, { cause: e });
  }
  throw e;
}

/** The named children of a module that has them (a container), else none. */
export function childrenOf(m: Module): readonly (readonly [string, Module])[] {
  const f = (m as { namedChildren?: () => readonly (readonly [string, Module])[] }).namedChildren;
  return typeof f === "function" ? f.call(m) : [];
}

/**
 * Throws if one instance stands in two places of the tree under `root` (or is `root`):
 * a layer keeps what its last forward saved for its backward, so a second use in the same
 * pass would overwrite what the first one's backward needs. Places are named by their keys.
 */
export function checkDistinct(root: Module, where: string): void {
  const seen = new Map<Module, string>([[root, "the model itself"]]);
  const walk = (m: Module, prefix: string) => {
    for (const [key, child] of childrenOf(m)) {
      const at = `${prefix}${key}`;
      const first = seen.get(child);
      if (first !== undefined) {
        throw new Error(
          `${where}: layer ${at} (${child === root ? child.constructor.name : layerName(child)}) is the same instance as ${first === "the model itself" ? first : `layer ${first}`}; ` +
            "a module keeps the state of its last forward for backward, so one instance cannot appear twice in a model: create a separate one for each place (weight sharing is not supported)",
        );
      }
      seen.set(child, at);
      walk(child, `${at}.`);
    }
  };
  walk(root, "");
}

/** The PyTorch shape of each of a module's stateDict entries. */
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

/** Whether m's recompute() reads its input (true unless it says otherwise). */
export function readsInput(m: Module): boolean {
  return m.recomputeReadsInput?.() ?? true;
}

/** Whether m can rebuild its last output (recompute() present and able to run). */
export function canRecompute(m: Module): boolean {
  return typeof m.recompute === "function" && (m.canRecompute?.() ?? true);
}

export abstract class Container implements Module {
  training = true;
  private disposed = false;
  /** See setMemoryLean(). */
  protected memoryLean = false;
  /** The class name that starts messages ("Sequential"). */
  protected abstract readonly kind: string;

  /** The children and their keys, in order. */
  abstract namedChildren(): readonly (readonly [string, Module])[];
  abstract forward(x: Tensor, out?: Tensor): Tensor;
  abstract backward(dy: Tensor, into?: GradTarget): Tensor;
  abstract outputShape(input: Shape): Shape;
  abstract toString(): string;

  get isDisposed(): boolean {
    return this.disposed;
  }

  protected assertUsable(what: string): void {
    if (this.disposed) throw new Error(`${this.kind}.${what}: this model was disposed (its layers' memory now belongs to other tensors); build a new model`);
  }

  [INSPECT](): string {
    return this.toString() + (this.disposed ? " (disposed)" : "");
  }

  /** The children's reprs indented under this container's name (PyTorch's style). */
  protected describeChildren(): string {
    return `${this.kind}(\n${this.namedChildren().map(([k, m]) => `  (${k}): ${layerName(m).replace(/\n/g, "\n  ")}`).join("\n")}\n)`;
  }

  train(mode = true): this {
    this.training = mode;
    for (const [, m] of this.namedChildren()) m.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /**
   * Memory-lean training for this container and everything under it: outputs of layers that
   * can rebuild them (recompute(): fused BN-ReLU, ReLU, max pooling, containers ending in
   * one) are dropped after the next layer's forward and recomputed just before that layer's
   * backward; gradients between layers and those recomputed inputs live in the backend's
   * shared workspace for one use each; max pooling keeps no indices. A gradient is written
   * over the input it replaces where nothing reads that input again (a convolution's output
   * under its BN-ReLU, an input rebuilt for one layer), so backward runs once per forward.
   * Same results; costs the recomputations (memory-bound passes, no convolution is rerun).
   */
  setMemoryLean(on = true): this {
    this.memoryLean = on;
    for (const [, m] of this.namedChildren()) {
      const child = m as { setMemoryLean?: (on: boolean) => unknown; memoryLean?: unknown };
      if (typeof child.setMemoryLean === "function") child.setMemoryLean(on);
      else if (typeof child.memoryLean === "boolean") child.memoryLean = on;
    }
    return this;
  }

  get isMemoryLean(): boolean {
    return this.memoryLean;
  }

  parameters(): Parameter[] {
    return this.namedChildren().flatMap(([, m]) => m.parameters());
  }

  /** [key, parameter] pairs with PyTorch's names ("0.weight", "block.1.bias", ...). */
  namedParameters(): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    for (const [key, m] of this.namedChildren()) {
      const named = (m as { namedParameters?: () => [string, Parameter][] }).namedParameters;
      if (typeof named === "function") for (const [k, p] of named.call(m)) out.push([`${key}.${k}`, p]);
      else for (const p of m.parameters()) out.push([`${key}.${p.name}`, p]);
    }
    return out;
  }

  zeroGrad(): void {
    for (const [, m] of this.namedChildren()) m.zeroGrad();
  }

  /** PyTorch-keyed copies of every child's state ("0.weight", "1.num_batches_tracked", ...). */
  stateDict(): StateDict {
    this.assertUsable("stateDict");
    const sd: StateDict = {};
    for (const [key, m] of this.namedChildren()) {
      for (const [k, v] of Object.entries(m.stateDict())) sd[`${key}.${k}`] = v;
    }
    return sd;
  }

  /** The PyTorch shape of every stateDict entry (num_batches_tracked is a scalar: []). */
  stateShapes(): Record<string, number[]> {
    const shapes: Record<string, number[]> = {};
    for (const [key, m] of this.namedChildren()) {
      for (const [k, s] of Object.entries(shapesOf(m))) shapes[`${key}.${k}`] = s;
    }
    return shapes;
  }

  /**
   * Loads PyTorch-keyed state. Checks every key, type and length first (missing or
   * unexpected keys and wrong lengths throw naming the key) and changes nothing on error.
   */
  loadStateDict(sd: StateDict): void {
    const kind = this.kind;
    this.assertUsable("loadStateDict");
    if (sd === null || typeof sd !== "object") throw new Error(`${kind}.loadStateDict: expected an object of typed arrays, got ${sd === null ? "null" : typeof sd}`);
    const shapes = this.stateShapes();
    for (const key of Object.keys(sd)) {
      if (!(key in shapes)) throw new Error(`${kind}.loadStateDict: unexpected key "${key}"${nearest(key, shapes)}`);
    }
    for (const [key, shape] of Object.entries(shapes)) {
      const v: StateValue | undefined = sd[key];
      if (v === undefined) throw new Error(`${kind}.loadStateDict: missing key "${key}"`);
      const n = shape.reduce((a, b) => a * b, 1);
      const isCount = key.endsWith("num_batches_tracked");
      const okType = isCount ? v instanceof BigInt64Array : v instanceof Float32Array;
      if (!okType) {
        throw new Error(`${kind}.loadStateDict: "${key}" must be a ${isCount ? "BigInt64Array" : "Float32Array"} of length ${n}, got ${(v as object)?.constructor?.name ?? typeof v}`);
      }
      if (v.length !== n) throw new Error(`${kind}.loadStateDict: "${key}" must have length ${n} (shape ${fmt(shape)}), got ${v.length}`);
      if (isCount && (v as BigInt64Array)[0] < 0n) throw new Error(`${kind}.loadStateDict: "${key}" must be a non-negative count, got ${(v as BigInt64Array)[0]}`);
    }
    const children = this.namedChildren();
    const parts = new Map<string, StateDict>(children.map(([k]) => [k, {}]));
    for (const [key, v] of Object.entries(sd)) {
      // The longest child key that prefixes this key (child keys never contain a dot).
      const dot = key.indexOf(".");
      parts.get(key.slice(0, dot))![key.slice(dot + 1)] = v;
    }
    // Everything is validated; if a child still refuses, put back the ones already loaded.
    const before = children.map(([, m]) => m.stateDict());
    let i = 0;
    try {
      for (; i < children.length; i++) children[i][1].loadStateDict(parts.get(children[i][0])!);
    } catch (e) {
      for (let j = 0; j < i; j++) children[j][1].loadStateDict(before[j]);
      rethrow(e, `${kind}.loadStateDict: layer ${children[i][0]} (${layerName(children[i][1])})`, kind);
    }
  }

  saveForwardState(): void {
    for (const [, m] of this.namedChildren()) m.saveForwardState?.();
  }

  restoreForwardState(): void {
    for (const [, m] of this.namedChildren()) m.restoreForwardState?.();
  }

  /** Every child's generator positions, keyed "<child>.<key>" ("3.rng"). */
  rngStates(): Record<string, number> {
    this.assertUsable("rngStates");
    const out: Record<string, number> = {};
    for (const [key, m] of this.namedChildren()) {
      for (const [k, v] of Object.entries(m.rngStates?.() ?? {})) out[`${key}.${k}`] = v;
    }
    return out;
  }

  /** Sets the generator positions rngStates() gave; every key and value is checked before any is set. */
  setRngStates(states: Record<string, number>): void {
    this.assertUsable("setRngStates");
    checkRngStates(`${this.kind}.setRngStates`, states, this.rngStates());
    for (const [key, m] of this.namedChildren()) {
      if (typeof m.setRngStates !== "function") continue;
      const own: Record<string, number> = {};
      for (const k of Object.keys(m.rngStates?.() ?? {})) own[k] = states[`${key}.${k}`];
      m.setRngStates(own);
    }
  }

  /** Releases every child's memory (children that have a dispose()); any later call throws. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.releaseMemory();
    for (const [, m] of this.namedChildren()) m.dispose?.();
  }

  /** Frees what the container itself owns (its output and gradient buffers). */
  protected releaseMemory(): void {}

  /**
   * Checks the whole tree for an input shape before anything runs (a wiring error leaves
   * every layer's state as it was); once per input shape and mode.
   */
  protected checkInputOnce(shape: Shape): void {
    if (this.checked && this.checked.training === this.training && sameShape(shape, this.checked.shape)) return;
    this.outputShape(shape);
    checkDistinct(this, this.kind);
    this.checked = { shape, training: this.training };
  }

  /** Forget the checked input shape (after the children change). */
  protected uncheck(): void {
    this.checked = null;
  }

  private checked: { shape: Shape; training: boolean } | null = null;
}
