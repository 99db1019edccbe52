// npm run bench -- cifar [--quick] [--only=width 0.25] [--no-torch]
//
// One training step of the seed's CIFAR-10 Inception network (src/models/inception.ts,
// inceptionCifar({ width, dataFormat: 'channelsLast' }): Conv -> BatchNorm -> ReLU units) at
// batch 32, NHWC: TrainStep (src/training/step.ts: forward, cross-entropy, backward, SGD
// lr 0.01 momentum 0.9), on one seeded random batch (the values do not change the work). Width 1
// (the target's case: 3 x 2.80 GFLOP x 32 = 269 GFLOP a step) and the reduced widths 0.25 and
// 0.125; every build the engine runs (relaxed, simd; scalar at width 0.125 only, it is slow).
// GFLOP/s count 3x inceptionCifarCost's forward flops (convolutions and classifier) per image, on
// the CPU-time medians (the machine is shared), against the f32x4 mul+add peak (bench/peak/
// peak.ts) timed in the same group. Minutes per epoch: 50,000 images / batch x step time; for
// the seed's batch 250, estimated from the batch-32 time per image (a batch-250 step of the full
// network takes minutes: too long for a timed suite).
// Target: the whole step at width 1, simd build, >= 55% of the peak.
//
// Before timing, every build takes one step of the network at width 0.0625 and batch 4 (the same
// layers and kernels as the timed widths, seconds in float64), whose loss and the gradients of
// all 110 parameter tensors are compared with a float64 forward and backward of the same network
// composed from test/reference/ (bench/cifar/reference.ts); normwise per tensor, tolerance 2e-3.
// Rounding leaves them within ~1e-4; a wrong kernel anywhere moves some gradient by far more.
// One thing besides a bug moves them by 1e-2..3e-1: a decision flip. This small network's
// backward is ill-conditioned: a relative change of 1e-6 in a module's input (float32 rounding)
// moves its input gradient by ~1% through max-pool near-ties and ReLU signs (measured: the simd
// and scalar builds agree to 2e-7 on the same input, and differ by 0.8% after one more layer of
// each's own rounding). It depends on the batch and hits about one seeded batch in two or three
// here. So a build is checked on seeds 1, 2, ... (weights and batch) in turn and is timed once it
// agrees on one; one that agrees on none of five is refused (the run stops). Every attempt's
// errors are printed and kept in the results.
//
// Peers: PyTorch (one thread, bench/cifar/torch_inception.py: the same network, channels_last),
// checked on the same tiny step in float64 against the float64 reference (the same function:
// tolerance 1e-9, no decision flips), then timed in float32 per width in a child process a
// round; ratios are ours / PyTorch. tfjs-wasm cannot train a convolution (its wasm backend has no
// Conv2DBackpropFilter): shown as skipped with its error; tfjs-cpu: skipped, its convolution
// gradients run at ~0.02 GFLOP/s here (bench/conv.bench.ts), hours for one full-width step.
// Writes bench/results/cifar.json.
import { inceptionCifar, inceptionCifarCost } from "../src/models/inception.js";
import { backendInfo, type BuildName, CrossEntropyLoss, init, relaxedSimdSupported, SGD, type Tensor, tensor, TrainStep } from "../src/index.js";
import type { Module } from "../src/module.js";
import { compareGrads, type GradError, RefNet } from "./cifar/reference.js";
import { filterToNhwc, type TorchInfo, type TorchParam, torchStepGrads, torchStepTimes } from "./cifar/torch.js";
import { type Context, fmt, fmtMs, fmtX, gflops, keep, median, peakOf, type PeakTask, peakTasks, rng, runSuite, table, type Task, timeGroup, type Timing } from "./harness/index.js";

const BATCH = 32;
const SEED_BATCH = 250;
const EPOCH_IMAGES = 50_000;
const LR = 0.01;
const MOMENTUM = 0.9;
const TARGET = 0.55;
const CHECK = { width: 0.0625, batch: 4, seeds: [1, 2, 3, 4, 5] };
const TOL = 2e-3;
// PyTorch is checked in float64 against the float64 reference: the same function, to rounding.
const TORCH_TOL = 1e-9;
const PYTORCH = "pytorch 1 thread";

