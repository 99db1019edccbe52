// Global average pooling (Keras's GlobalAveragePooling2D; PyTorch's AdaptiveAvgPool2d(1) then
// flatten): y[n, c] = (1 / (H*W)) sum over h, w of x[n, h, w, c], the output [N, C] with row
// stride ys (>= C). Writes y. Backward: dx[n, h, w, c] = dy[n, c] / (H*W), written, or added
// with accumulate != 0.
// Accuracy: float32 partial sums over chunks of at most LANE_CHUNK values per lane, each added
// into a float64 total, then one float64 division: the error is that of a 256-term float32 sum,
// whatever H*W is. NHWC sums each channel's lane over the pixels in order, like the scalar
// build (the builds agree to the bit); NCHW sums each contiguous plane in 16 lanes.
// Strides in floats: NHWC x[n, h, w, c] at x + (n*H*W + h*W + w)*xs + c (xs >= C); NCHW
// x[n, c, h, w] at x + n*xn + c*H*W + h*W + w (xn >= C*H*W); dx likewise with dxs, dxn.
import { LANE_CHUNK } from "./common";

@inline function promoteHigh(v: v128): v128 {
  return f64x2.promote_low_f32x4(i8x16.shuffle(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15));
}

// The float32 rounding of a / d and b / d (float64 pairs) as one f32x4.
@inline function meanOf(a: v128, b: v128, d: v128): v128 {
  const lo = f32x4.demote_f64x2_zero(f64x2.div(a, d)), hi = f32x4.demote_f64x2_zero(f64x2.div(b, d));
  return i8x16.shuffle(lo, hi, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
}

// y = mean over P pixels xs floats apart, one channel at p.
@inline function meanStrided(yp: usize, p: usize, xs: i32, P: i32): void {
  let total: f64 = 0;
  for (let p0 = 0; p0 < P; p0 += LANE_CHUNK) {
    const p1 = min(p0 + LANE_CHUNK, P);
    let s: f32 = 0;
    for (let i = p0; i < p1; i++) s += load<f32>(p + (<usize>i * xs << 2));
    total += <f64>s;
  }
  store<f32>(yp, <f32>(total / <f64>P));
}

export function global_avgpool_forward_nhwc(y: usize, ys: i32, x: usize, xs: i32, N: i32, H: i32, W: i32, C: i32): void {
  const P = H * W;
  for (let n = 0; n < N; n++) {
    const xp = x + (<usize>(n * P) * xs << 2), yp = y + (<usize>n * ys << 2);
    let c = 0;
    if (ASC_FEATURE_SIMD) {
      const dv = f64x2.splat(<f64>P), zero = f64x2.splat(0);
      for (; c + 16 <= C; c += 16) {
        let t0 = zero, t1 = zero, t2 = zero, t3 = zero, t4 = zero, t5 = zero, t6 = zero, t7 = zero;
        for (let p0 = 0; p0 < P; p0 += LANE_CHUNK) {
          const p1 = min(p0 + LANE_CHUNK, P);
          let s0 = f32x4.splat(0), s1 = s0, s2 = s0, s3 = s0;
          for (let i = p0; i < p1; i++) {
            const q = xp + ((<usize>i * xs + c) << 2);
            s0 = f32x4.add(s0, v128.load(q));
            s1 = f32x4.add(s1, v128.load(q, 16));
            s2 = f32x4.add(s2, v128.load(q, 32));
            s3 = f32x4.add(s3, v128.load(q, 48));
          }
          t0 = f64x2.add(t0, f64x2.promote_low_f32x4(s0)); t1 = f64x2.add(t1, promoteHigh(s0));
          t2 = f64x2.add(t2, f64x2.promote_low_f32x4(s1)); t3 = f64x2.add(t3, promoteHigh(s1));
          t4 = f64x2.add(t4, f64x2.promote_low_f32x4(s2)); t5 = f64x2.add(t5, promoteHigh(s2));
          t6 = f64x2.add(t6, f64x2.promote_low_f32x4(s3)); t7 = f64x2.add(t7, promoteHigh(s3));
        }
        const o = yp + (<usize>c << 2);
        v128.store(o, meanOf(t0, t1, dv)); v128.store(o, meanOf(t2, t3, dv), 16);
        v128.store(o, meanOf(t4, t5, dv), 32); v128.store(o, meanOf(t6, t7, dv), 48);
      }
      for (; c + 4 <= C; c += 4) {
        let t0 = zero, t1 = zero;
        for (let p0 = 0; p0 < P; p0 += LANE_CHUNK) {
          const p1 = min(p0 + LANE_CHUNK, P);
          let s = f32x4.splat(0);
          for (let i = p0; i < p1; i++) s = f32x4.add(s, v128.load(xp + ((<usize>i * xs + c) << 2)));
          t0 = f64x2.add(t0, f64x2.promote_low_f32x4(s)); t1 = f64x2.add(t1, promoteHigh(s));
        }
        v128.store(yp + (<usize>c << 2), meanOf(t0, t1, dv));
      }
    }
    for (; c < C; c++) meanStrided(yp + (<usize>c << 2), xp + (<usize>c << 2), xs, P);
  }
}

// Sum of n contiguous floats: float32 lanes over chunks of LANE_CHUNK values per lane, each
// chunk's lanes added in float64.
@inline function sumPlane(p: usize, n: i32): f64 {
  let total: f64 = 0;
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const chunk = LANE_CHUNK * 16;
    while (i + 16 <= n) {
      const end = min(i + chunk, n);
      let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
      for (; i + 16 <= end; i += 16) {
        const q = p + (<usize>i << 2);
        a0 = f32x4.add(a0, v128.load(q));
        a1 = f32x4.add(a1, v128.load(q, 16));
        a2 = f32x4.add(a2, v128.load(q, 32));
        a3 = f32x4.add(a3, v128.load(q, 48));
      }
      const s = f64x2.add(
        f64x2.add(f64x2.promote_low_f32x4(a0), promoteHigh(a0)),
        f64x2.add(f64x2.add(f64x2.promote_low_f32x4(a1), promoteHigh(a1)), f64x2.add(f64x2.add(f64x2.promote_low_f32x4(a2), promoteHigh(a2)), f64x2.add(f64x2.promote_low_f32x4(a3), promoteHigh(a3)))),
      );
      total += f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
    }
  } else {
    const chunk = LANE_CHUNK * 4;
    while (i + 4 <= n) {
      const end = min(i + chunk, n);
      let a0: f32 = 0, a1: f32 = 0, a2: f32 = 0, a3: f32 = 0;
      for (; i + 4 <= end; i += 4) {
        const q = p + (<usize>i << 2);
        a0 += load<f32>(q); a1 += load<f32>(q, 4); a2 += load<f32>(q, 8); a3 += load<f32>(q, 12);
      }
      total += (<f64>a0 + <f64>a1) + (<f64>a2 + <f64>a3);
    }
  }
  let s: f32 = 0;
  for (; i < n; i++) s += load<f32>(p + (<usize>i << 2));
  return total + <f64>s;
}

