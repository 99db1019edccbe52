// The matrix products (assembly/gemm.ts) against their float64 references
// (test/reference/gemm.ts), in every build: tails around the 4 x 8 register tile, K past
// one cache block, M past one row block, the MNIST MLP's shapes, accumulation into
// non-zero gradients, no writes outside the output, and SIMD/scalar parity. The general
// gemm_f32 also with leading dimensions past the row width (NaN in the gaps of A and B,
// canaries in the gaps of C), both transposes, write and accumulate.
import { beforeAll, describe, expect, it } from "vitest";
import { createBackend, type Backend, type BuildName } from "../src/backend.js";
import { BUILDS, expectClose, rng } from "./check.js";
import { refBiasBackward, refGemm, refGemmNN, refGemmNT, refGemmTNAcc } from "./reference/gemm.js";
import { MNIST_MLP, TAIL_SIZES } from "./shapes.js";

const TOL = 1e-5;
const GUARD = 8; // floats before and after every output that must stay untouched
const CANARY = 12345.5;

type Mnk = [M: number, N: number, K: number];

/** The MLP's layers (784-100-100-100-10 at batch 60) as (M, N = out, K = in). */
const MLP_SHAPES: Mnk[] = MNIST_MLP.layers.slice(1).map((out, l) => [MNIST_MLP.batch, out, MNIST_MLP.layers[l]]);

/** K past one 256-deep block (even split), M past one 256-row block, odd edges everywhere. */
const BIG_SHAPES: Mnk[] = [[512, 64, 300], [261, 13, 513], [520, 37, 11], [5, 9, 257], [1, 1, 1000], [300, 17, 3], [64, 64, 64]];

const TAIL_SWEEP: Mnk[] = TAIL_SIZES.flatMap((M) => TAIL_SIZES.flatMap((N) => TAIL_SIZES.map((K): Mnk => [M, N, K])));

/** Buffers in wasm memory, written and read through fresh views (memory growth detaches them). */
class Bufs {
  private readonly ptrs: number[] = [];
  constructor(private readonly be: Backend) {}
  /** data, with `guard` canary floats before and after it; returns the pointer to data. */
  put(data: ArrayLike<number>, guard = 0): number {
    const base = this.be.heap.alloc((data.length + 2 * guard) * 4);
    this.ptrs.push(base);
    const p = base + guard * 4; // GUARD = 8 floats keeps p 16-byte aligned
    const f = this.be.heap.f32;
    f.fill(CANARY, base >> 2, p >> 2);
    f.set(data, p >> 2);
    f.fill(CANARY, (p >> 2) + data.length, (p >> 2) + data.length + guard);
    return p;
  }
  /** An output of n floats (filled with `fill`, NaN by default: a kernel that writes must overwrite it) between guards. */
  out(n: number, fill: ArrayLike<number> | number = NaN): number {
    const data = typeof fill === "number" ? new Float32Array(n).fill(fill) : fill;
    return this.put(data, GUARD);
  }
  get(p: number, n: number): Float32Array {
    return this.be.heap.f32.slice(p >> 2, (p >> 2) + n);
  }
  /** The output, after checking that the guards on both sides still hold the canary. */
  result(p: number, n: number, what: string): Float32Array {
    const g = this.get(p - GUARD * 4, n + 2 * GUARD);
    for (let i = 0; i < g.length; i++) {
      if ((i < GUARD || i >= GUARD + n) && g[i] !== CANARY) expect.fail(`${what}: wrote outside the output (at ${i - GUARD} of ${n})`);
    }
    return g.subarray(GUARD, GUARD + n);
  }
  free(): void {
    for (const p of this.ptrs) this.be.heap.release(p);
    this.ptrs.length = 0;
  }
}


interface Outputs {
  y: Float32Array;
  dx: Float32Array;
  dw: Float32Array;
  db: Float32Array;
}

