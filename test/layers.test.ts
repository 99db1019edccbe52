// The MLP layers (Dense, Sigmoid/ReLU/Tanh, Dropout, Flatten) and CrossEntropyLoss against
// their float64 references on both builds; Dense's initialisations by their distributions;
// the errors users see.
import { beforeAll, describe, expect, it } from "vitest";
import { backendInfo, getBackend, init } from "../src/backend.js";
import { Activation, ReLU, Sigmoid, Tanh } from "../src/layers/activations.js";
import { Dense } from "../src/layers/dense.js";
import type { DenseInit } from "../src/layers/init.js";
import { Dropout } from "../src/layers/dropout.js";
import { Flatten } from "../src/layers/flatten.js";
import { CrossEntropyLoss } from "../src/loss.js";
import { tensor, zeros } from "../src/tensor.js";
import { BUILDS, expectClose, rng } from "./check.js";
import { refDenseBackward, refDenseForward } from "./reference/layers.js";
import { ACT, refActBackward, refActForward } from "./reference/activations.js";
import { refSoftmaxXentBackward, refSoftmaxXentForward } from "./reference/loss.js";


/** [M, in, out]: tails around the 4 x 8 register tile, and the paper's MNIST layers. */
const DENSE_SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 3, 5],
  [3, 4, 8],
  [5, 7, 9],
  [9, 17, 3],
  [17, 8, 16],
  [60, 784, 100],
  [60, 100, 10],
];

describe.each(BUILDS)("Dense (%s build)", (build) => {
  beforeAll(async () => {
    await init({ build });
  });

  it.each(DENSE_SHAPES)("forward and backward match float64 for M=%i, in=%i, out=%i", (M, inF, outF) => {
    const r = rng(M * 1000 + inF * 10 + outF);
    const layer = new Dense(inF, outF, { seed: 1 });
    const xv = r.array(M * inF);
    const dyv = r.array(M * outF);
    const x = tensor(xv, [M, inF]);
    const y = layer.forward(x);
    expect(y.shape).toEqual([M, outF]);
    const w = layer.weight.value.toArray(), b = layer.bias!.value.toArray();
    expectClose(y.data, refDenseForward(xv, w, b, M, inF, outF), 1e-5, "y");
    const dy = tensor(dyv, [M, outF]);
    const dx = layer.backward(dy);
    const ref = refDenseBackward(dyv, xv, w, M, inF, outF);
    expectClose(dx.data, ref.dx, 1e-5, "dx");
    expectClose(layer.weight.grad.data, ref.dw, 1e-5, "dW");
    expectClose(layer.bias!.grad.data, ref.db, 1e-5, "db");
    // Gradients accumulate (PyTorch's semantics) until zeroGrad().
    layer.backward(dy);
    expectClose(layer.weight.grad.data, ref.dw.map((v) => 2 * v), 1e-5, "dW after two backwards");
    layer.zeroGrad();
    expect(layer.weight.grad.data.every((v) => v === 0)).toBe(true);
    expect(layer.bias!.grad.data.every((v) => v === 0)).toBe(true);
    // backwardParams: the same parameter gradients, no dx.
    layer.backwardParams(dy);
    expectClose(layer.weight.grad.data, ref.dw, 1e-5, "dW (backwardParams)");
    x.dispose();
    dy.dispose();
    layer.dispose();
  });

  it("without bias, and over a leading batch of any rank ([*, in], as nn.Linear)", () => {
    const r = rng(7);
    const layer = new Dense(6, 5, { bias: false, seed: 3 });
    expect(layer.bias).toBeNull();
    expect(layer.parameters().map((p) => p.name)).toEqual(["weight"]);
    const xv = r.array(2 * 3 * 6);
    const y = layer.forward(tensor(xv, [2, 3, 6]));
    expect(y.shape).toEqual([2, 3, 5]);
    const w = layer.weight.value.toArray();
    expectClose(y.data, refDenseForward(xv, w, null, 6, 6, 5), 1e-6, "y");
    const dyv = r.array(2 * 3 * 5);
    const dx = layer.backward(tensor(dyv, [2, 3, 5]));
    expect(dx.shape).toEqual([2, 3, 6]);
    const ref = refDenseBackward(dyv, xv, w, 6, 6, 5);
    expectClose(dx.data, ref.dx, 1e-6, "dx");
    expectClose(layer.weight.grad.data, ref.dw, 1e-6, "dW");
  });
});

