// The seeds' CIFAR-10 experiment: the Inception network of src/models/inception.ts trained
// with and without BatchNorm from the same initial convolution kernels, on the same
// (augmented) batches: SGD with momentum 0.9, lr = lr0 * 0.1^floor((1 + epoch) / 10) (epoch
// counted from 0, Keras's LearningRateScheduler), cross-entropy, validation on the test set
// after every epoch. Keras's ImageDataGenerator(horizontal_flip, shear_range=0.2,
// zoom_range=0.2) augments each batch on the fly. The run can save a checkpoint after every
// epoch and resume from it bit for bit: everything random in an epoch (the batch order, the
// augmentation) is drawn from generators seeded by (seed, epoch), and what carries over
// between epochs (weights, running statistics, momentum buffers, dropout's generator, the
// history) is in the checkpoint.
import { getBackend } from "../backend.js";
import { type Cifar10Data, type Cifar10Split, loadCifar10 } from "../data/cifar10.js";
import { KERAS_CIFAR10_AUGMENT } from "../data/augment.js";
import { ImageBatcher } from "../data/image_batch.js";
import type { DataFormat } from "../ops/bn.js";
import { CrossEntropyLoss } from "../loss.js";
import type { Sequential } from "../layers/sequential.js";
import { inceptionCifar, inceptionCifarCost } from "../models/inception.js";
import { SGD } from "../optim/sgd.js";
import { lineChart } from "../plot/svg.js";
import { Rng } from "../random.js";
import { Tensor } from "../tensor.js";
import { argmaxRow, Evaluator } from "../training/evaluate.js";
import { Progress } from "../training/progress.js";
import { TrainStep } from "../training/step.js";
import { type Log, round, secondsSince } from "./common.js";
import { loadNetworkCheckpoint, saveNetworkCheckpoint } from "./cifar_checkpoint.js";

export type CifarNetwork = "bn" | "plain";
export const CIFAR_NETWORKS: readonly CifarNetwork[] = ["bn", "plain"];

export interface CifarOptions {
  /** CIFAR-10 already in memory (takes precedence over dataDir). */
  data?: Cifar10Data;
  /** The binary version's folder (data_batch_1.bin ... test_batch.bin) or its .tar.gz. */
  dataDir?: string;
  /** Channel multiplier of the network. Default 0.125. */
  width?: number;
  /** Default 3. */
  epochs?: number;
  /** Default 64. */
  batchSize?: number;
  /** Initial SGD learning rate. Default 0.01. */
  lr?: number;
  /** Training images used (a seeded random subset); 0 or undefined with full = all 50,000. Default 10,000. */
  subset?: number;
  /** Test images used for validation (the first ones). Default: all 10,000. */
  testSubset?: number;
  /** Which networks to train. Default both. */
  networks?: readonly CifarNetwork[];
  /** Dropout rate before the classifier. Default 0. */
  dropout?: number;
  /** Keras's flip/shear/zoom augmentation. Default true. */
  augment?: boolean;
  /** Seed of the weights, the subset, the batch order and the augmentation. Default 0. */
  seed?: number;
  /** Default 'channelsLast'. */
  dataFormat?: DataFormat;
  /** Where checkpoints go (one per epoch; the previous one is removed). None: no checkpoints. */
  checkpointDir?: string;
  /** Continue from the checkpoint in checkpointDir if there is one. */
  resume?: boolean;
  /** Stop after this epoch (as a run killed then would), e.g. to test resuming. */
  stopAfterEpoch?: number;
  /** Progress bar on a TTY (with the log as the line output). Default false. */
  progress?: boolean;
  /**
   * 'lean' rebuilds BN-ReLU, pooling and concatenation outputs in backward (13.6 MB per image at
   * full width instead of 48.3), 'kept' keeps every activation (faster: the rebuilding costs
   * about a fifth of a step at width 0.125), 'auto' (default) keeps them when that fits.
   */
  memory?: "auto" | "lean" | "kept";
  /** Bytes the activations may take (default 3 GiB: 4 GiB less weights, scratch and the allocator's first-step holes). */
  activationBudget?: number;
}

