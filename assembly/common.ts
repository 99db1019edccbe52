// Shared helpers for the kernels. Every kernel takes byte offsets into linear memory
// (pointers) and sizes; the caller (TypeScript) owns all memory, kernels allocate nothing.
// One source, two builds: `ASC_FEATURE_SIMD` is a compile-time constant, so the f32x4
// branch is compiled only into the SIMD build and the scalar loop is the whole scalar build.

// Values accumulated per f32 lane before a partial result is merged into float64.
// Bounds float32 rounding error to ~256 ulps of the (shifted, hence small) partial sums.
export const LANE_CHUNK: i32 = 256;

@inline export function f32At(p: usize, i: i32): f32 {
  return load<f32>(p + (<usize>i << 2));
}

@inline export function f32Put(p: usize, i: i32, v: f32): void {
  store<f32>(p + (<usize>i << 2), v);
}

@inline export function f64At(p: usize, i: i32): f64 {
  return load<f64>(p + (<usize>i << 3));
}

@inline export function f64Put(p: usize, i: i32, v: f64): void {
  store<f64>(p + (<usize>i << 3), v);
}

// Chan, Golub & LeVeque (1979) pairwise update: merge a partial (nb values with shifted
// sums s1 = sum(x - shift), s2 = sum((x - shift)^2)) into the running (mean, M2) of na values.
// The shift keeps s1 and s2 small, so s2 - s1^2/nb does not cancel catastrophically.
@inline export function chanMerge(mean64: usize, m264: usize, c: i32, na: f64, nb: f64, shift: f64, s1: f64, s2: f64): void {
  const mb = shift + s1 / nb;
  let m2b = s2 - s1 * s1 / nb;
  if (m2b < 0) m2b = 0;
  const ma = f64At(mean64, c);
  const n = na + nb;
  const delta = mb - ma;
  f64Put(mean64, c, ma + delta * (nb / n));
  f64Put(m264, c, f64At(m264, c) + m2b + delta * delta * (na * nb / n));
}

// The same merge with the weights of a block hoisted out of the channel loop (every
// channel of a block of rows has the same counts): inb = 1/nb, w = nb/(na+nb),
// w2 = na*nb/(na+nb). No division per channel.
@inline export function chanMergeW(mean64: usize, m264: usize, c: i32, inb: f64, w: f64, w2: f64, shift: f64, s1: f64, s2: f64): void {
  const mb = shift + s1 * inb;
  let m2b = s2 - s1 * s1 * inb;
  if (m2b < 0) m2b = 0;
  const ma = f64At(mean64, c);
  const delta = mb - ma;
  f64Put(mean64, c, ma + delta * w);
  f64Put(m264, c, f64At(m264, c) + m2b + delta * delta * w2);
}

// chanMergeW for channels [0, C & ~1), two at a time in f64x2: the same float64 operations
// in the same order (pmax(v, 0) is `v < 0 ? 0 : v`), so the same results, at half the
// instructions. Returns the first channel left for the scalar loop.
@inline export function chanMergeW2(mean64: usize, m264: usize, shift: usize, s1: usize, s2: usize, inb: f64, w: f64, w2: f64, C: i32): i32 {
  const inbv = f64x2.splat(inb), wv = f64x2.splat(w), w2v = f64x2.splat(w2), zero = f64x2.splat(0);
  let c = 0;
  for (; c + 2 <= C; c += 2) {
    const o4 = <usize>c << 2, o8 = <usize>c << 3;
    const k = f64x2.promote_low_f32x4(v128.load64_zero(shift + o4));
    const a = f64x2.promote_low_f32x4(v128.load64_zero(s1 + o4));
    const b = f64x2.promote_low_f32x4(v128.load64_zero(s2 + o4));
    const mb = f64x2.add(k, f64x2.mul(a, inbv));
    const m2b = f64x2.pmax(f64x2.sub(b, f64x2.mul(f64x2.mul(a, a), inbv)), zero);
    const ma = v128.load(mean64 + o8);
    const delta = f64x2.sub(mb, ma);
    v128.store(mean64 + o8, f64x2.add(ma, f64x2.mul(delta, wv)));
    v128.store(m264 + o8, f64x2.add(f64x2.add(v128.load(m264 + o8), m2b), f64x2.mul(f64x2.mul(delta, delta), w2v)));
  }
  return c;
}

// Results of the plane reductions below, returned through globals (each worker instance
// of a future threaded build has its own globals).
export let red0: f32 = 0;
export let red1: f32 = 0;

