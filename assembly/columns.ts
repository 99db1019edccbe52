// Loops over a block of `nr` rows of a row-major [nr, C] matrix (layouts [N, C] and
// channels-last [N, H, W, C]). SIMD runs across C, four channels a vector.
// The reductions walk the block in mini-blocks of rows (see miniRows) and, inside one, in
// strips of 12 channels: six accumulators and three shift (or mean) vectors stay in
// registers, which V8 (15 usable xmm registers) then never spills (with 16-channel strips
// it spills an accumulator, and the store-to-load round trip each row halves the speed).
// One-vector strips and a scalar loop take the channels left.
// The elementwise passes walk memory in order, four rows at a time, with the per-channel
// coefficients re-read from L1 (once per four rows).
import { affine4, dxTerm4, f32At, f32Put, madd4 } from "./common";

// Rows of a mini-block: about 4 KiB of input over all the streams a reduction reads (at
// least 4 rows). The reductions finish a mini-block before moving on, so their strips walk
// memory nearly in order and the hardware prefetchers keep up; walking all rows of a tall
// block strip by strip (a C*4-byte stride) runs at half the speed of the data.
@inline function miniRows(C: i32, streams: i32): i32 {
  const r = 1024 / (C * streams);
  return r < 4 ? 4 : r;
}

@inline function addTo(p: usize, v: v128): void {
  v128.store(p, f32x4.add(v128.load(p), v));
}

// s1[c] = sum_r (x[r,c] - k[c]), s2[c] = sum_r (x[r,c] - k[c])^2. Writes s1, s2.
export function colSumsShifted(s1: usize, s2: usize, x: usize, k: usize, nr: i32, C: i32): void {
  const stride = <usize>C << 2;
  memory.fill(s1, 0, stride);
  memory.fill(s2, 0, stride);
  const mr = miniRows(C, 1);
  for (let r0 = 0; r0 < nr; r0 += mr) {
    const m = min(mr, nr - r0);
    const xb = x + <usize>r0 * stride;
    let c = 0;
    if (ASC_FEATURE_SIMD) {
      for (; c + 12 <= C; c += 12) {
        const o = <usize>c << 2;
        const k0 = v128.load(k + o), k1 = v128.load(k + o, 16), k2 = v128.load(k + o, 32);
        let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0);
        let q0 = f32x4.splat(0), q1 = f32x4.splat(0), q2 = f32x4.splat(0);
        let p = xb + o;
        for (let r = 0; r < m; r++, p += stride) {
          const d0 = f32x4.sub(v128.load(p), k0);
          const d1 = f32x4.sub(v128.load(p, 16), k1);
          const d2 = f32x4.sub(v128.load(p, 32), k2);
          a0 = f32x4.add(a0, d0); q0 = madd4(d0, d0, q0);
          a1 = f32x4.add(a1, d1); q1 = madd4(d1, d1, q1);
          a2 = f32x4.add(a2, d2); q2 = madd4(d2, d2, q2);
        }
        addTo(s1 + o, a0); addTo(s1 + o + 16, a1); addTo(s1 + o + 32, a2);
        addTo(s2 + o, q0); addTo(s2 + o + 16, q1); addTo(s2 + o + 32, q2);
      }
      // Four channels: even and odd rows in separate accumulators (two add chains).
      for (; c + 4 <= C; c += 4) {
        const o = <usize>c << 2;
        const kv = v128.load(k + o);
        let a0 = f32x4.splat(0), q0 = f32x4.splat(0), a1 = f32x4.splat(0), q1 = f32x4.splat(0);
        let p = xb + o;
        let r = 0;
        for (; r + 2 <= m; r += 2, p += stride << 1) {
          const d0 = f32x4.sub(v128.load(p), kv);
          const d1 = f32x4.sub(v128.load(p + stride), kv);
          a0 = f32x4.add(a0, d0); q0 = madd4(d0, d0, q0);
          a1 = f32x4.add(a1, d1); q1 = madd4(d1, d1, q1);
        }
        if (r < m) {
          const d0 = f32x4.sub(v128.load(p), kv);
          a0 = f32x4.add(a0, d0); q0 = madd4(d0, d0, q0);
        }
        addTo(s1 + o, f32x4.add(a0, a1));
        addTo(s2 + o, f32x4.add(q0, q1));
      }
    }
    for (; c < C; c++) {
      const kc = f32At(k, c);
      let a1: f32 = 0, a2: f32 = 0;
      let p = xb + (<usize>c << 2);
      for (let r = 0; r < m; r++, p += stride) {
        const d = load<f32>(p) - kc;
        a1 += d; a2 += d * d;
      }
      f32Put(s1, c, f32At(s1, c) + a1);
      f32Put(s2, c, f32At(s2, c) + a2);
    }
  }
}