const ACTIVATION_BUDGET = 3 * 2 ** 30;
// Heap bytes per image per byte of convolution output, measured at full width (batch 2 -> 4,
// NHWC, bench/cifar/memory.ts): 48.3 MB with every activation kept and 13.6 MB memory-lean,
// over 8.47 MB of conv outputs.
const KEPT_PER_CONV_BYTE = 48.3 / 8.47;
const LEAN_PER_CONV_BYTE = 13.6 / 8.47;

export interface CifarMemoryPlan {
  lean: boolean;
  /** Whether all networks step together (else one after the other, each alone in memory). */
  together: boolean;
  /** Activation bytes the plan expects at its peak. */
  estimateBytes: number;
}

/**
 * How a run keeps activations: every one while the networks fit the budget together, else
 * memory-lean, and one network at a time when even that does not fit (the seed's full network
 * at batch 250 needs 3.4 GB memory-lean: one fits, two do not).
 */
export function planCifarMemory(o: { width: number; batchSize: number; networks: number; memory?: "auto" | "lean" | "kept"; budget?: number }): CifarMemoryPlan {
  const budget = o.budget ?? ACTIVATION_BUDGET;
  const conv = inceptionCifarCost({ width: o.width }).convOutputsPerImage * 4 * o.batchSize;
  const kept = conv * KEPT_PER_CONV_BYTE, lean = conv * LEAN_PER_CONV_BYTE;
  const memory = o.memory ?? "auto";
  const isLean = memory === "lean" || (memory === "auto" && kept * o.networks > budget);
  const each = isLean ? lean : kept;
  const together = each * o.networks <= budget;
  return { lean: isLean, together, estimateBytes: together ? each * o.networks : each };
}

export interface CifarCurves {
  epochs: number[];
  lr: number[];
  valAccuracy: number[];
  valLoss: number[];
  trainLoss: number[];
  trainAccuracy: number[];
  /** Mean wall time of a training step (forward, backward, update) over the run. */
  secondsPerStep: number;
}

export interface CifarResult {
  config: Record<string, unknown>;
  networks: Partial<Record<CifarNetwork, CifarCurves>>;
  wallTimeSeconds: number;
}

export const CIFAR_DEFAULTS = { width: 0.125, epochs: 3, batchSize: 64, lr: 0.01, subset: 10000 } as const;

function int(name: string, v: unknown, min: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) throw new Error(`runCifar: ${name} must be an integer >= ${min}, got ${String(v)}`);
  return v;
}

/** The seed's schedule: lr0 * 0.1^floor((1 + epoch) / 10), epoch counted from 0. */
export function cifarLearningRate(lr0: number, epoch0: number): number {
  return lr0 * 0.1 ** Math.floor((1 + epoch0) / 10);
}

/** A generator seed for one purpose in one epoch, so that an epoch's draws do not depend on earlier epochs. */
function epochSeed(seed: number, epoch: number, purpose: number): number {
  const r = new Rng((seed * 0x9e3779b1 + epoch * 0x85ebca6b + purpose * 0xc2b2ae35) >>> 0);
  return Math.floor(r.uniform() * 0x100000000);
}

