// npm run bench -- threads [--quick] [--only=<part of a case label>]
//
// Scaling of the split ops (src/ops/matmul.ts, src/ops/conv.ts over src/threads/pool.ts) from
// 1 to 2 threads, both backends timed in the same group (rounds interleave them): GEMM 512^3
// and the MNIST MLP's first layer, the CIFAR Inception's convolutions (batch 32, NHWC)
// forward and backward, and a sweep of square products around the crossover below which an op
// stays on the calling thread (PARALLEL_MIN_MACS: the sweep's pool splits every call). Wall
// clock: the process's CPU time sums over its threads. Every 2-thread output is first checked
// bit for bit against the 1-thread one, and the forwards against the float64 reference.
// bench/results/threads.json.
import { type Backend, bestBuild, createBackend } from "../src/backend.js";
import { CONV2D_FIELDS } from "../src/kernels.js";
import { conv2dBackwardFilter, conv2dBackwardInput, conv2dForward, type ConvGeometry, convScratchBytes } from "../src/ops/conv.js";
import { linearBackwardInput, linearBackwardParams, linearForward } from "../src/ops/matmul.js";
import { Tensor } from "../src/tensor.js";
import { PARALLEL_MIN_MACS } from "../src/threads/pool.js";
import { refConv2dForwardAt, convGeom } from "../test/reference/conv.js";
import { refGemmNT } from "../test/reference/gemm.js";
import { MNIST_MLP } from "../test/shapes.js";
import { type Context, fmt, fmtMs, fmtX, ratio, rng, runSuite, table, type Task, timeGroup } from "./harness/index.js";

interface Case {
  label: string;
  /** Multiply-adds per call. */
  macs: number;
  /** Sets up the call on backend b; returns it and its outputs. */
  make(b: Backend): { fn: () => void; outputs: Tensor[]; dispose(): void };
  /** Checks the 1-thread forward output against the float64 reference (null: not a forward). */
  check?: (ctx: Context, out: Tensor) => void;
}

function filled(b: Backend, shape: number[], seed: number, scale = 1): Tensor {
  const t = new Tensor(b, shape);
  t.data.set(rng(seed).array(t.size, scale));
  return t;
}

function gemmCase(label: string, op: "fwd" | "dX" | "dW", M: number, N: number, K: number): Case {
  return {
    label: `gemm ${label} ${op}`,
    macs: M * N * K,
    make(b) {
      const x = filled(b, [M, K], 1), w = filled(b, [N, K], 2, 1 / Math.sqrt(K)), dy = filled(b, [M, N], 3);
      const out = op === "fwd" ? new Tensor(b, [M, N]) : op === "dX" ? new Tensor(b, [M, K]) : filled(b, [N, K], 4, 0.01);
      const fn = op === "fwd" ? () => linearForward(out, x, w, null) : op === "dX" ? () => linearBackwardInput(out, dy, w) : () => linearBackwardParams(out, null, dy, x);
      return { fn, outputs: [out], dispose: () => [x, w, dy, out].forEach((t) => t.dispose()) };
    },
    check: op === "fwd" ? (ctx, out) => {
      const d = { x: rng(1).array(M * K), w: rng(2).array(N * K, 1 / Math.sqrt(K)) };
      ctx.check.require("2 threads", `gemm ${label}`, "y", out.data, refGemmNT(d.x, d.w, null, M, N, K, 0), 1e-5);
    } : undefined,
  };
}

function convCase(label: string, shape: [number, number, number, number], OC: number, k: number, op: "fwd" | "bwd"): Case {
  const g: ConvGeometry = convGeom(shape, OC, [k, k], { padding: "same" });
  const xs = [g.N, g.H, g.W, g.C], ys = [g.N, g.OH, g.OW, g.OC], ws = [g.OC, k, k, g.C];
  return {
    label: `conv ${label} ${op}`,
    macs: g.N * g.OH * g.OW * k * k * g.C * g.OC * (op === "fwd" ? 1 : 2),
    make(b) {
      const desc = new Tensor(b, [CONV2D_FIELDS.length]);
      const scratch = new Tensor(b, [Math.ceil(convScratchBytes(b, desc, g, "channelsLast") / 4)]);
      const x = filled(b, xs, 1), w = filled(b, ws, 2, 1 / Math.sqrt(k * k * g.C)), dy = filled(b, ys, 3);
      const y = new Tensor(b, ys), dx = new Tensor(b, xs), dw = filled(b, ws, 4, 0.01);
      const fn = op === "fwd"
        ? () => conv2dForward(y, x, w, null, g, "channelsLast", desc, scratch)
        : () => {
          conv2dBackwardInput(dx, dy, w, g, "channelsLast", false, desc, scratch);
          conv2dBackwardFilter(dw, null, dy, x, g, "channelsLast", desc, scratch);
        };
      return { fn, outputs: op === "fwd" ? [y] : [dx, dw], dispose: () => [desc, scratch, x, w, dy, y, dx, dw].forEach((t) => t.dispose()) };
    },
    check: op === "fwd" ? (ctx, out) => {
      const x = rng(1).array(xs.reduce((a, b) => a * b)), w = rng(2).array(ws.reduce((a, b) => a * b), 1 / Math.sqrt(k * k * g.C));
      const r = rng(9), got: number[] = [], want: number[] = [];
      for (let i = 0; i < 2000; i++) {
        const n = Math.floor(r.uniform() * g.N), oc = Math.floor(r.uniform() * g.OC), oh = Math.floor(r.uniform() * g.OH), ow = Math.floor(r.uniform() * g.OW);
        got.push(out.data[((n * g.OH + oh) * g.OW + ow) * g.OC + oc]);
        want.push(refConv2dForwardAt(x, w, null, g, "nhwc", n, oc, oh, ow));
      }
      ctx.check.require("2 threads", `conv ${label}`, "y (2,000 sampled outputs)", got, want, 1e-5);
    } : undefined,
  };
}

