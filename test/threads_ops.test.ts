// The memory-bound ops split over threads, against one thread: Batch Normalization (forward
// statistics as per-thread Chan partials merged in range order, backward sums likewise;
// plain NC, NCHW, NHWC, and fused with ReLU into channel slices), activations, dropout's
// product, optimizer updates, row copies and sums, pooling. Element-wise ops write each
// output with one thread's arithmetic: bit-identical at any thread count. BN reductions
// are equal within rounding (and checked against the float64 reference); two runs at one
// thread count are bit-identical. The pools here split every call, however small, so
// sizes below the thread count (1, 2 rows) are covered.
import { describe, expect, it } from "vitest";
import type { Backend } from "../src/backend.js";
import { bnBackward, bnForwardTrain, bnLayout, scaleShift, bnReluApply, bnReluBackward, bnReluForwardTrain, bnScratchBytes, type DataFormat } from "../src/ops/bn.js";
import { activationBackward, activationForward, multiply } from "../src/ops/elementwise.js";
import { adamStep, sgdStep } from "../src/ops/optim.js";
import { addInto, copyInto } from "../src/ops/rows.js";
import { avgPoolBackward, avgPoolForward, globalAvgPoolBackward, globalAvgPoolForward, maxPoolBackward, maxPoolForward } from "../src/ops/pool.js";
import { windowGeometry } from "../src/ops/conv.js";
import { Tensor } from "../src/tensor.js";
import { expectClose, rng } from "./check.js";
import { splittingBackends } from "./thread_backends.js";
import { refBackward, refBnReluBackward, refBnReluForward, refForwardTrain } from "./reference/bn.js";
import { MNIST_MLP, TAIL_SIZES } from "./shapes.js";

const backends = splittingBackends();

function filled(b: Backend, shape: number[], seed: number, lo = -1, hi = 1): Tensor {
  const t = new Tensor(b, shape);
  const r = rng(seed).uniform;
  const d = t.data;
  for (let i = 0; i < d.length; i++) d[i] = lo + (hi - lo) * r();
  return t;
}

/** A zero-filled tensor (new tensors hold whatever the heap held). */
function zeros(b: Backend, shape: number[]): Tensor {
  const t = new Tensor(b, shape);
  t.data.fill(0);
  return t;
}

const bits = (a: ArrayLike<number>): Uint32Array => new Uint32Array(Float32Array.from(a).buffer);

function expectSameBits(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  const x = bits(a), y = bits(b);
  let first = -1;
  for (let j = 0; j < x.length && first < 0; j++) if (x[j] !== y[j]) first = j;
  expect(first, `${what}: first differing element`).toBe(-1);
}

/** Runs op on every backend; returns each one's outputs as plain arrays. */
function onEveryBackend(op: (b: Backend) => Tensor[]): Map<number, Float32Array[]> {
  const out = new Map<number, Float32Array[]>();
  for (const [t, b] of backends) {
    const ts = op(b);
    out.set(t, ts.map((x) => Float32Array.from(x.data)));
    for (const x of ts) x.dispose();
  }
  return out;
}

function expectAllSameBits(results: Map<number, Float32Array[]>, what: string): void {
  const one = results.get(1)!;
  for (const [t, r] of results) r.forEach((a, i) => expectSameBits(a, one[i], `${what}, output ${i}, ${t} threads vs 1`));
}

// N x C, N x C x HW x 1 (NCHW) and N x HW x 1 x C (NHWC), with row and image counts below,
// at and above the thread counts, channel counts around the SIMD tile, the MLP's BN.
const BN_CASES: { shape: number[]; dataFormat: DataFormat }[] = [
  { shape: [MNIST_MLP.batch, 100], dataFormat: "channelsFirst" },
  ...[2, 3, 7].flatMap((N) => TAIL_SIZES.flatMap((C) => [
    { shape: [N, C], dataFormat: "channelsFirst" as const },
    { shape: [N, C, 9, 1], dataFormat: "channelsFirst" as const },
    { shape: [N, 5, 1, C], dataFormat: "channelsLast" as const },
  ])),
  { shape: [1, 3, 1, 16], dataFormat: "channelsLast" },
  { shape: [4, 8, 8, 48], dataFormat: "channelsLast" },
  { shape: [3, 16, 9, 9], dataFormat: "channelsFirst" },
];
const TOL = 2e-6;

