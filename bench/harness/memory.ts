// Arrays in a backend's WebAssembly memory, for suites that call kernels on pointers: the
// inputs are copied in once, outside any timed call, and released together.

/** What this needs of a backend's heap (src/heap.ts). */
export interface Heap {
  alloc(bytes: number): number;
  release(offset: number): void;
  readonly f32: Float32Array;
}

export class WasmArrays {
  private readonly ptrs: number[] = [];

  constructor(private readonly heap: Heap) {}

  /** A copy of `a` in wasm memory; returns its byte offset. */
  put(a: Float32Array): number {
    const p = this.alloc(a.length);
    this.heap.f32.set(a, p >> 2);
    return p;
  }

  /** n floats filled with `value` (NaN by default, so that a kernel that skips one is caught). */
  alloc(n: number, value = NaN): number {
    const p = this.heap.alloc(4 * n);
    this.ptrs.push(p);
    this.heap.f32.fill(value, p >> 2, (p >> 2) + n);
    return p;
  }

  /** The n floats at byte offset p (a view: read it before memory grows). */
  view(p: number, n: number): Float32Array {
    return this.heap.f32.subarray(p >> 2, (p >> 2) + n);
  }

  /** A buffer for the roofline's floors: its offset and its floats. */
  buffer(p: number, n: number): { ptr: number; data: Float32Array } {
    return { ptr: p, data: this.view(p, n) };
  }

  dispose(): void {
    for (const p of this.ptrs.splice(0)) this.heap.release(p);
  }
}