/** Runs all four kernels on one shape and checks them against the references; returns the outputs. */
function checkShape(be: Backend, [M, N, K]: Mnk, seed: number, act: number, bias: boolean): Outputs {
  const r = rng(seed);
  // W at the scale of a trained layer (std 1/sqrt(K)), so pre-activations are O(1) and
  // sigmoid / tanh are not all saturated.
  const x = r.array(M * K), w = r.array(N * K, 1 / Math.sqrt(Math.max(K, 1))), b = r.array(N, 0.1), dy = r.array(M * N);
  const dw0 = r.array(N * K), db0 = r.array(N);
  const k = be.kernels;
  const bufs = new Bufs(be);
  const tag = `${be.build} M=${M} N=${N} K=${K}`;
  try {
    const px = bufs.put(x), pw = bufs.put(w), pb = bufs.put(b), pdy = bufs.put(dy);
    const py = bufs.out(M * N), pdx = bufs.out(M * K), pdw = bufs.out(N * K, dw0), pdb = bufs.out(N, db0);
    k.gemm_nt(py, px, pw, bias ? pb : 0, M, N, K, act);
    k.gemm_nn(pdx, pdy, pw, M, N, K);
    k.gemm_tn_acc(pdw, pdy, px, M, N, K);
    k.bias_backward_acc(pdb, pdy, M, N);
    const out: Outputs = {
      y: bufs.result(py, M * N, `gemm_nt ${tag}`),
      dx: bufs.result(pdx, M * K, `gemm_nn ${tag}`),
      dw: bufs.result(pdw, N * K, `gemm_tn_acc ${tag}`),
      db: bufs.result(pdb, N, `bias_backward_acc ${tag}`),
    };
    expectClose(out.y, refGemmNT(x, w, bias ? b : null, M, N, K, act), TOL, `gemm_nt act=${act} bias=${bias} ${tag}`);
    expectClose(out.dx, refGemmNN(dy, w, M, N, K), TOL, `gemm_nn ${tag}`);
    expectClose(out.dw, refGemmTNAcc(dw0, dy, x, M, N, K), TOL, `gemm_tn_acc ${tag}`);
    expectClose(out.db, refBiasBackward(db0, dy, M, N), TOL, `bias_backward_acc ${tag}`);
    return out;
  } finally {
    bufs.free();
  }
}

interface General {
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
  accumulate: boolean;
  bias: boolean;
  act: number;
  /** Floats between the end of a row and the start of the next, in A, B and C. */
  gaps: [a: number, b: number, c: number];
}

/** A rows x cols matrix stored with row stride cols + gap, NaN in the gaps (a kernel that reads them poisons C). */
function strided(values: Float32Array, rows: number, cols: number, gap: number): Float32Array {
  const ld = cols + gap;
  const out = new Float32Array(Math.max(rows * ld, 1)).fill(NaN);
  for (let i = 0; i < rows; i++) out.set(values.subarray(i * cols, (i + 1) * cols), i * ld);
  return out;
}

