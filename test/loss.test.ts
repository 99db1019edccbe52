// softmax_xent_forward / softmax_xent_backward (assembly/loss.ts) against the float64
// references on both builds: shapes with SIMD tails, a case worked by hand, logits of 1e4,
// bad labels, in-place use, finite differences of the loss, SIMD/scalar agreement.
import { beforeAll, describe, expect, it } from "vitest";
import { type Backend, type BuildName, createBackend } from "../src/backend.js";
import { BUILDS, expectClose, get, maxRelErr, put, putI32, rng } from "./check.js";
import { refSoftmaxXentBackward, refSoftmaxXentForward } from "./reference/loss.js";
import { MNIST_MLP, TAIL_SIZES } from "./shapes.js";

const backends = {} as Record<BuildName, Backend>;
beforeAll(async () => {
  for (const build of BUILDS) backends[build] = (await createBackend({ build }));
});

/** Forward then backward in fresh memory; returns probs, loss and dlogits. */
function xent(b: Backend, logits: ArrayLike<number>, labels: ArrayLike<number>, M: number, N: number) {
  const x = put(b, logits), l = putI32(b, labels), p = b.heap.alloc(M * N * 4), d = b.heap.alloc(M * N * 4);
  const loss = b.kernels.softmax_xent_forward(p, x, l, M, N);
  b.kernels.softmax_xent_backward(d, p, l, M, N);
  const out = { probs: get(b, p, M * N), loss, dlogits: get(b, d, M * N) };
  for (const q of [x, l, p, d]) b.heap.release(q);
  return out;
}

function randomCase(seed: number, M: number, N: number, scale = 3, offset = 0) {
  const r = rng(seed);
  const logits = r.array(M * N, scale, offset);
  const labels = Int32Array.from({ length: M }, () => Math.floor(r.uniform() * N));
  return { logits, labels };
}

// Elementwise relative error of probabilities and gradients (measured: 1.6e-7).
const PROB_TOL = 5e-7;
const SHAPES: [number, number][] = [];
for (const M of [1, 3, MNIST_MLP.batch]) for (const N of [...TAIL_SIZES, 10, 1000]) SHAPES.push([M, N]);

