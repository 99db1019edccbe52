// The float64 reference twin of the GroupNorm kernels (assembly/group_norm.ts; Wu & He
// 2018), InstanceNorm being G = C: per sample n and group g, two-pass mean and biased
// variance, y = (x - mu) / sqrt(var + eps) * gamma[c] + beta[c], and the backward of that
// map with the group's statistics (or, `fixed`, with given per-channel statistics: eval
// mode of an InstanceNorm with running estimates).
import type { DataFormat } from "../../src/layers/batchnorm.js";

type Arr = ArrayLike<number>;

/** Sample, channel and statistics slot (n * G + group) of each flat element. */
export function groupIndex(shape: readonly number[], dataFormat: DataFormat, G: number) {
  const last = dataFormat === "channelsLast";
  const N = shape[0], C = last ? shape[shape.length - 1] : shape[1];
  const HW = shape.reduce((a, b) => a * b, 1) / (N * C);
  const chan = last ? (i: number) => i % C : (i: number) => Math.floor(i / HW) % C;
  const Cg = C / G;
  return { N, C, HW, G, M: Cg * HW, chan, slot: (i: number) => Math.floor(i / (C * HW)) * G + Math.floor(chan(i) / Cg) };
}

export interface GroupOpts {
  G: number;
  dataFormat?: DataFormat;
  gamma?: Arr | null;
  beta?: Arr | null;
  eps?: number;
}

export function refGroupStats(x: Arr, shape: readonly number[], o: GroupOpts) {
  const ix = groupIndex(shape, o.dataFormat ?? "channelsFirst", o.G);
  const K = ix.N * o.G;
  const mean = new Float64Array(K), v = new Float64Array(K);
  for (let i = 0; i < x.length; i++) mean[ix.slot(i)] += x[i];
  for (let k = 0; k < K; k++) mean[k] /= ix.M;
  for (let i = 0; i < x.length; i++) v[ix.slot(i)] += (x[i] - mean[ix.slot(i)]) ** 2;
  for (let k = 0; k < K; k++) v[k] /= ix.M;
  return { mean, var: v, invStd: v.map((s) => 1 / Math.sqrt(s + (o.eps ?? 1e-5))), ix };
}

export function refGroupNormForward(x: Arr, shape: readonly number[], o: GroupOpts) {
  const s = refGroupStats(x, shape, o);
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const k = s.ix.slot(i), c = s.ix.chan(i);
    y[i] = (x[i] - s.mean[k]) * s.invStd[k] * (o.gamma ? o.gamma[c] : 1) + (o.beta ? o.beta[c] : 0);
  }
  return { y, mean: s.mean, var: s.var, invStd: s.invStd };
}

/**
 * dx = invStd * (t - mean_group(t) - xhat * mean_group(t * xhat)), t = dy * gamma[c];
 * dgamma[c] = sum dy * xhat, dbeta[c] = sum dy. With `fixed` (per-channel mean and var):
 * dx = gamma * invStd * dy.
 */
export function refGroupNormBackward(dy: Arr, x: Arr, shape: readonly number[], o: GroupOpts & { fixed?: { mean: Arr; var: Arr } }) {
  const s = refGroupStats(x, shape, o);
  const { ix } = s;
  const eps = o.eps ?? 1e-5;
  const g = (c: number) => (o.gamma ? o.gamma[c] : 1);
  const meanOf = (i: number) => (o.fixed ? o.fixed.mean[ix.chan(i)] : s.mean[ix.slot(i)]);
  const isOf = (i: number) => (o.fixed ? 1 / Math.sqrt(o.fixed.var[ix.chan(i)] + eps) : s.invStd[ix.slot(i)]);
  const K = ix.N * o.G;
  const st = new Float64Array(K), stx = new Float64Array(K);
  const dgamma = new Float64Array(ix.C), dbeta = new Float64Array(ix.C);
  for (let i = 0; i < x.length; i++) {
    const c = ix.chan(i), xh = (x[i] - meanOf(i)) * isOf(i), t = dy[i] * g(c);
    st[ix.slot(i)] += t;
    stx[ix.slot(i)] += t * xh;
    dgamma[c] += dy[i] * xh;
    dbeta[c] += dy[i];
  }
  const dx = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const k = ix.slot(i), c = ix.chan(i), xh = (x[i] - meanOf(i)) * isOf(i), t = dy[i] * g(c);
    dx[i] = o.fixed ? isOf(i) * t : isOf(i) * (t - st[k] / ix.M - (xh * stx[k]) / ix.M);
  }
  return { dx, dgamma, dbeta };
}
