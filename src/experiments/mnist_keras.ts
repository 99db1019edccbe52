// The Keras Batch Normalization tutorial's MNIST example: Flatten -> Dense(128, ReLU) ->
// [BatchNormalization] -> Dense(10), Adam (lr 1e-3), 10 epochs of batch 32, 20% of the
// training set held out for validation (Keras's validation_split: the last 20%, before any
// shuffling), trained with and without the BN layer from the same initial weights and on
// the same batches. Per epoch: the mean training loss over the epoch's batches (what Keras
// prints as `loss`, measured in training mode while the weights move) and the validation
// loss in eval mode after the epoch (`val_loss`); at the end, test accuracy.
// Keras's defaults are kept: Glorot-uniform weights and zero biases, BN momentum 0.99
// (PyTorch's momentum 0.01) and epsilon 1e-3, Adam epsilon 1e-7.
import { getBackend } from "../backend.js";
import { BatchNorm1d } from "../layers/batchnorm.js";
import type { MnistData, MnistSplit } from "../data/mnist.js";
import { ReLU } from "../layers/activations.js";
import { Dense } from "../layers/dense.js";
import { Flatten } from "../layers/flatten.js";
import { CrossEntropyLoss } from "../loss.js";
import type { Module } from "../module.js";
import { Adam } from "../optim/adam.js";
import { lineChart } from "../plot/svg.js";
import { Rng } from "../random.js";
import { Sequential } from "../layers/sequential.js";
import { type Tensor, zeros } from "../tensor.js";
import { gatherSamples, toSamples } from "../data/dataset.js";
import { argmaxRow, Evaluator } from "../training/evaluate.js";
import { TrainStep } from "../training/step.js";
import { type DataOptions, loadData, type Log, round, secondsSince } from "./common.js";

export interface MnistKerasOptions extends DataOptions {
  /** Default 10. */
  epochs?: number;
  /** Default 32. */
  batchSize?: number;
  /** Adam learning rate. Default 1e-3. */
  lr?: number;
  /** Share of the training set held out (its last rows). Default 0.2. */
  validationSplit?: number;
  /** Seed of the weights (the same for both networks), of the batch order and of the embedded data's split. Default 0. */
  seed?: number;
  /** Hidden width. Default 128. */
  hidden?: number;
}

export interface KerasCurves {
  epochs: number[];
  trainLoss: number[];
  trainAccuracy: number[];
  valLoss: number[];
  valAccuracy: number[];
  /** After the last epoch, eval mode. */
  testAccuracy: number;
  testLoss: number;
}

export interface MnistKerasResult {
  config: Record<string, unknown>;
  networks: { bn: KerasCurves; plain: KerasCurves };
  wallTimeSeconds: number;
}

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new Error(`runMnistKeras: ${name} must be a positive integer, got ${v}`);
  return v;
}

/** Rows [from, to) of a split, as a split of its own (views, no copy). */
function slice(s: MnistSplit, from: number, to: number): MnistSplit {
  const P = s.rows * s.cols;
  return { images: s.images.subarray(from * P, to * P), labels: s.labels.subarray(from, to), count: to - from, rows: s.rows, cols: s.cols };
}

