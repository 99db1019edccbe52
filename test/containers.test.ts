// Concat and Residual: outputs against the branches run on their own, gradients against
// finite differences, branches writing into their slices without touching their neighbours,
// PyTorch-style nested state keys, and the wiring errors.
import { beforeAll, describe, expect, it } from "vitest";
import { init } from "../src/backend.js";
import { ReLU, Sigmoid, Tanh } from "../src/layers/activations.js";
import { BatchNorm1d, BatchNorm2d } from "../src/layers/batchnorm.js";
import { Concat } from "../src/layers/concat.js";
import { Dense } from "../src/layers/dense.js";
import { Flatten } from "../src/layers/flatten.js";
import { Residual } from "../src/layers/residual.js";
import { Sequential } from "../src/layers/sequential.js";
import { full, tensor } from "../src/tensor.js";
import { expectClose, rng } from "./check.js";
import { checkGradients } from "./check_grad.js";

beforeAll(async () => {
  await init();
});

const randn = (shape: number[], seed: number, scale = 1) => tensor(rng(seed).array(shape.reduce((a, b) => a * b, 1), scale), shape);

/** Concatenation of row-major arrays along `axis` of their shapes. */
function concatArrays(parts: { data: Float32Array; shape: readonly number[] }[], axis: number): Float32Array {
  const outer = parts[0].shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = (s: readonly number[]) => s.slice(axis).reduce((a, b) => a * b, 1);
  const out: number[] = [];
  for (let o = 0; o < outer; o++) for (const p of parts) out.push(...p.data.subarray(o * inner(p.shape), (o + 1) * inner(p.shape)));
  return Float32Array.from(out);
}

describe("Concat", () => {
  it("equals its branches' outputs concatenated along the channel axis, in both layouts", () => {
    for (const dataFormat of ["channelsFirst", "channelsLast"] as const) {
      const bn = (c: number) => new BatchNorm2d(c, { dataFormat });
      const x = randn(dataFormat === "channelsFirst" ? [3, 4, 5, 2] : [3, 5, 2, 4], 1);
      const axis = dataFormat === "channelsFirst" ? 1 : 3;
      const branches = [new Sequential([bn(4), new Tanh()]), new Sigmoid(), new Sequential([bn(4), new ReLU()])];
      const alone = branches.map((b) => ({ data: b.forward(x).toArray(), shape: b.outputShape!(x.shape) }));
      const cat = new Concat(branches, { dataFormat });
      const y = cat.forward(x);
      expect(y.shape[axis]).toBe(12);
      expectClose(y.toArray(), concatArrays(alone, axis), 0, `Concat ${dataFormat}`);
    }
  });

  it("has the gradients of finite differences (dense branches on [N, F], summed into one dx)", () => {
    const cat = new Concat([new Sequential([new Dense(6, 5, { seed: 1 }), new Tanh()]), new Sequential([new Dense(6, 4, { seed: 2 }), new BatchNorm1d(4), new Sigmoid()]), new Dense(6, 3, { seed: 3 })]);
    checkGradients(cat, randn([7, 6], 2));
  });

  it("nested in a Sequential and in another Concat: each branch writes only its own slice", () => {
    const inner = new Concat([new Tanh(), new Sequential([new BatchNorm2d(3), new Sigmoid()])]);
    const model = new Sequential([new BatchNorm2d(3), inner]);
    const x = randn([2, 3, 4, 4], 3);
    // An output with canary channels around the slice the model writes.
    const big = full([2, 10, 4, 4], 12345);
    const slice = big.narrow(1, 2, 6);
    model.forward(x, slice);
    const v = big.toArray();
    for (let n = 0; n < 2; n++) {
      for (const c of [0, 1, 8, 9]) {
        for (let i = 0; i < 16; i++) expect(v[(n * 10 + c) * 16 + i]).toBe(12345);
      }
    }
    expectClose(slice.toArray(), model.forward(x).toArray(), 0, "slice = own output");
    // Backward reads its slice of a bigger dy in place.
    const dyBig = randn([2, 10, 4, 4], 4);
    const dxFromSlice = model.backward(dyBig.narrow(1, 2, 6)).toArray();
    const dxFromCopy = model.backward(dyBig.narrow(1, 2, 6).clone()).toArray();
    expectClose(dxFromSlice, dxFromCopy, 0, "dx from a dy slice");
  });

  it("checks the branches' shapes and names the branch", () => {
    const cat = new Concat([new Tanh(), new Flatten()]);
    expect(() => cat.forward(randn([2, 3, 4, 4], 5))).toThrow(
      "Concat: branch 1 (Flatten()) outputs [2, 48], but branch 0 outputs [2, 3, 4, 4]: the branches' outputs may differ only along the channel axis (dimension 1, channelsFirst)",
    );
    const relu = new ReLU();
    expect(() => new Concat([relu, new Sequential([new Tanh(), relu])])).toThrow(/Concat: layer 1\.1 \(ReLU\(\)\) is the same instance as layer 0/);
    expect(() => new Concat([])).toThrow(/non-empty array of branches/);
    expect(() => new Concat([new Tanh()], { axis: 1 } as never)).toThrow(/unknown option "axis"/);
  });
});

