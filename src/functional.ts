// Batch Normalization on plain Float32Arrays, for users with their own arrays. These
// copy in and out of WebAssembly memory (the layers do not); the math is the layers'.
import { getBackend } from "./backend.js";
import { type BnLayout, type DataFormat, layoutFor } from "./layers/batchnorm.js";
import { Buffers } from "./buffers.js";
import { boolOption, checkOptions, epsOption } from "./options.js";
import { checkShape, fmt, type Shape, sizeOf } from "./shape.js";
import type { Tensor } from "./tensor.js";
import { bnBackward, bnFold, bnForwardTrain, bnScratchBytes, scaleShift } from "./ops/bn.js";

interface Common {
  /** Channel axis: 1 (default) or last. */
  dataFormat?: DataFormat;
}

export interface TrainOptions extends Common {
  gamma?: Float32Array | null;
  beta?: Float32Array | null;
  eps?: number;
}

export interface BackwardOptions extends Common {
  /** The batch mean and invStd that batchNormTrain returned. */
  mean: Float32Array;
  invStd: Float32Array;
  gamma?: Float32Array | null;
}

export interface InferenceOptions extends Common {
  gamma?: Float32Array | null;
  beta?: Float32Array | null;
  runningMean: Float32Array;
  runningVar: Float32Array;
  eps?: number;
  /** Apply max(0, y) in the same pass. */
  relu?: boolean;
}

function layoutOf(fn: string, data: Float32Array, shape: Shape, dataFormat: DataFormat = "channelsFirst"): BnLayout {
  checkShape(shape, fn);
  if (shape.length < 2) throw new Error(`${fn}: expected a shape of rank >= 2 with channels at dimension ${dataFormat === "channelsLast" ? "-1" : "1"}, got ${fmt(shape)}`);
  if (!(data instanceof Float32Array)) throw new Error(`${fn}: expected a Float32Array, got ${data === null ? "null" : typeof data}`);
  if (data.length !== sizeOf(shape)) throw new Error(`${fn}: shape ${fmt(shape)} holds ${sizeOf(shape)} values, but the array has ${data.length}`);
  if (dataFormat !== "channelsFirst" && dataFormat !== "channelsLast") throw new Error(`${fn}: dataFormat must be 'channelsFirst' or 'channelsLast', got ${JSON.stringify(dataFormat)}`);
  if (shape.includes(0)) throw new Error(`${fn}: expected a shape without empty dimensions, got ${fmt(shape)} (dimension ${shape.indexOf(0)} is 0)`);
  return layoutFor(shape, dataFormat);
}

function perChannel(fn: string, name: string, v: Float32Array | null | undefined, C: number, fill: number | null): Float32Array {
  if (v == null) {
    if (fill === null) throw new Error(`${fn}: ${name} is required (a Float32Array of ${C} values)`);
    return new Float32Array(C).fill(fill);
  }
  if (!(v instanceof Float32Array) || v.length !== C) {
    throw new Error(`${fn}: ${name} must be a Float32Array of ${C} values (one per channel), got ${v instanceof Float32Array ? `length ${v.length}` : typeof v}`);
  }
  return v;
}

/** The running variance a fold divides by: no negative values (sqrt of a negative is NaN). */
function checkVariance(fn: string, name: string, v: Float32Array): Float32Array {
  const i = v.findIndex((x) => !(x >= 0) || x === Infinity);
  if (i >= 0) throw new Error(`${fn}: ${name} holds ${v[i]} at index ${i}; expected finite variances >= 0`);
  return v;
}

const TRAIN_OPTIONS = ["gamma", "beta", "eps", "dataFormat"];
const BACKWARD_OPTIONS = ["mean", "invStd", "gamma", "dataFormat"];
const INFERENCE_OPTIONS = ["gamma", "beta", "runningMean", "runningVar", "eps", "relu", "dataFormat"];

/** The statistics kernels' per-channel scratch, as a buffer. */
function scratchFor(bufs: Buffers, C: number): Tensor {
  return bufs.get("#scratch", [Math.ceil(bnScratchBytes(getBackend(), C) / 4)]);
}

function withBuffers<T>(fn: (bufs: Buffers, put: (name: string, v: Float32Array, shape: Shape) => Tensor) => T): T {
  const bufs = new Buffers(getBackend(), "batchNorm functional call");
  try {
    return fn(bufs, (name, v, shape) => {
      const t = bufs.get(name, shape);
      t.data.set(v);
      return t;
    });
  } finally {
    bufs.releaseAll();
  }
}

