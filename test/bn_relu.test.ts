// The fused BatchNorm + ReLU kernels against the float64 reference (tails of the f32x4 tile
// in C, strided output and gradient rows as a concatenation's channel slice gives them, all
// builds; dx written over x), the layer against BatchNorm2d followed by ReLU, and a
// finite-difference check.
import { beforeAll, describe, expect, it } from "vitest";
import { createBackend, init } from "../src/backend.js";
import { BatchNorm2d } from "../src/layers/batchnorm.js";
import { BatchNormReLU2d } from "../src/layers/batchnorm_relu.js";
import { ReLU } from "../src/layers/activations.js";
import { Conv2d } from "../src/layers/conv2d.js";
import { Sequential } from "../src/layers/sequential.js";
import { tensor } from "../src/tensor.js";
import { BUILDS, expectClose, get, put, rng } from "./check.js";
import { checkGradients } from "./check_grad.js";
import { refBnReluBackward, refBnReluForward } from "./reference/bn.js";
import { BATCH_SIZES, TAIL_SIZES } from "./shapes.js";

const TOL = 1e-5;

/** rows x C channels-last cases; each with a row stride for y and dy wider than C (a slice). */
function cases(): { rows: number; C: number; pad: number }[] {
  const out: { rows: number; C: number; pad: number }[] = [];
  for (const N of BATCH_SIZES) for (const C of TAIL_SIZES) for (const HW of [1, 5, 17]) out.push({ rows: N * HW, C, pad: (C % 3) + 1 });
  out.push({ rows: 2 * 16 * 16, C: 96, pad: 160 }, { rows: 3 * 8 * 8, C: 48, pad: 0 });
  return out;
}

function runKernels(build: "relaxed" | "simd" | "scalar") {
  return createBackend({ build }).then((b) => {
    const k = b.kernels;
    cases().forEach(({ rows, C, pad }, ci) => {
      const r = rng(300 + ci);
      const n = rows * C, S = C + pad;
      const x = r.array(n, 2, 0.5), gamma = r.array(C, 0.5, 1), beta = r.array(C, 0.5);
      const dyWide = r.array(rows * S);
      const dy = new Float32Array(n);
      for (let i = 0; i < rows; i++) for (let c = 0; c < C; c++) dy[i * C + c] = dyWide[i * S + c];
      const label = `${build} rows=${rows} C=${C} stride=${S}`;
      const shape = [rows, C];
      const want = refBnReluForward(x, shape, { gamma, beta, eps: 1e-3 });
      const px = put(b, x), pg = put(b, gamma), pb = put(b, beta), pdy = put(b, dyWide);
      const py = put(b, new Float32Array(rows * S).fill(7)), pm = put(b, new Float32Array(C)), pv = put(b, new Float32Array(C)), pi = put(b, new Float32Array(C));
      const s = b.heap.alloc(k.bn_scratch_bytes(C));
      k.bn_relu_forward_train_nc(py, S, pm, pv, pi, px, pg, pb, 1e-3, rows, C, s);
      const yWide = get(b, py, rows * S);
      const y = new Float32Array(n);
      for (let i = 0; i < rows; i++) {
        for (let c = 0; c < C; c++) y[i * C + c] = yWide[i * S + c];
        for (let c = C; c < S; c++) expect(yWide[i * S + c], `${label}: the gap between rows is untouched`).toBe(7);
      }
      expectClose(y, want.y, TOL, `${label} y`, 1);
      expectClose(get(b, pi, C), want.invStd, TOL, `${label} invStd`);
      // The recomputation is the forward's output, bit for bit.
      const py2 = put(b, new Float32Array(rows * S).fill(7));
      k.bn_relu_apply_nc(py2, S, px, pm, pi, pg, pb, rows, C, s);
      expect(get(b, py2, rows * S), `${label} apply == forward`).toEqual(yWide);

      const wb = refBnReluBackward(dy, x, shape, { gamma, beta, eps: 1e-3 });
      const pdx = put(b, new Float32Array(n)), pdg = put(b, new Float32Array(C).fill(0.5)), pdb = put(b, new Float32Array(C).fill(-0.5));
      k.bn_relu_backward_nc(pdx, pdg, pdb, pdy, S, px, pm, pi, pg, pb, rows, C, 1, s);
      let scale = 0;
      for (let i = 0; i < n; i++) scale = Math.max(scale, Math.abs(dy[i] * gamma[i % C] * want.invStd[i % C]));
      expectClose(get(b, pdx, n), wb.dx, TOL, `${label} dx`, scale);
      const sdy = new Float64Array(C).fill(1);
      for (let i = 0; i < n; i++) sdy[i % C] += Math.abs(dy[i]) * (1 + Math.abs(x[i] - want.mean[i % C]) * want.invStd[i % C]);
      const maxS = Math.max(...sdy);
      expectClose(get(b, pdb, C), Array.from(wb.dbeta, (v) => v - 0.5), TOL, `${label} dbeta (accumulated)`, maxS);
      expectClose(get(b, pdg, C), Array.from(wb.dgamma, (v) => v + 0.5), TOL, `${label} dgamma (accumulated)`, maxS);
      // In place: dx written over x (a memory-lean container's convolution output), the same bits.
      const pxo = put(b, x);
      k.bn_relu_backward_nc(pxo, 0, 0, pdy, S, pxo, pm, pi, pg, pb, rows, C, 1, s);
      expect(get(b, pxo, n), `${label} dx over x`).toEqual(get(b, pdx, n));

      // Running statistics (eval): dx = gamma * invStd * masked dy.
      const fixed = { mean: r.array(C, 0.3), var: Float32Array.from({ length: C }, () => 0.5 + r.uniform()) };
      const fm = put(b, fixed.mean), fi = put(b, Float32Array.from(fixed.var, (v) => 1 / Math.sqrt(v + 1e-3)));
      k.bn_relu_apply_nc(py2, S, px, fm, fi, pg, pb, rows, C, s);
      const ye = get(b, py2, rows * S).filter((_, i) => i % S < C);
      expectClose(ye, refBnReluForward(x, shape, { gamma, beta, eps: 1e-3, fixed }).y, TOL, `${label} eval y`, 1);
      k.bn_relu_backward_nc(pdx, 0, 0, pdy, S, px, fm, fi, pg, pb, rows, C, 0, s);
      expectClose(get(b, pdx, n), refBnReluBackward(dy, x, shape, { gamma, beta, eps: 1e-3, fixed }).dx, TOL, `${label} eval dx`, scale * 2);
    });
  });
}

