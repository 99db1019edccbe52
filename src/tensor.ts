// A Tensor is a handle into WebAssembly memory: a byte offset and a shape (row-major
// float32). Kernels read and write it in place; nothing is copied between JavaScript and
// WebAssembly unless you ask for it (`tensor()` copies in, `toArray()` copies out).
//
// Lifetime: tensors you create (tensor(), zeros(), clone()) live until you dispose() them.
// Tensors a layer returns (forward's output, backward's dx) belong to the layer and are
// overwritten by its next forward (resp. backward) call; clone() or toArray() to keep one.
import { type Backend, getBackend } from "./backend.js";
import { INSPECT } from "./inspect.js";
import type { GradTarget } from "./module.js";
import { fillInto } from "./ops/rows.js";
import { describe } from "./options.js";
import { checkShape, fmt, type Shape, sizeOf } from "./shape.js";

/** Row-major strides (in elements) of a contiguous tensor of `shape`. */
export function contiguousStrides(shape: Shape): number[] {
  const st = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    st[i] = s;
    s *= shape[i];
  }
  return st;
}

export class Tensor {
  readonly shape: readonly number[];
  /** Elements between consecutive indices of each dimension (row-major for a contiguous tensor). */
  readonly strides: readonly number[];
  /** Whether the elements are one dense row-major block (false for a channel slice made by narrow()). */
  readonly contiguous: boolean;
  readonly size: number;
  readonly backend: Backend;
  /** Byte offset of element 0 in the backend's memory (valid while not disposed). */
  readonly ptr: number;
  /** Who may dispose this tensor: null for the user, otherwise the owning layer's name. */
  readonly owner: string | null;
  /** The tensor whose memory this one views (see view()), or null if it owns its memory. */
  readonly base: Tensor | null;
  private disposed = false;

  /**
   * @internal Use tensor() / zeros() / view() / narrow(); layers create owned tensors through this.
   * With `base`, the new tensor shares base's memory and allocates nothing: the same element
   * count (a view), or with `at`, any elements of it at a pointer and strides (a slice).
   */
  constructor(backend: Backend, shape: Shape, owner: string | null = null, base: Tensor | null = null, at?: { ptr: number; strides: readonly number[] }) {
    checkShape(shape, "Tensor");
    this.backend = backend;
    this.shape = Object.freeze([...shape]);
    this.size = sizeOf(shape);
    if (base && !at && base.size !== this.size) {
      throw new Error(`view: shape ${fmt(shape)} holds ${this.size} values, but the tensor ${fmt(base.shape)} has ${base.size}`);
    }
    this.base = base ? (base.base ?? base) : null;
    this.ptr = at ? at.ptr : base ? base.ptr : backend.heap.alloc(this.size * 4);
    const dense = contiguousStrides(shape);
    this.strides = Object.freeze(at ? [...at.strides] : dense);
    this.contiguous = !at || this.shape.every((d, i) => d === 1 || this.strides[i] === dense[i]);
    this.owner = owner;
  }

  /** True once this tensor's memory is released (for a view: once its base's is). */
  get isDisposed(): boolean {
    return this.base ? this.base.isDisposed : this.disposed;
  }

  /**
   * The same memory under another shape with the same number of values, like PyTorch's
   * view(): nothing is copied, and the view is valid exactly as long as this tensor.
   */
  view(shape: Shape, owner: string | null = null): Tensor {
    this.assertLive();
    this.assertContiguous("view");
    return new Tensor(this.backend, shape, owner, this);
  }