export function global_avgpool_forward_nchw(y: usize, ys: i32, x: usize, xn: i32, N: i32, C: i32, H: i32, W: i32): void {
  const P = H * W;
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const mean = sumPlane(x + ((<usize>n * xn + <usize>c * P) << 2), P) / <f64>P;
      store<f32>(y + ((<usize>n * ys + c) << 2), <f32>mean);
    }
  }
}

// dx = g (acc: dx += g) at P pixels xs floats apart, one channel at p.
@inline function spreadStrided(p: usize, xs: i32, P: i32, g: f32, acc: bool): void {
  if (acc) {
    for (let i = 0; i < P; i++) {
      const q = p + (<usize>i * xs << 2);
      store<f32>(q, load<f32>(q) + g);
    }
  } else {
    for (let i = 0; i < P; i++) store<f32>(p + (<usize>i * xs << 2), g);
  }
}

export function global_avgpool_backward_nhwc(dx: usize, dxs: i32, dy: usize, dys: i32, N: i32, H: i32, W: i32, C: i32, accumulate: i32): void {
  const P = H * W;
  const d = <f32>P;
  const acc = accumulate != 0;
  for (let n = 0; n < N; n++) {
    const xp = dx + (<usize>(n * P) * dxs << 2), gp = dy + (<usize>n * dys << 2);
    let c = 0;
    if (ASC_FEATURE_SIMD) {
      const dv = f32x4.splat(d);
      for (; c + 16 <= C; c += 16) {
        const o = gp + (<usize>c << 2);
        const g0 = f32x4.div(v128.load(o), dv), g1 = f32x4.div(v128.load(o, 16), dv);
        const g2 = f32x4.div(v128.load(o, 32), dv), g3 = f32x4.div(v128.load(o, 48), dv);
        if (acc) {
          for (let i = 0; i < P; i++) {
            const q = xp + ((<usize>i * dxs + c) << 2);
            v128.store(q, f32x4.add(v128.load(q), g0));
            v128.store(q, f32x4.add(v128.load(q, 16), g1), 16);
            v128.store(q, f32x4.add(v128.load(q, 32), g2), 32);
            v128.store(q, f32x4.add(v128.load(q, 48), g3), 48);
          }
        } else {
          for (let i = 0; i < P; i++) {
            const q = xp + ((<usize>i * dxs + c) << 2);
            v128.store(q, g0); v128.store(q, g1, 16); v128.store(q, g2, 32); v128.store(q, g3, 48);
          }
        }
      }
      for (; c + 4 <= C; c += 4) {
        const g = f32x4.div(v128.load(gp + (<usize>c << 2)), dv);
        if (acc) {
          for (let i = 0; i < P; i++) {
            const q = xp + ((<usize>i * dxs + c) << 2);
            v128.store(q, f32x4.add(v128.load(q), g));
          }
        } else {
          for (let i = 0; i < P; i++) v128.store(xp + ((<usize>i * dxs + c) << 2), g);
        }
      }
    }
    for (; c < C; c++) spreadStrided(xp + (<usize>c << 2), dxs, P, load<f32>(gp + (<usize>c << 2)) / d, acc);
  }
}

export function global_avgpool_backward_nchw(dx: usize, dxn: i32, dy: usize, dys: i32, N: i32, C: i32, H: i32, W: i32, accumulate: i32): void {
  const P = H * W;
  const acc = accumulate != 0;
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const g = load<f32>(dy + ((<usize>n * dys + c) << 2)) / <f32>P;
      const p = dx + ((<usize>n * dxn + <usize>c * P) << 2);
      let i = 0;
      if (ASC_FEATURE_SIMD) {
        const gv = f32x4.splat(g);
        if (acc) {
          for (; i + 4 <= P; i += 4) {
            const q = p + (<usize>i << 2);
            v128.store(q, f32x4.add(v128.load(q), gv));
          }
        } else {
          for (; i + 4 <= P; i += 4) v128.store(p + (<usize>i << 2), gv);
        }
      }
      spreadStrided(p + (<usize>i << 2), 1, P - i, g, acc);
    }
  }
}
