// float64 reference twins of Batch Renormalization (Ioffe 2017, with Keras 2's statistics)
// and Ghost Batch Normalization (Hoffer et al. 2017, Keras 2's virtual_batch_size), built on
// the plain BN reference. Written for clarity, not speed.
import type { DataFormat } from "../../src/layers/batchnorm.js";
import { channelIndex, refBackward, refForwardTrain, refStats } from "./bn.js";

type Arr = ArrayLike<number>;

export interface RenormState {
  renormMean: Arr;
  renormStd: Arr;
  rMax: number;
  dMax: number;
}

/** r = clip(sigmaB / s, 1/rMax, rMax), d = clip((muB - renormMean) / s, -dMax, dMax), s = max(renormStd, sqrt(eps)). */
export function refRenormCorrection(mean: Arr, variance: Arr, st: RenormState, eps: number) {
  const C = mean.length;
  const r = new Float64Array(C), d = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const s = Math.max(st.renormStd[c], Math.sqrt(eps));
    r[c] = Math.min(Math.max(Math.sqrt(variance[c] + eps) / s, 1 / st.rMax), st.rMax);
    d[c] = Math.min(Math.max((mean[c] - st.renormMean[c]) / s, -st.dMax), st.dMax);
  }
  return { r, d };
}

/** Renorm training forward: y = gamma * ((x - muB) / sigmaB * r + d) + beta. */
export function refRenormForward(
  x: Arr,
  shape: readonly number[],
  opts: RenormState & { gamma?: Arr | null; beta?: Arr | null; eps?: number; dataFormat?: DataFormat },
) {
  const eps = opts.eps ?? 1e-5;
  const { C, of } = channelIndex(shape, opts.dataFormat);
  const gamma = opts.gamma ?? new Float64Array(C).fill(1), beta = opts.beta ?? new Float64Array(C);
  const s = refStats(x, shape, opts.dataFormat);
  const { r, d } = refRenormCorrection(s.mean, s.var, opts, eps);
  const invStd = s.var.map((v) => 1 / Math.sqrt(v + eps));
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const c = of(i);
    y[i] = gamma[c] * ((x[i] - s.mean[c]) * invStd[c] * r[c] + d[c]) + beta[c];
  }
  return { y, mean: s.mean, var: s.var, invStd, r, d, count: s.count };
}

/** Renorm backward with r, d constants: BN's backward with gamma * r; dgamma = r * sum(dy xhat) + d * sum(dy). */
export function refRenormBackward(
  dy: Arr,
  x: Arr,
  shape: readonly number[],
  opts: { r: Arr; d: Arr; gamma?: Arr | null; eps?: number; dataFormat?: DataFormat },
) {
  const { C } = channelIndex(shape, opts.dataFormat);
  const gamma = opts.gamma ?? new Float64Array(C).fill(1);
  const gr = Float64Array.from(gamma, (g, c) => g * opts.r[c]);
  const b = refBackward(dy, x, shape, { gamma: gr, eps: opts.eps, dataFormat: opts.dataFormat });
  // refBackward's dgamma is sum(dy * xhat): independent of gamma.
  const dgamma = Float64Array.from(b.dgamma, (g, c) => opts.r[c] * g + opts.d[c] * b.dbeta[c]);
  return { dx: b.dx, dgamma, dbeta: b.dbeta };
}

/** Keras 2's renorm moving averages: renormMean += f (muB - renormMean), renormStd += f (sqrt(varB + eps) - renormStd). */
export function refRenormUpdate(state: { renormMean: Float64Array; renormStd: Float64Array }, batch: { mean: Arr; var: Arr }, factor: number, eps: number): void {
  for (let c = 0; c < state.renormMean.length; c++) {
    state.renormMean[c] = (1 - factor) * state.renormMean[c] + factor * batch.mean[c];
    state.renormStd[c] = (1 - factor) * state.renormStd[c] + factor * Math.sqrt(batch.var[c] + eps);
  }
}

/** The G = N / v sub-batches of consecutive samples: each one's flat range and shape. */
function ghostSlices(shape: readonly number[], v: number) {
  const N = shape[0], per = shape.slice(1).reduce((a, b) => a * b, 1) * v;
  return Array.from({ length: N / v }, (_, g) => ({ from: g * per, to: (g + 1) * per, shape: [v, ...shape.slice(1)] }));
}

/**
 * Ghost BN training forward: each run of v consecutive samples normalized with its own
 * statistics; `moments` are Keras 2's averages of the sub-batches' means and biased variances.
 */
export function refGhostForward(
  x: Arr,
  shape: readonly number[],
  v: number,
  opts: { gamma?: Arr | null; beta?: Arr | null; eps?: number; dataFormat?: DataFormat } = {},
) {
  const { C } = channelIndex(shape, opts.dataFormat);
  const y = new Float64Array(x.length);
  const mean = new Float64Array(C), variance = new Float64Array(C);
  const parts = ghostSlices(shape, v);
  let count = 0;
  for (const p of parts) {
    const f = refForwardTrain(Array.prototype.slice.call(x, p.from, p.to), p.shape, opts);
    y.set(f.y, p.from);
    for (let c = 0; c < C; c++) {
      mean[c] += f.mean[c] / parts.length;
      variance[c] += f.var[c] / parts.length;
    }
    count = f.count;
  }
  return { y, moments: { mean, var: variance, count } };
}

/** Backward of refGhostForward: each sub-batch's BN backward; dgamma, dbeta summed over them. */
export function refGhostBackward(dy: Arr, x: Arr, shape: readonly number[], v: number, opts: { gamma?: Arr | null; eps?: number; dataFormat?: DataFormat } = {}) {
  const { C } = channelIndex(shape, opts.dataFormat);
  const dx = new Float64Array(x.length), dgamma = new Float64Array(C), dbeta = new Float64Array(C);
  for (const p of ghostSlices(shape, v)) {
    const sl = (a: Arr) => Array.prototype.slice.call(a, p.from, p.to) as number[];
    const b = refBackward(sl(dy), sl(x), p.shape, opts);
    dx.set(b.dx, p.from);
    for (let c = 0; c < C; c++) {
      dgamma[c] += b.dgamma[c];
      dbeta[c] += b.dbeta[c];
    }
  }
  return { dx, dgamma, dbeta };
}
