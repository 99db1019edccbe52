// The running estimates BN keeps for inference (PyTorch's rule, Ioffe & Szegedy 2015 Alg. 2
// uses the unbiased variance): r = (1 - f) r + f * batch, with f = momentum, or
// 1 / numBatchesTracked for a cumulative average, and the batch variance scaled by
// unbias = m / (m - 1). Updates runMean, runVar in place.
import { f32At, f32Put } from "./common";

export function bn_update_running(runMean: usize, runVar: usize, mean: usize, var_: usize, factor: f64, unbias: f64, C: i32): void {
  const keep = 1.0 - factor;
  for (let c = 0; c < C; c++) {
    f32Put(runMean, c, <f32>(keep * <f64>f32At(runMean, c) + factor * <f64>f32At(mean, c)));
    f32Put(runVar, c, <f32>(keep * <f64>f32At(runVar, c) + factor * <f64>f32At(var_, c) * unbias));
  }
}

// mean = runMean, invStd = 1 / sqrt(runVar + eps): what backward needs after an eval-mode
// forward, which differentiates the fixed affine map. Writes mean, invStd.
export function bn_saved_from_running(mean: usize, invStd: usize, runMean: usize, runVar: usize, eps: f32, C: i32): void {
  for (let c = 0; c < C; c++) {
    f32Put(mean, c, f32At(runMean, c));
    f32Put(invStd, c, <f32>(1.0 / Math.sqrt(<f64>f32At(runVar, c) + <f64>eps)));
  }
}
