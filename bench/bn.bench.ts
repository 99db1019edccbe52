// npm run bench -- bn [--quick] [--no-tfjs-cpu] [--only=<part of a case label, e.g. NHWC>]
//
// Batch Normalization on the shapes of test/shapes.ts BENCH_CASES: this library (SIMD and
// scalar builds, through the layers, on tensors that live in wasm memory: nothing is copied
// inside a timed function), a plain JavaScript loop, and @tensorflow/tfjs on its wasm and cpu
// backends (channels-last), for training forward, backward and inference. Against them, in
// the same run and on the same buffers of the same WebAssembly.Memory: the f32x4 sum and copy
// floors. Every variant is checked against test/reference/bn.ts before it is timed.
// Two diagnostics ride along: "simd-kernels", the same SIMD kernels called on pointers
// without a layer (the difference is the layers' JavaScript), and "bwd twin", a floor with
// the backward's own working set (sum x, sum dy, dx = x + dy on its three buffers).
// Prints median ms, GB/s, ratio to the floor and speedup over tfjs-wasm; bench/results/bn.json.
import { getBackend } from "../src/backend.js";
import { BatchNorm1d, BatchNorm2d, type BnLayout, init, layoutFor, type Tensor, tensor } from "../src/index.js";
import { refBackward, refForwardTrain, refInference } from "../test/reference/bn.js";
import { BENCH_CASES, type BnCase } from "../test/shapes.js";
import { PlainBatchNorm } from "./bn/plainjs.js";
import { type BnTiming, buildReport, type CaseResult, formatReport, type Op, OPS, type Variant } from "./bn/report.js";
import { TfBatchNorm, type TfInputs } from "./bn/tfjs.js";
import { type Budget, type Checker, checkFloors, type Context, floorsFor, floorTasks, fmtMs, keep, rng, runSuite, type Task, timeGroup, type Timing } from "./harness/index.js";

/** Tolerances of the pre-timing check (normwise relative error against the float64 reference). */
const TOL_LIB = 1e-4;
const TOL_TFJS = 1e-3;
const EPS = 1e-5;
/** A sample shorter than this repeats the call (tiny cases). */
const MIN_SAMPLE_MS = 0.5;

/** The floors and the SIMD build run in several interleaved rounds, so their ratios share the machine's state. */
function budgets(quick: boolean) {
  return {
    FAST: { rounds: quick ? 1 : 5, budget: { time: quick ? 150 : 300, warmupTime: 100, iterations: 10, warmupIterations: 5 } },
    SLOW: { time: quick ? 200 : 600, warmupTime: 100, iterations: 8, warmupIterations: 2 },
    TFJS_WASM: { time: quick ? 300 : 1500, warmupTime: 0, iterations: quick ? 2 : 5, warmupIterations: 1 },
    TFJS_CPU: { time: 0, warmupTime: 0, iterations: quick ? 1 : 3, warmupIterations: 1 },
  };
}

type Case = BnCase & { label: string };
type Fns = Record<Op, () => void>;

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

/** The float64 reference of every output, by the name the checks report. */
type Reference = Record<(typeof OUTPUTS)[number], Float64Array>;
const OUTPUTS = ["forward y", "forward mean", "forward var", "backward dx", "backward dgamma", "backward dbeta", "inference y"] as const;

function reference(cs: Case, d: CaseData): Reference {
  const o = { gamma: d.gamma, beta: d.beta, eps: EPS, dataFormat: cs.dataFormat };
  const f = refForwardTrain(d.x, cs.shape, o);
  const b = refBackward(d.dy, d.x, cs.shape, o);
  const yInf = refInference(d.x, cs.shape, { ...o, runMean: d.runMean, runVar: d.runVar });
  return { "forward y": f.y, "forward mean": f.mean, "forward var": f.var, "backward dx": b.dx, "backward dgamma": b.dgamma, "backward dbeta": b.dbeta, "inference y": yInf };
}

