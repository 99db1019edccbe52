// npm run bench [-- --quick] [-- --no-tfjs-cpu] [-- --only=<part of a case label, e.g. NHWC>]
//
// Batch Normalization benchmarks (tinybench; not timed tests) on the shapes of
// test/shapes.ts BENCH_CASES: this library (SIMD and scalar builds, through the layers, on
// tensors that live in wasm memory: nothing is copied inside a timed function), a plain
// JavaScript loop, and @tensorflow/tfjs on its wasm and cpu backends (channels-last), for
// training forward, backward and inference. Against them, in the same run and on the same
// buffers of the same WebAssembly.Memory: an f32x4 sum pass and an f32x4 copy pass, the
// floors. Every variant is checked against test/reference.ts before it is timed; one that
// disagrees is not timed and the run aborts (exit code 2).
// Two diagnostics ride along: "simd-kernels", the same SIMD kernels called on pointers
// without a layer (the difference is the layers' JavaScript), and "bwd twin", a floor with
// the backward's own working set (sum x, sum dy, dx = x + dy on its three buffers).
//
// Prints a table of median ms, GB/s, ratio to the floor and speedup over tfjs-wasm, and
// writes it as JSON to bench/results/bn.json.
import { cpus } from "node:os";
import { Bench } from "tinybench";
import { getBackend } from "../src/backend.js";
import { BatchNorm1d, BatchNorm2d, type BnLayout, init, layoutFor, type Tensor, tensor } from "../src/index.js";
import { relErr, rng } from "../test/check.js";
import { refBackward, refForwardTrain, refInference } from "../test/reference/bn.js";
import { BENCH_CASES, type BnCase } from "../test/shapes.js";
import { compileFloors, type Floors, floorsFor } from "./floors.js";
import { PlainBatchNorm } from "./plainjs.js";
import { buildReport, type CaseResult, formatReport, type Op, type Timing, type Variant, writeJson } from "./report.js";
import { TfBatchNorm, type TfInputs, tfNumTensors, tfVersion, useTfBackend } from "./tfjs.js";

// ---------------------------------------------------------------- options

const argv = process.argv.slice(2);
const QUICK = argv.includes("--quick");
const NO_TFJS_CPU = argv.includes("--no-tfjs-cpu");
const ONLY = argv.find((a) => a.startsWith("--only="))?.slice("--only=".length);

/** Tolerances of the pre-timing check (normwise relative error against the float64 reference). */
const TOL_LIB = 1e-4;
const TOL_TFJS = 1e-3;
const EPS = 1e-5;

/** tinybench budgets. The floors and the SIMD build run in several interleaved rounds. */
const FAST = { rounds: QUICK ? 1 : 5, time: QUICK ? 150 : 300, warmupTime: 100, iterations: 10, warmupIterations: 5 };
const SLOW = { time: QUICK ? 200 : 600, warmupTime: 100, iterations: 8, warmupIterations: 2 };
const TFJS_WASM = { time: QUICK ? 300 : 1500, warmupTime: 0, iterations: QUICK ? 2 : 5, warmupIterations: 1 };
const TFJS_CPU = { time: 0, warmupTime: 0, iterations: QUICK ? 1 : 3, warmupIterations: 1 };
/** A sample shorter than this repeats the call (tiny cases), so timer overhead stays below ~1%. */
const MIN_SAMPLE_MS = 0.5;

const RESULTS = new URL("./results/bn.json", import.meta.url);

// ---------------------------------------------------------------- helpers

class Refusal extends Error {}

function log(msg: string): void {
  process.stdout.write(msg + "\n");
}

function check(errors: Record<string, number>, variant: string, label: string, what: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: number): void {
  const e = relErr(got, want);
  errors[what] = e;
  if (!(e <= tol)) {
    throw new Refusal(
      `bench: REFUSING to time ${variant} on ${label}: its ${what} disagrees with test/reference.ts ` +
        `(normwise relative error ${e.toExponential(2)} > ${tol}). Fix the kernel (npx vitest run test/bn) before benchmarking it.`,
    );
  }
}

