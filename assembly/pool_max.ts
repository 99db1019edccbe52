// Max pooling, 2-D, with PyTorch's semantics (aten/src/ATen/native/cpu/MaxPoolKernel.cpp):
//   y[n, oh, ow, c] = max of x[n, h, w, c] over the window's in-bounds taps (padding is -inf:
//   it never wins), h in [oh*sh - pt, oh*sh - pt + KH), w in [ow*sw - pl, ow*sw - pl + KW).
// A tap replaces the running maximum when it is greater or NaN (`v > m || v != v`, starting
// from -inf at the first in-bounds tap): ties keep the FIRST maximum in scan order (h, then
// w), a NaN anywhere in the window gives NaN (and the index of the last NaN).
// Forward saves idx (int32, dense: [N, OH, OW, C] in NHWC, [N, C, OH, OW] in NCHW) = h*W + w,
// the maximum's position in its image's H x W plane, as PyTorch's indices. Writes y and idx.
// Backward: dx[n, idx, c] += dy over every output; accumulate = 0 zeroes dx's slice first.
// Strides in floats. NHWC x[n, h, w, c] at x + ((n*H + h)*W + w)*xs + c (xs >= C), y likewise
// with ys; NCHW x[n, c, h, w] at x + n*xn + c*H*W + h*W + w (xn >= C*H*W), y with yn.
// f32x4: 16 then 4 channels at a time in NHWC; in NCHW 8 then 4 outputs along OW (strides 1
// and 2) where the window is inside the row, scalar at the clipped ends. Values are exact copies.
import { interiorHi, interiorLo, load4, selectLanes, winEnd, winStart, zeroRows } from "./pool_common";

// Lanes where v replaces the running maximum m.
@inline function takes(v: v128, m: v128): v128 {
  return v128.or(f32x4.gt(v, m), f32x4.ne(v, v));
}

// One output of one channel over the window [h0, h1) x [w0, w1); taps ts floats apart in w
// (xs in NHWC, 1 in NCHW) and W*ts apart in h; p points at the channel of tap (0, 0). SIMD
// builds run it in lane 0 of f32x4 compare-selects: V8 turns a scalar f32 select into a branch,
// which random data mispredicts.
@inline function maxOne(yp: usize, ip: usize, p: usize, W: i32, ts: i32, h0: i32, h1: i32, w0: i32, w1: i32): void {
  if (ASC_FEATURE_SIMD) {
    let m = f32x4.splat(-Infinity), mi = i32x4.splat(h0 * W + w0);
    for (let h = h0; h < h1; h++) {
      for (let w = w0; w < w1; w++) {
        const t = h * W + w;
        const v = v128.load32_splat(p + (<usize>t * ts << 2));
        const k = takes(v, m);
        m = selectLanes(v, m, k);
        mi = selectLanes(i32x4.splat(t), mi, k);
      }
    }
    store<f32>(yp, f32x4.extract_lane(m, 0));
    store<i32>(ip, i32x4.extract_lane(mi, 0));
  } else {
    let m = -Infinity as f32;
    let mi = h0 * W + w0;
    for (let h = h0; h < h1; h++) {
      for (let w = w0; w < w1; w++) {
        const t = h * W + w;
        const v = load<f32>(p + (<usize>t * ts << 2));
        if (v > m || v != v) {
          m = v;
          mi = t;
        }
      }
    }
    store<f32>(yp, m);
    store<i32>(ip, mi);
  }
}

