// npm run bench -- gemm [--quick] [--only=<part of a case label>]
//
// The dense-layer products of assembly/gemm.ts on the MNIST MLP's shapes (test/shapes.ts
// MNIST_MLP: batch 60, 784-100-100-100-10) and on 512^3, as GFLOP/s and as a share of the
// f32x4 multiply-add peak timed with every case (bench/harness/roofline.ts; wasm SIMD has no
// FMA, so the peak is of mul + add pairs, the pair a wasm SIMD GEMM issues per multiply-add).
// Builds: simd, scalar, and relaxed (fused multiply-add) where the engine runs it.
// Peer: @tensorflow/tfjs on its wasm backend, tf.matMul with the transposes the product needs
// (transposeB for Y = X W^T, transposeA for dW = dY^T X). tfjs-backend-wasm sends only
// transpose-free products to XNNPACK (batch_mat_mul_impl.cc) and the rest to a scalar blocked
// loop, so the same products are also timed with the operand pre-transposed outside the timed
// call ("tfjs-wasm xnn"): XNNPACK's fully-connected operator, which tfjs caches per weight
// tensor, so its weight packing is paid once, not per call (our kernels pack per call). The
// ratio column compares against the faster of the two. tfjs 4.22's fused matMul with
// transposeB and a bias gets the bias wrong (its scalar path indexes the bias by the flat
// output index): the check reports it and it is not timed.
// Our kernels run on buffers already in wasm memory (nothing is copied in a timed call);
// tfjs calls end with dataSync (a copy of the small output) and dispose. GFLOP/s, % of peak
// and ratios use the CPU-time medians (the machine is shared). bench/results/gemm.json.
import * as tf from "@tensorflow/tfjs";
import { type Backend, type BuildName, createBackend, relaxedSimdSupported } from "../src/index.js";
import { refBiasBackward, refGemmNN, refGemmNT, refGemmTNAcc } from "../test/reference/gemm.js";
import { MNIST_MLP } from "../test/shapes.js";
import { type Context, fmt, gflops, keep, median, peakOf, peakTasks, rng, runSuite, table, type Task, timeGroup, type Timing, transpose, WasmArrays } from "./harness/index.js";

const TOL_LIB = 1e-5;
const TOL_TFJS = 1e-4;
/** Calls are repeated inside one sample until it lasts this long (timer resolution). */
const MIN_SAMPLE_MS = 1;

type Op = "nt" | "nt_bias_relu" | "nn" | "tn_acc" | "bias_acc";

interface Case {
  label: string;
  op: Op;
  M: number;
  N: number;
  K: number;
}

const OP_NAME: Record<Op, string> = {
  nt: "gemm_nt       Y = X W^T",
  nt_bias_relu: "gemm_nt       Y = relu(X W^T + b)",
  nn: "gemm_nn       dX = dY W",
  tn_acc: "gemm_tn_acc   dW += dY^T X",
  bias_acc: "bias_backward db += sum dY",
};

function mlpCases(): Case[] {
  const out: Case[] = [];
  const B = MNIST_MLP.batch;
  const seen = new Set<string>();
  MNIST_MLP.layers.slice(1).forEach((N, l) => {
    const K = MNIST_MLP.layers[l];
    const key = `${N}x${K}`;
    if (seen.has(key)) return;
    seen.add(key);
    const tag = `${B}x${K}->${N}`;
    out.push({ label: `${tag} fwd`, op: "nt", M: B, N, K });
    if (l === 0) out.push({ label: `${tag} fwd+b+relu`, op: "nt_bias_relu", M: B, N, K });
    out.push({ label: `${tag} bwd dX`, op: "nn", M: B, N, K });
    out.push({ label: `${tag} bwd dW`, op: "tn_acc", M: B, N, K });
    if (l === 0) out.push({ label: `${tag} bwd db`, op: "bias_acc", M: B, N, K: 1 });
  });
  return out;
}

const CASES: Case[] = [
  ...mlpCases(),
  { label: "512^3 fwd", op: "nt", M: 512, N: 512, K: 512 },
  { label: "512^3 bwd dX", op: "nn", M: 512, N: 512, K: 512 },
  { label: "512^3 bwd dW", op: "tn_acc", M: 512, N: 512, K: 512 },
];