function resolve(o: CifarOptions) {
  const width = o.width ?? CIFAR_DEFAULTS.width;
  const epochs = int("epochs", o.epochs ?? CIFAR_DEFAULTS.epochs, 1);
  const batchSize = int("batchSize", o.batchSize ?? CIFAR_DEFAULTS.batchSize, 2);
  const lr = o.lr ?? CIFAR_DEFAULTS.lr;
  if (typeof lr !== "number" || !(lr > 0) || !Number.isFinite(lr)) throw new Error(`runCifar: lr must be a positive number, got ${String(lr)}`);
  const subset = int("subset", o.subset ?? CIFAR_DEFAULTS.subset, 0);
  const testSubset = o.testSubset === undefined ? 0 : int("testSubset", o.testSubset, 1);
  const networks = o.networks ?? CIFAR_NETWORKS;
  if (!Array.isArray(networks) || networks.length === 0 || networks.some((n) => !CIFAR_NETWORKS.includes(n)) || new Set(networks).size !== networks.length) {
    throw new Error(`runCifar: networks must list distinct names out of ${CIFAR_NETWORKS.join(", ")}, got ${JSON.stringify(networks)}`);
  }
  const dropout = o.dropout ?? 0;
  const augment = o.augment ?? true;
  const seed = int("seed", o.seed ?? 0, 0);
  const dataFormat = o.dataFormat ?? "channelsLast";
  const stopAfterEpoch = o.stopAfterEpoch === undefined ? epochs : int("stopAfterEpoch", o.stopAfterEpoch, 1);
  const memory = o.memory ?? "auto";
  if (memory !== "auto" && memory !== "lean" && memory !== "kept") throw new Error(`runCifar: memory must be 'auto', 'lean' or 'kept', got ${JSON.stringify(memory)}`);
  const activationBudget = o.activationBudget ?? ACTIVATION_BUDGET;
  if (typeof activationBudget !== "number" || !(activationBudget > 0)) throw new Error(`runCifar: activationBudget must be a number of bytes > 0, got ${String(activationBudget)}`);
  if (o.resume && !o.checkpointDir) throw new Error("runCifar: resume needs checkpointDir");
  // The network checks width, dropout and dataFormat itself; check them before any data is read.
  inceptionCifarCost({ width, dropout, dataFormat });
  return { width, epochs, batchSize, lr, subset, testSubset, networks: [...networks], dropout, augment, seed, dataFormat, stopAfterEpoch, memory, activationBudget };
}

/** Images [0, n) of a split (views). */
function head(s: Cifar10Split, n: number): Cifar10Split {
  return { images: s.images.subarray(0, n * 3072), labels: s.labels.subarray(0, n) };
}

