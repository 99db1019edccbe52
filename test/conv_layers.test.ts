// Conv2d, the pools and an Inception module as layers: outputs against the float64 references
// (test/reference/conv.ts), finite-difference gradients in both layouts, PyTorch's state-dict
// order, a small Inception network training with wasm memory unchanged after its first step,
// and the errors a user meets first.
import { beforeAll, describe, expect, it } from "vitest";
import { init } from "../src/backend.js";
import { ReLU, Tanh } from "../src/layers/activations.js";
import { BatchNorm2d } from "../src/layers/batchnorm.js";
import { Concat } from "../src/layers/concat.js";
import { Conv2d } from "../src/layers/conv2d.js";
import { Dense } from "../src/layers/dense.js";
import { AvgPool2d, GlobalAvgPool2d, MaxPool2d } from "../src/layers/pool.js";
import { Sequential } from "../src/layers/sequential.js";
import type { DataFormat } from "../src/ops/bn.js";
import { CrossEntropyLoss } from "../src/loss.js";
import { SGD } from "../src/optim/sgd.js";
import { type Tensor, tensor } from "../src/tensor.js";
import type { Module } from "../src/module.js";
import { Residual } from "../src/layers/residual.js";
import { foldBatchNorm } from "../src/fold.js";
import { TrainStep } from "../src/training/step.js";
import { getBackend } from "../src/backend.js";
import { expectClose, rng } from "./check.js";
import { checkGradients } from "./check_grad.js";
import { convGeom, refConv2dForward } from "./reference/conv.js";

beforeAll(async () => {
  await init();
});

const FORMATS: DataFormat[] = ["channelsFirst", "channelsLast"];
const randn = (shape: number[], seed: number, scale = 1) => tensor(rng(seed).array(shape.reduce((a, b) => a * b, 1), scale), shape);
/** [N, C, H, W] in the layout's order. */
const shapeOf = (f: DataFormat, N: number, C: number, H: number, W: number) => (f === "channelsLast" ? [N, H, W, C] : [N, C, H, W]);