/** [N, C, HW] <-> [N, HW, C] (tfjs normalizes channels-last only). */
function toChannelsLast(a: Float32Array, L: BnLayout): Float32Array {
  if (!L.planar) return a;
  const out = new Float32Array(a.length);
  const { N, C, HW } = L;
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let i = 0; i < HW; i++) out[(n * HW + i) * C + c] = a[(n * C + c) * HW + i];
  return out;
}

function fromChannelsLast(a: Float32Array, L: BnLayout): Float32Array {
  if (!L.planar) return a;
  const out = new Float32Array(a.length);
  const { N, C, HW } = L;
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let i = 0; i < HW; i++) out[(n * C + c) * HW + i] = a[(n * HW + i) * C + c];
  return out;
}

/** One case's inputs: tfjs's inputs without its channels-last shape and eps. */
type CaseData = Omit<TfInputs, "shape" | "eps">;

/** Inputs with a different offset and scale per channel (a layout mix-up cannot pass the check). */
function makeData(shape: number[], L: BnLayout, seed: number): CaseData {
  const r = rng(seed);
  const C = L.C;
  const n = shape.reduce((a, b) => a * b, 1);
  const off = Float32Array.from({ length: C }, (_, c) => -3 + 0.1 * c);
  const scl = Float32Array.from({ length: C }, (_, c) => 0.5 + 0.3 * (c % 7));
  const x = r.array(n);
  const chan = L.planar ? (i: number) => Math.floor(i / L.HW) % C : (i: number) => i % C;
  for (let i = 0; i < n; i++) {
    const c = chan(i);
    x[i] = off[c] + scl[c] * x[i];
  }
  return {
    x,
    dy: r.array(n),
    gamma: Float32Array.from({ length: C }, () => 1 + 0.2 * r.normal()),
    beta: Float32Array.from({ length: C }, () => 0.1 * r.normal()),
    runMean: Float32Array.from({ length: C }, (_, c) => off[c] + 0.05 * r.normal()),
    runVar: Float32Array.from({ length: C }, (_, c) => scl[c] * scl[c] * (1 + 0.1 * r.uniform())),
  };
}

interface Reference {
  y: Float64Array;
  mean: Float64Array;
  var: Float64Array;
  dx: Float64Array;
  dgamma: Float64Array;
  dbeta: Float64Array;
  yInf: Float64Array;
}

function reference(cs: BnCase, d: CaseData): Reference {
  const o = { gamma: d.gamma, beta: d.beta, eps: EPS, dataFormat: cs.dataFormat };
  const f = refForwardTrain(d.x, cs.shape, o);
  const b = refBackward(d.dy, d.x, cs.shape, o);
  const yInf = refInference(d.x, cs.shape, { ...o, runMean: d.runMean, runVar: d.runVar });
  return { y: f.y, mean: f.mean, var: f.var, dx: b.dx, dgamma: b.dgamma, dbeta: b.dbeta, yInf };
}

type Fns = Record<Op, () => void>;

interface LibVariant {
  fns: Fns;
  /** The same three ops as raw kernel calls on pointers (no layer): the layers' JS overhead is the difference. */
  raw: Fns;
  memory: WebAssembly.Memory;
  x: Tensor;
  /** The train layer's output buffer (the copy floor writes here). */
  y: Tensor;
  dy: Tensor;
  /** The train layer's dx buffer. */
  dx: Tensor;
  dispose(): void;
}

