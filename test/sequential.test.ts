// Sequential: shape errors that name the layer, PyTorch state dicts, the safetensors round
// trip, folding BatchNorm into Dense, seeded determinism, and the manual PyTorch-style loop.
import { beforeAll, describe, expect, it } from "vitest";
import { init } from "../src/backend.js";
import { BatchNorm1d } from "../src/layers/batchnorm.js";
import { foldBatchNorm } from "../src/fold.js";
import { ReLU, Sigmoid, Tanh } from "../src/layers/activations.js";
import { Dense } from "../src/layers/dense.js";
import { Dropout } from "../src/layers/dropout.js";
import { Flatten } from "../src/layers/flatten.js";
import { CrossEntropyLoss } from "../src/loss.js";
import type { StateDict } from "../src/module.js";
import { SGD } from "../src/optim/sgd.js";
import { Sequential } from "../src/layers/sequential.js";
import { fromSafetensors, toSafetensors } from "../src/serialize/safetensors.js";
import { tensor, zeros } from "../src/tensor.js";
import { fit } from "../src/training/fit.js";
import { blobs, expectClose, rng } from "./check.js";

beforeAll(async () => {
  await init();
});

function mlp(seed: number): Sequential {
  return new Sequential([
    new Dense(10, 16, { seed }),
    new BatchNorm1d(16),
    new ReLU(),
    new Dense(16, 12, { seed: seed + 1, bias: false }),
    new BatchNorm1d(12),
    new Tanh(),
    new Dense(12, 4, { seed: seed + 2 }),
  ]);
}

function bitsEqual(a: StateDict, b: StateDict): void {
  expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
  for (const k of Object.keys(a)) {
    const va = a[k], vb = b[k];
    expect(vb.constructor, k).toBe(va.constructor);
    expect(new Uint8Array(vb.buffer, vb.byteOffset, vb.byteLength), k).toEqual(new Uint8Array(va.buffer, va.byteOffset, va.byteLength));
  }
}

describe("Sequential shape checks", () => {
  it("names the layer index, the layer and both shapes", () => {
    const model = new Sequential([new Dense(784, 50), new ReLU(), new Dense(100, 10)]);
    expect(() => model.forward(zeros([60, 784]))).toThrow("Sequential: layer 2 (Dense(100 -> 10)) expects input [N, 100], got [60, 50]");
    const bn = new Sequential([new Dense(20, 30), new BatchNorm1d(40)]);
    expect(() => bn.forward(zeros([8, 20]))).toThrow("Sequential: layer 1 (BatchNorm1d(40)) expects input [N, 40] or [N, 40, L], got [8, 30]");
    const first = new Sequential(new Dense(3, 2), new Sigmoid());
    expect(() => first.forward(zeros([4, 5]))).toThrow("Sequential: layer 0 (Dense(3 -> 2)) expects input [N, 3], got [4, 5]");
  });

  it("prefixes errors raised inside a layer with its index", () => {
    const model = new Sequential([new Dense(3, 4), new BatchNorm1d(4)]);
    expect(() => model.forward(zeros([1, 3]))).toThrow(/^Sequential: layer 1 \(BatchNorm1d\(4\)\): BatchNorm1d\(4\): Expected more than 1 value per channel when training/);
    expect(() => new Sequential([new Dense(3, 4), {} as never])).toThrow(/Sequential: layer 1 is not a Module/);
    const m = new Sequential([new Dense(3, 2)]);
    expect(() => m.backward(zeros([2, 2]))).toThrow(/called before forward/);
    m.forward(zeros([5, 3]));
    expect(() => m.backward(zeros([5, 3]))).toThrow("Sequential.backward: expected dy of shape [5, 2] (the last forward's output), got [5, 3]");
  });

  it("flattens images for a Dense stack, and train()/eval() reach every layer", () => {
    const model = new Sequential([new Flatten(), new Dense(12, 3), new BatchNorm1d(3), new Dropout(0.5)]);
    const y = model.forward(tensor(rng(1).array(2 * 3 * 2 * 2), [2, 3, 2, 2]));
    expect(y.shape).toEqual([2, 3]);
    expect(model.backward(tensor([1, 1, 1, 1, 1, 1], [2, 3])).shape).toEqual([2, 3, 2, 2]);
    model.eval();
    expect(model.layers.every((l) => !l.training)).toBe(true);
    model.train();
    expect(model.layers.every((l) => l.training)).toBe(true);
    expect(String(model)).toContain("(1): Dense(12 -> 3)");
  });

  it("backwardParams skips the input gradient but accumulates the same parameter gradients", () => {
    const model = new Sequential([new Flatten(), new Dense(12, 5, { seed: 1 }), new BatchNorm1d(5), new Sigmoid(), new Dense(5, 3, { seed: 2 })]);
    const x = tensor(rng(2).array(4 * 12), [4, 3, 2, 2]);
    const loss = new CrossEntropyLoss();
    const labels = Int32Array.from([0, 1, 2, 0]);
    loss.forward(model.forward(x), labels);
    model.backward(loss.backward());
    const full = model.parameters().map((p) => p.grad.toArray());
    model.zeroGrad();
    loss.forward(model.forward(x), labels);
    model.backwardParams(loss.backward());
    model.parameters().forEach((p, i) => expect(p.grad.toArray()).toEqual(full[i]));
  });
});