describe("Conv2d", () => {
  it("matches the float64 reference in both layouts, with PyTorch's weight order in the state dict", () => {
    for (const f of FORMATS) {
      for (const [k, stride, padding, dilation] of [[3, 1, "same", 1], [3, 2, "same", 1], [5, 1, 2, 1], [3, 1, "valid", 2], [1, 1, 0, 1]] as const) {
        const conv = new Conv2d(3, 5, k, { stride, padding, dilation, dataFormat: f, seed: 3 });
        const x = randn(shapeOf(f, 2, 3, 7, 6), 1);
        const y = conv.forward(x);
        const sd = conv.stateDict();
        expect(sd.weight.length).toBe(5 * 3 * k * k);
        const g = convGeom([2, 7, 6, 3], 5, [k, k], { stride: [stride, stride], dilation: [dilation, dilation], padding });
        const layout = f === "channelsLast" ? "nhwc" : "nchw";
        // The reference takes weights in its layout's order: PyTorch's for NCHW, [OC, KH, KW, C] for NHWC.
        const w = f === "channelsLast" ? conv.weight.value.toArray() : (sd.weight as Float32Array);
        const want = refConv2dForward(x.toArray(), w, sd.bias as Float32Array, g, layout);
        expectClose(y.toArray(), want, 1e-5, `${f} k=${k} s=${stride} pad=${padding} d=${dilation}`);
        expect(y.shape).toEqual(shapeOf(f, 2, 5, g.OH, g.OW));
      }
    }
  });

  it("gives the same outputs in both layouts from the same state dict", () => {
    const a = new Conv2d(4, 6, 3, { padding: 1, seed: 5 });
    const b = new Conv2d(4, 6, 3, { padding: 1, dataFormat: "channelsLast", seed: 99 });
    b.loadStateDict(a.stateDict());
    const x = randn([2, 4, 5, 5], 2);
    const xl = tensor(nchwToNhwc(x.toArray(), 2, 4, 5, 5), [2, 5, 5, 4]);
    expectClose(nchwToNhwc(a.forward(x).toArray(), 2, 6, 5, 5), b.forward(xl).toArray(), 1e-6, "NHWC vs NCHW");
  });

  it("has the gradients of finite differences (dX, dW, db), both layouts, with stride, padding and dilation", () => {
    for (const f of FORMATS) {
      checkGradients(new Conv2d(3, 4, 3, { padding: "same", stride: 2, dataFormat: f, seed: 1 }), randn(shapeOf(f, 2, 3, 6, 5), 3));
      checkGradients(new Conv2d(2, 3, [3, 2], { padding: [1, 0], dilation: 2, dataFormat: f, seed: 2 }), randn(shapeOf(f, 2, 2, 7, 6), 4));
      checkGradients(new Conv2d(5, 3, 1, { bias: false, dataFormat: f, seed: 3 }), randn(shapeOf(f, 3, 5, 4, 4), 5));
    }
  });

  it("rejects bad geometry and input with clear errors", () => {
    expect(() => new Conv2d(3, 4, 3, { stride: 0 })).toThrow("Conv2d: stride must be an integer >= 1 or a pair of them, got 0");
    expect(() => new Conv2d(3, 4, 3, { padding: -1 })).toThrow(/Conv2d: padding must be an integer >= 0/);
    expect(() => new Conv2d(3, 4, 3, { padding: "full" as never })).toThrow(/Conv2d: padding must be/);
    expect(() => new Conv2d(3, 4, 3, { strides: 2 } as never)).toThrow(/unknown option "strides" \(did you mean "stride"\?\)/);
    expect(() => new Conv2d(3, 4, 5).forward(randn([1, 3, 4, 4], 6))).toThrow("Conv2d(3 -> 4, 5x5): the 5x5 window is larger than the padded 4x4 input ([1, 3, 4, 4])");
    expect(() => new Conv2d(3, 4, 3).forward(randn([1, 4, 8, 8], 7))).toThrow("Conv2d(3 -> 4, 3x3): expected input [N, 3, H, W], got [1, 4, 8, 8]");
    const model = new Sequential([new Conv2d(3, 8, 3, { padding: 1 }), new BatchNorm2d(8), new Conv2d(4, 8, 1)]);
    expect(() => model.forward(randn([2, 3, 6, 6], 8))).toThrow("Sequential: layer 2 (Conv2d(4 -> 8, 1x1)) expects input [N, 4, H, W], got [2, 8, 6, 6]");
    const mixed = new Sequential([new Conv2d(3, 8, 3, { padding: 1 }), new BatchNorm2d(8, { dataFormat: "channelsLast" })]);
    expect(() => mixed.forward(randn([2, 3, 6, 6], 9))).toThrow(/layer 1 \(BatchNorm2d\(8\)\) expects input \[N, H, W, 8\], got \[2, 8, 6, 6\]/);
  });
});

describe("pooling", () => {
  it("max and average pooling have the gradients of finite differences; global average pooling too", () => {
    for (const f of FORMATS) {
      // Distinct values a step apart, so that no maximum changes under the finite difference.
      const x = tensor(Float32Array.from(rng(10).array(2 * 3 * 6 * 5).map((_, i) => ((i * 37) % 180) * 0.1)), shapeOf(f, 2, 3, 6, 5));
      checkGradients(new MaxPool2d(3, { stride: 2, padding: "same", dataFormat: f }), x, { eps: 1e-2 });
      checkGradients(new AvgPool2d(3, { stride: 1, padding: 1, dataFormat: f }), randn(shapeOf(f, 2, 3, 5, 4), 11));
      checkGradients(new AvgPool2d(2, { padding: "same", dataFormat: f }), randn(shapeOf(f, 2, 3, 5, 5), 12));
      checkGradients(new GlobalAvgPool2d({ dataFormat: f }), randn(shapeOf(f, 2, 3, 4, 5), 13));
    }
  });

  it("follows PyTorch's defaults: stride = kernel size, count_include_pad; Keras's 'same' excludes padding", () => {
    const x = tensor(Float32Array.from({ length: 16 }, (_, i) => i + 1), [1, 1, 4, 4]);
    expect(Array.from(new MaxPool2d(2).forward(x).data)).toEqual([6, 8, 14, 16]);
    expect(Array.from(new AvgPool2d(2, { stride: 2, padding: 1 }).forward(x).data)).toEqual([0.25, 1.25, 1, 3.5, 8.5, 5, 3.25, 7.25, 4]);
    const same = new AvgPool2d(3, { stride: 1, padding: "same" });
    expect(same.forward(x).data[0]).toBeCloseTo((1 + 2 + 5 + 6) / 4, 6);
    expect(Array.from(new GlobalAvgPool2d().forward(x).data)).toEqual([8.5]);
    expect(() => new MaxPool2d(2, { padding: 2 })).toThrow(/padding 2 is more than half the kernel size 2/);
  });
});