/** Training-mode forward: returns y, the batch mean, biased var and invStd = 1/sqrt(var + eps). */
export function batchNormTrain(x: Float32Array, shape: Shape, opts?: TrainOptions) {
  const fn = "batchNormTrain";
  const options = checkOptions(fn, opts, TRAIN_OPTIONS);
  const L = layoutOf(fn, x, shape, options.dataFormat);
  if (L.m <= 1) throw new Error(`${fn}: Expected more than 1 value per channel when training, got input size ${fmt(shape)}`);
  const C = L.C;
  const gamma = perChannel(fn, "gamma", options.gamma, C, 1);
  const beta = perChannel(fn, "beta", options.beta, C, 0);
  const eps = epsOption(fn, options.eps, 1e-5);
  return withBuffers((bufs, put) => {
    const xt = put("x", x, shape), g = put("gamma", gamma, [C]), b = put("beta", beta, [C]);
    const y = bufs.get("y", shape), mean = bufs.get("mean", [C]), v = bufs.get("var", [C]), inv = bufs.get("invStd", [C]);
    bnForwardTrain(y, { mean, var: v, invStd: inv }, xt, g, b, eps, L, scratchFor(bufs, C));
    return { y: y.toArray(), mean: mean.toArray(), var: v.toArray(), invStd: inv.toArray() };
  });
}

/** Backward of batchNormTrain: dx, dgamma = sum dy * xhat, dbeta = sum dy. */
export function batchNormBackward(dy: Float32Array, x: Float32Array, shape: Shape, opts: BackwardOptions) {
  const fn = "batchNormBackward";
  if (opts === undefined) throw new Error(`${fn}: options { mean, invStd } are required (what batchNormTrain returned)`);
  const options = checkOptions(fn, opts, BACKWARD_OPTIONS);
  const L = layoutOf(fn, dy, shape, options.dataFormat);
  layoutOf(fn, x, shape, options.dataFormat);
  const C = L.C;
  const mean = perChannel(fn, "mean", options.mean, C, null);
  const invStd = perChannel(fn, "invStd", options.invStd, C, null);
  const gamma = perChannel(fn, "gamma", options.gamma, C, 1);
  return withBuffers((bufs, put) => {
    const dyt = put("dy", dy, shape), xt = put("x", x, shape);
    const m = put("mean", mean, [C]), inv = put("invStd", invStd, [C]), g = put("gamma", gamma, [C]);
    const dgamma = put("dgamma", new Float32Array(C), [C]), dbeta = put("dbeta", new Float32Array(C), [C]);
    const dx = bufs.get("dx", shape);
    bnBackward(dx, dgamma, dbeta, dyt, xt, m, inv, g, L, true, scratchFor(bufs, C));
    return { dx: dx.toArray(), dgamma: dgamma.toArray(), dbeta: dbeta.toArray() };
  });
}

/** Inference-mode forward: y = a*x + b with a, b folded from the running estimates. */
export function batchNormInference(x: Float32Array, shape: Shape, opts: InferenceOptions): Float32Array {
  const fn = "batchNormInference";
  if (opts === undefined) throw new Error(`${fn}: options { runningMean, runningVar } are required`);
  const options = checkOptions(fn, opts, INFERENCE_OPTIONS);
  const L = layoutOf(fn, x, shape, options.dataFormat);
  const C = L.C;
  const gamma = perChannel(fn, "gamma", options.gamma, C, 1);
  const beta = perChannel(fn, "beta", options.beta, C, 0);
  const rm = perChannel(fn, "runningMean", options.runningMean, C, null);
  const rv = checkVariance(fn, "runningVar", perChannel(fn, "runningVar", options.runningVar, C, null));
  const eps = epsOption(fn, options.eps, 1e-5);
  const relu = boolOption(fn, "relu", options.relu, false);
  return withBuffers((bufs, put) => {
    const xt = put("x", x, shape), g = put("gamma", gamma, [C]), b = put("beta", beta, [C]);
    const rmt = put("rm", rm, [C]), rvt = put("rv", rv, [C]);
    const a = bufs.get("a", [C]), bb = bufs.get("b", [C]), y = bufs.get("y", shape);
    bnFold(a, bb, g, b, rmt, rvt, eps);
    scaleShift(y, xt, a, bb, L, relu);
    return y.toArray();
  });
}

/** Folds BN's inference parameters into per-channel a, b (y = a*x + b). */
export function foldBatchNorm(opts: Omit<InferenceOptions, "relu" | "dataFormat">) {
  const fn = "foldBatchNorm";
  if (opts === undefined) throw new Error(`${fn}: options { runningMean, runningVar } are required`);
  const options = checkOptions(fn, opts, INFERENCE_OPTIONS.filter((k) => k !== "relu" && k !== "dataFormat"));
  const C = options.runningMean?.length ?? 0;
  const gamma = perChannel(fn, "gamma", options.gamma, C, 1);
  const beta = perChannel(fn, "beta", options.beta, C, 0);
  const rm = perChannel(fn, "runningMean", options.runningMean, C, null);
  const rv = checkVariance(fn, "runningVar", perChannel(fn, "runningVar", options.runningVar, C, null));
  const eps = epsOption(fn, options.eps, 1e-5);
  return withBuffers((bufs, put) => {
    const g = put("gamma", gamma, [C]), b = put("beta", beta, [C]), rmt = put("rm", rm, [C]), rvt = put("rv", rv, [C]);
    const a = bufs.get("a", [C]), bb = bufs.get("b", [C]);
    bnFold(a, bb, g, b, rmt, rvt, eps);
    return { a: a.toArray(), b: bb.toArray() };
  });
}
