// The float64 reference twin of every Batch Normalization kernel (Ioffe & Szegedy 2015,
// Alg. 1 and 2 and the backward of Sec. 3), written for clarity, not speed. The tests and
// the benchmarks check the wasm kernels against these and nothing else.
import type { DataFormat } from "../../src/layers/batchnorm.js";

type Arr = ArrayLike<number>;

/** Index of the channel of each flat element: axis 1 (channelsFirst) or the last axis. */
export function channelIndex(shape: readonly number[], dataFormat: DataFormat = "channelsFirst"): { C: number; of: (i: number) => number } {
  if (dataFormat === "channelsLast" || shape.length === 2) {
    const C = shape[shape.length - 1];
    return { C, of: (i) => i % C };
  }
  const C = shape[1];
  const inner = shape.slice(2).reduce((a, b) => a * b, 1);
  return { C, of: (i) => Math.floor(i / inner) % C };
}

export interface RefStats {
  mean: Float64Array;
  /** Biased variance. */
  var: Float64Array;
  count: number;
}

/** Two-pass mean and biased variance per channel, in float64. */
export function refStats(x: Arr, shape: readonly number[], dataFormat: DataFormat = "channelsFirst"): RefStats {
  const { C, of } = channelIndex(shape, dataFormat);
  const mean = new Float64Array(C), v = new Float64Array(C), n = new Float64Array(C);
  for (let i = 0; i < x.length; i++) {
    mean[of(i)] += x[i];
    n[of(i)] += 1;
  }
  for (let c = 0; c < C; c++) mean[c] /= n[c];
  for (let i = 0; i < x.length; i++) {
    const d = x[i] - mean[of(i)];
    v[of(i)] += d * d;
  }
  for (let c = 0; c < C; c++) v[c] /= n[c];
  return { mean, var: v, count: x.length / C };
}

function orOnes(a: Arr | null | undefined, C: number, fill: number): Arr {
  return a ?? new Float64Array(C).fill(fill);
}

/** Training forward: y = (x - mu) / sqrt(var + eps) * gamma + beta with batch statistics. */
export function refForwardTrain(
  x: Arr,
  shape: readonly number[],
  opts: { gamma?: Arr | null; beta?: Arr | null; eps?: number; dataFormat?: DataFormat } = {},
) {
  const eps = opts.eps ?? 1e-5;
  const { C, of } = channelIndex(shape, opts.dataFormat);
  const gamma = orOnes(opts.gamma, C, 1), beta = orOnes(opts.beta, C, 0);
  const s = refStats(x, shape, opts.dataFormat);
  const invStd = s.var.map((v) => 1 / Math.sqrt(v + eps));
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const c = of(i);
    y[i] = (x[i] - s.mean[c]) * invStd[c] * gamma[c] + beta[c];
  }
  return { y, mean: s.mean, var: s.var, invStd, count: s.count };
}

/**
 * Backward. With batch statistics (training): dx = gamma*invStd/m * (m*dy - sum dy - xhat * sum dy*xhat).
 * With fixed statistics (eval): dx = gamma * invStd * dy.
 */
export function refBackward(
  dy: Arr,
  x: Arr,
  shape: readonly number[],
  opts: { gamma?: Arr | null; eps?: number; dataFormat?: DataFormat; fixed?: { mean: Arr; var: Arr } } = {},
) {
  const eps = opts.eps ?? 1e-5;
  const { C, of } = channelIndex(shape, opts.dataFormat);
  const gamma = orOnes(opts.gamma, C, 1);
  const st = opts.fixed ?? refStats(x, shape, opts.dataFormat);
  const m = x.length / C;
  const invStd = Array.from({ length: C }, (_, c) => 1 / Math.sqrt(st.var[c] + eps));
  const dgamma = new Float64Array(C), dbeta = new Float64Array(C);
  for (let i = 0; i < x.length; i++) {
    const c = of(i);
    dbeta[c] += dy[i];
    dgamma[c] += dy[i] * (x[i] - st.mean[c]) * invStd[c];
  }
  const dx = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const c = of(i);
    if (opts.fixed) dx[i] = gamma[c] * invStd[c] * dy[i];
    else {
      const xhat = (x[i] - st.mean[c]) * invStd[c];
      dx[i] = ((gamma[c] * invStd[c]) / m) * (m * dy[i] - dbeta[c] - xhat * dgamma[c]);
    }
  }
  return { dx, dgamma, dbeta };
}