// red0 = sum(x - k), red1 = sum((x - k)^2) over n contiguous floats.
@inline export function sumShiftedSq(p: usize, n: i32, k: f32): void {
  let s1: f32 = 0, s2: f32 = 0;
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const kv = f32x4.splat(k);
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let q0 = f32x4.splat(0), q1 = f32x4.splat(0), q2 = f32x4.splat(0), q3 = f32x4.splat(0);
    for (; i + 16 <= n; i += 16) {
      const q = p + (<usize>i << 2);
      const d0 = f32x4.sub(v128.load(q), kv);
      const d1 = f32x4.sub(v128.load(q, 16), kv);
      const d2 = f32x4.sub(v128.load(q, 32), kv);
      const d3 = f32x4.sub(v128.load(q, 48), kv);
      a0 = f32x4.add(a0, d0); q0 = madd4(d0, d0, q0);
      a1 = f32x4.add(a1, d1); q1 = madd4(d1, d1, q1);
      a2 = f32x4.add(a2, d2); q2 = madd4(d2, d2, q2);
      a3 = f32x4.add(a3, d3); q3 = madd4(d3, d3, q3);
    }
    for (; i + 4 <= n; i += 4) {
      const d0 = f32x4.sub(v128.load(p + (<usize>i << 2)), kv);
      a0 = f32x4.add(a0, d0); q0 = madd4(d0, d0, q0);
    }
    a0 = f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3));
    q0 = f32x4.add(f32x4.add(q0, q1), f32x4.add(q2, q3));
    s1 = f32x4.extract_lane(a0, 0) + f32x4.extract_lane(a0, 1) + f32x4.extract_lane(a0, 2) + f32x4.extract_lane(a0, 3);
    s2 = f32x4.extract_lane(q0, 0) + f32x4.extract_lane(q0, 1) + f32x4.extract_lane(q0, 2) + f32x4.extract_lane(q0, 3);
  }
  if (!ASC_FEATURE_SIMD) {
    // Scalar build: four independent chains, not one add waiting on the last every element.
    let a0: f32 = 0, a1: f32 = 0, a2: f32 = 0, a3: f32 = 0, q0: f32 = 0, q1: f32 = 0, q2: f32 = 0, q3: f32 = 0;
    for (; i + 4 <= n; i += 4) {
      const d0 = f32At(p, i) - k, d1 = f32At(p, i + 1) - k, d2 = f32At(p, i + 2) - k, d3 = f32At(p, i + 3) - k;
      a0 += d0; q0 += d0 * d0;
      a1 += d1; q1 += d1 * d1;
      a2 += d2; q2 += d2 * d2;
      a3 += d3; q3 += d3 * d3;
    }
    s1 = (a0 + a1) + (a2 + a3);
    s2 = (q0 + q1) + (q2 + q3);
  }
  for (; i < n; i++) {
    const d = f32At(p, i) - k;
    s1 += d; s2 += d * d;
  }
  red0 = s1; red1 = s2;
}

// red0 = sum(dy), red1 = sum(dy * (x - mu)) over n contiguous floats.
@inline export function sumDyDyx(dy: usize, x: usize, n: i32, mu: f32): void {
  let s1: f32 = 0, s2: f32 = 0;
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const mv = f32x4.splat(mu);
    let a1 = f32x4.splat(0), a2 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0);
    for (; i + 8 <= n; i += 8) {
      const o = <usize>i << 2;
      const g0 = v128.load(dy + o), g1 = v128.load(dy + o, 16);
      const d0 = f32x4.sub(v128.load(x + o), mv), d1 = f32x4.sub(v128.load(x + o, 16), mv);
      a1 = f32x4.add(a1, g0); a2 = madd4(g0, d0, a2);
      b1 = f32x4.add(b1, g1); b2 = madd4(g1, d1, b2);
    }
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const g0 = v128.load(dy + o);
      a1 = f32x4.add(a1, g0); a2 = madd4(g0, f32x4.sub(v128.load(x + o), mv), a2);
    }
    a1 = f32x4.add(a1, b1); a2 = f32x4.add(a2, b2);
    s1 = f32x4.extract_lane(a1, 0) + f32x4.extract_lane(a1, 1) + f32x4.extract_lane(a1, 2) + f32x4.extract_lane(a1, 3);
    s2 = f32x4.extract_lane(a2, 0) + f32x4.extract_lane(a2, 1) + f32x4.extract_lane(a2, 2) + f32x4.extract_lane(a2, 3);
  }
  if (!ASC_FEATURE_SIMD) {
    let a0: f32 = 0, a1: f32 = 0, a2: f32 = 0, a3: f32 = 0, q0: f32 = 0, q1: f32 = 0, q2: f32 = 0, q3: f32 = 0;
    for (; i + 4 <= n; i += 4) {
      const g0 = f32At(dy, i), g1 = f32At(dy, i + 1), g2 = f32At(dy, i + 2), g3 = f32At(dy, i + 3);
      a0 += g0; q0 += g0 * (f32At(x, i) - mu);
      a1 += g1; q1 += g1 * (f32At(x, i + 1) - mu);
      a2 += g2; q2 += g2 * (f32At(x, i + 2) - mu);
      a3 += g3; q3 += g3 * (f32At(x, i + 3) - mu);
    }
    s1 = (a0 + a1) + (a2 + a3);
    s2 = (q0 + q1) + (q2 + q3);
  }
  for (; i < n; i++) {
    const g = f32At(dy, i);
    s1 += g; s2 += g * (f32At(x, i) - mu);
  }
  red0 = s1; red1 = s2;
}

