// Batch Normalization in phases, for a threaded build that splits one layer's work by rows
// (layout NC, channels-last) or images (NCHW). Each thread reduces its own range into a
// float64 partial; the caller merges the partials in range order (a fixed order, so a given
// thread count gives the same result every run); each thread then writes its range of the
// output from the merged per-channel values.
//   forward:  bn_stats_part_*  -> partial (count, mean[C], M2[C])           one per range
//             bn_stats_merge   -> mean, var (biased), invStd                Chan et al.'s merge
//             bn_apply_*       -> y = (x - mean) * f32(gamma * invStd) + beta  (then max(0, .) when relu)
//   backward: bn_backward_part_* -> partial (sum g[C], sum g*(x - mean)[C]), g = dy (or dy * [v > 0])
//             bn_backward_merge  -> dgamma, dbeta (accumulated), k = (k1, k2, k3)[C]
//             bn_backward_dx_*   -> dx = k1 * g + k2 * (x - mean) + k3
// Each call takes the scratch of the thread that runs it (bn_scratch_bytes(C)).
import { f32At, f32Put, f64At, f64Put, scratchF32, scratchF64 } from "./common";
import { statsNC, statsNCHW } from "./bn_stats";
import { colAffine, colBackwardDx, colMaskedDx } from "./columns";
import { planeAffine, planeBackwardDx } from "./planes";
import { maskedSumsNC, scaleOf } from "./bn_relu";
import { finishBackward, sumsNC, sumsNCHW } from "./bn_backward";

// Floats (f64) of one forward partial: count, mean[C], M2[C].
export function bn_stats_part_f64s(C: i32): i32 {
  return 1 + 2 * C;
}

function storePart(part: usize, count: i32, C: i32, scratch: usize): void {
  f64Put(part, 0, <f64>count);
  memory.copy(part + 8, scratchF64(scratch, C, 0), <usize>C << 3);
  memory.copy(part + 8 + (<usize>C << 3), scratchF64(scratch, C, 1), <usize>C << 3);
}

export function bn_stats_part_nc(part: usize, x: usize, rows: i32, C: i32, scratch: usize): void {
  statsNC(x, rows, C, scratch);
  storePart(part, rows, C, scratch);
}

export function bn_stats_part_nchw(part: usize, x: usize, N: i32, C: i32, HW: i32, scratch: usize): void {
  statsNCHW(x, N, C, HW, scratch);
  storePart(part, N * HW, C, scratch);
}

// Merges nparts consecutive partials (each bn_stats_part_f64s(C) float64s) in order.
// Writes mean, var (biased), invStd = 1 / sqrt(var + eps).
export function bn_stats_merge(mean: usize, var_: usize, invStd: usize, parts: usize, nparts: i32, C: i32, eps: f32): void {
  const stride = <usize>bn_stats_part_f64s(C) << 3;
  for (let c = 0; c < C; c++) {
    let n: f64 = 0, mu: f64 = 0, m2: f64 = 0;
    for (let t = 0; t < nparts; t++) {
      const p = parts + <usize>t * stride;
      const nb = f64At(p, 0);
      if (nb == 0) continue;
      const mb = f64At(p, 1 + c), m2b = f64At(p, 1 + C + c);
      const nn = n + nb, delta = mb - mu;
      mu += delta * (nb / nn);
      m2 += m2b + delta * delta * (n * nb / nn);
      n = nn;
    }
    const v = m2 / n;
    f32Put(mean, c, <f32>mu);
    f32Put(var_, c, <f32>v);
    f32Put(invStd, c, <f32>(1.0 / Math.sqrt(v + <f64>eps)));
  }
}

// y rows ys floats apart (ys = C unless relu: only the fused layer writes into a channel slice).
export function bn_apply_nc(y: usize, ys: i32, x: usize, mean: usize, invStd: usize, gamma: usize, beta: usize, rows: i32, C: i32, relu: i32, scratch: usize): void {
  const a = scaleOf(invStd, gamma, C, scratch);
  colAffine(y, ys, x, mean, a, beta, relu ? 0 : -Infinity, rows, C);
}

export function bn_apply_nchw(y: usize, x: usize, mean: usize, invStd: usize, gamma: usize, beta: usize, N: i32, C: i32, HW: i32, scratch: usize): void {
  const a = scaleOf(invStd, gamma, C, scratch);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const o = <usize>((n * C + c) * HW) << 2;
      planeAffine(y + o, x + o, HW, f32At(mean, c), f32At(a, c), f32At(beta, c), -Infinity);
    }
  }
}

// Writes part = (sum g[C], sum g*(x - mean)[C]) as float64 over the range.
export function bn_backward_part_nc(part: usize, dy: usize, dys: i32, x: usize, mean: usize, invStd: usize, gamma: usize, beta: usize, rows: i32, C: i32, relu: i32, scratch: usize): void {
  const sdyx = part + (<usize>C << 3);
  if (!relu) {
    sumsNC(part, sdyx, dy, x, mean, rows, C, scratch);
    return;
  }
  maskedSumsNC(part, sdyx, dy, dys, x, mean, scaleOf(invStd, gamma, C, scratch), beta, rows, C, scratch);
}

export function bn_backward_part_nchw(part: usize, dy: usize, x: usize, mean: usize, N: i32, C: i32, HW: i32): void {
  sumsNCHW(part, part + (<usize>C << 3), dy, x, mean, N, C, HW);
}

// Sums nparts partials (2C float64s each) in order; accumulates dgamma, dbeta (0: skipped);
// writes k = k1[C], k2[C], k3[C] (float32) for bn_backward_dx_*. m: values per channel.
export function bn_backward_merge(k: usize, dgamma: usize, dbeta: usize, parts: usize, nparts: i32, invStd: usize, gamma: usize, m: i32, C: i32, batchStats: i32, scratch: usize): void {
  const sdy = scratchF64(scratch, C, 0), sdyx = scratchF64(scratch, C, 1);
  for (let c = 0; c < C; c++) {
    let a: f64 = 0, b: f64 = 0;
    for (let t = 0; t < nparts; t++) {
      const p = parts + (<usize>(t * 2 * C) << 3);
      a += f64At(p, c);
      b += f64At(p, C + c);
    }
    f64Put(sdy, c, a);
    f64Put(sdyx, c, b);
  }
  finishBackward(dgamma, dbeta, invStd, gamma, 0, 0, m, C, batchStats, scratch);
  memory.copy(k, scratchF32(scratch, C, 2), <usize>(3 * C) << 2);
}

// dx contiguous rows x C (may be x itself: x[i] is read before dx[i] is written).
export function bn_backward_dx_nc(dx: usize, dy: usize, dys: i32, x: usize, mean: usize, k: usize, invStd: usize, gamma: usize, beta: usize, rows: i32, C: i32, relu: i32, scratch: usize): void {
  const k1 = k, k2 = k + (<usize>C << 2), k3 = k + (<usize>C << 3);
  if (relu) colMaskedDx(dx, dy, dys, x, mean, scaleOf(invStd, gamma, C, scratch), beta, k1, k2, k3, rows, C);
  else colBackwardDx(dx, dy, x, mean, k1, k2, k3, rows, C);
}

export function bn_backward_dx_nchw(dx: usize, dy: usize, x: usize, mean: usize, k: usize, N: i32, C: i32, HW: i32): void {
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const o = <usize>((n * C + c) * HW) << 2;
      planeBackwardDx(dx + o, dy + o, x + o, HW, f32At(mean, c), f32At(k, c), f32At(k, C + c), f32At(k, 2 * C + c));
    }
  }
}
