// Use after dispose(): every call on a disposed layer, model or optimizer throws before a
// kernel runs, so nothing is written into memory that now belongs to other tensors.
import { beforeAll, describe, expect, it } from "vitest";
import { init } from "../src/backend.js";
import { BatchNorm1d, BatchNorm2d } from "../src/layers/batchnorm.js";
import { ReLU, Sigmoid } from "../src/layers/activations.js";
import { Dense } from "../src/layers/dense.js";
import { Dropout } from "../src/layers/dropout.js";
import { Flatten } from "../src/layers/flatten.js";
import type { Module } from "../src/module.js";
import { Adam } from "../src/optim/adam.js";
import { SGD } from "../src/optim/sgd.js";
import { Sequential } from "../src/layers/sequential.js";
import { full, type Tensor, tensor } from "../src/tensor.js";
import { rng } from "./check.js";

beforeAll(async () => {
  await init();
});

const randn = (shape: number[], seed: number) => tensor(rng(seed).array(shape.reduce((a, b) => a * b, 1), 1), shape);

/** Disposes `layer`, allocates a tensor the freed memory can go to, and checks that forward/backward throw and leave it intact. */
function expectDeadAfterDispose(layer: Module & { dispose(): void }, x: Tensor, name: RegExp): void {
  const y = layer.forward(x);
  const dy = full(y.shape, 1);
  layer.backward(dy);
  layer.dispose();
  const mine = full([64], 7);
  expect(() => layer.forward(x)).toThrow(name);
  expect(() => layer.forward(x)).toThrow(/was disposed/);
  expect(() => layer.backward(dy)).toThrow(/was disposed/);
  expect(Array.from(mine.data)).toEqual(new Array(64).fill(7));
  expect(() => layer.dispose()).not.toThrow(); // idempotent
  mine.dispose();
  dy.dispose();
}

describe("a disposed layer throws instead of writing into freed memory", () => {
  it("BatchNorm1d (the issue's case: 40 of 64 values of a new tensor were overwritten)", () => {
    const bn = new BatchNorm1d(20);
    expectDeadAfterDispose(bn, randn([8, 20], 1), /^BatchNorm1d\(20\)\.forward: this layer was disposed/);
    expect(() => bn.stateDict()).toThrow(/was disposed/);
    expect(() => bn.loadStateDict({})).toThrow(/was disposed/);
  });

  it("BatchNorm2d, Dense, activations, Dropout and Flatten", () => {
    expectDeadAfterDispose(new BatchNorm2d(3), randn([2, 3, 4, 4], 2), /^BatchNorm2d\(3\)\.forward/);
    expectDeadAfterDispose(new Dense(10, 6), randn([4, 10], 3), /^Dense\(10 -> 6\)\.forward/);
    expectDeadAfterDispose(new ReLU(), randn([4, 10], 4), /^ReLU\(\)\.forward/);
    expectDeadAfterDispose(new Sigmoid(), randn([4, 10], 5), /^Sigmoid\(\)\.forward/);
    expectDeadAfterDispose(new Dropout(0.5, { seed: 1 }), randn([4, 10], 6), /^Dropout\(p=0.5\)\.forward/);
    expectDeadAfterDispose(new Flatten(), randn([4, 2, 5], 7), /^Flatten\(\)\.forward/);
  });

  it("Dense.backwardParams and a disposed Sequential", () => {
    const d = new Dense(4, 3);
    const x = randn([5, 4], 8);
    d.forward(x);
    d.dispose();
    expect(() => d.backwardParams(full([5, 3], 1))).toThrow(/Dense\(4 -> 3\)\.backward: this layer was disposed/);
    const model = new Sequential([new Dense(4, 8), new BatchNorm1d(8), new ReLU(), new Dense(8, 2)]);
    model.forward(x);
    model.dispose();
    const mine = full([256], 3);
    expect(() => model.forward(x)).toThrow(/^Sequential\.forward: this model was disposed/);
    expect(() => model.backward(full([5, 2], 1))).toThrow(/^Sequential\.backward: this model was disposed/);
    expect(() => model.stateDict()).toThrow(/was disposed/);
    expect(Array.from(mine.data)).toEqual(new Array(256).fill(3));
  });
});

describe("optimizers", () => {
  it("step() throws when the optimizer or a parameter's layer was disposed, and writes nothing", () => {
    for (const make of [(m: Sequential) => new SGD(m.parameters(), { lr: 0.1, momentum: 0.9 }), (m: Sequential) => new Adam(m.parameters())]) {
      const model = new Sequential([new Dense(6, 5), new BatchNorm1d(5)]);
      const opt = make(model);
      opt.step();
      opt.dispose();
      const mine = full([64], 7);
      expect(() => opt.step()).toThrow(/^(SGD|Adam)\.step: this optimizer was disposed/);
      expect(Array.from(mine.data)).toEqual(new Array(64).fill(7));
      mine.dispose();

      const opt2 = make(model);
      (model.layers[1] as BatchNorm1d).dispose();
      const mine2 = full([64], 7);
      expect(() => opt2.step()).toThrow(/parameter 2 \("weight"\) belongs to a layer that was disposed/);
      expect(Array.from(mine2.data)).toEqual(new Array(64).fill(7));
      mine2.dispose();
    }
  });
});