const B = MNIST_MLP.batch;
const CASES: Case[] = [
  gemmCase("512^3", "fwd", 512, 512, 512),
  gemmCase("512^3", "dX", 512, 512, 512),
  gemmCase("512^3", "dW", 512, 512, 512),
  gemmCase(`${B}x784->100`, "fwd", B, 100, 784),
  gemmCase(`${B}x784->100`, "dW", B, 100, 784),
  convCase("32x32x32x96 1x1->64", [32, 32, 32, 96], 64, 1, "fwd"),
  convCase("32x32x32x96 1x1->64", [32, 32, 32, 96], 64, 1, "bwd"),
  convCase("32x16x16x80 3x3->112", [32, 16, 16, 80], 112, 3, "fwd"),
  convCase("32x16x16x80 3x3->112", [32, 16, 16, 80], 112, 3, "bwd"),
  convCase("32x8x8x176 3x3->96", [32, 8, 8, 176], 96, 3, "fwd"),
  convCase("32x8x8x176 3x3->96", [32, 8, 8, 176], 96, 3, "bwd"),
];
const SWEEP = [24, 32, 48, 64, 80, 96, 128].map((n) => gemmCase(`${n}^3 (split always)`, "fwd", n, n, n));

await runSuite({
  name: "threads",
  title: "threads bench",
  results: "threads",
  reference: "test/reference/gemm.ts, test/reference/conv.ts",
  fix: "npx vitest run test/threads.test.ts",
  async run(ctx) {
    const build = bestBuild();
    const one = await createBackend({ build, threads: 1 });
    const two = await createBackend({ build, threads: 2 });
    const always = await createBackend({ build, threads: 2 });
    if (!two.pool || !always.pool) throw new Error(`bench: no thread pool (${two.info().threadsFallback})`);
    always.pool.minMacs = 0;
    const budget = { time: ctx.quick ? 200 : 800, warmupTime: 100, iterations: 5, warmupIterations: 2 };
    const rows: string[][] = [];
    const results: Record<string, unknown> = {};
    const groups: [Case[], Backend][] = [[ctx.select(CASES), two], [SWEEP.filter((c) => !ctx.only || c.label.includes(ctx.only)), always]];
    for (const [cases, multi] of groups) {
      for (const c of cases) {
        const a = c.make(one), b = c.make(multi);
        a.fn();
        b.fn();
        for (let i = 0; i < a.outputs.length; i++) {
          const x = a.outputs[i].data, y = b.outputs[i].data;
          let diff = 0;
          for (let j = 0; j < x.length; j++) if (!Object.is(x[j], y[j])) diff++;
          ctx.check.requireError("2 threads", c.label, `output ${i} against 1 thread (differing floats)`, diff, 0);
        }
        c.check?.(ctx, b.outputs[0]);
        // Re-run the accumulating outputs from where they are: the timing does not depend on their values.
        const tasks: Task[] = [{ name: "1 thread", fn: a.fn }, { name: "2 threads", fn: b.fn }];
        const t = await timeGroup(tasks, { budget, rounds: ctx.quick ? 1 : 3, minSampleMs: 2 });
        const t1 = t.get("1 thread")!, t2 = t.get("2 threads")!;
        const speedup = ratio(t1, t2, "wall");
        rows.push([c.label, fmt(c.macs / 1e6, 4), fmtMs(t1.ms), fmtMs(t2.ms), fmtX(speedup)]);
        results[c.label] = { macs: c.macs, oneThread: t1, twoThreads: t2, speedup };
        a.dispose();
        b.dispose();
      }
    }
    ctx.log(`build ${one.build}; split from ${PARALLEL_MIN_MACS} multiply-adds (the sweep splits every call)`);
    ctx.log(table(["case", "M MACs", "1 thread", "2 threads", "speedup (wall)"], rows));
    two.shutdown();
    always.shutdown();
    return { build: one.build, parallelMinMacs: PARALLEL_MIN_MACS, cases: results };
  },
});