/** One build through the layers: BatchNorm2d / BatchNorm1d, train forward, backward, eval forward. */
async function libVariant(build: "simd" | "scalar", cs: BnCase & { label: string }, d: CaseData, ref: Reference, errors: Record<string, number>): Promise<LibVariant> {
  await init({ build });
  const backend = getBackend();
  if (backend.build !== build) throw new Error(`bench: asked for the ${build} build, got ${backend.build}`);
  const C = layoutFor(cs.shape, cs.dataFormat).C;
  const Layer = cs.shape.length === 4 ? BatchNorm2d : BatchNorm1d;
  const state = { weight: d.gamma, bias: d.beta, running_mean: d.runMean, running_var: d.runVar, num_batches_tracked: BigInt64Array.of(0n) };
  const train = new Layer(C, { dataFormat: cs.dataFormat, eps: EPS });
  train.loadStateDict(state);
  const evalLayer = new Layer(C, { dataFormat: cs.dataFormat, eps: EPS });
  evalLayer.loadStateDict(state);
  evalLayer.eval();
  const x = tensor(d.x, cs.shape), dy = tensor(d.dy, cs.shape);
  const v = `wasm-${build}`;
  train.zeroGrad();
  const y = train.forward(x);
  check(errors, v, cs.label, "forward y", y.data, ref.y, TOL_LIB);
  const st = train.lastBatchStats();
  check(errors, v, cs.label, "forward mean", st.mean, ref.mean, TOL_LIB);
  check(errors, v, cs.label, "forward var", st.var, ref.var, TOL_LIB);
  const dx = train.backward(dy);
  check(errors, v, cs.label, "backward dx", dx.data, ref.dx, TOL_LIB);
  check(errors, v, cs.label, "backward dgamma", train.weight!.grad.data, ref.dgamma, TOL_LIB);
  check(errors, v, cs.label, "backward dbeta", train.bias!.grad.data, ref.dbeta, TOL_LIB);
  const yi = evalLayer.forward(x);
  check(errors, v, cs.label, "inference y", yi.data, ref.yInf, TOL_LIB);
  const raw = rawKernels(cs, d, ref, x, dy, errors);
  return {
    fns: {
      forward: () => void train.forward(x),
      backward: () => void train.backward(dy),
      inference: () => void evalLayer.forward(x),
    },
    raw: raw.fns,
    memory: backend.heap.memory,
    x,
    y,
    dy,
    dx,
    dispose() {
      train.dispose();
      evalLayer.dispose();
      x.dispose();
      dy.dispose();
      raw.dispose();
    },
  };
}

/** The kernels called directly on pointers into the current backend's memory (outputs of their own). */
function rawKernels(cs: BnCase & { label: string }, d: CaseData, ref: Reference, x: Tensor, dy: Tensor, errors: Record<string, number>) {
  const backend = getBackend();
  const k = backend.kernels;
  const L = layoutFor(cs.shape, cs.dataFormat);
  const C = L.C;
  const t = (v: Float32Array | number[] | number) => (typeof v === "number" ? tensor(new Float32Array(v), [v]) : tensor(v, [v.length]));
  const gamma = t(d.gamma), beta = t(d.beta), rm = t(d.runMean), rv = t(d.runVar);
  const mean = t(C), var_ = t(C), inv = t(C), dg = t(C), db = t(C), a = t(C), b = t(C);
  const y = tensor(new Float32Array(x.size), cs.shape), dx = tensor(new Float32Array(x.size), cs.shape), yi = tensor(new Float32Array(x.size), cs.shape);
  const scratch = t(Math.ceil(k.bn_scratch_bytes(C) / 4));
  const s = scratch.ptr;
  const fns: Fns = L.planar
    ? {
        forward: () => k.bn_forward_train_nchw(y.ptr, mean.ptr, var_.ptr, inv.ptr, x.ptr, gamma.ptr, beta.ptr, EPS, L.N, C, L.HW, s),
        backward: () => k.bn_backward_nchw(dx.ptr, dg.ptr, db.ptr, dy.ptr, x.ptr, mean.ptr, inv.ptr, gamma.ptr, L.N, C, L.HW, 1, s),
        inference: () => {
          k.bn_fold(a.ptr, b.ptr, gamma.ptr, beta.ptr, rm.ptr, rv.ptr, EPS, C);
          k.scale_shift_nchw(yi.ptr, x.ptr, a.ptr, b.ptr, L.N, C, L.HW, 0);
        },
      }
    : {
        forward: () => k.bn_forward_train_nc(y.ptr, mean.ptr, var_.ptr, inv.ptr, x.ptr, gamma.ptr, beta.ptr, EPS, L.rows, C, s),
        backward: () => k.bn_backward_nc(dx.ptr, dg.ptr, db.ptr, dy.ptr, x.ptr, mean.ptr, inv.ptr, gamma.ptr, L.rows, C, 1, s),
        inference: () => {
          k.bn_fold(a.ptr, b.ptr, gamma.ptr, beta.ptr, rm.ptr, rv.ptr, EPS, C);
          k.scale_shift_nc(yi.ptr, x.ptr, a.ptr, b.ptr, L.rows, C, 0);
        },
      };
  const v = `raw ${backend.build} kernels`;
  fns.forward();
  check(errors, v, cs.label, "raw forward y", y.data, ref.y, TOL_LIB);
  check(errors, v, cs.label, "raw forward mean", mean.data, ref.mean, TOL_LIB);
  check(errors, v, cs.label, "raw forward var", var_.data, ref.var, TOL_LIB);
  fns.backward();
  check(errors, v, cs.label, "raw backward dx", dx.data, ref.dx, TOL_LIB);
  check(errors, v, cs.label, "raw backward dgamma", dg.data, ref.dgamma, TOL_LIB);
  check(errors, v, cs.label, "raw backward dbeta", db.data, ref.dbeta, TOL_LIB);
  fns.inference();
  check(errors, v, cs.label, "raw inference y", yi.data, ref.yInf, TOL_LIB);
  return {
    fns,
    dispose() {
      for (const q of [gamma, beta, rm, rv, mean, var_, inv, dg, db, a, b, y, dx, yi, scratch]) q.dispose();
    },
  };
}

