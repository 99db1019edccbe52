// State changed by a call that then throws, or kept from a step that was skipped: a module
// placed twice in one model, a wiring error after a BatchNorm, a bad label found after the
// first step, a NaN batch under onNonFinite: 'continue', a last batch of one sample.
import { beforeAll, describe, expect, it } from "vitest";
import { init } from "../src/backend.js";
import { BatchNorm1d } from "../src/layers/batchnorm.js";
import { ReLU, Sigmoid } from "../src/layers/activations.js";
import { Dense } from "../src/layers/dense.js";
import { Dropout } from "../src/layers/dropout.js";
import { Flatten } from "../src/layers/flatten.js";
import type { StateDict } from "../src/module.js";
import { Adam } from "../src/optim/adam.js";
import { SGD } from "../src/optim/sgd.js";
import { Sequential } from "../src/layers/sequential.js";
import { tensor } from "../src/tensor.js";
import { evaluate } from "../src/training/evaluate.js";
import { fit } from "../src/training/fit.js";
import { blobs, rng } from "./check.js";

beforeAll(async () => {
  await init();
});

/** Every entry of a state dict, as plain numbers (BigInt counters included). */
const snapshot = (sd: StateDict) => Object.fromEntries(Object.entries(sd).map(([k, v]) => [k, Array.from(v as ArrayLike<number | bigint>, Number)]));

describe("one module instance in two places", () => {
  it("is rejected when the model is built, naming both positions", () => {
    const relu = new ReLU();
    expect(() => new Sequential([new Dense(4, 4), relu, new Dense(4, 4), relu])).toThrow(
      /^Sequential: layer 3 \(ReLU\(\)\) is the same instance as layer 1; .*create a separate one for each place/,
    );
    const bn = new BatchNorm1d(4);
    expect(() => new Sequential([bn, new Sequential([new Dense(4, 4), bn])])).toThrow(/layer 1\.1 \(BatchNorm1d\(4\)\) is the same instance as layer 0/);
  });

  it("is rejected by append (and a model cannot contain itself)", () => {
    const d = new Dense(3, 3);
    const m = new Sequential([d]);
    expect(() => m.append(d)).toThrow(/layer 1 \(Dense\(3 -> 3\)\) is the same instance as layer 0/);
    expect(m.length).toBe(1);
    expect(() => m.append(m)).toThrow(/is the same instance as the model itself/);
  });
});

