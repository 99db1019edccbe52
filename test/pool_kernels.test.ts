// The pooling kernels (assembly/pool_max.ts, pool_avg.ts, pool_global.ts) against their float64
// references (test/reference/pool.ts) in every build and both layouts: a sampled sweep of shapes
// (C, H, W from the tail sizes, kernels 1/2/3/5, strides 1/2/3, padding 'valid', TensorFlow's
// asymmetric 'same' and PyTorch's symmetric), inputs and outputs read and written as channel
// slices of bigger tensors with canaries around them, write and accumulate; max pooling's
// ties, NaN and padding; global pooling's accuracy on a large plane; the builds against each other.
import { beforeAll, describe, expect, it } from "vitest";
import { type Backend, type BuildName, createBackend } from "../src/backend.js";
import { BUILDS, expectClose, rng } from "./check.js";
import {
  type PoolGeom, type PoolLayout, poolAxis, refAvgPool2d, refAvgPool2dBackward, refGlobalAvgPool,
  refGlobalAvgPoolBackward, refMaxPool2d, refMaxPool2dBackward,
} from "./reference/pool.js";
import { TAIL_SIZES } from "./shapes.js";
import { type Slab, expectCanaries, ptr, read, release, slab, write } from "./slices.js";

const LAYOUTS: PoolLayout[] = ["nhwc", "nchw"];
const backends = {} as Record<BuildName, Backend>;
beforeAll(async () => {
  for (const build of BUILDS) backends[build] = await createBackend({ build });
});

/** Rows and columns of a [N, C, H, W] tensor as a slab: pixels x channels (NHWC), images x C*H*W (NCHW). */
function shapeOf(layout: PoolLayout, N: number, C: number, H: number, W: number): [number, number] {
  return layout === "nhwc" ? [N * H * W, C] : [N, C * H * W];
}

/** An int32 buffer of n values with 3 canaries after it. */
function idxBuffer(b: Backend, n: number): number {
  const p = b.heap.alloc((n + 3) * 4);
  b.heap.i32.fill(-7, p >> 2, (p >> 2) + n + 3);
  return p;
}

// ---- the kernels, called on slabs -----------------------------------------------------------

function maxForward(b: Backend, L: PoolLayout, g: PoolGeom, y: Slab, idx: number, x: Slab): void {
  const k = b.kernels, w = [g.OH, g.OW, g.KH, g.KW, g.sh, g.sw, g.pt, g.pl] as const;
  if (L === "nhwc") k.maxpool2d_forward_nhwc(ptr(y), y.stride, idx, ptr(x), x.stride, g.N, g.H, g.W, g.C, ...w);
  else k.maxpool2d_forward_nchw(ptr(y), y.stride, idx, ptr(x), x.stride, g.N, g.C, g.H, g.W, ...w);
}

function maxBackward(b: Backend, L: PoolLayout, g: PoolGeom, dx: Slab, dy: Slab, idx: number, acc: number): void {
  const k = b.kernels;
  if (L === "nhwc") k.maxpool2d_backward_nhwc(ptr(dx), dx.stride, ptr(dy), dy.stride, idx, g.N, g.H, g.W, g.C, g.OH, g.OW, acc);
  else k.maxpool2d_backward_nchw(ptr(dx), dx.stride, ptr(dy), dy.stride, idx, g.N, g.C, g.H, g.W, g.OH, g.OW, acc);
}

function avgForward(b: Backend, L: PoolLayout, g: PoolGeom, y: Slab, x: Slab, cip: number): void {
  const k = b.kernels, w = [g.OH, g.OW, g.KH, g.KW, g.sh, g.sw, g.pt, g.pl, cip] as const;
  if (L === "nhwc") k.avgpool2d_forward_nhwc(ptr(y), y.stride, ptr(x), x.stride, g.N, g.H, g.W, g.C, ...w);
  else k.avgpool2d_forward_nchw(ptr(y), y.stride, ptr(x), x.stride, g.N, g.C, g.H, g.W, ...w);
}

function avgBackward(b: Backend, L: PoolLayout, g: PoolGeom, dx: Slab, dy: Slab, cip: number, acc: number): void {
  const k = b.kernels, w = [g.OH, g.OW, g.KH, g.KW, g.sh, g.sw, g.pt, g.pl, cip, acc] as const;
  if (L === "nhwc") k.avgpool2d_backward_nhwc(ptr(dx), dx.stride, ptr(dy), dy.stride, g.N, g.H, g.W, g.C, ...w);
  else k.avgpool2d_backward_nchw(ptr(dx), dx.stride, ptr(dy), dy.stride, g.N, g.C, g.H, g.W, ...w);
}