// s1[c] = sum_r dy[r,c], s2[c] = sum_r dy[r,c] * (x[r,c] - mu[c]). Writes s1, s2.
export function colSumsDyDyx(s1: usize, s2: usize, dy: usize, x: usize, mu: usize, nr: i32, C: i32): void {
  const stride = <usize>C << 2;
  memory.fill(s1, 0, stride);
  memory.fill(s2, 0, stride);
  const mr = miniRows(C, 2);
  for (let r0 = 0; r0 < nr; r0 += mr) {
    const m = min(mr, nr - r0);
    const xb = x + <usize>r0 * stride, gb = dy + <usize>r0 * stride;
    let c = 0;
    if (ASC_FEATURE_SIMD) {
      for (; c + 12 <= C; c += 12) {
        const o = <usize>c << 2;
        const m0 = v128.load(mu + o), m1 = v128.load(mu + o, 16), m2 = v128.load(mu + o, 32);
        let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0);
        let q0 = f32x4.splat(0), q1 = f32x4.splat(0), q2 = f32x4.splat(0);
        let p = xb + o, q = gb + o;
        for (let r = 0; r < m; r++, p += stride, q += stride) {
          const g0 = v128.load(q), g1 = v128.load(q, 16), g2 = v128.load(q, 32);
          a0 = f32x4.add(a0, g0); q0 = madd4(g0, f32x4.sub(v128.load(p), m0), q0);
          a1 = f32x4.add(a1, g1); q1 = madd4(g1, f32x4.sub(v128.load(p, 16), m1), q1);
          a2 = f32x4.add(a2, g2); q2 = madd4(g2, f32x4.sub(v128.load(p, 32), m2), q2);
        }
        addTo(s1 + o, a0); addTo(s1 + o + 16, a1); addTo(s1 + o + 32, a2);
        addTo(s2 + o, q0); addTo(s2 + o + 16, q1); addTo(s2 + o + 32, q2);
      }
      // Four channels: even and odd rows in separate accumulators (two add chains).
      for (; c + 4 <= C; c += 4) {
        const o = <usize>c << 2;
        const mv = v128.load(mu + o);
        let a0 = f32x4.splat(0), q0 = f32x4.splat(0), a1 = f32x4.splat(0), q1 = f32x4.splat(0);
        let p = xb + o, q = gb + o;
        let r = 0;
        for (; r + 2 <= m; r += 2, p += stride << 1, q += stride << 1) {
          const g0 = v128.load(q), g1 = v128.load(q + stride);
          a0 = f32x4.add(a0, g0); q0 = madd4(g0, f32x4.sub(v128.load(p), mv), q0);
          a1 = f32x4.add(a1, g1); q1 = madd4(g1, f32x4.sub(v128.load(p + stride), mv), q1);
        }
        if (r < m) {
          const g0 = v128.load(q);
          a0 = f32x4.add(a0, g0); q0 = madd4(g0, f32x4.sub(v128.load(p), mv), q0);
        }
        addTo(s1 + o, f32x4.add(a0, a1));
        addTo(s2 + o, f32x4.add(q0, q1));
      }
    }
    for (; c < C; c++) {
      const mc = f32At(mu, c);
      let a1: f32 = 0, a2: f32 = 0;
      let p = xb + (<usize>c << 2), q = gb + (<usize>c << 2);
      for (let r = 0; r < m; r++, p += stride, q += stride) {
        const g = load<f32>(q);
        a1 += g; a2 += g * (load<f32>(p) - mc);
      }
      f32Put(s1, c, f32At(s1, c) + a1);
      f32Put(s2, c, f32At(s2, c) + a2);
    }
  }
}