describe("Batch Normalization split over threads", () => {
  for (const { shape, dataFormat } of BN_CASES) {
    const label = `[${shape.join(",")}] ${dataFormat}`;
    it(`${label}: forward and backward match the float64 reference and 1 thread; reruns are identical`, () => {
      const L = bnLayout(shape, dataFormat);
      const C = L.C;
      const runs = new Map<number, Float32Array[][]>();
      const ya = new Map<number, Float32Array>();
      for (const [t, b] of backends) {
        const per: Float32Array[][] = [];
        for (let rep = 0; rep < (t === 3 ? 2 : 1); rep++) {
          const x = filled(b, shape, 1, -2, 3), dy = filled(b, shape, 2);
          const gamma = filled(b, [C], 3, 0.5, 1.5), beta = filled(b, [C], 4);
          const y = zeros(b, shape), dx = zeros(b, shape);
          const stats = { mean: zeros(b, [C]), var: zeros(b, [C]), invStd: zeros(b, [C]) };
          const dg = zeros(b, [C]), db = zeros(b, [C]);
          const scratch = zeros(b, [Math.ceil(bnScratchBytes(b, C) / 4)]);
          bnForwardTrain(y, stats, x, gamma, beta, 1e-3, L, scratch);
          bnBackward(dx, dg, db, dy, x, stats.mean, stats.invStd, gamma, L, true, scratch);
          // Inference's folded map, element-wise: bit-identical at any thread count.
          const ye = zeros(b, shape);
          scaleShift(ye, x, gamma, beta, L, C % 2 === 1);
          const out = [y, stats.mean, stats.var, stats.invStd, dx, dg, db].map((q) => Float32Array.from(q.data));
          ya.set(t, Float32Array.from(ye.data));
          ye.dispose();
          const want = refForwardTrain(x.data, shape, { gamma: gamma.data, beta: beta.data, eps: 1e-3, dataFormat });
          const wb = refBackward(dy.data, x.data, shape, { gamma: gamma.data, eps: 1e-3, dataFormat });
          expectClose(out[0], want.y, TOL, `${label} y, ${t} threads`, 1);
          expectClose(out[1], want.mean, TOL, `${label} mean, ${t} threads`, 1);
          expectClose(out[2], want.var, TOL, `${label} var, ${t} threads`, 1);
          expectClose(out[4], wb.dx, 2e-5, `${label} dx, ${t} threads`, 1);
          expectClose(out[5], wb.dgamma, 1e-5, `${label} dgamma, ${t} threads`, 1);
          expectClose(out[6], wb.dbeta, 1e-5, `${label} dbeta, ${t} threads`, 1);
          per.push(out);
          for (const q of [x, dy, gamma, beta, y, dx, stats.mean, stats.var, stats.invStd, dg, db, scratch]) q.dispose();
        }
        runs.set(t, per);
      }
      const one = runs.get(1)![0];
      for (const [t, e] of ya) expectSameBits(e, ya.get(1)!, `${label} inference y, ${t} threads vs 1`);
      for (const [t, per] of runs) {
        per[0].forEach((a, i) => expectClose(a, one[i], 1e-5, `${label} output ${i}, ${t} threads vs 1`, 1));
        if (per.length > 1) per[1].forEach((a, i) => expectSameBits(a, per[0][i], `${label} output ${i}, rerun at ${t} threads`));
      }
    });
  }

  for (const [N, P, C, slice] of [[2, 5, 7, 3], [3, 16, 48, 16], [1, 3, 9, 0], [5, 9, 32, 5]] as const) {
    const label = `BN-ReLU [${N},${P},1,${C}] into a slice at channel ${slice} of ${C + 2 * slice}`;
    it(`${label}: forward, apply and backward match the reference and 1 thread`, () => {
      const shape = [N, P, 1, C], wide = [N, P, 1, C + 2 * slice];
      const L = bnLayout(shape, "channelsLast");
      const outs = new Map<number, Float32Array[]>();
      for (const [t, b] of backends) {
        const x = filled(b, shape, 5, -1, 2), dyWide = filled(b, wide, 6);
        const gamma = filled(b, [C], 7, 0.5, 1.5), beta = filled(b, [C], 8, -0.5, 0.5);
        const yWide = zeros(b, wide), y2Wide = zeros(b, wide), dx = zeros(b, shape);
        const stats = { mean: zeros(b, [C]), var: zeros(b, [C]), invStd: zeros(b, [C]) };
        const dg = zeros(b, [C]), db = zeros(b, [C]);
        const scratch = zeros(b, [Math.ceil(bnScratchBytes(b, C) / 4)]);
        const y = yWide.narrow(3, slice, C), y2 = y2Wide.narrow(3, slice, C), dy = dyWide.narrow(3, slice, C);
        bnReluForwardTrain(y, stats, x, gamma, beta, 1e-3, L, scratch);
        bnReluApply(y2, x, stats.mean, stats.invStd, gamma, beta, L, scratch);
        const yd = Float32Array.from(y.toArray()), y2d = Float32Array.from(y2.toArray()), dyd = Float64Array.from(dy.toArray());
        expectSameBits(y2d, yd, `${label}: apply reproduces the forward, ${t} threads`);
        bnReluBackward(dx, dg, db, dy, x, stats.mean, stats.invStd, gamma, beta, L, true, scratch);
        const ref = refBnReluForward(x.data, shape, { gamma: gamma.data, beta: beta.data, eps: 1e-3, dataFormat: "channelsLast" });
        expectClose(yd, ref.y, TOL, `${label} y, ${t} threads`, 1);
        const rb = refBnReluBackward(dyd, x.data, shape, { gamma: gamma.data, beta: beta.data, eps: 1e-3, dataFormat: "channelsLast" });
        expectClose(dx.data, rb.dx, 5e-5, `${label} dx, ${t} threads`, 1);
        expectClose(dg.data, rb.dgamma, 2e-5, `${label} dgamma, ${t} threads`, 1);
        outs.set(t, [yd, Float32Array.from(dx.data), Float32Array.from(dg.data), Float32Array.from(db.data)]);
        // The gaps of the wide output stay untouched.
        const w = yWide.data;
        for (let i = 0; i < w.length; i++) if (i % (C + 2 * slice) < slice || i % (C + 2 * slice) >= slice + C) expect(w[i]).toBe(0);
        for (const q of [x, dyWide, gamma, beta, yWide, y2Wide, dx, stats.mean, stats.var, stats.invStd, dg, db, scratch]) q.dispose();
      }
      const one = outs.get(1)!;
      for (const [t, o] of outs) o.forEach((a, i) => expectClose(a, one[i], 1e-5, `${label} output ${i}, ${t} threads vs 1`, 1));
    });
  }
});

