// Input that must be rejected with a clear error instead of becoming NaN, a wasm trap or a
// silently ignored option; and what console.log shows of tensors and layers.
import { inspect } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { createBackend, init } from "../src/backend.js";
import { BatchNorm1d, BatchNorm2d } from "../src/layers/batchnorm.js";
import { batchNormBackward, batchNormInference, batchNormTrain, foldBatchNorm } from "../src/functional.js";
import { ReLU } from "../src/layers/activations.js";
import { Dense } from "../src/layers/dense.js";
import { Dropout } from "../src/layers/dropout.js";
import { Adam } from "../src/optim/adam.js";
import { SGD } from "../src/optim/sgd.js";
import { StepLR } from "../src/optim/schedule.js";
import { Sequential } from "../src/layers/sequential.js";
import { full, Tensor, tensor } from "../src/tensor.js";
import { evaluate } from "../src/training/evaluate.js";
import { fit } from "../src/training/fit.js";

beforeAll(async () => {
  await init();
});

describe("empty dimensions", () => {
  it("are an error in the functional API and the layers, not a wasm divide-by-zero trap", () => {
    expect(() => batchNormTrain(new Float32Array(0), [5, 0])).toThrow("batchNormTrain: expected a shape without empty dimensions, got [5, 0] (dimension 1 is 0)");
    expect(() => batchNormInference(new Float32Array(0), [0, 3], { runningMean: new Float32Array(3), runningVar: new Float32Array(3) })).toThrow(
      /batchNormInference: expected a shape without empty dimensions, got \[0, 3\]/,
    );
    const bn = new BatchNorm2d(3).eval();
    expect(() => bn.forward(full([2, 3, 0, 4], 1))).toThrow("BatchNorm2d(3): expected a [N, C, H, W] input without empty dimensions, got shape [2, 3, 0, 4]");
  });
});

describe("tensor() takes numbers only", () => {
  it("rejects strings and arrays of non-numbers instead of filling NaN", () => {
    expect(() => tensor(["1", "abc"] as never, [2])).toThrow('tensor: expected an array of numbers, got the string "1" at index 0');
    expect(() => tensor("abcd" as never, [4])).toThrow('tensor: expected a Float32Array (or another numeric typed array) or an array of numbers, got the string "abcd"');
    expect(() => tensor([1, true] as never, [2])).toThrow("tensor: expected an array of numbers, got true at index 1");
    expect(() => tensor(new BigInt64Array(2) as never, [2])).toThrow(/got BigInt64Array/);
    expect(() => full([2], "3" as never)).toThrow('full: expected a number to fill with, got the string "3"');
  });

  it("converts other numeric typed arrays, and rounds to float32 (1e300 becomes Infinity, as documented)", () => {
    expect(Array.from(tensor(new Uint8Array([1, 255]), [2]).data)).toEqual([1, 255]);
    expect(Array.from(tensor(new Float64Array([0.5, 1e300]), [2]).data)).toEqual([0.5, Infinity]);
  });
});

