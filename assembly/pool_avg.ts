// Average pooling, 2-D, with PyTorch's semantics (aten/src/ATen/native/cpu/AvgPoolKernel.cpp):
//   y[n, oh, ow, c] = (sum of x[n, h, w, c] over the window's in-bounds taps) / count,
//   count = KH*KW with countIncludePad != 0 (PyTorch's default count_include_pad=True: padding
//   taps count as zeros), else the number of in-bounds taps (count_include_pad=False, which is
//   what Keras/TensorFlow's 'same' average pooling divides by). Writes y.
// Backward: dx[n, h, w, c] = sum of dy[n, oh, ow, c] / count over the outputs whose windows hold
// it; accumulate != 0 adds that to dx. NHWC scatters each output over its window (dx's slice
// zeroed first when writing); NCHW gathers each dx from its outputs (see below).
// Forward sums the taps in scan order (h, then w) from 0 in float32, then divides once; every
// build does the same operations in the same order (the builds agree to the bit), backward too.
// Strides and layouts as in pool_max.ts: NHWC pixel strides xs, ys (>= C); NCHW image strides
// xn, yn (>= C*H*W, C*OH*OW), all in floats.
// f32x4: 16 then 4 channels at a time in NHWC; in NCHW along OW (strides 1 and 2) where the
// window is inside the row, scalar at the clipped ends; NCHW backward along W at stride 1.
import { interiorHi, interiorLo, load4, winEnd, winStart, zeroRows } from "./pool_common";

@inline function divisor(countIncludePad: i32, KH: i32, KW: i32, h0: i32, h1: i32, w0: i32, w1: i32): f32 {
  return <f32>(countIncludePad != 0 ? KH * KW : (h1 - h0) * (w1 - w0));
}

// One output of one channel; taps ts floats apart in w and W*ts apart in h (see pool_max.ts).
@inline function avgOne(yp: usize, p: usize, W: i32, ts: i32, h0: i32, h1: i32, w0: i32, w1: i32, d: f32): void {
  let s: f32 = 0;
  for (let h = h0; h < h1; h++) {
    for (let w = w0; w < w1; w++) s += load<f32>(p + (<usize>(h * W + w) * ts << 2));
  }
  store<f32>(yp, s / d);
}

@inline function avgPixelNhwc(yp: usize, xp: usize, xs: i32, W: i32, C: i32, h0: i32, h1: i32, w0: i32, w1: i32, d: f32): void {
  let c = 0;
  if (ASC_FEATURE_SIMD) {
    const dv = f32x4.splat(d);
    for (; c + 16 <= C; c += 16) {
      let s0 = f32x4.splat(0), s1 = s0, s2 = s0, s3 = s0;
      for (let h = h0; h < h1; h++) {
        for (let w = w0; w < w1; w++) {
          const p = xp + ((<usize>(h * W + w) * xs + c) << 2);
          s0 = f32x4.add(s0, v128.load(p));
          s1 = f32x4.add(s1, v128.load(p, 16));
          s2 = f32x4.add(s2, v128.load(p, 32));
          s3 = f32x4.add(s3, v128.load(p, 48));
        }
      }
      const o = yp + (<usize>c << 2);
      v128.store(o, f32x4.div(s0, dv)); v128.store(o, f32x4.div(s1, dv), 16);
      v128.store(o, f32x4.div(s2, dv), 32); v128.store(o, f32x4.div(s3, dv), 48);
    }
    for (; c + 4 <= C; c += 4) {
      let s = f32x4.splat(0);
      for (let h = h0; h < h1; h++) {
        for (let w = w0; w < w1; w++) s = f32x4.add(s, v128.load(xp + ((<usize>(h * W + w) * xs + c) << 2)));
      }
      v128.store(yp + (<usize>c << 2), f32x4.div(s, dv));
    }
  }
  for (; c < C; c++) avgOne(yp + (<usize>c << 2), xp + (<usize>c << 2), W, xs, h0, h1, w0, w1, d);
}

export function avgpool2d_forward_nhwc(
  y: usize, ys: i32, x: usize, xs: i32,
  N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, KH: i32, KW: i32, sh: i32, sw: i32, pt: i32, pl: i32, countIncludePad: i32,
): void {
  for (let n = 0; n < N; n++) {
    const xp = x + (<usize>(n * H * W) * xs << 2);
    for (let oh = 0; oh < OH; oh++) {
      const h0 = winStart(oh, sh, pt), h1 = winEnd(oh, sh, pt, KH, H);
      for (let ow = 0; ow < OW; ow++) {
        const w0 = winStart(ow, sw, pl), w1 = winEnd(ow, sw, pl, KW, W);
        const o = (n * OH + oh) * OW + ow;
        avgPixelNhwc(y + (<usize>o * ys << 2), xp, xs, W, C, h0, h1, w0, w1, divisor(countIncludePad, KH, KW, h0, h1, w0, w1));
      }
    }
  }
}

