// Bad input: each throws an Error naming what was expected and what came, and leaves the
// layer as it was (running statistics and counters untouched).
import { beforeAll, describe, expect, it } from "vitest";
import { init } from "../src/backend.js";
import { BatchNorm1d, BatchNorm2d } from "../src/layers/batchnorm.js";
import { batchNormTrain } from "../src/functional.js";
import { tensor, zeros } from "../src/tensor.js";

beforeAll(async () => {
  await init();
});

function snapshot(bn: BatchNorm1d | BatchNorm2d) {
  return JSON.stringify(Object.entries(bn.stateDict()).map(([k, v]) => [k, Array.from(v, Number)]));
}

describe("bad input", () => {
  it("wrong rank", () => {
    const bn = new BatchNorm2d(3);
    const before = snapshot(bn);
    expect(() => bn.forward(zeros([2, 3]))).toThrow("BatchNorm2d(3): expected a [N, C, H, W] input, got shape [2, 3] (rank 2)");
    expect(() => new BatchNorm1d(3).forward(zeros([2, 3, 4, 5]))).toThrow(/expected a \[N, C\] or \[N, C, L\] input, got shape \[2, 3, 4, 5\]/);
    expect(snapshot(bn)).toBe(before);
  });

  it("wrong channel count, both layouts", () => {
    expect(() => new BatchNorm2d(16).forward(zeros([2, 8, 4, 4]))).toThrow(
      "BatchNorm2d(16): expected 16 channels at dimension 1 of [N, C, H, W], got 8 (input shape [2, 8, 4, 4])",
    );
    expect(() => new BatchNorm2d(16, { dataFormat: "channelsLast" }).forward(zeros([2, 4, 4, 8]))).toThrow(
      "expected 16 channels at dimension 3 of [N, H, W, C], got 8",
    );
  });

  it("dy of another shape than the last forward's input", () => {
    const bn = new BatchNorm2d(3);
    bn.forward(zeros([2, 3, 4, 4]).clone());
    expect(() => bn.backward(zeros([2, 3, 4, 5]))).toThrow(
      "BatchNorm2d(3).backward: expected dy of shape [2, 3, 4, 4] (the last forward's input), got [2, 3, 4, 5]",
    );
    expect(bn.weight!.grad.toArray()).toEqual(new Float32Array(3));
  });

  it("backward before forward", () => {
    expect(() => new BatchNorm1d(4).backward(zeros([2, 4]))).toThrow("BatchNorm1d(4).backward: called before forward");
  });

  it("non-positive or non-finite eps, bad momentum, bad numFeatures", () => {
    expect(() => new BatchNorm2d(3, { eps: 0 })).toThrow("BatchNorm2d: eps must be a positive finite number, got 0");
    expect(() => new BatchNorm2d(3, { eps: -1e-5 })).toThrow("got -0.00001");
    expect(() => new BatchNorm1d(3, { eps: NaN })).toThrow("got NaN");
    expect(() => new BatchNorm1d(3, { momentum: 1.5 })).toThrow("momentum must be a number in [0, 1] or null");
    expect(() => new BatchNorm1d(0)).toThrow("numFeatures must be a positive integer, got 0");
    expect(() => batchNormTrain(new Float32Array(8), [2, 4], { eps: 0 })).toThrow("eps must be a positive finite number, got 0");
  });

  it("one value per channel in training, as PyTorch says it; nothing changes", () => {
    const bn = new BatchNorm1d(10);
    bn.forward(tensor(new Float32Array(20).map((_, i) => i), [2, 10]));
    const before = snapshot(bn);
    expect(() => bn.forward(zeros([1, 10]))).toThrow("BatchNorm1d(10): Expected more than 1 value per channel when training, got input size [1, 10]");
    expect(() => new BatchNorm2d(3).forward(zeros([1, 3, 1, 1]))).toThrow("Expected more than 1 value per channel when training, got input size [1, 3, 1, 1]");
    expect(snapshot(bn)).toBe(before);
    expect(bn.numBatchesTracked).toBe(1);
    // Eval mode with running statistics normalizes a single value fine (as in PyTorch).
    expect(bn.eval().forward(zeros([1, 10])).shape).toEqual([1, 10]);
  });

  it("tensor() with data that does not fill the shape, non-tensors, disposed tensors", () => {
    expect(() => tensor([1, 2, 3], [2, 2])).toThrow("tensor: shape [2, 2] holds 4 values, but the data has 3");
    expect(() => tensor([1], [-1])).toThrow("expected a shape of non-negative integers");
    const bn = new BatchNorm1d(2);
    expect(() => bn.forward(new Float32Array(4) as never)).toThrow("BatchNorm1d(2).forward: expected a Tensor");
    const t = zeros([2, 2]);
    t.dispose();
    expect(() => bn.forward(t)).toThrow("Tensor [2, 2] was disposed");
  });

  it("loadStateDict checks everything before changing anything", () => {
    const bn = new BatchNorm1d(3);
    const before = snapshot(bn);
    const sd = bn.stateDict();
    expect(() => bn.loadStateDict({ ...sd, running_var: new Float32Array(2) })).toThrow('"running_var" must have length 3, got 2');
    expect(() => bn.loadStateDict({ ...sd, extra: new Float32Array(3) })).toThrow('unexpected key "extra"');
    const { running_mean: _, ...missing } = sd;
    expect(() => bn.loadStateDict({ ...missing, weight: new Float32Array([9, 9, 9]) })).toThrow('"running_mean" must be a Float32Array of length 3, got nothing');
    expect(snapshot(bn)).toBe(before);
  });
});
