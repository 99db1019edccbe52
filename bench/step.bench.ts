// npx tsx bench/train_step.bench.ts [--quick] [--no-torch] [--no-tfjs-cpu] [--data=DIR]
//
// One full training step of Ioffe & Szegedy's MNIST network (784-100-100-100-10 sigmoid,
// BatchNorm1d before each sigmoid, weights N(0, 0.1^2), SGD lr 0.5, batch 60: the model of
// src/experiments/mnist_paper.ts, built by its buildPaperNetworks), timed with tinybench:
//   - this library, SIMD and scalar builds (init({ build }) before building each model);
//   - @tensorflow/tfjs 4.22 on its wasm backend (SIMD, single-threaded in Node): the same
//     model as a tf.layers sequential, with model.trainOnBatch and with a custom
//     tf.variableGrads + optimizer.applyGradients step (bench/train_step_tfjs.ts); the
//     ratio uses the faster of the two;
//   - tfjs on its cpu backend (a few steps);
//   - PyTorch with one thread (bench/torch_step.py under Debian's /usr/bin/python3, where
//     python3-torch is installed; skipped with a note otherwise).
// A step is what a training loop does per mini-batch: copy the batch's 60 rows out of the
// training images into the model's input (for us a tensor in wasm memory, src/experiments/
// common.ts gatherBatch; for tfjs a Float32Array then tf.tensor2d; for PyTorch index_select
// into a preallocated tensor), zeroGrad, forward, loss, backward, SGD step; the loss is read
// back (a number for us, dataSync / await / .item() for the others), so all work is done
// inside the timed call. Data: real MNIST from ../shared/data/mnist when present (--data=DIR
// or MNIST_DIR to point elsewhere), otherwise the embedded 10,000 digits; the batches follow
// one seeded shuffle of the training set.
//
// Before timing, every variant takes one step from the same initial weights on the same
// batch, and its loss and parameter updates are compared with a float64 reference step
// (test/reference_layers.ts: analytic gradients, then p - lr * g). Ours must agree within
// 1e-4 or the run aborts (REFUSING); a tfjs or PyTorch variant that disagrees is reported
// and not timed. The update error is normwise per parameter,
//   max|dp_got - dp_ref| / max(max|dp_ref|, 0.1 * the largest |dp_ref| of the same layer),
// where dp = p_after - p_before: the updates themselves, not the weights, are compared. The
// floor matters only for the Dense biases in front of a BatchNorm, whose gradient is zero
// (BN subtracts the batch mean), so every implementation's update there is rounding noise.
//
// Timing: tinybench, in interleaved rounds (ours, tfjs-wasm, then one PyTorch child process
// per round, so that all of them see the same machine load); each sample also records the
// process's CPU time (process.cpuUsage; PyTorch's time.process_time), which a loaded machine
// does not inflate the way it does the wall clock. Medians pool the rounds' samples. Ratios
// and targets use the CPU-time medians; the wall-clock ratios are printed too. Only the
// import of test/reference_layers.ts ties this to test/ (it pulls in no vitest). Prints a table and a breakdown of our step next to
// PyTorch's, and writes bench/results/train_step.json.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Bench } from "tinybench";
import { gatherBatch } from "../src/experiments/common.js";
import { buildPaperNetworks } from "../src/experiments/mnist_paper.js";
import { type BuildName, getBackend, relaxedSimdSupported } from "../src/backend.js";
import { BatchNorm1d, CrossEntropyLoss, Dense, init, loadEmbeddedMnist, loadMnist, type MnistSplit, Rng, SGD, type Sequential, type Tensor, tensor } from "../src/index.js";
import { type Breakdown, breakdownStep } from "./train_step_breakdown.js";
import { type DenseInit, makeTfStepper, type TfStepKind, type TfStepper, tfNumTensors, useTf } from "./train_step_tfjs.js";
import { refLayersOf, refModelGrads, refParams } from "../test/reference_layers.js";

// ---------------------------------------------------------------- options

const argv = process.argv.slice(2);
const QUICK = argv.includes("--quick");
const NO_TORCH = argv.includes("--no-torch");
const NO_TFJS_CPU = argv.includes("--no-tfjs-cpu");
const DATA_DIR = argv.find((a) => a.startsWith("--data="))?.slice("--data=".length) ?? process.env.MNIST_DIR ?? fileURLToPath(new URL("../../shared/data/mnist/", import.meta.url));
const PYTHON = process.env.TORCH_PYTHON ?? "/usr/bin/python3";

const HIDDEN = [100, 100, 100];
const LAYERS = [784, ...HIDDEN, 10];
const BATCH = 60;
const LR = 0.5;
const INIT_STD = 0.1;
const SEED = 0;
const EPS = 1e-5;
const MOMENTUM = 0.1;
const CLASSES = 10;

