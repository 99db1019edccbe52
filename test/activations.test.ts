// act_forward, act_backward, their strided row variants, mul and exp_forward
// (assembly/activations.ts) against the float64 references, in every build, over sizes around
// the f32x4 tile; the row variants on channel slices with canaries, writing and accumulating;
// the accuracy of exp, sigmoid and tanh on dense grids; saturation and special values; the
// builds against each other to the bit.
import { beforeAll, describe, expect, it } from "vitest";
import { type Backend, type BuildName, createBackend } from "../src/backend.js";
import { BUILDS, get, maxRelErr, put, rng } from "./check.js";
import { ACT, ACT_NAMES, type ActCode, refActBackward, refActForward, refMul } from "./reference/activations.js";
import { TAIL_SIZES } from "./shapes.js";
import { expectCanaries, ptr, read, release, slab, write } from "./slices.js";

const SIZES = [...TAIL_SIZES, 1000];
const ACTS = [ACT.identity, ACT.relu, ACT.sigmoid, ACT.tanh] as ActCode[];
/**
 * [rows, cols] of the row variants: tails of the f32x4 tile in both, an NHWC channel slice
 * (rows = N*H*W = 2*3*3, cols = C = 7) and an NCHW one (rows = N = 2, cols = C*H*W = 5*3*3).
 */
const ROW_SHAPES = [[1, 1], [3, 5], [7, 4], [5, 17], [9, 9], [4, 8], [2, 1000], [18, 7], [2, 45]] as const;
/** Which of (input, output) is a strided slice rather than a dense block. */
const STRIDINGS = [[false, false], [true, false], [false, true], [true, true]] as const;

const backends = {} as Record<BuildName, Backend>;
beforeAll(async () => {
  for (const build of BUILDS) backends[build] = (await createBackend({ build }));
});

/** Runs a unary kernel (y, x, n) over xs in fresh memory; returns y. */
function unary(b: Backend, xs: ArrayLike<number>, run: (y: number, x: number, n: number) => void): Float32Array {
  const x = put(b, xs), y = b.heap.alloc(xs.length * 4);
  run(y, x, xs.length);
  const out = get(b, y, xs.length);
  b.heap.release(x);
  b.heap.release(y);
  return out;
}

const expOf = (b: Backend) => (y: number, x: number, n: number) => b.kernels.exp_forward(y, x, n);
const actOf = (b: Backend, act: ActCode) => (y: number, x: number, n: number) => b.kernels.act_forward(y, x, n, act);

/** n evenly spaced float32 values from lo to hi. */
function grid(lo: number, hi: number, n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));
}

/** Elementwise relative error, except absolute where |want| < absBelow. */
function worstErr(got: ArrayLike<number>, want: ArrayLike<number>, absBelow = 0): { err: number; at: number } {
  let err = 0, at = -1;
  for (let i = 0; i < want.length; i++) {
    const w = want[i];
    const e = Math.abs(got[i] - w) / (Math.abs(w) < absBelow ? 1 : Math.abs(w));
    if (!(e <= err)) {
      err = e;
      at = i;
    }
  }
  return { err, at };
}

function sameBits(a: Float32Array, c: Float32Array): boolean {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length), uc = new Uint32Array(c.buffer, c.byteOffset, c.length);
  for (let i = 0; i < a.length; i++) if (ua[i] !== uc[i] && !(Number.isNaN(a[i]) && Number.isNaN(c[i]))) return false;
  return true;
}

const TOL = 1e-6;

