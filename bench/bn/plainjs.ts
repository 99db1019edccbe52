// The plain JavaScript baseline: what a straightforward implementation on Float32Arrays
// does, with no WebAssembly. Two-pass statistics (mean, then the squared deviations, both
// accumulated in float64 JS numbers), then y; backward in two passes (the sums, then dx);
// inference as a*x + b. Layouts: [rows, C] (NC and channels-last) and [N, C, HW] planes.
import type { BnLayout } from "../../src/index.js";

export interface PlainTrainOut {
  y: Float32Array;
  mean: Float32Array;
  var: Float32Array;
  invStd: Float32Array;
}

export interface PlainGrads {
  dx: Float32Array;
  dgamma: Float32Array;
  dbeta: Float32Array;
}

/** Calls body(offset, length, c) for every contiguous run of one channel's values. */
function forRuns(L: BnLayout, body: (o: number, len: number, c: number) => void): void {
  if (L.planar) {
    for (let n = 0; n < L.N; n++) for (let c = 0; c < L.C; c++) body((n * L.C + c) * L.HW, L.HW, c);
  }
}

export class PlainBatchNorm {
  readonly L: BnLayout;
  readonly size: number;
  readonly out: PlainTrainOut;
  readonly grads: PlainGrads;
  readonly yInf: Float32Array;
  private readonly sum1: Float64Array;
  private readonly sum2: Float64Array;

  constructor(L: BnLayout) {
    this.L = L;
    this.size = L.m * L.C;
    const C = L.C;
    this.out = { y: new Float32Array(this.size), mean: new Float32Array(C), var: new Float32Array(C), invStd: new Float32Array(C) };
    this.grads = { dx: new Float32Array(this.size), dgamma: new Float32Array(C), dbeta: new Float32Array(C) };
    this.yInf = new Float32Array(this.size);
    this.sum1 = new Float64Array(C);
    this.sum2 = new Float64Array(C);
  }

  /** Training forward: batch mean, biased var, invStd, y = (x - mean) * invStd * gamma + beta. */
  forwardTrain(x: Float32Array, gamma: Float32Array, beta: Float32Array, eps: number): PlainTrainOut {
    const { L, out } = this;
    const C = L.C, m = L.m;
    const s1 = this.sum1, s2 = this.sum2;
    s1.fill(0);
    s2.fill(0);
    const { y, mean, var: v, invStd } = out;
    if (L.planar) {
      forRuns(L, (o, len, c) => {
        let s = 0;
        for (let i = o; i < o + len; i++) s += x[i];
        s1[c] += s;
      });
      for (let c = 0; c < C; c++) mean[c] = s1[c] / m;
      forRuns(L, (o, len, c) => {
        const mu = mean[c];
        let s = 0;
        for (let i = o; i < o + len; i++) {
          const d = x[i] - mu;
          s += d * d;
        }
        s2[c] += s;
      });
      for (let c = 0; c < C; c++) {
        v[c] = s2[c] / m;
        invStd[c] = 1 / Math.sqrt(s2[c] / m + eps);
      }
      forRuns(L, (o, len, c) => {
        const mu = mean[c], a = invStd[c] * gamma[c], b = beta[c];
        for (let i = o; i < o + len; i++) y[i] = (x[i] - mu) * a + b;
      });
    } else {
      const rows = L.rows;
      for (let r = 0, i = 0; r < rows; r++) for (let c = 0; c < C; c++, i++) s1[c] += x[i];
      for (let c = 0; c < C; c++) mean[c] = s1[c] / m;
      for (let r = 0, i = 0; r < rows; r++) {
        for (let c = 0; c < C; c++, i++) {
          const d = x[i] - mean[c];
          s2[c] += d * d;
        }
      }
      const a = new Float32Array(C);
      for (let c = 0; c < C; c++) {
        v[c] = s2[c] / m;
        invStd[c] = 1 / Math.sqrt(s2[c] / m + eps);
        a[c] = invStd[c] * gamma[c];
      }
      for (let r = 0, i = 0; r < rows; r++) for (let c = 0; c < C; c++, i++) y[i] = (x[i] - mean[c]) * a[c] + beta[c];
    }
    return out;
  }

  /**
   * Backward with batch statistics: dbeta = sum dy, dgamma = sum dy * xhat,
   * dx = gamma * invStd / m * (m * dy - dbeta - xhat * dgamma). Writes dgamma, dbeta, dx.
   */
  backward(dy: Float32Array, x: Float32Array, mean: Float32Array, invStd: Float32Array, gamma: Float32Array): PlainGrads {
    const { L, grads } = this;
    const C = L.C, m = L.m;
    const sdy = this.sum1, sdyx = this.sum2;
    sdy.fill(0);
    sdyx.fill(0);
    const { dx, dgamma, dbeta } = grads;
    const k1 = new Float32Array(C), k2 = new Float32Array(C), k3 = new Float32Array(C);
    const finish = () => {
      for (let c = 0; c < C; c++) {
        const is = invStd[c];
        dbeta[c] = sdy[c];
        dgamma[c] = sdyx[c] * is;
        const gi = gamma[c] * is;
        k1[c] = gi;
        k2[c] = (-gi * is * dgamma[c]) / m;
        k3[c] = (-gi * dbeta[c]) / m;
      }
    };
    if (L.planar) {
      forRuns(L, (o, len, c) => {
        const mu = mean[c];
        let a = 0, b = 0;
        for (let i = o; i < o + len; i++) {
          a += dy[i];
          b += dy[i] * (x[i] - mu);
        }
        sdy[c] += a;
        sdyx[c] += b;
      });
      finish();
      forRuns(L, (o, len, c) => {
        const mu = mean[c], a = k1[c], b = k2[c], d = k3[c];
        for (let i = o; i < o + len; i++) dx[i] = a * dy[i] + b * (x[i] - mu) + d;
      });
    } else {
      const rows = L.rows;
      for (let r = 0, i = 0; r < rows; r++) {
        for (let c = 0; c < C; c++, i++) {
          sdy[c] += dy[i];
          sdyx[c] += dy[i] * (x[i] - mean[c]);
        }
      }
      finish();
      for (let r = 0, i = 0; r < rows; r++) {
        for (let c = 0; c < C; c++, i++) dx[i] = k1[c] * dy[i] + k2[c] * (x[i] - mean[c]) + k3[c];
      }
    }
    return grads;
  }

  /** Inference: a = gamma / sqrt(runVar + eps), b = beta - a * runMean, y = a*x + b. */
  inference(x: Float32Array, gamma: Float32Array, beta: Float32Array, runMean: Float32Array, runVar: Float32Array, eps: number): Float32Array {
    const { L } = this;
    const C = L.C;
    const y = this.yInf;
    const a = new Float32Array(C), b = new Float32Array(C);
    for (let c = 0; c < C; c++) {
      a[c] = gamma[c] / Math.sqrt(runVar[c] + eps);
      b[c] = beta[c] - a[c] * runMean[c];
    }
    if (L.planar) {
      forRuns(L, (o, len, c) => {
        const ac = a[c], bc = b[c];
        for (let i = o; i < o + len; i++) y[i] = ac * x[i] + bc;
      });
    } else {
      for (let r = 0, i = 0; r < L.rows; r++) for (let c = 0; c < C; c++, i++) y[i] = a[c] * x[i] + b[c];
    }
    return y;
  }
}
