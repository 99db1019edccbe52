// What every layer offers (PyTorch's nn.Module, reduced to what training needs).
import { INSPECT } from "./inspect.js";
import { fillInto } from "./ops/rows.js";
import type { Shape } from "./shape.js";
import type { Tensor } from "./tensor.js";

/**
 * One state dict entry: Float32Array (weights, statistics, optimizer buffers), BigInt64Array
 * (counters such as num_batches_tracked and an optimizer's step), Float64Array (an
 * optimizer's hyper-parameters, kept at full precision so that a resumed run repeats the
 * float64 arithmetic of its steps).
 */
export type StateValue = Float32Array | BigInt64Array | Float64Array;
export type StateDict = Record<string, StateValue>;

export { INSPECT };

/** A trainable tensor and its gradient, which backward() accumulates into. */
export class Parameter {
  readonly name: string;
  readonly value: Tensor;
  readonly grad: Tensor;

  constructor(name: string, value: Tensor, grad: Tensor) {
    this.name = name;
    this.value = value;
    this.grad = grad;
  }

  /** True once the layer that owns this parameter was disposed. */
  get isDisposed(): boolean {
    return this.value.isDisposed || this.grad.isDisposed;
  }

  zeroGrad(): void {
    fillInto(this.grad, 0);
  }

  toString(): string {
    return `Parameter ${this.name} ${this.value}`;
  }

  [INSPECT](): string {
    return this.toString();
  }
}

/**
 * Where backward puts the gradient with respect to its input: written into `dx` (a tensor
 * of the input's shape, possibly a slice of a bigger one), or added to what `dx` holds
 * when `accumulate` (an input read by several consumers gets the sum of their gradients).
 */
export interface GradTarget {
  dx: Tensor;
  accumulate: boolean;
  /**
   * The last forward's input, recomputed into other memory by a memory-lean container that
   * did not keep it; read instead of the input the module saved. Only passed to modules
   * whose `acceptsRematerializedInput` is true.
   */
  x?: Tensor;
}

export interface Module {
  training: boolean;
  /**
   * The output for input x. With `out` (a tensor of the output's shape, possibly a channel
   * slice of a concatenated output) the result is written there and `out` is returned;
   * otherwise the result belongs to the module (overwritten by its next forward). A module
   * may keep its output for backward (activations do), so the caller must leave `out`
   * unchanged until then.
   */
  forward(x: Tensor, out?: Tensor): Tensor;
  /**
   * Backward of the last forward: accumulates the parameters' gradients and returns the
   * input's gradient, written into (or added to) `into.dx` when given. dy may be a slice.
   */
  backward(dy: Tensor, into?: GradTarget): Tensor;
  train(mode?: boolean): this;
  eval(): this;
  parameters(): Parameter[];
  zeroGrad(): void;
  stateDict(): StateDict;
  loadStateDict(sd: StateDict): void;
  /**
   * The shape forward returns for an input of `input`'s shape in the current mode; throws
   * what forward would throw for that shape. Containers check a whole chain with it before
   * any layer runs, so a wiring error leaves every layer's state as it was.
   */
  outputShape?(input: Shape): Shape;
  /**
   * Save and restore the state a training forward changes besides the parameters (running
   * statistics, their counter, dropout's generator): fit() undoes a step it skips with it.
   */
  saveForwardState?(): void;
  /** backward() reads `into.x` when given instead of the input its forward saved. */
  readonly acceptsRematerializedInput?: boolean;
  /**
   * backward() may be given `into.dx` and `into.x` as the same tensor: it reads the input
   * only before it writes the gradient over it (element by element, or all of it first). A
   * memory-lean container uses this when nothing reads that input afterwards, so the
   * gradient takes no memory of its own.
   */
  readonly gradOverInput?: boolean;
  /**
   * backward() never reads the output its forward returned, so the layer after it may
   * overwrite that output in its own backward (see gradOverInput).
   */
  readonly backwardIgnoresOutput?: boolean;
  /**
   * Writes the last forward's output again into `out` (a tensor of its shape, possibly a
   * channel slice) from `x`, that forward's input (recomputed if need be), and what the module
   * kept; changes no state. Parameter-free, cheap producers offer it (fused BN-ReLU from the
   * saved convolution output and statistics, ReLU, max pooling), so a memory-lean container
   * can drop their outputs after forward and rebuild them for backward.
   */
  recompute?(x: Tensor | null, out: Tensor): void;
  /**
   * False when recompute() never reads `x` (it rebuilds from what it kept, e.g. a Concat of
   * branches that end in fused BN-ReLU): a container then passes null instead of rebuilding x.
   * Default true.
   */
  recomputeReadsInput?(): boolean;
  /** False when recompute() is present but cannot run (a container whose last child cannot recompute). */
  canRecompute?(): boolean;
  restoreForwardState?(): void;
  /**
   * The positions (uint32) of the random generators the module owns (dropout's masks),
   * keyed like stateDict ("3.rng"); a checkpoint saves them so that a resumed run draws the
   * same masks. setRngStates takes exactly those keys, checked before any is set.
   */
  rngStates?(): Record<string, number>;
  setRngStates?(states: Record<string, number>): void;
  dispose?(): void;
}

