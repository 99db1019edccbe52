// Gradient checks of a whole model, Sequential([Dense, BatchNorm1d, Sigmoid, Dense, ReLU,
// Dense]) + CrossEntropyLoss, for the input and every parameter:
// 1. the float64 reference's analytic gradients against float64 central differences of
//    the reference loss (checks the reference itself, to ~1e-7);
// 2. the wasm model's gradients against that float64 reference (float32 rounding only);
// 3. central differences of the wasm model itself in float32 (eps 1e-2) on a smooth variant
//    (Tanh for ReLU, so that no difference straddles a kink), for a sample of entries.
import { beforeAll, describe, expect, it } from "vitest";
import { init } from "../src/backend.js";
import { BatchNorm1d } from "../src/layers/batchnorm.js";
import { ReLU, Sigmoid, Tanh } from "../src/layers/activations.js";
import { Dense } from "../src/layers/dense.js";
import { CrossEntropyLoss } from "../src/loss.js";
import type { Module } from "../src/module.js";
import { Sequential } from "../src/layers/sequential.js";
import { type Tensor, tensor } from "../src/tensor.js";
import { BUILDS, expectClose, rng } from "./check.js";
import { numericGrad, refLayersOf, refModelGrads, refModelLoss, refParams } from "./reference/layers.js";

const M = 8, IN = 5, H1 = 6, H2 = 4, CLASSES = 3;
// The bias of a Dense followed by BatchNorm has a zero gradient (BN subtracts the batch mean),
// so errors are measured against max(|reference|, FLOOR) rather than relative to zero.
const FLOOR = 1e-2;

function makeModel(seed: number, act2: () => Module): Sequential {
  const model = new Sequential([new Dense(IN, H1, { seed }), new BatchNorm1d(H1), new Sigmoid(), new Dense(H1, H2, { seed: seed + 1 }), act2(), new Dense(H2, CLASSES, { seed: seed + 2 })]);
  // Non-trivial gamma and beta, so that their gradients and the BN backward are exercised.
  const r = rng(seed);
  const bn = model.layers[1] as BatchNorm1d;
  bn.weight!.value.data.set(Float32Array.from({ length: H1 }, () => 0.5 + r.uniform()));
  bn.bias!.value.data.set(r.array(H1, 0.3));
  return model;
}

function data(seed: number) {
  const r = rng(seed);
  const x = r.array(M * IN);
  const labels = Int32Array.from({ length: M }, (_, i) => i % CLASSES);
  return { x, labels };
}

/** Every index of small arrays; an even sample of larger ones. */
function sample(n: number, k = 24): number[] {
  if (n <= k) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: k }, (_, i) => Math.floor((i * n) / k));
}

describe("the float64 reference", () => {
  beforeAll(async () => {
    await init();
  });

  it("has analytic gradients equal to float64 central differences", () => {
    const model = makeModel(1, () => new ReLU());
    const layers = refLayersOf(model);
    const { x, labels } = data(2);
    const xs = Float64Array.from(x);
    const g = refModelGrads(layers, xs, M, labels);
    const f = () => refModelLoss(layers, xs, M, labels);
    const num = numericGrad(f, xs, sample(xs.length, 1000));
    expectClose([...num.values()], [...num.keys()].map((i) => g.dx[i]), 1e-6, "dx");
    const params = refParams(layers);
    const analytic = g.params.flatMap((p) => (p ? (p.bias ? [p.weight, p.bias] : [p.weight]) : []));
    params.forEach((v, j) => {
      const n = numericGrad(f, v, sample(v.length, 1000));
      expectClose([...n.values()], [...n.keys()].map((i) => analytic[j][i]), 1e-6, `parameter ${j}`, FLOOR);
    });
  });
});

describe.each(BUILDS)("the wasm model (%s build)", (build) => {
  beforeAll(async () => {
    await init({ build });
  });

  it("has the float64 reference's loss and gradients for the input and every parameter", () => {
    const model = makeModel(3, () => new ReLU());
    const { x, labels } = data(4);
    const layers = refLayersOf(model);
    const ref = refModelGrads(layers, x, M, labels);
    const loss = new CrossEntropyLoss();
    const xt = tensor(x, [M, IN]);
    const value = loss.forward(model.forward(xt), labels);
    expect(Math.abs(value - ref.loss)).toBeLessThan(1e-5 * ref.loss);
    model.zeroGrad();
    const dx = model.backward(loss.backward());
    expect(dx.shape).toEqual([M, IN]);
    expectClose(dx.data, ref.dx, 1e-5, "dx");
    const named = model.namedParameters();
    expect(named.map(([k]) => k)).toEqual(["0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias", "5.weight", "5.bias"]);
    const analytic = ref.params.flatMap((p) => (p ? (p.bias ? [p.weight, p.bias] : [p.weight]) : []));
    named.forEach(([key, p], j) => expectClose(p.grad.data, analytic[j], 1e-5, `${key}.grad`, FLOOR));
    expect(Math.max(...named[1][1].grad.data.map(Math.abs))).toBeLessThan(1e-6);
    // backwardParams: the same parameter gradients, without dx.
    const before = named.map(([, p]) => p.grad.toArray());
    model.zeroGrad();
    model.forward(xt);
    loss.forward(model.forward(xt), labels);
    model.backwardParams(loss.backward());
    named.forEach(([key, p], j) => expect(p.grad.toArray(), key).toEqual(before[j]));
  });

  it("agrees with its own float32 central differences (eps 1e-2) on a smooth model", () => {
    const model = makeModel(5, () => new Tanh());
    const { x, labels } = data(6);
    const loss = new CrossEntropyLoss();
    const xt = tensor(x, [M, IN]);
    const lossOf = () => loss.forward(model.forward(xt), labels);
    lossOf();
    model.zeroGrad();
    const dx = model.backward(loss.backward()).toArray();
    const eps = 1e-2;
    const check = (t: Tensor, analytic: Float32Array, what: string) => {
      const got: number[] = [], want: number[] = [];
      for (const i of sample(t.size, 12)) {
        const keep = t.data[i];
        t.data[i] = keep + eps;
        const up = lossOf();
        t.data[i] = keep - eps;
        const down = lossOf();
        t.data[i] = keep;
        got.push((up - down) / (2 * eps));
        want.push(analytic[i]);
      }
      expectClose(got, want, 5e-3, what, FLOOR);
    };
    check(xt, dx, "input");
    for (const [key, p] of model.namedParameters()) check(p.value, p.grad.toArray(), key);
  });
});