  /**
   * Elements start .. start + length - 1 of dimension `dim`, in place (PyTorch's narrow()):
   * a channel slice of a concatenated output, or a slice of the batch. Nothing is copied; the
   * slice is valid exactly as long as this tensor, and is not contiguous unless it covers
   * whole leading blocks (kernels that take strides read and write it in place).
   */
  narrow(dim: number, start: number, length: number, owner: string | null = this.owner): Tensor {
    this.assertLive();
    const r = this.shape.length;
    if (!Number.isInteger(dim) || dim < 0 || dim >= r) throw new Error(`narrow: dim must be an integer in [0, ${r}) for shape ${fmt(this.shape)}, got ${dim}`);
    const n = this.shape[dim];
    if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 0 || start + length > n) {
      throw new Error(`narrow: elements [${start}, ${start + length}) of dimension ${dim} do not fit its size ${n} (shape ${fmt(this.shape)})`);
    }
    const shape = [...this.shape];
    shape[dim] = length;
    return new Tensor(this.backend, shape, owner, this, { ptr: this.ptr + start * this.strides[dim] * 4, strides: this.strides });
  }

  /**
   * A live Float32Array view of this tensor's memory: no copy, writes go straight to the
   * tensor. Take a fresh view after anything that may allocate (memory growth detaches
   * old views).
   */
  get data(): Float32Array {
    this.assertLive();
    this.assertContiguous("data");
    return this.backend.heap.f32.subarray(this.ptr >>> 2, (this.ptr >>> 2) + this.size);
  }

  /** A copy of the values, row-major (gathered from a slice). */
  toArray(): Float32Array {
    if (this.contiguous) return this.data.slice();
    this.assertLive();
    const out = new Float32Array(this.size);
    const f32 = this.backend.heap.f32;
    const { shape, strides } = this;
    const idx = new Array<number>(shape.length).fill(0);
    for (let i = 0; i < this.size; i++) {
      let off = this.ptr >>> 2;
      for (let d = 0; d < shape.length; d++) off += idx[d] * strides[d];
      out[i] = f32[off];
      for (let d = shape.length - 1; d >= 0 && ++idx[d] === shape[d]; d--) idx[d] = 0;
    }
    return out;
  }

  /** A new user-owned, contiguous tensor with the same shape and values. */
  clone(): Tensor {
    this.assertLive();
    const t = new Tensor(this.backend, this.shape);
    if (!this.contiguous) {
      t.data.set(this.toArray());
      return t;
    }
    const f32 = this.backend.heap.f32;
    f32.copyWithin(t.ptr >>> 2, this.ptr >>> 2, (this.ptr >>> 2) + this.size);
    return t;
  }

  /** Returns the memory to the heap. Layer-owned tensors are released by their layer. */
  dispose(): void {
    if (this.owner !== null) {
      throw new Error(`dispose: this tensor belongs to ${this.owner}, which reuses it; clone() it if you need a copy you can dispose`);
    }
    if (this.base) throw new Error("dispose: this tensor is a view of another tensor's memory; dispose that tensor");
    this.release();
  }

  /** @internal */
  release(): void {
    if (this.base || this.disposed) return;
    this.disposed = true;
    this.backend.heap.release(this.ptr);
  }

  /** @internal */
  assertContiguous(what: string): void {
    if (!this.contiguous) {
      throw new Error(`Tensor.${what}: this ${fmt(this.shape)} slice is not contiguous (strides ${fmt(this.strides)}); use toArray() or clone() for its values`);
    }
  }

  /** @internal */
  assertLive(): void {
    if (this.isDisposed) {
      throw new Error(
        `Tensor ${fmt(this.shape)} was disposed` +
          (this.owner ? ` (it belonged to ${this.owner}, which released it when its input shape changed; clone() layer outputs to keep them)` : ""),
      );
    }
  }

  /** `Tensor([2, 3], float32) [0.1, 0.2, ...]`: shape, dtype and up to 6 values. */
  toString(): string {
    const flags = `${this.base ? (this.contiguous ? ", a view" : ", a slice") : ""}${this.isDisposed ? ", disposed" : ""}`;
    return `Tensor(${fmt(this.shape)}, float32${flags})${this.isDisposed ? "" : ` ${preview(this.contiguous ? this.data : this.toArray())}`}`;
  }

  /** What console.log shows in Node (instead of the backend's internals). */
  [INSPECT](): string {
    return this.toString();
  }
}

function preview(v: Float32Array, max = 6): string {
  const num = (x: number) => (Number.isInteger(x) ? String(x) : x.toPrecision(4));
  const shown = Array.from(v.subarray(0, Math.min(v.length, max)), num);
  return `[${shown.join(", ")}${v.length > max ? `, ... (${v.length} values)` : ""}]`;
}