function plainVariant(cs: BnCase & { label: string }, L: BnLayout, d: CaseData, ref: Reference, errors: Record<string, number>): Fns {
  const p = new PlainBatchNorm(L);
  const f = p.forwardTrain(d.x, d.gamma, d.beta, EPS);
  check(errors, "plain-js", cs.label, "forward y", f.y, ref.y, TOL_LIB);
  check(errors, "plain-js", cs.label, "forward mean", f.mean, ref.mean, TOL_LIB);
  check(errors, "plain-js", cs.label, "forward var", f.var, ref.var, TOL_LIB);
  const g = p.backward(d.dy, d.x, f.mean, f.invStd, d.gamma);
  check(errors, "plain-js", cs.label, "backward dx", g.dx, ref.dx, TOL_LIB);
  check(errors, "plain-js", cs.label, "backward dgamma", g.dgamma, ref.dgamma, TOL_LIB);
  check(errors, "plain-js", cs.label, "backward dbeta", g.dbeta, ref.dbeta, TOL_LIB);
  const yi = p.inference(d.x, d.gamma, d.beta, d.runMean, d.runVar, EPS);
  check(errors, "plain-js", cs.label, "inference y", yi, ref.yInf, TOL_LIB);
  return {
    forward: () => void p.forwardTrain(d.x, d.gamma, d.beta, EPS),
    backward: () => void p.backward(d.dy, d.x, f.mean, f.invStd, d.gamma),
    inference: () => void p.inference(d.x, d.gamma, d.beta, d.runMean, d.runVar, EPS),
  };
}

function checkFloors(fl: Floors, lib: LibVariant, n: number): void {
  const xs = lib.x.data;
  let s = 0;
  for (let i = 0; i < n; i++) s += xs[i];
  const got = fl.sum(lib.x.ptr, n);
  let abs = 0;
  for (let i = 0; i < n; i++) abs += Math.abs(xs[i]);
  if (!(Math.abs(got - s) <= 1e-4 * abs + 1e-6)) throw new Error(`bench: the sum floor is wrong (${got} vs ${s})`);
  fl.copy(lib.y.ptr, lib.x.ptr, n);
  const ys = lib.y.data;
  for (let i = 0; i < n; i++) if (ys[i] !== xs[i]) throw new Error(`bench: the copy floor is wrong at ${i}`);
}

// ---------------------------------------------------------------- timing

interface Spec {
  key: string;
  fn: () => void;
}

