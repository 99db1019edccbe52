// Loops over one contiguous plane of n floats (one (n, c) plane of an [N, C, H, W] tensor,
// H*W values of a single channel): the per-channel constants are splatted once and SIMD
// runs along the plane, walking memory in order.
import { f32At } from "./common";

// y[i] = max((x[i] - m) * a + b, lo). Writes y. The max is pmax(v, lo) = v < lo ? lo : v: one
// instruction (f32x4.max is several on x86), and it keeps NaN; lo = -Infinity is the identity.
export function planeAffine(y: usize, x: usize, n: i32, m: f32, a: f32, b: f32, lo: f32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const mv = f32x4.splat(m), av = f32x4.splat(a), bv = f32x4.splat(b), lov = f32x4.splat(lo);
    for (; i + 8 <= n; i += 8) {
      const o = <usize>i << 2;
      const r0 = f32x4.add(f32x4.mul(f32x4.sub(v128.load(x + o), mv), av), bv);
      const r1 = f32x4.add(f32x4.mul(f32x4.sub(v128.load(x + o, 16), mv), av), bv);
      v128.store(y + o, f32x4.pmax(r0, lov));
      v128.store(y + o, f32x4.pmax(r1, lov), 16);
    }
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, f32x4.pmax(f32x4.add(f32x4.mul(f32x4.sub(v128.load(x + o), mv), av), bv), lov));
    }
  }
  for (; i < n; i++) {
    const v = (f32At(x, i) - m) * a + b;
    store<f32>(y + (<usize>i << 2), select<f32>(lo, v, v < lo));
  }
}

// dx[i] = k1 * dy[i] + k2 * (x[i] - mu) + k3. Writes dx.
export function planeBackwardDx(dx: usize, dy: usize, x: usize, n: i32, mu: f32, k1: f32, k2: f32, k3: f32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const mv = f32x4.splat(mu), v1 = f32x4.splat(k1), v2 = f32x4.splat(k2), v3 = f32x4.splat(k3);
    for (; i + 8 <= n; i += 8) {
      const o = <usize>i << 2;
      const t0 = f32x4.add(f32x4.mul(v1, v128.load(dy + o)), f32x4.mul(v2, f32x4.sub(v128.load(x + o), mv)));
      const t1 = f32x4.add(f32x4.mul(v1, v128.load(dy + o, 16)), f32x4.mul(v2, f32x4.sub(v128.load(x + o, 16), mv)));
      v128.store(dx + o, f32x4.add(t0, v3));
      v128.store(dx + o, f32x4.add(t1, v3), 16);
    }
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const t0 = f32x4.add(f32x4.mul(v1, v128.load(dy + o)), f32x4.mul(v2, f32x4.sub(v128.load(x + o), mv)));
      v128.store(dx + o, f32x4.add(t0, v3));
    }
  }
  for (; i < n; i++) {
    store<f32>(dx + (<usize>i << 2), k1 * f32At(dy, i) + k2 * (f32At(x, i) - mu) + k3);
  }
}