// The fused ReLU's backward sums: with d = x[r,c] - mu[c] and g = dy[r,c] * [d * a[c] + b[c] > 0]
// (the forward's pre-activation, formed as affine4 does), s1[c] = sum_r g, s2[c] = sum_r g * d.
// dy rows dys floats apart, x rows C. Writes s1, s2. Strips of 8 channels: four accumulators
// and the six coefficient vectors stay in registers.
export function colMaskedSums(s1: usize, s2: usize, dy: usize, dys: i32, x: usize, mu: usize, a: usize, b: usize, nr: i32, C: i32): void {
  const stride = <usize>C << 2, gstride = <usize>dys << 2;
  memory.fill(s1, 0, stride);
  memory.fill(s2, 0, stride);
  const mr = miniRows(C, 2);
  for (let r0 = 0; r0 < nr; r0 += mr) {
    const m = min(mr, nr - r0);
    const xb = x + <usize>r0 * stride, gb = dy + <usize>r0 * gstride;
    let c = 0;
    if (ASC_FEATURE_SIMD) {
      const zero = f32x4.splat(0);
      for (; c + 8 <= C; c += 8) {
        const o = <usize>c << 2;
        const m0 = v128.load(mu + o), m1 = v128.load(mu + o, 16);
        const a0 = v128.load(a + o), a1 = v128.load(a + o, 16);
        const b0 = v128.load(b + o), b1 = v128.load(b + o, 16);
        let t0 = f32x4.splat(0), t1 = f32x4.splat(0), q0 = f32x4.splat(0), q1 = f32x4.splat(0);
        let p = xb + o, q = gb + o;
        for (let r = 0; r < m; r++, p += stride, q += gstride) {
          const d0 = f32x4.sub(v128.load(p), m0), d1 = f32x4.sub(v128.load(p, 16), m1);
          const g0 = v128.and(v128.load(q), f32x4.gt(madd4(d0, a0, b0), zero));
          const g1 = v128.and(v128.load(q, 16), f32x4.gt(madd4(d1, a1, b1), zero));
          t0 = f32x4.add(t0, g0); q0 = madd4(g0, d0, q0);
          t1 = f32x4.add(t1, g1); q1 = madd4(g1, d1, q1);
        }
        addTo(s1 + o, t0); addTo(s1 + o + 16, t1);
        addTo(s2 + o, q0); addTo(s2 + o + 16, q1);
      }
      for (; c + 4 <= C; c += 4) {
        const o = <usize>c << 2;
        const m0 = v128.load(mu + o), a0 = v128.load(a + o), b0 = v128.load(b + o);
        let t0 = f32x4.splat(0), q0 = f32x4.splat(0);
        let p = xb + o, q = gb + o;
        for (let r = 0; r < m; r++, p += stride, q += gstride) {
          const d0 = f32x4.sub(v128.load(p), m0);
          const g0 = v128.and(v128.load(q), f32x4.gt(madd4(d0, a0, b0), zero));
          t0 = f32x4.add(t0, g0); q0 = madd4(g0, d0, q0);
        }
        addTo(s1 + o, t0);
        addTo(s2 + o, q0);
      }
    }
    for (; c < C; c++) {
      const mc = f32At(mu, c), ac = f32At(a, c), bc = f32At(b, c);
      let t: f32 = 0, u: f32 = 0;
      let p = xb + (<usize>c << 2), q = gb + (<usize>c << 2);
      for (let r = 0; r < m; r++, p += stride, q += gstride) {
        const d = load<f32>(p) - mc;
        const g: f32 = d * ac + bc > 0 ? load<f32>(q) : 0;
        t += g; u += g * d;
      }
      f32Put(s1, c, f32At(s1, c) + t);
      f32Put(s2, c, f32At(s2, c) + u);
    }
  }
}

// The fused ReLU's input gradient: dx[r,c] = k1[c] * g + k2[c] * d + k3[c], with d and g as in
// colMaskedSums. dy rows dys floats apart, x and dx rows C (dx may be x: x[r,c] is read before
// dx[r,c] is written). Writes dx. Four rows at a time, like colAffine.
export function colMaskedDx(dx: usize, dy: usize, dys: i32, x: usize, mu: usize, a: usize, b: usize, k1: usize, k2: usize, k3: usize, nr: i32, C: i32): void {
  const stride = <usize>C << 2, gstride = <usize>dys << 2;
  let r = 0;
  const C4 = ASC_FEATURE_SIMD ? C & ~3 : 0;
  if (ASC_FEATURE_SIMD) {
    const zero = f32x4.splat(0);
    for (; r + 4 <= nr; r += 4) {
      const off = <usize>r * stride, goff = <usize>r * gstride;
      for (let c = 0; c < C4; c += 4) {
        const o = <usize>c << 2;
        const mv = v128.load(mu + o), av = v128.load(a + o), bv = v128.load(b + o);
        const v1 = v128.load(k1 + o), v2 = v128.load(k2 + o), v3 = v128.load(k3 + o);
        const p = x + off + o, q = dy + goff + o, w = dx + off + o;
        maskedDx4(w, q, p, mv, av, bv, v1, v2, v3, zero);
        maskedDx4(w + stride, q + gstride, p + stride, mv, av, bv, v1, v2, v3, zero);
        maskedDx4(w + (stride << 1), q + (gstride << 1), p + (stride << 1), mv, av, bv, v1, v2, v3, zero);
        maskedDx4(w + stride * 3, q + gstride * 3, p + stride * 3, mv, av, bv, v1, v2, v3, zero);
      }
      for (let i = 0; C4 < C && i < 4; i++) {
        const ro = <usize>(r + i);
        for (let c = C4; c < C; c++) maskedDxScalar(dx + ro * stride, dy + ro * gstride, x + ro * stride, mu, a, b, k1, k2, k3, c);
      }
    }
  }
  for (; r < nr; r++) {
    const p = x + <usize>r * stride, q = dy + <usize>r * gstride, w = dx + <usize>r * stride;
    let c = 0;
    if (ASC_FEATURE_SIMD) {
      const zero = f32x4.splat(0);
      for (; c < C4; c += 4) {
        const o = <usize>c << 2;
        const d = f32x4.sub(v128.load(p + o), v128.load(mu + o));
        const g = v128.and(v128.load(q + o), f32x4.gt(madd4(d, v128.load(a + o), v128.load(b + o)), zero));
        v128.store(w + o, dxTerm4(v128.load(k1 + o), g, v128.load(k2 + o), d, v128.load(k3 + o)));
      }
    }
    for (; c < C; c++) maskedDxScalar(w, q, p, mu, a, b, k1, k2, k3, c);
  }
}