const TOL = 1e-4;
const ROUNDS = QUICK ? 1 : 3;
const BUDGET_OURS = { time: QUICK ? 400 : 1500, warmupTime: QUICK ? 100 : 300, iterations: 50, warmupIterations: 20 };
const BUDGET_TFJS_WASM = { time: QUICK ? 500 : 2000, warmupTime: QUICK ? 100 : 300, iterations: 15, warmupIterations: 3 };
const BUDGET_TFJS_CPU = { time: 0, warmupTime: 0, iterations: QUICK ? 2 : 5, warmupIterations: 1 };
const BREAKDOWN_STEPS = QUICK ? 200 : 1000;

const RESULTS = new URL("./results/train_step.json", import.meta.url);
const TORCH_SCRIPT = fileURLToPath(new URL("./torch_step.py", import.meta.url));

// ---------------------------------------------------------------- helpers

class Refusal extends Error {}

function log(msg = ""): void {
  process.stdout.write(msg + "\n");
}

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function fmt(x: number | undefined, d = 3): string {
  return x !== undefined && Number.isFinite(x) ? x.toFixed(d) : "-";
}

/** Copies a batch's rows into a plain Float32Array (what feeding tfjs needs). */
function gatherRows(split: MnistSplit, idx: Int32Array, from: number, n: number, out: Float32Array, labels: Uint8Array): void {
  const P = split.rows * split.cols;
  for (let r = 0; r < n; r++) {
    const i = idx[from + r];
    out.set(split.images.subarray(i * P, (i + 1) * P), r * P);
    labels[r] = split.labels[i];
  }
}

// ---------------------------------------------------------------- the reference step

interface RefStep {
  loss: number;
  /** Initial parameters (float64 copies of the float32 values), in model.parameters() order. */
  before: Float64Array[];
  /** p_after - p_before of the float64 step. */
  delta: Float64Array[];
  names: string[];
}

function referenceStep(model: Sequential, x: Float32Array, labels: Uint8Array): RefStep {
  const layers = refLayersOf(model);
  const before = refParams(layers);
  const g = refModelGrads(layers, x, BATCH, labels);
  const grads: Float64Array[] = [];
  const names: string[] = [];
  g.params.forEach((p, i) => {
    if (!p) return;
    grads.push(p.weight);
    names.push(`${i}.weight`);
    if (p.bias) {
      grads.push(p.bias);
      names.push(`${i}.bias`);
    }
  });
  if (grads.length !== before.length) throw new Error("bench: reference gradients and parameters do not line up");
  return { loss: g.loss, before, delta: grads.map((gr) => gr.map((v) => -LR * v)), names };
}

interface CheckResult {
  lossRelErr: number;
  /** Per parameter (names as PyTorch's state_dict keys). */
  updateRelErr: Record<string, number>;
  maxErr: number;
}

function compareStep(ref: RefStep, loss: number, after: ArrayLike<number>[]): CheckResult {
  if (after.length !== ref.before.length) throw new Error(`bench: expected ${ref.before.length} parameters, got ${after.length}`);
  const maxAbs = (d: Float64Array) => d.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  // The largest reference update of each layer ("3" of "3.weight", "3.bias").
  const layerScale = new Map<string, number>();
  ref.delta.forEach((d, k) => {
    const layer = ref.names[k].split(".")[0];
    layerScale.set(layer, Math.max(layerScale.get(layer) ?? 0, maxAbs(d)));
  });
  const updateRelErr: Record<string, number> = {};
  const lossRelErr = Math.abs(loss - ref.loss) / Math.abs(ref.loss);
  let maxErr = lossRelErr;
  ref.delta.forEach((want, k) => {
    const b = ref.before[k], a = after[k];
    if (a.length !== want.length) throw new Error(`bench: parameter ${ref.names[k]} has ${a.length} values, expected ${want.length}`);
    let num = 0;
    for (let i = 0; i < want.length; i++) {
      const d = Math.abs(a[i] - b[i] - want[i]);
      num = Math.max(num, Number.isNaN(d) ? Infinity : d);
    }
    const e = num / Math.max(maxAbs(want), 0.1 * layerScale.get(ref.names[k].split(".")[0])!, 1e-30);
    updateRelErr[ref.names[k]] = e;
    maxErr = Math.max(maxErr, e);
  });
  return { lossRelErr, updateRelErr, maxErr: Number.isNaN(maxErr) ? Infinity : maxErr };
}

function worst(c: CheckResult): string {
  const [k, v] = Object.entries(c.updateRelErr).reduce((a, b) => (b[1] > a[1] ? b : a));
  return `loss rel. error ${c.lossRelErr.toExponential(2)}, worst update ${k} ${v.toExponential(2)}`;
}

// ---------------------------------------------------------------- our model

