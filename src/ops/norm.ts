// Per-sample normalization ops (LayerNorm, GroupNorm, InstanceNorm): the only code that calls
// the layer_norm_* and group_norm_* kernels. Each op maps tensors to one kernel call.
import type { Backend } from "../backend.js";
import type { Shape } from "../shape.js";
import type { Tensor } from "../tensor.js";
import type { DataFormat } from "./bn.js";

/** A GroupNorm input as the kernels see it: N samples of C channels by HW positions, G groups. */
export interface GroupLayout {
  N: number;
  C: number;
  HW: number;
  G: number;
  channelsLast: boolean;
}

/** The layout of a shape with channels at axis 1 (channelsFirst) or last (channelsLast), in G groups. */
export function groupLayout(shape: Shape, dataFormat: DataFormat, G: number): GroupLayout {
  const last = dataFormat === "channelsLast";
  const N = shape[0], C = last ? shape[shape.length - 1] : shape[1];
  const inner = last ? shape.slice(1, -1) : shape.slice(2);
  return { N, C, HW: inner.reduce((a, b) => a * b, 1), G, channelsLast: last };
}

/** groupLayout() of the last shape a caller asked for (`cache` is the caller's), rebuilt when the shape changes. */
export function cachedGroupLayout(cache: { shape: Shape; layout: GroupLayout } | null, shape: Shape, dataFormat: DataFormat, G: number): { shape: Shape; layout: GroupLayout } {
  if (cache && cache.shape.length === shape.length && cache.shape.every((d, i) => d === shape[i])) return cache;
  return { shape: [...shape], layout: groupLayout(shape, dataFormat, G) };
}

/** Bytes of scratch the norm kernels need for C channels (or D normalized elements). */
export function normScratchBytes(backend: Backend, C: number): number {
  return backend.kernels.norm_scratch_bytes(C);
}

/** Per-row (LayerNorm) or per-sample-and-group statistics a forward writes; var may be null (not written). */
export interface NormStats {
  mean: Tensor;
  var: Tensor | null;
  invStd: Tensor;
}

/** y = (x - mean_r) * invStd_r * gamma + beta over rows of D values. Writes y, stats.mean, stats.invStd. */
export function layerNormForward(y: Tensor, stats: NormStats, x: Tensor, gamma: Tensor, beta: Tensor, eps: number, rows: number, D: number): void {
  x.backend.kernels.layer_norm_forward(y.ptr, stats.mean.ptr, stats.invStd.ptr, x.ptr, gamma.ptr, beta.ptr, eps, rows, D);
}

/** dx (written), dgamma and dbeta (accumulated; null: not computed) of layerNormForward. */
export function layerNormBackward(dx: Tensor, dgamma: Tensor | null, dbeta: Tensor | null, dy: Tensor, x: Tensor, stats: NormStats, gamma: Tensor, rows: number, D: number, scratch: Tensor): void {
  x.backend.kernels.layer_norm_backward(dx.ptr, dgamma?.ptr ?? 0, dbeta?.ptr ?? 0, dy.ptr, x.ptr, stats.mean.ptr, stats.invStd.ptr, gamma.ptr, rows, D, scratch.ptr);
}

/** y = (x - mean_ng) * invStd_ng * gamma[c] + beta[c]. Writes y and the N*G statistics. */
export function groupNormForward(y: Tensor, stats: NormStats, x: Tensor, gamma: Tensor, beta: Tensor, eps: number, L: GroupLayout, scratch: Tensor): void {
  const k = x.backend.kernels;
  const v = stats.var?.ptr ?? 0;
  if (L.channelsLast) k.group_norm_forward_nhwc(y.ptr, stats.mean.ptr, v, stats.invStd.ptr, x.ptr, gamma.ptr, beta.ptr, eps, L.N, L.HW, L.C, L.G, scratch.ptr);
  else k.group_norm_forward_nchw(y.ptr, stats.mean.ptr, v, stats.invStd.ptr, x.ptr, gamma.ptr, beta.ptr, eps, L.N, L.C, L.HW, L.G);
}

/** dx (written), dgamma and dbeta (accumulated; null: not computed) of groupNormForward. */
export function groupNormBackward(dx: Tensor, dgamma: Tensor | null, dbeta: Tensor | null, dy: Tensor, x: Tensor, stats: NormStats, gamma: Tensor, L: GroupLayout, scratch: Tensor): void {
  const k = x.backend.kernels;
  const dg = dgamma?.ptr ?? 0, db = dbeta?.ptr ?? 0;
  if (L.channelsLast) k.group_norm_backward_nhwc(dx.ptr, dg, db, dy.ptr, x.ptr, stats.mean.ptr, stats.invStd.ptr, gamma.ptr, L.N, L.HW, L.C, L.G, scratch.ptr);
  else k.group_norm_backward_nchw(dx.ptr, dg, db, dy.ptr, x.ptr, stats.mean.ptr, stats.invStd.ptr, gamma.ptr, L.N, L.C, L.HW, L.G, scratch.ptr);
}

/**
 * InstanceNorm's running estimates, as PyTorch updates them (one BN update per sample on
 * copies of the estimates, then their average): r = (1 - f) r + f * mean_n(stat_nc), the
 * variance's statistic unbiased by HW / (HW - 1). mean and var hold N*C values. Updates in place.
 */
export function instanceNormUpdateRunning(runMean: Tensor, runVar: Tensor, mean: Tensor, var_: Tensor, N: number, factor: number, unbias: number): void {
  const C = runMean.size;
  const rm = runMean.data, rv = runVar.data, m = mean.data, v = var_.data;
  for (let c = 0; c < C; c++) {
    let sm = 0, sv = 0;
    for (let n = 0; n < N; n++) {
      sm += m[n * C + c];
      sv += v[n * C + c];
    }
    rm[c] = (1 - factor) * rm[c] + (factor * sm) / N;
    rv[c] = (1 - factor) * rv[c] + (factor * unbias * sv) / N;
  }
}