// Scratch memory a kernel call may use for a C-channel tensor: two float64 arrays of C
// (running mean / M2, or the backward sums) followed by five float32 arrays of C.
export function bn_scratch_bytes(C: i32): i32 {
  return 56 * C + 64;
}
@inline export function scratchF64(scratch: usize, C: i32, k: i32): usize {
  return scratch + (<usize>(k * C) << 3);
}
@inline export function scratchF32(scratch: usize, C: i32, k: i32): usize {
  return scratch + (<usize>C << 4) + (<usize>(k * C) << 2);
}

// c + a*b per lane. The relaxed-SIMD build fuses it (one rounding, FMA where the CPU has
// it, so results may differ from the other builds in the last bit); the SIMD build
// rounds the product and the sum separately, like the scalar loop.
@inline export function madd4(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

// (x - m) * a + b per lane: Batch Normalization's pre-activation, as madd4(x - m, a, b). The
// apply passes call this; the fused ReLU's backward forms the same madd4 with x - m kept for
// reuse, so its mask agrees with the forward's to the bit in each build.
@inline export function affine4(x: v128, m: v128, a: v128, b: v128): v128 {
  return madd4(f32x4.sub(x, m), a, b);
}

// k1 * g + k2 * d + k3 per lane (Batch Normalization's input gradient). The relaxed-SIMD
// build fuses both products (two multiply-adds instead of two multiplies and two adds).
@inline export function dxTerm4(k1: v128, g: v128, k2: v128, d: v128, k3: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(k1, g, f32x4.relaxed_madd(k2, d, k3));
  return f32x4.add(f32x4.add(f32x4.mul(k1, g), f32x4.mul(k2, d)), k3);
}

// Contiguous runs of floats, for the convolutions' patches and the row-strided moves.
// dst[0 .. n) = src[0 .. n).
@inline export function copyF32(dst: usize, src: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 16 <= n; i += 16) {
      const o = <usize>i << 2;
      const v0 = v128.load(src + o), v1 = v128.load(src + o, 16), v2 = v128.load(src + o, 32), v3 = v128.load(src + o, 48);
      v128.store(dst + o, v0); v128.store(dst + o, v1, 16); v128.store(dst + o, v2, 32); v128.store(dst + o, v3, 48);
    }
    for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), v128.load(src + (<usize>i << 2)));
  }
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), load<f32>(src + (<usize>i << 2)));
}

// dst[0 .. n) += src[0 .. n).
@inline export function addF32(dst: usize, src: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 8 <= n; i += 8) {
      const o = <usize>i << 2;
      v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
      v128.store(dst + o, f32x4.add(v128.load(dst + o, 16), v128.load(src + o, 16)), 16);
    }
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
    }
  }
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), load<f32>(dst + (<usize>i << 2)) + load<f32>(src + (<usize>i << 2)));
}

// dst[0 .. n) = 0. Stores, not memory.fill: V8 calls out to memset for a fill, which costs
// more than the store loop for the short runs of a patch (C floats per tap).
@inline export function zeroF32(dst: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const z = f32x4.splat(0);
    for (; i + 8 <= n; i += 8) {
      v128.store(dst + (<usize>i << 2), z);
      v128.store(dst + (<usize>i << 2), z, 16);
    }
    for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), z);
  }
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), 0);
}