/** Runs gemm_f32 on one case and checks it against refGemm; returns C (dense [M,N]). */
function checkGeneral(be: Backend, g: General, seed: number): Float32Array {
  const { M, N, K, transA, transB, accumulate, bias, act, gaps } = g;
  const r = rng(seed);
  const a = r.array(M * K), b = r.array(K * N, 1 / Math.sqrt(Math.max(K, 1))), bv = r.array(N, 0.1), c0 = r.array(M * N);
  const [aRows, aCols] = transA ? [K, M] : [M, K];
  const [bRows, bCols] = transB ? [N, K] : [K, N];
  const lda = aCols + gaps[0], ldb = bCols + gaps[1], ldc = N + gaps[2];
  const cInit = new Float32Array(M * ldc).fill(CANARY);
  for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) cInit[i * ldc + j] = accumulate ? c0[i * N + j] : NaN;
  const bufs = new Bufs(be);
  const tag = `${be.build} M=${M} N=${N} K=${K} transA=${+transA} transB=${+transB} acc=${+accumulate} bias=${bias} act=${act} ld=${lda},${ldb},${ldc}`;
  try {
    const pa = bufs.put(strided(a, aRows, aCols, gaps[0])), pb = bufs.put(strided(b, bRows, bCols, gaps[1]));
    const pbias = bufs.put(bv), pc = bufs.out(M * ldc, cInit);
    be.kernels.gemm_f32(pc, ldc, pa, lda, +transA, pb, ldb, +transB, bias ? pbias : 0, M, N, K, +accumulate, act);
    const got = bufs.result(pc, M * ldc, `gemm_f32 ${tag}`);
    const dense = new Float32Array(M * N);
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < ldc; j++) {
        if (j < N) dense[i * N + j] = got[i * ldc + j];
        else if (got[i * ldc + j] !== CANARY) expect.fail(`gemm_f32 ${tag}: wrote into the gap of row ${i} (column ${j})`);
      }
    }
    const want = refGemm(accumulate ? c0 : null, a, aCols, transA, b, bCols, transB, bias ? bv : null, M, N, K, act);
    expectClose(dense, want, TOL, `gemm_f32 ${tag}`);
    return dense;
  } finally {
    bufs.free();
  }
}

/** The sweep: every (M, N, K) of the tails, both transposes, write and accumulate, gaps and bias varied. */
function generalSweep(): General[] {
  const out: General[] = [];
  let i = 0;
  for (const M of TAIL_SIZES) {
    for (const N of TAIL_SIZES) {
      for (const K of TAIL_SIZES) {
        for (let t = 0; t < 8; t++, i++) {
          out.push({
            M, N, K, transA: (t & 1) === 1, transB: (t & 2) === 2, accumulate: (t & 4) === 4,
            bias: i % 3 === 0, act: i % 5 === 0 ? 1 : 0, gaps: [i % 4, (i >> 2) % 5, 1 + (i % 3)],
          });
        }
      }
    }
  }
  return out;
}

/** Past one K block, one row block and one B panel, with odd gaps. */
const GENERAL_BIG: [M: number, N: number, K: number][] = [[300, 70, 513], [64, 200, 300], [261, 13, 257], [17, 129, 1000]];

const builds: BuildName[] = BUILDS;
const backends = {} as Record<BuildName, Backend>;

beforeAll(async () => {
  for (const b of builds) backends[b] = await createBackend({ build: b });
});