for (const build of BUILDS) {
  describe(`${build} build`, () => {
    it("a case worked by hand: logits [[0, ln 3], [2, 2]], labels [1, 0]", () => {
      // Row 0: softmax = [1, 3] / 4, loss = ln(4) - ln(3) = 0.28768207245178085.
      // Row 1: softmax = [0.5, 0.5], loss = ln(2) = 0.6931471805599453. Mean: 0.4904146265058631.
      // dlogits = (probs - onehot) / 2 = [[0.125, -0.125], [-0.25, 0.25]].
      const got = xent(backends[build], [0, Math.log(3), 2, 2], [1, 0], 2, 2);
      expect(got.loss).toBeCloseTo(0.4904146265058631, 7);
      expectClose(got.probs, [0.25, 0.75, 0.5, 0.5], 1e-6, "probs");
      expectClose(got.dlogits, [0.125, -0.125, -0.25, 0.25], 1e-6, "dlogits");
    });

    it(`forward and backward match the reference, M x N over ${SHAPES.length} shapes`, () => {
      const b = backends[build];
      for (const [M, N] of SHAPES) {
        const { logits, labels } = randomCase(M * 1000 + N, M, N);
        const want = refSoftmaxXentForward(logits, labels, M, N);
        const got = xent(b, logits, labels, M, N);
        expect(Math.abs(got.loss - want.loss) / Math.max(1, want.loss), `loss, ${M}x${N}`).toBeLessThanOrEqual(1e-8);
        expect(maxRelErr(got.probs, want.probs), `probs, ${M}x${N}`).toBeLessThanOrEqual(PROB_TOL);
        // The backward from the kernel's own (float32) probs.
        const wantD = refSoftmaxXentBackward(got.probs, labels, M, N);
        expect(maxRelErr(got.dlogits, wantD), `dlogits, ${M}x${N}`).toBeLessThanOrEqual(PROB_TOL);
      }
    });

    it("stable for logits of 1e4: finite loss equal to the reference, rows summing to 1", () => {
      const b = backends[build];
      for (const [M, N] of [[4, 10], [3, 17], [2, 1000]]) {
        const { logits, labels } = randomCase(7 + N, M, N, 5, 1e4);
        logits[0] = 1e4 + 100; // one dominant class in row 0
        logits[N] = -1e4; // a very unlikely one in row 1
        const want = refSoftmaxXentForward(logits, labels, M, N);
        const got = xent(b, logits, labels, M, N);
        expect(Number.isFinite(got.loss)).toBe(true);
        expect(Math.abs(got.loss - want.loss) / Math.max(1, want.loss), `loss, ${M}x${N}`).toBeLessThanOrEqual(1e-8);
        expect(maxRelErr(got.probs, want.probs, 1e-30), `probs, ${M}x${N}`).toBeLessThanOrEqual(PROB_TOL);
        for (let r = 0; r < M; r++) {
          let s = 0;
          for (let j = 0; j < N; j++) s += got.probs[r * N + j];
          expect(Math.abs(s - 1), `row ${r}`).toBeLessThanOrEqual(1e-6);
        }
      }
      // Equal logits of -1e4 and 1e4: loss ln(N) exactly, probs 1/N.
      const eq = xent(b, [1e4, 1e4, 1e4, -1e4, -1e4, -1e4], [2, 0], 2, 3);
      expect(eq.loss).toBeCloseTo(Math.log(3), 12);
      expectClose(eq.probs, new Array(6).fill(1 / 3), 1e-7, "probs");
      // A label with probability ~e^-2e4: the loss is the logit gap, not Inf.
      const far = xent(b, [1e4, -1e4], [1], 1, 2);
      expect(far.loss).toBe(2e4);
      expect(Array.from(far.probs)).toEqual([1, 0]);
      // -Inf logits (masked classes): probability 0, finite loss, no NaN.
      const masked = xent(b, [-Infinity, 0, Math.log(3), -Infinity], [2], 1, 4);
      expect(masked.loss).toBeCloseTo(Math.log(4 / 3), 7);
      expectClose(masked.probs, [0, 0.25, 0.75, 0], 1e-6, "probs with -Inf logits");
    });

    it("N = 1: probability 1, loss 0, zero gradient", () => {
      const got = xent(backends[build], [3, -7, 1e4], [0, 0, 0], 3, 1);
      expect(got.loss).toBe(0);
      expect(Array.from(got.probs)).toEqual([1, 1, 1]);
      expect(Array.from(got.dlogits)).toEqual([0, 0, 0]);
    });

    it("a label outside [0, N) gives a NaN loss and reads nothing out of bounds", () => {
      const b = backends[build];
      const { logits } = randomCase(5, 3, 4);
      for (const bad of [-1, 4, 1 << 30]) {
        const got = xent(b, logits, [0, bad, 3], 3, 4);
        expect(got.loss).toBeNaN();
        const want = refSoftmaxXentForward(logits, [0, 0, 3], 3, 4);
        expect(maxRelErr(got.probs, want.probs)).toBeLessThanOrEqual(1e-6); // probs still written
        expect(maxRelErr(got.dlogits.slice(4, 8), Array.from(got.probs.slice(4, 8), (p) => p / 3))).toBeLessThanOrEqual(2.5e-7);
      }
    });

    it("in place: probs over logits, dlogits over probs", () => {
      const b = backends[build];
      const M = 5, N = 9;
      const { logits, labels } = randomCase(9, M, N);
      const want = xent(b, logits, labels, M, N);
      const x = put(b, logits), l = putI32(b, labels);
      const loss = b.kernels.softmax_xent_forward(x, x, l, M, N);
      expect(loss).toBe(want.loss);
      expect(Array.from(get(b, x, M * N))).toEqual(Array.from(want.probs));
      b.kernels.softmax_xent_backward(x, x, l, M, N);
      expect(Array.from(get(b, x, M * N))).toEqual(Array.from(want.dlogits));
    });

    it("the gradient matches central differences of the loss (reference and kernel)", () => {
      const b = backends[build];
      const M = 3, N = 5;
      const { logits, labels } = randomCase(31, M, N, 2);
      const ref = refSoftmaxXentForward(logits, labels, M, N);
      const analytic = refSoftmaxXentBackward(ref.probs, labels, M, N);
      const kernel = xent(b, logits, labels, M, N).dlogits;
      // float64 reference, h = 1e-5: checks the formula (probs - onehot) / M itself.
      const fd64 = new Float64Array(M * N);
      for (let i = 0; i < M * N; i++) {
        const up = Float64Array.from(logits), dn = Float64Array.from(logits);
        up[i] += 1e-5;
        dn[i] -= 1e-5;
        fd64[i] = (refSoftmaxXentForward(up, labels, M, N).loss - refSoftmaxXentForward(dn, labels, M, N).loss) / 2e-5;
      }
      expectClose(analytic, fd64, 1e-8, "reference gradient vs finite differences");
      // The kernel's own loss, float32 logits, h = 1/64 (exact steps in float32).
      const fd32 = new Float64Array(M * N);
      for (let i = 0; i < M * N; i++) {
        const up = Float32Array.from(logits), dn = Float32Array.from(logits);
        up[i] += 1 / 64;
        dn[i] -= 1 / 64;
        fd32[i] = (xent(b, up, labels, M, N).loss - xent(b, dn, labels, M, N).loss) / (up[i] - dn[i]);
      }
      expectClose(kernel, fd32, 2e-4, "kernel gradient vs finite differences of the kernel loss");
    });
  });
}

describe("every build agrees with the scalar one", () => {
  it("on probs, loss and dlogits", () => {
    for (const [M, N] of [[60, 10], [7, 1000], [5, 7]]) {
      const { logits, labels } = randomCase(77 + N, M, N, 4);
      const outs = BUILDS.map((build) => xent(backends[build], logits, labels, M, N));
      const c = outs[outs.length - 1]; // the scalar build
      for (const s of outs.slice(0, -1)) {
        expect(Math.abs(s.loss - c.loss) / c.loss, `loss ${M}x${N}`).toBeLessThanOrEqual(1e-12);
        expect(maxRelErr(s.probs, c.probs), `probs ${M}x${N}`).toBeLessThanOrEqual(2.5e-7);
        expect(maxRelErr(s.dlogits, c.dlogits), `dlogits ${M}x${N}`).toBeLessThanOrEqual(2.5e-7);
      }
    }
  });
});