// Four interior outputs ow..ow+3 of one NCHW row (s: the stride along W, a constant after
// inlining), divided by their common divisor d.
@inline function avgBlockNchw(yr: usize, xp: usize, W: i32, h0: i32, h1: i32, KW: i32, pl: i32, ow: i32, d: v128, s: i32): void {
  const w0 = ow * s - pl;
  let acc = f32x4.splat(0);
  for (let h = h0; h < h1; h++) {
    for (let kw = 0; kw < KW; kw++) acc = f32x4.add(acc, load4(xp + (<usize>(h * W + w0 + kw) << 2), s));
  }
  v128.store(yr + (<usize>ow << 2), f32x4.div(acc, d));
}

// The interior outputs [lo, hi) of one NCHW row, as maxRowNchw in pool_max.ts: 8, then 4, then
// one block ending at hi that may overlap (same values). Returns the first output left.
@inline function avgRowNchw(yr: usize, xp: usize, W: i32, h0: i32, h1: i32, KW: i32, pl: i32, lo: i32, hi: i32, d: f32, s: i32): i32 {
  const dv = f32x4.splat(d);
  let ow = lo;
  for (; ow + 8 <= hi; ow += 8) {
    const w0 = ow * s - pl;
    let a0 = f32x4.splat(0), a1 = a0;
    for (let h = h0; h < h1; h++) {
      for (let kw = 0; kw < KW; kw++) {
        const p = xp + (<usize>(h * W + w0 + kw) << 2);
        a0 = f32x4.add(a0, load4(p, s));
        a1 = f32x4.add(a1, load4(p + (<usize>s << 4), s));
      }
    }
    v128.store(yr + (<usize>ow << 2), f32x4.div(a0, dv));
    v128.store(yr + (<usize>ow << 2), f32x4.div(a1, dv), 16);
  }
  for (; ow + 4 <= hi; ow += 4) avgBlockNchw(yr, xp, W, h0, h1, KW, pl, ow, dv, s);
  if (ow < hi && hi - lo >= 4) {
    avgBlockNchw(yr, xp, W, h0, h1, KW, pl, hi - 4, dv, s);
    ow = hi;
  }
  return ow;
}

export function avgpool2d_forward_nchw(
  y: usize, yn: i32, x: usize, xn: i32,
  N: i32, C: i32, H: i32, W: i32, OH: i32, OW: i32, KH: i32, KW: i32, sh: i32, sw: i32, pt: i32, pl: i32, countIncludePad: i32,
): void {
  const lo = interiorLo(OW, sw, pl), hi = interiorHi(OW, W, KW, sw, pl);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const xp = x + ((<usize>n * xn + <usize>c * H * W) << 2);
      const yp = y + ((<usize>n * yn + <usize>c * OH * OW) << 2);
      for (let oh = 0; oh < OH; oh++) {
        const h0 = winStart(oh, sh, pt), h1 = winEnd(oh, sh, pt, KH, H);
        const yr = yp + (<usize>(oh * OW) << 2);
        let ow = 0;
        if (ASC_FEATURE_SIMD) {
          for (; ow < lo; ow++) {
            const w0 = winStart(ow, sw, pl), w1 = winEnd(ow, sw, pl, KW, W);
            avgOne(yr + (<usize>ow << 2), xp, W, 1, h0, h1, w0, w1, divisor(countIncludePad, KH, KW, h0, h1, w0, w1));
          }
          const d = divisor(countIncludePad, KH, KW, h0, h1, 0, KW);
          if (sw == 1) ow = avgRowNchw(yr, xp, W, h0, h1, KW, pl, ow, hi, d, 1);
          else if (sw == 2) ow = avgRowNchw(yr, xp, W, h0, h1, KW, pl, ow, hi, d, 2);
        }
        for (; ow < OW; ow++) {
          const w0 = winStart(ow, sw, pl), w1 = winEnd(ow, sw, pl, KW, W);
          avgOne(yr + (<usize>ow << 2), xp, W, 1, h0, h1, w0, w1, divisor(countIncludePad, KH, KW, h0, h1, w0, w1));
        }
      }
    }
  }
}

