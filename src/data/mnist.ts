// MNIST from its four IDX files (gzip or raw): loadMnist reads a directory in Node,
// loadMnistFromBytes takes bytes the caller fetched (browsers). Both check that the files
// are what they claim (see idx.ts), that images and labels agree in count, that images are
// 28x28 and labels 0..9, so Fashion-MNIST's files load too, and anything else fails loudly.
// Gzip files are never decompressed past the size their IDX header declares (maxBytes caps that).
import { decodeIdxImages, decodeIdxLabels, type GunzipOptions } from "./idx.js";
import { dirPath, nodeFs, nodePath } from "./node.js";

/** One split: `count` images of rows*cols = 784 pixels in [0, 1], row-major, and their labels. */
export interface MnistSplit {
  images: Float32Array;
  labels: Uint8Array;
  count: number;
  rows: number;
  cols: number;
}

export interface MnistData {
  train: MnistSplit;
  test: MnistSplit;
  /** Where the data came from, for logs and reports. */
  source: string;
}

/** The four files' names without the .gz suffix. */
export const MNIST_FILES = {
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte",
  testLabels: "t10k-labels-idx1-ubyte",
} as const;

export type MnistFileKey = keyof typeof MNIST_FILES;
const KEYS = Object.keys(MNIST_FILES) as MnistFileKey[];

/** The four files' contents, each gzip-compressed or raw. */
export type MnistBytes = Record<MnistFileKey, Uint8Array>;

export const MNIST_ROWS = 28;
export const MNIST_COLS = 28;
export const MNIST_CLASSES = 10;

async function buildSplit(images: Uint8Array, labels: Uint8Array, imagesName: string, labelsName: string, gz: GunzipOptions): Promise<MnistSplit> {
  const im = await decodeIdxImages(images, imagesName, gz);
  const lb = await decodeIdxLabels(labels, labelsName, gz);
  if (im.rows !== MNIST_ROWS || im.cols !== MNIST_COLS) {
    throw new Error(`batchnorm-wasm: ${imagesName}: expected ${MNIST_ROWS}x${MNIST_COLS} MNIST images, got ${im.rows}x${im.cols}`);
  }
  if (im.count !== lb.length) {
    throw new Error(`batchnorm-wasm: ${imagesName} holds ${im.count} images but ${labelsName} holds ${lb.length} labels; expected the same count`);
  }
  for (let i = 0; i < lb.length; i++) {
    if (lb[i] >= MNIST_CLASSES) {
      throw new Error(`batchnorm-wasm: ${labelsName}: expected labels 0..${MNIST_CLASSES - 1}, got ${lb[i]} at index ${i}`);
    }
  }
  return { images: im.pixels, labels: lb, count: im.count, rows: im.rows, cols: im.cols };
}

/** maxBytes checked before any file is read, even when no file turns out to be gzip. */
function gunzipOptions(what: string, options: GunzipOptions): GunzipOptions {
  const m = options.maxBytes;
  if (m !== undefined && !(Number.isSafeInteger(m) && m >= 1)) {
    throw new Error(`batchnorm-wasm: ${what}: maxBytes must be a positive integer (the most decompressed bytes per file), got ${String(m)}`);
  }
  return { maxBytes: m };
}

export interface LoadMnistFromBytesOptions extends GunzipOptions {
  /** Names used in error messages, per file (default: the standard file names). */
  names?: Partial<Record<MnistFileKey, string>>;
  /** Recorded as `source` in the result. */
  source?: string;
}

