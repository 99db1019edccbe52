// sgd_step and adam_step (assembly/optim.ts) against PyTorch's update rules (the float64
// replays RefSgd and RefAdam) on both builds: two steps worked by hand for one parameter,
// then 5 steps of every option combination over sizes around the f32x4 tile, and the
// SIMD/scalar builds agreeing to the bit.
import { beforeAll, describe, expect, it } from "vitest";
import { type Backend, type BuildName, createBackend } from "../src/backend.js";
import { BUILDS, expectClose, get, put, rng } from "./check.js";
import { type AdamOptions, RefAdam, RefSgd, type SgdOptions } from "./reference/optim.js";
import { TAIL_SIZES } from "./shapes.js";

const SIZES = [...TAIL_SIZES, 1000];
const STEPS = 5;
const backends = {} as Record<BuildName, Backend>;
beforeAll(async () => {
  for (const build of BUILDS) backends[build] = (await createBackend({ build }));
});

/** Parameters, momentum/moment buffers and one gradient per step, held in wasm memory. */
class WasmParam {
  readonly b: Backend;
  readonly n: number;
  readonly param: number;
  readonly grad: number;
  readonly buf: number;
  readonly v: number;

  constructor(b: Backend, init: ArrayLike<number>, bufFill = NaN) {
    this.b = b;
    this.n = init.length;
    this.param = put(b, init);
    this.grad = b.heap.alloc(this.n * 4);
    // Garbage in the buffers: a first step must not read them (Adam's m and v start at 0).
    this.buf = put(b, new Float32Array(this.n).fill(bufFill));
    this.v = put(b, new Float32Array(this.n));
  }

  setGrad(g: ArrayLike<number>): void {
    this.b.heap.f32.set(g, this.grad >> 2);
  }

  sgd(o: SgdOptions, first: boolean): void {
    this.b.kernels.sgd_step(this.param, this.grad, this.buf, this.n, o.lr, o.momentum ?? 0, o.dampening ?? 0, o.weightDecay ?? 0, o.nesterov ? 1 : 0, first ? 1 : 0);
  }

  adam(o: AdamOptions, step: number): void {
    this.b.kernels.adam_step(this.param, this.grad, this.buf, this.v, this.n, o.lr, o.beta1 ?? 0.9, o.beta2 ?? 0.999, o.eps ?? 1e-8, o.weightDecay ?? 0, o.decoupled ? 1 : 0, step);
  }

  get(p: number): Float32Array {
    return get(this.b, p, this.n);
  }

  release(): void {
    for (const p of [this.param, this.grad, this.buf, this.v]) this.b.heap.release(p);
  }
}

const SGD_CASES: SgdOptions[] = [
  { lr: 0.1 },
  { lr: 0.1, weightDecay: 1e-2 },
  { lr: 0.05, momentum: 0.9 },
  { lr: 0.05, momentum: 0.9, dampening: 0.1 },
  { lr: 0.05, momentum: 0.9, dampening: 0.5, weightDecay: 5e-4 },
  { lr: 0.05, momentum: 0.9, nesterov: true },
  { lr: 0.05, momentum: 0.99, nesterov: true, weightDecay: 1e-2 },
];

const ADAM_CASES: AdamOptions[] = [
  { lr: 1e-3 },
  { lr: 1e-2, weightDecay: 1e-2 },
  { lr: 1e-2, weightDecay: 1e-2, decoupled: true },
  { lr: 3e-3, beta1: 0.5, beta2: 0.9, eps: 1e-6 },
  { lr: 1e-1, beta1: 0.95, beta2: 0.99, eps: 1e-3, weightDecay: 0.1, decoupled: true },
];

// Normwise relative error after each step, the denominator floored at the scale of the terms
// each value is made of (the gradients are N(0, 1)): float32 rounding is relative to those
// terms, and with n = 1 their sum can cancel to much less (PyTorch's float32 state has the same
// rounding). v is a sum of positive terms: no floor. Measured: <= 3.5e-7.
const TOL = 1e-6;
const FLOOR = { param: 1, buf: 1, m: 0.1, v: 0 };

