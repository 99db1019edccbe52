// Folding Batch Normalization into the preceding Dense layer for inference (Ioffe & Szegedy
// 2015, Sec. 3.1: at inference BN is a fixed affine map). With a = gamma / sqrt(runVar + eps)
// and b_bn = beta - a * runMean (the bn_fold kernel), Dense then BN is
//   a * (x W^T + b) + b_bn = x (a W)^T + (a b + b_bn),
// one Dense with W' = a * W (row o scaled by a[o]) and b' = a * b + b_bn.
import { BatchNorm, BatchNorm1d, BatchNorm2d } from "./layers/batchnorm.js";
import { foldBatchNorm as foldBatchNormArrays } from "./functional.js";
import { Activation, ReLU, Sigmoid, Tanh } from "./layers/activations.js";
import { Dense } from "./layers/dense.js";
import { Dropout } from "./layers/dropout.js";
import { Flatten } from "./layers/flatten.js";
import type { Module } from "./module.js";
import { Sequential } from "./layers/sequential.js";

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

function foldPair(dense: Dense, bn: BatchNorm): Dense {
  const { a, b } = affineOf(bn);
  const I = dense.inFeatures, O = dense.outFeatures;
  const w = dense.weight.value.toArray();
  const bias = dense.bias ? dense.bias.value.toArray() : new Float32Array(O);
  for (let o = 0; o < O; o++) {
    const ao = a[o];
    for (let i = 0; i < I; i++) w[o * I + i] *= ao;
    bias[o] = ao * bias[o] + b[o];
  }
  const out = new Dense(I, O, { bias: true, seed: 0 });
  out.loadStateDict({ weight: w, bias });
  return out;
}

function copyBatchNorm(bn: BatchNorm): BatchNorm {
  const options = {
    eps: bn.eps,
    momentum: bn.momentum,
    affine: bn.affine,
    trackRunningStats: bn.trackRunningStats,
    scale: bn.weight !== null,
    center: bn.bias !== null,
    dataFormat: bn.dataFormat,
  };
  const copy = bn instanceof BatchNorm2d ? new BatchNorm2d(bn.numFeatures, options) : new BatchNorm1d(bn.numFeatures, options);
  copy.loadStateDict(bn.stateDict());
  return copy;
}

function copyLayer(m: Module): Module {
  if (m instanceof Dense) {
    const d = new Dense(m.inFeatures, m.outFeatures, { bias: m.bias !== null, seed: 0 });
    d.loadStateDict(m.stateDict());
    return d;
  }
  if (m instanceof BatchNorm) return copyBatchNorm(m);
  if (m instanceof Activation) return m instanceof ReLU ? new ReLU() : m instanceof Sigmoid ? new Sigmoid() : new Tanh();
  if (m instanceof Flatten) return new Flatten();
  if (m instanceof Sequential) return foldModel(m);
  return m; // an unknown layer is shared with the original model
}

function foldModel(model: Sequential): Sequential {
  const layers: Module[] = [];
  const src = model.layers;
  for (let i = 0; i < src.length; i++) {
    const m = src[i];
    const next = src[i + 1];
    if (m instanceof Dropout) continue; // the identity at inference
    if (m instanceof Dense && next instanceof BatchNorm1d && next.trackRunningStats && next.numFeatures === m.outFeatures) {
      layers.push(foldPair(m, next));
      i++;
      continue;
    }
    layers.push(copyLayer(m));
  }
  return new Sequential(layers).eval();
}

/**
 * An inference copy of `model` (in eval mode) in which every Dense followed by a
 * BatchNorm1d is one Dense with the BN folded in, and Dropout is gone. Its outputs equal
 * the eval-mode model's up to float32 rounding. The original model is not changed; layers
 * of unknown types are shared, not copied. (Assumes Dense layers get [N, features] inputs.)
 *
 * Called with { gamma, beta, runningMean, runningVar, eps } instead of a model, returns the
 * per-channel { a, b } of the inference map y = a * x + b (functional form).
 */
export function foldBatchNorm(model: Sequential): Sequential;
export function foldBatchNorm(options: Parameters<typeof foldBatchNormArrays>[0]): { a: Float32Array; b: Float32Array };
export function foldBatchNorm(arg: Sequential | Parameters<typeof foldBatchNormArrays>[0]): Sequential | { a: Float32Array; b: Float32Array } {
  if (arg instanceof Sequential) return foldModel(arg);
  if (arg !== null && typeof arg === "object" && "forward" in arg) {
    throw new Error(`foldBatchNorm: expected a Sequential model, got ${(arg as object).constructor?.name ?? typeof arg}`);
  }
  return foldBatchNormArrays(arg);
}