/** An Inception module: 1x1, 1x1 -> 3x3, 1x1 -> 5x5, 3x3 max pool -> 1x1 branches concatenated (Conv no bias -> BN -> ReLU). */
function inception(cin: number, c1: number, c3r: number, c3: number, c5r: number, c5: number, cp: number, f: DataFormat, seed: number): Concat {
  let s = seed;
  const cbr = (i: number, o: number, k: number) => [new Conv2d(i, o, k, { padding: "same", bias: false, dataFormat: f, seed: s++ }), new BatchNorm2d(o, { dataFormat: f }), new ReLU()];
  return new Concat(
    [
      new Sequential(cbr(cin, c1, 1)),
      new Sequential([...cbr(cin, c3r, 1), ...cbr(c3r, c3, 3)]),
      new Sequential([...cbr(cin, c5r, 1), ...cbr(c5r, c5, 5)]),
      new Sequential([new MaxPool2d(3, { stride: 1, padding: "same", dataFormat: f }), ...cbr(cin, cp, 1)]),
    ],
    { dataFormat: f },
  );
}

function smallInceptionNet(f: DataFormat): Sequential {
  return new Sequential([
    new Conv2d(3, 8, 3, { padding: "same", bias: false, dataFormat: f, seed: 1 }), new BatchNorm2d(8, { dataFormat: f }), new ReLU(),
    inception(8, 4, 4, 6, 2, 3, 3, f, 10),
    new MaxPool2d(2, { dataFormat: f }),
    inception(16, 6, 4, 8, 2, 4, 4, f, 20),
    new GlobalAvgPool2d({ dataFormat: f }),
    new Dense(22, 10, { seed: 30 }),
  ]);
}

describe("an Inception module", () => {
  it("has the gradients of finite differences end to end (Tanh in place of ReLU: no kinks)", () => {
    for (const f of FORMATS) {
      const net = new Concat(
        [
          new Sequential([new Conv2d(3, 2, 1, { bias: false, dataFormat: f, seed: 1 }), new BatchNorm2d(2, { dataFormat: f }), new Tanh()]),
          new Sequential([new Conv2d(3, 2, 1, { dataFormat: f, seed: 2 }), new Tanh(), new Conv2d(2, 3, 3, { padding: "same", dataFormat: f, seed: 3 }), new BatchNorm2d(3, { dataFormat: f }), new Tanh()]),
          new Sequential([new AvgPool2d(3, { stride: 1, padding: 1, dataFormat: f }), new Conv2d(3, 2, 1, { dataFormat: f, seed: 4 }), new Tanh()]),
        ],
        { dataFormat: f },
      );
      checkGradients(net, randn(shapeOf(f, 2, 3, 5, 5), 14), { samples: 12 });
    }
  });

  it("a small Inception network trains 1,000 steps with wasm memory unchanged after the first", () => {
    for (const f of ["channelsLast"] as DataFormat[]) {
      const net = smallInceptionNet(f);
      const loss = new CrossEntropyLoss();
      const opt = new SGD(net.parameters(), { lr: 0.05, momentum: 0.9 });
      const step = new TrainStep(net, loss, opt);
      const N = 8;
      const x = randn(shapeOf(f, N, 3, 8, 8), 15);
      const labels = Int32Array.from({ length: N }, (_, i) => i % 10);
      const first = step.run(x, labels);
      const heap = getBackend().heap;
      const used = heap.bytesInUse, bytes = heap.memory.buffer.byteLength;
      let last = first;
      for (let i = 1; i < 1000; i++) last = step.run(x, labels);
      expect(heap.bytesInUse).toBe(used);
      expect(heap.memory.buffer.byteLength).toBe(bytes);
      expect(last).toBeLessThan(first * 0.1); // it learns the 8 labels
    }
  });
});