describe("Dense initialisation", () => {
  beforeAll(async () => {
    await init();
  });

  function stats(a: Float32Array) {
    let s = 0, s2 = 0, lo = Infinity, hi = -Infinity;
    for (const v of a) {
      s += v;
      s2 += v * v;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    const mean = s / a.length;
    return { mean, std: Math.sqrt(s2 / a.length - mean * mean), lo, hi };
  }

  const inF = 400, outF = 300;
  const cases: { init: DenseInit; bound: number | null; std: number; biasZero: boolean }[] = [
    { init: "torch", bound: 1 / Math.sqrt(inF), std: 1 / Math.sqrt(inF) / Math.sqrt(3), biasZero: false },
    { init: "glorotUniform", bound: Math.sqrt(6 / (inF + outF)), std: Math.sqrt(6 / (inF + outF)) / Math.sqrt(3), biasZero: true },
    { init: "heNormal", bound: null, std: Math.sqrt(2 / inF), biasZero: true },
    { init: { normal: 0.01 }, bound: null, std: 0.01, biasZero: true },
  ];

  it.each(cases)("$init: mean, std and bounds of the weights; the bias", ({ init: how, bound, std, biasZero }) => {
    const layer = new Dense(inF, outF, { init: how, seed: 42 });
    const w = stats(layer.weight.value.data);
    // 120,000 samples: the mean's standard error is std / 346.
    expect(Math.abs(w.mean)).toBeLessThan((5 * std) / Math.sqrt(inF * outF));
    expect(w.std / std).toBeGreaterThan(0.99);
    expect(w.std / std).toBeLessThan(1.01);
    if (bound !== null) {
      expect(w.lo).toBeGreaterThanOrEqual(-bound);
      expect(w.hi).toBeLessThanOrEqual(bound);
      expect(w.lo).toBeLessThan(-0.99 * bound);
      expect(w.hi).toBeGreaterThan(0.99 * bound);
    } else {
      // A normal: some weights beyond 3 std, none beyond 6.
      expect(w.hi).toBeGreaterThan(3 * std);
      expect(Math.max(-w.lo, w.hi)).toBeLessThan(6 * std);
    }
    const b = layer.bias!.value.toArray();
    if (biasZero) expect(b.every((v) => v === 0)).toBe(true);
    else {
      const bs = stats(b);
      expect(bs.lo).toBeGreaterThanOrEqual(-1 / Math.sqrt(inF));
      expect(bs.hi).toBeLessThanOrEqual(1 / Math.sqrt(inF));
      expect(bs.std).toBeGreaterThan(0.5 / Math.sqrt(inF) / Math.sqrt(3));
    }
    layer.dispose();
  });

  it("is deterministic for a seed, and distinct layers differ without one", () => {
    const a = new Dense(20, 10, { seed: 5 }).weight.value.toArray();
    const b = new Dense(20, 10, { seed: 5 }).weight.value.toArray();
    const c = new Dense(20, 10, { seed: 6 }).weight.value.toArray();
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    const d = new Dense(20, 10).weight.value.toArray();
    const e = new Dense(20, 10).weight.value.toArray();
    expect(e).not.toEqual(d);
  });

  it("rejects bad arguments with messages that say what was expected", () => {
    expect(() => new Dense(0, 3)).toThrow(/inFeatures must be a positive integer, got 0/);
    expect(() => new Dense(3, 2.5)).toThrow(/outFeatures must be a positive integer, got 2.5/);
    expect(() => new Dense(3, 2, { init: "xavier" as never })).toThrow(/init must be 'torch', 'glorotUniform', 'heNormal' or \{ normal: std \}, got "xavier"/);
    expect(() => new Dense(3, 2, { init: { normal: -1 } })).toThrow(/std >= 0/);
    expect(() => new Dense(3, 2, { seed: 0.5 })).toThrow(/seed must be an integer/);
    const layer = new Dense(4, 2, { seed: 0 });
    expect(() => layer.backward(zeros([3, 2]))).toThrow(/Dense\(4 -> 2\)\.backward: called before forward/);
    expect(() => layer.forward(zeros([3, 5]))).toThrow("Dense(4 -> 2): expected input [N, 4], got [3, 5]");
    layer.forward(zeros([3, 4]));
    expect(() => layer.backward(zeros([3, 3]))).toThrow("Dense(4 -> 2).backward: expected dy of shape [3, 2] (the last forward's output), got [3, 3]");
    expect(() => layer.forward([1, 2, 3, 4] as never)).toThrow(/expected a Tensor \(see tensor\(\)\), got an array/);
  });

  it("stateDict / loadStateDict in PyTorch's layout, validated before anything changes", () => {
    const layer = new Dense(3, 2, { seed: 1 });
    const sd = layer.stateDict();
    expect(Object.keys(sd)).toEqual(["weight", "bias"]);
    expect(layer.stateShapes()).toEqual({ weight: [2, 3], bias: [2] });
    const w = Float32Array.from([1, 2, 3, 4, 5, 6]);
    layer.loadStateDict({ weight: w, bias: Float32Array.from([7, 8]) });
    // Row o of W is output o: y = x W^T + b.
    const y = layer.forward(tensor([1, 0, 0, 0, 0, 1], [2, 3]));
    expect(Array.from(y.data)).toEqual([1 + 7, 4 + 8, 3 + 7, 6 + 8]);
    const before = layer.stateDict();
    expect(() => layer.loadStateDict({ weight: new Float32Array(5), bias: new Float32Array(2) })).toThrow(/"weight" must have length 6 \(shape \[2, 3\]\), got 5/);
    expect(() => layer.loadStateDict({ weight: new Float32Array(6) })).toThrow(/missing key "bias"/);
    expect(() => layer.loadStateDict({ weight: new Float32Array(6), bias: new Float32Array(2), extra: new Float32Array(1) })).toThrow(/unexpected key "extra"/);
    expect(layer.stateDict()).toEqual(before);
  });
});

describe.each(BUILDS)("activations (%s build)", (build) => {
  beforeAll(async () => {
    await init({ build });
  });

  const layers = { relu: ReLU, sigmoid: Sigmoid, tanh: Tanh } as const;
  it.each(["relu", "sigmoid", "tanh"] as const)("%s forward and backward match float64", (kind) => {
    const r = rng(11);
    for (const shape of [[1, 1], [3, 5], [60, 100], [2, 3, 4, 5]]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const layer: Activation = new layers[kind]();
      expect(layer.kind).toBe(kind);
      const xv = r.array(n, 3);
      const y = layer.forward(tensor(xv, shape));
      expect(y.shape).toEqual(shape);
      const yRef = refActForward(xv, ACT[kind]);
      expectClose(y.data, yRef, 2e-7, `${kind} y ${shape}`);
      const dyv = r.array(n);
      const dx = layer.backward(tensor(dyv, shape));
      // The derivative is taken from the float32 output, as the layer does.
      expectClose(dx.data, refActBackward(dyv, y.toArray(), ACT[kind]), 1e-6, `${kind} dx ${shape}`);
      expect(() => layer.backward(zeros([n + 1]))).toThrow(/expected dy of shape/);
    }
  });
});

describe("Dropout", () => {
  beforeAll(async () => {
    await init();
  });

  it("zeroes a share p in training, scales the rest by 1/(1-p), and backward uses the same mask", () => {
    const p = 0.3;
    const layer = new Dropout(p, { seed: 9 });
    const n = 100_000;
    const x = tensor(new Float32Array(n).fill(2), [100, 1000]);
    const y = layer.forward(x).toArray();
    const zeroShare = y.filter((v) => v === 0).length / n;
    expect(Math.abs(zeroShare - p)).toBeLessThan(0.01);
    const kept = Math.fround(2 * Math.fround(1 / (1 - p)));
    expect(y.every((v) => v === 0 || v === kept)).toBe(true);
    const dx = layer.backward(tensor(new Float32Array(n).fill(1), [100, 1000])).toArray();
    let mismatches = 0;
    for (let i = 0; i < n; i++) if ((dx[i] === 0) !== (y[i] === 0)) mismatches++;
    expect(mismatches).toBe(0);
    // A new mask each step, the same masks for the same seed.
    const y2 = layer.forward(x).toArray();
    expect(y2).not.toEqual(y);
    const again = new Dropout(p, { seed: 9 });
    expect(again.forward(x).toArray()).toEqual(y);
  });

  it("is the identity in eval mode and for p = 0; p = 1 zeroes everything", () => {
    const x = tensor([1, 2, 3, 4], [2, 2]);
    const layer = new Dropout(0.5).eval();
    expect(layer.forward(x)).toBe(x);
    const dy = tensor([1, 1, 1, 1], [2, 2]);
    expect(layer.backward(dy)).toBe(dy);
    expect(new Dropout(0).forward(x)).toBe(x);
    expect(Array.from(new Dropout(1).forward(x).data)).toEqual([0, 0, 0, 0]);
    expect(() => new Dropout(1.5)).toThrow(/p must be a probability in \[0, 1\], got 1.5/);
  });

  it("allocates no memory per step once warmed up", () => {
    const layer = new Dropout(0.5, { seed: 1 });
    const x = tensor(new Float32Array(600).fill(1), [60, 10]);
    const dy = tensor(new Float32Array(600).fill(1), [60, 10]);
    layer.forward(x);
    layer.backward(dy);
    const before = backendInfo();
    for (let i = 0; i < 50; i++) {
      layer.forward(x);
      layer.backward(dy);
    }
    expect(backendInfo()).toEqual(before);
  });
});

describe("Flatten", () => {
  beforeAll(async () => {
    await init();
  });

  it("is a view: same memory, new shape, nothing allocated; backward restores the shape", () => {
    const x = tensor(Float32Array.from({ length: 2 * 3 * 4 * 5 }, (_, i) => i), [2, 3, 4, 5]);
    const f = new Flatten();
    const inUse = getBackend().heap.bytesInUse;
    const y = f.forward(x);
    expect(y.shape).toEqual([2, 60]);
    expect(y.ptr).toBe(x.ptr);
    expect(Array.from(y.data)).toEqual(Array.from(x.data));
    expect(f.forward(x)).toBe(y); // the view is reused
    const dy = tensor(new Float32Array(120).fill(1), [2, 60]);
    const dx = f.backward(dy);
    expect(dx.shape).toEqual([2, 3, 4, 5]);
    expect(dx.ptr).toBe(dy.ptr);
    expect(getBackend().heap.bytesInUse).toBe(inUse + 120 * 4);
    expect(() => y.dispose()).toThrow(/belongs to Flatten\(\)/);
    // A view dies with its base.
    x.dispose();
    expect(y.isDisposed).toBe(true);
    expect(() => y.data).toThrow(/was disposed/);
    expect(() => f.backward(zeros([2, 59]))).toThrow("Flatten.backward: expected dy of shape [2, 60] (the last forward's output), got [2, 59]");
  });

  it("passes [N, F] through unchanged", () => {
    const x = tensor([1, 2, 3, 4], [2, 2]);
    expect(new Flatten().forward(x)).toBe(x);
  });
});

describe.each(BUILDS)("CrossEntropyLoss (%s build)", (build) => {
  beforeAll(async () => {
    await init({ build });
  });

  it("matches float64 forward and backward, with Int32Array or Uint8Array labels", () => {
    const r = rng(3);
    for (const [M, N] of [[1, 2], [3, 10], [60, 10], [7, 17]]) {
      const z = r.array(M * N, 4);
      const labels = Int32Array.from({ length: M }, () => Math.floor(r.uniform() * N));
      const loss = new CrossEntropyLoss();
      const logits = tensor(z, [M, N]);
      const value = loss.forward(logits, labels);
      const ref = refSoftmaxXentForward(z, labels, M, N);
      expect(Math.abs(value - ref.loss)).toBeLessThan(1e-5 * Math.max(1, ref.loss));
      const d = loss.backward();
      expect(d.shape).toEqual([M, N]);
      expectClose(d.data, refSoftmaxXentBackward(ref.probs, labels, M, N), 1e-5, `dlogits ${M}x${N}`);
      expect(loss.forward(logits, Uint8Array.from(labels))).toBe(value);
    }
  });

  it("names bad labels and empty batches", () => {
    const loss = new CrossEntropyLoss();
    const logits = tensor(new Float32Array(6), [2, 3]);
    expect(() => loss.forward(logits, Int32Array.from([0, 3]))).toThrow("CrossEntropyLoss.forward: label 3 at index 1 is out of range: expected an integer in [0, 3)");
    expect(() => loss.forward(logits, Int32Array.from([-1, 0]))).toThrow(/label -1 at index 0 is out of range/);
    expect(() => loss.forward(logits, Int32Array.from([0]))).toThrow(/2 rows of logits \[2, 3\] but 1 labels/);
    expect(() => loss.forward(tensor(new Float32Array(0), [0, 3]), new Int32Array(0))).toThrow(/batch size 0/);
    expect(() => loss.forward(tensor(new Float32Array(6), [6]), Int32Array.from([0]))).toThrow(/expected logits of shape \[N, classes\], got \[6\]/);
    expect(() => loss.forward(logits, [0, 1] as never)).toThrow(/labels must be an Int32Array or Uint8Array, got Array/);
    expect(() => new CrossEntropyLoss().backward()).toThrow(/called before forward/);
  });
});
