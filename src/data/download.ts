// Fetching the four MNIST .gz files from a mirror, each checked against its published md5
// before anything is kept. downloadMnist caches them in a directory (Node: temp file +
// rename, so a crash or a bad download never leaves a damaged file under the real name);
// fetchMnistBytes returns them in memory (browsers), ready for loadMnistFromBytes.
import { md5Hex } from "./md5.js";
import { MNIST_FILES, type MnistBytes, type MnistFileKey } from "./mnist.js";
import { dirPath, nodeFs, nodePath } from "./node.js";

/** The PyTorch project's public S3 mirror of LeCun's files (the original site often refuses). */
export const MNIST_BASE_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/";

/** md5 of the original .gz files (identical on every faithful mirror). */
export const MNIST_MD5: Readonly<Record<MnistFileKey, string>> = {
  trainImages: "f68b3c2dcbeaaa9fbdd348bbdeb94873",
  trainLabels: "d53e105ee54ea40749a09fcbcd1e9432",
  testImages: "9fb629c4189551a2d022fa330f9573f3",
  testLabels: "ec29112dd5afa0611ce80d1b7f02629c",
};

/** What is needed of fetch(); the global fetch fits. */
export type FetchLike = (url: string) => Promise<{
  ok: boolean;
  status: number;
  statusText: string;
  arrayBuffer(): Promise<ArrayBuffer>;
}>;

export interface FetchMnistOptions {
  /** Directory URL holding the four .gz files. Default MNIST_BASE_URL. */
  baseUrl?: string;
  /** Default: the global fetch. */
  fetch?: FetchLike;
  /** Expected md5 per file (32 hex digits); missing entries default to MNIST_MD5. */
  checksums?: Partial<Record<MnistFileKey, string>>;
}

export interface DownloadMnistOptions extends FetchMnistOptions {
  /** Where the .gz files are kept; created if missing. Pass the same dir to loadMnist. */
  cacheDir: string | URL;
  /** Progress messages, e.g. console.log. Default: silent. */
  log?: (message: string) => void;
}

export interface DownloadedFile {
  /** File name, e.g. train-images-idx3-ubyte.gz. */
  name: string;
  path: string;
  url: string;
  bytes: number;
  md5: string;
  /** False when a file with the right checksum was already in the cache. */
  fetched: boolean;
}

export interface DownloadMnistResult {
  /** The cache directory: loadMnist({ dir }) reads it. */
  dir: string;
  files: Record<MnistFileKey, DownloadedFile>;
}

const KEYS = Object.keys(MNIST_FILES) as MnistFileKey[];

function gzName(k: MnistFileKey): string {
  return `${MNIST_FILES[k]}.gz`;
}

function resolveOptions(options: FetchMnistOptions) {
  const base = options.baseUrl ?? MNIST_BASE_URL;
  if (typeof base !== "string" || base === "") throw new Error(`batchnorm-wasm: baseUrl must be a non-empty string, got ${JSON.stringify(base)}`);
  const fetchFn = options.fetch ?? (globalThis as { fetch?: FetchLike }).fetch;
  if (typeof fetchFn !== "function") throw new Error("batchnorm-wasm: no fetch() in this engine; pass options.fetch");
  const checksums = {} as Record<MnistFileKey, string>;
  for (const k of KEYS) {
    const sum = options.checksums?.[k] ?? MNIST_MD5[k];
    if (typeof sum !== "string" || !/^[0-9a-fA-F]{32}$/.test(sum)) {
      throw new Error(`batchnorm-wasm: checksums.${k} must be an md5 of 32 hex digits, got ${JSON.stringify(sum)}`);
    }
    checksums[k] = sum.toLowerCase();
  }
  const url = (k: MnistFileKey) => (base.endsWith("/") ? base : base + "/") + gzName(k);
  return { url, fetchFn, checksums };
}