function globalForward(b: Backend, L: PoolLayout, N: number, C: number, H: number, W: number, y: Slab, x: Slab): void {
  if (L === "nhwc") b.kernels.global_avgpool_forward_nhwc(ptr(y), y.stride, ptr(x), x.stride, N, H, W, C);
  else b.kernels.global_avgpool_forward_nchw(ptr(y), y.stride, ptr(x), x.stride, N, C, H, W);
}

function globalBackward(b: Backend, L: PoolLayout, N: number, C: number, H: number, W: number, dx: Slab, dy: Slab, acc: number): void {
  if (L === "nhwc") b.kernels.global_avgpool_backward_nhwc(ptr(dx), dx.stride, ptr(dy), dy.stride, N, H, W, C, acc);
  else b.kernels.global_avgpool_backward_nchw(ptr(dx), dx.stride, ptr(dy), dy.stride, N, C, H, W, acc);
}

// ---- shapes ------------------------------------------------------------------------------

interface Case { g: PoolGeom; label: string; strided: boolean }

function makeCase(N: number, C: number, H: number, W: number, KH: number, KW: number, sh: number, sw: number, padding: "valid" | "same" | "sym", strided: boolean): Case {
  const ah = poolAxis(H, KH, sh, padding === "sym" ? Math.floor(KH / 2) : padding);
  const aw = poolAxis(W, KW, sw, padding === "sym" ? Math.floor(KW / 2) : padding);
  const g = { N, C, H, W, OH: ah.out, OW: aw.out, KH, KW, sh, sw, pt: ah.pad, pl: aw.pad };
  return { g, strided, label: `[N${N} C${C} H${H} W${W}] k${KH}x${KW} s${sh},${sw} ${padding}${strided ? " strided" : ""}` };
}

/**
 * Every (kernel, stride, padding) with two sampled (N, C, H, W) from the tail sizes (the second
 * with a different kernel width and stride along W), and shapes that reach the 16-channel
 * NHWC blocks and the f32x4 rows of NCHW.
 */
function sweep(): Case[] {
  const r = rng(7007);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r.uniform() * a.length)];
  const cases: Case[] = [];
  for (const K of [1, 2, 3, 5]) {
    for (const s of [1, 2, 3]) {
      for (const padding of ["valid", "same", "sym"] as const) {
        for (const rep of [0, 1]) {
          const KW = rep === 0 ? K : pick([1, 2, 3, 5]), sw = rep === 0 ? s : pick([1, 2, 3]);
          const sizes = (k: number) => (padding === "valid" ? TAIL_SIZES.filter((v) => v >= k) : TAIL_SIZES);
          cases.push(makeCase(pick([1, 2, 3]), pick(TAIL_SIZES), pick(sizes(K)), pick(sizes(KW)), K, KW, s, sw, padding, cases.length % 2 === 0));
        }
      }
    }
  }
  cases.push(
    makeCase(2, 35, 9, 17, 3, 3, 1, 1, "same", true),
    makeCase(2, 23, 17, 17, 3, 3, 2, 2, "same", false),
    makeCase(3, 5, 8, 17, 5, 5, 2, 2, "valid", true),
    makeCase(2, 7, 8, 17, 2, 2, 2, 2, "valid", false),
    makeCase(2, 4, 7, 16, 3, 3, 1, 1, "sym", true),
    makeCase(2, 48, 16, 16, 3, 3, 2, 2, "same", true),
  );
  return cases;
}

const CASES = sweep();

/** Max-pooling windows overlap (an input can receive several dy) unless the stride covers the kernel. */
const overlaps = (g: PoolGeom) => g.sh < g.KH || g.sw < g.KW;

const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);

/** f32 rounding of a float64 reference, for the results that must be exact. */
const exact = (a: ArrayLike<number>) => Float32Array.from(a);

/** got equals want element for element (Object.is: NaN equals NaN, -0 differs from 0). */
function expectSame(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!Object.is(got[i], want[i])) expect.fail(`${what}: [${i}] is ${got[i]}, want ${want[i]}`);
  }
}

const i32s = (b: Backend, p: number, n: number) => b.heap.i32.subarray(p >> 2, (p >> 2) + n);

// ---- max pooling -----------------------------------------------------------------------------

