// The one list of shapes that the tests and the benchmarks share (XNNPACK's habit of
// sweeping sizes around the SIMD tile: tails are where SIMD kernels break).
import type { DataFormat } from "../src/layers/batchnorm.js";

/** Sizes below, at and above the f32x4 tile and its unroll by two. */
export const TAIL_SIZES = [1, 3, 4, 5, 7, 8, 9, 17] as const;
/** Batch sizes: the smallest that normalizes, an odd one, the paper's MNIST batch. */
export const BATCH_SIZES = [2, 3, 60] as const;

export interface BnCase {
  shape: number[];
  dataFormat: DataFormat;
}

/** Every (N, C, HW) of the sweep in the three layouts the kernels implement. */
export function sweepCases(): BnCase[] {
  const cases: BnCase[] = [];
  for (const N of BATCH_SIZES) {
    for (const C of TAIL_SIZES) {
      cases.push({ shape: [N, C], dataFormat: "channelsFirst" });
      for (const HW of TAIL_SIZES) {
        cases.push({ shape: [N, C, HW, 1], dataFormat: "channelsFirst" });
        cases.push({ shape: [N, HW, 1, C], dataFormat: "channelsLast" });
      }
    }
  }
  return cases;
}

/** The MNIST MLP of Ioffe & Szegedy 2015, section 4.1: 784-100-100-100-10, batch 60. */
export const MNIST_MLP = { layers: [784, 100, 100, 100, 10], batch: 60 } as const;

/**
 * Batch-norm inputs of the CIFAR-10 Inception network (Conv -> BN -> ReLU blocks) at
 * batch 250: the stem and the channel counts of its inception modules per resolution.
 */
export const CIFAR_INCEPTION_BN = [
  [250, 96, 32, 32],
  [250, 32, 32, 32],
  [250, 48, 32, 32],
  [250, 80, 16, 16],
  [250, 112, 16, 16],
  [250, 176, 8, 8],
  [250, 96, 8, 8],
] as const;

/** Real shapes small enough for every test run (the CIFAR ones at batch 4). */
export const REAL_TEST_CASES: BnCase[] = [
  { shape: [MNIST_MLP.batch, 100], dataFormat: "channelsFirst" },
  { shape: [4, 96, 32, 32], dataFormat: "channelsFirst" },
  { shape: [4, 80, 16, 16], dataFormat: "channelsFirst" },
  { shape: [4, 32, 32, 96], dataFormat: "channelsLast" },
  { shape: [4, 8, 8, 176], dataFormat: "channelsLast" },
];

/** The benchmark shapes: 4M floats in both layouts, and the MLP's BN. */
export const BENCH_CASES: (BnCase & { label: string })[] = [
  { label: "NCHW [64,64,32,32]", shape: [64, 64, 32, 32], dataFormat: "channelsFirst" },
  { label: "NHWC [64,32,32,64]", shape: [64, 32, 32, 64], dataFormat: "channelsLast" },
  { label: "NC [60,100]", shape: [60, 100], dataFormat: "channelsFirst" },
];

/** Normalized sizes of the per-sample norms (LayerNorm's D, GroupNorm's C): every tail of the f32x4 tile and its unroll. */
export const NORM_TAIL_SIZES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 17] as const;
/** Batch sizes of the per-sample norms: they normalize each sample alone, so 1 is valid. */
export const NORM_BATCH_SIZES = [1, 2, 3] as const;

export interface NormCase {
  shape: number[];
  dataFormat: DataFormat;
  /** Groups (GroupNorm; C for InstanceNorm). */
  G: number;
}

/** GroupNorm / InstanceNorm sweep: C over the tails, G in {1, a divisor, C}, HW over the tails, both layouts and [N, C]. */
export function groupNormCases(): NormCase[] {
  const cases: NormCase[] = [];
  for (const N of NORM_BATCH_SIZES) {
    for (const C of NORM_TAIL_SIZES) {
      const groups = [...new Set([1, C, [2, 3].find((g) => C % g === 0 && g < C) ?? 1])];
      for (const G of groups) {
        cases.push({ shape: [N, C], dataFormat: "channelsFirst", G });
        for (const HW of TAIL_SIZES) {
          cases.push({ shape: [N, C, HW, 1], dataFormat: "channelsFirst", G });
          cases.push({ shape: [N, HW, 1, C], dataFormat: "channelsLast", G });
        }
      }
    }
  }
  return cases;
}

/** Long blocks: past the float32 chunk of the statistics (1024 values) and the float64 fold of NHWC sums (256 rows). */
export const NORM_LONG_CASES: NormCase[] = [
  { shape: [2, 3, 1100], dataFormat: "channelsFirst", G: 3 },
  { shape: [2, 4, 300], dataFormat: "channelsFirst", G: 1 },
  { shape: [2, 300, 6], dataFormat: "channelsLast", G: 2 },
  { shape: [1, 1030, 17], dataFormat: "channelsLast", G: 17 },
  { shape: [MNIST_MLP.batch, 100], dataFormat: "channelsFirst", G: 10 },
  { shape: [4, 32, 8, 8], dataFormat: "channelsLast", G: 8 },
];

/** LayerNorm [rows, D]: D over the tails and past a float32 chunk, rows up to past the 256-row fold. */
export function layerNormCases(): { rows: number; D: number }[] {
  const out: { rows: number; D: number }[] = [];
  for (const rows of [1, 2, 3, 60]) for (const D of [...NORM_TAIL_SIZES, 100, 1030]) out.push({ rows, D });
  out.push({ rows: 300, D: 5 }, { rows: 520, D: 12 });
  return out;
}
