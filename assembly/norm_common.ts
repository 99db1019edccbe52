// Shared pieces of the per-sample normalizations (LayerNorm, GroupNorm, InstanceNorm; Ba et
// al. 2016, Wu & He 2018, Ulyanov et al. 2016): statistics of one contiguous block, and the
// loops over a segment whose affine parameters vary per element (gamma[i], beta[i]).
// Statistics: float32 sums of (x - shift) over chunks of BLOCK_CHUNK values, shift = the
// block's first value, merged into float64 (mean, M2) with Chan et al.'s pairwise formula
// (as bn_stats.ts). Never E[x^2] - E[x]^2.
import { sumShiftedSq, red0, red1 } from "./common";

// Values summed in float32 before a float64 merge.
export const BLOCK_CHUNK: i32 = 1024;

// Results of blockStats and the segment reductions, through globals (each instance of a
// threaded build has its own).
export let statMean: f64 = 0;
export let statM2: f64 = 0;
export let segS1: f64 = 0;
export let segS2: f64 = 0;

// statMean = mean, statM2 = sum (x - mean)^2 over n contiguous floats at p.
@inline export function blockStats(p: usize, n: i32): void {
  const k = load<f32>(p);
  let mean: f64 = 0, m2: f64 = 0;
  for (let i0 = 0; i0 < n; i0 += BLOCK_CHUNK) {
    const nb = min(BLOCK_CHUNK, n - i0);
    sumShiftedSq(p + (<usize>i0 << 2), nb, k);
    const s1 = <f64>red0, s2 = <f64>red1, fb = <f64>nb, inb = 1.0 / fb;
    const mb = <f64>k + s1 * inb;
    let m2b = s2 - s1 * s1 * inb;
    if (m2b < 0) m2b = 0;
    // The first chunk is the running result; later ones merge (short segments, GroupNorm's
    // [N, C] groups, pay one division instead of four).
    if (i0 == 0) {
      mean = mb;
      m2 = m2b;
      continue;
    }
    const fa = <f64>i0, delta = mb - mean, tot = fa + fb;
    mean += delta * (fb / tot);
    m2 += m2b + delta * delta * (fa * fb / tot);
  }
  statMean = mean;
  statM2 = m2;
}

// y[i] = (x[i] - m) * (a * g[i]) + b[i] over n floats. Writes y.
@inline export function segAffine(y: usize, x: usize, g: usize, b: usize, n: i32, m: f32, a: f32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const mv = f32x4.splat(m), av = f32x4.splat(a);
    for (; i + 8 <= n; i += 8) {
      const o = <usize>i << 2;
      const r0 = f32x4.add(f32x4.mul(f32x4.sub(v128.load(x + o), mv), f32x4.mul(av, v128.load(g + o))), v128.load(b + o));
      const r1 = f32x4.add(f32x4.mul(f32x4.sub(v128.load(x + o, 16), mv), f32x4.mul(av, v128.load(g + o, 16))), v128.load(b + o, 16));
      v128.store(y + o, r0);
      v128.store(y + o, r1, 16);
    }
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, f32x4.add(f32x4.mul(f32x4.sub(v128.load(x + o), mv), f32x4.mul(av, v128.load(g + o))), v128.load(b + o)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, (load<f32>(x + o) - m) * (a * load<f32>(g + o)) + load<f32>(b + o));
  }
}