/** MNIST from the four files' bytes (gzip or raw, detected by the gzip magic). Works anywhere. */
export async function loadMnistFromBytes(bytes: MnistBytes, options: LoadMnistFromBytesOptions = {}): Promise<MnistData> {
  for (const k of KEYS) {
    if (!(bytes?.[k] instanceof Uint8Array)) {
      throw new Error(`batchnorm-wasm: loadMnistFromBytes: expected ${k} (${MNIST_FILES[k]}) as a Uint8Array, got ${bytes?.[k] === undefined ? "nothing" : typeof bytes[k]}`);
    }
  }
  const name = (k: MnistFileKey) => options.names?.[k] ?? MNIST_FILES[k];
  const gz = gunzipOptions("loadMnistFromBytes", options);
  const train = await buildSplit(bytes.trainImages, bytes.trainLabels, name("trainImages"), name("trainLabels"), gz);
  const test = await buildSplit(bytes.testImages, bytes.testLabels, name("testImages"), name("testLabels"), gz);
  return { train, test, source: options.source ?? "MNIST IDX bytes" };
}

export interface LoadMnistOptions extends GunzipOptions {
  /** Directory holding train-images-idx3-ubyte(.gz), train-labels-idx1-ubyte(.gz), t10k-images-idx3-ubyte(.gz), t10k-labels-idx1-ubyte(.gz). */
  dir: string | URL;
}

function expectedList(): string {
  return KEYS.map((k) => `${MNIST_FILES[k]}(.gz)`).join(", ");
}

/**
 * Finds the four MNIST files in `dir` (Node only), each gzip-compressed or raw; when both
 * forms are there the raw one is used. Returns the path of each.
 */
export async function findMnistFiles(dir: string | URL): Promise<Record<MnistFileKey, string>> {
  const what = "loadMnist";
  const fs = await nodeFs(what);
  const path = await nodePath(what);
  const root = await dirPath(dir, what);
  let entries: string[];
  try {
    entries = await fs.readdir(root);
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why = code === "ENOENT" ? "does not exist" : code === "ENOTDIR" ? "is not a directory" : `cannot be read (${(e as Error).message})`;
    throw new Error(`batchnorm-wasm: the MNIST directory ${root} ${why}; expected a directory holding the four files ${expectedList()}`);
  }
  const present = new Set(entries);
  const found: Partial<Record<MnistFileKey, string>> = {};
  const missing: string[] = [];
  for (const k of KEYS) {
    const base = MNIST_FILES[k];
    const file = present.has(base) ? base : present.has(`${base}.gz`) ? `${base}.gz` : undefined;
    if (file === undefined) missing.push(`${base}(.gz)`);
    else found[k] = path.join(root, file);
  }
  if (missing.length > 0) {
    const listed = [...present].sort();
    const seen = listed.length === 0 ? "the directory is empty" : `found: ${listed.slice(0, 20).join(", ")}${listed.length > 20 ? `, ... (${listed.length} entries)` : ""}`;
    throw new Error(`batchnorm-wasm: the MNIST directory ${root} is missing ${missing.join(", ")}; expected the four files ${expectedList()}; ${seen}`);
  }
  return found as Record<MnistFileKey, string>;
}

/** MNIST from a directory of the four IDX files, gzip or raw (Node only). */
export async function loadMnist(options: LoadMnistOptions): Promise<MnistData> {
  if (options === null || typeof options !== "object" || options.dir === undefined) {
    throw new Error("batchnorm-wasm: loadMnist({ dir }) needs the directory holding the MNIST files");
  }
  const gz = gunzipOptions("loadMnist", options);
  const files = await findMnistFiles(options.dir);
  const fs = await nodeFs("loadMnist");
  const read = async (k: MnistFileKey) => {
    const p = files[k];
    const s = await fs.stat(p);
    if (!s.isFile()) throw new Error(`batchnorm-wasm: ${p}: expected a file, got a directory or special file`);
    return fs.readFile(p);
  };
  // One split at a time keeps the peak at one decompressed file plus its float copy.
  const train = await buildSplit(await read("trainImages"), await read("trainLabels"), files.trainImages, files.trainLabels, gz);
  const test = await buildSplit(await read("testImages"), await read("testLabels"), files.testImages, files.testLabels, gz);
  return { train, test, source: `MNIST IDX files: ${KEYS.map((k) => files[k]).join(", ")}` };
}