export async function runCifar(options: CifarOptions = {}, log: Log = () => {}): Promise<CifarResult> {
  const t0 = performance.now();
  const cfg = resolve(options);
  const { width, epochs, batchSize, lr, networks, dropout, augment, seed, dataFormat } = cfg;
  const data = options.data ?? (options.dataDir !== undefined ? await loadCifar10({ dir: options.dataDir }) : null);
  if (!data) throw new Error("runCifar: give data or dataDir (the CIFAR-10 binary version)");
  const nTrainAll = data.train.labels.length;
  const nTrain = cfg.subset > 0 ? Math.min(cfg.subset, nTrainAll) : nTrainAll;
  const test = cfg.testSubset > 0 ? head(data.test, Math.min(cfg.testSubset, data.test.labels.length)) : data.test;
  const nTest = test.labels.length;
  // A fixed random subset of the training images (all of them, in order, without a subset).
  const pool = nTrain < nTrainAll ? new Rng(epochSeed(seed, 0, 1)).permutation(nTrainAll).subarray(0, nTrain) : Int32Array.from({ length: nTrain }, (_, i) => i);
  const stepsPerEpoch = Math.floor(nTrain / batchSize);
  if (stepsPerEpoch < 1) throw new Error(`runCifar: ${nTrain} training images make no batch of ${batchSize}`);
  const cost = inceptionCifarCost({ width });
  const plan = planCifarMemory({ width, batchSize, networks: networks.length, memory: cfg.memory, budget: cfg.activationBudget });
  const config = {
    experiment: "cifar",
    reference: "the seeds' CIFAR-10 Inception network (modules 3a-5b, global average pooling, Dense(10)); Conv (no bias) -> BN (scale=False, momentum 0.99, eps 1e-3) -> ReLU, or Conv (bias) -> ReLU",
    data: data.source,
    width,
    parameters: cost.parameters,
    forwardGflopsPerImage: round(cost.forwardFlopsPerImage / 1e9, 4),
    networks,
    trainImages: nTrain,
    testImages: nTest,
    epochs,
    batchSize,
    stepsPerEpoch,
    lr,
    lrSchedule: "lr * 0.1^floor((1 + epoch) / 10), epoch counted from 0",
    optimizer: "SGD, momentum 0.9",
    dropout,
    augment: augment ? "Keras ImageDataGenerator(horizontal_flip=True, shear_range=0.2, zoom_range=0.2), bilinear, fill 'nearest'" : "none",
    pixels: "x / 255",
    seed,
    dataFormat,
    memory: plan.lean ? "lean" : "kept",
    schedule: plan.together || networks.length === 1 ? "together" : "one network at a time",
    batchOrder: "a seeded shuffle of the training images each epoch, the same batches for every network; the last partial batch of an epoch is dropped",
    trainLoss: "mean of the epoch's batch losses in training mode (Keras's `loss`)",
    valLoss: "test set, eval mode, after each epoch (Keras's `val_loss`)",
    backend: getBackend().build,
  };
  log(
    `cifar: inceptionCifar width ${width} (${(cost.parameters / 1e6).toFixed(3)} M parameters, ${(cost.forwardFlopsPerImage / 1e9).toFixed(3)} GFLOP/image forward), ` +
      `${networks.join(" and ")}, ${nTrain} train / ${nTest} test images, batch ${batchSize}, ${epochs} epochs, lr ${lr}, seed ${seed}, ${getBackend().build} build`,
  );

  const shape = dataFormat === "channelsLast" ? [batchSize, 32, 32, 3] : [batchSize, 3, 32, 32];
  const x = new Tensor(getBackend(), shape);
  const labels = new Int32Array(batchSize);
  const evalBatch = Math.min(250, nTest);
  const evaluator = new Evaluator(shape.slice(1), evalBatch);
  const trainBatcher = new ImageBatcher({ dataFormat, augment: augment ? { ...KERAS_CIFAR10_AUGMENT, seed } : null });
  const plainBatcher = new ImageBatcher({ dataFormat });
  const testOrder = Int32Array.from({ length: nTest }, (_, i) => i);
  // A bar on a TTY (the lines that stay go to stdout beside it), or only the log's lines.
  const progress = new Progress(options.progress === true, options.progress === true ? undefined : log);
  const say = options.progress === true ? (s: string) => progress.print(s) : log;
  const curves = new Map<CifarNetwork, CifarCurves>();
  const stepSeconds = new Map<CifarNetwork, { seconds: number; steps: number }>();
  say(
    `memory: ${plan.lean ? "memory-lean (BN-ReLU, pooling and concatenation outputs rebuilt in backward)" : "every activation kept"}, ` +
      `${plan.together || networks.length === 1 ? "networks stepped together" : "one network at a time (two do not fit the memory budget)"}, about ${Math.round(plan.estimateBytes / 2 ** 20)} MiB of activations`,
  );
  try {
    for (const group of plan.together ? [networks] : networks.map((n) => [n])) {
      await runGroup(group);
    }
  } finally {
    progress.end();
    x.dispose();
    evaluator.dispose();
  }

  /** Trains the networks of one group on the same batches, epoch by epoch, from where each one's checkpoint left it. */
  async function runGroup(group: CifarNetwork[]): Promise<void> {
    const models = new Map<CifarNetwork, Sequential>();
    const optimizers = new Map<CifarNetwork, SGD>();
    const steppers = new Map<CifarNetwork, TrainStep>();
    const losses = new Map<CifarNetwork, CrossEntropyLoss>();
    const done = new Map<CifarNetwork, number>();
    try {
      for (const name of group) {
        const m = inceptionCifar({ width, bn: name === "bn", dropout, dataFormat, seed, memoryLean: plan.lean });
        models.set(name, m);
        const loss = new CrossEntropyLoss();
        losses.set(name, loss);
        const opt = new SGD(m.parameters(), { lr, momentum: 0.9 });
        optimizers.set(name, opt);
        steppers.set(name, new TrainStep(m, loss, opt));
        curves.set(name, { epochs: [], lr: [], valAccuracy: [], valLoss: [], trainLoss: [], trainAccuracy: [], secondsPerStep: NaN });
        stepSeconds.set(name, { seconds: 0, steps: 0 });
        done.set(name, 0);
        if (options.resume) {
          const state = await loadNetworkCheckpoint(options.checkpointDir!, name, { config, model: m, optimizer: opt });
          if (state) {
            curves.set(name, state.curves as CifarCurves);
            stepSeconds.set(name, { ...state.stepSeconds });
            done.set(name, state.epoch);
            say(`${name}: resumed from ${options.checkpointDir} after epoch ${state.epoch}`);
          } else say(`${name}: no checkpoint in ${options.checkpointDir}: starting from epoch 1`);
        }
      }
      const last = Math.min(epochs, cfg.stopAfterEpoch);
      const first = Math.min(...group.map((n) => done.get(n)!)) + 1;
      const totalSteps = Math.max(0, last - first + 1) * stepsPerEpoch;
      let stepsDone = 0;
      const tRun = performance.now();
      for (let epoch = first; epoch <= last; epoch++) {
        const active = group.filter((n) => done.get(n)! < epoch);
        const lrNow = cifarLearningRate(lr, epoch - 1);
        for (const n of active) optimizers.get(n)!.lr = lrNow;
        const order = new Rng(epochSeed(seed, epoch, 2)).permutation(nTrain);
        for (let i = 0; i < nTrain; i++) order[i] = pool[order[i]];
        trainBatcher.setRngState(epochSeed(seed, epoch, 3));
        const sums = new Map<CifarNetwork, { loss: number; correct: number; rows: number }>(active.map((n) => [n, { loss: 0, correct: 0, rows: 0 }]));
        for (let s = 0; s < stepsPerEpoch; s++) {
          const from = s * batchSize;
          trainBatcher.fill(x.data, data!.train.images, order, from, batchSize);
          for (let r = 0; r < batchSize; r++) labels[r] = data!.train.labels[order[from + r]];
          for (const name of active) {
            const stepper = steppers.get(name)!;
            const ts = performance.now();
            const l = stepper.run(x, labels);
            const t = stepSeconds.get(name)!;
            t.seconds += secondsSince(ts);
            t.steps++;
            const out = stepper.logits!.data;
            const sum = sums.get(name)!;
            for (let r = 0; r < batchSize; r++) if (argmaxRow(out, r, 10) === labels[r]) sum.correct++;
            sum.loss += l * batchSize;
            sum.rows += batchSize;
          }
          stepsDone++;
          if (progress.due()) {
            const eta = (((performance.now() - tRun) / stepsDone) * (totalSteps - stepsDone)) / 1000;
            const text = active.map((n) => `${n} ${(sums.get(n)!.loss / sums.get(n)!.rows).toFixed(3)}`).join(" ");
            progress.bar(`epoch ${epoch}/${epochs} {bar} ${s + 1}/${stepsPerEpoch}  loss ${text}  ETA ${fmtTime(eta)}`, s + 1, stepsPerEpoch);
          }
        }
        const parts: string[] = [];
        for (const name of active) {
          const v = evaluator.runBatches(models.get(name)!, nTest, (input, lb, from, rows) => {
            plainBatcher.fill(input.data, test.images, testOrder, from, rows);
            for (let r = 0; r < rows; r++) lb[r] = test.labels[from + r];
          });
          const c = curves.get(name)!;
          const sum = sums.get(name)!;
          c.epochs.push(epoch);
          c.lr.push(round(lrNow));
          c.trainLoss.push(round(sum.loss / sum.rows));
          c.trainAccuracy.push(round(sum.correct / sum.rows));
          c.valLoss.push(round(v.loss));
          c.valAccuracy.push(round(v.accuracy));
          const t = stepSeconds.get(name)!;
          c.secondsPerStep = round(t.seconds / t.steps, 4);
          parts.push(`${name} loss ${(sum.loss / sum.rows).toFixed(4)} acc ${((100 * sum.correct) / sum.rows).toFixed(2)}% val_loss ${v.loss.toFixed(4)} val_acc ${(100 * v.accuracy).toFixed(2)}%`);
        }
        say(`epoch ${String(epoch).padStart(String(epochs).length)}/${epochs}  lr ${lrNow}  ${parts.join(" | ")}  (${secondsSince(t0).toFixed(0)} s)`);
        for (const name of active) {
          if (options.checkpointDir !== undefined) {
            await saveNetworkCheckpoint(options.checkpointDir, name, {
              config,
              model: models.get(name)!,
              optimizer: optimizers.get(name)!,
              state: { epoch, curves: curves.get(name)!, stepSeconds: stepSeconds.get(name)! },
            });
          }
          done.set(name, epoch);
        }
      }
    } finally {
      for (const name of group) {
        models.get(name)?.dispose();
        losses.get(name)?.dispose();
        optimizers.get(name)?.dispose();
      }
    }
  }
  return {
    config,
    networks: Object.fromEntries(networks.filter((n) => curves.has(n)).map((n) => [n, curves.get(n)!])),
    wallTimeSeconds: round(secondsSince(t0), 4),
  };
}

