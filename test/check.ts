// The one comparison every kernel test uses (tinygrad's helper_test_op idea): run a wasm
// result against its float64 reference with a stated tolerance and report where it fails.
import { expect } from "vitest";
import { type Backend, type BuildName, relaxedSimdSupported } from "../src/backend.js";
import { Rng } from "../src/random.js";
import { channelIndex } from "./reference/bn.js";
import type { BnCase } from "./shapes.js";

/**
 * Normwise relative error: max_i |got_i - want_i| / max_i |want_i| (the denominator floored
 * at `floor` so an all-zero reference is compared absolutely).
 */
export function relErr(got: ArrayLike<number>, want: ArrayLike<number>, floor = 1e-30): number {
  if (got.length !== want.length) throw new Error(`relErr: lengths differ (${got.length} vs ${want.length})`);
  let num = 0, den = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    num = Math.max(num, Number.isNaN(d) ? Infinity : d);
    den = Math.max(den, Math.abs(want[i]));
  }
  return num / Math.max(den, floor);
}

export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string, floor = 1e-30): void {
  const e = relErr(got, want, floor);
  if (!(e <= tol)) {
    let worst = 0, wi = 0;
    for (let i = 0; i < want.length; i++) {
      const d = Math.abs(got[i] - want[i]);
      if (!(d <= worst)) {
        worst = d;
        wi = i;
      }
    }
    expect.fail(`${what}: relative error ${e.toExponential(2)} > ${tol} (worst at [${wi}]: got ${got[wi]}, want ${want[wi]})`);
  }
}

/**
 * Deterministic test data: the library's seeded Rng for uniforms, and one Box-Muller normal
 * per pair of uniforms (so a seed gives the same arrays it always gave these tests).
 */
export function rng(seed: number) {
  const r = new Rng(seed);
  const uniform = () => r.uniform();
  const normal = () => {
    const u = Math.max(uniform(), 1e-12), v = uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  const array = (n: number, scale = 1, offset = 0) => Float32Array.from({ length: n }, () => offset + scale * normal());
  return { uniform, normal, array };
}

/**
 * The builds every kernel test runs: all three where the engine runs relaxed SIMD (vitest
 * starts Node 20 with --experimental-wasm-relaxed-simd, see vitest.config.ts).
 */
export const BUILDS: BuildName[] = relaxedSimdSupported() ? ["relaxed", "simd", "scalar"] : ["simd", "scalar"];

// Test buffers in a backend's memory (tests allocate freely; nothing here is a hot path).

type Arr = ArrayLike<number>;

/** Copies values into a fresh float32 block of the backend's heap; returns its pointer. */
export function put(b: Backend, values: Arr): number {
  const p = b.heap.alloc(values.length * 4);
  b.heap.f32.set(values, p >> 2); // the view is re-taken after alloc: growth detaches it
  return p;
}

/** A copy of n float32 values at p. */
export function get(b: Backend, p: number, n: number): Float32Array {
  return b.heap.f32.slice(p >> 2, (p >> 2) + n);
}

/** Copies int32 values into a fresh block; returns its pointer. */
export function putI32(b: Backend, values: Arr): number {
  const p = b.heap.alloc(values.length * 4);
  new Int32Array(b.heap.memory.buffer, p, values.length).set(values);
  return p;
}

/**
 * Elementwise max of |got - want| / max(|want|, floor). NaN against NaN counts as equal;
 * NaN against a number, or a differing infinity, is Infinity.
 */
export function maxRelErr(got: Arr, want: Arr, floor = 1e-30): number {
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const g = got[i], w = want[i];
    if (Number.isNaN(w) && Number.isNaN(g)) continue;
    if (g === w) continue;
    const e = Math.abs(g - w) / Math.max(Math.abs(w), floor);
    worst = Math.max(worst, Number.isNaN(e) ? Infinity : e);
  }
  return worst;
}

/** A small separable problem: class i % classes is a Gaussian blob (spread 0.7) around a random centre. */
export function blobs(n: number, features: number, classes: number, seed: number) {
  const r = rng(seed);
  const centres = Array.from({ length: classes }, () => r.array(features, 2));
  const x = new Float32Array(n * features);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % classes;
    y[i] = c;
    for (let j = 0; j < features; j++) x[i * features + j] = centres[c][j] + 0.7 * r.normal();
  }
  return { x, y, shape: [n, features] as [number, number] };
}

/**
 * The Batch Normalization kernel tests' data for a case: x (mean 0.5, spread 2), dy, gamma in
 * [0.5, 1.5), beta, running mean and running variance in [0.5, 1.5), all from one seeded stream
 * (returned as r, for more draws from the same stream).
 */
export function bnInputs(c: BnCase, seed: number) {
  const r = rng(seed);
  const n = c.shape.reduce((a, b) => a * b, 1);
  const C = channelIndex(c.shape, c.dataFormat).C;
  return {
    r,
    x: r.array(n, 2, 0.5),
    dy: r.array(n),
    gamma: r.array(C, 0.5, 1),
    beta: r.array(C),
    runMean: r.array(C),
    runVar: Float32Array.from({ length: C }, () => 0.5 + r.uniform()),
  };
}