interface OurModel {
  model: Sequential;
  loss: CrossEntropyLoss;
  opt: SGD;
  x: Tensor;
  labels: Uint8Array;
  dispose(): void;
}

function buildOurs(): OurModel {
  const nets = buildPaperNetworks(HIDDEN, INIT_STD, SEED);
  nets.plain.dispose();
  const model = nets.bn;
  const x = tensor(new Float32Array(BATCH * LAYERS[0]), [BATCH, LAYERS[0]]);
  const loss = new CrossEntropyLoss();
  const opt = new SGD(model.parameters(), { lr: LR });
  return {
    model,
    loss,
    opt,
    x,
    labels: new Uint8Array(BATCH),
    dispose() {
      model.dispose();
      loss.dispose();
      opt.dispose();
      x.dispose();
    },
  };
}

function denseInits(model: Sequential): DenseInit[] {
  return model.layers.filter((m): m is Dense => m instanceof Dense).map((d) => ({
    inF: d.inFeatures,
    outF: d.outFeatures,
    weight: d.weight.value.toArray(),
    bias: d.bias ? d.bias.value.toArray() : new Float32Array(d.outFeatures),
  }));
}

/** The trainable parameters as PyTorch's state_dict keys, in model.parameters() order. */
function namedParams(model: Sequential): [string, Float32Array, number[]][] {
  const out: [string, Float32Array, number[]][] = [];
  model.layers.forEach((m, i) => {
    if (m instanceof Dense) {
      out.push([`${i}.weight`, m.weight.value.toArray(), [m.outFeatures, m.inFeatures]]);
      if (m.bias) out.push([`${i}.bias`, m.bias.value.toArray(), [m.outFeatures]]);
    } else if (m instanceof BatchNorm1d) {
      out.push([`${i}.weight`, m.weight!.value.toArray(), [m.numFeatures]]);
      out.push([`${i}.bias`, m.bias!.value.toArray(), [m.numFeatures]]);
    }
  });
  return out;
}

// ---------------------------------------------------------------- PyTorch

interface TorchResult {
  torch: string;
  threads: number;
  blas: string[];
  data: string;
  wallMs: { median: number; p25: number; p75: number; min: number; mean: number; samples: number };
  cpuMs: { median: number; p25: number; p75: number; min: number; mean: number; samples: number };
  breakdownMs?: Record<string, number>;
  forwardPerLayerMs?: { layer: string; ms: number }[];
  check?: { loss: number; keys: string[]; file: string };
  wallSamples?: number[];
  cpuSamples?: number[];
}

function torchAvailable(): { ok: boolean; why: string } {
  if (NO_TORCH) return { ok: false, why: "--no-torch" };
  if (!existsSync(PYTHON)) return { ok: false, why: `${PYTHON} not found` };
  try {
    execFileSync(PYTHON, ["-c", "import torch, numpy"], { stdio: ["ignore", "ignore", "pipe"], timeout: 60_000 });
    return { ok: true, why: "" };
  } catch (e) {
    const err = String((e as { stderr?: Buffer }).stderr ?? e).trim().split("\n").pop();
    return { ok: false, why: `${PYTHON} cannot import torch (${err}); on Debian: apt-get install python3-torch libopenblas0-pthread` };
  }
}

/** Writes the data file bench/torch_step.py reads (--data PREFIX): PREFIX.json + PREFIX.bin. */
function writeTorchData(prefix: string, train: MnistSplit, order: Int32Array, params: [string, Float32Array, number[]][], checkX: Float32Array, checkY: Uint8Array, source: string): void {
  const parts: { name: string; bytes: Uint8Array; dtype: string; length: number }[] = [];
  const u8 = new Uint8Array(train.images.length);
  for (let i = 0; i < u8.length; i++) u8[i] = Math.round(train.images[i] * 255);
  parts.push({ name: "images", bytes: u8, dtype: "uint8", length: u8.length });
  parts.push({ name: "labels", bytes: train.labels, dtype: "uint8", length: train.labels.length });
  parts.push({ name: "order", bytes: new Uint8Array(order.buffer, order.byteOffset, order.byteLength), dtype: "<i4", length: order.length });
  for (const [k, v] of params) parts.push({ name: `param:${k}`, bytes: new Uint8Array(v.buffer, v.byteOffset, v.byteLength), dtype: "<f4", length: v.length });
  parts.push({ name: "check_x", bytes: new Uint8Array(checkX.buffer, checkX.byteOffset, checkX.byteLength), dtype: "<f4", length: checkX.length });
  parts.push({ name: "check_y", bytes: checkY, dtype: "uint8", length: checkY.length });
  let off = 0;
  const arrays: Record<string, { offset: number; length: number; dtype: string }> = {};
  for (const p of parts) {
    arrays[p.name] = { offset: off, length: p.length, dtype: p.dtype };
    off += Math.ceil(p.bytes.byteLength / 16) * 16;
  }
  const blob = new Uint8Array(off);
  for (const p of parts) blob.set(p.bytes, arrays[p.name].offset);
  writeFileSync(`${prefix}.bin`, blob);
  const meta = { layers: LAYERS, batch: BATCH, lr: LR, eps: EPS, momentum: MOMENTUM, source, params: Object.fromEntries(params.map(([k, , s]) => [k, s])), arrays };
  writeFileSync(`${prefix}.json`, JSON.stringify(meta));
}

