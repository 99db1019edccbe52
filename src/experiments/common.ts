// What both MNIST experiments share: loading the data (an IDX directory or the embedded
// digits), evaluating a Sequential in eval mode in fixed-size batches while reading one
// layer's output, percentiles, and atomic file writes (temp file + rename, so an
// interrupted run never leaves a half-written figure or JSON under the real name).
import { loadMnist, type MnistData, type MnistSplit } from "../data/mnist.js";
import { loadEmbeddedMnist } from "../data/mnist_embedded.js";
import { importNode, nodeFs, nodePath } from "../data/node.js";
import type { CrossEntropyLoss } from "../loss.js";
import type { Module } from "../module.js";
import type { Sequential } from "../sequential.js";
import { Tensor, tensor } from "../tensor.js";

/** Progress messages (console.log in the CLI; silent or captured in tests). */
export type Log = (message: string) => void;

/** Where the data comes from: loaded already, an IDX directory, or (neither) the embedded 10,000 digits. */
export interface DataOptions {
  /** MNIST already in memory (takes precedence over dataDir). */
  data?: MnistData;
  /** A directory holding the four MNIST IDX files (gzip or raw). */
  dataDir?: string;
  /** Seed of the embedded digits' 8000/2000 split. */
  seed?: number;
}

export async function loadData(options: DataOptions): Promise<MnistData> {
  if (options.data) return options.data;
  if (options.dataDir !== undefined) return loadMnist({ dir: options.dataDir });
  return loadEmbeddedMnist({ seed: options.seed ?? 0 });
}

/**
 * The p-th percentile (0..100) of `values`, linearly interpolated between order statistics
 * (NumPy's default, "linear"). Sorts a copy; NaN sorts last and only shows up if asked for.
 */
export function percentile(values: ArrayLike<number>, p: number): number {
  return percentilesOf(values, [p])[0];
}

/** Several percentiles of the same values with one sort. */
export function percentilesOf(values: ArrayLike<number>, ps: readonly number[]): number[] {
  const n = values.length;
  if (n === 0) throw new Error("percentile: no values");
  const sorted = Float64Array.from(values as ArrayLike<number>).sort();
  return ps.map((p) => {
    if (!(p >= 0 && p <= 100)) throw new Error(`percentile: p must be in [0, 100], got ${p}`);
    const pos = (p / 100) * (n - 1);
    const i = Math.floor(pos);
    const f = pos - i;
    return i + 1 < n ? sorted[i] + f * (sorted[i + 1] - sorted[i]) : sorted[i];
  });
}

export interface EvalResult {
  /** Fraction of correctly classified rows. */
  accuracy: number;
  /** Mean cross-entropy, when a loss was given. */
  loss: number;
  /** The probed layer's column `probe.unit` for every row, when a probe was given. */
  probed: Float32Array | null;
}

export interface Probe {
  /** Index in model.layers whose output is read. */
  layer: number;
  /** Column of that output. */
  unit: number;
  /** Only the first `rows` rows of the split are probed (default: all). */
  rows?: number;
}

/**
 * Runs `model` in eval mode over a split in batches of `batchSize` rows (the last batch
 * padded with zeros, which eval-mode layers treat row by row, so no layer reallocates),
 * returning accuracy, the mean loss and optionally one unit of one layer's output. The
 * model's training flag is restored afterwards.
 */
export function evaluateSplit(
  model: Sequential,
  split: MnistSplit,
  options: { batchSize: number; inputShape?: readonly number[]; loss?: CrossEntropyLoss; probe?: Probe; scratch?: Tensor },
): EvalResult {
  const { batchSize } = options;
  const P = split.rows * split.cols;
  const inner = options.inputShape ?? [P];
  const wasTraining = model.training;
  model.eval();
  const x = options.scratch ?? tensor(new Float32Array(batchSize * P), [batchSize, ...inner]);
  const labels = new Uint8Array(batchSize);
  const probe = options.probe;
  const probeRows = probe ? Math.min(split.count, probe.rows ?? split.count) : 0;
  const probed = probe ? new Float32Array(probeRows) : null;
  let correct = 0, lossSum = 0;
  try {
    for (let start = 0; start < split.count; start += batchSize) {
      const rows = Math.min(batchSize, split.count - start);
      const xd = x.data;
      xd.set(split.images.subarray(start * P, (start + rows) * P));
      if (rows < batchSize) xd.fill(0, rows * P);
      labels.fill(0);
      labels.set(split.labels.subarray(start, start + rows));
      let h: Tensor = x;
      const layers: readonly Module[] = model.layers;
      for (let i = 0; i < layers.length; i++) {
        h = layers[i].forward(h);
        if (probe && probe.layer === i && start < probeRows) {
          const width = h.size / batchSize;
          const hd = h.data;
          const upto = Math.min(rows, probeRows - start);
          for (let r = 0; r < upto; r++) probed![start + r] = hd[r * width + probe.unit];
        }
      }
      const C = h.size / batchSize;
      const out = h.data;
      for (let r = 0; r < rows; r++) {
        let best = 0;
        for (let c = 1; c < C; c++) if (out[r * C + c] > out[r * C + best]) best = c;
        if (best === split.labels[start + r]) correct++;
      }
      if (options.loss) lossSum += options.loss.forwardRows(h, labels, rows) * rows;
    }
  } finally {
    if (!options.scratch) x.dispose();
    model.train(wasTraining);
  }
  return { accuracy: correct / split.count, loss: options.loss ? lossSum / split.count : NaN, probed };
}

/** Copies rows `idx[from..from+n)` of a split into x (n x pixels) and their labels into `labels`. */
export function gatherBatch(split: MnistSplit, idx: ArrayLike<number>, from: number, n: number, x: Tensor, labels: Uint8Array): void {
  const P = split.rows * split.cols;
  const xd = x.data;
  for (let r = 0; r < n; r++) {
    const i = idx[from + r];
    xd.set(split.images.subarray(i * P, (i + 1) * P), r * P);
    labels[r] = split.labels[i];
  }
}

/** Seconds since `t0` (a performance.now() value). */
export function secondsSince(t0: number): number {
  return (performance.now() - t0) / 1000;
}

/** Writes text to `file` atomically: a temp file in the same directory, then rename. Creates the directory. */
export async function writeFileAtomic(file: string, text: string): Promise<void> {
  const fs = await nodeFs("writeFileAtomic");
  const path = await nodePath("writeFileAtomic");
  const { dirname } = await importNode<{ dirname(p: string): string }>("node:path", "writeFileAtomic");
  const abs = path.resolve(file);
  await fs.mkdir(dirname(abs), { recursive: true });
  const tmp = `${abs}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}.tmp`;
  try {
    await fs.writeFile(tmp, new TextEncoder().encode(text));
    await fs.rename(tmp, abs);
  } catch (e) {
    await fs.rm(tmp, { force: true }).catch(() => {});
    throw e;
  }
}

/** Writes `files` (name -> content) into `dir`, each atomically; returns the full paths. */
export async function writeOutputs(dir: string, files: Record<string, string>): Promise<string[]> {
  const path = await nodePath("writeOutputs");
  const written: string[] = [];
  for (const [name, text] of Object.entries(files)) {
    const p = path.resolve(path.join(dir, name));
    await writeFileAtomic(p, text);
    written.push(p);
  }
  return written;
}

/** A number rounded to `digits` significant decimals for JSON (keeps files small, exact enough). */
export function round(v: number, digits = 6): number {
  return Number.isFinite(v) ? Number(v.toPrecision(digits)) : v;
}