describe("bn_relu_* kernels against the float64 reference", () => {
  for (const build of BUILDS) {
    it(`${build} build: C in {1,3,4,5,7,8,9,17}, strided rows, N*HW up to 2048, dx over x`, async () => {
      await runKernels(build);
    });
  }
});

describe("BatchNormReLU2d", () => {
  beforeAll(async () => {
    await init();
  });

  it("equals BatchNorm2d followed by ReLU: outputs, gradients, running statistics, state keys (train and eval)", () => {
    const C = 7, shape = [3, 4, 5, C];
    const r = rng(9);
    const opts = { scale: false, momentum: 0.01, eps: 1e-3, dataFormat: "channelsLast" as const };
    const fused = new BatchNormReLU2d(C, opts);
    const pair = new Sequential(new BatchNorm2d(C, opts), new ReLU());
    fused.loadStateDict({ ...fused.stateDict(), bias: r.array(C, 0.3) });
    pair.loadStateDict({ "0.bias": fused.stateDict().bias, "0.running_mean": fused.stateDict().running_mean, "0.running_var": fused.stateDict().running_var, "0.num_batches_tracked": fused.stateDict().num_batches_tracked });
    for (const training of [true, false]) {
      fused.train(training);
      pair.train(training);
      const x = tensor(r.array(3 * 4 * 5 * C, 1.5, 0.2), shape);
      const dy = tensor(r.array(x.size), shape);
      expectClose(fused.forward(x).toArray(), pair.forward(x).toArray(), 1e-6, `y training=${training}`, 1);
      fused.zeroGrad();
      pair.zeroGrad();
      expectClose(fused.backward(dy).toArray(), pair.backward(dy).toArray(), 1e-5, `dx training=${training}`, 1);
      expectClose(fused.bias!.grad.toArray(), (pair.layers[0] as BatchNorm2d).bias!.grad.toArray(), 1e-5, `dbeta training=${training}`, 1);
      const a = fused.stateDict(), b = pair.stateDict();
      expect(Object.keys(a)).toEqual(Object.keys(b).map((k) => k.slice(2)));
      expect(a.running_mean).toEqual(b["0.running_mean"]);
      expect(a.running_var).toEqual(b["0.running_var"]);
      x.dispose();
      dy.dispose();
    }
  });

  it("writes into a channel slice, recomputes it bit for bit, and reads dy from a slice", () => {
    const C = 5, shape = [2, 3, 3, C];
    const r = rng(4);
    const layer = new BatchNormReLU2d(C, { dataFormat: "channelsLast" });
    const x = tensor(r.array(2 * 9 * C), shape);
    const big = tensor(new Float32Array(2 * 9 * 12), [2, 3, 3, 12]);
    const slice = big.narrow(3, 4, C);
    const own = layer.forward(x).toArray();
    layer.forward(x, slice);
    expect(slice.toArray()).toEqual(own);
    const again = tensor(new Float32Array(x.size), shape);
    layer.recompute(x, again);
    expect(again.toArray()).toEqual(own);
    const dyBig = tensor(r.array(big.size), big.shape);
    const dySlice = dyBig.narrow(3, 4, C);
    const dx1 = layer.backward(dySlice).toArray();
    const dx2 = layer.backward(tensor(dySlice.toArray(), shape)).toArray();
    expect(dx1).toEqual(dx2);
  });

  it("rejects channelsFirst with a clear error", () => {
    expect(() => new BatchNormReLU2d(3)).toThrow(/only dataFormat 'channelsLast'/);
  });

  it("passes a finite-difference gradient check behind a convolution", () => {
    const r = rng(12);
    const model = new Sequential(
      new Conv2d(3, 4, 3, { padding: 1, bias: false, dataFormat: "channelsLast", seed: 3 }),
      new BatchNormReLU2d(4, { dataFormat: "channelsLast" }),
    );
    (model.layers[1] as BatchNormReLU2d).loadStateDict({ ...(model.layers[1] as BatchNormReLU2d).stateDict(), bias: r.array(4, 0.5) });
    const x = tensor(r.array(2 * 4 * 4 * 3), [2, 4, 4, 3]);
    checkGradients(model, x, { eps: 1e-2, tol: 3e-2, samples: 12 });
  });
});
