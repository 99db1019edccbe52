// Finite-difference gradient check of any module in float32: the loss is a fixed random
// linear function of the output, L = sum(w * forward(x)), so backward(w) must return dL/dx
// and accumulate dL/dparam. Central differences with a step of `eps` on a sample of entries
// of x and of every parameter, compared normwise (smooth layers only: no kinks nearby), with
// a floor at 1% of the largest gradient in the check.
import { expect } from "vitest";
import type { Module } from "../src/module.js";
import { type Tensor, tensor } from "../src/tensor.js";
import { rng } from "./check.js";

function lossOf(model: Module, x: Tensor, w: Float32Array): number {
  const y = model.forward(x);
  const v = y.contiguous ? y.data : y.toArray();
  let s = 0;
  for (let i = 0; i < w.length; i++) s += w[i] * v[i];
  return s;
}

function sample(n: number, k: number): number[] {
  if (n <= k) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: k }, (_, i) => Math.floor(((i + 0.5) * n) / k));
}

/** Checks dL/dx and every dL/dparam of `model` at `x` against central differences; returns the worst normwise error. */
export function checkGradients(model: Module, x: Tensor, opts: { eps?: number; tol?: number; samples?: number; seed?: number } = {}): number {
  const eps = opts.eps ?? 1e-2, tol = opts.tol ?? 2e-2, k = opts.samples ?? 16;
  const outShape = model.forward(x).shape;
  const w = rng(opts.seed ?? 7).array(outShape.reduce((a, b) => a * b, 1));
  const dy = tensor(w, outShape);
  model.zeroGrad();
  lossOf(model, x, w);
  const dx = model.backward(dy).toArray();
  let worst = 0;
  const compare = (what: string, t: Tensor, analytic: Float32Array) => {
    const idx = sample(t.size, k);
    const num: number[] = [], got: number[] = [];
    for (const i of idx) {
      const keep = t.data[i];
      t.data[i] = keep + eps;
      const up = lossOf(model, x, w);
      t.data[i] = keep - eps;
      const down = lossOf(model, x, w);
      t.data[i] = keep;
      num.push((up - down) / (2 * eps));
      got.push(analytic[i]);
    }
    let d = 0, m = floor;
    for (let j = 0; j < num.length; j++) {
      d = Math.max(d, Math.abs(num[j] - got[j]));
      m = Math.max(m, Math.abs(num[j]));
    }
    const e = d / m;
    worst = Math.max(worst, e);
    if (!(e <= tol)) expect.fail(`${what}: finite differences disagree with backward: normwise error ${e.toExponential(2)} > ${tol}`);
  };
  const grads = model.parameters().map((p) => [p, p.grad.toArray()] as const);
  // Errors are relative to the largest gradient of the check (at least): a gradient that is
  // zero up to rounding (a bias before BatchNorm) is compared against that scale, not its own.
  let floor = 1e-3;
  for (const g of [dx, ...grads.map(([, g]) => g)]) for (const v of g) floor = Math.max(floor, 1e-2 * Math.abs(v));
  compare("dL/dx", x, dx);
  for (const [p, g] of grads) compare(`dL/d${p.name} ${p.value.shape.join("x")}`, p.value, g);
  dy.dispose();
  return worst;
}
