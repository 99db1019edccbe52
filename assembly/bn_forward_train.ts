// Training-mode Batch Normalization forward (Ioffe & Szegedy 2015, Alg. 1):
//   y = (x - mu) * invStd * gamma + beta,  invStd = 1 / sqrt(var + eps),
// with mu and the biased var of the batch. Two passes over x: statistics (a read), then
// y (a read and a write). Writes y and, for backward and the running estimates, mean,
// var (biased) and invStd. Centering before scaling keeps y exact for large offsets
// (a constant channel gives exactly beta).
import { f32At, f32Put, f64At, scratchF32, scratchF64 } from "./common";
import { statsNC, statsNCHW } from "./bn_stats";
import { colAffine } from "./columns";
import { planeAffine } from "./planes";

// From the float64 stats in scratch: mean, var, invStd outputs and a = gamma * invStd in
// F32 slot 3.
function finishStats(mean: usize, var_: usize, invStd: usize, gamma: usize, eps: f32, m: i32, C: i32, scratch: usize): usize {
  const mean64 = scratchF64(scratch, C, 0), m264 = scratchF64(scratch, C, 1), a = scratchF32(scratch, C, 3);
  for (let c = 0; c < C; c++) {
    const v = f64At(m264, c) / <f64>m;
    const is = 1.0 / Math.sqrt(v + <f64>eps);
    f32Put(mean, c, <f32>f64At(mean64, c));
    f32Put(var_, c, <f32>v);
    f32Put(invStd, c, <f32>is);
    f32Put(a, c, <f32>(<f64>f32At(gamma, c) * is));
  }
  return a;
}

export function bn_forward_train_nc(y: usize, mean: usize, var_: usize, invStd: usize, x: usize, gamma: usize, beta: usize, eps: f32, rows: i32, C: i32, scratch: usize): void {
  statsNC(x, rows, C, scratch);
  const a = finishStats(mean, var_, invStd, gamma, eps, rows, C, scratch);
  colAffine(y, C, x, mean, a, beta, -Infinity, rows, C);
}

export function bn_forward_train_nchw(y: usize, mean: usize, var_: usize, invStd: usize, x: usize, gamma: usize, beta: usize, eps: f32, N: i32, C: i32, HW: i32, scratch: usize): void {
  statsNCHW(x, N, C, HW, scratch);
  const a = finishStats(mean, var_, invStd, gamma, eps, N * HW, C, scratch);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const o = <usize>((n * C + c) * HW) << 2;
      planeAffine(y + o, x + o, HW, f32At(mean, c), f32At(a, c), f32At(beta, c), -Infinity);
    }
  }
}
