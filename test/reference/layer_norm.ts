// The float64 reference twin of the LayerNorm kernels (assembly/layer_norm.ts; Ba et al.
// 2016): x as [rows, D], per row two-pass mean and biased variance,
// y = (x - mu) / sqrt(var + eps) * gamma[d] + beta[d], and its backward.
type Arr = ArrayLike<number>;

export interface LayerOpts {
  gamma?: Arr | null;
  beta?: Arr | null;
  eps?: number;
}

export function refLayerNormForward(x: Arr, D: number, o: LayerOpts = {}) {
  const rows = x.length / D, eps = o.eps ?? 1e-5;
  const mean = new Float64Array(rows), invStd = new Float64Array(rows), y = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let d = 0; d < D; d++) s += x[r * D + d];
    const m = s / D;
    let v = 0;
    for (let d = 0; d < D; d++) v += (x[r * D + d] - m) ** 2;
    mean[r] = m;
    invStd[r] = 1 / Math.sqrt(v / D + eps);
    for (let d = 0; d < D; d++) y[r * D + d] = (x[r * D + d] - m) * invStd[r] * (o.gamma ? o.gamma[d] : 1) + (o.beta ? o.beta[d] : 0);
  }
  return { y, mean, invStd };
}

/** dx = invStd * (t - mean(t) - xhat * mean(t * xhat)), t = dy * gamma; dgamma = sum_rows dy * xhat; dbeta = sum_rows dy. */
export function refLayerNormBackward(dy: Arr, x: Arr, D: number, o: LayerOpts = {}) {
  const rows = x.length / D;
  const f = refLayerNormForward(x, D, o);
  const dx = new Float64Array(x.length), dgamma = new Float64Array(D), dbeta = new Float64Array(D);
  for (let r = 0; r < rows; r++) {
    let st = 0, stx = 0;
    for (let d = 0; d < D; d++) {
      const i = r * D + d, xh = (x[i] - f.mean[r]) * f.invStd[r], t = dy[i] * (o.gamma ? o.gamma[d] : 1);
      st += t;
      stx += t * xh;
      dgamma[d] += dy[i] * xh;
      dbeta[d] += dy[i];
    }
    for (let d = 0; d < D; d++) {
      const i = r * D + d, xh = (x[i] - f.mean[r]) * f.invStd[r], t = dy[i] * (o.gamma ? o.gamma[d] : 1);
      dx[i] = f.invStd[r] * (t - st / D - (xh * stx) / D);
    }
  }
  return { dx, dgamma, dbeta };
}