function flops(c: Case): number {
  return c.op === "bias_acc" ? c.M * c.N : 2 * c.M * c.N * c.K;
}

interface Data {
  x: Float32Array;
  w: Float32Array;
  b: Float32Array;
  dy: Float32Array;
  dw0: Float32Array;
  db0: Float32Array;
}

function makeData(c: Case, seed: number): Data {
  const r = rng(seed);
  const { M, N, K } = c;
  return { x: r.array(M * K), w: r.array(N * K, 1 / Math.sqrt(K)), b: r.array(N, 0.1), dy: r.array(M * N), dw0: r.array(N * K, 0.01), db0: r.array(N, 0.01) };
}

/** The float64 result of one call (accumulating ops from dw0 / db0) and of the bare product. */
function reference(c: Case, d: Data): { acc: Float64Array; bare: Float64Array } {
  const { M, N, K } = c;
  switch (c.op) {
    case "nt":
    case "nt_bias_relu": {
      const y = c.op === "nt" ? refGemmNT(d.x, d.w, null, M, N, K, 0) : refGemmNT(d.x, d.w, d.b, M, N, K, 1);
      return { acc: y, bare: y };
    }
    case "nn": {
      const dx = refGemmNN(d.dy, d.w, M, N, K);
      return { acc: dx, bare: dx };
    }
    case "tn_acc":
      return { acc: refGemmTNAcc(d.dw0, d.dy, d.x, M, N, K), bare: refGemmTNAcc(null, d.dy, d.x, M, N, K) };
    case "bias_acc":
      return { acc: refBiasBackward(d.db0, d.dy, M, N), bare: refBiasBackward(null, d.dy, M, N) };
  }
}

interface Variant {
  name: string;
  fn: () => void;
  relErr: number;
  dispose(): void;
}

function libVariant(ctx: Context, be: Backend, c: Case, d: Data, ref: { acc: Float64Array }): Variant {
  const kk = be.kernels;
  const mem = new WasmArrays(be.heap);
  const { M, N, K } = c;
  const px = mem.put(d.x), pw = mem.put(d.w), pb = mem.put(d.b), pdy = mem.put(d.dy);
  let out: number, n: number, fn: () => void;
  switch (c.op) {
    case "nt":
    case "nt_bias_relu": {
      const bias = c.op === "nt" ? 0 : pb, act = c.op === "nt" ? 0 : 1;
      out = mem.alloc((n = M * N));
      fn = () => kk.gemm_nt(out, px, pw, bias, M, N, K, act);
      break;
    }
    case "nn":
      out = mem.alloc((n = M * K));
      fn = () => kk.gemm_nn(out, pdy, pw, M, N, K);
      break;
    case "tn_acc":
      out = mem.put(d.dw0);
      n = N * K;
      fn = () => kk.gemm_tn_acc(out, pdy, px, M, N, K);
      break;
    case "bias_acc":
      out = mem.put(d.db0);
      n = N;
      fn = () => kk.bias_backward_acc(out, pdy, M, N);
      break;
  }
  const name = `wasm-${be.build}`;
  fn();
  const e = ctx.check.require(name, c.label, `${c.op} output`, mem.view(out, n), ref.acc, TOL_LIB);
  return { name, fn, relErr: e, dispose: () => mem.dispose() };
}

