// Ioffe & Szegedy 2015, section 4.1 and Figure 1: a 784-100-100-100-10 sigmoid network on
// MNIST, trained with and without Batch Normalization from the same initial weights, on
// the same mini-batches, with the same learning rate. Every `evalEvery` steps both networks
// are evaluated (eval mode, the whole test set): test accuracy (Figure 1a) and the 15th,
// 50th and 85th percentiles, over the test images, of the input to one fixed sigmoid of the
// last hidden layer (Figure 1b, 1c). For the BN network that input is the BatchNorm1d
// output (what the sigmoid sees), for the plain one the Dense output.
//
// Setup, as the paper and the usual PyTorch replication: weights ~ N(0, 0.1^2) ("small
// random Gaussian values"), zero biases, plain SGD (no momentum, no weight decay), learning
// rate 0.5, mini-batches of 60 drawn from a fresh shuffle of the training set each epoch,
// softmax cross-entropy. Both networks keep the Dense bias, so that they differ only by the
// BatchNorm1d layers (BN's beta makes that bias redundant: its gradient through BN is zero).
import { getBackend } from "../backend.js";
import { BatchNorm1d } from "../layers/batchnorm.js";
import type { MnistData } from "../data/mnist.js";
import { Sigmoid } from "../layers/activations.js";
import { Dense } from "../layers/dense.js";
import { CrossEntropyLoss } from "../loss.js";
import type { Module } from "../module.js";
import { SGD } from "../optim/sgd.js";
import { lineChart } from "../plot/svg.js";
import { Rng } from "../random.js";
import { Sequential } from "../layers/sequential.js";
import { zeros } from "../tensor.js";
import { gatherSamples, toSamples } from "../data/dataset.js";
import { Evaluator } from "../training/evaluate.js";
import { TrainStep } from "../training/step.js";
import { type DataOptions, loadData, type Log, percentilesOf, round, secondsSince } from "./common.js";

export interface MnistPaperOptions extends DataOptions {
  /** Training steps (mini-batches). The paper: 50,000. Default 2000. */
  steps?: number;
  /** SGD learning rate. Default 0.5. */
  lr?: number;
  /** Mini-batch size. Default 60. */
  batchSize?: number;
  /** Evaluate every this many steps (and after the last). Default defaultEvalEvery(steps). */
  evalEvery?: number;
  /** Seed of the weights (the same for both networks), of the batch order and of the embedded data's split. Default 0. */
  seed?: number;
  /** Standard deviation of the initial weights. Default 0.1. */
  initStd?: number;
  /** Width of the hidden layers. Default [100, 100, 100]. */
  hidden?: readonly number[];
  /** Which unit of the last hidden layer is probed. Default 0. */
  probeUnit?: number;
  /** Percentiles over the first this many test images (default: all of them). */
  probeImages?: number;
  /** Rows per evaluation forward pass. Default 500. */
  evalBatchSize?: number;
}

export interface NetworkCurves {
  steps: number[];
  testAccuracy: number[];
  percentiles: { p15: number[]; p50: number[]; p85: number[] };
}

export interface MnistPaperResult {
  config: MnistPaperConfig;
  networks: { bn: NetworkCurves; plain: NetworkCurves };
  wallTimeSeconds: number;
}

export interface MnistPaperConfig {
  experiment: "mnist-paper";
  reference: string;
  data: string;
  trainImages: number;
  testImages: number;
  architecture: string;
  networks: { bn: string; plain: string };
  denseBias: boolean;
  denseBiasNote: string;
  init: string;
  batchNorm: string;
  optimizer: string;
  loss: string;
  lr: number;
  batchSize: number;
  steps: number;
  evalEvery: number;
  seed: number;
  batchOrder: string;
  evaluation: string;
  probe: { layer: string; unit: number; testImages: number; what: string };
  backend: string;
}

/** steps/50 (at least 1), at most 500: 40 for the 2000-step default, 500 for the paper's 50,000. */
export function defaultEvalEvery(steps: number): number {
  return Math.max(1, Math.min(500, Math.round(steps / 50)));
}

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new Error(`runMnistPaper: ${name} must be a positive integer, got ${v}`);
  return v;
}

/**
 * The paper's network with `norm(features)` (null: nothing) between each hidden Dense and its
 * sigmoid. Seeds per layer, not per network: every variant starts from the same weights.
 * `probe`: the index of the last sigmoid's input layer (the norm output or the Dense output).
 */