/**
 * What layers share: the train/eval switch, disposal (after which every call throws instead
 * of writing into memory that now belongs to other tensors), a readable inspect output, and
 * for layers without parameters or state, empty parameters() and stateDict(), a
 * loadStateDict() that accepts only {}, and nothing to save for a skipped step.
 */
export abstract class Layer implements Module {
  training = true;
  private disposedFlag = false;

  abstract forward(x: Tensor, out?: Tensor): Tensor;
  abstract backward(dy: Tensor, into?: GradTarget): Tensor;
  abstract outputShape(input: Shape): Shape;
  abstract toString(): string;

  get isDisposed(): boolean {
    return this.disposedFlag;
  }

  /** Releases the layer's memory; any later call on the layer throws. Idempotent. */
  dispose(): void {
    if (this.disposedFlag) return;
    this.disposedFlag = true;
    this.releaseMemory();
  }

  /** Frees what the layer owns (called once, by dispose()). */
  protected releaseMemory(): void {}

  /** Throws if the layer was disposed; `what` names the call in the message. */
  protected assertUsable(what: string): void {
    if (this.disposedFlag) {
      throw new Error(`${this}.${what}: this layer was disposed (its memory now belongs to other tensors); create a new layer`);
    }
  }

  train(mode = true): this {
    this.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  parameters(): Parameter[] {
    return [];
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  stateDict(): StateDict {
    this.assertUsable("stateDict");
    return {};
  }

  loadStateDict(sd: StateDict): void {
    this.assertUsable("loadStateDict");
    if (sd === null || typeof sd !== "object") throw new Error(`${this}.loadStateDict: expected an object (this layer has no state: {}), got ${sd === null ? "null" : typeof sd}`);
    const keys = Object.keys(sd);
    if (keys.length > 0) throw new Error(`${this}.loadStateDict: unexpected key "${keys[0]}" (this layer has no state)`);
  }

  saveForwardState(): void {}

  restoreForwardState(): void {}

  rngStates(): Record<string, number> {
    this.assertUsable("rngStates");
    return {};
  }

  setRngStates(states: Record<string, number>): void {
    this.assertUsable("setRngStates");
    checkRngStates(`${this}.setRngStates`, states, this.rngStates());
  }

  [INSPECT](): string {
    return this.toString() + (this.disposedFlag ? " (disposed)" : "");
  }
}

/**
 * Checks a state dict of Float32Array entries against the PyTorch shapes a layer expects:
 * no unknown or missing key, the right type, length and finite values. Throws naming the
 * key; changes nothing.
 */
export function checkFloatState(where: string, sd: unknown, shapes: Record<string, number[]>): asserts sd is Record<string, Float32Array> {
  if (sd === null || typeof sd !== "object") throw new Error(`${where}: expected an object of Float32Arrays, got ${sd === null ? "null" : typeof sd}`);
  for (const key of Object.keys(sd)) {
    if (!(key in shapes)) throw new Error(`${where}: unexpected key "${key}" (expected ${Object.keys(shapes).join(", ")})`);
  }
  for (const [key, shape] of Object.entries(shapes)) {
    const v = (sd as Record<string, unknown>)[key];
    const n = shape.reduce((a, b) => a * b, 1);
    if (v === undefined) throw new Error(`${where}: missing key "${key}"`);
    if (!(v instanceof Float32Array)) throw new Error(`${where}: "${key}" must be a Float32Array of length ${n}, got ${(v as object)?.constructor?.name ?? typeof v}`);
    if (v.length !== n) throw new Error(`${where}: "${key}" must have length ${n} (shape [${shape.join(", ")}]), got ${v.length}`);
    checkFinite(where, key, v);
  }
}

/** Throws naming `key` and the index of the first NaN or infinite value of a loaded state entry. */
export function checkFinite(where: string, key: string, v: Float32Array | Float64Array): void {
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i])) throw new Error(`${where}: "${key}" holds ${v[i]} at index ${i}; expected finite values (a checkpoint with NaN or Inf would train or predict garbage)`);
  }
}

/**
 * Checks generator positions against the keys a module expects (`expected`, as its
 * rngStates() gives them): no unknown or missing key, each an integer in [0, 2^32).
 */
export function checkRngStates(where: string, states: unknown, expected: Record<string, number>): asserts states is Record<string, number> {
  if (states === null || typeof states !== "object" || Array.isArray(states)) {
    throw new Error(`${where}: expected an object of generator states (rngStates() gives one), got ${states === null ? "null" : Array.isArray(states) ? "an array" : typeof states}`);
  }
  const keys = Object.keys(expected);
  const list = keys.length > 0 ? keys.join(", ") : "none: this model has no generator";
  for (const key of Object.keys(states)) {
    if (!Object.hasOwn(expected, key)) throw new Error(`${where}: unexpected key "${key}" (expected ${list})`);
  }
  for (const key of keys) {
    const v = (states as Record<string, unknown>)[key];
    if (v === undefined) throw new Error(`${where}: missing key "${key}"`);
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xffffffff) {
      throw new Error(`${where}: "${key}" must be a generator state, an integer in [0, 2^32), got ${JSON.stringify(v) ?? typeof v}`);
    }
  }
}