function fmtTime(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m` : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

const COLORS: Record<CifarNetwork, string> = { bn: "#0072B2", plain: "#D55E00" };
const LABELS: Record<CifarNetwork, string> = { bn: "with BN", plain: "without BN" };

/** The slides' figures: validation accuracy and training loss per epoch, with and without BN. */
export function cifarFigures(result: CifarResult): Record<string, string> {
  const names = CIFAR_NETWORKS.filter((n) => result.networks[n]);
  const w = result.config.width;
  return {
    "cifar-accuracy.svg": lineChart({
      title: `CIFAR-10 Inception (width ${w}): validation accuracy per epoch`,
      xLabel: "epoch",
      yLabel: "test-set accuracy",
      series: names.map((n) => ({ name: LABELS[n], x: result.networks[n]!.epochs, y: result.networks[n]!.valAccuracy, color: COLORS[n] })),
    }),
    "cifar-loss.svg": lineChart({
      title: `CIFAR-10 Inception (width ${w}): training loss per epoch`,
      xLabel: "epoch",
      yLabel: "cross-entropy loss",
      series: names.map((n) => ({ name: LABELS[n], x: result.networks[n]!.epochs, y: result.networks[n]!.trainLoss, color: COLORS[n] })),
    }),
  };
}

export function summarizeCifar(result: CifarResult): string {
  const lines = CIFAR_NETWORKS.filter((n) => result.networks[n]).map((n) => {
    const c = result.networks[n]!;
    const i = c.epochs.length - 1;
    if (i < 0) return `${LABELS[n].padEnd(10)}: no epoch run`;
    return `${LABELS[n].padEnd(10)}: val_acc ${(100 * c.valAccuracy[i]).toFixed(2)}% (best ${(100 * Math.max(...c.valAccuracy)).toFixed(2)}%), val_loss ${c.valLoss[i].toFixed(4)}, loss ${c.trainLoss[i].toFixed(4)}, ${(1000 * c.secondsPerStep).toFixed(0)} ms/step`;
  });
  lines.push(`wall time ${result.wallTimeSeconds.toFixed(1)} s (${result.config.backend} build)`);
  return lines.join("\n");
}