export function buildPaperNetwork(hidden: readonly number[], initStd: number, seed: number, norm: ((features: number) => Module) | null): { model: Sequential; probe: number } {
  const layers: Module[] = [];
  let inF = 784;
  let probe = -1;
  hidden.forEach((h, i) => {
    layers.push(new Dense(inF, h, { init: { normal: initStd }, seed: seed * 16 + i + 1, bias: true }));
    if (norm) layers.push(norm(h));
    probe = layers.length - 1;
    layers.push(new Sigmoid());
    inF = h;
  });
  layers.push(new Dense(inF, 10, { init: { normal: initStd }, seed: seed * 16 + hidden.length + 1, bias: true }));
  return { model: new Sequential(layers), probe };
}

/** The two networks, identical but for BatchNorm1d before each sigmoid. */
export function buildPaperNetworks(hidden: readonly number[], initStd: number, seed: number): { bn: Sequential; plain: Sequential; probeLayer: { bn: number; plain: number } } {
  const bn = buildPaperNetwork(hidden, initStd, seed, (h) => new BatchNorm1d(h));
  const plain = buildPaperNetwork(hidden, initStd, seed, null);
  return { bn: bn.model, plain: plain.model, probeLayer: { bn: bn.probe, plain: plain.probe } };
}

/** Trains both networks and returns the curves; `log` receives a line per evaluation. */
export async function runMnistPaper(options: MnistPaperOptions = {}, log: Log = () => {}): Promise<MnistPaperResult> {
  const t0 = performance.now();
  const steps = positiveInt("steps", options.steps ?? 2000);
  const batchSize = positiveInt("batchSize", options.batchSize ?? 60);
  if (batchSize < 2) throw new Error("runMnistPaper: batchSize must be at least 2 (BatchNorm needs more than one value per channel)");
  const evalEvery = positiveInt("evalEvery", options.evalEvery ?? defaultEvalEvery(steps));
  const evalBatchSize = positiveInt("evalBatchSize", options.evalBatchSize ?? 500);
  const lr = options.lr ?? 0.5;
  if (!(lr > 0) || !Number.isFinite(lr)) throw new Error(`runMnistPaper: lr must be a positive number, got ${lr}`);
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`runMnistPaper: seed must be a non-negative integer, got ${seed}`);
  const initStd = options.initStd ?? 0.1;
  const hidden = options.hidden ?? [100, 100, 100];
  hidden.forEach((h, i) => positiveInt(`hidden[${i}]`, h));
  const probeUnit = options.probeUnit ?? 0;
  if (!Number.isInteger(probeUnit) || probeUnit < 0 || probeUnit >= hidden[hidden.length - 1]) {
    throw new Error(`runMnistPaper: probeUnit must be an integer in [0, ${hidden[hidden.length - 1]}), got ${probeUnit}`);
  }

  const data: MnistData = await loadData({ ...options, seed });
  const { train, test } = data;
  if (train.count < batchSize) throw new Error(`runMnistPaper: the training set holds ${train.count} images, fewer than one batch of ${batchSize}`);
  const P = train.rows * train.cols;
  if (P !== 784) throw new Error(`runMnistPaper: expected 28x28 images, got ${train.rows}x${train.cols}`);
  const probeImages = Math.min(test.count, options.probeImages ?? test.count);
  log(`data: ${data.source}`);

  const nets = buildPaperNetworks(hidden, initStd, seed);
  const arch = `784-${hidden.join("-")}-10`;
  const names = { bn: "bn", plain: "plain" } as const;
  type Name = keyof typeof names;
  const order: Name[] = ["bn", "plain"];
  const models: Record<Name, Sequential> = { bn: nets.bn, plain: nets.plain };
  const losses: Record<Name, CrossEntropyLoss> = { bn: new CrossEntropyLoss(), plain: new CrossEntropyLoss() };
  const opts: Record<Name, SGD> = { bn: new SGD(nets.bn.parameters(), { lr }), plain: new SGD(nets.plain.parameters(), { lr }) };
  const curves: Record<Name, NetworkCurves> = {
    bn: { steps: [], testAccuracy: [], percentiles: { p15: [], p50: [], p85: [] } },
    plain: { steps: [], testAccuracy: [], percentiles: { p15: [], p50: [], p85: [] } },
  };

  const config: MnistPaperConfig = {
    experiment: "mnist-paper",
    reference: "Ioffe & Szegedy 2015, Batch Normalization, section 4.1, Figure 1",
    data: data.source,
    trainImages: train.count,
    testImages: test.count,
    architecture: `${arch}, sigmoid hidden units, softmax output`,
    networks: {
      bn: hidden.map((h) => `Dense(${h}) -> BatchNorm1d(${h}) -> Sigmoid`).join(" -> ") + " -> Dense(10)",
      plain: hidden.map((h) => `Dense(${h}) -> Sigmoid`).join(" -> ") + " -> Dense(10)",
    },
    denseBias: true,
    denseBiasNote:
      "both networks keep the Dense bias so that they differ only by BatchNorm1d; in the BN network that bias is redundant (BN subtracts the batch mean and its beta takes the shift), its gradient is zero up to rounding and it stays near 0",
    init: `weights ~ N(0, ${initStd}^2), biases 0; the same initial weights in both networks (layer seeds ${seed * 16 + 1}..${seed * 16 + hidden.length + 1})`,
    batchNorm: "BatchNorm1d: eps 1e-5, momentum 0.1 (PyTorch defaults), gamma 1, beta 0; eval mode uses the running estimates",
    optimizer: "SGD, no momentum, no weight decay",
    loss: "softmax cross-entropy (mean over the batch)",
    lr,
    batchSize,
    steps,
    evalEvery,
    seed,
    batchOrder: `the same mini-batches for both networks: a fresh shuffle of the training set each epoch (Rng seed ${seed}), incomplete last batches dropped`,
    evaluation: "eval mode, the whole test set",
    probe: {
      layer: `layer ${hidden.length} (the last hidden layer)`,
      unit: probeUnit,
      testImages: probeImages,
      what: "input of that unit's sigmoid: the BatchNorm1d output in the BN network, the Dense output in the plain one",
    },
    backend: getBackend().build,
  };
  log(`mnist-paper: ${arch} sigmoid, with and without BatchNorm1d; SGD lr ${lr}, batch ${batchSize}, ${steps} steps, eval every ${evalEvery}, seed ${seed}`);

  const trainSet = toSamples(train, "mnist-paper: training set");
  const testSet = toSamples(test, "mnist-paper: test set");
  const x = zeros([batchSize, P]);
  const labels = new Int32Array(batchSize);
  const steppers: Record<Name, TrainStep> = { bn: new TrainStep(models.bn, losses.bn, opts.bn), plain: new TrainStep(models.plain, losses.plain, opts.plain) };
  const evaluator = new Evaluator([P], evalBatchSize);
  const probed = new Float32Array(Math.min(probeImages, test.count));
  const rng = new Rng(seed);
  let perm = rng.permutation(train.count);
  let pos = 0;
  const lossSum: Record<Name, number> = { bn: 0, plain: 0 };
  let lossCount = 0;
  let warnedNonFinite = false;
  try {
    for (let step = 1; step <= steps; step++) {
      if (pos + batchSize > train.count) {
        perm = rng.permutation(train.count);
        pos = 0;
      }
      gatherSamples(x, labels, trainSet, perm, pos, batchSize);
      pos += batchSize;
      for (const n of order) {
        const l = steppers[n].run(x, labels);
        lossSum[n] += l;
        if (!Number.isFinite(l) && !warnedNonFinite) {
          warnedNonFinite = true;
          log(`warning: the ${n} network's training loss is ${l} at step ${step} (learning rate ${lr} too high?)`);
        }
      }
      lossCount++;

      if (step % evalEvery === 0 || step === steps) {
        const parts: string[] = [];
        for (const n of order) {
          const layer = nets.probeLayer[n];
          const r = evaluator.run(models[n], testSet, (i, h, from, rows) => {
            if (i !== layer || from >= probed.length) return;
            const width = h.size / h.shape[0];
            const hd = h.data;
            const upto = Math.min(rows, probed.length - from);
            for (let k = 0; k < upto; k++) probed[from + k] = hd[k * width + probeUnit];
          });
          const [p15, p50, p85] = percentilesOf(probed, [15, 50, 85]).map((v) => round(v));
          const c = curves[n];
          c.steps.push(step);
          c.testAccuracy.push(r.accuracy);
          c.percentiles.p15.push(p15);
          c.percentiles.p50.push(p50);
          c.percentiles.p85.push(p85);
          parts.push(
            `${n} acc ${(100 * r.accuracy).toFixed(2)}% loss ${(lossSum[n] / lossCount).toFixed(4)} p15/50/85 ${p15.toFixed(2)}/${p50.toFixed(2)}/${p85.toFixed(2)}`,
          );
          lossSum[n] = 0;
        }
        lossCount = 0;
        log(`step ${String(step).padStart(String(steps).length)}/${steps}  ${parts.join(" | ")}  (${secondsSince(t0).toFixed(1)} s)`);
      }
    }
  } finally {
    x.dispose();
    evaluator.dispose();
    for (const n of order) {
      models[n].dispose();
      losses[n].dispose();
      opts[n].dispose();
    }
  }
  return { config, networks: { bn: curves.bn, plain: curves.plain }, wallTimeSeconds: round(secondsSince(t0), 4) };
}