export async function runMnistKeras(options: MnistKerasOptions = {}, log: Log = () => {}): Promise<MnistKerasResult> {
  const t0 = performance.now();
  const epochs = positiveInt("epochs", options.epochs ?? 10);
  const batchSize = positiveInt("batchSize", options.batchSize ?? 32);
  if (batchSize < 2) throw new Error("runMnistKeras: batchSize must be at least 2 (BatchNorm needs more than one value per channel)");
  const lr = options.lr ?? 1e-3;
  if (!(lr > 0) || !Number.isFinite(lr)) throw new Error(`runMnistKeras: lr must be a positive number, got ${lr}`);
  const split = options.validationSplit ?? 0.2;
  if (!(split > 0 && split < 1)) throw new Error(`runMnistKeras: validationSplit must be in (0, 1), got ${split}`);
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`runMnistKeras: seed must be a non-negative integer, got ${seed}`);
  const hidden = positiveInt("hidden", options.hidden ?? 128);

  const data: MnistData = await loadData({ ...options, seed });
  // Keras: validation_split holds out the last rows of the arrays as given.
  const nVal = Math.floor(data.train.count * split);
  const train = slice(data.train, 0, data.train.count - nVal);
  const val = slice(data.train, data.train.count - nVal, data.train.count);
  const test = data.test;
  if (train.count < 2 || val.count < 1) throw new Error(`runMnistKeras: ${data.train.count} training images are too few for a ${split} validation split`);
  const R = train.rows, C = train.cols, P = R * C;
  log(`data: ${data.source}`);
  log(`mnist-keras: Flatten -> Dense(${hidden}, ReLU) -> [BatchNorm] -> Dense(10), Adam lr ${lr}, batch ${batchSize}, ${epochs} epochs, ${train.count} train / ${val.count} validation / ${test.count} test, seed ${seed}`);

  const build = (withBn: boolean) => {
    const layers: Module[] = [new Flatten(), new Dense(P, hidden, { init: "glorotUniform", seed: seed * 16 + 1 }), new ReLU()];
    if (withBn) layers.push(new BatchNorm1d(hidden, { momentum: 0.01, eps: 1e-3 }));
    layers.push(new Dense(hidden, 10, { init: "glorotUniform", seed: seed * 16 + 2 }));
    return new Sequential(layers);
  };
  type Name = "bn" | "plain";
  const order: Name[] = ["bn", "plain"];
  const models: Record<Name, Sequential> = { bn: build(true), plain: build(false) };
  const losses: Record<Name, CrossEntropyLoss> = { bn: new CrossEntropyLoss(), plain: new CrossEntropyLoss() };
  const opts: Record<Name, Adam> = {
    bn: new Adam(models.bn.parameters(), { lr, eps: 1e-7 }),
    plain: new Adam(models.plain.parameters(), { lr, eps: 1e-7 }),
  };
  const curves: Record<Name, KerasCurves> = {
    bn: { epochs: [], trainLoss: [], trainAccuracy: [], valLoss: [], valAccuracy: [], testAccuracy: NaN, testLoss: NaN },
    plain: { epochs: [], trainLoss: [], trainAccuracy: [], valLoss: [], valAccuracy: [], testAccuracy: NaN, testLoss: NaN },
  };
  const config = {
    experiment: "mnist-keras",
    reference: "the Keras BatchNormalization example: Flatten, Dense(128, relu), BatchNormalization, Dense(10); Adam; validation_split 0.2",
    data: data.source,
    trainImages: train.count,
    validationImages: val.count,
    testImages: test.count,
    networks: {
      bn: `Flatten -> Dense(${P}, ${hidden}) -> ReLU -> BatchNorm1d(${hidden}) -> Dense(${hidden}, 10)`,
      plain: `Flatten -> Dense(${P}, ${hidden}) -> ReLU -> Dense(${hidden}, 10)`,
    },
    init: "Glorot-uniform weights, zero biases (Keras defaults); the same initial weights in both networks",
    batchNorm: "Keras defaults: momentum 0.99 (PyTorch momentum 0.01), epsilon 1e-3; running variance with PyTorch's unbiased batch variance",
    optimizer: "Adam, betas (0.9, 0.999), epsilon 1e-7 (Keras's default)",
    loss: "softmax cross-entropy on the logits (from_logits=True)",
    lr,
    batchSize,
    epochs,
    validationSplit: split,
    seed,
    batchOrder: "a fresh shuffle of the training rows each epoch, the same for both networks; the last, smaller batch is kept (dropped only if it has a single row)",
    trainLoss: "mean of the epoch's batch losses, weighted by batch size, in training mode (Keras's `loss`)",
    valLoss: "eval mode after each epoch (Keras's `val_loss`)",
    backend: getBackend().build,
  };

  const asSamples = (s: MnistSplit, what: string) => toSamples({ images: s.images, labels: s.labels, shape: [s.count, R, C] }, `mnist-keras: ${what}`);
  const trainSet = asSamples(train, "training set"), valSet = asSamples(val, "validation set"), testSet = asSamples(test, "test set");
  const x = zeros([batchSize, R, C]);
  const rest = train.count % batchSize;
  const xRest: Tensor | null = rest >= 2 ? zeros([rest, R, C]) : null;
  const labels = new Int32Array(batchSize);
  const labelsRest = new Int32Array(rest);
  const steppers: Record<Name, TrainStep> = { bn: new TrainStep(models.bn, losses.bn, opts.bn), plain: new TrainStep(models.plain, losses.plain, opts.plain) };
  const evaluators: Record<Name, Evaluator> = { bn: new Evaluator([R, C], 500, losses.bn), plain: new Evaluator([R, C], 500, losses.plain) };
  const rng = new Rng(seed);
  try {
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const perm = rng.permutation(train.count);
      const sum: Record<Name, { loss: number; correct: number; rows: number }> = {
        bn: { loss: 0, correct: 0, rows: 0 },
        plain: { loss: 0, correct: 0, rows: 0 },
      };
      for (let from = 0; from < train.count; from += batchSize) {
        const n = Math.min(batchSize, train.count - from);
        if (n < 2) break;
        const xb = n === batchSize ? x : xRest!;
        const lb = n === batchSize ? labels : labelsRest;
        gatherSamples(xb, lb, trainSet, perm, from, n);
        for (const name of order) {
          // Keras's training accuracy: the logits of the forward that this step trains on.
          const l = steppers[name].run(xb, lb);
          const out = steppers[name].logits!.data;
          for (let r = 0; r < n; r++) if (argmaxRow(out, r, 10) === lb[r]) sum[name].correct++;
          sum[name].loss += l * n;
          sum[name].rows += n;
        }
      }
      const parts: string[] = [];
      for (const name of order) {
        const v = evaluators[name].run(models[name], valSet);
        const c = curves[name];
        c.epochs.push(epoch);
        c.trainLoss.push(round(sum[name].loss / sum[name].rows));
        c.trainAccuracy.push(round(sum[name].correct / sum[name].rows));
        c.valLoss.push(round(v.loss));
        c.valAccuracy.push(round(v.accuracy));
        parts.push(`${name} loss ${(sum[name].loss / sum[name].rows).toFixed(4)} val_loss ${v.loss.toFixed(4)} val_acc ${(100 * v.accuracy).toFixed(2)}%`);
      }
      log(`epoch ${String(epoch).padStart(String(epochs).length)}/${epochs}  ${parts.join(" | ")}  (${secondsSince(t0).toFixed(1)} s)`);
    }
    for (const name of order) {
      const t = evaluators[name].run(models[name], testSet);
      curves[name].testAccuracy = t.accuracy;
      curves[name].testLoss = round(t.loss);
    }
  } finally {
    x.dispose();
    xRest?.dispose();
    for (const name of order) {
      evaluators[name].dispose();
      models[name].dispose();
      losses[name].dispose();
      opts[name].dispose();
    }
  }
  return { config, networks: { bn: curves.bn, plain: curves.plain }, wallTimeSeconds: round(secondsSince(t0), 4) };
}

