// Batch Renormalization (Ioffe 2017), training forward with Keras 2's statistics:
//   sigmaB = sqrt(varB + eps),  s = max(renormStd, sqrt(eps)),
//   r = clip(sigmaB / s, rMin, rMax),  d = clip((muB - renormMean) / s, -dMax, dMax),
//   y = gamma * ((x - muB) / sigmaB * r + d) + beta = (x - muB) * (gamma r invStd) + (gamma d + beta).
// renormMean and renormStd are moving averages of muB and sigmaB kept apart from the
// inference estimates (Keras 2's renorm_mean / renorm_stddev); r and d use their values
// from before this batch, and the gradient treats r and d as constants (bn_renorm_backward_*).
// Same two passes as bn_forward_train_*: statistics, then y. Writes y, mean, var (biased),
// invStd, r and d; bn_renorm_update then moves renormMean and renormStd.
import { f32At, f32Put, f64At, scratchF32, scratchF64 } from "./common";
import { statsNC, statsNCHW } from "./bn_stats";
import { colAffine } from "./columns";
import { planeAffine } from "./planes";

// From the float64 stats in scratch: mean, var, invStd, r, d, and the affine map's a in F32
// slot 3 and b in slot 4. With r = 1 and d = 0 these are bn_forward_train's values bit for bit.
function finishRenorm(mean: usize, var_: usize, invStd: usize, r: usize, d: usize, gamma: usize, beta: usize, renormMean: usize, renormStd: usize, eps: f32, rMin: f64, rMax: f64, dMax: f64, m: i32, C: i32, scratch: usize): void {
  const mean64 = scratchF64(scratch, C, 0), m264 = scratchF64(scratch, C, 1);
  const a = scratchF32(scratch, C, 3), b = scratchF32(scratch, C, 4);
  const floor = Math.sqrt(<f64>eps);
  for (let c = 0; c < C; c++) {
    const mu = f64At(mean64, c), v = f64At(m264, c) / <f64>m;
    const sigma = Math.sqrt(v + <f64>eps), is = 1.0 / sigma;
    const s = max(<f64>f32At(renormStd, c), floor);
    const rc = min(max(sigma / s, rMin), rMax);
    const dc = min(max((mu - <f64>f32At(renormMean, c)) / s, -dMax), dMax);
    const g = <f64>f32At(gamma, c);
    f32Put(mean, c, <f32>mu);
    f32Put(var_, c, <f32>v);
    f32Put(invStd, c, <f32>is);
    f32Put(r, c, <f32>rc);
    f32Put(d, c, <f32>dc);
    f32Put(a, c, <f32>(g * is * rc));
    f32Put(b, c, <f32>(<f64>f32At(beta, c) + g * dc));
  }
}

export function bn_renorm_forward_train_nc(y: usize, mean: usize, var_: usize, invStd: usize, r: usize, d: usize, x: usize, gamma: usize, beta: usize, renormMean: usize, renormStd: usize, eps: f32, rMin: f64, rMax: f64, dMax: f64, rows: i32, C: i32, scratch: usize): void {
  statsNC(x, rows, C, scratch);
  finishRenorm(mean, var_, invStd, r, d, gamma, beta, renormMean, renormStd, eps, rMin, rMax, dMax, rows, C, scratch);
  colAffine(y, C, x, mean, scratchF32(scratch, C, 3), scratchF32(scratch, C, 4), -Infinity, rows, C);
}

export function bn_renorm_forward_train_nchw(y: usize, mean: usize, var_: usize, invStd: usize, r: usize, d: usize, x: usize, gamma: usize, beta: usize, renormMean: usize, renormStd: usize, eps: f32, rMin: f64, rMax: f64, dMax: f64, N: i32, C: i32, HW: i32, scratch: usize): void {
  statsNCHW(x, N, C, HW, scratch);
  finishRenorm(mean, var_, invStd, r, d, gamma, beta, renormMean, renormStd, eps, rMin, rMax, dMax, N * HW, C, scratch);
  const a = scratchF32(scratch, C, 3), b = scratchF32(scratch, C, 4);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const o = <usize>((n * C + c) * HW) << 2;
      planeAffine(y + o, x + o, HW, f32At(mean, c), f32At(a, c), f32At(b, c), -Infinity);
    }
  }
}

// Keras 2's renorm moving averages, factor f = the weight of the new batch (Keras's
// 1 - renorm_momentum): renormMean = (1 - f) renormMean + f mean, renormStd = (1 - f)
// renormStd + f sqrt(var + eps). Updates renormMean, renormStd in place.
export function bn_renorm_update(renormMean: usize, renormStd: usize, mean: usize, var_: usize, factor: f64, eps: f32, C: i32): void {
  const keep = 1.0 - factor;
  for (let c = 0; c < C; c++) {
    f32Put(renormMean, c, <f32>(keep * <f64>f32At(renormMean, c) + factor * <f64>f32At(mean, c)));
    f32Put(renormStd, c, <f32>(keep * <f64>f32At(renormStd, c) + factor * Math.sqrt(<f64>f32At(var_, c) + <f64>eps)));
  }
}