/** tfjs-wasm: `xnn` pre-transposes the operand that tfjs would otherwise read transposed. */
function tfVariant(ctx: Context, c: Case, d: Data, ref: { bare: Float64Array }, xnn: boolean): Variant | null {
  const { M, N, K } = c;
  const keepT: tf.Tensor[] = [];
  const t = <T extends tf.Tensor>(x: T): T => (keepT.push(x), x);
  let op: () => tf.Tensor;
  switch (c.op) {
    case "nt": {
      const x = t(tf.tensor2d(d.x, [M, K]));
      if (xnn) {
        const wT = t(tf.tensor2d(transpose(d.w, N, K), [K, N]));
        op = () => tf.matMul(x, wT);
      } else {
        const w = t(tf.tensor2d(d.w, [N, K]));
        op = () => tf.matMul(x, w, false, true);
      }
      break;
    }
    case "nt_bias_relu": {
      const x = t(tf.tensor2d(d.x, [M, K])), b = t(tf.tensor1d(d.b));
      const w = xnn ? t(tf.tensor2d(transpose(d.w, N, K), [K, N])) : t(tf.tensor2d(d.w, [N, K]));
      op = () => tf.fused.matMul({ a: x, b: w, transposeB: !xnn, bias: b, activation: "relu" });
      break;
    }
    case "nn": {
      if (xnn) return null; // already transpose-free: tf.matMul(dy, w) is the XNNPACK path
      const dy = t(tf.tensor2d(d.dy, [M, N])), w = t(tf.tensor2d(d.w, [N, K]));
      op = () => tf.matMul(dy, w);
      break;
    }
    case "tn_acc": {
      const x = t(tf.tensor2d(d.x, [M, K]));
      if (xnn) {
        const dyT = t(tf.tensor2d(transpose(d.dy, M, N), [N, M]));
        op = () => tf.matMul(dyT, x);
      } else {
        const dy = t(tf.tensor2d(d.dy, [M, N]));
        op = () => tf.matMul(dy, x, true, false);
      }
      break;
    }
    case "bias_acc": {
      if (xnn) return null;
      const dy = t(tf.tensor2d(d.dy, [M, N]));
      op = () => tf.sum(dy, 0);
      break;
    }
  }
  const name = xnn ? "tfjs-wasm xnn" : "tfjs-wasm";
  const y0 = op();
  const got = y0.dataSync();
  y0.dispose();
  if (!ctx.check.accept(name, c.label, `${c.op} output`, got, ref.bare, TOL_TFJS)) {
    keepT.forEach((x) => x.dispose());
    return null;
  }
  const fn = () => {
    const y = op();
    keep(y.dataSync()[0]);
    y.dispose();
  };
  return { name, fn, relErr: ctx.check.errors[c.label][name][`${c.op} output`], dispose: () => keepT.forEach((x) => x.dispose()) };
}

interface CaseResult extends Case {
  flops: number;
  /** The fastest peak loop, timed with this case (CPU time). */
  peakGflops: number;
  peakLoops: Record<string, number>;
  timings: (Timing & { variant: string; gflops: number; relErr: number })[];
}

