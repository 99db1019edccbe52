// What both MNIST experiments share: loading the data (an IDX directory or the embedded
// digits), percentiles, and atomic file writes (temp file + rename, so an
// interrupted run never leaves a half-written figure or JSON under the real name).
import { loadMnist, type MnistData } from "../data/mnist.js";
import { loadEmbeddedMnist } from "../data/mnist_embedded.js";
import { importNode, nodeFs, nodePath } from "../data/node.js";

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
