// npx tsx bench/gemm.bench.ts [--quick] [--only=<substring of a case label>]
//
// The dense-layer products of assembly/gemm.ts (tinybench; not timed tests) on the MNIST
// MLP's shapes (test/shapes.ts MNIST_MLP: batch 60, 784-100-100-100-10) and on 512^3,
// against, in the same run:
//   - peak: the f32x4 multiply-add peak, the fastest of three loops of bench/peak/peak.ts
//     (compiled here with asc) that issue only f32x4.mul + f32x4.add pairs, the pair a wasm
//     SIMD GEMM issues per multiply-add (wasm SIMD has no FMA): 12 independent chains
//     acc = acc*s + t; the 4 x 8 register tile with its operands pinned in L1; 10
//     accumulators of loop-carried products. % of peak = GFLOP/s / that peak.
//   - tfjs-wasm: @tensorflow/tfjs 4.22 on its wasm backend (SIMD, single-threaded in
//     Node), tf.matMul with the transposes the product needs (transposeB for Y = X W^T,
//     transposeA for dW = dY^T X). tfjs-backend-wasm sends only transpose-free products
//     to XNNPACK (batch_mat_mul_impl.cc) and the rest to a scalar blocked loop, so we also
//     time the same products with the operand pre-transposed outside the timed call
//     ("tfjs-wasm xnn"): XNNPACK's fully-connected operator, which tfjs caches per weight
//     tensor, so its weight packing is paid once, not per call (our kernels pack per call).
//     The ratio column compares against the faster of the two.
// Our kernels run on buffers already in wasm memory (nothing is copied in a timed call);
// tfjs calls end with dataSync (a copy of the small output) and dispose.
// Every variant is checked against test/reference_gemm.ts (float64) before it is timed: one
// of ours that disagrees aborts the run; a tfjs one is reported and not timed (tfjs 4.22's
// fused matMul with transposeB and a bias gets the bias wrong: its scalar path indexes the
// bias by the flat output index). Median ms per call, by the wall clock and by the process's
// CPU time (the machine is shared); writes bench/results/gemm.json.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { Bench } from "tinybench";
import { type Backend, type BuildName, createBackend, relaxedSimdSupported } from "../src/backend.js";
import type { MlpKernels } from "../src/kernels.js";
import { relErr, rng } from "../test/check.js";
import { refBiasBackward, refGemmNN, refGemmNT, refGemmTNAcc } from "../test/reference/gemm.js";
import { MNIST_MLP } from "../test/shapes.js";

// ---------------------------------------------------------------- options

const argv = process.argv.slice(2);
const QUICK = argv.includes("--quick");
const ONLY = argv.find((a) => a.startsWith("--only="))?.slice("--only=".length);

const TOL_LIB = 1e-5;
const TOL_TFJS = 1e-4;
const BUDGET = { time: QUICK ? 150 : 500, warmupTime: QUICK ? 50 : 150, iterations: 10, warmupIterations: 3 };
/** Calls are repeated inside one sample until it lasts this long (timer resolution). */
const MIN_SAMPLE_MS = 1;

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const PEAK_SRC = "bench/peak/peak.ts";
const PEAK_WASM = "build/peak.wasm";
const RESULTS = new URL("./results/gemm.json", import.meta.url);

// ---------------------------------------------------------------- cases

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

const BIG: Case[] = [
  { label: "512^3 fwd", op: "nt", M: 512, N: 512, K: 512 },
  { label: "512^3 bwd dX", op: "nn", M: 512, N: 512, K: 512 },
  { label: "512^3 bwd dW", op: "tn_acc", M: 512, N: 512, K: 512 },
];

const CASES: Case[] = [
  ...mlpCases(),
  ...BIG,
].filter((c) => !ONLY || c.label.includes(ONLY));

const flopsOf = (c: Case): number => flops(c);

function flops(c: Case): number {
  return c.op === "bias_acc" ? c.M * c.N : 2 * c.M * c.N * c.K;
}

// ---------------------------------------------------------------- helpers

class Refusal extends Error {}

function log(msg = ""): void {
  process.stdout.write(msg + "\n");
}

