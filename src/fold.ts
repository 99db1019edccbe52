// Folding Batch Normalization into the preceding Dense or Conv2d for inference (Ioffe &
// Szegedy 2015, Sec. 3.1: at inference BN is a fixed affine map). With a = gamma /
// sqrt(runVar + eps) and b_bn = beta - a * runMean (the bn_fold kernel), a linear map followed
// by BN is one linear map: W' = a[o] * W[o, ...] per output channel, b' = a * b + b_bn.
// The model is rebuilt from two tables: fold rules for adjacent pairs inside a Sequential,
// and copy rules for single layers (containers are rebuilt around their folded children). A
// layer with no rule is an error: sharing it with the original model would tie the two.
// BatchNorm with renorm or ghost batches folds like BatchNorm: both are plain BN at inference.
import { foldBatchNorm as foldBatchNormArrays } from "./functional.js";
import { Activation, ReLU, Sigmoid, Tanh } from "./layers/activations.js";
import { BatchNorm, BatchNorm1d, BatchNorm2d } from "./layers/batchnorm.js";
import { layerName } from "./layers/container.js";
import { Concat } from "./layers/concat.js";
import { Conv2d } from "./layers/conv2d.js";
import { Dense } from "./layers/dense.js";
import { Dropout } from "./layers/dropout.js";
import { Flatten } from "./layers/flatten.js";
import { GroupNorm } from "./layers/group_norm.js";
import { InstanceNorm } from "./layers/instance_norm.js";
import { LayerNorm } from "./layers/layer_norm.js";
import { AvgPool2d, GlobalAvgPool2d, MaxPool2d } from "./layers/pool.js";
import { Residual } from "./layers/residual.js";
import { Sequential } from "./layers/sequential.js";
import type { Module } from "./module.js";
import type { Padding } from "./ops/conv.js";

/** a and b of a BatchNorm's inference map y = a * x + b, from the bn_fold kernel (so, bit for bit, what eval mode uses). */
function affineOf(bn: BatchNorm): { a: Float32Array; b: Float32Array } {
  return foldBatchNormArrays({
    gamma: bn.weight ? bn.weight.value.toArray() : null,
    beta: bn.bias ? bn.bias.value.toArray() : null,
    runningMean: bn.runningMean!.toArray(),
    runningVar: bn.runningVar!.toArray(),
    eps: bn.eps,
  });
}

/** W[o, ...] *= a[o] (rows of w of equal length) and b' = a * b + b_bn. */
function scaleRows(w: Float32Array, bias: Float32Array | null, bn: BatchNorm): { weight: Float32Array; bias: Float32Array } {
  const { a, b } = affineOf(bn);
  const O = a.length, per = w.length / O;
  const out = bias ?? new Float32Array(O);
  for (let o = 0; o < O; o++) {
    for (let i = 0; i < per; i++) w[o * per + i] *= a[o];
    out[o] = a[o] * out[o] + b[o];
  }
  return { weight: w, bias: out };
}

/** One rule per pair of adjacent layers that folds into one. */
const PAIR_RULES: { name: string; matches(a: Module, b: Module): boolean; fold(a: Module, b: Module): Module }[] = [
  {
    name: "Dense + BatchNorm1d",
    matches: (a, b) => a instanceof Dense && b instanceof BatchNorm1d && b.trackRunningStats && b.numFeatures === a.outFeatures && b.dataFormat === "channelsFirst",
    fold(a, b) {
      const d = a as Dense;
      const out = new Dense(d.inFeatures, d.outFeatures, { bias: true, seed: 0 });
      out.loadStateDict(scaleRows(d.weight.value.toArray(), d.bias?.value.toArray() ?? null, b as BatchNorm));
      return out;
    },
  },
  {
    name: "Conv2d + BatchNorm2d",
    matches: (a, b) => a instanceof Conv2d && b instanceof BatchNorm2d && b.trackRunningStats && b.numFeatures === a.outChannels && b.dataFormat === a.dataFormat,
    fold(a, b) {
      const c = a as Conv2d;
      const out = copyConv(c, true);
      // PyTorch's [OC, C, KH, KW] order: one row of C*KH*KW weights per output channel.
      out.loadStateDict(scaleRows(c.weightAsTorch(), c.bias?.value.toArray() ?? null, b as BatchNorm));
      return out;
    },
  },
];