/** Training and validation loss per epoch, both networks (Keras's history plot). */
export function mnistKerasFigures(result: MnistKerasResult): Record<string, string> {
  const { bn, plain } = result.networks;
  return {
    "mnist-keras-loss.svg": lineChart({
      title: "Keras MNIST example: loss per epoch, with and without BatchNorm",
      xLabel: "epoch",
      yLabel: "cross-entropy loss",
      series: [
        { name: "BN, training", x: bn.epochs, y: bn.trainLoss, color: "#0072B2" },
        { name: "BN, validation", x: bn.epochs, y: bn.valLoss, color: "#0072B2", dash: "6 4" },
        { name: "no BN, training", x: plain.epochs, y: plain.trainLoss, color: "#D55E00" },
        { name: "no BN, validation", x: plain.epochs, y: plain.valLoss, color: "#D55E00", dash: "6 4" },
      ],
    }),
  };
}

export function summarizeMnistKeras(result: MnistKerasResult): string {
  const line = (name: string, c: KerasCurves) => {
    const i = c.epochs.length - 1;
    return `${name}: loss ${c.trainLoss[i].toFixed(4)}, val_loss ${c.valLoss[i].toFixed(4)} (best ${Math.min(...c.valLoss).toFixed(4)} at epoch ${c.epochs[c.valLoss.indexOf(Math.min(...c.valLoss))]}), val_acc ${(100 * c.valAccuracy[i]).toFixed(2)}%, test accuracy ${(100 * c.testAccuracy).toFixed(2)}%`;
  };
  return [line("with BatchNorm   ", result.networks.bn), line("without BatchNorm", result.networks.plain), `wall time ${result.wallTimeSeconds.toFixed(1)} s (${result.config.backend} build)`].join("\n");
}