describe("foldBatchNorm with convolutions", () => {
  it("folds Conv2d + BatchNorm2d inside Concat branches and Residual blocks: the eval-mode outputs within 1e-5", () => {
    for (const f of FORMATS) {
      const cbr = (i: number, o: number, k: number, seed: number) => [new Conv2d(i, o, k, { padding: "same", bias: false, dataFormat: f, seed }), new BatchNorm2d(o, { dataFormat: f }), new ReLU()];
      const model = new Sequential([
        ...cbr(3, 6, 3, 1),
        inception(6, 2, 2, 3, 2, 2, 2, f, 10),
        new Residual(new Sequential([new Conv2d(9, 9, 3, { padding: 1, dataFormat: f, seed: 20 }), new BatchNorm2d(9, { dataFormat: f })]), {
          shortcut: new Sequential([new Conv2d(9, 9, 1, { dataFormat: f, seed: 21 }), new BatchNorm2d(9, { dataFormat: f })]),
        }),
        new AvgPool2d(2, { dataFormat: f }),
        new GlobalAvgPool2d({ dataFormat: f }),
        new Dense(9, 4, { seed: 22 }),
      ]);
      // Training steps give the running statistics (and the weights) non-trivial values.
      const step = new TrainStep(model, new CrossEntropyLoss(), new SGD(model.parameters(), { lr: 0.05 }));
      const x = randn(shapeOf(f, 6, 3, 6, 6), 16);
      for (let i = 0; i < 20; i++) step.run(x, Int32Array.from([0, 1, 2, 3, 0, 1]));
      const folded = foldBatchNorm(model);
      expect(Object.keys(folded.stateDict()).some((k) => k.includes("running_mean"))).toBe(false);
      expect(String(folded.layers[0])).toMatch(/^Conv2d\(3 -> 6, 3x3, padding="same"/);
      model.eval();
      const want = model.forward(x).toArray();
      expectClose(folded.forward(x).toArray(), want, 1e-5, `folded ${f}`);
    }
  });

  it("rejects a layer it has no rule for, naming where it is", () => {
    const model = new Sequential([new Conv2d(3, 4, 1), new Concat([new Sequential([new Dense(2, 2)]), new Sequential([customLayer()])])]);
    expect(() => foldBatchNorm(model)).toThrow(/foldBatchNorm: no rule for layer 1\.1\.0 \(Mystery\(\)\)/);
  });
});

/** A module of a type foldBatchNorm does not know. */
function customLayer(): Module {
  const t = new Tanh();
  return {
    training: true,
    forward: (x: Tensor) => t.forward(x),
    backward: (dy: Tensor) => t.backward(dy),
    outputShape: (s: readonly number[]) => s,
    train() { return this; },
    eval() { return this; },
    parameters: () => [],
    zeroGrad: () => {},
    stateDict: () => ({}),
    loadStateDict: () => {},
    toString: () => "Mystery()",
  } as Module;
}

function nchwToNhwc(a: Float32Array, N: number, C: number, H: number, W: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) out[((n * H + h) * W + w) * C + c] = a[((n * C + c) * H + h) * W + w];
  return out;
}