describe("Sequential state", () => {
  it("uses PyTorch's keys and shapes", () => {
    const model = new Sequential([new Dense(4, 3), new BatchNorm1d(3), new ReLU(), new Dense(3, 2), new Sequential([new Dense(2, 2, { bias: false })])]);
    const sd = model.stateDict();
    expect(Object.keys(sd)).toEqual([
      "0.weight",
      "0.bias",
      "1.weight",
      "1.bias",
      "1.running_mean",
      "1.running_var",
      "1.num_batches_tracked",
      "3.weight",
      "3.bias",
      "4.0.weight",
    ]);
    expect(model.stateShapes()).toEqual({
      "0.weight": [3, 4],
      "0.bias": [3],
      "1.weight": [3],
      "1.bias": [3],
      "1.running_mean": [3],
      "1.running_var": [3],
      "1.num_batches_tracked": [],
      "3.weight": [2, 3],
      "3.bias": [2],
      "4.0.weight": [2, 2],
    });
    expect(sd["1.num_batches_tracked"]).toEqual(BigInt64Array.of(0n));
    expect(sd["0.weight"]).toBeInstanceOf(Float32Array);
    expect(model.namedParameters().map(([k]) => k)).toEqual(["0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias", "4.0.weight"]);
  });

  it("loadStateDict checks everything before changing anything", () => {
    const model = mlp(1);
    const good = mlp(2).stateDict();
    const before = model.stateDict();
    const without = { ...good };
    delete without["4.running_var"];
    expect(() => model.loadStateDict(without)).toThrow('Sequential.loadStateDict: missing key "4.running_var"');
    expect(() => model.loadStateDict({ ...good, "7.weight": new Float32Array(1) })).toThrow(/unexpected key "7.weight"/);
    expect(() => model.loadStateDict({ ...good, "6.weight": new Float32Array(47) })).toThrow('Sequential.loadStateDict: "6.weight" must have length 48 (shape [4, 12]), got 47');
    expect(() => model.loadStateDict({ ...good, "1.num_batches_tracked": new Float32Array(1) })).toThrow(/"1.num_batches_tracked" must be a BigInt64Array/);
    expect(() => model.loadStateDict({ ...good, "3.bias": new Float32Array(12) })).toThrow(/unexpected key "3.bias"/);
    bitsEqual(model.stateDict(), before);
    model.loadStateDict(good);
    bitsEqual(model.stateDict(), good);
  });
});

describe("safetensors", () => {
  it("round-trips a trained model bit-exactly: state and outputs", () => {
    const data = blobs(120, 10, 4, 3);
    const model = mlp(10);
    fit(model, data, { epochs: 2, batchSize: 30, optimizer: new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 }), verbose: false });
    const bytes = toSafetensors(model.stateDict(), model.stateShapes(), { format: "pt" });
    const loaded = fromSafetensors(bytes);
    expect(loaded.shapes).toEqual(model.stateShapes());
    expect(loaded.metadata).toEqual({ format: "pt" });
    expect(loaded.stateDict["1.num_batches_tracked"]).toEqual(BigInt64Array.of(8n));
    const fresh = mlp(99);
    fresh.loadStateDict(loaded.stateDict);
    bitsEqual(fresh.stateDict(), model.stateDict());
    const x = tensor(data.x.subarray(0, 200), [20, 10]);
    for (const mode of ["eval", "train"] as const) {
      model[mode]();
      fresh[mode]();
      expect(fresh.forward(x).toArray(), mode).toEqual(model.forward(x).toArray());
    }
  });

  it("writes the format: 8-byte little-endian header length, sorted JSON header, F32 and I64 data", () => {
    const sd: StateDict = { b: Float32Array.from([1, 2, 3, 4, 5, 6]), a: Float32Array.from([-1.5]), n: BigInt64Array.of(7n) };
    const bytes = toSafetensors(sd, { b: [2, 3] });
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const n = Number(view.getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    expect(Object.keys(header)).toEqual(["a", "b", "n"]);
    expect(header.n).toEqual({ dtype: "I64", shape: [], data_offsets: [0, 8] });
    expect(header.a).toEqual({ dtype: "F32", shape: [1], data_offsets: [8, 12] });
    expect(header.b).toEqual({ dtype: "F32", shape: [2, 3], data_offsets: [12, 36] });
    expect(bytes.length).toBe(8 + n + 36);
    expect(view.getBigInt64(8 + n, true)).toBe(7n);
    expect(view.getFloat32(8 + n + 8, true)).toBe(-1.5);
    expect(view.getFloat32(8 + n + 12 + 20, true)).toBe(6);
    const back = fromSafetensors(bytes);
    bitsEqual(back.stateDict, sd);
    expect(back.shapes).toEqual({ a: [1], b: [2, 3], n: [] });
  });

  it("rejects what it cannot read, naming the problem", () => {
    const good = toSafetensors({ w: Float32Array.from([1, 2]) });
    expect(() => fromSafetensors(good.subarray(0, 4))).toThrow(/too short/);
    expect(() => fromSafetensors(good.subarray(0, good.length - 4))).toThrow(/"w" has data_offsets \[0,8\] outside the 4 data bytes/);
    const bad = (header: object) => {
      const json = new TextEncoder().encode(JSON.stringify(header));
      const out = new Uint8Array(8 + json.length + 8);
      new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
      out.set(json, 8);
      return out;
    };
    expect(() => fromSafetensors(bad({ w: { dtype: "BF16", shape: [4], data_offsets: [0, 8] } }))).toThrow(/"w" has dtype "BF16"; only F32, I64, F64 are supported/);
    expect(() => fromSafetensors(bad({ w: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }))).toThrow(/"w" \(F32 \[3\]\) needs 12 bytes, but its data_offsets span 8/);
    expect(() => toSafetensors({ w: Float32Array.from([1, 2]) }, { w: [3] })).toThrow(/"w" has 2 values, but shape \[3\] holds 3/);
    expect(() => toSafetensors({ w: [1, 2] as never })).toThrow(/"w" must be a Float32Array, BigInt64Array or Float64Array/);
  });
});