/** A layer's padding in the form its constructor takes. */
function paddingOf(p: readonly [number | "valid" | "same", number | "valid" | "same"]): Padding {
  return p[0] === p[1] ? p[0] : [p[0] as number, p[1] as number];
}

function copyConv(c: Conv2d, bias: boolean): Conv2d {
  return new Conv2d(c.inChannels, c.outChannels, c.kernelSize, { stride: c.stride, padding: paddingOf(c.padding), dilation: c.dilation, bias, dataFormat: c.dataFormat, seed: 0 });
}

/** Inference copies of single layers, by type (null: the layer is the identity at inference and is left out). */
const COPY_RULES: { type: abstract new (...args: never[]) => Module; copy(m: Module, at: string): Module | null }[] = [
  { type: Dropout, copy: () => null },
  {
    type: Dense,
    copy(m) {
      const d = m as Dense;
      const out = new Dense(d.inFeatures, d.outFeatures, { bias: d.bias !== null, seed: 0 });
      out.loadStateDict(d.stateDict());
      return out;
    },
  },
  {
    type: Conv2d,
    copy(m) {
      const out = copyConv(m as Conv2d, (m as Conv2d).bias !== null);
      out.loadStateDict(m.stateDict());
      return out;
    },
  },
  {
    type: BatchNorm,
    copy(m) {
      const bn = m as BatchNorm;
      const options = { eps: bn.eps, momentum: bn.momentum, affine: bn.affine, trackRunningStats: bn.trackRunningStats, scale: bn.weight !== null, center: bn.bias !== null, dataFormat: bn.dataFormat };
      const copy = bn instanceof BatchNorm2d ? new BatchNorm2d(bn.numFeatures, options) : new BatchNorm1d(bn.numFeatures, options);
      // Renorm and ghost batches act in training only: the inference copy is a plain BN.
      const { renorm_mean: _m, renorm_stddev: _s, ...state } = bn.stateDict();
      copy.loadStateDict(state);
      return copy;
    },
  },
  { type: Activation, copy: (m) => (m instanceof ReLU ? new ReLU() : m instanceof Sigmoid ? new Sigmoid() : new Tanh()) },
  { type: Flatten, copy: () => new Flatten() },
  {
    type: MaxPool2d,
    copy: (m) => {
      const p = m as MaxPool2d;
      return new MaxPool2d(p.kernelSize, { stride: p.stride, padding: paddingOf(p.padding), dataFormat: p.dataFormat });
    },
  },
  {
    type: AvgPool2d,
    copy: (m) => {
      const p = m as AvgPool2d;
      return new AvgPool2d(p.kernelSize, { stride: p.stride, padding: paddingOf(p.padding), dataFormat: p.dataFormat, countIncludePad: p.countIncludePad });
    },
  },
  { type: GlobalAvgPool2d, copy: (m) => new GlobalAvgPool2d({ dataFormat: (m as GlobalAvgPool2d).dataFormat }) },
  { type: Sequential, copy: (m, at) => foldSequential(m as Sequential, at) },
  { type: Concat, copy: (m, at) => new Concat((m as Concat).branches.map((b, i) => foldOne(b, `${at}${i}`)), { dataFormat: (m as Concat).dataFormat }) },
  {
    type: Residual,
    copy: (m, at) => {
      const r = m as Residual;
      return new Residual(foldOne(r.block, `${at}block`), { shortcut: r.shortcut ? foldOne(r.shortcut, `${at}shortcut`) : null });
    },
  },
];