/** Reads one output of a variant (called after the op that writes it). */
type Outputs = Record<keyof Reference, () => ArrayLike<number>>;

/** Runs the three ops once, in order, and requires each one's outputs to agree with the reference. */
function requireOutputs(ck: Checker, variant: string, label: string, fns: Fns, outputs: Outputs, ref: Reference, prefix = ""): void {
  for (const op of OPS) {
    fns[op]();
    for (const what of OUTPUTS) if (what.startsWith(op)) ck.require(variant, label, prefix + what, outputs[what](), ref[what], TOL_LIB);
  }
}

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
async function libVariant(ck: Checker, build: "simd" | "scalar", cs: Case, d: CaseData, ref: Reference): Promise<LibVariant> {
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
  train.zeroGrad();
  let y!: Tensor, dx!: Tensor, yi!: Tensor;
  const once: Fns = { forward: () => (y = train.forward(x)), backward: () => (dx = train.backward(dy)), inference: () => (yi = evalLayer.forward(x)) };
  const outputs: Outputs = {
    "forward y": () => y.data,
    "forward mean": () => train.lastBatchStats().mean,
    "forward var": () => train.lastBatchStats().var,
    "backward dx": () => dx.data,
    "backward dgamma": () => train.weight!.grad.data,
    "backward dbeta": () => train.bias!.grad.data,
    "inference y": () => yi.data,
  };
  requireOutputs(ck, `wasm-${build}`, cs.label, once, outputs, ref);
  const raw = rawKernels(ck, cs, d, ref, x, dy);
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
function rawKernels(ck: Checker, cs: Case, d: CaseData, ref: Reference, x: Tensor, dy: Tensor) {
  const backend = getBackend();
  const k = backend.kernels;
  const L = layoutFor(cs.shape, cs.dataFormat);
  const C = L.C;
  const t = (v: Float32Array | number) => (typeof v === "number" ? tensor(new Float32Array(v), [v]) : tensor(v, [v.length]));
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
  const outputs: Outputs = {
    "forward y": () => y.data,
    "forward mean": () => mean.data,
    "forward var": () => var_.data,
    "backward dx": () => dx.data,
    "backward dgamma": () => dg.data,
    "backward dbeta": () => db.data,
    "inference y": () => yi.data,
  };
  requireOutputs(ck, `raw ${backend.build} kernels`, cs.label, fns, outputs, ref, "raw ");
  return {
    fns,
    dispose() {
      for (const q of [gamma, beta, rm, rv, mean, var_, inv, dg, db, a, b, y, dx, yi, scratch]) q.dispose();
    },
  };
}

function plainVariant(ck: Checker, cs: Case, L: BnLayout, d: CaseData, ref: Reference): Fns {
  const p = new PlainBatchNorm(L);
  const fns: Fns = {
    forward: () => void p.forwardTrain(d.x, d.gamma, d.beta, EPS),
    backward: () => void p.backward(d.dy, d.x, p.out.mean, p.out.invStd, d.gamma),
    inference: () => void p.inference(d.x, d.gamma, d.beta, d.runMean, d.runVar, EPS),
  };
  const outputs: Outputs = {
    "forward y": () => p.out.y,
    "forward mean": () => p.out.mean,
    "forward var": () => p.out.var,
    "backward dx": () => p.grads.dx,
    "backward dgamma": () => p.grads.dgamma,
    "backward dbeta": () => p.grads.dbeta,
    "inference y": () => p.yInf,
  };
  requireOutputs(ck, "plain-js", cs.label, fns, outputs, ref);
  return fns;
}

function specsOf(variant: Variant, fns: Fns): Task[] {
  return OPS.map((op) => ({ name: `${variant} ${op}`, fn: fns[op] }));
}

function collect(res: CaseResult, variant: Variant, t: Map<string, Timing>): void {
  const rec: Partial<Record<Op, Timing>> = {};
  for (const op of OPS) {
    const v = t.get(`${variant} ${op}`);
    if (v) rec[op] = v;
  }
  res.times[variant] = rec;
}

/** tfjs-cpu timings by tfjs shape: an NCHW case and its NHWC twin run the same tfjs work. */
const tfjsCpuCache = new Map<string, { label: string; times: Partial<Record<Op, BnTiming>> }>();

async function tfjsVariant(ctx: Context, backend: "wasm" | "cpu", cs: Case, L: BnLayout, d: CaseData, ref: Reference, res: CaseResult, budget: Budget): Promise<void> {
  const variant: Variant = `tfjs-${backend}`;
  if (!(await ctx.peers.useTf(backend))) return;
  const tfShape = res.tfjsShape;
  const m = new TfBatchNorm({ shape: tfShape, x: toChannelsLast(d.x, L), dy: toChannelsLast(d.dy, L), gamma: d.gamma, beta: d.beta, runMean: d.runMean, runVar: d.runVar, eps: EPS });
  try {
    const o = m.outputs();
    const got: Record<keyof Reference, Float32Array> = {
      "forward y": fromChannelsLast(o.y, L),
      "forward mean": o.mean,
      "forward var": o.var,
      "backward dx": fromChannelsLast(o.dx, L),
      "backward dgamma": o.dgamma,
      "backward dbeta": o.dbeta,
      "inference y": fromChannelsLast(o.yInf, L),
    };
    if (!OUTPUTS.every((what) => ctx.check.accept(variant, cs.label, what, got[what], ref[what], TOL_TFJS))) return;
    const cached = backend === "cpu" ? tfjsCpuCache.get(tfShape.join()) : undefined;
    if (cached) {
      const times: Partial<Record<Op, BnTiming>> = {};
      for (const op of OPS) if (cached.times[op]) times[op] = { ...cached.times[op]!, sharedWith: cached.label };
      res.times[variant] = times;
      ctx.log(`  ${variant}: same tfjs shape [${tfShape}] as ${cached.label}, timings reused`);
      return;
    }
    const before = await ctx.peers.tfTensors();
    const t = await timeGroup(specsOf(variant, m), { budget, minSampleMs: MIN_SAMPLE_MS });
    const leaked = (await ctx.peers.tfTensors()) - before;
    if (leaked !== 0) throw new Error(`bench: the ${variant} timed functions leak ${leaked} tensors`);
    collect(res, variant, t);
    if (backend === "cpu") tfjsCpuCache.set(tfShape.join(), { label: cs.label, times: res.times[variant]! });
  } finally {
    m.dispose();
  }
  ctx.log(`  ${variant} (as [${tfShape}]): ${fmtTimes(res, variant)}`);
}

function fmtTimes(res: CaseResult, v: Variant): string {
  const t = res.times[v];
  return t ? OPS.map((op) => `${op} ${t[op] ? fmtMs(t[op]!.ms) : "-"} ms`).join(", ") : "";
}

async function runCase(ctx: Context, cs: Case, seed: number): Promise<CaseResult> {
  const B = budgets(ctx.quick);
  const L = layoutFor(cs.shape, cs.dataFormat);
  const n = cs.shape.reduce((a, b) => a * b, 1);
  const tfjsShape = L.planar ? [L.N, ...cs.shape.slice(2), L.C] : [...cs.shape];
  ctx.log(`\n== ${cs.label}: ${n} floats, ${L.C} channels (${L.planar ? `planes of ${L.HW}` : `rows of ${L.C}`})`);
  const d = makeData(cs.shape, L, seed);
  const t0 = performance.now();
  const ref = reference(cs, d);
  ctx.log(`  float64 reference: ${(performance.now() - t0).toFixed(0)} ms`);
  const res: CaseResult = { label: cs.label, shape: [...cs.shape], dataFormat: cs.dataFormat, n, floors: {} as CaseResult["floors"], times: {}, errors: {}, tfjsShape };

  // The library, both builds, and plain JS: check everything before timing anything.
  const simd = await libVariant(ctx.check, "simd", cs, d, ref);
  const scalar = await libVariant(ctx.check, "scalar", cs, d, ref);
  const plain = plainVariant(ctx.check, cs, L, d, ref);
  const fl = await floorsFor(simd.memory);
  checkFloors(fl, simd.x, simd.y, n);
  ctx.log(`  checked against test/reference/bn.ts: wasm-simd, wasm-scalar, plain-js (max rel. err ${ctx.check.worst(cs.label).toExponential(1)})`);

  // Floors and the SIMD build: interleaved rounds, so the ratios share the machine's state.
  const xp = simd.x.ptr, dyp = simd.dy.ptr, dxp = simd.dx.ptr;
  const fast = await timeGroup(
    [
      ...floorTasks(fl, simd.x, simd.y, n),
      // Diagnostic: the backward's traffic on the backward's own three buffers (48 MB at 4M floats).
      { name: "floor bwd-twin", fn: () => (keep(fl.sum(xp, n) + fl.sum(dyp, n)), fl.add(dxp, dyp, xp, n)) },
      ...specsOf("wasm-simd", simd.fns),
      ...specsOf("simd-kernels", simd.raw),
    ],
    { ...B.FAST, minSampleMs: MIN_SAMPLE_MS },
  );
  res.floors = { sum: fast.get("floor sum")!, copy: fast.get("floor copy")!, bwdTwin: fast.get("floor bwd-twin")! };
  collect(res, "wasm-simd", fast);
  collect(res, "simd-kernels", fast);
  ctx.log(`  floors: sum ${fmtMs(res.floors.sum.ms)} ms, copy ${fmtMs(res.floors.copy.ms)} ms, backward twin ${fmtMs(res.floors.bwdTwin!.ms)} ms`);
  ctx.log(`  wasm-simd: ${fmtTimes(res, "wasm-simd")}`);
  ctx.log(`  simd-kernels: ${fmtTimes(res, "simd-kernels")}`);

  const slow = await timeGroup([...specsOf("wasm-scalar", scalar.fns), ...specsOf("plain-js", plain)], { budget: B.SLOW, minSampleMs: MIN_SAMPLE_MS });
  collect(res, "wasm-scalar", slow);
  collect(res, "plain-js", slow);
  ctx.log(`  wasm-scalar: ${fmtTimes(res, "wasm-scalar")}`);
  ctx.log(`  plain-js: ${fmtTimes(res, "plain-js")}`);
  simd.dispose();
  scalar.dispose();

  await tfjsVariant(ctx, "wasm", cs, L, d, ref, res, B.TFJS_WASM);
  await tfjsVariant(ctx, "cpu", cs, L, d, ref, res, B.TFJS_CPU);
  res.errors = ctx.check.errors[cs.label] ?? {};
  return res;
}

await runSuite({
  name: "bn",
  title: "batchnorm-wasm BN benchmarks",
  results: "bn",
  reference: "test/reference/bn.ts",
  fix: "npx vitest run test/bn",
  async run(ctx) {
    const results: CaseResult[] = [];
    for (const [i, cs] of ctx.select(BENCH_CASES).entries()) results.push(await runCase(ctx, cs, 1000 + i));
    const rep = buildReport(results);
    ctx.log("\n" + formatReport(rep));
    return {
      settings: { ...budgets(ctx.quick), MIN_SAMPLE_MS, TOL_LIB, TOL_TFJS, EPS },
      notes: [
        "ms = median per call of the wall clock over every sample of every round (tinybench; a sample repeats tiny calls), cpuMs the same for the process's CPU time",
        "GB/s = bytes moved by the ideal algorithm / time: forward 3, backward 5, inference 2 x-sized arrays",
        "floors: forward sum+copy, backward 3*sum+copy, inference copy; measured on the wasm-simd backend's x and y buffers",
        "tfjs runs channels-last; its backward (tf.grads) includes the taped forward, and its fwd+bwd is that time alone",
      ],
      cases: results,
      ...rep,
    };
  },
});
