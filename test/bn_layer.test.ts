// BatchNorm1d / BatchNorm2d as a PyTorch user expects them: running estimates, eval mode,
// the options, gradient accumulation, state dicts.
import { beforeAll, describe, expect, it } from "vitest";
import { init } from "../src/backend.js";
import { BatchNorm1d, BatchNorm2d } from "../src/layers/batchnorm.js";
import { foldBatchNorm } from "../src/functional.js";
import { tensor } from "../src/tensor.js";
import { expectClose, rng } from "./check.js";
import { channelIndex, refForwardTrain, refInference, refRunningUpdate } from "./reference/bn.js";

beforeAll(async () => {
  await init();
});

describe("running estimates follow PyTorch's formulas", () => {
  for (const momentum of [0.1, null]) {
    for (const [Layer, shape, fmt] of [
      [BatchNorm2d, [4, 3, 5, 6], "channelsFirst"],
      [BatchNorm2d, [4, 5, 6, 3], "channelsLast"],
      [BatchNorm1d, [60, 3], "channelsFirst"],
      [BatchNorm1d, [5, 3, 7], "channelsFirst"],
    ] as const) {
      it(`${Layer.name} ${JSON.stringify(shape)} ${fmt} momentum=${momentum}`, () => {
        const bn = new Layer(3, { momentum, dataFormat: fmt });
        const state = { mean: new Float64Array(3), var: new Float64Array(3).fill(1), numBatchesTracked: 0 };
        const r = rng(42);
        const n = shape.reduce((a, b) => a * b, 1);
        for (let step = 0; step < 7; step++) {
          const xs = r.array(n, 1 + step, step - 3);
          const x = tensor(xs, shape);
          bn.forward(x);
          refRunningUpdate(state, refForwardTrain(xs, shape, { dataFormat: fmt }), momentum);
          x.dispose();
        }
        expect(bn.numBatchesTracked).toBe(7);
        expectClose(bn.runningMean!.toArray(), state.mean, 1e-5, "running_mean");
        expectClose(bn.runningVar!.toArray(), state.var, 1e-5, "running_var");
      });
    }
  }
});

describe("eval mode", () => {
  it("output equals the folded a*x + b, bit for bit, in both layouts", () => {
    for (const fmt of ["channelsFirst", "channelsLast"] as const) {
      const shape = fmt === "channelsFirst" ? [3, 9, 5, 7] : [3, 5, 7, 9];
      const bn = new BatchNorm2d(9, { dataFormat: fmt });
      const r = rng(7);
      const gamma = r.array(9, 0.5, 1), beta = r.array(9);
      const rm = r.array(9), rv = Float32Array.from({ length: 9 }, () => 0.1 + r.uniform());
      bn.loadStateDict({ weight: gamma, bias: beta, running_mean: rm, running_var: rv, num_batches_tracked: BigInt64Array.of(3n) });
      bn.eval();
      const xs = r.array(shape.reduce((a, b) => a * b, 1), 3);
      const y = bn.forward(tensor(xs, shape)).toArray();
      const { a, b } = foldBatchNorm({ gamma, beta, runningMean: rm, runningVar: rv, eps: bn.eps });
      const { of } = channelIndex(shape, fmt);
      const folded = Float32Array.from(xs, (v, i) => Math.fround(Math.fround(a[of(i)] * v) + b[of(i)]));
      expect(y).toEqual(folded);
      expectClose(y, refInference(xs, shape, { gamma, beta, runMean: rm, runVar: rv, dataFormat: fmt }), 1e-5, "eval vs reference");
      expect(bn.numBatchesTracked).toBe(3);
      expect(bn.runningMean!.toArray()).toEqual(rm);
    }
  });

  it("trackRunningStats: false normalizes with batch statistics in eval too, and keeps no buffers", () => {
    const bn = new BatchNorm2d(4, { trackRunningStats: false });
    expect(bn.runningMean).toBeNull();
    const xs = rng(1).array(2 * 4 * 3 * 3, 2, 5);
    const x = tensor(xs, [2, 4, 3, 3]);
    const yTrain = bn.forward(x).toArray();
    bn.eval();
    const yEval = bn.forward(x).toArray();
    expect(yEval).toEqual(yTrain);
    expectClose(yEval, refForwardTrain(xs, [2, 4, 3, 3]).y, 1e-5, "batch-stat eval");
    expect(Object.keys(bn.stateDict())).toEqual(["weight", "bias"]);
  });

  it("backward in eval mode differentiates the fixed affine map", () => {
    const bn = new BatchNorm1d(3).eval();
    bn.runningVar!.data.set([4, 1, 0.25]);
    const x = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    bn.forward(x);
    const dx = bn.backward(tensor([1, 1, 1, 1, 1, 1], [2, 3])).toArray();
    const inv = [4, 1, 0.25].map((v) => 1 / Math.sqrt(v + 1e-5));
    expectClose(dx, [...inv, ...inv], 1e-6, "dx");
    expectClose(bn.bias!.grad.toArray(), [2, 2, 2], 1e-6, "dbeta");
    expectClose(bn.weight!.grad.toArray(), [0, 1, 2, 3, 4, 5].reduce((g, _, i) => {
      g[i % 3] += [1, 2, 3, 4, 5, 6][i] * inv[i % 3];
      return g;
    }, [0, 0, 0]), 1e-6, "dgamma");
  });
});

