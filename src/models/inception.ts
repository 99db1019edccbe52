// The CIFAR-10 Inception network of the seeds' slides (GoogLeNet's modules 3a-5b without its
// stem, as a Keras model): each module runs 1x1 | 1x1->3x3 | 1x1->5x5 | maxpool 3x3 s1 ->
// 1x1 branches on its input and concatenates them on the channel axis. Every convolution is
// Conv (no bias) -> BatchNorm (Keras's scale=False, momentum 0.99, eps 1e-3) -> ReLU (one
// fused BatchNormReLU2d layer in channels-last), or
// Conv (bias) -> ReLU without BN. Weights start as Keras's (Glorot uniform, zero biases),
// drawn from one seed in the same order in both variants, so the BN and plain networks start
// from the same convolution kernels.
import { Concat } from "../layers/concat.js";
import { Conv2d } from "../layers/conv2d.js";
import { Dense } from "../layers/dense.js";
import { Dropout } from "../layers/dropout.js";
import { ReLU } from "../layers/activations.js";
import { BatchNorm2d } from "../layers/batchnorm.js";
import { BatchNormReLU2d } from "../layers/batchnorm_relu.js";
import { GlobalAvgPool2d, MaxPool2d } from "../layers/pool.js";
import { Sequential } from "../layers/sequential.js";
import type { Module } from "../module.js";
import type { DataFormat } from "../ops/bn.js";
import { checkOptions, describe } from "../options.js";
import { Rng } from "../random.js";

export interface InceptionCifarOptions {
  /** Multiplies every channel count (rounded, at least 1). Default 1 (5.83 M parameters). */
  width?: number;
  /** Conv -> BatchNorm -> ReLU (true, default) or Conv with bias -> ReLU. */
  bn?: boolean;
  /** Dropout rate before the classifier; 0 (default) adds no layer. */
  dropout?: number;
  /** Default 'channelsLast' (NHWC, the fast path). */
  dataFormat?: DataFormat;
  /** Seed of the weights and of the dropout masks. Default 0. */
  seed?: number;
  /**
   * Memory-lean training (Sequential.setMemoryLean): BN-ReLU and pooling outputs rebuilt in
   * backward instead of kept, gradients in a shared workspace. Same results. Default true.
   */
  memoryLean?: boolean;
  /** Input channels. Default 3. */
  inChannels?: number;
  /** Classes. Default 10. */
  classes?: number;
}

/** A module's six channel counts: 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool projection. */
export type InceptionChannels = readonly [number, number, number, number, number, number];

/** The seed's modules, in order; "pool" is a 3x3 stride-2 'same' max pool. */
export const INCEPTION_CIFAR_PLAN: readonly (readonly [string, InceptionChannels] | "pool")[] = [
  ["3a", [64, 96, 128, 16, 32, 32]],
  ["3b", [128, 128, 192, 32, 96, 64]],
  "pool",
  ["4a", [192, 96, 208, 16, 48, 64]],
  ["4b", [160, 112, 224, 24, 64, 64]],
  ["4c", [128, 128, 256, 24, 64, 64]],
  ["4d", [112, 144, 288, 32, 64, 64]],
  ["4e", [256, 160, 320, 32, 128, 128]],
  "pool",
  ["5a", [256, 160, 320, 32, 128, 128]],
  ["5b", [384, 192, 384, 48, 128, 128]],
];

const OPTIONS = ["width", "bn", "dropout", "dataFormat", "seed", "inChannels", "classes", "memoryLean"] as const;

/** A channel count scaled by the width multiplier: rounded, at least 1. */
export function scaledChannels(c: number, width: number): number {
  return Math.max(1, Math.round(c * width));
}

function resolve(opts: InceptionCifarOptions | undefined) {
  const o = opts ?? {};
  checkOptions("inceptionCifar", o, OPTIONS);
  const width = o.width ?? 1;
  if (typeof width !== "number" || !(width > 0) || !Number.isFinite(width)) throw new Error(`inceptionCifar: width must be a number > 0, got ${describe(width)}`);
  const dropout = o.dropout ?? 0;
  if (typeof dropout !== "number" || !(dropout >= 0 && dropout < 1)) throw new Error(`inceptionCifar: dropout must be a number in [0, 1), got ${describe(dropout)}`);
  const bn = o.bn ?? true;
  if (typeof bn !== "boolean") throw new Error(`inceptionCifar: bn must be true or false, got ${describe(bn)}`);
  const dataFormat = o.dataFormat ?? "channelsLast";
  if (dataFormat !== "channelsLast" && dataFormat !== "channelsFirst") throw new Error(`inceptionCifar: dataFormat must be 'channelsLast' or 'channelsFirst', got ${describe(dataFormat)}`);
  const seed = o.seed ?? 0;
  if (!Number.isInteger(seed)) throw new Error(`inceptionCifar: seed must be an integer, got ${describe(seed)}`);
  const inChannels = o.inChannels ?? 3;
  const classes = o.classes ?? 10;
  for (const [k, v] of [["inChannels", inChannels], ["classes", classes]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`inceptionCifar: ${k} must be a positive integer, got ${describe(v)}`);
  }
  const memoryLean = o.memoryLean ?? true;
  if (typeof memoryLean !== "boolean") throw new Error(`inceptionCifar: memoryLean must be true or false, got ${describe(memoryLean)}`);
  return { width, dropout, bn, dataFormat, seed, inChannels, classes, memoryLean };
}

