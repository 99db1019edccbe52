// Batch Renormalization and Ghost Batch Norm layers against their float64 reference twins
// (test/reference/bn_renorm.ts) over the shape sweep (tails of the f32x4 tile in C and H*W,
// N in {2, 3, 60}) and the real shapes, in every build: outputs, r and d, dx, dgamma, dbeta,
// and the moving statistics after the step.
import { beforeAll, describe, expect, it } from "vitest";
import { init } from "../src/backend.js";
import { BatchNorm1d, BatchNorm2d, type BatchNormOptions } from "../src/layers/batchnorm.js";
import { tensor } from "../src/tensor.js";
import { bnInputs, BUILDS, expectClose } from "./check.js";
import { channelIndex, refRunningUpdate } from "./reference/bn.js";
import { refGhostBackward, refGhostForward, refRenormBackward, refRenormForward, refRenormUpdate } from "./reference/bn_renorm.js";
import { type BnCase, REAL_TEST_CASES, sweepCases } from "./shapes.js";

const TOL = 1e-5;
/**
 * dx against the size of its terms: with m = 2 values a channel, dx is a difference of terms
 * of size gamma * r * invStd * dy that cancel almost exactly, so float32 rounding of x - mean
 * (invStd up to ~60 in the sweep) shows at 1e-5 of those terms.
 */
const DX_TOL = 3e-5;

function layerFor(c: BnCase, opts: BatchNormOptions) {
  const C = channelIndex(c.shape, c.dataFormat).C;
  const Layer = c.shape.length === 4 ? BatchNorm2d : BatchNorm1d;
  return { C, bn: new Layer(C, { ...opts, dataFormat: c.dataFormat }) };
}

/** Largest per-channel sum of |terms| (the bound a float sum can meet), for sums compared normwise. */
function sumScale(terms: (i: number) => number, n: number, C: number, of: (i: number) => number): number {
  const s = new Float64Array(C);
  for (let i = 0; i < n; i++) s[of(i)] += Math.abs(terms(i));
  return Math.max(...s);
}

function checkRenorm(c: BnCase, seed: number) {
  const { r, x, dy, gamma, beta, runMean, runVar } = bnInputs(c, seed);
  const { C, bn } = layerFor(c, { renorm: { rMax: 1.5, dMax: 0.5, momentum: 0.05 }, momentum: 0.1 });
  // Moving statistics around the batch's, so that some r and d are clipped and some are not.
  const renormMean = r.array(C, 0.4, 0.5), renormStd = Float32Array.from({ length: C }, () => 1 + 1.6 * (r.uniform() - 0.5));
  bn.loadStateDict({ weight: gamma, bias: beta, running_mean: runMean, running_var: runVar, num_batches_tracked: BigInt64Array.of(3n), renorm_mean: renormMean, renorm_stddev: renormStd });
  const label = `${c.dataFormat} ${JSON.stringify(c.shape)}`;
  const xt = tensor(x, c.shape), dyt = tensor(dy, c.shape);
  const y = bn.forward(xt).toArray();
  const want = refRenormForward(x, c.shape, { gamma, beta, eps: 1e-5, dataFormat: c.dataFormat, renormMean, renormStd, rMax: 1.5, dMax: 0.5 });
  const got = bn.lastRenormCorrection();
  expectClose(got.r, want.r, TOL, `${label} r`);
  expectClose(got.d, want.d, TOL, `${label} d`, 1);
  expectClose(y, want.y, TOL, `${label} y`);

  const dx = bn.backward(dyt).toArray();
  const wb = refRenormBackward(dy, x, c.shape, { r: want.r, d: want.d, gamma, eps: 1e-5, dataFormat: c.dataFormat });
  const { of } = channelIndex(c.shape, c.dataFormat);
  let dxScale = 0;
  for (let i = 0; i < dy.length; i++) dxScale = Math.max(dxScale, Math.abs(gamma[of(i)] * want.r[of(i)] * want.invStd[of(i)] * dy[i]));
  expectClose(dx, wb.dx, DX_TOL, `${label} dx`, dxScale);
  expectClose(bn.bias!.grad.toArray(), wb.dbeta, TOL, `${label} dbeta`, sumScale((i) => dy[i], dy.length, C, of));
  const xhat = (i: number) => (x[i] - want.mean[of(i)]) * want.invStd[of(i)];
  const dgScale = sumScale((i) => dy[i] * (Math.abs(xhat(i) * want.r[of(i)]) + Math.abs(want.d[of(i)])), dy.length, C, of);
  expectClose(bn.weight!.grad.toArray(), wb.dgamma, TOL, `${label} dgamma`, dgScale);

  const run = { mean: Float64Array.from(runMean), var: Float64Array.from(runVar), numBatchesTracked: 3 };
  refRunningUpdate(run, want, 0.1);
  expectClose(bn.runningMean!.toArray(), run.mean, TOL, `${label} running_mean`, 1);
  expectClose(bn.runningVar!.toArray(), run.var, TOL, `${label} running_var`);
  const ren = { renormMean: Float64Array.from(renormMean), renormStd: Float64Array.from(renormStd) };
  refRenormUpdate(ren, want, 0.05, 1e-5);
  expectClose(bn.renormMean!.toArray(), ren.renormMean, TOL, `${label} renorm_mean`, 1);
  expectClose(bn.renormStd!.toArray(), ren.renormStd, TOL, `${label} renorm_stddev`);
  expect(bn.numBatchesTracked).toBe(4);
  xt.dispose();
  dyt.dispose();
  bn.dispose();
}