describe("Residual", () => {
  it("is block(x) + x, and block(x) + shortcut(x), with the gradients of finite differences", () => {
    const x = randn([6, 5], 6);
    const block = () => new Sequential([new Dense(5, 5, { seed: 4 }), new BatchNorm1d(5), new Tanh()]);
    const plain = block();
    const want = plain.forward(x).toArray().map((v, i) => v + x.data[i]);
    const res = new Residual(block());
    expectClose(res.forward(x).toArray(), want, 1e-6, "block(x) + x");
    checkGradients(res, x);
    const withShortcut = new Residual(block(), { shortcut: new Dense(5, 5, { seed: 9 }) });
    checkGradients(withShortcut, x);
  });

  it("rejects a block whose output cannot be added to the shortcut's", () => {
    expect(() => new Residual(new Dense(5, 4)).forward(randn([2, 5], 7))).toThrow(
      "Residual: the block outputs [2, 4] but the input (the identity shortcut) is [2, 5]; they must match to be added",
    );
  });
});

describe("nested state", () => {
  it("keys children as PyTorch does, and round-trips through loadStateDict", () => {
    const make = () =>
      new Sequential([
        new Dense(4, 6, { seed: 1 }),
        new Concat([new Sequential([new Dense(6, 3, { seed: 2 }), new BatchNorm1d(3)]), new Dense(6, 2, { seed: 3 })]),
        new Residual(new Sequential([new Dense(5, 5, { seed: 4 })]), { shortcut: new Dense(5, 5, { seed: 5 }) }),
      ]);
    const a = make();
    expect(Object.keys(a.stateDict())).toEqual([
      "0.weight", "0.bias",
      "1.0.0.weight", "1.0.0.bias", "1.0.1.weight", "1.0.1.bias", "1.0.1.running_mean", "1.0.1.running_var", "1.0.1.num_batches_tracked",
      "1.1.weight", "1.1.bias",
      "2.block.0.weight", "2.block.0.bias", "2.shortcut.weight", "2.shortcut.bias",
    ]);
    expect(a.namedParameters().map(([k]) => k)).toContain("1.0.1.weight");
    const x = randn([3, 4], 8);
    a.forward(x);
    const b = make();
    for (const p of b.parameters()) p.value.data.fill(0.5);
    b.loadStateDict(a.stateDict());
    a.eval();
    b.eval();
    expectClose(b.forward(x).toArray(), a.forward(x).toArray(), 0, "reloaded model");
    expect(() => b.loadStateDict({ ...a.stateDict(), "1.2.weight": new Float32Array(1) })).toThrow(/unexpected key "1\.2\.weight"/);
  });
});

