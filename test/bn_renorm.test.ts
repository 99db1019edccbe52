// Batch Renormalization and Ghost Batch Norm as layers: the trivial settings equal plain BN
// bit for bit, schedules, gradients (finite differences with r and d held constant), bad
// options rejected before any state moves, state dicts, and folding for inference.
import { beforeAll, describe, expect, it } from "vitest";
import { init } from "../src/backend.js";
import { foldBatchNorm } from "../src/fold.js";
import { Sigmoid } from "../src/layers/activations.js";
import { BatchNorm, BatchNorm1d, BatchNorm2d, type BatchNormOptions } from "../src/layers/batchnorm.js";
import { BatchNormReLU2d } from "../src/layers/batchnorm_relu.js";
import { Conv2d } from "../src/layers/conv2d.js";
import { Dense } from "../src/layers/dense.js";
import { Sequential } from "../src/layers/sequential.js";
import { tensor } from "../src/tensor.js";
import { expectClose, relErr, rng } from "./check.js";
import { checkGradients } from "./check_grad.js";
import { refRenormBackward, refRenormCorrection } from "./reference/bn_renorm.js";

beforeAll(async () => {
  await init();
});

const CASES = [
  { shape: [6, 5], dataFormat: "channelsFirst" as const },
  { shape: [4, 3, 7], dataFormat: "channelsFirst" as const },
  { shape: [4, 9, 3, 3], dataFormat: "channelsFirst" as const },
  { shape: [4, 3, 3, 17], dataFormat: "channelsLast" as const },
];

function make(shape: number[], dataFormat: "channelsFirst" | "channelsLast", opts: BatchNormOptions): BatchNorm {
  const C = dataFormat === "channelsLast" ? shape[shape.length - 1] : shape[1];
  return shape.length === 4 ? new BatchNorm2d(C, { ...opts, dataFormat }) : new BatchNorm1d(C, { ...opts, dataFormat });
}

/** Three training steps and an eval forward of two layers on the same data: every output and state bit for bit. */
function expectSameSteps(a: BatchNorm, b: BatchNorm, shape: number[], seed: number): void {
  const r = rng(seed);
  const n = shape.reduce((p, q) => p * q, 1);
  const C = a.numFeatures;
  const gamma = r.array(C, 0.3, 1), beta = r.array(C);
  for (const l of [a, b]) {
    l.weight!.value.data.set(gamma);
    l.bias!.value.data.set(beta);
  }
  for (let step = 0; step < 3; step++) {
    const x = tensor(r.array(n, 2, 1), shape), dy = tensor(r.array(n), shape);
    const ya = a.forward(x).toArray(), yb = b.forward(x).toArray();
    expect(ya).toEqual(yb);
    expect(a.backward(dy).toArray()).toEqual(b.backward(dy).toArray());
    expect(a.weight!.grad.toArray()).toEqual(b.weight!.grad.toArray());
    expect(a.bias!.grad.toArray()).toEqual(b.bias!.grad.toArray());
    expect(a.runningMean!.toArray()).toEqual(b.runningMean!.toArray());
    expect(a.runningVar!.toArray()).toEqual(b.runningVar!.toArray());
    x.dispose();
    dy.dispose();
  }
  a.eval();
  b.eval();
  const x = tensor(r.array(n), shape);
  expect(a.forward(x).toArray()).toEqual(b.forward(x).toArray());
  x.dispose();
}

describe("trivial settings are plain BatchNorm, bit for bit", () => {
  for (const c of CASES) {
    it(`renorm with rMax 1, dMax 0: ${c.dataFormat} ${JSON.stringify(c.shape)}`, () => {
      expectSameSteps(make(c.shape, c.dataFormat, { renorm: { rMax: 1, dMax: 0 } }), make(c.shape, c.dataFormat, {}), c.shape, 1);
    });
    it(`virtualBatchSize = the batch: ${c.dataFormat} ${JSON.stringify(c.shape)}`, () => {
      expectSameSteps(make(c.shape, c.dataFormat, { virtualBatchSize: c.shape[0] }), make(c.shape, c.dataFormat, {}), c.shape, 2);
    });
  }

  it("renorm in eval mode is BN's inference map, whatever r and d were in training", () => {
    const a = new BatchNorm1d(4, { renorm: { rMax: 3, dMax: 5 } }), b = new BatchNorm1d(4);
    const x = tensor(rng(3).array(24, 2, 1), [6, 4]);
    a.forward(x);
    b.forward(x);
    a.eval();
    b.eval();
    expect(a.forward(x).toArray()).toEqual(b.forward(x).toArray());
  });
});