function runTorch(prefix: string, checkOut: string | null, breakdown: boolean): TorchResult {
  const args = [TORCH_SCRIPT, "--data", prefix, "--threads", "1", "--samples"];
  if (checkOut) args.push("--check-out", checkOut);
  if (breakdown) args.push("--breakdown");
  if (QUICK) args.push("--min-seconds", "0.5", "--min-steps", "200");
  else args.push("--min-seconds", "1.5", "--min-steps", "500");
  const env = { ...process.env, OMP_NUM_THREADS: "1", OPENBLAS_NUM_THREADS: "1", MKL_NUM_THREADS: "1" };
  const out = execFileSync(PYTHON, args, { env, maxBuffer: 64 << 20, stdio: ["ignore", "pipe", "inherit"], timeout: 600_000 });
  return JSON.parse(out.toString()) as TorchResult;
}

// ---------------------------------------------------------------- timing

interface Timing {
  variant: string;
  /** Wall-clock median per step (tinybench's samples, pooled over the rounds). */
  wallMs: number;
  /** Median per step of this process's CPU time over the same samples. */
  cpuMs: number;
  wallMinMs: number;
  samples: number;
  rounds: number[];
  check: CheckResult;
  note?: string;
}

interface Task {
  name: string;
  fn: () => unknown;
  isAsync: boolean;
  budget: { time: number; warmupTime: number; iterations: number; warmupIterations: number };
  wall: number[];
  cpu: number[];
  roundMedians: number[];
  roundCpuMedians: number[];
}