/** A layer's inference copy; Dropout becomes an empty Sequential (the identity) outside a Sequential. */
function foldOne(m: Module, at: string): Module {
  return copyOf(m, at) ?? new Sequential([]);
}

/**
 * Layers the fold refuses, and why. The per-sample norms have no running statistics: their
 * map depends on the sample, so there is no fixed affine map to fold. InstanceNorm with
 * trackRunningStats is refused too: its eval map is fixed, but folding it is not supported.
 */
const REFUSE_RULES: { type: abstract new (...args: never[]) => Module; why(m: Module): string }[] = [
  { type: LayerNorm, why: () => "LayerNorm normalizes each sample with its own statistics (it has no running statistics)" },
  { type: GroupNorm, why: () => "GroupNorm normalizes each sample with its own statistics (it has no running statistics)" },
  {
    type: InstanceNorm,
    why: (m) =>
      (m as InstanceNorm).trackRunningStats
        ? "InstanceNorm with trackRunningStats normalizes each sample with its own statistics in training; folding its eval map is not supported"
        : "InstanceNorm normalizes each sample with its own statistics (it has no running statistics)",
  },
];

function copyOf(m: Module, at: string): Module | null {
  const refused = REFUSE_RULES.find((r) => m instanceof r.type);
  if (refused) {
    throw new Error(`foldBatchNorm: cannot fold layer ${at} (${layerName(m)}): ${refused.why(m)}, so its output depends on the sample and it is no fixed affine map; remove it or keep the unfolded model for inference`);
  }
  const rule = COPY_RULES.find((r) => m instanceof r.type);
  if (!rule) {
    throw new Error(
      `foldBatchNorm: no rule for layer ${at} (${layerName(m)}); it knows ${COPY_RULES.map((r) => r.type.name).join(", ")} ` +
        "(a layer it does not know would be shared with the original model, not copied)",
    );
  }
  return rule.copy(m, `${at}.`);
}

function foldSequential(model: Sequential, at = ""): Sequential {
  const layers: Module[] = [];
  const src = model.layers;
  for (let i = 0; i < src.length; i++) {
    const m = src[i], next = src[i + 1];
    const rule = next ? PAIR_RULES.find((r) => r.matches(m, next)) : undefined;
    if (rule) {
      layers.push(rule.fold(m, next));
      i++;
      continue;
    }
    const copy = copyOf(m, `${at}${i}`);
    if (copy) layers.push(copy);
  }
  return new Sequential(layers).eval();
}

/**
 * An inference copy of `model` (in eval mode) in which every Dense followed by a BatchNorm1d
 * and every Conv2d followed by a BatchNorm2d is one layer with the BN folded in (inside
 * Concat branches and Residual blocks too), and Dropout is gone. Its outputs equal the
 * eval-mode model's up to float32 rounding. The original model is not changed; a layer it
 * has no rule for is an error. (Assumes Dense layers get [N, features] inputs.)
 *
 * Called with { gamma, beta, runningMean, runningVar, eps } instead of a model, returns the
 * per-channel { a, b } of the inference map y = a * x + b (functional form).
 */
export function foldBatchNorm(model: Sequential): Sequential;
export function foldBatchNorm(options: Parameters<typeof foldBatchNormArrays>[0]): { a: Float32Array; b: Float32Array };
export function foldBatchNorm(arg: Sequential | Parameters<typeof foldBatchNormArrays>[0]): Sequential | { a: Float32Array; b: Float32Array } {
  if (arg instanceof Sequential) return foldSequential(arg);
  if (arg !== null && typeof arg === "object" && "forward" in arg) {
    throw new Error(`foldBatchNorm: expected a Sequential model, got ${(arg as object).constructor?.name ?? typeof arg}`);
  }
  return foldBatchNormArrays(arg);
}