function checkMax(b: Backend, L: PoolLayout, c: Case, seed: number): void {
  const { g, label } = c;
  const r = rng(seed);
  const [xr, xc] = shapeOf(L, g.N, g.C, g.H, g.W), [yr, yc] = shapeOf(L, g.N, g.C, g.OH, g.OW);
  const xs = r.array(xr * xc, 2, -1.5); // mostly negative: padding counted as 0 would win
  const x = slab(b, xr, xc, c.strided, xs), y = slab(b, yr, yc, c.strided);
  const idx = idxBuffer(b, yr * yc);
  maxForward(b, L, g, y, idx, x);
  const want = refMaxPool2d(xs, g, L);
  expectSame(read(b, y), exact(want.y), `${label} y (exact copies)`);
  expectSame(i32s(b, idx, yr * yc), want.idx, `${label} idx`);
  expect(Array.from(b.heap.i32.subarray((idx >> 2) + yr * yc, (idx >> 2) + yr * yc + 3)), `${label} idx canaries`).toEqual([-7, -7, -7]);
  expectCanaries(b, y, `${label} y`);
  expectSame(read(b, x), xs, `${label} x unchanged`);

  const dys = r.array(yr * yc), dx0 = r.array(xr * xc);
  const dy = slab(b, yr, yc, c.strided, dys), dx = slab(b, xr, xc, c.strided, dx0);
  const dxWant = refMaxPool2dBackward(dys, want.idx, g, L);
  const tol = overlaps(g) ? 1e-6 : 0;
  maxBackward(b, L, g, dx, dy, idx, 0);
  if (tol === 0) expectSame(read(b, dx), exact(dxWant), `${label} dx`);
  else expectClose(read(b, dx), dxWant, tol, `${label} dx`, maxAbs(dys));
  write(b, dx, dx0);
  maxBackward(b, L, g, dx, dy, idx, 1);
  const accWant = dxWant.map((v, i) => v + dx0[i]);
  if (tol === 0) expectSame(read(b, dx), exact(accWant), `${label} dx accumulated`);
  else expectClose(read(b, dx), accWant, tol, `${label} dx accumulated`, maxAbs(dys));
  expectCanaries(b, dx, `${label} dx`);
  release(b, x, y, idx, dy, dx);
}

// ---- average pooling -------------------------------------------------------------------------

function checkAvg(b: Backend, L: PoolLayout, c: Case, seed: number): void {
  const { g } = c;
  const r = rng(seed);
  const [xr, xc] = shapeOf(L, g.N, g.C, g.H, g.W), [yr, yc] = shapeOf(L, g.N, g.C, g.OH, g.OW);
  const xs = r.array(xr * xc, 1, 0.5);
  const dys = r.array(yr * yc), dx0 = r.array(xr * xc);
  for (const cip of [1, 0]) {
    const label = `${c.label} countIncludePad=${cip}`;
    const x = slab(b, xr, xc, c.strided, xs), y = slab(b, yr, yc, c.strided);
    avgForward(b, L, g, y, x, cip);
    expectClose(read(b, y), refAvgPool2d(xs, g, L, cip === 1), 2e-6, `${label} y`, maxAbs(xs));
    expectCanaries(b, y, `${label} y`);

    const dy = slab(b, yr, yc, c.strided, dys), dx = slab(b, xr, xc, c.strided, dx0);
    const dxWant = refAvgPool2dBackward(dys, g, L, cip === 1);
    avgBackward(b, L, g, dx, dy, cip, 0);
    expectClose(read(b, dx), dxWant, 2e-6, `${label} dx`, maxAbs(dys));
    write(b, dx, dx0);
    avgBackward(b, L, g, dx, dy, cip, 1);
    expectClose(read(b, dx), dxWant.map((v, i) => v + dx0[i]), 2e-6, `${label} dx accumulated`, maxAbs(dys));
    expectCanaries(b, dx, `${label} dx`);
    release(b, x, y, dy, dx);
  }
}

// ---- global average pooling ------------------------------------------------------------------

/** Forward on a (strided) slab; returns the worst relative error of y against the reference. */
function checkGlobalForward(b: Backend, L: PoolLayout, N: number, C: number, H: number, W: number, strided: boolean, xs: Float32Array): number {
  const label = `[N${N} C${C} H${H} W${W}]${strided ? " strided" : ""}`;
  const [xr, xc] = shapeOf(L, N, C, H, W);
  const x = slab(b, xr, xc, strided, xs), y = slab(b, N, C, strided);
  globalForward(b, L, N, C, H, W, y, x);
  const want = refGlobalAvgPool(xs, N, C, H, W, L);
  const got = read(b, y);
  expectClose(got, want, 1e-6, `${label} y`);
  expectCanaries(b, y, `${label} y`);
  release(b, x, y);
  let err = 0;
  for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i] - want[i]) / Math.abs(want[i]));
  return err;
}