describe("foldBatchNorm", () => {
  it("gives the eval-mode model's outputs with every Dense + BatchNorm1d as one Dense", () => {
    const data = blobs(200, 10, 4, 5);
    const model = new Sequential([
      new Dense(10, 16, { seed: 1 }),
      new BatchNorm1d(16),
      new ReLU(),
      new Dense(16, 12, { seed: 2, bias: false }),
      new BatchNorm1d(12),
      new Tanh(),
      new Dropout(0.2, { seed: 1 }),
      new Dense(12, 4, { seed: 3 }),
    ]);
    fit(model, data, { epochs: 3, batchSize: 20, optimizer: new SGD(model.parameters(), { lr: 0.05 }), verbose: false });
    // Non-trivial gamma and beta as well.
    const r = rng(8);
    for (const i of [1, 4]) {
      const bn = model.layers[i] as BatchNorm1d;
      bn.weight!.value.data.set(Float32Array.from({ length: bn.numFeatures }, () => 0.5 + r.uniform()));
      bn.bias!.value.data.set(r.array(bn.numFeatures, 0.5));
    }
    const state = model.stateDict();
    const folded = foldBatchNorm(model);
    expect(folded.layers.map(String)).toEqual(["Dense(10 -> 16)", "ReLU()", "Dense(16 -> 12)", "Tanh()", "Dense(12 -> 4)"]);
    expect(folded.training).toBe(false);
    bitsEqual(model.stateDict(), state); // the original is untouched
    expect(model.training).toBe(true);
    model.eval();
    const x = tensor(data.x, data.shape);
    const want = model.forward(x).toArray();
    expectClose(folded.forward(x).data, want, 1e-5, "folded vs eval-mode outputs");
    // The functional form is still reachable through the same name.
    const bn = model.layers[1] as BatchNorm1d;
    const ab = foldBatchNorm({ runningMean: bn.runningMean!.toArray(), runningVar: bn.runningVar!.toArray(), gamma: bn.weight!.value.toArray(), beta: bn.bias!.value.toArray() });
    expect(ab.a.length).toBe(16);
  });
});

describe("training determinism and the manual loop", () => {
  it("gives bit-identical runs for a seed, and different ones for another shuffle seed", () => {
    const data = blobs(90, 10, 4, 7);
    const run = (seed: number) => {
      const model = mlp(20);
      const h = fit(model, data, { epochs: 2, batchSize: 16, seed, optimizer: new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 }), verbose: false });
      return { loss: h.loss, state: model.stateDict() };
    };
    const a = run(1), b = run(1), c = run(2);
    expect(b.loss).toEqual(a.loss);
    bitsEqual(b.state, a.state);
    expect(c.loss).not.toEqual(a.loss);
  });

  it("runs PyTorch's loop by hand, and matches fit() on the same batches", () => {
    const data = blobs(96, 10, 4, 9);
    const B = 32;
    const model = mlp(30);
    const lossFn = new CrossEntropyLoss();
    const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-4 });
    const losses: number[] = [];
    const xb = zeros([B, 10]);
    for (let epoch = 0; epoch < 5; epoch++) {
      for (let start = 0; start < 96; start += B) {
        xb.data.set(data.x.subarray(start * 10, (start + B) * 10));
        const labels = data.y.subarray(start, start + B);
        const logits = model.forward(xb);
        const loss = lossFn.forward(logits, labels);
        const dlogits = lossFn.backward();
        model.backward(dlogits);
        opt.step();
        model.zeroGrad();
        losses.push(loss);
      }
    }
    expect(losses[losses.length - 1]).toBeLessThan(0.5 * losses[0]);
    const twin = mlp(30);
    const h = fit(twin, data, {
      epochs: 5,
      batchSize: B,
      shuffle: false,
      optimizer: new SGD(twin.parameters(), { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-4 }),
      verbose: false,
    });
    expect(h.loss).toEqual(losses);
    bitsEqual(twin.stateDict(), model.stateDict());
  });
});