// dx += g over the window, for C channels of one NHWC output pixel (g = dy / d per channel).
@inline function avgBackPixelNhwc(dxp: usize, dxs: i32, gp: usize, W: i32, C: i32, h0: i32, h1: i32, w0: i32, w1: i32, d: f32): void {
  let c = 0;
  if (ASC_FEATURE_SIMD) {
    const dv = f32x4.splat(d);
    for (; c + 16 <= C; c += 16) {
      const o = gp + (<usize>c << 2);
      const g0 = f32x4.div(v128.load(o), dv), g1 = f32x4.div(v128.load(o, 16), dv);
      const g2 = f32x4.div(v128.load(o, 32), dv), g3 = f32x4.div(v128.load(o, 48), dv);
      for (let h = h0; h < h1; h++) {
        for (let w = w0; w < w1; w++) {
          const q = dxp + ((<usize>(h * W + w) * dxs + c) << 2);
          v128.store(q, f32x4.add(v128.load(q), g0));
          v128.store(q, f32x4.add(v128.load(q, 16), g1), 16);
          v128.store(q, f32x4.add(v128.load(q, 32), g2), 32);
          v128.store(q, f32x4.add(v128.load(q, 48), g3), 48);
        }
      }
    }
    for (; c + 4 <= C; c += 4) {
      const g = f32x4.div(v128.load(gp + (<usize>c << 2)), dv);
      for (let h = h0; h < h1; h++) {
        for (let w = w0; w < w1; w++) {
          const q = dxp + ((<usize>(h * W + w) * dxs + c) << 2);
          v128.store(q, f32x4.add(v128.load(q), g));
        }
      }
    }
  }
  for (; c < C; c++) {
    const g = load<f32>(gp + (<usize>c << 2)) / d;
    for (let h = h0; h < h1; h++) {
      for (let w = w0; w < w1; w++) {
        const q = dxp + ((<usize>(h * W + w) * dxs + c) << 2);
        store<f32>(q, load<f32>(q) + g);
      }
    }
  }
}

export function avgpool2d_backward_nhwc(
  dx: usize, dxs: i32, dy: usize, dys: i32,
  N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, KH: i32, KW: i32, sh: i32, sw: i32, pt: i32, pl: i32, countIncludePad: i32, accumulate: i32,
): void {
  if (accumulate == 0) zeroRows(dx, dxs, N * H * W, C);
  for (let n = 0; n < N; n++) {
    const dxp = dx + (<usize>(n * H * W) * dxs << 2);
    for (let oh = 0; oh < OH; oh++) {
      const h0 = winStart(oh, sh, pt), h1 = winEnd(oh, sh, pt, KH, H);
      for (let ow = 0; ow < OW; ow++) {
        const w0 = winStart(ow, sw, pl), w1 = winEnd(ow, sw, pl, KW, W);
        const o = (n * OH + oh) * OW + ow;
        avgBackPixelNhwc(dxp, dxs, dy + (<usize>o * dys << 2), W, C, h0, h1, w0, w1, divisor(countIncludePad, KH, KW, h0, h1, w0, w1));
      }
    }
  }
}

// NCHW backward gathers instead: each dx[h, w] is the sum over the outputs whose windows hold it,
// written (or added) once, so no zeroing pass and no read-modify-write of overlapping vectors
// (which defeats store-to-load forwarding on every tap). Outputs covering input row h: oh in
// [coverLo(h + pt, KH, sh), coverHi(h + pt, sh, OH)], likewise for columns.
@inline function coverLo(v: i32, K: i32, s: i32): i32 {
  const a = v - K + 1;
  return a <= 0 ? 0 : (a + s - 1) / s;
}
@inline function coverHi(v: i32, s: i32, O: i32): i32 {
  return min(v / s, O - 1);
}