interface Case {
  label: string;
  width: number;
  builds: BuildName[];
}

function settings(quick: boolean) {
  const fast: BuildName[] = relaxedSimdSupported() ? ["relaxed", "simd"] : ["simd"];
  const cases: Case[] = [
    { label: "width 1", width: 1, builds: fast },
    { label: "width 0.25", width: 0.25, builds: fast },
    { label: "width 0.125", width: 0.125, builds: [...fast, "scalar"] },
  ];
  return {
    // --quick leaves out the full width (~10 s a step here): the target is then not measured.
    cases: quick ? cases.slice(1) : cases,
    rounds: quick ? 1 : 2,
    // Steps a round; one untimed warm-up step before the rounds (it also grows wasm memory).
    steps: (width: number) => (quick ? 1 : width >= 1 ? 2 : 3),
    peakBudget: { time: 150, warmupTime: 30, iterations: 5, warmupIterations: 2 },
  };
}

const stepFlops = (width: number, batch: number) => 3 * inceptionCifarCost({ width }).forwardFlopsPerImage * batch;
/** 50,000 images / batch x step time, in minutes. */
const minutesPerEpoch = (batch: number, stepMs: number) => ((EPOCH_IMAGES / batch) * stepMs) / 60_000;

interface Ours {
  name: string;
  step: TrainStep;
  x: Tensor;
  labels: Uint8Array;
  dispose(): void;
}

/** The network of one build (init({ build }) first: its tensors live in that build's memory) with a step on a batch. */
async function buildOurs(build: BuildName, width: number, batch: number, seed: number, xs: Float32Array, labels: Uint8Array): Promise<Ours> {
  await init({ build });
  if (backendInfo().build !== build) throw new Error(`bench: asked for the ${build} build, got ${backendInfo().build}`);
  const model = inceptionCifar({ width, dataFormat: "channelsLast", seed });
  const loss = new CrossEntropyLoss();
  const opt = new SGD(model.parameters(), { lr: LR, momentum: MOMENTUM });
  const x = tensor(xs, [batch, 32, 32, 3]);
  return {
    name: `wasm-${build}`,
    step: new TrainStep(model, loss, opt),
    x,
    labels,
    dispose() {
      model.dispose();
      loss.dispose();
      opt.dispose();
      x.dispose();
    },
  };
}

function batchOf(batch: number, seed: number): { xs: Float32Array; labels: Uint8Array } {
  const r = rng(seed);
  return { xs: Float32Array.from({ length: batch * 32 * 32 * 3 }, () => r.uniform()), labels: Uint8Array.from({ length: batch }, () => Math.floor(r.uniform() * 10)) };
}

// ---------------------------------------------------------------- the check

interface CheckRef {
  xs: Float32Array;
  labels: Uint8Array;
  keys: string[];
  loss: number;
  grads: Float64Array[];
  weights: Float64Array[];
  params: TorchParam[];
}

