// The threaded backend: init({ threads }) and its fallback, the worker pool on one shared
// memory, and the split ops against one thread. GEMM and convolutions are split by output
// tiles (rows or columns of C, output pixels, images): every element is one sum in the same
// order, so 2 and 3 threads must agree with 1 thread bit for bit, over the MNIST MLP's shapes,
// the CIFAR Inception's channel counts and tail sizes (some smaller than the thread count).
// A convolution's filter gradient, a sum over pixels, is split by pixels into per-thread
// partials: within rounding of 1 thread (and of the float64 reference), the same bits on a
// rerun. The pools here split every call (minMacs 0), however small.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it, vi } from "vitest";
import { type Backend, createBackend } from "../src/backend.js";
import { conv2dBackwardFilter, conv2dBackwardInput, conv2dForward, convScratchBytes, type ConvGeometry, windowGeometry } from "../src/ops/conv.js";
import { linearBackwardInput, linearBackwardParams, linearForward } from "../src/ops/matmul.js";
import type { DataFormat } from "../src/ops/bn.js";
import { Tensor } from "../src/tensor.js";
import { CONV2D_FIELDS } from "../src/kernels.js";
import { expectClose, rng } from "./check.js";
import { refConv2dBackwardFilter } from "./reference/conv.js";
import { splittingBackends, THREAD_BUILD } from "./thread_backends.js";
import { CIFAR_INCEPTION_BN, MNIST_MLP, TAIL_SIZES } from "./shapes.js";

const build = THREAD_BUILD;
const backends = splittingBackends();

/** A tensor of `shape` on backend b holding `values` (or seeded uniform values in [-1, 1)). */
function filled(b: Backend, shape: number[], seed: number): Tensor {
  const t = new Tensor(b, shape);
  const r = rng(seed).uniform;
  const d = t.data;
  for (let i = 0; i < d.length; i++) d[i] = r() * 2 - 1;
  return t;
}

/** Bit patterns of a tensor's values: equal arrays mean bit-identical floats (NaN included). */
const bits = (t: Tensor): Uint32Array => new Uint32Array(Float32Array.from(t.data).buffer);

/** Runs `op` on every backend over the same seeded inputs; returns each backend's outputs. */
function onEveryBackend(op: (b: Backend) => Tensor[]): Map<number, Uint32Array[]> {
  const out = new Map<number, Uint32Array[]>();
  for (const [t, b] of backends) {
    const ts = op(b);
    out.set(t, ts.map(bits));
    for (const x of ts) x.dispose();
  }
  return out;
}

function expectSameBits(results: Map<number, Uint32Array[]>, what: string): void {
  const one = results.get(1)!;
  for (const [t, r] of results) {
    for (let i = 0; i < one.length; i++) {
      const a = one[i], b = r[i];
      let first = -1;
      for (let j = 0; j < a.length && first < 0; j++) if (a[j] !== b[j]) first = j;
      expect(first, `${what}: output ${i} with ${t} threads differs from 1 thread first at ${first}`).toBe(-1);
    }
  }
}