@inline function maskedDx4(w: usize, q: usize, p: usize, mv: v128, av: v128, bv: v128, v1: v128, v2: v128, v3: v128, zero: v128): void {
  const d = f32x4.sub(v128.load(p), mv);
  const g = v128.and(v128.load(q), f32x4.gt(madd4(d, av, bv), zero));
  v128.store(w, dxTerm4(v1, g, v2, d, v3));
}

@inline function maskedDxScalar(w: usize, q: usize, p: usize, mu: usize, a: usize, b: usize, k1: usize, k2: usize, k3: usize, c: i32): void {
  const d = f32At(p, c) - f32At(mu, c);
  const g: f32 = d * f32At(a, c) + f32At(b, c) > 0 ? f32At(q, c) : 0;
  f32Put(w, c, f32At(k1, c) * g + f32At(k2, c) * d + f32At(k3, c));
}

// y[r,c] = max((x[r,c] - m[c]) * a[c] + b[c], lo), through affine4. m == 0 means no centering:
// inference's y = a*x + b, a rounded product then a rounded sum in every build, so that it is
// bit for bit the folded map foldBatchNorm hands to users. lo is 0 for
// a fused ReLU and -Infinity otherwise (pmax(v, lo) = v < lo ? lo : v keeps NaN and is a
// single instruction, where f32x4.max is several). y rows are ys floats apart (a channel slice
// of a concatenation), x rows C. Four rows at a time: each coefficient vector is loaded once
// for four rows, and the four rows are four forward streams.
export function colAffine(y: usize, ys: i32, x: usize, m: usize, a: usize, b: usize, lo: f32, nr: i32, C: i32): void {
  const stride = <usize>C << 2, ystride = <usize>ys << 2;
  let r = 0;
  if (ASC_FEATURE_SIMD) {
    const C4 = C & ~3;
    const lov = f32x4.splat(lo);
    const s2 = stride << 1, s3 = stride * 3, t2 = ystride << 1, t3 = ystride * 3;
    for (; r + 4 <= nr; r += 4) {
      const p = x + <usize>r * stride, q = y + <usize>r * ystride;
      if (m) {
        for (let c = 0; c < C4; c += 4) {
          const o = <usize>c << 2;
          const mv = v128.load(m + o), av = v128.load(a + o), bv = v128.load(b + o);
          const u = p + o, w = q + o;
          v128.store(w, f32x4.pmax(affine4(v128.load(u), mv, av, bv), lov));
          v128.store(w + ystride, f32x4.pmax(affine4(v128.load(u + stride), mv, av, bv), lov));
          v128.store(w + t2, f32x4.pmax(affine4(v128.load(u + s2), mv, av, bv), lov));
          v128.store(w + t3, f32x4.pmax(affine4(v128.load(u + s3), mv, av, bv), lov));
        }
      } else {
        for (let c = 0; c < C4; c += 4) {
          const o = <usize>c << 2;
          const av = v128.load(a + o), bv = v128.load(b + o);
          const u = p + o, w = q + o;
          v128.store(w, f32x4.pmax(f32x4.add(f32x4.mul(v128.load(u), av), bv), lov));
          v128.store(w + ystride, f32x4.pmax(f32x4.add(f32x4.mul(v128.load(u + stride), av), bv), lov));
          v128.store(w + t2, f32x4.pmax(f32x4.add(f32x4.mul(v128.load(u + s2), av), bv), lov));
          v128.store(w + t3, f32x4.pmax(f32x4.add(f32x4.mul(v128.load(u + s3), av), bv), lov));
        }
      }
      if (C4 < C) affineScalar(q, ystride, p, m, a, b, lo, 4, C4, C, stride);
    }
    for (; r < nr; r++) {
      const p = x + <usize>r * stride, q = y + <usize>r * ystride;
      for (let c = 0; c < C4; c += 4) {
        const o = <usize>c << 2;
        const v = m
          ? affine4(v128.load(p + o), v128.load(m + o), v128.load(a + o), v128.load(b + o))
          : f32x4.add(f32x4.mul(v128.load(p + o), v128.load(a + o)), v128.load(b + o));
        v128.store(q + o, f32x4.pmax(v, lov));
      }
      if (C4 < C) affineScalar(q, ystride, p, m, a, b, lo, 1, C4, C, stride);
    }
  } else {
    affineScalar(y, ystride, x, m, a, b, lo, nr, 0, C, stride);
  }
}