describe("a call that throws changes nothing", () => {
  it("Sequential.forward checks the whole chain before the first layer runs", () => {
    const model = new Sequential([new Dense(10, 8), new BatchNorm1d(8), new Dense(9, 2)]);
    const before = snapshot(model.stateDict());
    const x = tensor(rng(1).array(40, 1), [4, 10]);
    expect(() => model.forward(x)).toThrow("Sequential: layer 2 (Dense(9 -> 2)) expects input [N, 9], got [4, 8]");
    expect(snapshot(model.stateDict())).toEqual(before);
    expect((model.layers[1] as BatchNorm1d).numBatchesTracked).toBe(0);
  });

  it("a batch of one sample for a later BatchNorm is rejected before an earlier BatchNorm runs", () => {
    // [1, 10, 3] gives the first BatchNorm 3 values per channel, the last one only 1.
    const model = new Sequential([new BatchNorm1d(10), new Flatten(), new Dense(30, 4), new BatchNorm1d(4)]);
    const before = snapshot(model.stateDict());
    expect(() => model.forward(tensor(rng(2).array(30, 1), [1, 10, 3]))).toThrow(/layer 3 \(BatchNorm1d\(4\)\).*Expected more than 1 value per channel/);
    expect(snapshot(model.stateDict())).toEqual(before);
  });

  it("fit with an out-of-range label throws before the first step", () => {
    const data = blobs(40, 10, 4, 3);
    data.y[37] = 4; // the model has 4 classes
    const model = new Sequential([new Dense(10, 16), new BatchNorm1d(16), new ReLU(), new Dense(16, 4)]);
    const before = snapshot(model.stateDict());
    const optimizer = new SGD(model.parameters(), { lr: 0.1 });
    expect(() => fit(model, data, { batchSize: 8, optimizer, verbose: false })).toThrow(
      "fit: label 4 of sample 37 is out of range: the model outputs 4 classes, so labels must be integers in [0, 4)",
    );
    expect(snapshot(model.stateDict())).toEqual(before);
    expect(optimizer.stepCount).toBe(0);
  });

  it("fit with a batch size the model cannot train on throws before the first step", () => {
    const model = new Sequential([new BatchNorm1d(10), new Flatten(), new Dense(30, 16), new BatchNorm1d(16), new Dense(16, 4)]);
    const before = snapshot(model.stateDict());
    const optimizer = new SGD(model.parameters(), { lr: 0.1 });
    const data = blobs(9, 30, 4, 4);
    expect(() => fit(model, { ...data, shape: [9, 10, 3] }, { batchSize: 1, optimizer, verbose: false })).toThrow(/layer 3 \(BatchNorm1d\(16\)\).*Expected more than 1 value per channel/);
    expect(snapshot(model.stateDict())).toEqual(before);
  });

  it("a last batch of 1 sample is dropped instead of failing after the other steps", () => {
    const model = new Sequential([new Dense(10, 16), new BatchNorm1d(16), new Dense(16, 4)]);
    const optimizer = new SGD(model.parameters(), { lr: 0.1 });
    const h = fit(model, blobs(33, 10, 4, 5), { batchSize: 4, epochs: 2, optimizer, verbose: false });
    expect(h.steps).toBe(16);
    expect((model.layers[1] as BatchNorm1d).numBatchesTracked).toBe(16);
  });
});

describe("onNonFinite: 'continue'", () => {
  it("a skipped step leaves parameters, optimizer moments, running statistics and counters as they were", () => {
    const data = blobs(48, 10, 3, 6);
    // Batch 2 of the first epoch (no shuffling) holds a NaN: its loss is NaN.
    data.x[16 * 10 + 3] = NaN;
    const make = () => new Sequential([new Dense(10, 12, { seed: 1 }), new BatchNorm1d(12), new Sigmoid(), new Dropout(0.2, { seed: 2 }), new Dense(12, 3, { seed: 3 })]);
    const model = make();
    const optimizer = new Adam(model.parameters(), { lr: 0.01 });
    const h = fit(model, data, { batchSize: 8, epochs: 1, shuffle: false, onNonFinite: "continue", optimizer, verbose: false });
    expect(h.steps).toBe(6);
    expect(Number.isNaN(h.loss[2])).toBe(true);
    expect(h.loss.filter(Number.isFinite).length).toBe(5);

    // The same run without the NaN batch: identical state, bit for bit.
    const clean = { x: new Float32Array(40 * 10), y: new Uint8Array(40), shape: [40, 10] as [number, number] };
    clean.x.set(data.x.subarray(0, 160));
    clean.x.set(data.x.subarray(240), 160);
    clean.y.set(data.y.subarray(0, 16));
    clean.y.set(data.y.subarray(24), 16);
    const ref = make();
    const refOpt = new Adam(ref.parameters(), { lr: 0.01 });
    fit(ref, clean, { batchSize: 8, epochs: 1, shuffle: false, optimizer: refOpt, verbose: false });
    expect(snapshot(model.stateDict())).toEqual(snapshot(ref.stateDict()));
    expect((model.layers[1] as BatchNorm1d).numBatchesTracked).toBe(5);
    expect(optimizer.stepCount).toBe(5);
    const r = evaluate(model, { x: clean.x, y: clean.y, shape: clean.shape });
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(r.accuracy).toBeGreaterThan(0.5);
  });
});
