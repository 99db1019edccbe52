// Loops over one contiguous plane of n floats (one (n, c) plane of an [N, C, H, W] tensor,
// H*W values of a single channel): the per-channel constants are splatted once and SIMD
// runs along the plane, walking memory in order.
import { affine4, dxTerm4, f32At } from "./common";

// y[i] = max((x[i] - m) * a + b, lo), through affine4 (training's apply). Writes y. The max is
// pmax(v, lo) = v < lo ? lo : v: one instruction (f32x4.max is several on x86), and it keeps
// NaN; lo = -Infinity is the identity.
export function planeAffine(y: usize, x: usize, n: i32, m: f32, a: f32, b: f32, lo: f32): void {
  planeMap(y, x, n, m, a, b, lo, true);
}

// y[i] = max(a * x[i] + b, lo): inference, a rounded product then a rounded sum in every build,
// bit for bit the folded map foldBatchNorm hands to users. Writes y.
export function planeScaleShift(y: usize, x: usize, n: i32, a: f32, b: f32, lo: f32): void {
  planeMap(y, x, n, 0, a, b, lo, false);
}

@inline function mapLane(x: v128, mv: v128, av: v128, bv: v128, centered: bool): v128 {
  return centered ? affine4(x, mv, av, bv) : f32x4.add(f32x4.mul(x, av), bv);
}

@inline function planeMap(y: usize, x: usize, n: i32, m: f32, a: f32, b: f32, lo: f32, centered: bool): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const mv = f32x4.splat(m), av = f32x4.splat(a), bv = f32x4.splat(b), lov = f32x4.splat(lo);
    for (; i + 8 <= n; i += 8) {
      const o = <usize>i << 2;
      v128.store(y + o, f32x4.pmax(mapLane(v128.load(x + o), mv, av, bv, centered), lov));
      v128.store(y + o, f32x4.pmax(mapLane(v128.load(x + o, 16), mv, av, bv, centered), lov), 16);
    }
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, f32x4.pmax(mapLane(v128.load(x + o), mv, av, bv, centered), lov));
    }
  }
  for (; i < n; i++) {
    const v = centered ? (f32At(x, i) - m) * a + b : f32At(x, i) * a + b;
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
      v128.store(dx + o, dxTerm4(v1, v128.load(dy + o), v2, f32x4.sub(v128.load(x + o), mv), v3));
      v128.store(dx + o, dxTerm4(v1, v128.load(dy + o, 16), v2, f32x4.sub(v128.load(x + o, 16), mv), v3), 16);
    }
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(dx + o, dxTerm4(v1, v128.load(dy + o), v2, f32x4.sub(v128.load(x + o), mv), v3));
    }
  }
  for (; i < n; i++) {
    store<f32>(dx + (<usize>i << 2), k1 * f32At(dy, i) + k2 * (f32At(x, i) - mu) + k3);
  }
}