// Channels [c0, C) of nr rows, one float at a time.
@inline function affineScalar(y: usize, ystride: usize, x: usize, m: usize, a: usize, b: usize, lo: f32, nr: i32, c0: i32, C: i32, stride: usize): void {
  for (let r = 0; r < nr; r++) {
    const p = x + <usize>r * stride, q = y + <usize>r * ystride;
    for (let c = c0; c < C; c++) {
      const mc: f32 = m ? f32At(m, c) : 0;
      const v = (f32At(p, c) - mc) * f32At(a, c) + f32At(b, c);
      f32Put(q, c, select<f32>(lo, v, v < lo));
    }
  }
}

// dx[r,c] = k1[c] * dy[r,c] + k2[c] * (x[r,c] - mu[c]) + k3[c]. Writes dx. Four rows at a
// time, like colAffine.
export function colBackwardDx(dx: usize, dy: usize, x: usize, mu: usize, k1: usize, k2: usize, k3: usize, nr: i32, C: i32): void {
  const stride = <usize>C << 2;
  let r = 0;
  if (ASC_FEATURE_SIMD) {
    const C4 = C & ~3;
    const s2 = stride << 1, s3 = stride * 3;
    for (; r + 4 <= nr; r += 4) {
      const off = <usize>r * stride;
      for (let c = 0; c < C4; c += 4) {
        const o = <usize>c << 2;
        const mv = v128.load(mu + o), v1 = v128.load(k1 + o), v2 = v128.load(k2 + o), v3 = v128.load(k3 + o);
        const p = x + off + o, q = dy + off + o, s = dx + off + o;
        v128.store(s, dxTerm4(v1, v128.load(q), v2, f32x4.sub(v128.load(p), mv), v3));
        v128.store(s + stride, dxTerm4(v1, v128.load(q + stride), v2, f32x4.sub(v128.load(p + stride), mv), v3));
        v128.store(s + s2, dxTerm4(v1, v128.load(q + s2), v2, f32x4.sub(v128.load(p + s2), mv), v3));
        v128.store(s + s3, dxTerm4(v1, v128.load(q + s3), v2, f32x4.sub(v128.load(p + s3), mv), v3));
      }
      if (C4 < C) dxScalar(dx + off, dy + off, x + off, mu, k1, k2, k3, 4, C4, C, stride);
    }
    for (; r < nr; r++) {
      const off = <usize>r * stride;
      for (let c = 0; c < C4; c += 4) {
        const o = <usize>c << 2;
        const p = x + off + o, q = dy + off + o;
        v128.store(dx + off + o, dxTerm4(v128.load(k1 + o), v128.load(q), v128.load(k2 + o), f32x4.sub(v128.load(p), v128.load(mu + o)), v128.load(k3 + o)));
      }
      if (C4 < C) dxScalar(dx + off, dy + off, x + off, mu, k1, k2, k3, 1, C4, C, stride);
    }
  } else {
    dxScalar(dx, dy, x, mu, k1, k2, k3, nr, 0, C, stride);
  }
}

@inline function dxScalar(dx: usize, dy: usize, x: usize, mu: usize, k1: usize, k2: usize, k3: usize, nr: i32, c0: i32, C: i32, stride: usize): void {
  for (let r = 0; r < nr; r++) {
    const p = x + <usize>r * stride, q = dy + <usize>r * stride, s = dx + <usize>r * stride;
    for (let c = c0; c < C; c++) {
      f32Put(s, c, f32At(k1, c) * f32At(q, c) + f32At(k2, c) * (f32At(p, c) - f32At(mu, c)) + f32At(k3, c));
    }
  }
}