/**
 * Copies data into a new tensor of the given shape. Takes numbers only: an array of numbers
 * or a numeric typed array (strings, booleans and BigInt arrays are errors, not NaN). Values
 * are rounded to float32, so magnitudes beyond 3.4e38 (1e300, say) become +-Infinity.
 */
export function tensor(data: Float32Array | ArrayLike<number>, shape: Shape): Tensor {
  checkShape(shape, "tensor");
  const n = sizeOf(shape);
  const numericTyped = ArrayBuffer.isView(data) && !(data instanceof DataView) && !(data instanceof BigInt64Array) && !(data instanceof BigUint64Array);
  if (!numericTyped && !Array.isArray(data)) {
    throw new Error(`tensor: expected a Float32Array (or another numeric typed array) or an array of numbers, got ${describe(data)}`);
  }
  if (!numericTyped) {
    const a = data as unknown as unknown[];
    for (let i = 0; i < a.length; i++) {
      if (typeof a[i] !== "number") throw new Error(`tensor: expected an array of numbers, got ${describe(a[i])} at index ${i}`);
    }
  }
  if (data.length !== n) {
    throw new Error(`tensor: shape ${fmt(shape)} holds ${n} values, but the data has ${data.length}`);
  }
  const t = new Tensor(getBackend(), shape);
  t.data.set(data);
  return t;
}

/** A new tensor of zeros. */
export function zeros(shape: Shape): Tensor {
  const t = new Tensor(getBackend(), shape);
  fillInto(t, 0);
  return t;
}

/** A new tensor filled with one value. */
export function full(shape: Shape, value: number): Tensor {
  if (typeof value !== "number") throw new Error(`full: expected a number to fill with, got ${describe(value)}`);
  const t = new Tensor(getBackend(), shape);
  fillInto(t, value);
  return t;
}

/** checkTensorArg for a forward's optional destination `out` (slices allowed): before anything is computed. */
export function checkOutArg(out: Tensor | undefined, backend: Backend, owner: string | object): void {
  if (out !== undefined) checkDestination(out, backend, owner, "forward (out)");
}

/** checkTensorArg for a backward's optional destination `into.dx` and input `into.x` (slices allowed). */
export function checkIntoArg(into: GradTarget | undefined, backend: Backend, owner: string | object): void {
  if (into === undefined) return;
  checkDestination(into.dx, backend, owner, "backward (into.dx)");
  if (into.x !== undefined) checkDestination(into.x, backend, owner, "backward (into.x)");
}

function checkDestination(t: unknown, backend: Backend, owner: string | object, what: string): void {
  if (t instanceof Tensor && t.isDisposed) throw new Error(`${String(owner)}.${what}: the ${fmt(t.shape)} tensor was disposed`);
  checkTensorArg(t, backend, owner, what, true);
}

/**
 * The checks every layer makes on a tensor argument: a live Tensor of `backend`, contiguous
 * unless the layer reads strided slices (`strided`). The error names `owner` (a layer,
 * through its toString(), built only on error) and `what`.
 */
export function checkTensorArg(t: unknown, backend: Backend, owner: string | object, what: string, strided = false): asserts t is Tensor {
  if (t instanceof Tensor && t.backend === backend) {
    t.assertLive();
    if (!strided && !t.contiguous) {
      throw new Error(`${String(owner)}.${what}: expected a contiguous tensor, got a ${fmt(t.shape)} slice with strides ${fmt(t.strides)} (clone() it first)`);
    }
    return;
  }
  const where = `${String(owner)}.${what}`;
  if (!(t instanceof Tensor)) {
    const got = t === null ? "null" : Array.isArray(t) ? "an array" : typeof t === "object" ? ((t as object).constructor?.name ?? "an object") : typeof t;
    throw new Error(`${where}: expected a Tensor (see tensor()), got ${got}`);
  }
  throw new Error(`${where}: the tensor was created by another backend (init() was called again after this layer was made)`);
}