async function timeTask(t: Task): Promise<void> {
  const cpu: number[] = [];
  const bench = new Bench({ ...t.budget, throws: true, retainSamples: true });
  if (t.isAsync) {
    bench.add(t.name, async () => {
      const c0 = process.cpuUsage();
      await t.fn();
      const u = process.cpuUsage(c0);
      cpu.push((u.user + u.system) / 1000);
    });
  } else {
    bench.add(t.name, () => {
      const c0 = process.cpuUsage();
      t.fn();
      const u = process.cpuUsage(c0);
      cpu.push((u.user + u.system) / 1000);
    });
  }
  await bench.run();
  const res = bench.getTask(t.name)?.result;
  if (!res || !("latency" in res)) throw new Error(`bench: task ${t.name} did not complete (${res?.state})`);
  const samples = res.latency.samples ?? [];
  const n = res.latency.samplesCount;
  t.wall.push(...samples);
  t.cpu.push(...cpu.slice(-n)); // the last n: after the warmup samples
  t.roundMedians.push(res.latency.p50);
  t.roundCpuMedians.push(median(cpu.slice(-n)));
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const load0 = loadavg();
  log(`train-step bench: ${cpus()[0]?.model ?? "?"} x${cpus().length}, node ${process.version}${QUICK ? " (quick)" : ""}, load ${load0.map((v) => v.toFixed(1)).join(" ")}`);
  log(`model: 784-${HIDDEN.join("-")}-10, Dense -> BatchNorm1d -> Sigmoid (x3) -> Dense(10), N(0, ${INIT_STD}^2) init, SGD lr ${LR}, batch ${BATCH}`);

  // Data.
  let train: MnistSplit, source: string;
  try {
    const d = await loadMnist({ dir: DATA_DIR });
    train = d.train;
    source = d.source;
  } catch (e) {
    const d = await loadEmbeddedMnist({ seed: SEED });
    train = d.train;
    source = d.source;
    log(`note: no MNIST at ${DATA_DIR} (${(e as Error).message.split(";")[0]}); using the embedded digits`);
  }
  log(`data: ${source} (${train.count} training images)`);
  const order = new Rng(SEED).permutation(train.count);
  const nBatches = Math.floor(train.count / BATCH);
  const checkX = new Float32Array(BATCH * LAYERS[0]);
  const checkY = new Uint8Array(BATCH);
  gatherRows(train, order, 0, BATCH, checkX, checkY);

  // ---- ours: check, then the timed model, per build
  // The relaxed-SIMD build (fused multiply-add GEMM) where the engine runs it: Node 22+,
  // or Node 20 with --experimental-wasm-relaxed-simd (npm run bench passes it).
  const builds: BuildName[] = relaxedSimdSupported() ? ["relaxed", "simd", "scalar"] : ["simd", "scalar"];
  if (!relaxedSimdSupported()) log("note: this engine does not run relaxed SIMD; timing the simd and scalar builds only");
  const ours: Partial<Record<BuildName, { m: OurModel; check: CheckResult; step: () => number }>> = {};
  let ref: RefStep | null = null;
  let initParams: [string, Float32Array, number[]][] = [];
  let dense: DenseInit[] = [];
  let ourAfter: Float32Array[] = [];
  for (const build of builds) {
    await init({ build });
    if (getBackend().build !== build) throw new Error(`bench: asked for the ${build} build, got ${getBackend().build}`);
    const c = buildOurs();
    const params = namedParams(c.model);
    if (!ref) {
      ref = referenceStep(c.model, checkX, checkY);
      initParams = params;
      dense = denseInits(c.model);
    } else {
      // Both builds must start from the same weights (same seeds).
      params.forEach(([k, v], i) => {
        if (!v.every((x, j) => x === initParams[i][1][j])) throw new Error(`bench: the ${build} build's initial ${k} differs from the ${builds[0]} build's`);
      });
    }
    c.x.data.set(checkX);
    c.labels.set(checkY);
    c.opt.zeroGrad();
    const l = c.loss.forward(c.model.forward(c.x), c.labels);
    c.model.backwardParams(c.loss.backward());
    c.opt.step();
    const after = c.model.parameters().map((p) => p.value.toArray());
    const check = compareStep(ref, l, after);
    if (build === "simd") ourAfter = after;
    c.dispose();
    if (!(check.maxErr <= TOL)) {
      throw new Refusal(
        `bench: REFUSING to time wasm-${build}: one training step disagrees with the float64 reference step ` +
          `(test/reference_layers.ts) by more than ${TOL}: ${worst(check)}. Fix it first (npx vitest run test/train.test.ts test/sequential.test.ts).`,
      );
    }
    log(`check wasm-${build}: one step vs float64 reference: ${worst(check)} (tolerance ${TOL})`);

    const m = buildOurs();
    let pos = 0;
    const step = (): number => {
      if (pos + BATCH > nBatches * BATCH) pos = 0;
      gatherBatch(train, order, pos, BATCH, m.x, m.labels);
      pos += BATCH;
      m.opt.zeroGrad();
      const logits = m.model.forward(m.x);
      const l2 = m.loss.forward(logits, m.labels);
      m.model.backwardParams(m.loss.backward());
      m.opt.step();
      return l2;
    };
    ours[build] = { m, check, step };
  }
  if (!ref) throw new Error("unreachable");

  // ---- tfjs wasm: check each step kind, then the timed models
  const tfWasmInfo = await useTf("wasm");
  log(`tfjs ${tfWasmInfo.version} wasm backend: simd=${tfWasmInfo.simd} threads=${tfWasmInfo.threads}`);
  const skipped: { variant: string; reason: string }[] = [];
  const tfOpts = { lr: LR, eps: EPS, momentum: MOMENTUM, batch: BATCH, classes: CLASSES };
  let tfVsOurs: Record<string, number> = {};

  async function checkTf(kind: TfStepKind, label: string): Promise<CheckResult | null> {
    const s = makeTfStepper(kind, dense, tfOpts);
    const l = await s.step(checkX, checkY);
    const after = s.params();
    s.dispose();
    const c = compareStep(ref!, l, after);
    // Directly against ours too (the same measure, our step as the reference).
    const oursAsRef: RefStep = { ...ref!, delta: ourAfter.map((a, k) => Float64Array.from(a, (v, i) => v - ref!.before[k][i])) };
    tfVsOurs[label] = compareStep(oursAsRef, l, after).maxErr;
    if (!(c.maxErr <= TOL)) {
      log(`  NOT timing ${label}: one step disagrees with the float64 reference by more than ${TOL}: ${worst(c)}`);
      skipped.push({ variant: label, reason: worst(c) });
      return null;
    }
    log(`check ${label}: one step vs float64 reference: ${worst(c)}; vs ours ${tfVsOurs[label].toExponential(2)}`);
    return c;
  }

  function tfTask(kind: TfStepKind, label: string, budget: Task["budget"]): { task: Task; stepper: TfStepper } {
    const s = makeTfStepper(kind, dense, tfOpts);
    const xs = new Float32Array(BATCH * LAYERS[0]);
    const ys = new Uint8Array(BATCH);
    let pos = 0;
    const fn = () => {
      if (pos + BATCH > nBatches * BATCH) pos = 0;
      gatherRows(train, order, pos, BATCH, xs, ys);
      pos += BATCH;
      return s.step(xs, ys);
    };
    return { task: { name: label, fn, isAsync: kind === "trainOnBatch", budget, wall: [], cpu: [], roundMedians: [], roundCpuMedians: [] }, stepper: s };
  }

  const checks: Record<string, CheckResult> = Object.fromEntries(builds.map((b) => [`wasm-${b}`, ours[b]!.check]));
  const tasks: Task[] = builds.map((b) => ({
    name: `wasm-${b}`,
    fn: ours[b]!.step,
    isAsync: false,
    budget: BUDGET_OURS,
    wall: [],
    cpu: [],
    roundMedians: [],
    roundCpuMedians: [],
  }));
  const tfWasmSteppers: TfStepper[] = [];
  for (const kind of ["variableGrads", "trainOnBatch"] as TfStepKind[]) {
    const label = `tfjs-wasm ${kind}`;
    const c = await checkTf(kind, label);
    if (!c) continue;
    checks[label] = c;
    const { task, stepper } = tfTask(kind, label, BUDGET_TFJS_WASM);
    tasks.push(task);
    tfWasmSteppers.push(stepper);
  }

  // ---- PyTorch: availability and its data file (the same images, batch order, initial weights)
  let torch = null as TorchResult | null;
  let torchNote = "";
  const torchWall: number[] = [], torchCpu: number[] = [], torchRounds: number[] = [];
  const avail = torchAvailable();
  const prefix = join(tmpdir(), `train_step_torch_${process.pid}`);
  const checkOut = `${prefix}.check.bin`;
  let torchReady = avail.ok;
  if (!avail.ok) {
    torchNote = `PyTorch skipped: ${avail.why}`;
    log(`note: ${torchNote}`);
  } else writeTorchData(prefix, train, order, initParams, checkX, checkY, source);

  /** The first PyTorch run also takes the check step and the breakdown. */
  function torchRound(first: boolean): void {
    const res = runTorch(prefix, first ? checkOut : null, first);
    if (first) {
      const buf = readFileSync(checkOut);
      const flat = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
      const after: Float32Array[] = [];
      let off = 1;
      for (const [, v] of initParams) {
        after.push(flat.slice(off, off + v.length));
        off += v.length;
      }
      const c = compareStep(ref!, flat[0], after);
      const oursAsRef: RefStep = { ...ref!, delta: ourAfter.map((a, k) => Float64Array.from(a, (v, i) => v - ref!.before[k][i])) };
      tfVsOurs = { ...tfVsOurs, pytorch: compareStep(oursAsRef, flat[0], after).maxErr };
      checks["pytorch 1 thread"] = c;
      if (!(c.maxErr <= TOL)) {
        log(`  NOT reporting PyTorch: one step disagrees with the float64 reference by more than ${TOL}: ${worst(c)}`);
        skipped.push({ variant: "pytorch 1 thread", reason: worst(c) });
        torchNote = "PyTorch disagreed with the reference step (not reported)";
        torchReady = false;
        return;
      }
      log(`check pytorch: one step vs float64 reference: ${worst(c)}; vs ours ${tfVsOurs.pytorch.toExponential(2)}`);
      log(`pytorch ${res.torch}, ${res.threads} thread, BLAS ${res.blas.map((q) => q.split("/").pop()).join(", ") || "?"}`);
      torch = res;
    }
    torchWall.push(...(res.wallSamples ?? []));
    torchCpu.push(...(res.cpuSamples ?? []));
    torchRounds.push(res.wallMs.median);
  }

  // ---- timing rounds: ours and tfjs-wasm in process, PyTorch in a child process, interleaved
  const tensors0 = tfNumTensors();
  try {
    for (let r = 0; r < ROUNDS; r++) {
      for (const t of tasks) {
        await timeTask(t);
        log(`  round ${r + 1}/${ROUNDS} ${t.name.padEnd(24)} wall p50 ${fmt(t.roundMedians[r])} ms, cpu p50 ${fmt(t.roundCpuMedians[r])} ms`);
      }
      if (torchReady) {
        if (r === 0) log(`  running ${PYTHON} bench/torch_step.py (torch.set_num_threads(1)) ...`);
        torchRound(r === 0);
        if (torchReady) {
          const res = torchRounds.length - 1;
          log(`  round ${r + 1}/${ROUNDS} ${"pytorch 1 thread".padEnd(24)} wall p50 ${fmt(torchRounds[res])} ms`);
        }
      }
    }
  } finally {
    for (const f of [`${prefix}.bin`, `${prefix}.json`, checkOut]) rmSync(f, { force: true });
  }
  const leaked = tfNumTensors() - tensors0;
  if (leaked > 0) log(`warning: tfjs tensors grew by ${leaked} during the timed wasm steps (a leak in the timed function)`);

  // ---- our step, phase by phase (the best build; before disposing it)
  const bdModel = ours[builds[0]]!.m;
  let bdPos = 0;
  const breakdown: Breakdown = breakdownStep(
    bdModel.model,
    bdModel.loss,
    bdModel.opt,
    () => {
      if (bdPos + BATCH > nBatches * BATCH) bdPos = 0;
      gatherBatch(train, order, bdPos, BATCH, bdModel.x, bdModel.labels);
      bdPos += BATCH;
      return bdModel.labels;
    },
    bdModel.x,
    BREAKDOWN_STEPS,
  );
  tfWasmSteppers.forEach((s) => s.dispose());

  // ---- tfjs cpu
  let tfCpuInfo: Awaited<ReturnType<typeof useTf>> | null = null;
  if (!NO_TFJS_CPU) {
    tfCpuInfo = await useTf("cpu");
    const label = "tfjs-cpu variableGrads";
    const c = await checkTf("variableGrads", label);
    if (c) {
      checks[label] = c;
      const { task, stepper } = tfTask("variableGrads", label, BUDGET_TFJS_CPU);
      await timeTask(task);
      log(`  ${task.name.padEnd(24)} wall p50 ${fmt(task.roundMedians[0])} ms`);
      tasks.push(task);
      stepper.dispose();
    }
  }

  for (const b of builds) ours[b]!.m.dispose();

  // ---- results
  const timings: Timing[] = tasks.map((t) => ({
    variant: t.name,
    wallMs: median(t.wall),
    cpuMs: median(t.cpu),
    wallMinMs: Math.min(...t.wall),
    samples: t.wall.length,
    rounds: t.roundMedians,
    check: checks[t.name],
  }));
  if (torch && torchReady) {
    timings.push({
      variant: "pytorch 1 thread",
      wallMs: median(torchWall),
      cpuMs: median(torchCpu),
      wallMinMs: Math.min(...torchWall),
      samples: torchWall.length,
      rounds: torchRounds,
      check: checks["pytorch 1 thread"],
      note: `torch ${torch.torch}, time.perf_counter / time.process_time`,
    });
  }
  const tfw = timings.filter((t) => t.variant.startsWith("tfjs-wasm"));
  const tfBest = tfw.length ? tfw.reduce((a, b) => (b.cpuMs < a.cpuMs ? b : a)) : null;
  const tfBestWall = tfw.length ? Math.min(...tfw.map((t) => t.wallMs)) : NaN;
  const pt = timings.find((t) => t.variant === "pytorch 1 thread") ?? null;

  log();
  const head = ["variant", "wall ms", "cpu ms", "steps/s", "vs tfjs-wasm", "(wall)", "vs PyTorch", "(wall)", "samples", "check"];
  const rows = timings.map((t) => [
    t.variant,
    fmt(t.wallMs),
    fmt(t.cpuMs),
    fmt(1000 / t.wallMs, 0),
    tfBest ? `${fmt(tfBest.cpuMs / t.cpuMs, 2)}x` : "-",
    tfBest ? `${fmt(tfBestWall / t.wallMs, 2)}x` : "-",
    pt ? `${fmt(pt.cpuMs / t.cpuMs, 2)}x` : "-",
    pt ? `${fmt(pt.wallMs / t.wallMs, 2)}x` : "-",
    String(t.samples),
    t.check ? t.check.maxErr.toExponential(1) : "-",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((s, i) => (i === 0 ? s.padEnd(widths[i]) : s.padStart(widths[i]))).join("  ");
  log(line(head));
  log(widths.map((w) => "-".repeat(w)).join("  "));
  rows.forEach((r) => log(line(r)));
  log();
  log("wall ms / cpu ms: medians per step of the wall clock and of the process's CPU time over the same samples;");
  log("steps/s = 1000 / wall ms. 'vs X' = X's median / this variant's median (> 1: faster than X), on CPU time,");
  log(`then on the wall clock; tfjs-wasm = the faster of its variants${tfBest ? ` (${tfBest.variant})` : ""}. check = the largest`);
  log("relative error of one step (loss and parameter updates) against the float64 reference step.");
  if (torchNote) log(torchNote);
  const load1 = loadavg();
  log(`load average at start ${load0.map((v) => v.toFixed(1)).join(" ")}, at end ${load1.map((v) => v.toFixed(1)).join(" ")} (${cpus().length} cores)`);

  // Targets.
  // Targets for the build init() picks here (the first of `builds`), and the plain SIMD one.
  const best = `wasm-${builds[0]}`;
  const simd = timings.find((t) => t.variant === best)!;
  const targets: Record<string, unknown> = {};
  log();
  if (tfBest) {
    const r = tfBest.cpuMs / simd.cpuMs, rw = tfBestWall / simd.wallMs;
    targets.tfjsWasm = { target: ">= 10x", ratioCpu: r, ratioWall: rw, met: r >= 10 };
    log(`target: ${best} >= 10x faster than tfjs-wasm: ${fmt(r, 2)}x (wall clock ${fmt(rw, 2)}x): ${r >= 10 ? "met" : "NOT met"}`);
  }
  if (pt) {
    const r = pt.cpuMs / simd.cpuMs, rw = pt.wallMs / simd.wallMs;
    targets.pytorch = { target: ">= 1x (no slower than PyTorch, 1 thread)", ratioCpu: r, ratioWall: rw, met: r >= 1 };
    log(`target: ${best} no slower than PyTorch 1 thread: ${fmt(r, 2)}x (wall clock ${fmt(rw, 2)}x): ${r >= 1 ? "met" : "NOT met"}`);
  } else log(`target: ${best} no slower than PyTorch 1 thread: not measured (${torchNote})`);

  // Breakdown.
  log();
  log(`where a step goes (medians over ${BREAKDOWN_STEPS} steps, ms; our best build${torch?.breakdownMs ? " next to PyTorch's" : ""}):`);
  const tb = torch?.breakdownMs;
  const torchPhase: Record<string, number | undefined> = tb
    ? {
        "copy batch": tb.copy,
        zeroGrad: tb.zero_grad,
        "forward (Sequential)": tb.forward,
        "loss forward": tb.loss,
        "loss backward": undefined,
        "backward (Sequential)": tb.backward,
        "SGD step": tb.sgd_step,
      }
    : {};
  for (const [k, v] of Object.entries(breakdown.phases)) {
    const tv = torchPhase[k];
    const extra = k === "backward (Sequential)" && tb ? "  (PyTorch: loss backward included)" : k === "loss forward" && tb ? `  (PyTorch .item(): ${fmt(tb.item, 4)})` : "";
    log(`  ${k.padEnd(24)} ${fmt(v, 4).padStart(8)}${tb ? `   pytorch ${fmt(tv, 4).padStart(8)}` : ""}${extra}`);
  }
  log(`  ${"sum".padEnd(24)} ${fmt(breakdown.phaseSum, 4).padStart(8)}${tb ? `   pytorch ${fmt(Object.values(tb).reduce((a, b) => a + b, 0), 4).padStart(8)}` : ""}`);
  log("  per layer (forward | backward, ms, GFLOP/s for Dense):");
  breakdown.forwardPerLayer.forEach((f, i) => {
    const b = breakdown.backwardPerLayer[i];
    const tf = torch?.forwardPerLayerMs?.[i];
    const g = (x?: number) => (x !== undefined ? ` (${fmt(x, 1)} GFLOP/s)` : "");
    log(`    ${f.layer.padEnd(28)} fwd ${fmt(f.ms, 4)}${g(f.gflops)}  bwd ${fmt(b.ms, 4)}${g(b.gflops)}${tf ? `   pytorch fwd ${fmt(tf.ms, 4)}` : ""}`);
  });

  mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
  const json = {
    bench: "train_step",
    date: new Date().toISOString(),
    machine: { cpu: cpus()[0]?.model ?? "?", cores: cpus().length, node: process.version, loadavgStart: load0, loadavgEnd: load1 },
    quick: QUICK,
    model: {
      layers: LAYERS,
      architecture: "Dense -> BatchNorm1d -> Sigmoid (x3) -> Dense(10), softmax cross-entropy",
      init: `N(0, ${INIT_STD}^2) weights, zero biases (buildPaperNetworks seed ${SEED})`,
      optimizer: `SGD lr ${LR}`,
      batch: BATCH,
      bn: { eps: EPS, momentum: MOMENTUM },
    },
    data: source,
    step: "copy the batch in, zeroGrad, forward, loss, backward, SGD step, loss read back",
    tfjs: { wasm: tfWasmInfo, cpu: tfCpuInfo },
    pytorch: torch ? { version: torch.torch, threads: torch.threads, blas: torch.blas, script: "bench/torch_step.py", timing: "time.perf_counter (wall) and time.process_time (CPU) per step, one child process per round" } : { skipped: torchNote },
    tolerance: TOL,
    checks,
    agreementWithOurs: tfVsOurs,
    skipped,
    timings,
    ratioBasis: "CPU-time medians (wall-clock ratios alongside)",
    targets,
    breakdown: { ours: breakdown, pytorch: torch ? { phasesMs: torch.breakdownMs, forwardPerLayerMs: torch.forwardPerLayerMs } : null },
  };
  writeFileSync(RESULTS, JSON.stringify(json, null, 2) + "\n");
  log(`\nwrote ${fileURLToPath(RESULTS)}`);
}

main().catch((e) => {
  if (e instanceof Refusal) {
    process.stderr.write(e.message + "\n");
    process.exit(2);
  }
  throw e;
});
