// The one list of the norms benchmark: which layers (KINDS: how to build each, its float64
// reference, its tfjs moments formulation, its PyTorch function) on which shapes (CASES).
// A normalization is one entry in KINDS and its rows in CASES; tfjs and PyTorch columns only
// where they have the layer (neither has Batch Renormalization or Ghost Batch Norm).
import { BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm2d, LayerNorm, type Module } from "../../src/index.js";
import type { DataFormat } from "../../src/ops/bn.js";
import { refBackward, refForwardTrain } from "../../test/reference/bn.js";
import { refGhostBackward, refGhostForward, refRenormBackward, refRenormForward } from "../../test/reference/bn_renorm.js";
import { refGroupNormBackward, refGroupNormForward } from "../../test/reference/group_norm.js";
import { refLayerNormBackward, refLayerNormForward } from "../../test/reference/layer_norm.js";

export const EPS = 1e-5;

export interface NormCase {
  label: string;
  kind: keyof typeof KINDS;
  shape: number[];
  dataFormat: DataFormat;
  /** GroupNorm's groups. */
  groups?: number;
  /** Ghost Batch Norm's virtualBatchSize. */
  virtual?: number;
}

/** Where the channels are: C, N, and the positions per channel of one sample. */
export function dims(c: NormCase): { N: number; C: number; HW: number } {
  const last = c.dataFormat === "channelsLast";
  const N = c.shape[0], C = last ? c.shape[c.shape.length - 1] : c.shape[1];
  return { N, C, HW: c.shape.reduce((a, b) => a * b, 1) / (N * C) };
}

export interface RefOut {
  y: Float64Array;
  dx: Float64Array;
  dgamma: Float64Array;
  dbeta: Float64Array;
}

/**
 * tfjs's formulation: x viewed as `shape` (a reshape of our memory, no transpose), moments
 * over `axes` (keepDims), gamma and beta viewed as `param` (broadcast against `shape`).
 */
export interface TfForm {
  shape: number[];
  axes: number[];
  param: number[];
}

export interface Kind {
  /** The layer, training mode. */
  make(c: NormCase): Module;
  /** Values in gamma (and beta). */
  params(c: NormCase): number;
  reference(c: NormCase, x: Float32Array, dy: Float32Array, gamma: Float32Array, beta: Float32Array): RefOut;
  /** tfjs's moments formulation (absent: tfjs has no such layer). */
  tfjs?(c: NormCase): TfForm;
  /** bench/norms/torch_norms.py's --kind (absent: PyTorch has no such layer). */
  torch?: "bn" | "ln" | "gn" | "in";
}

const last = (c: NormCase) => c.dataFormat === "channelsLast";

/** BatchNorm2d on a 4-D case, BatchNorm1d on [N, C], with `options` (eps EPS). */
function batchNormOf(c: NormCase, options: object = {}): Module {
  const o = { eps: EPS, ...options };
  return c.shape.length === 4 ? new BatchNorm2d(dims(c).C, { ...o, dataFormat: c.dataFormat }) : new BatchNorm1d(dims(c).C, o);
}

