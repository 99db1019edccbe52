// npm run bench -- step [--quick] [--no-torch] [--no-tfjs-cpu] [--data=DIR]
//
// One full training step of Ioffe & Szegedy's MNIST network (784-100-100-100-10 sigmoid,
// BatchNorm1d before each sigmoid, weights N(0, 0.1^2), SGD lr 0.5, batch 60: the model of
// src/experiments/mnist_paper.ts, built by its buildPaperNetworks):
//   - this library, every build the engine runs (relaxed, simd, scalar);
//   - @tensorflow/tfjs 4.22 on its wasm backend: the same model as a tf.layers sequential,
//     with model.trainOnBatch and with a custom tf.variableGrads + optimizer.applyGradients
//     step (bench/step/tfjs.ts); the ratio uses the faster of the two; on its cpu backend;
//   - PyTorch with one thread (bench/step/torch_step.py), where it is installed.
// A step is what a training loop does per mini-batch: copy the batch's 60 rows out of the
// training images into the model's input (for us a tensor in wasm memory, src/experiments/
// data/dataset.ts gatherSamples; for tfjs a Float32Array then tf.tensor2d; for PyTorch index_select
// into a preallocated tensor), zeroGrad, forward, loss, backward, SGD step; the loss is read
// back (a number for us, dataSync / await / .item() for the others), so all work is done
// inside the timed call. Data: real MNIST from ../shared/data/mnist when present (--data=DIR
// or MNIST_DIR to point elsewhere), otherwise the embedded 10,000 digits; the batches follow
// one seeded shuffle of the training set.
// Before timing, every variant takes one step from the same initial weights on the same batch,
// compared with a float64 reference step (bench/step/reference.ts). Ours, tfjs-wasm and
// PyTorch are timed in interleaved rounds (PyTorch in a child process per round); ratios and
// targets use the CPU-time medians, the wall-clock ratios are printed too. Prints a table
// and a breakdown of our step next to PyTorch's; bench/results/train_step.json.
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gatherSamples, toSamples } from "../src/data/dataset.js";
import { TrainStep } from "../src/training/step.js";
import { buildPaperNetworks } from "../src/experiments/mnist_paper.js";
import { backendInfo, BatchNorm1d, type BuildName, CrossEntropyLoss, Dense, init, loadEmbeddedMnist, loadMnist, type MnistSplit, relaxedSimdSupported, Rng, SGD, type Sequential, type Tensor, tensor } from "../src/index.js";
import { type Budget, type Context, fmt, ratio, runSuite, table, type Task, timeGroup, type Timing } from "./harness/index.js";
import { type Breakdown, breakdownStep } from "./step/breakdown.js";
import { compareStep, referenceStep, type RefStep, type StepError, withUpdates, worst } from "./step/reference.js";
import { type DenseInit, makeTfStepper, type TfStepKind, type TfStepper } from "./step/tfjs.js";
import { type NamedParam, readTorchCheck, type TorchResult, writeTorchData } from "./step/torch.js";

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
const CHECK = "one step";
const PYTORCH = "pytorch 1 thread";
const TORCH_SCRIPT = fileURLToPath(new URL("./step/torch_step.py", import.meta.url));