describe("options and parameters", () => {
  it("defaults are PyTorch's", () => {
    const bn = new BatchNorm2d(5);
    expect([bn.eps, bn.momentum, bn.affine, bn.trackRunningStats, bn.training]).toEqual([1e-5, 0.1, true, true, true]);
    expect(bn.weight!.value.toArray()).toEqual(new Float32Array(5).fill(1));
    expect(bn.bias!.value.toArray()).toEqual(new Float32Array(5));
    expect(bn.runningVar!.toArray()).toEqual(new Float32Array(5).fill(1));
    expect(bn.parameters().map((p) => p.name)).toEqual(["weight", "bias"]);
  });

  it("scale: false (Keras) drops gamma, center: false drops beta, affine: false drops both", () => {
    const xs = rng(2).array(4 * 3, 3, 1);
    const noScale = new BatchNorm1d(3, { scale: false });
    expect(noScale.weight).toBeNull();
    noScale.bias!.value.data.set([1, 2, 3]);
    expectClose(noScale.forward(tensor(xs, [4, 3])).toArray(), refForwardTrain(xs, [4, 3], { beta: [1, 2, 3] }).y, 1e-5, "no scale");
    expect(Object.keys(noScale.stateDict())).toEqual(["bias", "running_mean", "running_var", "num_batches_tracked"]);
    const noCenter = new BatchNorm1d(3, { center: false });
    expect(noCenter.bias).toBeNull();
    expect(noCenter.parameters().map((p) => p.name)).toEqual(["weight"]);
    const none = new BatchNorm1d(3, { affine: false });
    expect(none.parameters()).toEqual([]);
    expectClose(none.forward(tensor(xs, [4, 3])).toArray(), refForwardTrain(xs, [4, 3]).y, 1e-5, "affine false");
    none.backward(tensor(xs, [4, 3]));
  });

  it("backward accumulates into .grad until zeroGrad()", () => {
    const bn = new BatchNorm1d(2);
    const x = tensor([1, 2, 3, 5, 4, 1], [3, 2]);
    const dy = tensor([1, -1, 2, 0.5, 0, 3], [3, 2]);
    bn.forward(x);
    bn.backward(dy);
    const g1 = bn.weight!.grad.toArray(), b1 = bn.bias!.grad.toArray();
    bn.forward(x);
    bn.backward(dy);
    expectClose(bn.weight!.grad.toArray(), g1.map((v) => 2 * v), 1e-6, "dgamma x2");
    expectClose(bn.bias!.grad.toArray(), b1.map((v) => 2 * v), 1e-6, "dbeta x2");
    bn.zeroGrad();
    expect(bn.weight!.grad.toArray()).toEqual(new Float32Array(2));
  });

  it("stateDict uses PyTorch's keys and round-trips", () => {
    const a = new BatchNorm2d(3);
    const x = tensor(rng(3).array(2 * 3 * 4, 2, 1), [2, 3, 2, 2]);
    a.forward(x);
    a.forward(x);
    const sd = a.stateDict();
    expect(Object.keys(sd)).toEqual(["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]);
    expect(sd.num_batches_tracked).toEqual(BigInt64Array.of(2n));
    const b = new BatchNorm2d(3);
    b.loadStateDict(sd);
    expect(b.stateDict()).toEqual(sd);
    a.eval();
    b.eval();
    expect(b.forward(x).toArray()).toEqual(a.forward(x).toArray());
  });

  it("layer outputs are reused between calls; clone() keeps a copy", () => {
    const bn = new BatchNorm1d(2);
    const y1 = bn.forward(tensor([1, 2, 3, 4], [2, 2]));
    const kept = y1.clone();
    const y2 = bn.forward(tensor([5, 1, 2, 9], [2, 2]));
    expect(y2).toBe(y1);
    expect(kept.toArray()).not.toEqual(y2.toArray());
    expect(() => y1.dispose()).toThrow(/belongs to BatchNorm1d\(2\)/);
    kept.dispose();
    expect(() => kept.toArray()).toThrow(/disposed/);
  });
});