describe("ghost batches", () => {
  it("each run of virtualBatchSize consecutive samples is normalized on its own (every sub-batch has mean 0, variance ~1)", () => {
    const bn = new BatchNorm2d(3, { virtualBatchSize: 2, affine: false });
    const x = tensor(rng(4).array(6 * 3 * 4, 3, 2), [6, 3, 2, 2]);
    const y = bn.forward(x).toArray();
    for (let g = 0; g < 3; g++) {
      for (let c = 0; c < 3; c++) {
        const vals: number[] = [];
        for (let n = 2 * g; n < 2 * g + 2; n++) for (let i = 0; i < 4; i++) vals.push(y[(n * 3 + c) * 4 + i]);
        const m = vals.reduce((a, b) => a + b, 0) / vals.length;
        const v = vals.reduce((a, b) => a + (b - m) ** 2, 0) / vals.length;
        expect(Math.abs(m)).toBeLessThan(1e-5);
        expect(Math.abs(v - 1)).toBeLessThan(1e-3);
      }
    }
  });

  it("a batch that virtualBatchSize does not divide is an error naming both sizes, and nothing moves", () => {
    const bn = new BatchNorm1d(3, { virtualBatchSize: 4 });
    const x = tensor(rng(5).array(18), [6, 3]);
    expect(() => bn.forward(x)).toThrow("BatchNorm1d(3): virtualBatchSize 4 must divide the batch size, got a batch of 6 (input shape [6, 3])");
    expect(bn.numBatchesTracked).toBe(0);
    expect(Array.from(bn.runningMean!.toArray())).toEqual([0, 0, 0]);
    // Sequential's wiring check reports it before the first layer runs.
    const model = new Sequential([new Dense(3, 3, { seed: 1 }), new BatchNorm1d(3, { virtualBatchSize: 4 })]);
    expect(() => model.forward(x)).toThrow("virtualBatchSize 4 must divide the batch size");
  });

  it("one sample per ghost batch of [N, C] is an error (no variance)", () => {
    const bn = new BatchNorm1d(3, { virtualBatchSize: 1 });
    expect(() => bn.forward(tensor(rng(5).array(12), [4, 3]))).toThrow("a ghost batch of 1 sample(s) holds 1 value per channel");
  });

  it("eval mode uses the running estimates (no ghost batches): any batch size works", () => {
    const bn = new BatchNorm1d(3, { virtualBatchSize: 4 });
    bn.forward(tensor(rng(6).array(24), [8, 3]));
    bn.eval();
    expect(bn.forward(tensor(rng(7).array(15), [5, 3])).shape).toEqual([5, 3]);
  });

  it("gradients: finite differences of the ghost forward (both layouts)", () => {
    for (const c of CASES) {
      const bn = make(c.shape, c.dataFormat, { virtualBatchSize: c.shape[0] / 2 });
      bn.weight!.value.data.set(rng(8).array(bn.numFeatures, 0.3, 1));
      const x = tensor(rng(9).array(c.shape.reduce((a, b) => a * b, 1), 1.5, 0.3), c.shape);
      checkGradients(bn, x, { eps: 1e-2, tol: 3e-2, samples: 16 });
    }
  });
});