/** Calls per sample so that a sample lasts at least MIN_SAMPLE_MS. */
function repsFor(fn: () => void): number {
  fn();
  fn();
  let best = Infinity;
  for (let k = 0; k < 3; k++) {
    const t0 = performance.now();
    fn();
    best = Math.min(best, performance.now() - t0);
  }
  if (best >= MIN_SAMPLE_MS) return 1;
  return Math.min(1_000_000, Math.ceil(MIN_SAMPLE_MS / Math.max(best, 1e-5)));
}

/** Runs the specs through tinybench `rounds` times (interleaved) and returns per-call medians. */
async function timeGroup(specs: Spec[], opts: { rounds?: number; time: number; warmupTime: number; iterations: number; warmupIterations: number }): Promise<Map<string, Timing>> {
  const reps = new Map(specs.map((s) => [s.key, repsFor(s.fn)]));
  const perRound = new Map<string, number[]>(specs.map((s) => [s.key, []]));
  const samples = new Map<string, number>(specs.map((s) => [s.key, 0]));
  const rounds = opts.rounds ?? 1;
  for (let r = 0; r < rounds; r++) {
    const bench = new Bench({ time: opts.time, warmupTime: opts.warmupTime, iterations: opts.iterations, warmupIterations: opts.warmupIterations, throws: true });
    for (const s of specs) {
      const k = reps.get(s.key)!, fn = s.fn;
      bench.add(s.key, k === 1 ? fn : () => {
        for (let i = 0; i < k; i++) fn();
      });
    }
    await bench.run();
    for (const task of bench.tasks) {
      const res = task.result;
      if (res.state !== "completed") throw new Error(`bench: task ${task.name} did not complete (${res.state}${"error" in res ? `: ${res.error}` : ""})`);
      perRound.get(task.name)!.push(res.latency.p50 / reps.get(task.name)!);
      samples.set(task.name, samples.get(task.name)! + res.latency.samplesCount);
    }
  }
  const out = new Map<string, Timing>();
  for (const s of specs) {
    const xs = perRound.get(s.key)!;
    const sorted = [...xs].sort((a, b) => a - b);
    const med = sorted.length % 2 ? sorted[sorted.length >> 1] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
    out.set(s.key, { ms: med, samples: samples.get(s.key)!, reps: reps.get(s.key)!, ...(rounds > 1 ? { rounds: xs } : {}) });
  }
  return out;
}

const OPS: Op[] = ["forward", "backward", "inference"];

function specsOf(variant: Variant, fns: Fns): Spec[] {
  return OPS.map((op) => ({ key: `${variant} ${op}`, fn: fns[op] }));
}

function collect(res: CaseResult, variant: Variant, t: Map<string, Timing>): void {
  const rec: Partial<Record<Op, Timing>> = {};
  for (const op of OPS) {
    const v = t.get(`${variant} ${op}`);
    if (v) rec[op] = v;
  }
  res.times[variant] = rec;
}

const tfjsCpuCache = new Map<string, { label: string; times: Partial<Record<Op, Timing>> }>();

