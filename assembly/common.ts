// Shared helpers for the kernels. Every kernel takes byte offsets into linear memory
// (pointers) and sizes; the caller (TypeScript) owns all memory, kernels allocate nothing.
// One source, two builds: `ASC_FEATURE_SIMD` is a compile-time constant, so the f32x4
// branch is compiled only into the SIMD build and the scalar loop is the whole scalar build.

// Values accumulated per f32 lane before a partial result is merged into float64.
// Bounds float32 rounding error to ~256 ulps of the (shifted, hence small) partial sums.
export const LANE_CHUNK: i32 = 256;

// Rows of an [rows, C] block processed column by column before moving on: small enough to
// stay in L1 (16 KiB) so that the per-column walk re-reads from cache, not from DRAM.
@inline export function chunkRows(C: i32): i32 {
  let r = 4096 / C;
  if (r < 8) r = 8;
  if (r > LANE_CHUNK) r = LANE_CHUNK;
  return r;
}

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
    let a1 = f32x4.splat(0), a2 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0);
    for (; i + 8 <= n; i += 8) {
      const q = p + (<usize>i << 2);
      const d0 = f32x4.sub(v128.load(q), kv);
      const d1 = f32x4.sub(v128.load(q, 16), kv);
      a1 = f32x4.add(a1, d0); a2 = f32x4.add(a2, f32x4.mul(d0, d0));
      b1 = f32x4.add(b1, d1); b2 = f32x4.add(b2, f32x4.mul(d1, d1));
    }
    for (; i + 4 <= n; i += 4) {
      const d0 = f32x4.sub(v128.load(p + (<usize>i << 2)), kv);
      a1 = f32x4.add(a1, d0); a2 = f32x4.add(a2, f32x4.mul(d0, d0));
    }
    a1 = f32x4.add(a1, b1); a2 = f32x4.add(a2, b2);
    s1 = f32x4.extract_lane(a1, 0) + f32x4.extract_lane(a1, 1) + f32x4.extract_lane(a1, 2) + f32x4.extract_lane(a1, 3);
    s2 = f32x4.extract_lane(a2, 0) + f32x4.extract_lane(a2, 1) + f32x4.extract_lane(a2, 2) + f32x4.extract_lane(a2, 3);
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
      a1 = f32x4.add(a1, g0); a2 = f32x4.add(a2, f32x4.mul(g0, d0));
      b1 = f32x4.add(b1, g1); b2 = f32x4.add(b2, f32x4.mul(g1, d1));
    }
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const g0 = v128.load(dy + o);
      a1 = f32x4.add(a1, g0); a2 = f32x4.add(a2, f32x4.mul(g0, f32x4.sub(v128.load(x + o), mv)));
    }
    a1 = f32x4.add(a1, b1); a2 = f32x4.add(a2, b2);
    s1 = f32x4.extract_lane(a1, 0) + f32x4.extract_lane(a1, 1) + f32x4.extract_lane(a1, 2) + f32x4.extract_lane(a1, 3);
    s2 = f32x4.extract_lane(a2, 0) + f32x4.extract_lane(a2, 1) + f32x4.extract_lane(a2, 2) + f32x4.extract_lane(a2, 3);
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