/**
 * The seed's Inception network for 32x32 images: modules 3a, 3b, maxpool, 4a-4e, maxpool,
 * 5a, 5b, global average pooling, optional dropout, Dense(classes) (logits: pair it with
 * CrossEntropyLoss). State-dict keys nest as an nn.Sequential of nn.ModuleList-like Concats.
 */
export function inceptionCifar(opts?: InceptionCifarOptions): Sequential {
  const { width, dropout, bn, dataFormat, seed, inChannels, classes, memoryLean } = resolve(opts);
  const seeds = new Rng(seed);
  const nextSeed = () => Math.floor(seeds.uniform() * 0x100000000);
  // A branch's units, keyed as PyTorch's Sequential(conv, bn, relu, conv, bn, relu): the fused
  // layer takes BatchNorm's key and ReLU's (stateless) key is skipped.
  const branch = (...units: Module[][]): Sequential => {
    let at = 0;
    const entries: [string, Module][] = [];
    for (const u of units) {
      for (const m of u) entries.push([String(at++), m]);
      if (u[u.length - 1] instanceof BatchNormReLU2d) at++;
    }
    return Sequential.fromEntries(entries);
  };
  const unit = (cin: number, cout: number, k: number): Module[] => {
    const conv = new Conv2d(cin, cout, k, { padding: "same", bias: !bn, dataFormat, init: "glorotUniform", seed: nextSeed() });
    if (!bn) return [conv, new ReLU()];
    const bnOptions = { scale: false, momentum: 0.01, eps: 1e-3, dataFormat };
    // The fused layer keeps neither BatchNorm's nor ReLU's output; same math and state keys
    // as [BatchNorm2d, ReLU] (channels-last only).
    return dataFormat === "channelsLast" ? [conv, new BatchNormReLU2d(cout, bnOptions)] : [conv, new BatchNorm2d(cout, bnOptions), new ReLU()];
  };
  const layers: Module[] = [];
  let c = inChannels;
  for (const step of INCEPTION_CIFAR_PLAN) {
    if (step === "pool") {
      layers.push(new MaxPool2d(3, { stride: 2, padding: "same", dataFormat }));
      continue;
    }
    const [c1, c3r, c3, c5r, c5, cp] = step[1].map((v) => scaledChannels(v, width));
    layers.push(
      new Concat(
        [
          branch(unit(c, c1, 1)),
          branch(unit(c, c3r, 1), unit(c3r, c3, 3)),
          branch(unit(c, c5r, 1), unit(c5r, c5, 5)),
          branch([new MaxPool2d(3, { stride: 1, padding: "same", dataFormat })], unit(c, cp, 1)),
        ],
        { dataFormat },
      ),
    );
    c = c1 + c3 + c5 + cp;
  }
  layers.push(new GlobalAvgPool2d({ dataFormat }));
  if (dropout > 0) layers.push(new Dropout(dropout, { seed: nextSeed() }));
  layers.push(new Dense(c, classes, { init: "glorotUniform", seed: nextSeed() }));
  return new Sequential(layers).setMemoryLean(memoryLean);
}

export interface InceptionCifarCost {
  /** Trainable parameters. */
  parameters: number;
  /** Multiply-adds x 2 of the convolutions and the classifier, forward, per image. */
  forwardFlopsPerImage: number;
  /** Convolution outputs per image (floats), the size of what Conv2d keeps for BatchNorm's backward. */
  convOutputsPerImage: number;
}

/** Parameters and forward FLOPs of inceptionCifar(opts) on 32x32 images, counted from the plan. */
export function inceptionCifarCost(opts?: InceptionCifarOptions): InceptionCifarCost {
  const { width, inChannels, classes } = resolve(opts);
  let h = 32;
  let w = 32;
  let params = 0;
  let flops = 0;
  let outs = 0;
  const conv = (cin: number, cout: number, k: number) => {
    params += cin * cout * k * k + cout; // + bias (plain) or beta (BN)
    flops += 2 * cin * cout * k * k * h * w;
    outs += cout * h * w;
  };
  let c = inChannels;
  for (const step of INCEPTION_CIFAR_PLAN) {
    if (step === "pool") {
      h = Math.ceil(h / 2);
      w = Math.ceil(w / 2);
      continue;
    }
    const [c1, c3r, c3, c5r, c5, cp] = step[1].map((v) => scaledChannels(v, width));
    conv(c, c1, 1);
    conv(c, c3r, 1);
    conv(c3r, c3, 3);
    conv(c, c5r, 1);
    conv(c5r, c5, 5);
    conv(c, cp, 1);
    c = c1 + c3 + c5 + cp;
  }
  params += c * classes + classes;
  flops += 2 * c * classes;
  return { parameters: params, forwardFlopsPerImage: flops, convOutputsPerImage: outs };
}