async function tfjsVariant(backend: "wasm" | "cpu", cs: BnCase & { label: string }, L: BnLayout, d: CaseData, ref: Reference, res: CaseResult): Promise<void> {
  const variant: Variant = `tfjs-${backend}`;
  const info = await useTfBackend(backend);
  if (backend === "wasm" && !info.simd) log("  warning: tfjs-wasm runs WITHOUT SIMD here");
  const tfShape = res.tfjsShape;
  const m = new TfBatchNorm({
    shape: tfShape,
    x: toChannelsLast(d.x, L),
    dy: toChannelsLast(d.dy, L),
    gamma: d.gamma,
    beta: d.beta,
    runMean: d.runMean,
    runVar: d.runVar,
    eps: EPS,
  });
  try {
    const errors: Record<string, number> = (res.errors[variant] = {});
    const o = m.outputs();
    check(errors, variant, cs.label, "forward y", fromChannelsLast(o.y, L), ref.y, TOL_TFJS);
    check(errors, variant, cs.label, "forward mean", o.mean, ref.mean, TOL_TFJS);
    check(errors, variant, cs.label, "forward var", o.var, ref.var, TOL_TFJS);
    check(errors, variant, cs.label, "backward dx", fromChannelsLast(o.dx, L), ref.dx, TOL_TFJS);
    check(errors, variant, cs.label, "backward dgamma", o.dgamma, ref.dgamma, TOL_TFJS);
    check(errors, variant, cs.label, "backward dbeta", o.dbeta, ref.dbeta, TOL_TFJS);
    check(errors, variant, cs.label, "inference y", fromChannelsLast(o.yInf, L), ref.yInf, TOL_TFJS);
    const cached = backend === "cpu" ? tfjsCpuCache.get(tfShape.join()) : undefined;
    if (cached) {
      const times: Partial<Record<Op, Timing>> = {};
      for (const op of OPS) if (cached.times[op]) times[op] = { ...cached.times[op]!, sharedWith: cached.label };
      res.times[variant] = times;
      log(`  ${variant}: same tfjs shape [${tfShape}] as ${cached.label}, timings reused`);
      return;
    }
    const before = tfNumTensors();
    const t = await timeGroup(specsOf(variant, m), backend === "wasm" ? TFJS_WASM : TFJS_CPU);
    const leaked = tfNumTensors() - before;
    if (leaked !== 0) throw new Error(`bench: the ${variant} timed functions leak ${leaked} tensors`);
    collect(res, variant, t);
    if (backend === "cpu") tfjsCpuCache.set(tfShape.join(), { label: cs.label, times: res.times[variant]! });
  } finally {
    m.dispose();
  }
}

function fmtTimes(res: CaseResult, v: Variant): string {
  const t = res.times[v];
  if (!t) return "";
  return OPS.map((op) => `${op} ${t[op] ? t[op]!.ms.toPrecision(4) : "-"} ms`).join(", ");
}