describe("options", () => {
  it("of the wrong type are errors, not truthy", () => {
    expect(() => new BatchNorm1d(4, { affine: "no" as never })).toThrow('BatchNorm1d: affine must be true or false, got the string "no"');
    expect(() => new BatchNorm1d(4, { trackRunningStats: "false" as never })).toThrow('BatchNorm1d: trackRunningStats must be true or false, got the string "false"');
    expect(() => new BatchNorm2d(4, { scale: 0 as never })).toThrow("BatchNorm2d: scale must be true or false, got 0");
    expect(() => new Dense(3, 2, { bias: "yes" as never })).toThrow('Dense: bias must be true or false, got the string "yes"');
    expect(() => new SGD(new Dense(2, 2).parameters(), { lr: 0.1, nesterov: 1 as never })).toThrow("SGD: nesterov must be true or false, got 1");
    expect(() => batchNormInference(new Float32Array(4), [2, 2], { runningMean: new Float32Array(2), runningVar: new Float32Array(2), relu: "yes" as never })).toThrow(
      'batchNormInference: relu must be true or false, got the string "yes"',
    );
  });

  it("with unknown names are errors naming the closest valid option", async () => {
    expect(() => new BatchNorm1d(4, { epsilon: 1e-3 } as never)).toThrow('BatchNorm1d: unknown option "epsilon" (did you mean "eps"?); valid options: eps, momentum, affine, trackRunningStats, scale, center, dataFormat');
    expect(() => new BatchNorm2d(4, { track_running_stats: false } as never)).toThrow(/unknown option "track_running_stats" \(did you mean "trackRunningStats"\?\)/);
    const model = new Sequential([new Dense(2, 2)]);
    const optimizer = new SGD(model.parameters(), { lr: 0.1 });
    const data = { x: new Float32Array(8), y: new Uint8Array(4) };
    expect(() => fit(model, data, { optimizer, validation_split: 0.2 } as never)).toThrow(/^fit: unknown option "validation_split" \(did you mean "validation"\?\)/);
    expect(() => fit(model, data, { optimizer, validationSplit: 0.2 } as never)).toThrow(/^fit: unknown option "validationSplit" \(did you mean "validation"\?\)/);
    expect(() => fit(model, data, { optimizer, callbacks: { onBatchEnd: () => {} } } as never)).toThrow(/fit: callbacks: unknown option "onBatchEnd"/);
    expect(() => evaluate(model, data, { batch_size: 2 } as never)).toThrow(/evaluate: unknown option "batch_size" \(did you mean "batchSize"\?\)/);
    expect(() => new SGD(model.parameters(), { lr: 0.1, weight_decay: 1e-4 } as never)).toThrow(/SGD: unknown option "weight_decay" \(did you mean "weightDecay"\?\)/);
    expect(() => new Adam(model.parameters(), { learningRate: 1e-3 } as never)).toThrow(/Adam: unknown option "learningRate"/);
    expect(() => new Dropout(0.5, { sead: 1 } as never)).toThrow(/Dropout: unknown option "sead" \(did you mean "seed"\?\)/);
    expect(() => new StepLR(optimizer, { step_size: 10 } as never)).toThrow(/StepLR: unknown option "step_size" \(did you mean "stepSize"\?\)/);
    expect(() => batchNormTrain(new Float32Array(4), [2, 2], { epsilon: 1e-3 } as never)).toThrow(/batchNormTrain: unknown option "epsilon" \(did you mean "eps"\?\)/);
    await expect(init({ thread: 2 } as never)).rejects.toThrow(/init: unknown option "thread" \(did you mean "threads"\?\)/);
    expect(() => new Dense(2, 2)).not.toThrow(); // the loaded backend is still there
  });

  it("eps that is 0 in float32 is rejected (it gave NaN on a constant channel)", () => {
    expect(() => new BatchNorm1d(4, { eps: 1e-46 })).toThrow("BatchNorm1d: eps 1e-46 is 0 in float32 (the smallest positive float32 is about 1.4e-45); use a larger eps such as 1e-5");
    expect(() => batchNormTrain(new Float32Array(4).fill(2), [2, 2], { eps: 1e-46 })).toThrow(/batchNormTrain: eps 1e-46 is 0 in float32/);
    // The smallest float32 eps still gives finite output on a constant channel.
    const { y } = batchNormTrain(new Float32Array(4).fill(2), [2, 2], { eps: 1.5e-45 });
    expect(Array.from(y)).toEqual([0, 0, 0, 0]);
  });

  it("null where an object is expected gets a clear error", () => {
    expect(() => batchNormTrain(new Float32Array(4), [2, 2], null as never)).toThrow("batchNormTrain: options must be an object, got null");
    expect(() => batchNormBackward(new Float32Array(4), new Float32Array(4), [2, 2], null as never)).toThrow("batchNormBackward: options must be an object, got null");
    expect(() => new BatchNorm1d(2).loadStateDict(null as never)).toThrow("BatchNorm1d(2).loadStateDict: expected an object of typed arrays (stateDict() gives one), got null");
    expect(() => new ReLU().loadStateDict(null as never)).toThrow(/ReLU\(\)\.loadStateDict: expected an object/);
    expect(() => new Sequential([new Dense(2, 2)]).loadStateDict(null as never)).toThrow(/Sequential\.loadStateDict: expected an object of typed arrays, got null/);
    expect(() => new BatchNorm1d(2, null as never)).toThrow("BatchNorm1d: options must be an object, got null");
  });
});

describe("loadStateDict checks values", () => {
  it("rejects a negative or NaN running_var, and NaN or Inf anywhere, changing nothing", () => {
    const bn = new BatchNorm1d(3);
    const good = bn.stateDict();
    for (const [key, bad, msg] of [
      ["running_var", [1, -0.5, 1], /"running_var" holds -0\.5 at index 1; a variance must be >= 0/],
      ["running_var", [1, 1, NaN], /"running_var" holds NaN at index 2; expected finite values/],
      ["running_mean", [Infinity, 0, 0], /"running_mean" holds Infinity at index 0/],
      ["weight", [1, NaN, 1], /"weight" holds NaN at index 1/],
    ] as const) {
      expect(() => bn.loadStateDict({ ...good, [key]: Float32Array.from(bad) })).toThrow(msg);
    }
    expect(bn.stateDict()).toEqual(good);
    const d = new Dense(2, 1);
    expect(() => d.loadStateDict({ weight: Float32Array.of(1, NaN), bias: Float32Array.of(0) })).toThrow(/Dense\(2 -> 1\)\.loadStateDict: "weight" holds NaN at index 1/);
    expect(() => foldBatchNorm({ runningMean: new Float32Array(2), runningVar: Float32Array.of(1, -1) })).toThrow("foldBatchNorm: runningVar holds -1 at index 1; expected finite variances >= 0");
  });
});

