// The one comparison every kernel test uses (tinygrad's helper_test_op idea): run a wasm
// result against its float64 reference with a stated tolerance and report where it fails.
import { expect } from "vitest";
import { type BuildName, relaxedSimdSupported } from "../src/backend.js";

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

/** Deterministic pseudo-random numbers (mulberry32) and normals (Box-Muller). */
export function rng(seed: number) {
  let s = seed >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
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