export const KINDS = {
  BatchNorm: {
    make: (c) => batchNormOf(c),
    params: (c) => dims(c).C,
    reference(c, x, dy, gamma, beta) {
      const o = { gamma, beta, eps: EPS, dataFormat: c.dataFormat };
      return { y: refForwardTrain(x, c.shape, o).y, ...refBackward(dy, x, c.shape, o) };
    },
    tfjs(c) {
      const { N, C, HW } = dims(c);
      return last(c) || HW === 1 ? { shape: [N * HW, C], axes: [0], param: [C] } : { shape: [N, C, HW], axes: [0, 2], param: [1, C, 1] };
    },
    torch: "bn",
  },
  LayerNorm: {
    make: (c) => new LayerNorm(c.shape.slice(1), { eps: EPS }),
    params: (c) => c.shape.slice(1).reduce((a, b) => a * b, 1),
    reference(c, x, dy, gamma, beta) {
      const D = this.params(c), o = { gamma, beta, eps: EPS };
      return { y: refLayerNormForward(x, D, o).y, ...refLayerNormBackward(dy, x, D, o) };
    },
    tfjs(c) {
      const D = this.params(c);
      return { shape: [c.shape[0], D], axes: [1], param: [D] };
    },
    torch: "ln",
  },
  GroupNorm: {
    make: (c) => new GroupNorm(c.groups!, dims(c).C, { dataFormat: c.dataFormat, eps: EPS }),
    params: (c) => dims(c).C,
    reference(c, x, dy, gamma, beta) {
      const o = { G: c.groups!, dataFormat: c.dataFormat, gamma, beta, eps: EPS };
      return { y: refGroupNormForward(x, c.shape, o).y, ...refGroupNormBackward(dy, x, c.shape, o) };
    },
    tfjs(c) {
      const { N, C, HW } = dims(c), G = c.groups!;
      return last(c) || HW === 1 ? { shape: [N, HW, G, C / G], axes: [1, 3], param: [1, 1, G, C / G] } : { shape: [N, G, C / G, HW], axes: [2, 3], param: [1, G, C / G, 1] };
    },
    torch: "gn",
  },
  InstanceNorm: {
    make: (c) => new InstanceNorm2d(dims(c).C, { affine: true, dataFormat: c.dataFormat, eps: EPS }),
    params: (c) => dims(c).C,
    reference(c, x, dy, gamma, beta) {
      const o = { G: dims(c).C, dataFormat: c.dataFormat, gamma, beta, eps: EPS };
      return { y: refGroupNormForward(x, c.shape, o).y, ...refGroupNormBackward(dy, x, c.shape, o) };
    },
    tfjs(c) {
      const { N, C, HW } = dims(c);
      return last(c) ? { shape: [N, HW, C], axes: [1], param: [C] } : { shape: [N, C, HW], axes: [2], param: [1, C, 1] };
    },
    torch: "in",
  },
  // Keras 2's renorm at its first step (moving mean 0, stddev 1): the corrections are clipped
  // to rMax 3 and dMax 5 (the paper's final bounds), so the kernel runs its full arithmetic.
  BatchRenorm: {
    make: (c) => batchNormOf(c, { renorm: { rMax: 3, dMax: 5 } }),
    params: (c) => dims(c).C,
    reference(c, x, dy, gamma, beta) {
      const C = dims(c).C;
      const st = { renormMean: new Float64Array(C), renormStd: new Float64Array(C).fill(1), rMax: 3, dMax: 5 };
      const f = refRenormForward(x, c.shape, { ...st, gamma, beta, eps: EPS, dataFormat: c.dataFormat });
      return { y: f.y, ...refRenormBackward(dy, x, c.shape, { r: f.r, d: f.d, gamma, eps: EPS, dataFormat: c.dataFormat }) };
    },
  },
  GhostBN: {
    make: (c) => batchNormOf(c, { virtualBatchSize: c.virtual! }),
    params: (c) => dims(c).C,
    reference(c, x, dy, gamma, beta) {
      const o = { gamma, beta, eps: EPS, dataFormat: c.dataFormat };
      return { y: refGhostForward(x, c.shape, c.virtual!, o).y, ...refGhostBackward(dy, x, c.shape, c.virtual!, o) };
    },
  },
} satisfies Record<string, Kind>;

const NCHW = [64, 64, 32, 32], NHWC = [64, 32, 32, 64], MLP = [60, 100];

/** 4M floats in both layouts and the MNIST MLP's [60, 100]. InstanceNorm has no MLP row (one position per channel). */
export const CASES: NormCase[] = [
  { label: "BN NCHW [64,64,32,32]", kind: "BatchNorm", shape: NCHW, dataFormat: "channelsFirst" },
  { label: "BN NHWC [64,32,32,64]", kind: "BatchNorm", shape: NHWC, dataFormat: "channelsLast" },
  { label: "BN [60,100]", kind: "BatchNorm", shape: MLP, dataFormat: "channelsFirst" },
  { label: "LN [64,64,32,32] over [64,32,32]", kind: "LayerNorm", shape: NCHW, dataFormat: "channelsFirst" },
  { label: "LN [60,100]", kind: "LayerNorm", shape: MLP, dataFormat: "channelsFirst" },
  { label: "GN(32) NCHW [64,64,32,32]", kind: "GroupNorm", shape: NCHW, dataFormat: "channelsFirst", groups: 32 },
  { label: "GN(32) NHWC [64,32,32,64]", kind: "GroupNorm", shape: NHWC, dataFormat: "channelsLast", groups: 32 },
  { label: "GN(10) [60,100]", kind: "GroupNorm", shape: MLP, dataFormat: "channelsFirst", groups: 10 },
  { label: "IN NCHW [64,64,32,32]", kind: "InstanceNorm", shape: NCHW, dataFormat: "channelsFirst" },
  { label: "IN NHWC [64,32,32,64]", kind: "InstanceNorm", shape: NHWC, dataFormat: "channelsLast" },
  { label: "Renorm NCHW [64,64,32,32]", kind: "BatchRenorm", shape: NCHW, dataFormat: "channelsFirst" },
  { label: "Renorm NHWC [64,32,32,64]", kind: "BatchRenorm", shape: NHWC, dataFormat: "channelsLast" },
  { label: "Renorm [60,100]", kind: "BatchRenorm", shape: MLP, dataFormat: "channelsFirst" },
  { label: "Ghost(8) NCHW [64,64,32,32]", kind: "GhostBN", shape: NCHW, dataFormat: "channelsFirst", virtual: 8 },
  { label: "Ghost(8) NHWC [64,32,32,64]", kind: "GhostBN", shape: NHWC, dataFormat: "channelsLast", virtual: 8 },
  { label: "Ghost(4) [60,100]", kind: "GhostBN", shape: MLP, dataFormat: "channelsFirst", virtual: 4 },
];
