// Test buffers that are slices of bigger ones: rows of `cols` floats `stride` apart, with canary
// values everywhere else in the buffer, so that a kernel reading or writing a channel slice (the
// way a concatenation's branches do) is caught when it strays outside it.
import { expect } from "vitest";
import type { Backend } from "../src/backend.js";

/** Around every slice: wins any max and ruins any mean it leaks into. */
export const CANARY = Math.fround(1e30);

/**
 * A rows x cols slice of a bigger buffer: row r at off + r*stride floats from base. Strided
 * slices have stride = cols + 3 (a channel slice in NHWC, a padded image stride in NCHW) and
 * start 2 floats in; dense ones start 1 float in (unaligned for f32x4). Canaries fill the rest.
 */
export interface Slab { base: number; floats: number; off: number; rows: number; cols: number; stride: number }

export const ptr = (s: Slab) => s.base + 4 * s.off;

export function slab(b: Backend, rows: number, cols: number, strided: boolean, values?: ArrayLike<number>): Slab {
  const stride = strided ? cols + 3 : cols, off = strided ? 2 : 1;
  const floats = off + rows * stride + 3;
  const base = b.heap.alloc(floats * 4);
  const f = b.heap.f32;
  f.fill(CANARY, base >> 2, (base >> 2) + floats);
  const s = { base, floats, off, rows, cols, stride };
  if (values) write(b, s, values);
  return s;
}

export function write(b: Backend, s: Slab, values: ArrayLike<number>): void {
  const f = b.heap.f32;
  for (let r = 0; r < s.rows; r++) {
    for (let j = 0; j < s.cols; j++) f[(s.base >> 2) + s.off + r * s.stride + j] = values[r * s.cols + j];
  }
}

export function read(b: Backend, s: Slab): Float32Array {
  const f = b.heap.f32, out = new Float32Array(s.rows * s.cols);
  for (let r = 0; r < s.rows; r++) out.set(f.subarray((s.base >> 2) + s.off + r * s.stride, (s.base >> 2) + s.off + r * s.stride + s.cols), r * s.cols);
  return out;
}

/** Every float of the buffer outside the slice still holds the canary. */
export function expectCanaries(b: Backend, s: Slab, what: string): void {
  const f = b.heap.f32.subarray(s.base >> 2, (s.base >> 2) + s.floats);
  for (let i = 0; i < s.floats; i++) {
    const k = i - s.off, r = Math.floor(k / s.stride), j = k - r * s.stride;
    const inside = k >= 0 && r < s.rows && j < s.cols;
    if (!inside && f[i] !== CANARY) expect.fail(`${what}: canary at float ${i} of the buffer overwritten with ${f[i]}`);
  }
}

export function release(b: Backend, ...ps: (Slab | number)[]): void {
  for (const p of ps) b.heap.release(typeof p === "number" ? p : p.base);
}