describe("init({ threads })", () => {
  it("threads: 1 (the default) loads the single-thread build and starts no worker", async () => {
    const b = await createBackend({ build });
    expect(b.pool).toBeNull();
    expect(b.info()).toMatchObject({ threads: 1, threadsRequested: 1, threadsFallback: null });
    expect(b.heap.memory.buffer).not.toBeInstanceOf(SharedArrayBuffer);
  });

  it("threads: 2 and 3 run that many threads on one shared memory; 'auto' asks for every core", async () => {
    expect(backends.get(2)!.info()).toMatchObject({ threads: 2, threadsRequested: 2, threadsFallback: null, build });
    expect(backends.get(3)!.info()).toMatchObject({ threads: 3, threadsRequested: 3, threadsFallback: null });
    expect(backends.get(2)!.heap.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    const { availableParallelism } = await import("node:os");
    const auto = await createBackend({ build, threads: "auto" });
    try {
      expect(auto.info().threadsRequested).toBe(availableParallelism());
      expect(auto.info().threads).toBe(availableParallelism() > 1 ? availableParallelism() : 1);
    } finally {
      auto.shutdown();
    }
  });

  it("falls back to one thread with the reason when SharedArrayBuffer is unavailable", async () => {
    vi.stubGlobal("SharedArrayBuffer", undefined);
    let b: Backend;
    try {
      b = await createBackend({ build, threads: 2 });
    } finally {
      vi.unstubAllGlobals();
    }
    expect(b.pool).toBeNull();
    expect(b.info().threads).toBe(1);
    expect(b.info().threadsRequested).toBe(2);
    expect(b.info().threadsFallback).toMatch(/SharedArrayBuffer is not available/);
  });

  it("falls back for the scalar build (no threaded variant) and rejects bad counts", async () => {
    const b = await createBackend({ build: "scalar", threads: 2 });
    expect(b.info().threads).toBe(1);
    expect(b.info().threadsFallback).toMatch(/scalar build/);
    for (const bad of [0, 1.5, -1, "all", 1000]) {
      await expect(createBackend({ build, threads: bad as number })).rejects.toThrow(/threads must be 'auto' or an integer/);
    }
  });

  it("a further instance on the shared memory changes no byte of it (its data segments are constant tables below the heap)", async () => {
    const b = backends.get(2)!;
    const x = filled(b, [1000], 7);
    const before = new Uint8Array(b.heap.memory.buffer).slice();
    const module = await WebAssembly.compile(await (await import("node:fs/promises")).readFile(new URL(`../build/bn.${build}-threads.wasm`, import.meta.url)));
    const again = new WebAssembly.Instance(module, { env: { memory: b.heap.memory } });
    const after = new Uint8Array(b.heap.memory.buffer);
    let changed = -1;
    for (let i = 0; i < before.length && changed < 0; i++) if (before[i] !== after[i]) changed = i;
    expect(changed).toBe(-1);
    // Its globals are its own: pointing its GEMM scratch elsewhere leaves the first instance's alone.
    (again.exports.gemm_set_scratch as (p: number) => void)(x.ptr);
    x.dispose();
  });

  it("a kernel that traps on another thread's part throws on the calling thread, naming it, and the pool keeps working", () => {
    const b = backends.get(2)!;
    const desc = new Tensor(b, [CONV2D_FIELDS.length]);
    desc.data.fill(0); // N = 0: every conv kernel traps on it
    // Parts that trap, whichever thread takes them (the caller or the worker): the error names the kernel.
    const bad = [0, 0, 0, 0, desc.ptr, 0, 1, 0];
    for (let i = 0; i < 20; i++) expect(() => b.pool!.run("conv2d_forward_nhwc", [bad, bad])).toThrow(/(worker thread|calling thread).*conv2d_forward_nhwc/);
    expect(() => b.pool!.run("gemm_f32", [[0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0]])).not.toThrow();
    desc.dispose();
  });
});

describe("GEMM split by output tiles: 1, 2, 3 threads bit-identical", () => {
  const [i0, h1] = MNIST_MLP.layers;
  const shapes: [M: number, N: number, K: number][] = [
    [MNIST_MLP.batch, h1, i0], // the MLP's first layer
    [MNIST_MLP.batch, MNIST_MLP.layers[4], MNIST_MLP.layers[3]],
    [1, 1, 1], [3, 5, 7], [2, 17, 9], [17, 1, 8], [9, 40, 3], [33, 65, 130],
  ];
  for (const [M, N, K] of shapes) {
    it(`y = act(x W^T + b), dx written and accumulated, dW and db accumulated: M=${M} N=${N} K=${K}`, () => {
      for (const act of ["none", "relu", "sigmoid"] as const) {
        const r = onEveryBackend((b) => {
          const x = filled(b, [M, K], 1), w = filled(b, [N, K], 2), bias = filled(b, [N], 3), y = new Tensor(b, [M, N]);
          linearForward(y, x, w, bias, act);
          const dy = filled(b, [M, N], 4), dx = new Tensor(b, [M, K]), dxAcc = filled(b, [M, K], 5);
          linearBackwardInput(dx, dy, w);
          linearBackwardInput(dxAcc, dy, w, true);
          const dw = filled(b, [N, K], 6), db = filled(b, [N], 7);
          linearBackwardParams(dw, db, dy, x);
          for (const t of [x, w, bias, dy]) t.dispose();
          return [y, dx, dxAcc, dw, db];
        });
        expectSameBits(r, `act ${act}`);
      }
    });
  }

  it("the 3-thread pool cut the calls into more parts than threads, and workers ran some of them", () => {
    const { runs, parts, byCaller } = backends.get(3)!.pool!.stats;
    expect(runs).toBeGreaterThan(0);
    expect(parts / runs).toBeGreaterThan(3);
    expect(parts - byCaller, "parts a worker ran").toBeGreaterThan(0);
  });

  it("two runs with the same thread count are bit-identical", () => {
    const b = backends.get(3)!;
    const runs = [0, 1].map(() => {
      const x = filled(b, [61, 93], 1), w = filled(b, [47, 93], 2), y = new Tensor(b, [61, 47]);
      linearForward(y, x, w, null);
      const out = bits(y);
      for (const t of [x, w, y]) t.dispose();
      return out;
    });
    expect(runs[1]).toEqual(runs[0]);
  });
});

interface ConvCase {
  shape: [N: number, H: number, W: number, C: number];
  OC: number;
  kernel: [number, number];
  stride?: [number, number];
  padding?: number | "same" | "valid";
}

// The CIFAR Inception's channel counts (test/shapes.ts) at small batches and sizes, and
// tails: one image (fewer than the threads: backward_input runs on one), fewer pixels than
// threads, 1 x 1 (a plain product), strides.
const [, c96, , , c80] = CIFAR_INCEPTION_BN.map((s) => s[1]);
const CONV_CASES: ConvCase[] = [
  { shape: [2, 8, 8, c96], OC: c80, kernel: [3, 3], padding: "same" },
  { shape: [3, 6, 6, c80], OC: 32, kernel: [1, 1] },
  { shape: [1, 9, 7, TAIL_SIZES[2]], OC: 24, kernel: [3, 3], padding: 1 },
  { shape: [3, 5, 5, TAIL_SIZES[1]], OC: TAIL_SIZES[4], kernel: [3, 3], padding: "same" },
  { shape: [2, 9, 8, TAIL_SIZES[3]], OC: TAIL_SIZES[7], kernel: [5, 5], stride: [2, 2], padding: 2 },
  { shape: [1, 1, 1, 1], OC: 1, kernel: [1, 1] },
];

function convGeomFor(c: ConvCase, dataFormat: DataFormat): ConvGeometry {
  const [N, H, W, C] = c.shape;
  const shape = dataFormat === "channelsLast" ? [N, H, W, C] : [N, C, H, W];
  const p = c.padding ?? 0;
  return windowGeometry({ toString: () => "conv" }, shape, dataFormat, { kernel: c.kernel, stride: c.stride ?? [1, 1], dilation: [1, 1], padding: [p, p] }, c.OC, null);
}

describe("convolutions split by output pixels and images (bit-identical), the filter gradient by pixels (within rounding): 1, 2, 3 threads", () => {
  for (const dataFormat of ["channelsLast", "channelsFirst"] as const) {
    for (const c of CONV_CASES) {
      const g0 = convGeomFor(c, dataFormat);
      it(`${dataFormat} N=${g0.N} ${g0.H}x${g0.W}x${g0.C} -> ${g0.OC} k=${g0.KH}x${g0.KW} s=${g0.SH}: forward, backward_input (written, accumulated), backward_filter (twice)`, () => {
        const g = convGeomFor(c, dataFormat);
        const xs = dataFormat === "channelsLast" ? [g.N, g.H, g.W, g.C] : [g.N, g.C, g.H, g.W];
        const ys = dataFormat === "channelsLast" ? [g.N, g.OH, g.OW, g.OC] : [g.N, g.OC, g.OH, g.OW];
        const ws = dataFormat === "channelsLast" ? [g.OC, g.KH, g.KW, g.C] : [g.OC, g.C, g.KH, g.KW];
        const grads = new Map<number, Uint32Array[][]>();
        const r = onEveryBackend((b) => {
          const desc = new Tensor(b, [CONV2D_FIELDS.length]);
          const scratch = new Tensor(b, [Math.max(4, Math.ceil(convScratchBytes(b, desc, g, dataFormat) / 4))]);
          const x = filled(b, xs, 1), w = filled(b, ws, 2), bias = filled(b, [g.OC], 3), y = new Tensor(b, ys);
          conv2dForward(y, x, w, bias, g, dataFormat, desc, scratch);
          const dy = filled(b, ys, 4), dx = new Tensor(b, xs), dxAcc = filled(b, xs, 5);
          conv2dBackwardInput(dx, dy, w, g, dataFormat, false, desc, scratch);
          conv2dBackwardInput(dxAcc, dy, w, g, dataFormat, true, desc, scratch);
          const runs = [0, 1].map(() => {
            const dw = filled(b, ws, 6), db = filled(b, [g.OC], 7);
            conv2dBackwardFilter(dw, db, dy, x, g, dataFormat, desc, scratch);
            const out = [bits(dw), bits(db)];
            dw.dispose();
            db.dispose();
            return out;
          });
          grads.set(b.pool?.threads ?? 1, runs);
          for (const t of [desc, scratch, x, w, bias, dy]) t.dispose();
          return [y, dx, dxAcc];
        });
        expectSameBits(r, dataFormat);
        const layout = dataFormat === "channelsLast" ? "nhwc" : "nchw";
        const f = (u: Uint32Array) => new Float32Array(u.buffer);
        const want = refConv2dBackwardFilter(f(bits1(ws, 6)), f(bits1([g.OC], 7)), f(bits1(ys, 4)), f(bits1(xs, 1)), g, layout);
        for (const [t, [first, second]] of grads) {
          expect(second, `dw, db: a second run with ${t} threads`).toEqual(first);
          expectClose(f(first[0]), want.dw, 1e-5, `dw with ${t} threads against the float64 reference`);
          expectClose(f(first[1]), want.db, 1e-5, `db with ${t} threads against the float64 reference`);
          expectClose(f(first[0]), f(grads.get(1)![0][0]), 1e-5, `dw with ${t} threads against 1 thread`);
        }
      });
    }
  }
});

/** The bits of filled()'s values for `shape` and `seed`, without a backend. */
function bits1(shape: number[], seed: number): Uint32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const r = rng(seed).uniform;
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = r() * 2 - 1;
  return new Uint32Array(v.buffer);
}

