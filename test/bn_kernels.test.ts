// Every BN kernel against the float64 reference over the shape sweep (tails of the f32x4
// tile in C and H*W, N in {2, 3, 60}) and the real shapes, in all three layouts, in both
// builds; then the two builds against each other on the same inputs.
import { beforeAll, describe, expect, it } from "vitest";
import { createBackend, init } from "../src/backend.js";
import { batchNormBackward, batchNormInference, batchNormTrain } from "../src/functional.js";
import { bnInputs, BUILDS, expectClose, get, put, relErr } from "./check.js";
import { channelIndex, refBackward, refForwardTrain, refInference } from "./reference/bn.js";
import { type BnCase, REAL_TEST_CASES, sweepCases } from "./shapes.js";

const TOL = 1e-5;

/** dx is compared relative to the size of its terms, gamma * invStd * dy: for m = 2 dx itself is ~0. */
function dxScale(dy: Float32Array, gamma: Float32Array, invStd: ArrayLike<number>, shape: number[], c: BnCase): number {
  const { of } = channelIndex(shape, c.dataFormat);
  let s = 0;
  for (let i = 0; i < dy.length; i++) s = Math.max(s, Math.abs(gamma[of(i)] * invStd[of(i)] * dy[i]));
  return s;
}

/**
 * Sums are compared relative to the sum of their terms' magnitudes (the bound a float sum
 * can meet): sum |dy| for dbeta, sum |dy * xhat| for dgamma, per channel, largest channel.
 */
function sumScales(dy: Float32Array, x: Float32Array, shape: number[], c: BnCase, mean: ArrayLike<number>, invStd: ArrayLike<number>) {
  const { C, of } = channelIndex(shape, c.dataFormat);
  const sdy = new Float64Array(C), sdyx = new Float64Array(C);
  for (let i = 0; i < dy.length; i++) {
    sdy[of(i)] += Math.abs(dy[i]);
    sdyx[of(i)] += Math.abs(dy[i] * (x[i] - mean[of(i)]) * invStd[of(i)]);
  }
  return { dbeta: Math.max(...sdy), dgamma: Math.max(...sdyx) };
}

function checkCase(c: BnCase, seed: number) {
  const { x, dy, gamma, beta, runMean, runVar } = bnInputs(c, seed);
  const label = `${c.dataFormat} ${JSON.stringify(c.shape)}`;
  const opts = { gamma, beta, eps: 1e-5, dataFormat: c.dataFormat };
  const got = batchNormTrain(x, c.shape, opts);
  const want = refForwardTrain(x, c.shape, opts);
  expectClose(got.y, want.y, TOL, `${label} y`);
  expectClose(got.mean, want.mean, TOL, `${label} mean`, 1);
  expectClose(got.var, want.var, TOL, `${label} var`);
  expectClose(got.invStd, want.invStd, TOL, `${label} invStd`);

  const gb = batchNormBackward(dy, x, c.shape, { mean: got.mean, invStd: got.invStd, gamma, dataFormat: c.dataFormat });
  const wb = refBackward(dy, x, c.shape, { gamma, eps: 1e-5, dataFormat: c.dataFormat });
  expectClose(gb.dx, wb.dx, TOL, `${label} dx`, dxScale(dy, gamma, want.invStd, c.shape, c));
  const scales = sumScales(dy, x, c.shape, c, want.mean, want.invStd);
  expectClose(gb.dbeta, wb.dbeta, TOL, `${label} dbeta`, scales.dbeta);
  expectClose(gb.dgamma, wb.dgamma, TOL, `${label} dgamma`, scales.dgamma);

  for (const relu of [false, true]) {
    const gi = batchNormInference(x, c.shape, { gamma, beta, runningMean: runMean, runningVar: runVar, relu, dataFormat: c.dataFormat });
    const wi = refInference(x, c.shape, { gamma, beta, runMean, runVar, relu, dataFormat: c.dataFormat });
    expectClose(gi, wi, TOL, `${label} inference relu=${relu}`);
  }
}

for (const build of BUILDS) {
  describe(`${build} build against the float64 reference`, () => {
    beforeAll(async () => {
      const info = await init({ build });
      expect(info.build).toBe(build);
    });

    it(`sweep: C, H*W in {1,3,4,5,7,8,9,17}, N in {2,3,60}, [N,C], [N,C,H,W] and [N,H,W,C] (${sweepCases().length} shapes)`, () => {
      sweepCases().forEach((c, i) => checkCase(c, 1000 + i));
    });

    it("real shapes: the MNIST MLP and CIFAR Inception layers", () => {
      REAL_TEST_CASES.forEach((c, i) => checkCase(c, 77 + i));
    });
  });
}

describe("SIMD and scalar builds agree", () => {
  it("on every kernel, same inputs, raw pointers", async () => {
    const builds = await Promise.all([createBackend({ build: "simd" }), createBackend({ build: "scalar" })]);
    for (const c of [...sweepCases().filter((_, i) => i % 7 === 0), ...REAL_TEST_CASES]) {
      const { x, dy, gamma, beta } = bnInputs(c, 5);
      const L = c.dataFormat === "channelsLast" || c.shape.length === 2;
      const C = channelIndex(c.shape, c.dataFormat).C;
      const n = x.length;
      const outs = builds.map((b) => {
        const h = b.heap, k = b.kernels;
        const p = (len: number, src?: Float32Array) => put(b, src ?? new Float32Array(len));
        const px = p(n, x), pdy = p(n, dy), pg = p(C, gamma), pb = p(C, beta);
        const py = p(n), pm = p(C), pv = p(C), pi = p(C), pdx = p(n), pdg = p(C), pdb = p(C);
        const s = h.alloc(k.bn_scratch_bytes(C));
        const HW = L ? 1 : n / (c.shape[0] * C);
        if (L) {
          k.bn_forward_train_nc(py, pm, pv, pi, px, pg, pb, 1e-5, n / C, C, s);
          k.bn_backward_nc(pdx, pdg, pdb, pdy, px, pm, pi, pg, n / C, C, 1, s);
        } else {
          k.bn_forward_train_nchw(py, pm, pv, pi, px, pg, pb, 1e-5, c.shape[0], C, HW, s);
          k.bn_backward_nchw(pdx, pdg, pdb, pdy, px, pm, pi, pg, c.shape[0], C, HW, 1, s);
        }
        return { y: get(b, py, n), dx: get(b, pdx, n), dg: get(b, pdg, C), db: get(b, pdb, C) };
      });
      const label = `${c.dataFormat} ${JSON.stringify(c.shape)}`;
      // Same math, different summation order: agreement to float32 rounding.
      expect(relErr(outs[0].y, outs[1].y), `${label} y`).toBeLessThanOrEqual(1e-5);
      expect(relErr(outs[0].db, outs[1].db), `${label} dbeta`).toBeLessThanOrEqual(1e-5);
      expect(relErr(outs[0].dg, outs[1].dg, 1e-3), `${label} dgamma`).toBeLessThanOrEqual(1e-5);
      let scale = 0;
      for (let i = 0; i < n; i++) scale = Math.max(scale, Math.abs(dy[i]) * 3);
      expect(relErr(outs[0].dx, outs[1].dx, scale), `${label} dx`).toBeLessThanOrEqual(1e-5);
    }
  });
});
