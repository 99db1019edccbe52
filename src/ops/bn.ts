// Batch Normalization ops (Ioffe & Szegedy 2015): the only code that calls the bn_* and
// scale_shift_* kernels. Each op maps tensors to one kernel call: it picks the kernel for
// the layout (rows x C with channels contiguous, or N x C planes of HW) and passes
// pointers and sizes. Layers and the functional API call these, never the kernels.
import type { Backend } from "../backend.js";
import type { Shape } from "../shape.js";
import type { Tensor } from "../tensor.js";
import { splitCall } from "./split.js";
import { bnApplyParallel, bnBackwardParallel, bnForwardTrainParallel } from "./bn_parallel.js";

export type DataFormat = "channelsFirst" | "channelsLast";

/** How a shape maps onto the kernels: rows x C (channels contiguous) or N x C planes of HW; m values per channel. */
export type BnLayout =
  | { planar: false; rows: number; C: number; m: number }
  | { planar: true; N: number; C: number; HW: number; m: number };

/** The kernel layout of a shape whose channel axis is 1 (channelsFirst) or last (channelsLast). */
export function bnLayout(shape: Shape, dataFormat: DataFormat): BnLayout {
  if (dataFormat === "channelsLast") {
    const C = shape[shape.length - 1];
    const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
    return { planar: false, rows, C, m: rows };
  }
  const N = shape[0], C = shape[1];
  if (shape.length === 2) return { planar: false, rows: N, C, m: N };
  const HW = shape.slice(2).reduce((a, b) => a * b, 1);
  return { planar: true, N, C, HW, m: N * HW };
}

/** Bytes of per-channel scratch the statistics kernels need for C channels. */
export function bnScratchBytes(backend: Backend, C: number): number {
  return backend.kernels.bn_scratch_bytes(C);
}

/** Per-channel results of a training forward: the batch mean, biased variance and 1/sqrt(var + eps). Written. */
export interface BnBatchStats {
  mean: Tensor;
  var: Tensor;
  invStd: Tensor;
}

/** y = (x - mean) * invStd * gamma + beta with the batch's statistics, which it writes to `stats`. */
export function bnForwardTrain(y: Tensor, stats: BnBatchStats, x: Tensor, gamma: Tensor, beta: Tensor, eps: number, L: BnLayout, scratch: Tensor): void {
  if (bnForwardTrainParallel(y, L.C, stats, x, gamma, beta, eps, L, false, scratch)) return;
  const k = x.backend.kernels;
  const { mean, invStd } = stats;
  if (L.planar) k.bn_forward_train_nchw(y.ptr, mean.ptr, stats.var.ptr, invStd.ptr, x.ptr, gamma.ptr, beta.ptr, eps, L.N, L.C, L.HW, scratch.ptr);
  else k.bn_forward_train_nc(y.ptr, mean.ptr, stats.var.ptr, invStd.ptr, x.ptr, gamma.ptr, beta.ptr, eps, L.rows, L.C, scratch.ptr);
}

/**
 * dx (written), dgamma and dbeta (accumulated; null when the layer has no such parameter).
 * batchStats: the forward normalized with the batch's statistics (their gradient flows into
 * dx) rather than fixed running ones.
 */
export function bnBackward(
  dx: Tensor, dgamma: Tensor | null, dbeta: Tensor | null,
  dy: Tensor, x: Tensor, mean: Tensor, invStd: Tensor, gamma: Tensor, L: BnLayout, batchStats: boolean, scratch: Tensor,
): void {
  if (bnBackwardParallel(dx, dgamma, dbeta, dy, L.C, x, mean, invStd, gamma, null, L, batchStats, false, scratch)) return;
  const k = x.backend.kernels;
  const dg = dgamma ? dgamma.ptr : 0, db = dbeta ? dbeta.ptr : 0, bs = batchStats ? 1 : 0;
  if (L.planar) k.bn_backward_nchw(dx.ptr, dg, db, dy.ptr, x.ptr, mean.ptr, invStd.ptr, gamma.ptr, L.N, L.C, L.HW, bs, scratch.ptr);
  else k.bn_backward_nc(dx.ptr, dg, db, dy.ptr, x.ptr, mean.ptr, invStd.ptr, gamma.ptr, L.rows, L.C, bs, scratch.ptr);
}

/** Inference's folded map y = a*x + b: a = gamma / sqrt(runVar + eps), b = beta - a * runMean. Writes a, b. */
export function bnFold(a: Tensor, b: Tensor, gamma: Tensor, beta: Tensor, runMean: Tensor, runVar: Tensor, eps: number): void {
  a.backend.kernels.bn_fold(a.ptr, b.ptr, gamma.ptr, beta.ptr, runMean.ptr, runVar.ptr, eps, a.size);
}