// All C channels of one NHWC output pixel; xp is the image's first pixel.
@inline function maxPixelNhwc(yp: usize, ip: usize, xp: usize, xs: i32, W: i32, C: i32, h0: i32, h1: i32, w0: i32, w1: i32): void {
  let c = 0;
  if (ASC_FEATURE_SIMD) {
    const first = i32x4.splat(h0 * W + w0);
    for (; c + 16 <= C; c += 16) {
      let m0 = f32x4.splat(-Infinity), m1 = m0, m2 = m0, m3 = m0;
      let i0 = first, i1 = first, i2 = first, i3 = first;
      for (let h = h0; h < h1; h++) {
        for (let w = w0; w < w1; w++) {
          const t = h * W + w;
          const p = xp + ((<usize>t * xs + c) << 2);
          const tv = i32x4.splat(t);
          const v0 = v128.load(p), v1 = v128.load(p, 16), v2 = v128.load(p, 32), v3 = v128.load(p, 48);
          const k0 = takes(v0, m0), k1 = takes(v1, m1), k2 = takes(v2, m2), k3 = takes(v3, m3);
          m0 = selectLanes(v0, m0, k0); i0 = selectLanes(tv, i0, k0);
          m1 = selectLanes(v1, m1, k1); i1 = selectLanes(tv, i1, k1);
          m2 = selectLanes(v2, m2, k2); i2 = selectLanes(tv, i2, k2);
          m3 = selectLanes(v3, m3, k3); i3 = selectLanes(tv, i3, k3);
        }
      }
      const o = <usize>c << 2;
      v128.store(yp + o, m0); v128.store(yp + o, m1, 16); v128.store(yp + o, m2, 32); v128.store(yp + o, m3, 48);
      v128.store(ip + o, i0); v128.store(ip + o, i1, 16); v128.store(ip + o, i2, 32); v128.store(ip + o, i3, 48);
    }
    for (; c + 4 <= C; c += 4) {
      let m = f32x4.splat(-Infinity), mi = first;
      for (let h = h0; h < h1; h++) {
        for (let w = w0; w < w1; w++) {
          const t = h * W + w;
          const v = v128.load(xp + ((<usize>t * xs + c) << 2));
          const k = takes(v, m);
          m = selectLanes(v, m, k);
          mi = selectLanes(i32x4.splat(t), mi, k);
        }
      }
      v128.store(yp + (<usize>c << 2), m);
      v128.store(ip + (<usize>c << 2), mi);
    }
  }
  for (; c < C; c++) {
    const o = <usize>c << 2;
    maxOne(yp + o, ip + o, xp + o, W, xs, h0, h1, w0, w1);
  }
}

export function maxpool2d_forward_nhwc(
  y: usize, ys: i32, idx: usize, x: usize, xs: i32,
  N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, KH: i32, KW: i32, sh: i32, sw: i32, pt: i32, pl: i32,
): void {
  for (let n = 0; n < N; n++) {
    const xp = x + (<usize>(n * H * W) * xs << 2);
    for (let oh = 0; oh < OH; oh++) {
      const h0 = winStart(oh, sh, pt), h1 = winEnd(oh, sh, pt, KH, H);
      for (let ow = 0; ow < OW; ow++) {
        const o = (n * OH + oh) * OW + ow;
        const w0 = winStart(ow, sw, pl), w1 = winEnd(ow, sw, pl, KW, W);
        maxPixelNhwc(y + (<usize>o * ys << 2), idx + (<usize>o * C << 2), xp, xs, W, C, h0, h1, w0, w1);
      }
    }
  }
}

// Four outputs ow..ow+3 of one NCHW output row whose windows are inside the row (s: the stride
// along W, a constant after inlining; lanes = [0, s, 2s, 3s]).
@inline function maxBlockNchw(yr: usize, ir: usize, xp: usize, W: i32, h0: i32, h1: i32, KW: i32, pl: i32, ow: i32, s: i32, lanes: v128): void {
  const w0 = ow * s - pl;
  let m = f32x4.splat(-Infinity), mi = i32x4.add(i32x4.splat(h0 * W + w0), lanes);
  for (let h = h0; h < h1; h++) {
    for (let kw = 0; kw < KW; kw++) {
      const t = h * W + w0 + kw;
      const v = load4(xp + (<usize>t << 2), s);
      const k = takes(v, m);
      m = selectLanes(v, m, k);
      mi = selectLanes(i32x4.add(i32x4.splat(t), lanes), mi, k);
    }
  }
  v128.store(yr + (<usize>ow << 2), m);
  v128.store(ir + (<usize>ow << 2), mi);
}

// The interior outputs [lo, hi) of one NCHW output row (every tap inside the row): 8 at a time
// (two independent compare-select chains), then 4, then one block of 4 ending at hi that may
// overlap outputs already written (it writes the same values), so that no interior output is
// left to the scalar loop when hi - lo >= 4. Returns the first output left.
@inline function maxRowNchw(yr: usize, ir: usize, xp: usize, W: i32, h0: i32, h1: i32, KW: i32, pl: i32, lo: i32, hi: i32, s: i32): i32 {
  const lanes = s == 1 ? i32x4(0, 1, 2, 3) : i32x4(0, 2, 4, 6);
  const lanesB = i32x4.add(lanes, i32x4.splat(4 * s));
  let ow = lo;
  for (; ow + 8 <= hi; ow += 8) {
    const w0 = ow * s - pl;
    let m0 = f32x4.splat(-Infinity), m1 = m0;
    let i0 = i32x4.add(i32x4.splat(h0 * W + w0), lanes), i1 = i32x4.add(i32x4.splat(h0 * W + w0), lanesB);
    for (let h = h0; h < h1; h++) {
      for (let kw = 0; kw < KW; kw++) {
        const t = h * W + w0 + kw;
        const p = xp + (<usize>t << 2);
        const v0 = load4(p, s), v1 = load4(p + (<usize>s << 4), s);
        const k0 = takes(v0, m0), k1 = takes(v1, m1);
        const tv = i32x4.splat(t);
        m0 = selectLanes(v0, m0, k0); i0 = selectLanes(i32x4.add(tv, lanes), i0, k0);
        m1 = selectLanes(v1, m1, k1); i1 = selectLanes(i32x4.add(tv, lanesB), i1, k1);
      }
    }
    const o = <usize>ow << 2;
    v128.store(yr + o, m0); v128.store(yr + o, m1, 16);
    v128.store(ir + o, i0); v128.store(ir + o, i1, 16);
  }
  for (; ow + 4 <= hi; ow += 4) maxBlockNchw(yr, ir, xp, W, h0, h1, KW, pl, ow, s, lanes);
  if (ow < hi && hi - lo >= 4) {
    maxBlockNchw(yr, ir, xp, W, h0, h1, KW, pl, hi - 4, s, lanes);
    ow = hi;
  }
  return ow;
}