/** The float64 step of the check network at a seed (weights and batch), from a model built with that seed. */
function referenceAt(ctx: Context, model: Module, xs: Float32Array, labels: Uint8Array, seed: number): CheckRef {
  const t0 = performance.now();
  const net = new RefNet(model);
  const r = net.lossAndGrads(xs, [CHECK.batch, 32, 32, 3], labels);
  const sd = model.stateDict();
  const params = net.params.map((p): TorchParam => {
    const s = p.param.value.shape;
    return [p.key, s.length === 4 ? [s[0], s[3], s[1], s[2]] : [...s], sd[p.key] as Float32Array];
  });
  ctx.log(`float64 reference step, seed ${seed}: ${net.params.length} parameter tensors, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return { xs, labels, keys: net.params.map((p) => p.key), ...r, weights: net.params.map((p) => p.value), params };
}

/**
 * Every variant's step at CHECK's width and batch against the float64 reference, on the seeds in
 * turn until one agrees within TOL (a decision flip fails one seed; a wrong kernel fails all).
 */
async function check(ctx: Context, builds: BuildName[]): Promise<{ errors: Record<string, GradError[]>; torch: TorchInfo | null }> {
  const { width, batch, seeds } = CHECK;
  const label = `width ${width} batch ${batch}`;
  const refs = new Map<number, CheckRef>();
  const errors: Record<string, GradError[]> = {};
  const attempt = (name: string, seed: number, e: GradError, tol = TOL): boolean => {
    (errors[name] ??= []).push(e);
    const ok = e.maxErr <= tol;
    ctx.log(`check ${name}, seed ${seed}: one step vs float64 reference: ${e.worst}${ok ? "" : ` > ${tol}: not agreeing on this batch`}`);
    return ok;
  };
  for (const build of builds) {
    for (const seed of seeds) {
      const { xs, labels } = batchOf(batch, seed);
      const o = await buildOurs(build, width, batch, seed, xs, labels);
      const model = o.step.model;
      let ref = refs.get(seed);
      if (!ref) refs.set(seed, (ref = referenceAt(ctx, model, xs, labels, seed)));
      else if (model.parameters().some((p, i) => !p.value.data.every((v, j) => v === ref!.weights[i][j]))) throw new Error(`bench: the ${build} build's initial weights differ at seed ${seed}`);
      const loss = o.step.run(o.x, o.labels);
      const e = compareGrads(ref.keys, ref, loss, model.parameters().map((p) => p.grad.toArray()));
      o.dispose();
      if (attempt(`wasm-${build}`, seed, e)) break;
    }
    const worst = errors[`wasm-${build}`].reduce((m, e) => Math.min(m, e.maxErr), Infinity);
    ctx.check.requireError(`wasm-${build}`, label, "loss and gradients", worst, TOL, `best of seeds ${seeds.join(", ")}: ${worst.toExponential(2)}`);
  }
  let torch: TorchInfo | null = null;
  if (ctx.peers.torch()) {
    let best = Infinity;
    for (const seed of seeds) {
      let ref = refs.get(seed);
      if (!ref) {
        const { xs, labels } = batchOf(batch, seed);
        const o = await buildOurs(builds[0], width, batch, seed, xs, labels);
        refs.set(seed, (ref = referenceAt(ctx, o.step.model, xs, labels, seed)));
        o.dispose();
      }
      const t = torchStepGrads(ctx.peers, width, ref.xs, ref.labels, ref.params);
      const grads = t.grads.map((g, i) => (ref.params[i][1].length === 4 ? filterToNhwc(g, ref.params[i][1]) : g));
      const e = compareGrads(ref.keys, ref, t.loss, grads);
      best = Math.min(best, e.maxErr);
      if (attempt(PYTORCH, seed, e, TORCH_TOL)) {
        torch = t.info;
        break;
      }
    }
    if (ctx.check.acceptError(PYTORCH, label, "loss and gradients in float64", best, TORCH_TOL, `best of the seeds checked: ${best.toExponential(2)}`) && torch) {
      ctx.log(`pytorch ${torch.torch}, ${torch.threads} thread, mkldnn ${torch.mkldnn}, CPU capability ${torch.cpu_capability ?? "?"}`);
    } else torch = null;
  }
  return { errors, torch };
}

// ---------------------------------------------------------------- tfjs, skipped with reasons

async function skipTfjs(ctx: Context): Promise<void> {
  if (await ctx.peers.useTf("wasm")) {
    const tf = await import("@tensorflow/tfjs");
    const x = tf.zeros([1, 4, 4, 2]) as import("@tensorflow/tfjs").Tensor4D, w = tf.zeros([3, 3, 2, 2]) as import("@tensorflow/tfjs").Tensor4D;
    let why = "";
    try {
      tf.grads((a, b) => tf.conv2d(a as typeof x, b as typeof w, 1, "same"))([x, w]).forEach((t) => t.dispose());
    } catch (e) {
      why = e instanceof Error ? e.message : String(e);
    } finally {
      x.dispose();
      w.dispose();
    }
    ctx.peers.skip("tfjs-wasm", why ? `cannot train a convolution: tf.grads(conv2d) fails with "${why}"` : "conv2d gradients work here, but this suite has no tfjs model of the network");
  }
  ctx.peers.skip("tfjs-cpu", "its conv2d gradients run at ~0.02 GFLOP/s here (npm run bench -- conv): ~4 hours for one full-width step (269 GFLOP), minutes even at width 0.125");
}