for (const build of BUILDS) {
  describe(`${build} build`, () => {
    it("SGD by hand: p = 1, grads 0.5 then -1, lr 0.1, weight decay 0.01", () => {
      const b = backends[build];
      // momentum 0.9, dampening 0.1:
      //   step 1: g = 0.5 + 0.01 * 1 = 0.51; buf = g = 0.51 (first: no dampening); p = 1 - 0.1 * 0.51 = 0.949
      //   step 2: g = -1 + 0.01 * 0.949 = -0.99051; buf = 0.9 * 0.51 + 0.9 * (-0.99051) = -0.432459;
      //           p = 0.949 + 0.1 * 0.432459 = 0.9922459
      // nesterov, momentum 0.9, dampening 0:
      //   step 1: g = 0.51; buf = 0.51; g = 0.51 + 0.9 * 0.51 = 0.969; p = 1 - 0.0969 = 0.9031
      //   step 2: g = -1 + 0.01 * 0.9031 = -0.990969; buf = 0.9 * 0.51 - 0.990969 = -0.531969;
      //           g = -0.990969 + 0.9 * (-0.531969) = -1.4697411; p = 0.9031 + 0.14697411 = 1.05007411
      // no momentum: p = 1 - 0.1 * 0.51 = 0.949; p = 0.949 - 0.1 * (-1 + 0.00949) = 1.048051
      const cases: [SgdOptions, number[], number[]][] = [
        [{ lr: 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 0.01 }, [0.949, 0.9922459], [0.51, -0.432459]],
        [{ lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 }, [0.9031, 1.05007411], [0.51, -0.531969]],
        [{ lr: 0.1, weightDecay: 0.01 }, [0.949, 1.048051], [NaN, NaN]],
      ];
      for (const [o, ps, bufs] of cases) {
        const w = new WasmParam(b, [1]);
        [0.5, -1].forEach((g, t) => {
          w.setGrad([g]);
          w.sgd(o, t === 0);
          expect(w.get(w.param)[0], `param after step ${t + 1}, ${JSON.stringify(o)}`).toBeCloseTo(ps[t], 6);
          const buf = w.get(w.buf)[0];
          if (Number.isNaN(bufs[t])) expect(buf, "buf untouched without momentum").toBeNaN();
          else expect(buf, `buf after step ${t + 1}`).toBeCloseTo(bufs[t], 6);
        });
        w.release();
      }
    });

    it("Adam and AdamW by hand: p = 1, grads 0.5 then -1, lr 0.1, betas (0.9, 0.999), eps 1e-8", () => {
      const b = backends[build];
      // Adam: step 1: m = 0.1 * 0.5 = 0.05, v = 0.001 * 0.25 = 0.00025, bc1 = 0.1, bc2 = 0.001;
      //         p = 1 - (0.1 / 0.1) * 0.05 / (sqrt(0.00025) / sqrt(0.001) + 1e-8) = 1 - 0.05 / 0.50000001 = 0.900000002
      //       step 2: m = 0.9 * 0.05 - 0.1 = -0.055, v = 0.999 * 0.00025 + 0.001 = 0.00124975,
      //         bc1 = 0.19, bc2 = 0.001999; p = 0.900000002 + (0.1 / 0.19) * 0.055 / (sqrt(0.00124975 / 0.001999) + 1e-8)
      //         = 0.900000002 + 0.5263157894736842 * 0.055 / 0.7906880... = 0.9366103542
      // AdamW, weight decay 0.1: p is first scaled by 1 - 0.1 * 0.1 = 0.99 each step:
      //         0.99 - 0.099999998 = 0.890000002; 0.890000002 * 0.99 + 0.0366103522 = 0.9177103542
      // Adam, weight decay 0.1 (L2 into the gradient): g1 = 0.6: m = 0.06, v = 0.00036,
      //         p = 1 - 0.06 / 0.60000001 = 0.9000000016667; g2 = -1 + 0.1 * p = -0.90999999983,
      //         m = -0.037, v = 0.00118774, p = 0.9252635194
      const cases: [AdamOptions, number[], number[], number[]][] = [
        [{ lr: 0.1 }, [0.900000002, 0.9366103542405654], [0.05, -0.055], [0.00025, 0.00124975]],
        [{ lr: 0.1, weightDecay: 0.1, decoupled: true }, [0.890000002, 0.9177103542205653], [0.05, -0.055], [0.00025, 0.00124975]],
        [{ lr: 0.1, weightDecay: 0.1 }, [0.9000000016666666, 0.9252635194456061], [0.06, -0.03699999998333333], [0.00036, 0.0011877399996966678]],
      ];
      for (const [o, ps, ms, vs] of cases) {
        const w = new WasmParam(b, [1], 0);
        [0.5, -1].forEach((g, t) => {
          w.setGrad([g]);
          w.adam(o, t + 1);
          const what = `after step ${t + 1}, ${JSON.stringify(o)}`;
          expect(Math.abs(w.get(w.param)[0] - ps[t]), `param ${what}`).toBeLessThanOrEqual(1e-6 * ps[t]);
          expect(Math.abs(w.get(w.buf)[0] - ms[t]), `m ${what}`).toBeLessThanOrEqual(1e-6 * Math.abs(ms[t]));
          expect(Math.abs(w.get(w.v)[0] - vs[t]), `v ${what}`).toBeLessThanOrEqual(1e-6 * vs[t]);
        });
        w.release();
      }
    });

    for (const o of SGD_CASES) {
      it(`SGD ${JSON.stringify(o)}: ${STEPS} steps match torch.optim.SGD, n in ${SIZES.join(",")}`, () => {
        const b = backends[build];
        for (const n of SIZES) {
          const r = rng(n * 7 + 1);
          const p0 = r.array(n);
          const ref = new RefSgd(p0, o);
          const w = new WasmParam(b, p0);
          for (let t = 0; t < STEPS; t++) {
            const g = r.array(n);
            ref.step(g);
            w.setGrad(g);
            w.sgd(o, t === 0);
            expectClose(w.get(w.param), ref.param, TOL, `param, n=${n}, step ${t + 1}`, FLOOR.param);
            if (ref.buf) expectClose(w.get(w.buf), ref.buf, TOL, `buf, n=${n}, step ${t + 1}`, FLOOR.buf);
            else expect(w.get(w.buf).every(Number.isNaN), "buf untouched without momentum").toBe(true);
          }
          w.release();
        }
      });
    }

    it("SGD without momentum never touches buf (a null buffer pointer is fine)", () => {
      const b = backends[build];
      const p = put(b, [1, 2, 3, 4, 5]), g = put(b, [1, 1, 1, 1, 1]);
      const low = get(b, 0, 16);
      b.kernels.sgd_step(p, g, 0, 5, 0.5, 0, 0, 0, 0, 1);
      expect(Array.from(get(b, p, 5))).toEqual([0.5, 1.5, 2.5, 3.5, 4.5]);
      expect(Array.from(get(b, 0, 16))).toEqual(Array.from(low));
    });

    for (const o of ADAM_CASES) {
      it(`${o.decoupled ? "AdamW" : "Adam"} ${JSON.stringify(o)}: ${STEPS} steps match torch.optim, n in ${SIZES.join(",")}`, () => {
        const b = backends[build];
        for (const n of SIZES) {
          const r = rng(n * 11 + 3);
          const p0 = r.array(n);
          const ref = new RefAdam(p0, o);
          const w = new WasmParam(b, p0, 0);
          for (let t = 1; t <= STEPS; t++) {
            const g = r.array(n, t === 3 ? 1e-3 : 1); // one step of tiny gradients
            ref.update(g);
            w.setGrad(g);
            w.adam(o, t);
            expectClose(w.get(w.param), ref.param, TOL, `param, n=${n}, step ${t}`, FLOOR.param);
            expectClose(w.get(w.buf), ref.m, TOL, `m, n=${n}, step ${t}`, FLOOR.m);
            expectClose(w.get(w.v), ref.v, TOL, `v, n=${n}, step ${t}`, FLOOR.v);
          }
          w.release();
        }
      });
    }

    it("Adam with a zero gradient from the start leaves param unchanged (0 / (0 + eps))", () => {
      const b = backends[build];
      const w = new WasmParam(b, [1, -2, 3, 0, 5], 0);
      w.setGrad([0, 0, 0, 0, 0]);
      for (let t = 1; t <= 3; t++) w.adam({ lr: 0.1 }, t);
      expect(Array.from(w.get(w.param))).toEqual([1, -2, 3, 0, 5]);
      w.release();
    });
  });
}

describe("every build agrees", () => {
  it("bit for bit on SGD and Adam state after 5 steps (same operations in the same order)", () => {
    const n = 1003;
    const states = BUILDS.map((build) => {
      const b = backends[build];
      const r = rng(5);
      const p0 = r.array(n);
      const s = new WasmParam(b, p0), a = new WasmParam(b, p0, 0);
      for (let t = 1; t <= STEPS; t++) {
        const g = r.array(n);
        s.setGrad(g);
        a.setGrad(g);
        s.sgd({ lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 1e-3, nesterov: t % 2 === 0 }, t === 1);
        a.adam({ lr: 1e-2, weightDecay: 1e-2, decoupled: t % 2 === 0 }, t);
      }
      return [s.get(s.param), s.get(s.buf), a.get(a.param), a.get(a.buf), a.get(a.v)];
    });
    for (let k = 1; k < states.length; k++) states[0].forEach((x, i) => expect(Array.from(x), `${BUILDS[0]} vs ${BUILDS[k]} state ${i}`).toEqual(Array.from(states[k][i])));
  });
});