export function maxpool2d_forward_nchw(
  y: usize, yn: i32, idx: usize, x: usize, xn: i32,
  N: i32, C: i32, H: i32, W: i32, OH: i32, OW: i32, KH: i32, KW: i32, sh: i32, sw: i32, pt: i32, pl: i32,
): void {
  const lo = interiorLo(OW, sw, pl), hi = interiorHi(OW, W, KW, sw, pl);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const xp = x + ((<usize>n * xn + <usize>c * H * W) << 2);
      const yp = y + ((<usize>n * yn + <usize>c * OH * OW) << 2);
      const ip = idx + (<usize>((n * C + c) * OH * OW) << 2);
      for (let oh = 0; oh < OH; oh++) {
        const h0 = winStart(oh, sh, pt), h1 = winEnd(oh, sh, pt, KH, H);
        const yr = yp + (<usize>(oh * OW) << 2), ir = ip + (<usize>(oh * OW) << 2);
        let ow = 0;
        if (ASC_FEATURE_SIMD) {
          for (; ow < lo; ow++) {
            maxOne(yr + (<usize>ow << 2), ir + (<usize>ow << 2), xp, W, 1, h0, h1, winStart(ow, sw, pl), winEnd(ow, sw, pl, KW, W));
          }
          if (sw == 1) ow = maxRowNchw(yr, ir, xp, W, h0, h1, KW, pl, ow, hi, 1);
          else if (sw == 2) ow = maxRowNchw(yr, ir, xp, W, h0, h1, KW, pl, ow, hi, 2);
        }
        for (; ow < OW; ow++) {
          maxOne(yr + (<usize>ow << 2), ir + (<usize>ow << 2), xp, W, 1, h0, h1, winStart(ow, sw, pl), winEnd(ow, sw, pl, KW, W));
        }
      }
    }
  }
}

export function maxpool2d_backward_nhwc(
  dx: usize, dxs: i32, dy: usize, dys: i32, idx: usize,
  N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, accumulate: i32,
): void {
  if (accumulate == 0) zeroRows(dx, dxs, N * H * W, C);
  for (let n = 0; n < N; n++) {
    const dxp = dx + (<usize>(n * H * W) * dxs << 2);
    for (let o = n * OH * OW, oEnd = o + OH * OW; o < oEnd; o++) {
      const gp = dy + (<usize>o * dys << 2), ip = idx + (<usize>o * C << 2);
      for (let c = 0; c < C; c++) {
        const q = dxp + ((<usize>load<i32>(ip + (<usize>c << 2)) * dxs + c) << 2);
        store<f32>(q, load<f32>(q) + load<f32>(gp + (<usize>c << 2)));
      }
    }
  }
}

export function maxpool2d_backward_nchw(
  dx: usize, dxn: i32, dy: usize, dyn: i32, idx: usize,
  N: i32, C: i32, H: i32, W: i32, OH: i32, OW: i32, accumulate: i32,
): void {
  if (accumulate == 0) zeroRows(dx, dxn, N, C * H * W);
  const P = OH * OW;
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const dxp = dx + ((<usize>n * dxn + <usize>c * H * W) << 2);
      const gp = dy + ((<usize>n * dyn + <usize>c * P) << 2);
      const ip = idx + (<usize>((n * C + c) * P) << 2);
      for (let o = 0; o < P; o++) {
        const q = dxp + (<usize>load<i32>(ip + (<usize>o << 2)) << 2);
        store<f32>(q, load<f32>(q) + load<f32>(gp + (<usize>o << 2)));
      }
    }
  }
}