/** A ghost batch size the case allows: several sub-batches where the batch has them, each with > 1 value per channel. */
function ghostSize(c: BnCase): number {
  const N = c.shape[0], perSample = c.shape.reduce((a, b) => a * b, 1) / N / channelIndex(c.shape, c.dataFormat).C;
  if (N % 4 === 0 && N > 4) return 4;
  return perSample > 1 ? 1 : N;
}

function checkGhost(c: BnCase, seed: number) {
  const { x, dy, gamma, beta, runMean, runVar } = bnInputs(c, seed);
  const v = ghostSize(c);
  const { C, bn } = layerFor(c, { virtualBatchSize: v, momentum: 0.1 });
  bn.loadStateDict({ weight: gamma, bias: beta, running_mean: runMean, running_var: runVar, num_batches_tracked: BigInt64Array.of(0n) });
  const label = `${c.dataFormat} ${JSON.stringify(c.shape)} virtualBatchSize ${v}`;
  const xt = tensor(x, c.shape), dyt = tensor(dy, c.shape);
  const y = bn.forward(xt).toArray();
  const want = refGhostForward(x, c.shape, v, { gamma, beta, eps: 1e-5, dataFormat: c.dataFormat });
  expectClose(y, want.y, TOL, `${label} y`);
  const dx = bn.backward(dyt).toArray();
  const wb = refGhostBackward(dy, x, c.shape, v, { gamma, eps: 1e-5, dataFormat: c.dataFormat });
  const { of } = channelIndex(c.shape, c.dataFormat);
  let dxScale = 0;
  for (let i = 0; i < dy.length; i++) dxScale = Math.max(dxScale, Math.abs(gamma[of(i)] * 10 * dy[i]));
  expectClose(dx, wb.dx, DX_TOL, `${label} dx`, dxScale);
  expectClose(bn.bias!.grad.toArray(), wb.dbeta, TOL, `${label} dbeta`, sumScale((i) => dy[i], dy.length, C, of));
  expectClose(bn.weight!.grad.toArray(), wb.dgamma, TOL, `${label} dgamma`, sumScale((i) => dy[i] * 3, dy.length, C, of));
  const run = { mean: Float64Array.from(runMean), var: Float64Array.from(runVar), numBatchesTracked: 0 };
  refRunningUpdate(run, want.moments, 0.1);
  expectClose(bn.runningMean!.toArray(), run.mean, TOL, `${label} running_mean`, 1);
  expectClose(bn.runningVar!.toArray(), run.var, TOL, `${label} running_var`);
  xt.dispose();
  dyt.dispose();
  bn.dispose();
}

for (const build of BUILDS) {
  describe(`${build} build: renorm and ghost batches against the float64 reference`, () => {
    beforeAll(async () => {
      const info = await init({ build });
      expect(info.build).toBe(build);
    });

    it(`renorm forward, r, d, backward and moving statistics: sweep C, H*W in {1,3,4,5,7,8,9,17}, N in {2,3,60} (${sweepCases().length} shapes)`, () => {
      sweepCases().forEach((c, i) => checkRenorm(c, 2000 + i));
    });

    it("renorm on the real shapes: the MNIST MLP and CIFAR Inception layers", () => {
      REAL_TEST_CASES.forEach((c, i) => checkRenorm(c, 300 + i));
    });

    it(`ghost batches forward, backward and running estimates: the same sweep (${sweepCases().length} shapes)`, () => {
      sweepCases().forEach((c, i) => checkGhost(c, 4000 + i));
    });

    it("ghost batches on the real shapes", () => {
      REAL_TEST_CASES.forEach((c, i) => checkGhost(c, 500 + i));
    });
  });
}