// ---------------------------------------------------------------- one group: a width

interface VariantResult extends Timing {
  variant: string;
  gflops: number;
  share?: number;
  minPerEpoch: number;
  minPerEpochSeedBatch: number;
  xPytorch?: number;
}

interface GroupResult {
  label: string;
  width: number;
  parameters: number;
  flopsPerStep: number;
  peakGflops: number;
  peakLoops: Record<string, number>;
  variants: Record<string, VariantResult>;
}

async function runGroup(ctx: Context, S: ReturnType<typeof settings>, c: Case, peak: PeakTask[], torch: boolean): Promise<GroupResult> {
  const { xs, labels } = batchOf(BATCH, 7);
  const flops = stepFlops(c.width, BATCH), steps = S.steps(c.width);
  const budget = { time: 0, warmupTime: 0, iterations: steps, warmupIterations: 0 };
  ctx.log(`\n${c.label}: ${fmt(flops / 1e9, 1)} GFLOP a step; ${S.rounds} round(s) of ${steps} step(s) per variant after one warm-up step`);
  const ours: Ours[] = [];
  try {
    const tasks: Task[] = peak.map((p) => ({ ...p, budget: S.peakBudget }));
    for (const b of c.builds) {
      const o = await buildOurs(b, c.width, BATCH, 0, xs, labels);
      ours.push(o);
      const t0 = performance.now();
      keep(o.step.run(o.x, o.labels));
      ctx.log(`  warm-up ${o.name}: ${fmtMs(performance.now() - t0)} ms`);
      tasks.push({ name: o.name, fn: () => keep(o.step.run(o.x, o.labels)), budget });
    }
    if (torch) tasks.push({ name: PYTORCH, external: () => torchStepTimes(ctx.peers, c.width, BATCH, { warmup: 1, minSteps: steps }) });
    const t = await timeGroup(tasks, { budget, rounds: S.rounds, log: (l) => (l.includes("peak") ? undefined : ctx.log(l)) });
    const pk = peakOf(peak, t, "cpu");
    const res: GroupResult = { label: c.label, width: c.width, parameters: inceptionCifarCost({ width: c.width }).parameters, flopsPerStep: flops, peakGflops: pk.gflops, peakLoops: pk.loops, variants: {} };
    const pt = t.get(PYTORCH);
    for (const [name, tm] of t) {
      if (name.startsWith("peak")) continue;
      const gf = gflops(flops, tm.cpuMs);
      res.variants[name] = {
        variant: name, ...tm, gflops: gf,
        ...(name === PYTORCH ? {} : { share: gf / pk.gflops, ...(pt ? { xPytorch: pt.cpuMs / tm.cpuMs } : {}) }),
        minPerEpoch: minutesPerEpoch(BATCH, tm.cpuMs),
        // The batch-250 step estimated as 250 images at the batch-32 time per image.
        minPerEpochSeedBatch: minutesPerEpoch(SEED_BATCH, (SEED_BATCH / BATCH) * tm.cpuMs),
      };
    }
    return res;
  } finally {
    for (const o of ours) o.dispose();
  }
}

// ---------------------------------------------------------------- report

