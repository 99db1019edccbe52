// The in-memory data sets fit() and evaluate() take, and the one normalized form they use:
// samples as one row-major Float32Array with a feature shape, labels as integers.
import type { Labels } from "../loss.js";
import { describe } from "../options.js";
import { fmt } from "../shape.js";
import type { Tensor } from "../tensor.js";

/** Samples as one row-major Float32Array; shape [N, ...featureShape] (default [N, x.length / N]). */
export interface ArrayDataset {
  x: Float32Array;
  y: Labels;
  shape?: readonly number[];
}

/** The MNIST loaders' split format ({ images, labels, count }). */
export interface ImageDataset {
  images: Float32Array;
  labels: Labels;
  count?: number;
  shape?: readonly number[];
}

export type Dataset = ArrayDataset | ImageDataset;

/** A checked data set: count samples of `features` values each, shaped featureShape. */
export interface Samples {
  x: Float32Array;
  y: Labels;
  count: number;
  featureShape: number[];
  features: number;
}

/** Checks a Dataset and returns its normalized form; `where` starts the error messages. */
export function toSamples(d: Dataset, where: string): Samples {
  if (d === null || typeof d !== "object") throw new Error(`${where}: expected { x, y } or { images, labels, count }, got ${describe(d)}`);
  const a = d as Partial<ArrayDataset> & Partial<ImageDataset>;
  const x = a.x ?? a.images;
  const y = a.y ?? a.labels;
  if (!(x instanceof Float32Array)) throw new Error(`${where}: the samples (x or images) must be a Float32Array, got ${describe(x)}`);
  if (!(y instanceof Int32Array || y instanceof Uint8Array)) throw new Error(`${where}: the labels (y or labels) must be an Int32Array or Uint8Array, got ${describe(y)}`);
  let count: number;
  let featureShape: number[];
  if (a.shape !== undefined) {
    if (!Array.isArray(a.shape) || a.shape.length < 2 || a.shape.some((s) => !Number.isInteger(s) || s < 0)) {
      throw new Error(`${where}: shape must be [N, ...features] (non-negative integers, rank >= 2), got ${JSON.stringify(a.shape)}`);
    }
    count = a.shape[0];
    featureShape = a.shape.slice(1);
    const n = a.shape.reduce((p, s) => p * s, 1);
    if (x.length !== n) throw new Error(`${where}: shape ${fmt(a.shape)} holds ${n} values, but the samples array has ${x.length}`);
  } else {
    count = a.count ?? y.length;
    if (!Number.isInteger(count) || count < 0) throw new Error(`${where}: count must be a non-negative integer, got ${count}`);
    if (count > 0 && x.length % count !== 0) throw new Error(`${where}: ${x.length} values do not split into ${count} samples (one per label); pass shape: [N, ...features]`);
    featureShape = [count > 0 ? x.length / count : 0];
  }
  if (count === 0) throw new Error(`${where}: the dataset is empty (0 samples)`);
  if (y.length !== count) throw new Error(`${where}: ${count} samples but ${y.length} labels`);
  return { x, y, count, featureShape, features: x.length / count };
}

/**
 * Samples [from, from + n) of `s` in the order `order` gives (null: in order) into the first
 * n rows of `x` and of `labels`: the one copy a training or evaluation step makes.
 */
export function gatherSamples(x: Tensor, labels: Labels, s: Samples, order: ArrayLike<number> | null, from: number, n: number): void {
  const F = s.features;
  const xd = x.data;
  if (order === null) {
    xd.set(s.x.subarray(from * F, (from + n) * F));
    for (let r = 0; r < n; r++) labels[r] = s.y[from + r];
    return;
  }
  for (let r = 0; r < n; r++) {
    const j = order[from + r];
    xd.set(s.x.subarray(j * F, (j + 1) * F), r * F);
    labels[r] = s.y[j];
  }
}

/** The samples [from, to) of a data set, as views (no copy). */
export function sliceSamples(s: Samples, from: number, to: number): Samples {
  const F = s.features;
  return { x: s.x.subarray(from * F, to * F), y: s.y.subarray(from, to), count: to - from, featureShape: s.featureShape, features: F };
}
