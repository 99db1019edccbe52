// The LayerNorm, GroupNorm and InstanceNorm layers: finite-difference gradient checks in
// every build (both layouts, batch size 1, eval with running estimates), the module
// interface (state dicts, saved forward state, Sequential, disposal), errors that name
// what was expected and what was received, and foldBatchNorm's refusal.
import { beforeAll, describe, expect, it } from "vitest";
import { backendInfo, init } from "../src/backend.js";
import { foldBatchNorm } from "../src/fold.js";
import { Sigmoid } from "../src/layers/activations.js";
import { BatchNorm1d } from "../src/layers/batchnorm.js";
import { Dense } from "../src/layers/dense.js";
import { GroupNorm } from "../src/layers/group_norm.js";
import { InstanceNorm1d, InstanceNorm2d } from "../src/layers/instance_norm.js";
import { LayerNorm } from "../src/layers/layer_norm.js";
import { Sequential } from "../src/layers/sequential.js";
import type { Module } from "../src/module.js";
import { tensor } from "../src/tensor.js";
import { BUILDS, rng } from "./check.js";
import { checkGradients } from "./check_grad.js";

/** Random affine parameters (gamma near 1), so their gradients and the backward's gamma terms are exercised. */
function randomize(m: Module, seed: number): Module {
  const r = rng(seed);
  for (const p of m.parameters()) p.value.data.set(p.name === "weight" ? r.array(p.value.size, 0.3, 1) : r.array(p.value.size, 0.2));
  return m;
}

function input(shape: number[], seed: number) {
  return tensor(rng(seed).array(shape.reduce((a, b) => a * b, 1), 1.5, 0.5), shape);
}

const GRAD_CASES: { name: string; make: () => Module; shape: number[]; eval?: boolean }[] = [
  { name: "LayerNorm([4, 3]) on [2, 4, 3]", make: () => new LayerNorm([4, 3]), shape: [2, 4, 3] },
  { name: "LayerNorm(17) batch 1", make: () => new LayerNorm(17), shape: [1, 17] },
  { name: "LayerNorm(5) without affine", make: () => new LayerNorm(5, { elementwiseAffine: false }), shape: [3, 5] },
  { name: "GroupNorm(2, 6) NCHW [2, 6, 3, 3]", make: () => new GroupNorm(2, 6), shape: [2, 6, 3, 3] },
  { name: "GroupNorm(2, 6) NHWC [2, 3, 3, 6]", make: () => new GroupNorm(2, 6, { dataFormat: "channelsLast" }), shape: [2, 3, 3, 6] },
  { name: "GroupNorm(5, 10) [1, 10] batch 1", make: () => new GroupNorm(5, 10), shape: [1, 10] },
  { name: "InstanceNorm2d(3) affine NCHW [2, 3, 4, 3]", make: () => new InstanceNorm2d(3, { affine: true }), shape: [2, 3, 4, 3] },
  { name: "InstanceNorm2d(3) affine NHWC [1, 4, 3, 3] batch 1", make: () => new InstanceNorm2d(3, { affine: true, dataFormat: "channelsLast" }), shape: [1, 4, 3, 3] },
  { name: "InstanceNorm1d(4) affine trackRunningStats, eval", make: () => new InstanceNorm1d(4, { affine: true, trackRunningStats: true }), shape: [2, 4, 6], eval: true },
];

describe.each(BUILDS)("gradients against float32 central differences (%s build)", (build) => {
  beforeAll(async () => {
    await init({ build });
  });
  for (const c of GRAD_CASES) {
    it(c.name, () => {
      const m = randomize(c.make(), 3);
      const x = input(c.shape, 4);
      if (c.eval) {
        m.forward(input(c.shape, 5));
        m.eval();
      }
      checkGradients(m, x, { tol: 2e-2 });
    });
  }
});