describe.each(builds)("gemm kernels, %s build", (build) => {
  it("loads the requested build", () => {
    expect(backends[build].build).toBe(build);
  });

  it("match the reference on every (M, N, K) in the tail sweep {1,3,4,5,7,8,9,17}^3, every act, with and without bias", () => {
    TAIL_SWEEP.forEach((s, i) => {
      for (let act = 0; act < 4; act++) checkShape(backends[build], s, 1000 + i, act, (i + act) % 2 === 0);
    });
  });

  it.each(MLP_SHAPES)("match the reference on the MLP layer M=%i N=%i K=%i (forward and backward products)", (M, N, K) => {
    for (let act = 0; act < 4; act++) checkShape(backends[build], [M, N, K], 7 + act, act, true);
  });

  it.each(BIG_SHAPES)("match the reference past one cache block: M=%i N=%i K=%i", (M, N, K) => {
    checkShape(backends[build], [M, N, K], 99, 1, true);
  });

  it("handle K = 0: Y = act(b), nothing written to the empty dX and dW", () => {
    const be = backends[build], k = be.kernels, bufs = new Bufs(be);
    const [M, N] = [5, 9];
    const b = rng(3).array(N);
    try {
      const pb = bufs.put(b), pdy = bufs.put(rng(5).array(M * N)), px = bufs.put([0]), pw = bufs.put([0]);
      const py = bufs.out(M * N), pdx = bufs.out(0), pdw = bufs.out(0);
      k.gemm_nt(py, px, pw, pb, M, N, 0, 3);
      k.gemm_nn(pdx, pdy, pw, M, N, 0);
      k.gemm_tn_acc(pdw, pdy, px, M, N, 0);
      expectClose(bufs.result(py, M * N, "gemm_nt K=0"), refGemmNT([], [], b, M, N, 0, 3), TOL, "gemm_nt K=0");
      bufs.result(pdx, 0, "gemm_nn K=0");
      bufs.result(pdw, 0, "gemm_tn_acc K=0");
    } finally {
      bufs.free();
    }
  });

  it("gemm_f32 matches the reference over the tail sweep {1,3,4,5,7,8,9,17}^3, both transposes, write and accumulate, with gaps between rows", () => {
    generalSweep().forEach((g, i) => checkGeneral(backends[build], g, 2000 + i));
  });

  it.each(GENERAL_BIG)("gemm_f32 matches the reference past one cache block: M=%i N=%i K=%i, every transpose and mode", (M, N, K) => {
    for (let t = 0; t < 8; t++) {
      checkGeneral(backends[build], {
        M, N, K, transA: (t & 1) === 1, transB: (t & 2) === 2, accumulate: (t & 4) === 4,
        bias: t % 3 === 0, act: t === 5 ? 3 : t % 2, gaps: [3 + t, 5, 7 - (t % 2)],
      }, 77 + t);
    }
  });

  it("gemm_f32 with K = 0 gives act(C + bias) or act(bias); traps on bad flags and short leading dimensions", () => {
    for (const accumulate of [false, true]) {
      checkGeneral(backends[build], { M: 5, N: 9, K: 0, transA: false, transB: true, accumulate, bias: true, act: 3, gaps: [0, 0, 2] }, 5);
    }
    const be = backends[build], k = be.kernels, bufs = new Bufs(be);
    try {
      const pa = bufs.put(new Float32Array(64)), pb = bufs.put(new Float32Array(64)), pc = bufs.out(64, 0);
      expect(() => k.gemm_f32(pc, 4, pa, 4, 0, pb, 4, 0, 0, 4, 4, 4, 0, 0)).not.toThrow();
      expect(() => k.gemm_f32(pc, 4, pa, 4, 2, pb, 4, 0, 0, 4, 4, 4, 0, 0)).toThrow(WebAssembly.RuntimeError);
      expect(() => k.gemm_f32(pc, 4, pa, 4, 0, pb, 4, -1, 0, 4, 4, 4, 0, 0)).toThrow(WebAssembly.RuntimeError);
      expect(() => k.gemm_f32(pc, 4, pa, 4, 0, pb, 4, 0, 0, 4, 4, 4, 2, 0)).toThrow(WebAssembly.RuntimeError);
      expect(() => k.gemm_f32(pc, 4, pa, 4, 0, pb, 4, 0, 0, 4, 4, 4, 0, 4)).toThrow(WebAssembly.RuntimeError);
      expect(() => k.gemm_f32(pc, 3, pa, 4, 0, pb, 4, 0, 0, 4, 4, 4, 0, 0)).toThrow(WebAssembly.RuntimeError);
      expect(() => k.gemm_f32(pc, 4, pa, 3, 0, pb, 4, 0, 0, 4, 4, 4, 0, 0)).toThrow(WebAssembly.RuntimeError);
      expect(() => k.gemm_f32(pc, 4, pa, 4, 0, pb, 3, 1, 0, 4, 4, 4, 0, 0)).toThrow(WebAssembly.RuntimeError);
    } finally {
      bufs.free();
    }
  });

  it("gemm_nt traps on an unknown act code", () => {
    const be = backends[build], k = be.kernels, bufs = new Bufs(be);
    try {
      const px = bufs.put([1, 2]), pw = bufs.put([3, 4]), py = bufs.out(1);
      expect(() => k.gemm_nt(py, px, pw, 0, 1, 1, 2, 4)).toThrow(WebAssembly.RuntimeError);
      expect(() => k.gemm_nt(py, px, pw, 0, 1, 1, 2, -1)).toThrow(WebAssembly.RuntimeError);
    } finally {
      bufs.free();
    }
  });

  it("accumulate: a second gemm_tn_acc / bias_backward_acc call adds the same product again", () => {
    const be = backends[build], k = be.kernels, bufs = new Bufs(be);
    const [M, N, K] = [60, 100, 784];
    const r = rng(11);
    const dy = r.array(M * N), x = r.array(M * K), dw0 = r.array(N * K), db0 = r.array(N);
    try {
      const pdy = bufs.put(dy), px = bufs.put(x), pdw = bufs.out(N * K, dw0), pdb = bufs.out(N, db0);
      for (let rep = 0; rep < 2; rep++) {
        k.gemm_tn_acc(pdw, pdy, px, M, N, K);
        k.bias_backward_acc(pdb, pdy, M, N);
      }
      const once = refGemmTNAcc(null, dy, x, M, N, K), dbOnce = refBiasBackward(null, dy, M, N);
      expectClose(bufs.result(pdw, N * K, "dw"), dw0.map((v, i) => v + 2 * once[i]), TOL, `gemm_tn_acc twice ${build}`);
      expectClose(bufs.result(pdb, N, "db"), db0.map((v, i) => v + 2 * dbOnce[i]), TOL, `bias_backward_acc twice ${build}`);
    } finally {
      bufs.free();
    }
  });
});