for (const build of BUILDS) {
  describe(`${build} build`, () => {
    for (const act of ACTS) {
      it(`act_forward ${ACT_NAMES[act]} matches the reference, n in ${SIZES.join(",")}, out of place and in place`, () => {
        const b = backends[build];
        for (const n of SIZES) {
          const xs = rng(100 + n).array(n, 3);
          const want = refActForward(xs, act);
          const got = unary(b, xs, actOf(b, act));
          expect(maxRelErr(got, want), `n=${n}`).toBeLessThanOrEqual(act <= ACT.relu ? 0 : TOL);
          const x = put(b, xs);
          b.kernels.act_forward(x, x, n, act);
          expect(sameBits(get(b, x, n), got), `in place, n=${n}`).toBe(true);
          b.heap.release(x);
        }
      });

      it(`act_backward ${ACT_NAMES[act]} matches the reference from the saved output`, () => {
        const b = backends[build];
        for (const n of SIZES) {
          const r = rng(200 + n);
          const xs = r.array(n, 3), dys = r.array(n);
          if (act === ACT.relu && n >= 3) xs[1] = 0; // y == 0: no gradient (PyTorch's threshold_backward)
          const ys = unary(b, xs, actOf(b, act));
          const want = refActBackward(dys, ys, act);
          const dy = put(b, dys), y = put(b, ys), dx = b.heap.alloc(n * 4);
          b.kernels.act_backward(dx, dy, y, n, act);
          const got = get(b, dx, n);
          expect(maxRelErr(got, want), `n=${n}`).toBeLessThanOrEqual(act <= ACT.relu ? 0 : TOL);
          b.kernels.act_backward(dy, dy, y, n, act);
          expect(sameBits(get(b, dy, n), got), `in place, n=${n}`).toBe(true);
          for (const p of [dy, y, dx]) b.heap.release(p);
        }
      });
    }

    for (const act of ACTS) {
      it(`act_forward_rows ${ACT_NAMES[act]}: each row as act_forward, from and into slices (canaries untouched), in place`, () => {
        const b = backends[build];
        for (const [rows, cols] of ROW_SHAPES) {
          for (const [sx, sy] of STRIDINGS) {
            const what = `${rows}x${cols} x ${sx ? "strided" : "dense"}, y ${sy ? "strided" : "dense"}`;
            const xs = rng(rows * 131 + cols).array(rows * cols, 3);
            const want = unary(b, xs, actOf(b, act));
            const x = slab(b, rows, cols, sx, xs), y = slab(b, rows, cols, sy);
            b.kernels.act_forward_rows(ptr(y), y.stride, ptr(x), x.stride, rows, cols, act);
            expect(sameBits(read(b, y), want), what).toBe(true);
            expect(sameBits(read(b, x), xs), `${what}: x unchanged`).toBe(true);
            expectCanaries(b, y, `${what} y`);
            b.kernels.act_forward_rows(ptr(x), x.stride, ptr(x), x.stride, rows, cols, act);
            expect(sameBits(read(b, x), want), `${what} in place`).toBe(true);
            expectCanaries(b, x, `${what} in place`);
            release(b, x, y);
          }
        }
      });

      it(`act_backward_rows ${ACT_NAMES[act]}: matches the reference on slices, writing and accumulating`, () => {
        const b = backends[build];
        for (const [rows, cols] of ROW_SHAPES) {
          for (const [sIn, sOut] of STRIDINGS) {
            const what = `${rows}x${cols} dy, y ${sIn ? "strided" : "dense"}, dx ${sOut ? "strided" : "dense"}`;
            const r = rng(rows * 137 + cols);
            const xs = r.array(rows * cols, 3), dys = r.array(rows * cols), dx0 = r.array(rows * cols);
            if (act === ACT.relu) xs[0] = 0;
            const ys = unary(b, xs, actOf(b, act));
            const want = refActBackward(dys, ys, act);
            const dy = slab(b, rows, cols, sIn, dys), y = slab(b, rows, cols, sIn, ys), dx = slab(b, rows, cols, sOut, dx0);
            b.kernels.act_backward_rows(ptr(dx), dx.stride, ptr(dy), dy.stride, ptr(y), y.stride, rows, cols, act, 0);
            expect(maxRelErr(read(b, dx), want), what).toBeLessThanOrEqual(act <= ACT.relu ? 0 : TOL);
            write(b, dx, dx0);
            b.kernels.act_backward_rows(ptr(dx), dx.stride, ptr(dy), dy.stride, ptr(y), y.stride, rows, cols, act, 1);
            const accWant = want.map((v, i) => v + dx0[i]);
            // Identity and ReLU add an exact term: one rounding. Sigmoid and tanh: TOL of the terms (all O(1)).
            expect(maxRelErr(read(b, dx), accWant, act <= ACT.relu ? 1e-30 : 1), `${what} accumulated`).toBeLessThanOrEqual(act <= ACT.relu ? 6e-8 : TOL);
            expectCanaries(b, dx, `${what} dx`);
            expect(sameBits(read(b, dy), dys), `${what}: dy unchanged`).toBe(true);
            release(b, dy, y, dx);
          }
        }
      });
    }

    it("act_backward_rows in place on a dense block gives act_backward's bits", () => {
      const b = backends[build];
      const r = rng(5);
      const ys = unary(b, r.array(1003, 3), actOf(b, ACT.tanh)), dys = r.array(1003);
      const dy = put(b, dys), y = put(b, ys), dx = b.heap.alloc(1003 * 4);
      b.kernels.act_backward(dx, dy, y, 1003, ACT.tanh);
      b.kernels.act_backward_rows(dy, 17, dy, 17, y, 17, 59, 17, ACT.tanh, 0);
      expect(sameBits(get(b, dy, 1003), get(b, dx, 1003))).toBe(true);
      for (const p of [dy, y, dx]) b.heap.release(p);
    });

    it("tanh backward keeps its digits where |y| is close to 1", () => {
      const b = backends[build];
      const ys = Float32Array.from([0.9999, -0.9999, 0.99999994, -0.99999994, 0.999, 0.5, -0.25, 0, 1, -1]);
      const dys = new Float32Array(ys.length).fill(1.5);
      const dy = put(b, dys), y = put(b, ys), dx = b.heap.alloc(ys.length * 4);
      b.kernels.act_backward(dx, dy, y, ys.length, ACT.tanh);
      expect(maxRelErr(get(b, dx, ys.length), refActBackward(dys, ys, ACT.tanh))).toBeLessThanOrEqual(TOL);
    });

    it("ReLU backward: zero where y <= 0 (even for a NaN or infinite dy), dy elsewhere", () => {
      const b = backends[build];
      const ys = Float32Array.from([0, -0, -1, 2, 0, 3, 1e-30, -1e-30, 5]);
      const dys = Float32Array.from([NaN, Infinity, 1, 4, -Infinity, NaN, 7, 8, -2]);
      const dy = put(b, dys), y = put(b, ys), dx = b.heap.alloc(ys.length * 4);
      b.kernels.act_backward(dx, dy, y, ys.length, ACT.relu);
      expect(Array.from(get(b, dx, ys.length))).toEqual([0, 0, 0, 4, 0, NaN, 7, 0, -2]);
    });

    it("an unknown act code traps instead of writing garbage", () => {
      const b = backends[build];
      const x = put(b, [1, 2, 3]);
      expect(() => b.kernels.act_forward(x, x, 3, 4)).toThrow();
      expect(() => b.kernels.act_backward(x, x, x, 3, -1)).toThrow();
    });

    it("mul (dropout) matches the reference", () => {
      const b = backends[build];
      for (const n of SIZES) {
        const r = rng(300 + n);
        const xs = r.array(n);
        const mask = Float32Array.from({ length: n }, () => (r.uniform() < 0.3 ? 0 : 1 / 0.7));
        const x = put(b, xs), m = put(b, mask), y = b.heap.alloc(n * 4);
        b.kernels.mul(y, x, m, n);
        expect(maxRelErr(get(b, y, n), refMul(xs, mask)), `n=${n}`).toBeLessThanOrEqual(6e-8);
        for (const p of [x, m, y]) b.heap.release(p);
      }
    });

    it("exp: relative error <= 1e-6 against Math.exp on a dense grid of [-87, 88] and tails", () => {
      const b = backends[build];
      let worst = 0;
      for (const n of [...SIZES, 2_000_003]) {
        const xs = n > 1000 ? grid(-87, 88, n) : rng(400 + n).array(n, 25).map((v) => Math.min(Math.max(v, -87), 88));
        const { err } = worstErr(unary(b, xs, expOf(b)), Array.from(xs, Math.exp));
        expect(err, `n=${n}`).toBeLessThanOrEqual(TOL);
        worst = Math.max(worst, err);
      }
      console.log(`[${build}] exp max relative error on [-87, 88]: ${worst.toExponential(2)}`);
    });

    it("exp: overflow to +Inf, gradual underflow to 0, NaN stays NaN", () => {
      const b = backends[build];
      const xs = [88.8, 1e4, Infinity, 88.72283, -104, -1e4, -Infinity, NaN, 0, -0, 1e-30];
      const got = unary(b, xs, expOf(b));
      expect(Array.from(got)).toEqual(Array.from(xs, (v) => Math.fround(Math.exp(Math.fround(v)))));
      expect(got[3]).toBeGreaterThan(3.4e38); // just below ln(FLT_MAX): finite
      // Subnormal results: within one subnormal step of the correctly rounded value.
      const sub = grid(-103.9, -87.4, 100_001);
      const want = Array.from(sub, (v) => Math.fround(Math.exp(v)));
      const gotSub = unary(b, sub, expOf(b));
      for (let i = 0; i < sub.length; i++) expect(Math.abs(gotSub[i] - want[i])).toBeLessThanOrEqual(Math.max(1.5e-45, 2e-7 * want[i]));
    });

    it("sigmoid: relative error <= 1e-6 on a dense grid of [-30, 30] (and [-87, 88])", () => {
      const b = backends[build];
      const sig = (v: number) => 1 / (1 + Math.exp(-v));
      let worst = 0;
      for (const [lo, hi] of [[-30, 30], [-87, 88]]) {
        const xs = grid(lo, hi, 1_000_001);
        const { err, at } = worstErr(unary(b, xs, actOf(b, ACT.sigmoid)), Array.from(xs, sig));
        expect(err, `[${lo}, ${hi}], worst at x=${xs[at]}`).toBeLessThanOrEqual(TOL);
        worst = Math.max(worst, err);
      }
      console.log(`[${build}] sigmoid max relative error on [-87, 88]: ${worst.toExponential(2)}`);
    });

    it("tanh: relative error <= 1e-6 (absolute 1e-7 near 0) on dense grids, tiny |x| included", () => {
      const b = backends[build];
      const xs = new Float32Array([...grid(-10, 10, 1_000_001), ...grid(-0.7, 0.7, 200_001)]);
      const tiny = Float32Array.from({ length: 2000 }, (_, i) => (i % 2 ? -1 : 1) * 10 ** (-38 + (37 * i) / 2000));
      const all = new Float32Array([...xs, ...tiny]);
      const got = unary(b, all, actOf(b, ACT.tanh));
      const want = Array.from(all, Math.tanh);
      const rel = worstErr(got, want, 0);
      const mixed = worstErr(got, want, 1e-7);
      expect(mixed.err, `worst at x=${all[mixed.at]}`).toBeLessThanOrEqual(TOL);
      expect(rel.err, `pure relative error, worst at x=${all[rel.at]}`).toBeLessThanOrEqual(TOL);
      console.log(`[${build}] tanh max relative error on [-10, 10] and tiny |x|: ${rel.err.toExponential(2)}`);
    });

    it("sigmoid and tanh saturate cleanly: exact 0/1/-1 at |x| = 1e4, no NaN or Inf for any finite input", () => {
      const b = backends[build];
      const xs = [1e4, -1e4, 88.8, -88.8, -104, 104, 3.4e38, -3.4e38, Infinity, -Infinity, NaN, 0, -0];
      const s = unary(b, xs, actOf(b, ACT.sigmoid));
      expect(Array.from(s)).toEqual([1, 0, 1, s[3], 0, 1, 1, 0, 1, 0, NaN, 0.5, 0.5]);
      const sub = 1 / (1 + Math.exp(Math.fround(88.8))); // 3.0e-39, subnormal: within one subnormal step
      expect(Math.abs(s[3] - sub)).toBeLessThanOrEqual(1.5e-45);
      const t = unary(b, xs, actOf(b, ACT.tanh));
      expect(Array.from(t)).toEqual([1, -1, 1, -1, -1, 1, 1, -1, 1, -1, NaN, 0, -0]);
      expect(Object.is(t[12], -0)).toBe(true);
      // Random finite bit patterns: every magnitude from subnormal to FLT_MAX.
      const r = rng(7);
      const bits = Uint32Array.from({ length: 100_000 }, () => Math.floor(r.uniform() * 2 ** 32));
      const f = new Float32Array(bits.buffer).filter(Number.isFinite);
      const sf = unary(b, f, actOf(b, ACT.sigmoid)), tf = unary(b, f, actOf(b, ACT.tanh));
      const bad: string[] = [];
      for (let i = 0; i < f.length; i++) {
        if (!(sf[i] >= 0 && sf[i] <= 1)) bad.push(`sigmoid(${f[i]}) = ${sf[i]}`);
        if (!(tf[i] >= -1 && tf[i] <= 1)) bad.push(`tanh(${f[i]}) = ${tf[i]}`);
      }
      expect(bad.slice(0, 5)).toEqual([]);
    });
  });
}

describe("the builds agree", () => {
  it("bit for bit on act_forward, act_backward, exp and mul (same operations in the same order)", () => {
    const r = rng(11);
    const n = 1003;
    const xs = r.array(n, 20), dys = r.array(n), mask = r.array(n);
    xs.set([NaN, Infinity, -Infinity, 88.8, -104, 1e-40, -0], 0);
    const outs = BUILDS.map((build) => {
      const b = backends[build];
      const res: Float32Array[] = [unary(b, xs, expOf(b))];
      for (const act of ACTS) {
        const ys = unary(b, xs, actOf(b, act));
        const dy = put(b, dys), y = put(b, ys), dx = b.heap.alloc(n * 4);
        b.kernels.act_backward(dx, dy, y, n, act);
        res.push(ys, get(b, dx, n));
      }
      const x = put(b, xs), m = put(b, mask), y = b.heap.alloc(n * 4);
      b.kernels.mul(y, x, m, n);
      res.push(get(b, y, n));
      return res;
    });
    for (let k = 1; k < outs.length; k++) outs[0].forEach((a, i) => expect(sameBits(a, outs[k][i]), `${BUILDS[k]} output ${i}`).toBe(true));
  });
});
