// Column-wise loops over a block of `nr` rows of a row-major [nr, C] matrix (layouts
// [N, C] and channels-last [N, H, W, C]). SIMD runs across C, four channels a vector; the
// block is small (see chunkRows) so each column walk re-reads it from L1 while the
// per-channel accumulators and coefficients stay in registers. Channels past the last
// multiple of four take the scalar loop.
import { f32At, f32Put } from "./common";

// s1[c] = sum_r (x[r,c] - k[c]), s2[c] = sum_r (x[r,c] - k[c])^2. Writes s1, s2.
export function colSumsShifted(s1: usize, s2: usize, x: usize, k: usize, nr: i32, C: i32): void {
  const stride = <usize>C << 2;
  let c = 0;
  if (ASC_FEATURE_SIMD) {
    for (; c + 4 <= C; c += 4) {
      const o = <usize>c << 2;
      const kv = v128.load(k + o);
      let a1 = f32x4.splat(0), a2 = f32x4.splat(0);
      let p = x + o;
      for (let r = 0; r < nr; r++, p += stride) {
        const d = f32x4.sub(v128.load(p), kv);
        a1 = f32x4.add(a1, d);
        a2 = f32x4.add(a2, f32x4.mul(d, d));
      }
      v128.store(s1 + o, a1);
      v128.store(s2 + o, a2);
    }
  }
  for (; c < C; c++) {
    const kc = f32At(k, c);
    let a1: f32 = 0, a2: f32 = 0;
    let p = x + (<usize>c << 2);
    for (let r = 0; r < nr; r++, p += stride) {
      const d = load<f32>(p) - kc;
      a1 += d; a2 += d * d;
    }
    f32Put(s1, c, a1);
    f32Put(s2, c, a2);
  }
}

// s1[c] = sum_r dy[r,c], s2[c] = sum_r dy[r,c] * (x[r,c] - mu[c]). Writes s1, s2.
export function colSumsDyDyx(s1: usize, s2: usize, dy: usize, x: usize, mu: usize, nr: i32, C: i32): void {
  const stride = <usize>C << 2;
  let c = 0;
  if (ASC_FEATURE_SIMD) {
    for (; c + 4 <= C; c += 4) {
      const o = <usize>c << 2;
      const mv = v128.load(mu + o);
      let a1 = f32x4.splat(0), a2 = f32x4.splat(0);
      let p = x + o, q = dy + o;
      for (let r = 0; r < nr; r++, p += stride, q += stride) {
        const g = v128.load(q);
        a1 = f32x4.add(a1, g);
        a2 = f32x4.add(a2, f32x4.mul(g, f32x4.sub(v128.load(p), mv)));
      }
      v128.store(s1 + o, a1);
      v128.store(s2 + o, a2);
    }
  }
  for (; c < C; c++) {
    const m = f32At(mu, c);
    let a1: f32 = 0, a2: f32 = 0;
    let p = x + (<usize>c << 2), q = dy + (<usize>c << 2);
    for (let r = 0; r < nr; r++, p += stride, q += stride) {
      const g = load<f32>(q);
      a1 += g; a2 += g * (load<f32>(p) - m);
    }
    f32Put(s1, c, a1);
    f32Put(s2, c, a2);
  }
}

// y[r,c] = max((x[r,c] - m[c]) * a[c] + b[c], lo). m == 0 means no centering; lo is 0 for
// a fused ReLU and -Infinity otherwise (max with -Infinity is the identity, NaN propagates).
export function colAffine(y: usize, x: usize, m: usize, a: usize, b: usize, lo: f32, nr: i32, C: i32): void {
  const stride = <usize>C << 2;
  let c = 0;
  if (ASC_FEATURE_SIMD) {
    const lov = f32x4.splat(lo);
    for (; c + 4 <= C; c += 4) {
      const o = <usize>c << 2;
      const mv = m ? v128.load(m + o) : f32x4.splat(0);
      const av = v128.load(a + o), bv = v128.load(b + o);
      let p = x + o, q = y + o;
      for (let r = 0; r < nr; r++, p += stride, q += stride) {
        v128.store(q, f32x4.max(f32x4.add(f32x4.mul(f32x4.sub(v128.load(p), mv), av), bv), lov));
      }
    }
  }
  for (; c < C; c++) {
    const mc: f32 = m ? f32At(m, c) : 0;
    const ac = f32At(a, c), bc = f32At(b, c);
    let p = x + (<usize>c << 2), q = y + (<usize>c << 2);
    for (let r = 0; r < nr; r++, p += stride, q += stride) {
      store<f32>(q, max((load<f32>(p) - mc) * ac + bc, lo));
    }
  }
}

// dx[r,c] = k1[c] * dy[r,c] + k2[c] * (x[r,c] - mu[c]) + k3[c]. Writes dx.
export function colBackwardDx(dx: usize, dy: usize, x: usize, mu: usize, k1: usize, k2: usize, k3: usize, nr: i32, C: i32): void {
  const stride = <usize>C << 2;
  let c = 0;
  if (ASC_FEATURE_SIMD) {
    for (; c + 4 <= C; c += 4) {
      const o = <usize>c << 2;
      const mv = v128.load(mu + o), v1 = v128.load(k1 + o), v2 = v128.load(k2 + o), v3 = v128.load(k3 + o);
      let p = x + o, q = dy + o, s = dx + o;
      for (let r = 0; r < nr; r++, p += stride, q += stride, s += stride) {
        const t = f32x4.add(f32x4.mul(v1, v128.load(q)), f32x4.mul(v2, f32x4.sub(v128.load(p), mv)));
        v128.store(s, f32x4.add(t, v3));
      }
    }
  }
  for (; c < C; c++) {
    const m = f32At(mu, c), a = f32At(k1, c), b = f32At(k2, c), d = f32At(k3, c);
    let p = x + (<usize>c << 2), q = dy + (<usize>c << 2), s = dx + (<usize>c << 2);
    for (let r = 0; r < nr; r++, p += stride, q += stride, s += stride) {
      store<f32>(s, a * load<f32>(q) + b * (load<f32>(p) - m) + d);
    }
  }
}