function settings(quick: boolean) {
  return {
    rounds: quick ? 1 : 3,
    ours: { time: quick ? 400 : 1500, warmupTime: quick ? 100 : 300, iterations: 50, warmupIterations: 20 },
    tfjsWasm: { time: quick ? 500 : 2000, warmupTime: quick ? 100 : 300, iterations: 15, warmupIterations: 3 },
    tfjsCpu: { time: 0, warmupTime: 0, iterations: quick ? 2 : 5, warmupIterations: 1 },
    torch: quick ? ["--min-seconds", "0.5", "--min-steps", "200"] : ["--min-seconds", "1.5", "--min-steps", "500"],
    breakdownSteps: quick ? 200 : 1000,
  };
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
function namedParams(model: Sequential): NamedParam[] {
  const out: NamedParam[] = [];
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

/** The training set: MNIST from --data / MNIST_DIR / ../shared/data/mnist, or the embedded digits. */
async function loadTrain(ctx: Context): Promise<{ train: MnistSplit; source: string }> {
  const dir = ctx.arg("data") ?? process.env.MNIST_DIR ?? fileURLToPath(new URL("../../shared/data/mnist/", import.meta.url));
  try {
    const d = await loadMnist({ dir });
    return { train: d.train, source: d.source };
  } catch (e) {
    const d = await loadEmbeddedMnist({ seed: SEED });
    ctx.log(`note: no MNIST at ${dir} (${(e as Error).message.split(";")[0]}); using the embedded digits`);
    return { train: d.train, source: d.source };
  }
}

async function run(ctx: Context): Promise<Record<string, unknown>> {
  const S = settings(ctx.quick);
  ctx.log(`model: 784-${HIDDEN.join("-")}-10, Dense -> BatchNorm1d -> Sigmoid (x3) -> Dense(10), N(0, ${INIT_STD}^2) init, SGD lr ${LR}, batch ${BATCH}`);
  const { train, source } = await loadTrain(ctx);
  ctx.log(`data: ${source} (${train.count} training images)`);
  const order = new Rng(SEED).permutation(train.count);
  const trainSamples = toSamples(train, "MNIST training set");
  const nBatches = Math.floor(train.count / BATCH);
  const checkX = new Float32Array(BATCH * LAYERS[0]);
  const checkY = new Uint8Array(BATCH);
  gatherRows(train, order, 0, BATCH, checkX, checkY);
  const checks: Record<string, StepError> = {};
  const agreementWithOurs: Record<string, number> = {};
  const tasks: Task[] = [];

  // ---- ours, every build: check one step, then the timed model
  // The relaxed-SIMD build (fused multiply-add GEMM) where the engine runs it: Node 22+,
  // or Node 20 with --experimental-wasm-relaxed-simd (npm run bench passes it).
  const builds: BuildName[] = relaxedSimdSupported() ? ["relaxed", "simd", "scalar"] : ["simd", "scalar"];
  if (!relaxedSimdSupported()) ctx.log("note: this engine does not run relaxed SIMD; timing the simd and scalar builds only");
  const ours: Partial<Record<BuildName, OurModel>> = {};
  let ref!: RefStep, initParams!: NamedParam[], dense!: DenseInit[], oursRef!: RefStep;
  for (const build of builds) {
    await init({ build });
    if (backendInfo().build !== build) throw new Error(`bench: asked for the ${build} build, got ${backendInfo().build}`);
    const c = buildOurs();
    const params = namedParams(c.model);
    if (!ref) {
      ref = referenceStep(c.model, checkX, BATCH, checkY, LR);
      initParams = params;
      dense = denseInits(c.model);
    } else {
      // Every build must start from the same weights (same seeds).
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
    c.dispose();
    const name = `wasm-${build}`;
    const e = (checks[name] = compareStep(ref, l, after));
    ctx.check.requireError(name, CHECK, "training step", e.maxErr, TOL, worst(e));
    ctx.log(`check ${name}: one step vs float64 reference: ${worst(e)} (tolerance ${TOL})`);
    if (build === "simd") oursRef = withUpdates(ref, after);

    const m = (ours[build] = buildOurs());
    // The library's own step (the one fit() and the experiments run).
    const step = new TrainStep(m.model, m.loss, m.opt);
    let pos = 0;
    tasks.push({
      name,
      fn: (): number => {
        if (pos + BATCH > nBatches * BATCH) pos = 0;
        gatherSamples(m.x, m.labels, trainSamples, order, pos, BATCH);
        pos += BATCH;
        return step.run(m.x, m.labels);
      },
      budget: S.ours,
    });
  }

  // ---- tfjs: check a step of each kind, then the stepper to time
  const tfOpts = { lr: LR, eps: EPS, momentum: MOMENTUM, batch: BATCH, classes: CLASSES };
  async function tfTask(kind: TfStepKind, name: string, budget: Budget): Promise<{ task: Task; stepper: TfStepper } | null> {
    const c = makeTfStepper(kind, dense, tfOpts);
    const l = await c.step(checkX, checkY);
    const after = c.params();
    c.dispose();
    const e = (checks[name] = compareStep(ref, l, after));
    agreementWithOurs[name] = compareStep(oursRef, l, after).maxErr;
    if (!ctx.check.acceptError(name, CHECK, "training step", e.maxErr, TOL, worst(e))) return null;
    ctx.log(`check ${name}: one step vs float64 reference: ${worst(e)}; vs ours ${agreementWithOurs[name].toExponential(2)}`);
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
    return { task: { name, fn, async: kind === "trainOnBatch", budget }, stepper: s };
  }
  const tfWasm: TfStepper[] = [];
  if (await ctx.peers.useTf("wasm")) {
    for (const kind of ["variableGrads", "trainOnBatch"] as TfStepKind[]) {
      const t = await tfTask(kind, `tfjs-wasm ${kind}`, S.tfjsWasm);
      if (t) {
        tasks.push(t.task);
        tfWasm.push(t.stepper);
      }
    }
  }

  // ---- PyTorch: its data file (the same images, batch order, initial weights), one check
  // step and the breakdown in a first run, then a child process per timing round
  let torch: TorchResult | null = null;
  const prefix = join(tmpdir(), `train_step_torch_${process.pid}`);
  const checkOut = `${prefix}.check.bin`;
  let timings: Map<string, Timing>;
  try {
    if (ctx.peers.torch()) {
      writeTorchData(prefix, { train, order, params: initParams, checkX, checkY, source, meta: { layers: LAYERS, batch: BATCH, lr: LR, eps: EPS, momentum: MOMENTUM } });
      const args = ["--data", prefix, "--threads", "1"];
      ctx.log(`  running ${ctx.peers.torch()} bench/step/torch_step.py (torch.set_num_threads(1)) ...`);
      const first = ctx.peers.runTorch<TorchResult>(TORCH_SCRIPT, [...args, "--check-out", checkOut, "--breakdown", "--min-seconds", "0", "--min-steps", "300"]);
      const { loss, after } = readTorchCheck(checkOut, initParams);
      const e = (checks[PYTORCH] = compareStep(ref, loss, after));
      agreementWithOurs.pytorch = compareStep(oursRef, loss, after).maxErr;
      if (ctx.check.acceptError(PYTORCH, CHECK, "training step", e.maxErr, TOL, worst(e))) {
        ctx.log(`check pytorch: one step vs float64 reference: ${worst(e)}; vs ours ${agreementWithOurs.pytorch.toExponential(2)}`);
        ctx.log(`pytorch ${first.torch}, ${first.threads} thread, BLAS ${first.blas.map((q) => q.split("/").pop()).join(", ") || "?"}`);
        torch = first;
        tasks.push({
          name: PYTORCH,
          external: () => {
            const r = ctx.peers.runTorch<TorchResult>(TORCH_SCRIPT, [...args, "--samples", ...S.torch]);
            return { wall: r.wallSamples ?? [], cpu: r.cpuSamples ?? [] };
          },
        });
      }
    }

    // ---- timing rounds: ours and tfjs-wasm in process, PyTorch in a child process, interleaved
    const tensors0 = tfWasm.length ? await ctx.peers.tfTensors() : 0;
    timings = await timeGroup(tasks, { budget: S.ours, rounds: S.rounds, log: ctx.log });
    const leaked = tfWasm.length ? (await ctx.peers.tfTensors()) - tensors0 : 0;
    if (leaked > 0) ctx.log(`warning: tfjs tensors grew by ${leaked} during the timed wasm steps (a leak in the timed function)`);
  } finally {
    for (const f of [`${prefix}.bin`, `${prefix}.json`, checkOut]) rmSync(f, { force: true });
  }

  // ---- our step, phase by phase (the best build)
  const bd = ours[builds[0]]!;
  let bdPos = 0;
  const breakdown: Breakdown = breakdownStep(
    bd.model,
    bd.loss,
    bd.opt,
    () => {
      if (bdPos + BATCH > nBatches * BATCH) bdPos = 0;
      gatherSamples(bd.x, bd.labels, trainSamples, order, bdPos, BATCH);
      bdPos += BATCH;
      return bd.labels;
    },
    bd.x,
    S.breakdownSteps,
  );
  tfWasm.forEach((s) => s.dispose());
  for (const b of builds) ours[b]!.dispose();

  // ---- tfjs cpu (slow: a few steps, after the rounds)
  if (await ctx.peers.useTf("cpu")) {
    const t = await tfTask("variableGrads", "tfjs-cpu variableGrads", S.tfjsCpu);
    if (t) {
      const tc = await timeGroup([t.task], { budget: S.tfjsCpu, log: ctx.log });
      for (const [k, v] of tc) timings.set(k, v);
      t.stepper.dispose();
    }
  }

  // ---- results
  const rows = [...timings].map(([variant, t]) => ({ variant, ...t, check: checks[variant] }));
  const tfw = rows.filter((t) => t.variant.startsWith("tfjs-wasm"));
  const tfBest = tfw.length ? tfw.reduce((a, b) => (b.cpuMs < a.cpuMs ? b : a)) : null;
  const tfBestWall = tfw.length ? tfw.reduce((a, b) => (b.ms < a.ms ? b : a)) : null;
  const pt = timings.get(PYTORCH) ?? null;
  ctx.log();
  ctx.log(
    table(
      ["variant", "wall ms", "cpu ms", "steps/s", "vs tfjs-wasm", "(wall)", "vs PyTorch", "(wall)", "samples", "check"],
      rows.map((t) => [
        t.variant,
        fmt(t.ms),
        fmt(t.cpuMs),
        fmt(1000 / t.ms, 0),
        tfBest ? `${fmt(ratio(tfBest, t, "cpu"), 2)}x` : "-",
        tfBestWall ? `${fmt(ratio(tfBestWall, t), 2)}x` : "-",
        pt ? `${fmt(ratio(pt, t, "cpu"), 2)}x` : "-",
        pt ? `${fmt(ratio(pt, t), 2)}x` : "-",
        String(t.samples),
        t.check ? t.check.maxErr.toExponential(1) : "-",
      ]),
    ),
  );
  ctx.log();
  ctx.log("wall ms / cpu ms: medians per step of the wall clock and of the process's CPU time over the same samples;");
  ctx.log("steps/s = 1000 / wall ms. 'vs X' = X's median / this variant's median (> 1: faster than X), on CPU time,");
  ctx.log(`then on the wall clock; tfjs-wasm = the faster of its variants${tfBest ? ` (${tfBest.variant})` : ""}. check = the largest`);
  ctx.log("relative error of one step (loss and parameter updates) against the float64 reference step.");

  // Targets for the build init() picks here (the first of `builds`).
  const best = `wasm-${builds[0]}`;
  const ob = timings.get(best)!;
  const targets: Record<string, unknown> = {};
  ctx.log();
  if (tfBest && tfBestWall) {
    const r = ratio(tfBest, ob, "cpu"), rw = ratio(tfBestWall, ob);
    targets.tfjsWasm = { target: ">= 10x", ratioCpu: r, ratioWall: rw, met: r >= 10 };
    ctx.log(`target: ${best} >= 10x faster than tfjs-wasm: ${fmt(r, 2)}x (wall clock ${fmt(rw, 2)}x): ${r >= 10 ? "met" : "NOT met"}`);
  }
  if (pt) {
    const r = ratio(pt, ob, "cpu"), rw = ratio(pt, ob);
    targets.pytorch = { target: ">= 1x (no slower than PyTorch, 1 thread)", ratioCpu: r, ratioWall: rw, met: r >= 1 };
    ctx.log(`target: ${best} no slower than PyTorch 1 thread: ${fmt(r, 2)}x (wall clock ${fmt(rw, 2)}x): ${r >= 1 ? "met" : "NOT met"}`);
  } else ctx.log(`target: ${best} no slower than PyTorch 1 thread: not measured (${ctx.peers.skipped.find((s) => s.variant === "pytorch")?.reason ?? "it disagreed with the reference step"})`);

  printBreakdown(ctx, breakdown, torch, S.breakdownSteps);
  return {
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
    pytorch: torch ? { version: torch.torch, threads: torch.threads, blas: torch.blas, script: "bench/step/torch_step.py", timing: "time.perf_counter (wall) and time.process_time (CPU) per step, one child process per round" } : null,
    settings: S,
    tolerance: TOL,
    checks,
    agreementWithOurs,
    timings: rows,
    ratioBasis: "CPU-time medians (wall-clock ratios alongside)",
    targets,
    breakdown: { ours: breakdown, pytorch: torch ? { phasesMs: torch.breakdownMs, forwardPerLayerMs: torch.forwardPerLayerMs } : null },
  };
}

function printBreakdown(ctx: Context, breakdown: Breakdown, torch: TorchResult | null, steps: number): void {
  const tb = torch?.breakdownMs;
  ctx.log();
  ctx.log(`where a step goes (medians over ${steps} steps, ms; our best build${tb ? " next to PyTorch's" : ""}):`);
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
    const extra = k === "backward (Sequential)" && tb ? "  (PyTorch: loss backward included)" : k === "loss forward" && tb ? `  (PyTorch .item(): ${fmt(tb.item, 4)})` : "";
    ctx.log(`  ${k.padEnd(24)} ${fmt(v, 4).padStart(8)}${tb ? `   pytorch ${fmt(torchPhase[k], 4).padStart(8)}` : ""}${extra}`);
  }
  ctx.log(`  ${"sum".padEnd(24)} ${fmt(breakdown.phaseSum, 4).padStart(8)}${tb ? `   pytorch ${fmt(Object.values(tb).reduce((a, b) => a + b, 0), 4).padStart(8)}` : ""}`);
  ctx.log("  per layer (forward | backward, ms, GFLOP/s for Dense):");
  breakdown.forwardPerLayer.forEach((f, i) => {
    const b = breakdown.backwardPerLayer[i];
    const tf = torch?.forwardPerLayerMs?.[i];
    const g = (x?: number) => (x !== undefined ? ` (${fmt(x, 1)} GFLOP/s)` : "");
    ctx.log(`    ${f.layer.padEnd(28)} fwd ${fmt(f.ms, 4)}${g(f.gflops)}  bwd ${fmt(b.ms, 4)}${g(b.gflops)}${tf ? `   pytorch fwd ${fmt(tf.ms, 4)}` : ""}`);
  });
}

await runSuite({
  name: "step",
  title: "train-step bench",
  results: "train_step",
  reference: "the float64 reference step (bench/step/reference.ts, test/reference_layers.ts)",
  fix: "npx vitest run test/train.test.ts test/sequential.test.ts",
  flags: { data: "the MNIST directory (default: MNIST_DIR, then ../shared/data/mnist, then the embedded digits)" },
  run,
});