// Stride 1 along W, for the columns all of whose covering outputs are interior (their divisor
// depends on the output row only): dx[h, w] = sum over oh of (sum over kw of dy[oh, w + pl - kw]) / d(oh).
// The same operations per lane in the f32x4 block and the scalar twin.
@inline function interiorBlock(gp: usize, OW: i32, H: i32, KH: i32, KW: i32, sh: i32, pt: i32, pl: i32, oh0: i32, oh1: i32, w: i32, cip: i32): v128 {
  let sum = f32x4.splat(0);
  for (let oh = oh0; oh <= oh1; oh++) {
    const d = divisor(cip, KH, KW, winStart(oh, sh, pt), winEnd(oh, sh, pt, KH, H), 0, KW);
    const gr = gp + (<usize>(oh * OW + w + pl) << 2);
    let t = f32x4.splat(0);
    for (let kw = 0; kw < KW; kw++) t = f32x4.add(t, v128.load(gr - (<usize>kw << 2)));
    sum = f32x4.add(sum, f32x4.div(t, f32x4.splat(d)));
  }
  return sum;
}
@inline function interiorOne(gp: usize, OW: i32, H: i32, KH: i32, KW: i32, sh: i32, pt: i32, pl: i32, oh0: i32, oh1: i32, w: i32, cip: i32): f32 {
  let sum: f32 = 0;
  for (let oh = oh0; oh <= oh1; oh++) {
    const d = divisor(cip, KH, KW, winStart(oh, sh, pt), winEnd(oh, sh, pt, KH, H), 0, KW);
    const gr = gp + (<usize>(oh * OW + w + pl) << 2);
    let t: f32 = 0;
    for (let kw = 0; kw < KW; kw++) t += load<f32>(gr - (<usize>kw << 2));
    sum += t / d;
  }
  return sum;
}

// Any column: the sum over the covering outputs of dy / their divisor, in output order.
@inline function borderOne(gp: usize, OW: i32, H: i32, W: i32, KH: i32, KW: i32, sh: i32, sw: i32, pt: i32, pl: i32, oh0: i32, oh1: i32, w: i32, cip: i32): f32 {
  const ow0 = coverLo(w + pl, KW, sw), ow1 = coverHi(w + pl, sw, OW);
  let sum: f32 = 0;
  for (let oh = oh0; oh <= oh1; oh++) {
    const h0 = winStart(oh, sh, pt), h1 = winEnd(oh, sh, pt, KH, H);
    for (let ow = ow0; ow <= ow1; ow++) {
      const d = divisor(cip, KH, KW, h0, h1, winStart(ow, sw, pl), winEnd(ow, sw, pl, KW, W));
      sum += load<f32>(gp + (<usize>(oh * OW + ow) << 2)) / d;
    }
  }
  return sum;
}

@inline function putOne(q: usize, v: f32, acc: bool): void {
  store<f32>(q, acc ? load<f32>(q) + v : v);
}

export function avgpool2d_backward_nchw(
  dx: usize, dxn: i32, dy: usize, dyn: i32,
  N: i32, C: i32, H: i32, W: i32, OH: i32, OW: i32, KH: i32, KW: i32, sh: i32, sw: i32, pt: i32, pl: i32, countIncludePad: i32, accumulate: i32,
): void {
  const acc = accumulate != 0;
  // Columns [wA, wB) whose covering outputs are all interior: w + pl - (KW - 1) >= lo, w + pl < hi.
  let wA = W, wB = W;
  if (sw == 1) {
    wA = min(max(interiorLo(OW, sw, pl) + KW - 1 - pl, 0), W);
    wB = max(min(interiorHi(OW, W, KW, sw, pl) - pl, W), wA);
  }
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const dxp = dx + ((<usize>n * dxn + <usize>c * H * W) << 2);
      const gp = dy + ((<usize>n * dyn + <usize>c * OH * OW) << 2);
      for (let h = 0; h < H; h++) {
        const oh0 = coverLo(h + pt, KH, sh), oh1 = coverHi(h + pt, sh, OH);
        const dr = dxp + (<usize>(h * W) << 2);
        let w = 0;
        for (; w < wA; w++) putOne(dr + (<usize>w << 2), borderOne(gp, OW, H, W, KH, KW, sh, sw, pt, pl, oh0, oh1, w, countIncludePad), acc);
        if (ASC_FEATURE_SIMD) {
          for (; w + 4 <= wB; w += 4) {
            const q = dr + (<usize>w << 2);
            const v = interiorBlock(gp, OW, H, KH, KW, sh, pt, pl, oh0, oh1, w, countIncludePad);
            v128.store(q, acc ? f32x4.add(v128.load(q), v) : v);
          }
        }
        for (; w < wB; w++) putOne(dr + (<usize>w << 2), interiorOne(gp, OW, H, KH, KW, sh, pt, pl, oh0, oh1, w, countIncludePad), acc);
        for (; w < W; w++) putOne(dr + (<usize>w << 2), borderOne(gp, OW, H, W, KH, KW, sh, sw, pt, pl, oh0, oh1, w, countIncludePad), acc);
      }
    }
  }
}