await runSuite({
  name: "gemm",
  title: "gemm bench",
  results: "gemm",
  reference: "test/reference/gemm.ts",
  fix: "npx vitest run test/gemm.test.ts",
  async run(ctx) {
    const budget = { time: ctx.quick ? 150 : 500, warmupTime: ctx.quick ? 50 : 150, iterations: 10, warmupIterations: 3 };
    const backends = {} as Record<BuildName, Backend>;
    // The relaxed build (fused multiply-add) where the engine runs it; the targets below are
    // the SIMD build's, against the mul+add peak loop it is made of.
    const extra: BuildName[] = relaxedSimdSupported() ? ["relaxed"] : [];
    for (const b of ["simd", "scalar", ...extra] as BuildName[]) {
      backends[b] = await createBackend({ build: b });
      if (backends[b].build !== b) throw new Error(`bench: asked for the ${b} build, got ${backends[b].build}`);
    }
    const useTfjs = (await ctx.peers.useTf("wasm")) !== null;
    const peak = await peakTasks();

    const results: CaseResult[] = [];
    for (const [ci, c] of ctx.select(CASES).entries()) {
      const d = makeData(c, 1 + ci);
      const ref = reference(c, d);
      const variants: Variant[] = [libVariant(ctx, backends.simd, c, d, ref), libVariant(ctx, backends.scalar, c, d, ref), ...extra.map((b) => libVariant(ctx, backends[b], c, d, ref))];
      if (useTfjs) {
        for (const xnn of [false, true]) {
          const v = tfVariant(ctx, c, d, ref, xnn);
          if (v) variants.push(v);
        }
      }
      const tasks: Task[] = [...peak, ...variants.map((v) => ({ name: v.name, fn: v.fn }))];
      const t = await timeGroup(tasks, { budget, minSampleMs: MIN_SAMPLE_MS });
      variants.forEach((v) => v.dispose());
      const pk = peakOf(peak, t, "cpu");
      const f = flops(c);
      const timings = variants.map((v) => ({ variant: v.name, ...t.get(v.name)!, gflops: gflops(f, t.get(v.name)!.cpuMs), relErr: v.relErr }));
      results.push({ ...c, flops: f, peakGflops: pk.gflops, peakLoops: pk.loops, timings });
      const ours = timings[0];
      ctx.log(`  ${c.label.padEnd(22)} ${c.op.padEnd(13)} wall ${fmt(ours.ms, 4)} ms, cpu ${fmt(ours.cpuMs, 4)} ms, ${fmt(ours.gflops, 2)} GFLOP/s (peak ${fmt(pk.gflops, 1)})`);
    }

    // One peak for the whole run: the median of the per-case measurements.
    const peaks = results.map((r) => r.peakGflops).sort((a, b) => a - b);
    const peakGflops = median(peaks);
    const loopMedians = Object.keys(results[0]?.peakLoops ?? {}).map((n) => `${n} ${fmt(median(results.map((r) => r.peakLoops[n])), 1)}`).join(", ");
    ctx.log(`\nf32x4 mul+add peak: ${fmt(peakGflops, 1)} GFLOP/s (median over cases of the fastest loop; per case ${fmt(peaks[0], 1)}..${fmt(peaks[peaks.length - 1], 1)}; loop medians: ${loopMedians})\n`);
    const rows: string[][] = [];
    for (const r of results) {
      const tfBest = Math.min(...r.timings.filter((t) => t.variant.startsWith("tfjs")).map((t) => t.cpuMs));
      const ours = r.timings.find((t) => t.variant === "wasm-simd")!.cpuMs;
      for (const t of r.timings) {
        rows.push([
          r.label,
          OP_NAME[r.op],
          String(r.M),
          String(r.N),
          r.op === "bias_acc" ? "-" : String(r.K),
          t.variant,
          fmt(t.ms, 4),
          fmt(t.cpuMs, 4),
          fmt(t.gflops, 2),
          r.op !== "bias_acc" ? fmt((100 * t.gflops) / peakGflops, 1) : "-",
          t.variant === "wasm-simd" ? (Number.isFinite(tfBest) ? `${fmt(tfBest / ours, 2)}x` : "-") : t.variant.startsWith("tfjs") ? `${fmt(t.cpuMs / ours, 2)}x` : "",
        ]);
      }
    }
    ctx.log(table(["case", "kernel", "M", "N", "K", "variant", "wall ms", "cpu ms", "GFLOP/s", "% peak", "tfjs/ours"], rows, { group: true }));
    ctx.log("\nwall ms / cpu ms: medians per call of the wall clock and of this process's CPU time over the same samples.");
    ctx.log("GFLOP/s, % peak (of the f32x4 mul+add loop) and tfjs/ours use the CPU-time medians, which a loaded machine");
    ctx.log("does not inflate. tfjs/ours > 1: ours is faster; on the wasm-simd row, against the faster tfjs variant.\n");

    // Targets: 60% of the peak on 512^3, no slower than tfjs-wasm on the MLP's shapes.
    const targets: Record<string, string> = {};
    for (const r of results) {
      const ours = r.timings.find((t) => t.variant === "wasm-simd")!;
      const tfs = r.timings.filter((t) => t.variant.startsWith("tfjs"));
      const best = Math.min(...tfs.map((t) => t.cpuMs));
      const bestWall = Math.min(...tfs.map((t) => t.ms));
      if (r.M === 512) {
        const wallPct = (100 * gflops(r.flops, ours.ms)) / peakGflops;
        targets[r.label] = `${fmt((100 * ours.gflops) / peakGflops, 1)}% of peak (wall clock: ${fmt(wallPct, 1)}%; target >= 60%): ${ours.gflops / peakGflops >= 0.6 ? "met" : "NOT met"}`;
      } else if (tfs.length) {
        targets[r.label] = `${fmt(best / ours.cpuMs, 2)}x tfjs-wasm (wall clock: ${fmt(bestWall / ours.ms, 2)}x; target >= 1): ${best >= ours.cpuMs ? "met" : "NOT met"}`;
      }
      if (targets[r.label]) ctx.log(`  ${r.label.padEnd(22)} ${targets[r.label]}`);
    }
    return {
      peak: { source: "bench/peak/peak.ts: the fastest of peak_chains, peak_tile, peak_indep (f32x4.mul + f32x4.add pairs)", gflops: peakGflops, perCase: peaks },
      targets,
      cases: results,
    };
  },
});