/** The inference fold: a = gamma / sqrt(runVar + eps), b = beta - a * runMean. */
export function refFold(runMean: Arr, runVar: Arr, opts: { gamma?: Arr | null; beta?: Arr | null; eps?: number } = {}) {
  const C = runMean.length, eps = opts.eps ?? 1e-5;
  const gamma = orOnes(opts.gamma, C, 1), beta = orOnes(opts.beta, C, 0);
  const a = new Float64Array(C), b = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    a[c] = gamma[c] / Math.sqrt(runVar[c] + eps);
    b[c] = beta[c] - a[c] * runMean[c];
  }
  return { a, b };
}

/** Inference forward: y = a*x + b per channel, optionally max(0, y). */
export function refInference(
  x: Arr,
  shape: readonly number[],
  opts: { runMean: Arr; runVar: Arr; gamma?: Arr | null; beta?: Arr | null; eps?: number; dataFormat?: DataFormat; relu?: boolean },
) {
  const { of } = channelIndex(shape, opts.dataFormat);
  const { a, b } = refFold(opts.runMean, opts.runVar, opts);
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const c = of(i);
    const v = a[c] * x[i] + b[c];
    y[i] = opts.relu ? Math.max(0, v) : v;
  }
  return y;
}

/**
 * PyTorch's running-estimate update after one training batch of m values per channel:
 * r = (1 - f) r + f * batch with f = momentum, or 1/numBatchesTracked when momentum is null;
 * the variance uses the unbiased m/(m-1) * var.
 */
export function refRunningUpdate(
  state: { mean: Float64Array; var: Float64Array; numBatchesTracked: number },
  batch: { mean: Arr; var: Arr; count: number },
  momentum: number | null,
): void {
  state.numBatchesTracked += 1;
  const f = momentum ?? 1 / state.numBatchesTracked;
  const unbias = batch.count / (batch.count - 1);
  for (let c = 0; c < state.mean.length; c++) {
    state.mean[c] = (1 - f) * state.mean[c] + f * batch.mean[c];
    state.var[c] = (1 - f) * state.var[c] + f * batch.var[c] * unbias;
  }
}

/** relu(bn(x)) with the batch's statistics (training) or the running ones (`fixed`). */
export function refBnReluForward(
  x: Arr,
  shape: readonly number[],
  opts: { gamma?: Arr | null; beta?: Arr | null; eps?: number; dataFormat?: DataFormat; fixed?: { mean: Arr; var: Arr } } = {},
) {
  const eps = opts.eps ?? 1e-5;
  const { C, of } = channelIndex(shape, opts.dataFormat);
  const gamma = orOnes(opts.gamma, C, 1), beta = orOnes(opts.beta, C, 0);
  const st = opts.fixed ?? refStats(x, shape, opts.dataFormat);
  const invStd = Array.from({ length: C }, (_, c) => 1 / Math.sqrt(st.var[c] + eps));
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const c = of(i);
    y[i] = Math.max(0, (x[i] - st.mean[c]) * invStd[c] * gamma[c] + beta[c]);
  }
  return { y, mean: st.mean, var: st.var, invStd };
}

/** Backward of relu(bn(x)): BatchNorm's backward of dy masked where the pre-activation is > 0. */
export function refBnReluBackward(
  dy: Arr,
  x: Arr,
  shape: readonly number[],
  opts: { gamma?: Arr | null; beta?: Arr | null; eps?: number; dataFormat?: DataFormat; fixed?: { mean: Arr; var: Arr } } = {},
) {
  const eps = opts.eps ?? 1e-5;
  const { C, of } = channelIndex(shape, opts.dataFormat);
  const gamma = orOnes(opts.gamma, C, 1), beta = orOnes(opts.beta, C, 0);
  const st = opts.fixed ?? refStats(x, shape, opts.dataFormat);
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const c = of(i);
    const v = ((x[i] - st.mean[c]) / Math.sqrt(st.var[c] + eps)) * gamma[c] + beta[c];
    g[i] = v > 0 ? dy[i] : 0;
  }
  return refBackward(g, x, shape, { gamma, eps, dataFormat: opts.dataFormat, fixed: opts.fixed });
}