function checkGlobal(b: Backend, L: PoolLayout, N: number, C: number, H: number, W: number, strided: boolean, seed: number): void {
  const label = `[N${N} C${C} H${H} W${W}]${strided ? " strided" : ""}`;
  const r = rng(seed);
  const [xr, xc] = shapeOf(L, N, C, H, W);
  checkGlobalForward(b, L, N, C, H, W, strided, r.array(xr * xc, 1, 0.5));
  const dys = r.array(N * C), dx0 = r.array(xr * xc);
  const dy = slab(b, N, C, strided, dys), dx = slab(b, xr, xc, strided, dx0);
  const dxWant = refGlobalAvgPoolBackward(dys, N, C, H, W, L);
  globalBackward(b, L, N, C, H, W, dx, dy, 0);
  expectSame(read(b, dx), exact(dxWant), `${label} dx (dy / HW correctly rounded)`);
  write(b, dx, dx0);
  globalBackward(b, L, N, C, H, W, dx, dy, 1);
  expectSame(read(b, dx), exact(dxWant.map((v, i) => Math.fround(v) + dx0[i])), `${label} dx accumulated (one rounding of dx + dy / HW)`);
  expectCanaries(b, dx, `${label} dx`);
  release(b, dy, dx);
}

// ---- the tests -------------------------------------------------------------------------------

for (const build of BUILDS) {
  describe(`${build} build`, () => {
    for (const L of LAYOUTS) {
      it(`${L}: max pooling forward (exact values and indices) and backward (write, accumulate) on ${CASES.length} shapes, slices with canaries`, () => {
        CASES.forEach((c, i) => checkMax(backends[build], L, c, 100 + i));
      });

      it(`${L}: average pooling forward and backward, countIncludePad 1 and 0, write and accumulate, on ${CASES.length} shapes`, () => {
        CASES.forEach((c, i) => checkAvg(backends[build], L, c, 300 + i));
      });

      it(`${L}: global average pooling forward and backward (exact), write and accumulate`, () => {
        const r = rng(55);
        const pick = (a: readonly number[]) => a[Math.floor(r.uniform() * a.length)];
        for (let i = 0; i < 24; i++) checkGlobal(backends[build], L, pick([1, 2, 3]), pick(TAIL_SIZES), pick(TAIL_SIZES), pick(TAIL_SIZES), i % 2 === 0, 500 + i);
        checkGlobal(backends[build], L, 2, 35, 16, 16, true, 600);
      });

      it(`${L}: global average pooling stays accurate on a 300 x 300 plane of values near 1000`, () => {
        const xs = rng(700).array(5 * 300 * 300, 1, 1000);
        const err = checkGlobalForward(backends[build], L, 1, 5, 300, 300, false, xs);
        expect(err).toBeLessThanOrEqual(2e-7);
        // What one running float32 sum per channel would give, for comparison.
        const want = refGlobalAvgPool(xs, 1, 5, 300, 300, L);
        let naive = 0;
        for (let c = 0; c < 5; c++) {
          let s = 0;
          for (let p = 0; p < 90_000; p++) s = Math.fround(s + xs[L === "nhwc" ? p * 5 + c : c * 90_000 + p]);
          naive = Math.max(naive, Math.abs(Math.fround(s / 90_000) - want[c]) / want[c]);
        }
        console.log(`[${build}] ${L} mean of 90,000 values near 1000: relative error ${err.toExponential(2)} (one running float32 sum: ${naive.toExponential(2)})`);
      });

      it(`${L}: max pooling ties keep the first maximum in scan order (PyTorch's CPU kernel)`, () => {
        const b = backends[build];
        CASES.slice(0, 40).forEach((c, i) => {
          const { g } = c;
          const r = rng(800 + i);
          const [xr, xc] = shapeOf(L, g.N, g.C, g.H, g.W), [yr, yc] = shapeOf(L, g.N, g.C, g.OH, g.OW);
          const xs = Float32Array.from({ length: xr * xc }, () => Math.floor(r.uniform() * 3) - 2); // -2, -1, 0: many ties
          const x = slab(b, xr, xc, c.strided, xs), y = slab(b, yr, yc, c.strided), idx = idxBuffer(b, yr * yc);
          maxForward(b, L, g, y, idx, x);
          const want = refMaxPool2d(xs, g, L);
          expectSame(read(b, y), exact(want.y), c.label);
          expectSame(i32s(b, idx, yr * yc), want.idx, `${c.label} idx`);
          release(b, x, y, idx);
        });
      });

      it(`${L}: max pooling NaN and -Infinity: a NaN in the window gives NaN (index of the last NaN), all -Infinity gives the first tap`, () => {
        const b = backends[build];
        CASES.slice(0, 40).forEach((c, i) => {
          const { g } = c;
          const r = rng(900 + i);
          const [xr, xc] = shapeOf(L, g.N, g.C, g.H, g.W), [yr, yc] = shapeOf(L, g.N, g.C, g.OH, g.OW);
          const xs = Float32Array.from({ length: xr * xc }, () => {
            const u = r.uniform();
            return u < 0.08 ? NaN : u < 0.5 ? -Infinity : r.normal();
          });
          const x = slab(b, xr, xc, c.strided, xs), y = slab(b, yr, yc, c.strided), idx = idxBuffer(b, yr * yc);
          maxForward(b, L, g, y, idx, x);
          const want = refMaxPool2d(xs, g, L);
          expectSame(read(b, y), exact(want.y), c.label);
          expectSame(i32s(b, idx, yr * yc), want.idx, `${c.label} idx`);
          release(b, x, y, idx);
        });
      });
    }

    it("max pooling on one row, spelled out: first of equal maxima, last NaN, padding never wins", () => {
      const b = backends[build];
      const run = (values: number[], KW: number, pl: number, OW: number) => {
        const g = { N: 1, C: 1, H: 1, W: values.length, OH: 1, OW, KH: 1, KW, sh: 1, sw: KW, pt: 0, pl };
        const x = slab(b, 1, values.length, false, values), y = slab(b, 1, OW, false), idx = idxBuffer(b, OW);
        maxForward(b, "nchw", g, y, idx, x);
        const out = { y: Array.from(read(b, y)), idx: Array.from(b.heap.i32.subarray(idx >> 2, (idx >> 2) + OW)) };
        release(b, x, y, idx);
        return out;
      };
      expect(run([1, 3, 3, 2], 4, 0, 1)).toEqual({ y: [3], idx: [1] });
      expect(run([NaN, 5, NaN, 1], 4, 0, 1)).toEqual({ y: [NaN], idx: [2] });
      expect(run([-Infinity, -Infinity, -Infinity, -Infinity], 4, 0, 1)).toEqual({ y: [-Infinity], idx: [0] });
      expect(run([-3, -2], 3, 1, 1)).toEqual({ y: [-2], idx: [1] }); // the padded column is not a 0
    });
  });
}