describe("renorm: schedules and gradients", () => {
  it("a ramp { from, to, start, end } and a function of the step set rMax and dMax per step; state dicts resume them", () => {
    const bn = new BatchNorm1d(2, { renorm: { rMax: { from: 1, to: 3, start: 2, end: 6 }, dMax: (step) => Math.min(5, step) } });
    const x = tensor(rng(10).array(8, 2, 1), [4, 2]);
    const seen: number[][] = [];
    for (let s = 0; s < 8; s++) {
      const b = bn.renormBounds();
      seen.push([b.rMax, b.rMin, b.dMax]);
      bn.forward(x);
    }
    expect(seen.map((v) => v[0])).toEqual([1, 1, 1, 1.5, 2, 2.5, 3, 3]);
    expect(seen.map((v) => v[1])).toEqual([1, 1, 1, 1 / 1.5, 0.5, 0.4, 1 / 3, 1 / 3]);
    expect(seen.map((v) => v[2])).toEqual([0, 1, 2, 3, 4, 5, 5, 5]);
    const copy = new BatchNorm1d(2, { renorm: { rMax: { from: 1, to: 3, start: 2, end: 6 }, dMax: (step) => Math.min(5, step) } });
    bn.numBatchesTracked = 4;
    copy.loadStateDict(bn.stateDict());
    expect(copy.renormBounds()).toEqual({ rMax: 2, rMin: 0.5, dMax: 4 });
  });

  it("r and d follow the clipping bounds of the step (rMax 1, dMax 0 first: r = 1, d = 0)", () => {
    const bn = new BatchNorm1d(3, { renorm: { rMax: { from: 1, to: 2, start: 0, end: 1 }, dMax: { from: 0, to: 0.5, start: 0, end: 1 } } });
    const x = tensor(rng(11).array(15, 3, 2), [5, 3]);
    bn.forward(x);
    expect(Array.from(bn.lastRenormCorrection().r)).toEqual([1, 1, 1]);
    expect(Array.from(bn.lastRenormCorrection().d).map(Math.abs)).toEqual([0, 0, 0]);
    // Step 1: renorm stddev 0.97 + 0.03 * sigma, mean 0.03 * mu: r = sigma / that, clipped to [0.5, 2]; d to [-0.5, 0.5].
    const before = { mean: bn.renormMean!.toArray(), std: bn.renormStd!.toArray() };
    bn.forward(x);
    const st = bn.lastBatchStats();
    const want = refRenormCorrection(st.mean, st.var, { renormMean: before.mean, renormStd: before.std, rMax: 2, dMax: 0.5 }, 1e-5);
    expectClose(bn.lastRenormCorrection().r, want.r, 1e-6, "r");
    expectClose(bn.lastRenormCorrection().d, want.d, 1e-6, "d", 1);
    expect(want.r.some((v) => v === 2) || want.d.some((v) => Math.abs(v) === 0.5)).toBe(true);
  });

  it("the reference's backward is the gradient of its forward with r and d held constant", () => {
    const r = rng(12);
    const shape = [5, 3];
    const x = Float64Array.from(r.array(15, 1.5, 0.3)), gamma = Float64Array.from(r.array(3, 0.3, 1)), w = Float64Array.from(r.array(15));
    const rr = Float64Array.of(1.7, 0.6, 1), dd = Float64Array.of(0.4, -1.2, 0);
    const f = () => {
      // y = gamma * (xhat * r + d) + beta with fixed r, d: the forward of BN with gamma*r and beta + gamma*d.
      let m = [0, 0, 0], v = [0, 0, 0];
      for (let i = 0; i < 15; i++) m[i % 3] += x[i] / 5;
      for (let i = 0; i < 15; i++) v[i % 3] += (x[i] - m[i % 3]) ** 2 / 5;
      let L = 0;
      for (let i = 0; i < 15; i++) {
        const c = i % 3;
        L += w[i] * (gamma[c] * (((x[i] - m[c]) / Math.sqrt(v[c] + 1e-5)) * rr[c] + dd[c]));
      }
      return L;
    };
    const g = refRenormBackward(w, x, shape, { r: rr, d: dd, gamma });
    const h = 1e-6;
    const fd = (a: Float64Array, i: number) => {
      const keep = a[i];
      a[i] = keep + h;
      const up = f();
      a[i] = keep - h;
      const down = f();
      a[i] = keep;
      return (up - down) / (2 * h);
    };
    expect(relErr(g.dx, Array.from(x, (_, i) => fd(x, i)))).toBeLessThan(1e-6);
    expect(relErr(g.dgamma, Array.from(gamma, (_, i) => fd(gamma, i)))).toBeLessThan(1e-6);
  });

  it("the wasm layer's gradients match finite differences with r and d held constant (both clipped), both layouts", () => {
    for (const c of CASES) {
      const bn = make(c.shape, c.dataFormat, { renorm: { rMax: 2, dMax: 0.5, momentum: 0 } });
      const C = bn.numFeatures;
      // A tiny moving stddev and a far moving mean: r = rMax and d = -dMax for any nearby input.
      const sd = bn.stateDict();
      bn.loadStateDict({ ...sd, weight: rng(13).array(C, 0.3, 1), renorm_mean: new Float32Array(C).fill(50), renorm_stddev: new Float32Array(C).fill(1e-3) });
      const x = tensor(rng(14).array(c.shape.reduce((a, b) => a * b, 1), 1.5, 0.3), c.shape);
      checkGradients(bn, x, { eps: 1e-2, tol: 3e-2, samples: 16 });
      const { r, d } = bn.lastRenormCorrection();
      expect(Array.from(r)).toEqual(new Array(C).fill(2));
      expect(Array.from(d)).toEqual(new Array(C).fill(-0.5));
    }
  });
});