/** Fetches one file and checks its md5; throws (keeping nothing) on any failure. */
async function fetchVerified(url: string, name: string, expectedMd5: string, fetchFn: FetchLike): Promise<{ bytes: Uint8Array; md5: string }> {
  let bytes: Uint8Array;
  try {
    const response = await fetchFn(url);
    if (!response.ok) {
      throw new Error(`HTTP ${response.status}${response.statusText ? " " + response.statusText : ""}`);
    }
    bytes = new Uint8Array(await response.arrayBuffer());
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(`batchnorm-wasm: could not download ${name} from ${url}: ${why}`);
  }
  const md5 = md5Hex(bytes);
  if (md5 !== expectedMd5) {
    throw new Error(
      `batchnorm-wasm: checksum mismatch for ${name} from ${url}: expected md5 ${expectedMd5}, got ${md5} (${bytes.length} bytes); ` +
        "the download is damaged or the mirror serves a different file, so it was not kept",
    );
  }
  return { bytes, md5 };
}

/** The four MNIST .gz files fetched into memory and md5-checked (browsers or Node). */
export async function fetchMnistBytes(options: FetchMnistOptions = {}): Promise<MnistBytes> {
  const { url, fetchFn, checksums } = resolveOptions(options);
  const out = {} as MnistBytes;
  for (const k of KEYS) out[k] = (await fetchVerified(url(k), gzName(k), checksums[k], fetchFn)).bytes;
  return out;
}

/**
 * Makes sure `cacheDir` holds the four MNIST .gz files with the expected md5s (Node only):
 * files already there with the right checksum are kept, others are fetched from `baseUrl`,
 * checked, and written atomically. A file that fails its check is never kept: the call
 * throws, and a damaged cached copy of it is removed.
 */
export async function downloadMnist(options: DownloadMnistOptions): Promise<DownloadMnistResult> {
  const what = "downloadMnist";
  if (options === null || typeof options !== "object" || options.cacheDir === undefined) {
    throw new Error("batchnorm-wasm: downloadMnist({ cacheDir }) needs a directory to keep the files in");
  }
  const { url, fetchFn, checksums } = resolveOptions(options);
  const log = options.log ?? (() => {});
  const fs = await nodeFs(what);
  const path = await nodePath(what);
  const dir = path.resolve(await dirPath(options.cacheDir, what));
  await fs.mkdir(dir, { recursive: true });

  const files = {} as Record<MnistFileKey, DownloadedFile>;
  for (const k of KEYS) {
    const name = gzName(k);
    const dest = path.join(dir, name);
    let cached: Uint8Array | null = null;
    try {
      cached = await fs.readFile(dest);
    } catch (e) {
      if ((e as { code?: string }).code !== "ENOENT") throw e;
    }
    if (cached) {
      const sum = md5Hex(cached);
      if (sum === checksums[k]) {
        files[k] = { name, path: dest, url: url(k), bytes: cached.length, md5: sum, fetched: false };
        log(`${name}: already in ${dir}, md5 ok`);
        continue;
      }
      log(`${name}: cached copy has md5 ${sum}, expected ${checksums[k]}; fetching again`);
    }
    log(`${name}: fetching ${url(k)}`);
    let got: { bytes: Uint8Array; md5: string };
    try {
      got = await fetchVerified(url(k), name, checksums[k], fetchFn);
    } catch (e) {
      if (cached) await fs.rm(dest, { force: true }); // known bad: do not leave it for loadMnist
      throw e;
    }
    const tmp = `${dest}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}.part`;
    try {
      await fs.writeFile(tmp, got.bytes);
      await fs.rename(tmp, dest);
    } catch (e) {
      await fs.rm(tmp, { force: true });
      throw e;
    }
    files[k] = { name, path: dest, url: url(k), bytes: got.bytes.length, md5: got.md5, fetched: true };
    log(`${name}: saved ${got.bytes.length} bytes, md5 ok`);
  }
  return { dir, files };
}
