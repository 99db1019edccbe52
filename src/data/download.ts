// Fetching the four MNIST .gz files from a mirror, each checked against the SHA-256 pinned
// here before anything is kept (WebCrypto's crypto.subtle.digest, the same in Node and in
// browsers). downloadMnist caches them in a directory (Node: temp file + rename, so a crash
// or a bad download never leaves a damaged file under the real name); fetchMnistBytes
// returns them in memory (browsers), ready for loadMnistFromBytes.
import { MNIST_FILES, type MnistBytes, type MnistFileKey } from "./mnist.js";
import { dirPath, nodeFs, nodePath, type NodeFs } from "./node.js";

/** The PyTorch project's public S3 mirror of LeCun's files (the original site often refuses). */
export const MNIST_BASE_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/";

/**
 * SHA-256 of the original .gz files (identical on every faithful mirror). No mirror publishes
 * SHA-256s: these are the digests of the files torchvision pins by md5 (f68b3c2d...,
 * d53e105e..., 9fb629c4..., ec29112d..., in this order).
 */
export const MNIST_SHA256: Readonly<Record<MnistFileKey, string>> = {
  trainImages: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
  trainLabels: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
  testImages: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
  testLabels: "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
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
  /** Expected SHA-256 per file (64 hex digits); missing entries default to MNIST_SHA256. */
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
  /** SHA-256, 64 lowercase hex digits. */
  sha256: string;
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
    const sum = options.checksums?.[k] ?? MNIST_SHA256[k];
    if (typeof sum !== "string" || !/^[0-9a-fA-F]{64}$/.test(sum)) {
      throw new Error(`batchnorm-wasm: checksums.${k} must be a SHA-256 of 64 hex digits, got ${JSON.stringify(sum)}`);
    }
    checksums[k] = sum.toLowerCase();
  }
  const url = (k: MnistFileKey) => (base.endsWith("/") ? base : base + "/") + gzName(k);
  return { url, fetchFn, checksums, subtle: webCrypto() };
}

/** WebCrypto's digests; checked before anything is fetched. */
export function webCrypto(): SubtleCrypto {
  const subtle = (globalThis as { crypto?: { subtle?: SubtleCrypto } }).crypto?.subtle;
  if (!subtle) {
    throw new Error(
      "batchnorm-wasm: no WebCrypto (crypto.subtle) in this engine to check the downloads with; " +
        "browsers offer it only in secure contexts (https: or localhost), Node.js from version 19 (20 is required)",
    );
  }
  return subtle;
}

/** SHA-256 as 64 lowercase hex digits. */
export async function sha256Hex(subtle: SubtleCrypto, bytes: Uint8Array): Promise<string> {
  // Both callers pass bytes on an ArrayBuffer (fetch's arrayBuffer(), fs.readFile), never a
  // SharedArrayBuffer, which digest() refuses.
  const digest = new Uint8Array(await subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  let hex = "";
  for (const b of digest) hex += b.toString(16).padStart(2, "0");
  return hex;
}

/** Writes `dest` through a temporary file and a rename, so it is never seen half-written. */
export async function writeFileAtomic(fs: NodeFs, dest: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${dest}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}.part`;
  try {
    await fs.writeFile(tmp, bytes);
    await fs.rename(tmp, dest);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
}

/** Fetches one file and checks its SHA-256; throws (keeping nothing) on any failure. */
async function fetchVerified(
  url: string,
  name: string,
  expectedSha256: string,
  fetchFn: FetchLike,
  subtle: SubtleCrypto,
): Promise<{ bytes: Uint8Array; sha256: string }> {
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
  const sha256 = await sha256Hex(subtle, bytes);
  if (sha256 !== expectedSha256) {
    throw new Error(
      `batchnorm-wasm: checksum mismatch for ${name} from ${url}: expected SHA-256 ${expectedSha256}, got ${sha256} (${bytes.length} bytes); ` +
        "the download is damaged or the mirror serves a different file, so it was not kept",
    );
  }
  return { bytes, sha256 };
}

/** The four MNIST .gz files fetched into memory and SHA-256-checked (browsers or Node). */
export async function fetchMnistBytes(options: FetchMnistOptions = {}): Promise<MnistBytes> {
  const { url, fetchFn, checksums, subtle } = resolveOptions(options);
  const out = {} as MnistBytes;
  for (const k of KEYS) out[k] = (await fetchVerified(url(k), gzName(k), checksums[k], fetchFn, subtle)).bytes;
  return out;
}

/**
 * Makes sure `cacheDir` holds the four MNIST .gz files with the expected SHA-256s (Node only):
 * files already there with the right checksum are kept, others are fetched from `baseUrl`,
 * checked, and written atomically. A file that fails its check is never kept: the call
 * throws, and a damaged cached copy of it is removed.
 */
export async function downloadMnist(options: DownloadMnistOptions): Promise<DownloadMnistResult> {
  const what = "downloadMnist";
  if (options === null || typeof options !== "object" || options.cacheDir === undefined) {
    throw new Error("batchnorm-wasm: downloadMnist({ cacheDir }) needs a directory to keep the files in");
  }
  const { url, fetchFn, checksums, subtle } = resolveOptions(options);
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
      const sum = await sha256Hex(subtle, cached);
      if (sum === checksums[k]) {
        files[k] = { name, path: dest, url: url(k), bytes: cached.length, sha256: sum, fetched: false };
        log(`${name}: already in ${dir}, SHA-256 ok`);
        continue;
      }
      log(`${name}: cached copy has SHA-256 ${sum}, expected ${checksums[k]}; fetching again`);
    }
    log(`${name}: fetching ${url(k)}`);
    let got: { bytes: Uint8Array; sha256: string };
    try {
      got = await fetchVerified(url(k), name, checksums[k], fetchFn, subtle);
    } catch (e) {
      if (cached) await fs.rm(dest, { force: true }); // known bad: do not leave it for loadMnist
      throw e;
    }
    await writeFileAtomic(fs, dest, got.bytes);
    files[k] = { name, path: dest, url: url(k), bytes: got.bytes.length, sha256: got.sha256, fetched: true };
    log(`${name}: saved ${got.bytes.length} bytes, SHA-256 ok`);
  }
  return { dir, files };
}