describe("the builds agree", () => {
  it("bit for bit on max, average and NHWC global pooling; NCHW global pooling to 1e-6 (different lane counts)", () => {
    const outs = BUILDS.map((build) => {
      const b = backends[build];
      const res: Float32Array[] = [];
      for (const L of LAYOUTS) {
        for (const c of CASES.slice(-6)) {
          const { g } = c;
          const r = rng(42);
          const [xr, xc] = shapeOf(L, g.N, g.C, g.H, g.W), [yr, yc] = shapeOf(L, g.N, g.C, g.OH, g.OW);
          const xs = r.array(xr * xc), dys = r.array(yr * yc);
          const x = slab(b, xr, xc, c.strided, xs), y = slab(b, yr, yc, c.strided), idx = idxBuffer(b, yr * yc);
          const dy = slab(b, yr, yc, c.strided, dys), dx = slab(b, xr, xc, c.strided);
          maxForward(b, L, g, y, idx, x);
          maxBackward(b, L, g, dx, dy, idx, 0);
          res.push(read(b, y), read(b, dx));
          avgForward(b, L, g, y, x, 0);
          avgBackward(b, L, g, dx, dy, 0, 0);
          res.push(read(b, y), read(b, dx));
          const gy = slab(b, g.N, g.C, false);
          globalForward(b, L, g.N, g.C, g.H, g.W, gy, x);
          res.push(read(b, gy));
          release(b, x, y, idx, dy, dx, gy);
        }
      }
      return res;
    });
    for (let k = 1; k < outs.length; k++) {
      outs[0].forEach((a, i) => {
        const nchwGlobal = i >= outs[0].length / 2 && i % 5 === 4;
        if (nchwGlobal) expectClose(outs[k][i], a, 1e-6, `${BUILDS[k]} output ${i}`);
        else expectSame(outs[k][i], a, `${BUILDS[k]} output ${i}`);
      });
    }
  });
});