function report(ctx: Context, groups: GroupResult[]): Record<string, string> {
  const rows: string[][] = [];
  for (const g of groups) {
    Object.values(g.variants).forEach((v, i) => {
      rows.push([
        g.label, i === 0 ? fmt(g.peakGflops, 1) : "", v.variant, fmtMs(v.cpuMs), fmtMs(v.ms), fmt(v.gflops, 1), v.share === undefined ? "" : `${fmt(100 * v.share, 0)}%`,
        fmt(v.minPerEpoch, 1), fmt(v.minPerEpochSeedBatch, 1), v.xPytorch === undefined ? "" : fmtX(v.xPytorch),
      ]);
    });
  }
  ctx.log("\n### One training step, batch 32, NHWC\n");
  ctx.log(table(["net", "peak GFLOP/s", "variant", "ms/step", "wall ms", "GFLOP/s", "% peak", "min/epoch b32", "min/epoch b250 (est.)", "x PyTorch"], rows, { group: true }));
  ctx.log("\nms/step, GFLOP/s: CPU-time medians (wall ms: wall-clock medians); a step is 3x the forward flops of the convolutions");
  ctx.log("and the classifier. peak: the f32x4 mul+add loop timed in the same group, % peak: of it. min/epoch: 50,000 images");
  ctx.log(`/ batch x step time; b250: the seed's batch, ESTIMATED from the batch-32 time per image (not measured: the full`);
  ctx.log("batch-250 step is run in memory-lean mode by the cifar command; this suite times batch 32). x PyTorch: our speed");
  ctx.log("over PyTorch's (PyTorch's time / ours; < 1: PyTorch is faster), PyTorch on one thread, channels_last. tfjs: see skipped.\n");
  const full = groups.find((g) => g.width === 1)?.variants["wasm-simd"];
  const targets: Record<string, string> = {};
  targets["simd width 1 step"] = full?.share !== undefined
    ? `${fmt(100 * full.share, 1)}% of the peak (${fmt(full.gflops, 1)} GFLOP/s, ${fmtMs(full.cpuMs)} ms; target >= ${fmt(100 * TARGET, 0)}%): ${full.share >= TARGET ? "MET" : "MISS"}`
    : "not measured (width 1 left out by --quick or --only)";
  for (const [k, v] of Object.entries(targets)) ctx.log(`target ${k}: ${v}`);
  return targets;
}

// ---------------------------------------------------------------- main

await runSuite({
  name: "cifar",
  title: "cifar step bench",
  results: "cifar",
  reference: "bench/cifar/reference.ts (from test/reference/)",
  fix: "npx vitest run test/conv_layers.test.ts test/pool_kernels.test.ts test/bn_layer.test.ts test/containers.test.ts",
  async run(ctx) {
    const S = settings(ctx.quick);
    const cases = ctx.select(S.cases);
    if (!relaxedSimdSupported()) ctx.log("note: this engine does not run relaxed SIMD (Node 20 needs --experimental-wasm-relaxed-simd); timing simd and scalar");
    ctx.log(`model: inceptionCifar({ width, dataFormat: 'channelsLast' }), BN (scale false, eps 1e-3), SGD lr ${LR} momentum ${MOMENTUM}, batch ${BATCH}, a seeded random batch`);
    const builds = [...new Set(cases.flatMap((c) => c.builds))];
    const { errors, torch } = await check(ctx, builds);
    await skipTfjs(ctx);
    // The peak loops, 8 calls a sample (~2 ms), timed in every group.
    const peak: PeakTask[] = (await peakTasks()).map((p) => ({ name: p.name, flops: 8 * p.flops, fn: () => {
      for (let i = 0; i < 8; i++) p.fn();
    } }));
    const groups: GroupResult[] = [];
    for (const c of cases) groups.push(await runGroup(ctx, S, c, peak, torch !== null));
    const targets = report(ctx, groups);
    const peaks = groups.map((g) => g.peakGflops);
    return {
      batch: BATCH,
      peak: { source: "bench/peak/peak.ts: the fastest of peak_chains, peak_tile, peak_indep, per group", median: median(peaks), perGroup: peaks },
      check: { ...CHECK, tolerance: TOL, reference: "bench/cifar/reference.ts", errors },
      pytorch: torch ? { torch: torch.torch, threads: torch.threads, mkldnn: torch.mkldnn, cpuCapability: torch.cpu_capability } : null,
      epoch: { images: EPOCH_IMAGES, seedBatch: SEED_BATCH, seedBatchNote: "estimated from the batch-32 time per image" },
      targets,
      groups,
    };
  },
});