describe("the layers", () => {
  beforeAll(async () => {
    await init();
  });

  it("keep PyTorch's state dict keys and shapes, and load them back checked", () => {
    const ln = new LayerNorm([2, 3]);
    expect(Object.keys(ln.stateDict())).toEqual(["weight", "bias"]);
    expect(ln.weight!.value.size).toBe(6);
    expect(Object.keys(new LayerNorm(3, { elementwiseAffine: false }).stateDict())).toEqual([]);
    expect(Object.keys(new GroupNorm(2, 4).stateDict())).toEqual(["weight", "bias"]);
    expect(Object.keys(new InstanceNorm2d(3).stateDict())).toEqual([]);
    expect(Object.keys(new InstanceNorm2d(3, { affine: true, trackRunningStats: true }).stateDict())).toEqual(["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]);
    const gn = new GroupNorm(2, 4);
    gn.loadStateDict({ weight: Float32Array.of(1, 2, 3, 4), bias: Float32Array.of(0, 0, 0, 1) });
    expect(gn.stateDict().weight).toEqual(Float32Array.of(1, 2, 3, 4));
    expect(() => gn.loadStateDict({ weight: new Float32Array(3), bias: new Float32Array(4) })).toThrow(/"weight" must have length 4/);
    expect(() => gn.loadStateDict({ weight: new Float32Array(4), bias: new Float32Array(4), running_mean: new Float32Array(4) })).toThrow(/unexpected key "running_mean"/);
    const inn = new InstanceNorm1d(2, { trackRunningStats: true });
    expect(() => inn.loadStateDict({ running_mean: new Float32Array(2), running_var: Float32Array.of(1, -1), num_batches_tracked: BigInt64Array.of(0n) })).toThrow(/running_var.*must be >= 0/);
    expect(() => inn.loadStateDict({ running_mean: new Float32Array(2), running_var: new Float32Array(2) })).toThrow(/missing "num_batches_tracked"/);
  });

  it("normalize each sample alone: batch 1 works, and a sample's output does not depend on the others", () => {
    for (const make of [() => new LayerNorm(7), () => new GroupNorm(1, 7)]) {
      const m = make();
      const x = input([3, 7], 9);
      const all = m.forward(x).toArray();
      const one = m.forward(tensor(x.toArray().slice(7, 14), [1, 7])).toArray();
      expect(Array.from(one)).toEqual(Array.from(all.slice(7, 14)));
    }
  });

  it("InstanceNorm: running estimates move in training, eval uses them, saveForwardState/restoreForwardState undo a step", () => {
    const m = new InstanceNorm2d(2, { trackRunningStats: true });
    const x = input([2, 2, 3, 3], 11);
    m.forward(x);
    const after1 = m.runningMean!.toArray();
    expect(after1.some((v) => v !== 0)).toBe(true);
    m.saveForwardState();
    m.forward(x);
    expect(m.runningMean!.toArray()).not.toEqual(after1);
    m.restoreForwardState();
    expect(m.runningMean!.toArray()).toEqual(after1);
    m.eval();
    const y = m.forward(x).toArray();
    const rm = m.runningMean!.toArray(), rv = m.runningVar!.toArray(), xs = x.toArray();
    expect(y[0]).toBeCloseTo((xs[0] - rm[0]) / Math.sqrt(rv[0] + 1e-5), 5);
    // Eval accepts a single position (running statistics); training does not, as PyTorch.
    expect(m.forward(input([1, 2, 1, 1], 3)).shape).toEqual([1, 2, 1, 1]);
    m.train();
    expect(() => m.forward(input([1, 2, 1, 1], 3))).toThrow(/Expected more than 1 spatial element when training, got input size \[1, 2, 1, 1\]/);
  });

  it("train in a Sequential next to Dense (the MNIST MLP's shape, batch 2)", () => {
    const model = new Sequential([new Dense(100, 100, { seed: 1 }), new LayerNorm(100), new Sigmoid(), new Dense(100, 100, { seed: 2 }), new GroupNorm(10, 100), new Dense(100, 10, { seed: 3 })]);
    const y = model.forward(input([2, 100], 1));
    expect(y.shape).toEqual([2, 10]);
    model.zeroGrad();
    expect(model.backward(tensor(new Float32Array(20).fill(1), [2, 10])).shape).toEqual([2, 100]);
    expect(model.namedParameters().map(([k]) => k)).toEqual(["0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias", "4.weight", "4.bias", "5.weight", "5.bias"]);
    model.dispose();
    expect(() => model.forward(input([2, 100], 1))).toThrow(/disposed/);
  });

  it("reject bad arguments, naming what was expected and what was received", () => {
    expect(() => new LayerNorm(0)).toThrow(/LayerNorm: normalizedShape must be a positive integer or a non-empty array of them, got 0/);
    expect(() => new LayerNorm([])).toThrow(/got \[\]/);
    expect(() => new LayerNorm(4, { epsilon: 1e-3 } as never)).toThrow(/unknown option "epsilon" \(did you mean "eps"\?\)/);
    expect(() => new LayerNorm(4, { elementwiseAffine: "no" } as never)).toThrow(/elementwiseAffine must be true or false, got the string "no"/);
    expect(() => new LayerNorm(4).forward(input([2, 5], 1))).toThrow(/LayerNorm\(\[4\]\): expected an input whose last 1 dimension is \[4\], got shape \[2, 5\]/);
    expect(() => new GroupNorm(3, 8)).toThrow(/numChannels must be divisible by numGroups, got 8 channels in 3 groups/);
    expect(() => new GroupNorm(2, 4, { dataFormat: "NHWC" } as never)).toThrow(/dataFormat must be 'channelsFirst' or 'channelsLast', got the string "NHWC"/);
    expect(() => new GroupNorm(2, 4).forward(input([2, 6], 1))).toThrow(/expected 4 channels at dimension 1 of \[N, 4, \*\], got 6/);
    expect(() => new GroupNorm(2, 4, { dataFormat: "channelsLast" }).forward(input([2, 3, 6], 1))).toThrow(/expected 4 channels at dimension 2/);
    expect(() => new InstanceNorm2d(3, { momentum: 2 })).toThrow(/momentum must be a number in \[0, 1\].*got 2/);
    expect(() => new InstanceNorm2d(3, { momentum: null } as never)).toThrow(/momentum/);
    expect(() => new InstanceNorm1d(3).forward(input([2, 3, 2, 2], 1))).toThrow(/expected a \[N, 3, L\] input, got shape \[2, 3, 2, 2\] \(rank 4\)/);
    expect(() => new InstanceNorm2d(3, { trackRunningStat: true } as never)).toThrow(/did you mean "trackRunningStats"/);
  });

  it("foldBatchNorm refuses them (they depend on the sample) instead of skipping them", () => {
    const bn = new BatchNorm1d(4).eval();
    expect(() => foldBatchNorm(new Sequential([new Dense(3, 4), bn]))).not.toThrow();
    for (const m of [new LayerNorm(4), new GroupNorm(2, 4)]) {
      const model = new Sequential([new Dense(3, 4), m]).eval();
      expect(() => foldBatchNorm(model)).toThrow(new RegExp(`cannot fold layer 1 \\(${m.constructor.name}.*normalizes each sample with its own statistics.*depends on the sample`));
    }
    expect(() => foldBatchNorm(new Sequential([new InstanceNorm1d(4, { trackRunningStats: true })]).eval())).toThrow(/InstanceNorm with trackRunningStats .* folding its eval map is not supported/);
  });
});

describe("wiring in a Sequential", () => {
  beforeAll(async () => {
    await init();
  });

  it("names the input a norm layer expects", () => {
    expect(() => new Sequential([new Dense(3, 5), new LayerNorm(4)]).forward(input([2, 3], 1))).toThrow(/Sequential: layer 1 \(LayerNorm\(\[4\]\)\) expects input \[\*, 4\], got \[2, 5\]/);
    expect(() => new Sequential([new Dense(3, 5), new GroupNorm(2, 4)]).forward(input([2, 3], 1))).toThrow(/expects input \[N, 4, \*\], got \[2, 5\]/);
  });
});

describe("disposal", () => {
  beforeAll(async () => {
    await init();
  });

  it("returns every byte the layers took (buffers, statistics, scratch, running estimates)", () => {
    const x4 = input([2, 4, 3, 3], 1), x2 = input([2, 4], 2);
    const before = backendInfo().heapBytesInUse;
    const layers = [new LayerNorm([3, 3]), new GroupNorm(2, 4), new GroupNorm(2, 4, { dataFormat: "channelsLast" }), new InstanceNorm2d(4, { affine: true, trackRunningStats: true })];
    for (const m of layers) {
      const x = m instanceof GroupNorm && m.dataFormat === "channelsLast" ? x2 : x4;
      m.forward(x);
      m.backward(x);
      m.saveForwardState();
      m.eval().forward(x);
      m.backward(x);
    }
    for (const m of layers) m.dispose();
    expect(backendInfo().heapBytesInUse).toBe(before);
  });
});