describe("destinations (a forward's out, a backward's into.dx)", () => {
  it("that were disposed or belong to another backend are errors naming them, and nothing is written or updated", async () => {
    const other = await createBackend({ threads: 1 });
    const x = tensor(Float32Array.from({ length: 8 }, (_, i) => i - 3), [2, 4]);
    const layers = [new Dense(4, 4), new BatchNorm1d(4), new ReLU(), new Sequential([new Dense(4, 4), new BatchNorm1d(4)])];
    for (const layer of layers) {
      const name = String(layer).split("(")[0];
      const before = layer.stateDict();
      const grads = layer.parameters().map((p) => Array.from(p.grad.data));
      // A disposed destination whose memory a newer tensor now holds: writing it would change `held`.
      const gone = new Tensor(x.backend, [2, 4]);
      gone.dispose();
      const held = full([2, 4], 7);
      expect(() => layer.forward(x, gone)).toThrow(new RegExp(`^${name}.*\\.forward \\(out\\): the \\[2, 4\\] tensor was disposed`));
      expect(() => layer.forward(x, new Tensor(other, [2, 4]))).toThrow(/\.forward \(out\): the tensor was created by another backend/);
      expect(Array.from(held.data)).toEqual(new Array(8).fill(7));
      expect(layer.stateDict()).toEqual(before);
      layer.forward(x);
      const afterForward = layer.stateDict();
      expect(() => layer.backward(full([2, 4], 1), { dx: gone, accumulate: false })).toThrow(/\.backward \(into\.dx\): the \[2, 4\] tensor was disposed/);
      expect(() => layer.backward(full([2, 4], 1), { dx: new Tensor(other, [2, 4]), accumulate: true })).toThrow(/\.backward \(into\.dx\): the tensor was created by another backend/);
      expect(Array.from(held.data)).toEqual(new Array(8).fill(7));
      expect(layer.parameters().map((p) => Array.from(p.grad.data))).toEqual(grads);
      expect(layer.stateDict()).toEqual(afterForward);
      held.dispose();
    }
  });
});

describe("init({ wasm })", () => {
  it("with a threaded build's module is an error naming the builds that fit, not a bare LinkError", async () => {
    const { readFile } = await import("node:fs/promises");
    const threaded = await readFile(new URL("../build/bn.simd-threads.wasm", import.meta.url));
    await expect(createBackend({ wasm: threaded })).rejects.toThrow(/init\(\{ wasm \}\) does not link to the library's memory .*pass a single-thread build \(bn\.relaxed\.wasm, bn\.simd\.wasm or bn\.scalar\.wasm\)/);
    await expect(createBackend({ wasm: threaded, threads: 2 })).rejects.toThrow(/pass a single-thread build/);
    const single = await readFile(new URL("../build/bn.simd.wasm", import.meta.url));
    expect((await createBackend({ wasm: single, threads: 2 })).info().threadsFallback).toMatch(/runs on one thread/);
  });
});

describe("initial memory", () => {
  it("below what the kernels need is raised to their minimum, not a failed instantiation", async () => {
    const b = await createBackend({ initialMemoryBytes: 1 });
    expect(b.info().memoryBytes).toBeGreaterThanOrEqual(4 * 65536);
    await expect(createBackend({ initialMemoryBytes: -1 })).rejects.toThrow(/initialMemoryBytes must be an integer number of bytes/);
  });
});

describe("out of memory", () => {
  it("is an error naming the bytes asked for and in use, and the library keeps working", () => {
    // 4.4e9 bytes: more than wasm32's 4 GiB, rejected before memory is grown.
    expect(() => full([1100, 1000, 1000], 0)).toThrow(/out of memory: asked for 4400000000 bytes with \d+ bytes in use/);
    const model = new Sequential([new Dense(1000, 4), new BatchNorm1d(4)]);
    const x = full([2, 1000], 1);
    expect(Array.from(model.forward(x).data)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });
});

describe("console.log output", () => {
  it("shows shape, dtype and a few values of a tensor, and PyTorch-style reprs of layers, not backend internals", () => {
    const t = tensor([1, 2.5, 3, 4, 5, 6, 7, 8], [2, 4]);
    expect(inspect(t)).toBe("Tensor([2, 4], float32) [1, 2.500, 3, 4, 5, 6, ... (8 values)]");
    expect(String(tensor([0.125], [1]))).toBe("Tensor([1], float32) [0.1250]");
    t.dispose();
    expect(inspect(t)).toBe("Tensor([2, 4], float32, disposed)");
    expect(inspect(new BatchNorm1d(100))).toBe("BatchNorm1d(100)");
    const model = new Sequential([new Dense(784, 100), new BatchNorm1d(100), new ReLU()]);
    expect(inspect(model)).toBe("Sequential(\n  (0): Dense(784 -> 100)\n  (1): BatchNorm1d(100)\n  (2): ReLU()\n)");
    expect(inspect({ model: new Dense(2, 3) })).toBe("{ model: Dense(2 -> 3) }");
    expect(inspect(new Dense(2, 3).weight)).toMatch(/^Parameter weight Tensor\(\[3, 2\], float32\) \[/);
    expect(inspect(new SGD(model.parameters(), { lr: 0.5 }))).toBe("SGD(lr=0.5, 4 parameters)");
    expect(inspect(model).length).toBeLessThan(200);
  });
});