/** The three figures: accuracy (Figure 1a) and the percentile bands of each network (1b, 1c). */
export function mnistPaperFigures(result: MnistPaperResult): Record<string, string> {
  const { bn, plain } = result.networks;
  const c = result.config;
  const sub = `${c.architecture.split(",")[0]}, SGD lr ${c.lr}, batch ${c.batchSize}`;
  const accuracy = lineChart({
    title: `Test accuracy (${sub})`,
    xLabel: "training steps",
    yLabel: "test accuracy",
    series: [
      { name: "with BatchNorm", x: bn.steps, y: bn.testAccuracy, color: "#0072B2" },
      { name: "without BatchNorm", x: plain.steps, y: plain.testAccuracy, color: "#000000", dash: "6 4" },
    ],
  });
  // One y range for both percentile figures, so that their spreads and drifts compare at a glance.
  const all = [bn, plain].flatMap((n) => [...n.percentiles.p15, ...n.percentiles.p85]).filter(Number.isFinite);
  const yDomain = all.length > 0 ? padDomain(Math.min(...all), Math.max(...all)) : undefined;
  const band = (n: NetworkCurves, label: string, color: string) =>
    lineChart({
      title: `Input to a sigmoid of the last hidden layer, ${label} (unit ${c.probe.unit})`,
      xLabel: "training steps",
      yLabel: "sigmoid input (15th, 50th, 85th percentiles)",
      yDomain,
      bands: [{ name: "15th to 85th percentile", x: n.steps, lower: n.percentiles.p15, upper: n.percentiles.p85, color, opacity: 0.18 }],
      series: [
        { name: "85th percentile", x: n.steps, y: n.percentiles.p85, color, width: 1.5 },
        { name: "median", x: n.steps, y: n.percentiles.p50, color, width: 2.5 },
        { name: "15th percentile", x: n.steps, y: n.percentiles.p15, color, width: 1.5 },
      ],
    });
  return {
    "mnist-accuracy.svg": accuracy,
    "mnist-percentiles-plain.svg": band(plain, "without BatchNorm", "#000000"),
    "mnist-percentiles-bn.svg": band(bn, "with BatchNorm", "#0072B2"),
  };
}

function padDomain(lo: number, hi: number): [number, number] {
  if (!(hi > lo)) return [lo - 1, hi + 1];
  const pad = 0.05 * (hi - lo);
  return [lo - pad, hi + pad];
}

/** Final accuracies and how often BN was ahead, for the summary line. */
export function summarizeMnistPaper(result: MnistPaperResult): string {
  const { bn, plain } = result.networks;
  const last = (a: number[]) => a[a.length - 1];
  let ahead = 0;
  for (let i = 0; i < bn.testAccuracy.length; i++) if (bn.testAccuracy[i] > plain.testAccuracy[i]) ahead++;
  return [
    `final test accuracy after ${last(bn.steps)} steps: with BatchNorm ${(100 * last(bn.testAccuracy)).toFixed(2)}%, without ${(100 * last(plain.testAccuracy)).toFixed(2)}%`,
    `BatchNorm ahead at ${ahead} of ${bn.testAccuracy.length} evaluations`,
    `wall time ${result.wallTimeSeconds.toFixed(1)} s (${result.config.backend} build)`,
  ].join("\n");
}