/** Throws (the run aborts) when one of our kernels disagrees with the float64 reference. */
function check(variant: string, c: Case, got: ArrayLike<number>, want: ArrayLike<number>, tol: number): number {
  const e = relErr(got, want);
  if (!(e <= tol)) {
    throw new Refusal(
      `bench: REFUSING to time ${variant} on ${c.label} (${c.op}): it disagrees with test/reference_gemm.ts ` +
        `(normwise relative error ${e.toExponential(2)} > ${tol}). Fix the kernel (npx vitest run test/gemm.test.ts) first.`,
    );
  }
  return e;
}

/** tfjs variants that disagree with the reference are reported and skipped, not timed. */
const skipped: { case: string; variant: string; relErr: number }[] = [];

function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(a.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j];
  return t;
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
  return {
    x: r.array(M * K),
    w: r.array(N * K, 1 / Math.sqrt(K)),
    b: r.array(N, 0.1),
    dy: r.array(M * N),
    dw0: r.array(N * K, 0.01),
    db0: r.array(N, 0.01),
  };
}

/** The float64 result of one call (accumulating ops from dw0 / db0) and of the bare product. */
function reference(c: Case, d: Data): { acc: Float64Array; bare: Float64Array } {
  const { M, N, K } = c;
  switch (c.op) {
    case "nt": {
      const y = refGemmNT(d.x, d.w, null, M, N, K, 0);
      return { acc: y, bare: y };
    }
    case "nt_bias_relu": {
      const y = refGemmNT(d.x, d.w, d.b, M, N, K, 1);
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

// ---------------------------------------------------------------- variants

interface Variant {
  name: string;
  fn: () => void;
  relErr: number;
  dispose(): void;
}

function libVariant(be: Backend, c: Case, d: Data, ref: { acc: Float64Array }): Variant {
  const kk: MlpKernels = be.kernels;
  const h = be.heap;
  const ptrs: number[] = [];
  const put = (a: Float32Array): number => {
    const p = h.alloc(a.length * 4);
    ptrs.push(p);
    h.f32.set(a, p >> 2);
    return p;
  };
  const { M, N, K } = c;
  const px = put(d.x), pw = put(d.w), pb = put(d.b), pdy = put(d.dy);
  let out: number, n: number, fn: () => void;
  switch (c.op) {
    case "nt":
    case "nt_bias_relu": {
      const bias = c.op === "nt" ? 0 : pb, act = c.op === "nt" ? 0 : 1;
      out = put(new Float32Array(M * N).fill(NaN));
      n = M * N;
      fn = () => kk.gemm_nt(out, px, pw, bias, M, N, K, act);
      break;
    }
    case "nn":
      out = put(new Float32Array(M * K).fill(NaN));
      n = M * K;
      fn = () => kk.gemm_nn(out, pdy, pw, M, N, K);
      break;
    case "tn_acc":
      out = put(d.dw0);
      n = N * K;
      fn = () => kk.gemm_tn_acc(out, pdy, px, M, N, K);
      break;
    case "bias_acc":
      out = put(d.db0);
      n = N;
      fn = () => kk.bias_backward_acc(out, pdy, M, N);
      break;
  }
  const name = `wasm-${be.build}`;
  fn();
  const e = check(name, c, h.f32.subarray(out >> 2, (out >> 2) + n), ref.acc, TOL_LIB);
  return { name, fn, relErr: e, dispose: () => ptrs.forEach((p) => h.release(p)) };
}

let tfSink = 0;

/** tfjs-wasm: `xnn` pre-transposes the operand that tfjs would otherwise read transposed. */
function tfVariant(c: Case, d: Data, ref: { bare: Float64Array }, xnn: boolean): Variant | null {
  const { M, N, K } = c;
  const keep: tf.Tensor[] = [];
  const t = <T extends tf.Tensor>(x: T): T => (keep.push(x), x);
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
  const e = relErr(y0.dataSync(), ref.bare);
  y0.dispose();
  if (!(e <= TOL_TFJS)) {
    log(`  ${c.label}: NOT timing ${name}: it disagrees with test/reference_gemm.ts (normwise relative error ${e.toExponential(2)} > ${TOL_TFJS})`);
    skipped.push({ case: c.label, variant: name, relErr: e });
    keep.forEach((x) => x.dispose());
    return null;
  }
  const fn = () => {
    const y = op();
    tfSink += y.dataSync()[0];
    y.dispose();
  };
  return { name, fn, relErr: e, dispose: () => keep.forEach((x) => x.dispose()) };
}

// ---------------------------------------------------------------- peak

interface PeakModule {
  peak_chains(iters: number, s: number, t: number): number;
  peak_tile(iters: number): number;
  peak_indep(iters: number, s: number): number;
}

function compilePeak(): PeakModule {
  // bench/peak/asconfig.json keeps the project's asconfig.json (its entries, its imported
  // memory) out of this build.
  execFileSync(
    "npx",
    ["asc", PEAK_SRC, "--config", "bench/peak/asconfig.json", "-o", PEAK_WASM, "--enable", "simd", "-O3", "--runtime", "stub"],
    { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] },
  );
  const mod = new WebAssembly.Module(readFileSync(new URL(`../${PEAK_WASM}`, import.meta.url)));
  return new WebAssembly.Instance(mod, { env: { abort: () => {} } }).exports as unknown as PeakModule;
}

let peakSink = 0;

/** The peak loops of bench/peak/peak.ts, ~0.25 ms a call; the peak is the fastest of them. */
function peakTasks(pk: PeakModule): { name: string; fn: () => void; flops: number; relErr: number }[] {
  const it = { chains: 100_000, tile: 150_000, indep: 120_000 };
  return [
    { name: "peak chains", fn: () => void (peakSink += pk.peak_chains(it.chains, 0.999, 0.001)), flops: it.chains * 12 * 8, relErr: 0 },
    { name: "peak tile", fn: () => void (peakSink += pk.peak_tile(it.tile)), flops: it.tile * 8 * 8, relErr: 0 },
    { name: "peak indep", fn: () => void (peakSink += pk.peak_indep(it.indep, 0.5)), flops: it.indep * 10 * 8, relErr: 0 },
  ];
}

// ---------------------------------------------------------------- timing

interface Timing {
  variant: string;
  /** Wall-clock median per call (tinybench's p50). */
  medianMs: number;
  /** Median per call of this process's CPU time (process.cpuUsage) over the same samples. */
  cpuMedianMs: number;
  minMs: number;
  samples: number;
  /** From the CPU-time median. */
  gflops: number;
  relErr: number;
}

/** Calls per sample so that a sample lasts about MIN_SAMPLE_MS. */
function repsFor(fn: () => void): number {
  fn();
  let reps = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    const dt = performance.now() - t0;
    if (dt >= MIN_SAMPLE_MS / 4 || reps >= 1 << 16) return Math.max(1, Math.ceil((reps * MIN_SAMPLE_MS) / Math.max(dt, 1e-3)));
    reps *= 4;
  }
}

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Times every task with tinybench (wall clock) and, over the same samples, with the
 * process's CPU time: on a shared machine with more runnable processes than cores, the
 * wall clock also counts the time this process waits descheduled; its CPU time does not.
 */
async function timeAll(tasks: { name: string; fn: () => void; flops: number; relErr: number }[]): Promise<Timing[]> {
  const bench = new Bench({ ...BUDGET, throws: true });
  const reps = new Map<string, number>();
  const cpu = new Map<string, number[]>();
  for (const t of tasks) {
    const r = repsFor(t.fn);
    const c: number[] = [];
    reps.set(t.name, r);
    cpu.set(t.name, c);
    bench.add(t.name, () => {
      const c0 = process.cpuUsage();
      for (let i = 0; i < r; i++) t.fn();
      const u = process.cpuUsage(c0);
      c.push((u.user + u.system) / 1000 / r);
    });
  }
  await bench.run();
  return tasks.map((t) => {
    const task = bench.getTask(t.name);
    const res = task?.result;
    if (!res || !("latency" in res)) throw new Error(`bench: task ${t.name} did not complete (${res?.state})`);
    const r = reps.get(t.name)!;
    const n = res.latency.samplesCount;
    const cpuMedianMs = median(cpu.get(t.name)!.slice(-n)); // the last n: after the warmup samples
    return {
      variant: t.name,
      medianMs: res.latency.p50 / r,
      cpuMedianMs,
      minMs: res.latency.min / r,
      samples: n,
      gflops: t.flops / cpuMedianMs / 1e6,
      relErr: t.relErr,
    };
  });
}

// ---------------------------------------------------------------- main

interface CaseResult extends Case {
  flops: number;
  /** The fastest peak loop, measured with this case (CPU time). */
  peakGflops: number;
  peakLoops: Record<string, number>;
  timings: Timing[];
}

function fmt(x: number, d = 2): string {
  return Number.isFinite(x) ? x.toFixed(d) : "-";
}

async function main(): Promise<void> {
  const loadStart = loadavg();
  log(`gemm bench: ${cpus()[0]?.model ?? "?"} x${cpus().length}, node ${process.version}${QUICK ? " (quick)" : ""}`);
  const peak = compilePeak();
  const backends = {} as Record<BuildName, Backend>;
  // The relaxed build (fused multiply-add) where the engine runs it; the targets below are
  // the SIMD build's, against the mul+add peak loop it is made of.
  const extra: BuildName[] = relaxedSimdSupported() ? ["relaxed"] : [];
  for (const b of ["simd", "scalar", ...extra] as BuildName[]) {
    backends[b] = await createBackend({ build: b });
    if (backends[b].build !== b) throw new Error(`bench: asked for the ${b} build, got ${backends[b].build}`);
  }
  tf.enableProdMode();
  if (!(await tf.setBackend("wasm")) || tf.getBackend() !== "wasm") throw new Error("bench: could not select the tfjs wasm backend");
  await tf.ready();
  const tfInfo = { version: tf.version.tfjs, simd: tf.env().getBool("WASM_HAS_SIMD_SUPPORT"), threads: tf.env().getBool("WASM_HAS_MULTITHREAD_SUPPORT") };
  log(`tfjs ${tfInfo.version} wasm backend: simd=${tfInfo.simd} threads=${tfInfo.threads}`);

  const results: CaseResult[] = [];
  for (const [ci, c] of CASES.entries()) {
    const d = makeData(c, 1 + ci);
    const ref = reference(c, d);
    const variants: Variant[] = [libVariant(backends.simd, c, d, ref), libVariant(backends.scalar, c, d, ref), ...extra.map((b) => libVariant(backends[b], c, d, ref))];
    for (const xnn of [false, true]) {
      const v = tfVariant(c, d, ref, xnn);
      if (v) variants.push(v);
    }
    const f = flops(c);
    const pt = peakTasks(peak);
    const tasks = [...pt, ...variants.map((v) => ({ name: v.name, fn: v.fn, flops: f, relErr: v.relErr }))];
    const timings = await timeAll(tasks);
    variants.forEach((v) => v.dispose());
    const peaks = timings.splice(0, pt.length);
    const pk = peaks.reduce((a, b) => (b.gflops > a.gflops ? b : a));
    results.push({ ...c, flops: f, peakGflops: pk.gflops, peakLoops: Object.fromEntries(peaks.map((t) => [t.variant, t.gflops])), timings });
    const ours = timings[0];
    log(`  ${c.label.padEnd(22)} ${c.op.padEnd(13)} wall ${fmt(ours.medianMs, 4)} ms, cpu ${fmt(ours.cpuMedianMs, 4)} ms, ${fmt(ours.gflops)} GFLOP/s (peak ${fmt(pk.gflops, 1)})`);
  }

  // One peak for the whole run: the median of the per-case measurements.
  const peaks = results.map((r) => r.peakGflops).sort((a, b) => a - b);
  const peakGflops = peaks[Math.floor(peaks.length / 2)];
  log();
  const loopNames = Object.keys(results[0]?.peakLoops ?? {});
  const loopMedians = loopNames.map((n) => `${n} ${fmt(median(results.map((r) => r.peakLoops[n])), 1)}`).join(", ");
  log(`f32x4 mul+add peak: ${fmt(peakGflops, 1)} GFLOP/s (median over cases of the fastest loop; per case ${fmt(peaks[0], 1)}..${fmt(peaks[peaks.length - 1], 1)}; loop medians: ${loopMedians})`);
  log();
  const head = ["case", "kernel", "M", "N", "K", "variant", "wall ms", "cpu ms", "GFLOP/s", "% peak", "tfjs/ours"];
  const rows: string[][] = [];
  for (const r of results) {
    const tfBest = Math.min(...r.timings.filter((t) => t.variant.startsWith("tfjs")).map((t) => t.cpuMedianMs));
    const ours = r.timings.find((t) => t.variant === "wasm-simd")!.cpuMedianMs;
    for (const t of r.timings) {
      const isMatmul = r.op !== "bias_acc";
      rows.push([
        r.label,
        OP_NAME[r.op],
        String(r.M),
        String(r.N),
        r.op === "bias_acc" ? "-" : String(r.K),
        t.variant,
        fmt(t.medianMs, 4),
        fmt(t.cpuMedianMs, 4),
        fmt(t.gflops),
        isMatmul ? fmt((100 * t.gflops) / peakGflops, 1) : "-",
        t.variant === "wasm-simd" ? (Number.isFinite(tfBest) ? `${fmt(tfBest / ours)}x` : "-") : t.variant.startsWith("tfjs") ? `${fmt(t.cpuMedianMs / ours)}x` : "",
      ]);
    }
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((s, i) => (i < 2 || i === 5 ? s.padEnd(widths[i]) : s.padStart(widths[i]))).join("  ");
  log(line(head));
  log(widths.map((w) => "-".repeat(w)).join("  "));
  let last = "";
  for (const r of rows) {
    if (last && r[0] !== last) log();
    last = r[0];
    log(line(r));
  }
  log();
  log("wall ms / cpu ms: medians per call of the wall clock and of this process's CPU time over the same samples.");
  log("GFLOP/s, % peak (of the f32x4 mul+add loop) and tfjs/ours use the CPU-time medians, which a loaded machine");
  log("does not inflate. tfjs/ours > 1: ours is faster; on the wasm-simd row, against the faster tfjs variant.");
  log(`load average at start ${loadStart.map((x) => x.toFixed(1)).join(" ")}, at end ${loadavg().map((x) => x.toFixed(1)).join(" ")} (${cpus().length} cores)`);

  // Targets of issue 3.
  log();
  for (const r of results) {
    const ours = r.timings.find((t) => t.variant === "wasm-simd")!;
    const tfs = r.timings.filter((t) => t.variant.startsWith("tfjs"));
    const best = Math.min(...tfs.map((t) => t.cpuMedianMs));
    const bestWall = Math.min(...tfs.map((t) => t.medianMs));
    const notes: string[] = [];
    if (r.M === 512) {
      const wallPct = (100 * flopsOf(r) / ours.medianMs / 1e6) / peakGflops;
      notes.push(`${fmt((100 * ours.gflops) / peakGflops, 1)}% of peak (wall clock: ${fmt(wallPct, 1)}%; target >= 60%): ${ours.gflops / peakGflops >= 0.6 ? "met" : "NOT met"}`);
    } else if (tfs.length) {
      notes.push(`${fmt(best / ours.cpuMedianMs)}x tfjs-wasm (wall clock: ${fmt(bestWall / ours.medianMs)}x; target >= 1): ${best >= ours.cpuMedianMs ? "met" : "NOT met"}`);
    }
    log(`  ${r.label.padEnd(22)} ${notes.join("; ")}`);
  }

  mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
  const json = {
    bench: "gemm",
    date: new Date().toISOString(),
    machine: { cpu: cpus()[0]?.model ?? "?", cores: cpus().length, node: process.version, loadavgStart: loadStart, loadavgEnd: loadavg() },
    tfjs: tfInfo,
    quick: QUICK,
    skipped,
    peak: { source: "bench/peak/peak.ts: the fastest of peak_chains, peak_tile, peak_indep (f32x4.mul + f32x4.add pairs)", gflops: peakGflops, perCase: peaks },
    cases: results,
  };
  writeFileSync(RESULTS, JSON.stringify(json, null, 2) + "\n");
  log(`\nwrote ${fileURLToPath(RESULTS)}`);
  if (tfSink === 12345.678 || peakSink === 12345.678) log(""); // keep the sinks observable
}

main().catch((e) => {
  if (e instanceof Refusal) {
    process.stderr.write(e.message + "\n");
    process.exit(2);
  }
  throw e;
});