// Backward sums of one segment, t = dy[i] * g[i]: segS1 = sum t, segS2 = sum t * (x[i] - m)
// (float32 chunks of BLOCK_CHUNK, float64 totals). When accG is not 0, also the parameter
// gradients' per-element terms: accG[i] += dy[i] * (x[i] - m) * is, accB[i] += dy[i].
@inline export function segSums(accG: usize, accB: usize, dy: usize, x: usize, g: usize, n: i32, m: f32, is: f32): void {
  let t1: f64 = 0, t2: f64 = 0;
  for (let i0 = 0; i0 < n; i0 += BLOCK_CHUNK) {
    const end = min(n, i0 + BLOCK_CHUNK);
    let s1: f32 = 0, s2: f32 = 0;
    let i = i0;
    if (ASC_FEATURE_SIMD) {
      const mv = f32x4.splat(m), iv = f32x4.splat(is);
      let a1 = f32x4.splat(0), a2 = f32x4.splat(0);
      for (; i + 4 <= end; i += 4) {
        const o = <usize>i << 2;
        const d = v128.load(dy + o), xc = f32x4.sub(v128.load(x + o), mv);
        const t = f32x4.mul(d, v128.load(g + o));
        a1 = f32x4.add(a1, t);
        a2 = f32x4.add(a2, f32x4.mul(t, xc));
        if (accG) {
          v128.store(accG + o, f32x4.add(v128.load(accG + o), f32x4.mul(f32x4.mul(d, xc), iv)));
          v128.store(accB + o, f32x4.add(v128.load(accB + o), d));
        }
      }
      s1 = f32x4.extract_lane(a1, 0) + f32x4.extract_lane(a1, 1) + f32x4.extract_lane(a1, 2) + f32x4.extract_lane(a1, 3);
      s2 = f32x4.extract_lane(a2, 0) + f32x4.extract_lane(a2, 1) + f32x4.extract_lane(a2, 2) + f32x4.extract_lane(a2, 3);
    }
    for (; i < end; i++) {
      const o = <usize>i << 2;
      const d = load<f32>(dy + o), xc = load<f32>(x + o) - m;
      const t = d * load<f32>(g + o);
      s1 += t; s2 += t * xc;
      if (accG) {
        store<f32>(accG + o, load<f32>(accG + o) + d * xc * is);
        store<f32>(accB + o, load<f32>(accB + o) + d);
      }
    }
    t1 += <f64>s1; t2 += <f64>s2;
  }
  segS1 = t1;
  segS2 = t2;
}

// dx[i] = k1 * g[i] * dy[i] + k2 * (x[i] - m) + k3 over n floats. Writes dx.
@inline export function segDx(dx: usize, dy: usize, x: usize, g: usize, n: i32, m: f32, k1: f32, k2: f32, k3: f32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const mv = f32x4.splat(m), v1 = f32x4.splat(k1), v2 = f32x4.splat(k2), v3 = f32x4.splat(k3);
    for (; i + 8 <= n; i += 8) {
      const o = <usize>i << 2;
      const t0 = f32x4.add(f32x4.mul(f32x4.mul(v1, v128.load(g + o)), v128.load(dy + o)), f32x4.mul(v2, f32x4.sub(v128.load(x + o), mv)));
      const t1 = f32x4.add(f32x4.mul(f32x4.mul(v1, v128.load(g + o, 16)), v128.load(dy + o, 16)), f32x4.mul(v2, f32x4.sub(v128.load(x + o, 16), mv)));
      v128.store(dx + o, f32x4.add(t0, v3));
      v128.store(dx + o, f32x4.add(t1, v3), 16);
    }
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const t0 = f32x4.add(f32x4.mul(f32x4.mul(v1, v128.load(g + o)), v128.load(dy + o)), f32x4.mul(v2, f32x4.sub(v128.load(x + o), mv)));
      v128.store(dx + o, f32x4.add(t0, v3));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dx + o, k1 * load<f32>(g + o) * load<f32>(dy + o) + k2 * (load<f32>(x + o) - m) + k3);
  }
}

// dst[i] += <f64>src[i], src[i] = 0 over n: a float32 accumulator folded into float64.
export function flushF32(dst64: usize, src: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    store<f64>(dst64 + (<usize>i << 3), load<f64>(dst64 + (<usize>i << 3)) + <f64>load<f32>(src + (<usize>i << 2)));
    store<f32>(src + (<usize>i << 2), 0);
  }
}

// Scratch of the norm kernels for C channels (or D normalized elements): four float64
// arrays of C, then eight float32 arrays of C.
export function norm_scratch_bytes(C: i32): i32 {
  return 64 * C + 64;
}
@inline export function nsF64(scratch: usize, C: i32, k: i32): usize {
  return scratch + (<usize>(k * C) << 3);
}
@inline export function nsF32(scratch: usize, C: i32, k: i32): usize {
  return scratch + (<usize>C << 5) + (<usize>(k * C) << 2);
}