async function runCase(cs: BnCase & { label: string }, seed: number): Promise<CaseResult> {
  const L = layoutFor(cs.shape, cs.dataFormat);
  const n = cs.shape.reduce((a, b) => a * b, 1);
  const tfjsShape = L.planar ? [L.N, ...cs.shape.slice(2), L.C] : [...cs.shape];
  log(`\n== ${cs.label}: ${n} floats, ${L.C} channels (${L.planar ? `planes of ${L.HW}` : `rows of ${L.C}`})`);
  const d = makeData(cs.shape, L, seed);
  const t0 = performance.now();
  const ref = reference(cs, d);
  log(`  float64 reference: ${(performance.now() - t0).toFixed(0)} ms`);
  const res: CaseResult = {
    label: cs.label,
    shape: [...cs.shape],
    dataFormat: cs.dataFormat,
    n,
    floors: { sum: { ms: NaN, samples: 0, reps: 0 }, copy: { ms: NaN, samples: 0, reps: 0 } },
    times: {},
    errors: {},
    tfjsShape,
  };

  // The library, both builds, and plain JS: check everything before timing anything.
  const simd = await libVariant("simd", cs, d, ref, (res.errors["wasm-simd"] = {}));
  const scalar = await libVariant("scalar", cs, d, ref, (res.errors["wasm-scalar"] = {}));
  const plain = plainVariant(cs, L, d, ref, (res.errors["plain-js"] = {}));
  const fl = await floorsFor(simd.memory);
  checkFloors(fl, simd, n);
  log("  checked against test/reference.ts: wasm-simd, wasm-scalar, plain-js (max rel. err " +
    Math.max(...Object.values(res.errors).flatMap((e) => Object.values(e!))).toExponential(1) + ")");

  // Floors and the SIMD build: interleaved rounds, so the ratios share the machine's state.
  let sink = 0;
  const xp = simd.x.ptr, yp = simd.y.ptr, dyp = simd.dy.ptr, dxp = simd.dx.ptr;
  const fast = await timeGroup(
    [
      { key: "floor sum", fn: () => void (sink += fl.sum(xp, n)) },
      { key: "floor copy", fn: () => fl.copy(yp, xp, n) },
      // Diagnostic: the backward's traffic on the backward's own three buffers (48 MB at 4M floats).
      {
        key: "floor bwd-twin",
        fn: () => {
          sink += fl.sum(xp, n) + fl.sum(dyp, n);
          fl.add(dxp, dyp, xp, n);
        },
      },
      ...specsOf("wasm-simd", simd.fns),
      ...specsOf("simd-kernels", simd.raw),
    ],
    FAST,
  );
  res.floors = { sum: fast.get("floor sum")!, copy: fast.get("floor copy")!, bwdTwin: fast.get("floor bwd-twin")! };
  collect(res, "wasm-simd", fast);
  collect(res, "simd-kernels", fast);
  log(
    `  floors: sum ${res.floors.sum.ms.toPrecision(4)} ms, copy ${res.floors.copy.ms.toPrecision(4)} ms, ` +
      `backward twin ${res.floors.bwdTwin!.ms.toPrecision(4)} ms (sink ${sink > 0 ? "+" : "-"})`,
  );
  log(`  wasm-simd: ${fmtTimes(res, "wasm-simd")}`);
  log(`  simd-kernels: ${fmtTimes(res, "simd-kernels")}`);

  const slow = await timeGroup([...specsOf("wasm-scalar", scalar.fns), ...specsOf("plain-js", plain)], SLOW);
  collect(res, "wasm-scalar", slow);
  collect(res, "plain-js", slow);
  log(`  wasm-scalar: ${fmtTimes(res, "wasm-scalar")}`);
  log(`  plain-js: ${fmtTimes(res, "plain-js")}`);
  simd.dispose();
  scalar.dispose();

  await tfjsVariant("wasm", cs, L, d, ref, res);
  log(`  tfjs-wasm (as [${tfjsShape}]): ${fmtTimes(res, "tfjs-wasm")}`);
  if (!NO_TFJS_CPU) {
    await tfjsVariant("cpu", cs, L, d, ref, res);
    log(`  tfjs-cpu (as [${tfjsShape}]): ${fmtTimes(res, "tfjs-cpu")}`);
  }
  return res;
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const started = performance.now();
  const cpu = cpus();
  log(`batchnorm-wasm benchmarks: Node ${process.versions.node}, ${cpu[0]?.model ?? "?"} x ${cpu.length}, tfjs ${tfVersion()}${QUICK ? " (quick)" : ""}`);
  await compileFloors();
  const cases = BENCH_CASES.filter((c) => !ONLY || c.label.includes(ONLY));
  if (cases.length === 0) throw new Error(`bench: --only=${ONLY} matches none of ${BENCH_CASES.map((c) => c.label).join(", ")}`);
  const results: CaseResult[] = [];
  for (const [i, cs] of cases.entries()) results.push(await runCase(cs, 1000 + i));
  const rep = buildReport(results);
  log("\n" + formatReport(rep));
  const seconds = (performance.now() - started) / 1000;
  await writeJson(RESULTS, {
    meta: {
      date: new Date().toISOString(),
      node: process.versions.node,
      cpu: cpu[0]?.model,
      cores: cpu.length,
      tfjs: tfVersion(),
      quick: QUICK,
      seconds,
      settings: { FAST, SLOW, TFJS_WASM, TFJS_CPU, MIN_SAMPLE_MS, TOL_LIB, TOL_TFJS, EPS },
      notes: [
        "median = tinybench latency p50 per call (divided by reps); floors and wasm-simd: median of the rounds' p50",
        "GB/s = bytes moved by the ideal algorithm / time: forward 3, backward 5, inference 2 x-sized arrays",
        "floors: forward sum+copy, backward 3*sum+copy, inference copy; measured on the wasm-simd backend's x and y buffers",
        "tfjs runs channels-last; its backward (tf.grads) includes the taped forward, and its fwd+bwd is that time alone",
      ],
    },
    cases: results,
    ...rep,
  });
  log(`\nwrote ${RESULTS.pathname} (${seconds.toFixed(0)} s)`);
}

main().catch((e: unknown) => {
  if (e instanceof Refusal) {
    process.stderr.write(`\n${e.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`\n${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