describe("renorm and ghost options", () => {
  const bad: [BatchNormOptions, string][] = [
    [{ renorm: { rMax: 0.5, dMax: 0 } }, "BatchNorm1d: renorm.rMax must be a number >= 1 (Infinity: no clipping), got 0.5"],
    [{ renorm: { rMax: 2, dMax: -1 } }, "BatchNorm1d: renorm.dMax must be a number >= 0 (Infinity: no clipping), got -1"],
    [{ renorm: { dMax: 1 } as never }, "BatchNorm1d: renorm.rMax is required"],
    [{ renorm: { rMax: 2 } as never }, "BatchNorm1d: renorm.dMax is required"],
    [{ renorm: { rMax: 2, dMax: 1, momentum: 2 } }, "BatchNorm1d: renorm.momentum must be a number in [0, 1]"],
    [{ renorm: { rMax: 2, dMax: 1, rmax: 3 } as never }, 'BatchNorm1d: renorm: unknown option "rmax" (did you mean "rMax"?)'],
    [{ renorm: { rMax: { from: 1, to: 3, end: 0 }, dMax: 0 } }, "BatchNorm1d: renorm.rMax.end must be an integer step after start (0), got 0"],
    [{ renorm: { rMax: { from: 1, to: 3, end: 10, stop: 4 } as never, dMax: 0 } }, 'BatchNorm1d: renorm.rMax: unknown option "stop"'],
    [{ renorm: { rMax: "3" as never, dMax: 0 } }, "BatchNorm1d: renorm.rMax must be a number, a function of the step or { from, to, start, end }"],
    [{ renorm: true as never }, "BatchNorm1d: renorm must be an object { rMax, dMax, momentum? }, got true"],
    [{ renorm: { rMax: 2, dMax: 1 }, trackRunningStats: false }, "BatchNorm1d: renorm needs trackRunningStats"],
    [{ renorm: { rMax: 2, dMax: 1 }, virtualBatchSize: 2 }, "BatchNorm1d: renorm and virtualBatchSize together are not supported"],
    [{ virtualBatchSize: 0 }, "BatchNorm1d: virtualBatchSize must be a positive integer (it must divide the batch size), got 0"],
    [{ virtualBatchSize: 2.5 }, "BatchNorm1d: virtualBatchSize must be a positive integer"],
    [{ virtual_batch_size: 2 } as never, 'BatchNorm1d: unknown option "virtual_batch_size" (did you mean "virtualBatchSize"?)'],
  ];
  for (const [opts, msg] of bad) {
    it(`rejects ${JSON.stringify(opts)}`, () => {
      expect(() => new BatchNorm1d(3, opts)).toThrow(msg);
    });
  }

  it("a schedule function's bad value stops the step before any state moves (also inside a Sequential)", () => {
    const bn = new BatchNorm1d(3, { renorm: { rMax: (s) => (s < 1 ? 2 : 0.5), dMax: 1 } });
    const x = tensor(rng(15).array(12), [4, 3]);
    bn.forward(x);
    const sd = bn.stateDict();
    expect(() => bn.forward(x)).toThrow("BatchNorm1d: renorm.rMax must be a number >= 1 (Infinity: no clipping) (the schedule's value at step 1), got 0.5");
    expect(bn.stateDict()).toEqual(sd);
    const d = new Dense(3, 3, { seed: 2 });
    const w = d.weight.value.toArray();
    const model = new Sequential([d, new BatchNorm1d(3, { renorm: { rMax: () => NaN, dMax: 1 } })]);
    expect(() => model.forward(x)).toThrow("(the schedule's value at step 0), got NaN");
    expect(d.weight.value.toArray()).toEqual(w);
  });

  it("the fused BatchNormReLU2d refuses them", () => {
    expect(() => new BatchNormReLU2d(3, { dataFormat: "channelsLast", renorm: { rMax: 2, dMax: 1 } })).toThrow("BatchNormReLU2d: renorm and virtualBatchSize are not supported");
    expect(() => new BatchNormReLU2d(3, { dataFormat: "channelsLast", virtualBatchSize: 2 })).toThrow("BatchNormReLU2d: renorm and virtualBatchSize are not supported");
  });
});