describe("SIMD and scalar builds agree", () => {
  // Both builds sum every element in the same order (bias first, then p = 0..K-1 in the
  // same K blocks), so they agree bit for bit, not just within tolerance.
  it.each([...MLP_SHAPES, [17, 9, 5], [261, 13, 513]] as Mnk[])("bit for bit on M=%i N=%i K=%i", (M, N, K) => {
    for (let act = 0; act < 4; act++) {
      const simd = checkShape(backends.simd, [M, N, K], 42 + act, act, true);
      const scalar = checkShape(backends.scalar, [M, N, K], 42 + act, act, true);
      for (const key of ["y", "dx", "dw", "db"] as const) {
        expect(Buffer.from(simd[key].buffer, simd[key].byteOffset, simd[key].byteLength).equals(
          Buffer.from(scalar[key].buffer, scalar[key].byteOffset, scalar[key].byteLength)), `${key} act=${act}`).toBe(true);
      }
    }
  });
  it.each([[17, 9, 5], [261, 13, 513], [64, 200, 300]] as Mnk[])("bit for bit on gemm_f32 M=%i N=%i K=%i, every transpose, write and accumulate", (M, N, K) => {
    for (let t = 0; t < 8; t++) {
      const g: General = { M, N, K, transA: (t & 1) === 1, transB: (t & 2) === 2, accumulate: (t & 4) === 4, bias: true, act: 0, gaps: [1, 2, 3] };
      const simd = checkGeneral(backends.simd, g, 300 + t), scalar = checkGeneral(backends.scalar, g, 300 + t);
      expect(Buffer.from(simd.buffer).equals(Buffer.from(scalar.buffer)), `t=${t}`).toBe(true);
    }
  });
});

describe("per-instance scratch (for a threaded build sharing one memory)", () => {
  it("gives the same results bit for bit with the scratch moved into the heap, and back", () => {
    const be = backends.simd;
    const k = be.kernels;
    const shape: Mnk = [261, 13, 513];
    const before = checkShape(be, shape, 5, 1, true);
    const scratch = be.heap.alloc(k.gemm_scratch_bytes());
    be.heap.f32.fill(NaN, scratch >>> 2, (scratch + k.gemm_scratch_bytes()) >>> 2);
    k.gemm_set_scratch(scratch);
    try {
      const moved = checkShape(be, shape, 5, 1, true);
      for (const key of ["y", "dx", "dw", "db"] as const) expect(Array.from(moved[key])).toEqual(Array.from(before[key]));
    } finally {
      k.gemm_set_scratch(0);
      be.heap.release(scratch);
    }
    expect(k.gemm_scratch_bytes()).toBeGreaterThan(8192);
  });
});