describe("training with threads", () => {
  it("a small Inception net (width 0.125, batch 4, SGD lr 0.01) trained 3 steps with 2 threads gives 1 thread's first loss within rounding and the next two within 2e-3 (max-pooling ties), and the same losses twice", async () => {
    const { init, inceptionCifar, CrossEntropyLoss, SGD, TrainStep, tensor, shutdown } = await import("../src/index.js");
    const losses: number[][] = [];
    for (const threads of [1, 2, 2]) {
      await init({ build, threads });
      const model = inceptionCifar({ width: 0.125, dataFormat: "channelsLast", seed: 3 });
      const step = new TrainStep(model, new CrossEntropyLoss(), new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 }));
      const r = rng(11).uniform;
      const x = tensor(Float32Array.from({ length: 4 * 32 * 32 * 3 }, () => r() * 2 - 1), [4, 32, 32, 3]);
      const labels = Int32Array.from([1, 7, 3, 9]);
      const run: number[] = [];
      for (let s = 0; s < 3; s++) run.push(step.run(x, labels));
      losses.push(run);
      x.dispose();
      model.dispose();
      shutdown();
    }
    // Batch Normalization's merged statistics and the filter gradients' per-thread partials
    // round differently from one thread: the first loss (the forward alone) agrees to
    // rounding. Later steps drift further: where a max-pooling window's two largest inputs are
    // equal within rounding, one more ulp can pick the other one and move that window's whole
    // gradient (this net at 3 threads moves 3 of 53,248 in its last two pools), and training
    // amplifies it. A wrong reduction is off by far more. A given thread count is reproducible.
    expect(losses[2]).toEqual(losses[1]);
    expect(Math.abs(losses[1][0] - losses[0][0]) / losses[0][0], "step 0").toBeLessThan(1e-6);
    for (let s = 1; s < 3; s++) expect(Math.abs(losses[1][s] - losses[0][s]) / losses[0][s], `step ${s}`).toBeLessThan(2e-3);
    expect(losses[1]).not.toEqual(losses[0]);
  });

  it("a Node process that trains with 2 threads and never calls shutdown() exits on its own", () => {
    const dir = mkdtempSync(join(tmpdir(), "bn-threads-"));
    try {
      const index = pathToFileURL(fileURLToPath(new URL("../src/index.ts", import.meta.url))).href;
      const script = join(dir, "train.mts");
      writeFileSync(script, [
        `import { init, backendInfo, Sequential, Conv2d, BatchNorm2d, ReLU, Flatten, Dense, CrossEntropyLoss, SGD, TrainStep, tensor } from ${JSON.stringify(index)};`,
        `await init({ threads: 2 });`,
        `const m = new Sequential([new Conv2d(3, 16, 3, { padding: "same", dataFormat: "channelsLast" }), new BatchNorm2d(16, { dataFormat: "channelsLast" }), new ReLU(), new Flatten(), new Dense(16 * 8 * 8, 10)]);`,
        `const step = new TrainStep(m, new CrossEntropyLoss(), new SGD(m.parameters(), { lr: 0.01 }));`,
        `const x = tensor(Float32Array.from({ length: 8 * 8 * 8 * 3 }, (_, i) => Math.sin(i)), [8, 8, 8, 3]);`,
        `let loss = 0;`,
        `for (let i = 0; i < 3; i++) loss = step.run(x, Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7]));`,
        `console.log(JSON.stringify({ threads: backendInfo().threads, loss }));`,
      ].join("\n"));
      const TSX = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
      const t0 = Date.now();
      const res = spawnSync(process.execPath, [...process.execArgv.filter((a) => a.startsWith("--experimental-wasm")), "--import", TSX, script], { encoding: "utf8", timeout: 60_000 });
      expect(res.error, res.stderr).toBeUndefined();
      expect(res.status, res.stderr).toBe(0);
      const out = JSON.parse(res.stdout.trim().split("\n").pop()!) as { threads: number; loss: number };
      expect(out.threads).toBe(2);
      expect(Number.isFinite(out.loss)).toBe(true);
      expect(Date.now() - t0).toBeLessThan(60_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