describe("state dicts", () => {
  it("renorm adds renorm_mean and renorm_stddev to PyTorch's keys; the dict round-trips", () => {
    const a = new BatchNorm1d(4, { renorm: { rMax: 3, dMax: 5 } });
    const x = tensor(rng(16).array(24, 2, 1), [6, 4]);
    a.forward(x);
    a.forward(x);
    const sd = a.stateDict();
    expect(Object.keys(sd).sort()).toEqual(["bias", "num_batches_tracked", "renorm_mean", "renorm_stddev", "running_mean", "running_var", "weight"]);
    const b = new BatchNorm1d(4, { renorm: { rMax: 3, dMax: 5 } });
    b.loadStateDict(sd);
    expect(b.stateDict()).toEqual(sd);
    a.forward(x);
    b.forward(x);
    expect(b.stateDict()).toEqual(a.stateDict());
    expect(() => b.loadStateDict({ ...sd, renorm_stddev: Float32Array.of(1, -1, 1, 1) })).toThrow('"renorm_stddev" holds -1 at index 1; a standard deviation must be >= 0');
    const { renorm_mean: _, ...missing } = sd;
    expect(() => b.loadStateDict(missing)).toThrow('"renorm_mean" must be a Float32Array of length 4, got nothing');
    expect(() => new BatchNorm1d(4).loadStateDict(sd)).toThrow('unexpected key "renorm_mean"');
  });

  it("ghost batches keep PyTorch's keys only", () => {
    const a = new BatchNorm1d(4, { virtualBatchSize: 2 });
    a.forward(tensor(rng(17).array(24), [6, 4]));
    const b = new BatchNorm1d(4);
    b.loadStateDict(a.stateDict());
    expect(b.stateDict()).toEqual(a.stateDict());
  });

  it("a skipped step (saveForwardState / restoreForwardState) puts the renorm statistics back too", () => {
    const a = new BatchNorm1d(4, { renorm: { rMax: 3, dMax: 5 } });
    const x = tensor(rng(18).array(24, 2, 1), [6, 4]);
    a.forward(x);
    const sd = a.stateDict();
    a.saveForwardState();
    a.forward(x);
    a.restoreForwardState();
    expect(a.stateDict()).toEqual(sd);
  });
});

describe("foldBatchNorm", () => {
  it("folds Dense + BatchNorm1d with renorm or ghost batches like BN, and copies a lone one as a plain BN", () => {
    const model = new Sequential([
      new Dense(6, 5, { seed: 3 }), new BatchNorm1d(5, { renorm: { rMax: 3, dMax: 5 } }), new Sigmoid(),
      new Dense(5, 4, { seed: 4 }), new BatchNorm1d(4, { virtualBatchSize: 2 }), new Sigmoid(),
      new BatchNorm1d(4, { renorm: { rMax: 2, dMax: 1 } }),
    ]);
    const r = rng(19);
    for (let s = 0; s < 5; s++) model.forward(tensor(r.array(48, 2, 1), [8, 6]));
    model.eval();
    const x = tensor(r.array(18), [3, 6]);
    const want = model.forward(x).toArray();
    const folded = foldBatchNorm(model);
    expect(folded.layers.map((l) => l.constructor.name)).toEqual(["Dense", "Sigmoid", "Dense", "Sigmoid", "BatchNorm1d"]);
    expectClose(folded.forward(x).toArray(), want, 1e-5, "folded");
  });

  it("folds Conv2d + BatchNorm2d with renorm or ghost batches in both layouts", () => {
    for (const dataFormat of ["channelsFirst", "channelsLast"] as const) {
      for (const opts of [{ renorm: { rMax: 3, dMax: 5 } }, { virtualBatchSize: 2 }]) {
        const model = new Sequential([new Conv2d(2, 3, 3, { padding: 1, dataFormat, seed: 5 }), new BatchNorm2d(3, { ...opts, dataFormat })]);
        const shape = dataFormat === "channelsLast" ? [4, 5, 5, 2] : [4, 2, 5, 5];
        const r = rng(20);
        for (let s = 0; s < 3; s++) model.forward(tensor(r.array(200, 2, 1), shape));
        model.eval();
        const x = tensor(r.array(200), shape);
        const want = model.forward(x).toArray();
        const folded = foldBatchNorm(model);
        expect(folded.layers.length).toBe(1);
        expectClose(folded.forward(x).toArray(), want, 1e-5, `${dataFormat} ${JSON.stringify(opts)}`);
      }
    }
  });
});