describe("element-wise ops split over threads are bit-identical to one thread", () => {
  for (const n of [1, 3, 5, 17, 6000, 4099]) {
    it(`activations, dropout's product, SGD and Adam over ${n} floats`, () => {
      expectAllSameBits(onEveryBackend((b) => {
        const x = filled(b, [n], 1, -4, 4), dy = filled(b, [n], 2), mask = filled(b, [n], 3, 0, 2);
        const outs: Tensor[] = [];
        for (const kind of ["sigmoid", "tanh", "relu"] as const) {
          const y = zeros(b, [n]), dx = zeros(b, [n]);
          activationForward(y, x, kind);
          activationBackward(dx, dy, y, kind);
          outs.push(y, dx);
        }
        const m = zeros(b, [n]);
        multiply(m, x, mask);
        const p = filled(b, [n], 4), g = filled(b, [n], 5), buf = zeros(b, [n]);
        sgdStep(p, g, buf, { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 1e-4, nesterov: true }, true);
        sgdStep(p, g, buf, { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 1e-4, nesterov: true }, false);
        const q = filled(b, [n], 6), mm = zeros(b, [n]), vv = zeros(b, [n]);
        for (let s = 1; s <= 2; s++) adamStep(q, g, mm, vv, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01, decoupled: true }, s);
        for (const t of [x, dy, mask, g]) t.dispose();
        return [...outs, m, p, buf, q, mm, vv];
      }), `n=${n}`);
    });
  }

  for (const [rows, cols, stride] of [[1, 13, 20], [2, 4, 9], [7, 33, 40], [60, 100, 130]] as const) {
    it(`row-strided activations, copies and sums: ${rows} rows of ${cols} in rows of ${stride}`, () => {
      expectAllSameBits(onEveryBackend((b) => {
        const xw = filled(b, [rows, stride], 1, -3, 3), dyw = filled(b, [rows, stride], 2);
        const x = xw.narrow(1, 2, cols), dy = dyw.narrow(1, 1, cols);
        const yw = zeros(b, [rows, stride]), y = yw.narrow(1, 3, cols);
        activationForward(y, x, "sigmoid");
        const dxw = filled(b, [rows, stride], 3), dx = dxw.narrow(1, 0, cols);
        activationBackward(dx, dy, y, "sigmoid", true);
        const cw = filled(b, [rows, stride], 4), c = cw.narrow(1, stride - cols, cols);
        copyInto(c, x);
        addInto(c, dy);
        const d = filled(b, [rows, cols], 5), e = filled(b, [rows, cols], 6);
        addInto(d, e);
        copyInto(e, d);
        for (const t of [xw, dyw]) t.dispose();
        return [yw, dxw, cw, d, e];
      }), `${rows}x${cols}/${stride}`);
    });
  }

  for (const dataFormat of ["channelsLast", "channelsFirst"] as const) {
    for (const N of [1, 2, 5]) {
      it(`max, average and global average pooling, ${dataFormat}, batch ${N}`, () => {
        const [H, W, C] = [9, 7, 6];
        const shape = dataFormat === "channelsLast" ? [N, H, W, C] : [N, C, H, W];
        const g = windowGeometry({ toString: () => "pool" }, shape, dataFormat, { kernel: [3, 3], stride: [2, 2], dilation: [1, 1], padding: [1, 1] }, null, null);
        const oshape = dataFormat === "channelsLast" ? [N, g.OH, g.OW, C] : [N, C, g.OH, g.OW];
        expectAllSameBits(onEveryBackend((b) => {
          const x = filled(b, shape, 1), dy = filled(b, oshape, 2), dg = filled(b, [N, C], 3);
          const y = zeros(b, oshape), idx = zeros(b, oshape), dx = zeros(b, shape);
          maxPoolForward(y, idx, x, g, dataFormat);
          maxPoolBackward(dx, dy, idx, g, dataFormat, false);
          const ya = zeros(b, oshape), dxa = filled(b, shape, 4);
          avgPoolForward(ya, x, g, dataFormat, false);
          avgPoolBackward(dxa, dy, g, dataFormat, false, true);
          const yg = zeros(b, [N, C]), dxg = zeros(b, shape);
          globalAvgPoolForward(yg, x, N, H, W, C, dataFormat);
          globalAvgPoolBackward(dxg, dg, N, H, W, C, dataFormat, false);
          for (const t of [x, dy, dg]) t.dispose();
          return [y, idx, dx, ya, dxa, yg, dxg];
        }), `${dataFormat} N=${N}`);
      });
    }
  }
});
