// Finite-difference checks of dx, dgamma and dbeta on small shapes: first the float64
// reference's backward against central differences of the reference forward (tight), then
// the wasm layer's backward against central differences of the wasm forward itself
// (float32, so h is large and the tolerance loose).
import { beforeAll, describe, expect, it } from "vitest";
import { init } from "../src/backend.js";
import { BatchNorm1d, BatchNorm2d } from "../src/layers/batchnorm.js";
import { tensor } from "../src/tensor.js";
import { relErr, rng } from "./check.js";
import { refBackward, refForwardTrain } from "./reference/bn.js";

const CASES = [
  { shape: [3, 4], fmt: "channelsFirst" as const },
  { shape: [2, 3, 5], fmt: "channelsFirst" as const },
  { shape: [2, 3, 2, 3], fmt: "channelsFirst" as const },
  { shape: [2, 2, 3, 5], fmt: "channelsLast" as const },
];

/** L = sum(y * w): dL/dy = w, so backward(w) must equal the gradient of L. */
function lossOf(y: ArrayLike<number>, w: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i] * w[i];
  return s;
}

beforeAll(async () => {
  await init();
});

describe("float64 reference backward vs finite differences of the reference forward", () => {
  for (const c of CASES) {
    it(`${c.fmt} ${JSON.stringify(c.shape)}`, () => {
      const r = rng(3);
      const n = c.shape.reduce((a, b) => a * b, 1);
      const C = c.fmt === "channelsLast" || c.shape.length === 2 ? c.shape[c.shape.length - 1] : c.shape[1];
      const x = Float64Array.from(r.array(n, 1.5, 0.3));
      const gamma = Float64Array.from(r.array(C, 0.3, 1));
      const beta = Float64Array.from(r.array(C));
      const w = Float64Array.from(r.array(n));
      const f = () => lossOf(refForwardTrain(x, c.shape, { gamma, beta, dataFormat: c.fmt }).y, w);
      const g = refBackward(w, x, c.shape, { gamma, dataFormat: c.fmt });
      const h = 1e-6;
      const fd = (arr: Float64Array, i: number) => {
        const v = arr[i];
        arr[i] = v + h;
        const lp = f();
        arr[i] = v - h;
        const lm = f();
        arr[i] = v;
        return (lp - lm) / (2 * h);
      };
      expect(relErr(g.dx, Array.from(x, (_, i) => fd(x, i)))).toBeLessThan(1e-6);
      expect(relErr(g.dgamma, Array.from(gamma, (_, i) => fd(gamma, i)))).toBeLessThan(1e-6);
      expect(relErr(g.dbeta, Array.from(beta, (_, i) => fd(beta, i)))).toBeLessThan(1e-6);
    });
  }
});

describe("wasm backward vs finite differences of the wasm forward (float32)", () => {
  for (const c of CASES) {
    for (const mode of ["train", "eval"] as const) {
      it(`${mode} ${c.fmt} ${JSON.stringify(c.shape)}`, () => {
        const r = rng(11);
        const n = c.shape.reduce((a, b) => a * b, 1);
        const C = c.fmt === "channelsLast" || c.shape.length === 2 ? c.shape[c.shape.length - 1] : c.shape[1];
        const Layer = c.shape.length === 4 ? BatchNorm2d : BatchNorm1d;
        const bn = new Layer(C, { dataFormat: c.fmt });
        bn.weight!.value.data.set(r.array(C, 0.3, 1));
        bn.bias!.value.data.set(r.array(C));
        bn.runningMean!.data.set(r.array(C, 0.2));
        bn.runningVar!.data.set(Float32Array.from({ length: C }, () => 0.5 + r.uniform()));
        if (mode === "eval") bn.eval();
        const xs = r.array(n, 1.5, 0.3);
        const w = r.array(n);
        const x = tensor(xs, c.shape);
        const wt = tensor(w, c.shape);
        const loss = () => {
          const before = bn.numBatchesTracked;
          const l = lossOf(bn.forward(x).data, w);
          // FD probes must not drift the running stats in train mode: restore them.
          bn.numBatchesTracked = before;
          return l;
        };
        const rm = bn.runningMean!.toArray(), rv = bn.runningVar!.toArray();
        const restore = () => {
          bn.runningMean!.data.set(rm);
          bn.runningVar!.data.set(rv);
        };
        bn.zeroGrad();
        bn.forward(x);
        restore();
        const dx = bn.backward(wt).toArray();
        const dgamma = bn.weight!.grad.toArray(), dbeta = bn.bias!.grad.toArray();
        const h = 1e-2;
        const fd = (view: () => Float32Array, i: number) => {
          const v = view()[i];
          view()[i] = v + h;
          const lp = loss();
          restore();
          view()[i] = v - h;
          const lm = loss();
          restore();
          view()[i] = v;
          return (lp - lm) / (2 * h);
        };
        const fdx = Array.from({ length: n }, (_, i) => fd(() => x.data, i));
        const fdg = Array.from({ length: C }, (_, i) => fd(() => bn.weight!.value.data, i));
        const fdb = Array.from({ length: C }, (_, i) => fd(() => bn.bias!.value.data, i));
        // Central differences in float32 with h = 1e-2: truncation O(h^2), rounding ~ 1e-7 * |L| / h.
        expect(relErr(dx, fdx, 0.1)).toBeLessThan(2e-3);
        expect(relErr(dgamma, fdg, 0.1)).toBeLessThan(2e-3);
        expect(relErr(dbeta, fdb, 0.1)).toBeLessThan(2e-3);
        x.dispose();
        wt.dispose();
      });
    }
  }
});