/** y = a[c] * x + b[c] per channel, then max(0, y) when relu. Writes y. */
export function scaleShift(y: Tensor, x: Tensor, a: Tensor, b: Tensor, L: BnLayout, relu: boolean): void {
  const k = x.backend.kernels, r = relu ? 1 : 0;
  if (L.planar) {
    const img = 4 * L.C * L.HW;
    if (splitCall(x.backend, "scale_shift_nchw", 2 * x.size, L.N, 1, (s, e) => [y.ptr + s * img, x.ptr + s * img, a.ptr, b.ptr, e - s, L.C, L.HW, r])) return;
    k.scale_shift_nchw(y.ptr, x.ptr, a.ptr, b.ptr, L.N, L.C, L.HW, r);
  } else {
    const row = 4 * L.C;
    if (splitCall(x.backend, "scale_shift_nc", 2 * x.size, L.rows, 4, (s, e) => [y.ptr + s * row, x.ptr + s * row, a.ptr, b.ptr, e - s, L.C, r])) return;
    k.scale_shift_nc(y.ptr, x.ptr, a.ptr, b.ptr, L.rows, L.C, r);
  }
}

/** runMean = (1 - f) runMean + f mean; runVar = (1 - f) runVar + f var * unbias. Updates in place. */
export function bnUpdateRunning(runMean: Tensor, runVar: Tensor, stats: BnBatchStats, factor: number, unbias: number): void {
  runMean.backend.kernels.bn_update_running(runMean.ptr, runVar.ptr, stats.mean.ptr, stats.var.ptr, factor, unbias, runMean.size);
}

/** mean = runMean, invStd = 1 / sqrt(runVar + eps): what backward of an eval-mode forward needs. Writes mean, invStd. */
export function bnSavedFromRunning(mean: Tensor, invStd: Tensor, runMean: Tensor, runVar: Tensor, eps: number): void {
  mean.backend.kernels.bn_saved_from_running(mean.ptr, invStd.ptr, runMean.ptr, runVar.ptr, eps, mean.size);
}

/** The row stride (floats) of a channels-last tensor of C channels that is contiguous or a channel slice. */
function rowStride(t: Tensor, C: number): number {
  const s = t.strides[t.strides.length - 2] ?? C;
  return t.shape.length < 2 ? C : s;
}

/**
 * Training forward fused with ReLU over rows x C (channels-last): y = max(0, bn(x)), y
 * contiguous or a channel slice. Writes y and the batch statistics.
 */
export function bnReluForwardTrain(y: Tensor, stats: BnBatchStats, x: Tensor, gamma: Tensor, beta: Tensor, eps: number, L: BnLayout, scratch: Tensor): void {
  if (L.planar) throw new Error("bnReluForwardTrain: only the channels-last layout is supported");
  if (bnForwardTrainParallel(y, rowStride(y, L.C), stats, x, gamma, beta, eps, L, true, scratch)) return;
  x.backend.kernels.bn_relu_forward_train_nc(y.ptr, rowStride(y, L.C), stats.mean.ptr, stats.var.ptr, stats.invStd.ptr, x.ptr, gamma.ptr, beta.ptr, eps, L.rows, L.C, scratch.ptr);
}

/** max(0, (x - mean) * gamma * invStd + beta) from given statistics, y contiguous or a channel slice. Writes y. */
export function bnReluApply(y: Tensor, x: Tensor, mean: Tensor, invStd: Tensor, gamma: Tensor, beta: Tensor, L: BnLayout, scratch: Tensor): void {
  if (L.planar) throw new Error("bnReluApply: only the channels-last layout is supported");
  if (bnApplyParallel(y, rowStride(y, L.C), x, mean, invStd, gamma, beta, L, true, scratch)) return;
  x.backend.kernels.bn_relu_apply_nc(y.ptr, rowStride(y, L.C), x.ptr, mean.ptr, invStd.ptr, gamma.ptr, beta.ptr, L.rows, L.C, scratch.ptr);
}

/** Backward of relu(bn(x)); dy contiguous or a channel slice, dx contiguous (written); dgamma, dbeta accumulated. */
export function bnReluBackward(
  dx: Tensor, dgamma: Tensor | null, dbeta: Tensor | null,
  dy: Tensor, x: Tensor, mean: Tensor, invStd: Tensor, gamma: Tensor, beta: Tensor, L: BnLayout, batchStats: boolean, scratch: Tensor,
): void {
  if (L.planar) throw new Error("bnReluBackward: only the channels-last layout is supported");
  if (bnBackwardParallel(dx, dgamma, dbeta, dy, rowStride(dy, L.C), x, mean, invStd, gamma, beta, L, batchStats, true, scratch)) return;
  x.backend.kernels.bn_relu_backward_nc(dx.ptr, dgamma ? dgamma.ptr : 0, dbeta ? dbeta.ptr : 0, dy.ptr, rowStride(dy, L.C), x.ptr, mean.ptr, invStd.ptr, gamma.ptr, beta.ptr, L.rows, L.C, batchStats ? 1 : 0, scratch.ptr);
}
