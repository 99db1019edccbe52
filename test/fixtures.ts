// Small IDX files made by the tests, and where the full data sets are (../shared/data beside
// the repository, or $BNWASM_SHARED_DATA) when they are there at all: a clone of the
// repository alone has no ../shared, so the full-data checks skip and say why.
import { existsSync } from "node:fs";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { Rng } from "../src/random.js";

/** The shared data directory: $BNWASM_SHARED_DATA, else ../../shared/data from this file. */
export const SHARED_DATA = process.env.BNWASM_SHARED_DATA
  ? resolve(process.env.BNWASM_SHARED_DATA)
  : fileURLToPath(new URL("../../shared/data/", import.meta.url));

/** The real MNIST files (the four .gz files), with a trailing slash, as a file: URL. */
export const SHARED_MNIST_DIR = new URL("mnist/", pathToFileURL(join(SHARED_DATA, "/")));

/** Null when the real MNIST files can be read; otherwise why the full-data tests skip. */
export const SHARED_MNIST_SKIP: string | null = existsSync(fileURLToPath(SHARED_MNIST_DIR))
  ? null
  : `skipped: ${fileURLToPath(SHARED_MNIST_DIR)} is absent; set BNWASM_SHARED_DATA to the directory holding mnist/`;

/** A test name with the skip reason appended when the real MNIST files are absent. */
export function withSharedMnist(name: string): string {
  return SHARED_MNIST_SKIP ? `${name} (${SHARED_MNIST_SKIP})` : name;
}

/** Says once per test file why its full-data tests skip. */
export function warnIfNoSharedMnist(testFile: string): void {
  if (SHARED_MNIST_SKIP) console.warn(`${testFile}: the full-MNIST tests are ${SHARED_MNIST_SKIP}`);
}

/** An IDX file: big-endian magic, big-endian int32 sizes, then the bytes. */
export function idxFile(magic: number, dims: number[], data: Uint8Array): Uint8Array {
  const b = new Uint8Array(4 + 4 * dims.length + data.length);
  const v = new DataView(b.buffer);
  v.setUint32(0, magic);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d));
  b.set(data, 4 + 4 * dims.length);
  return b;
}

/** An IDX images file of `count` images: pixel i = (i * 7) mod 256. */
export function idxImages(count: number, rows = 28, cols = 28, magic = 2051): Uint8Array {
  return idxFile(magic, [count, rows, cols], Uint8Array.from({ length: count * rows * cols }, (_, i) => (i * 7) & 255));
}

export function idxLabels(labels: ArrayLike<number>, magic = 2049): Uint8Array {
  return idxFile(magic, [labels.length], Uint8Array.from(labels));
}

/**
 * `count` digit-like 28x28 images (a dark background, a bright blob, every byte value 0..255
 * present once there are 256 images or more) and labels 0..9, reproducible from `seed`.
 */
export function syntheticDigits(count: number, seed: number): { pixels: Uint8Array; labels: Uint8Array } {
  const r = new Rng(seed);
  const pixels = new Uint8Array(count * 784);
  const labels = new Uint8Array(count);
  for (let n = 0; n < count; n++) {
    labels[n] = r.int(10);
    const cy = 8 + r.int(12), cx = 8 + r.int(12), rad = 3 + labels[n] / 2;
    for (let y = 0; y < 28; y++) {
      for (let x = 0; x < 28; x++) {
        const d = Math.hypot(y - cy, x - cx);
        pixels[n * 784 + y * 28 + x] = d < rad ? 255 - r.int(40) : d < rad + 2 ? r.int(256) : 0;
      }
    }
    pixels[n * 784 + 27] = n & 255; // every byte value somewhere
  }
  return { pixels, labels };
}

export interface SplitBytes {
  /** count * 784 bytes. */
  pixels: Uint8Array;
  labels: Uint8Array;
}

/** The four MNIST files' names and bytes for a train and a test split, gzip-compressed or raw. */
export function mnistFiles(train: SplitBytes, test: SplitBytes, gzip: boolean): Record<string, Uint8Array> {
  const images = (s: SplitBytes) => idxFile(2051, [s.labels.length, 28, 28], s.pixels);
  const labels = (s: SplitBytes) => idxFile(2049, [s.labels.length], s.labels);
  const files: Record<string, Uint8Array> = {
    "train-images-idx3-ubyte": images(train),
    "train-labels-idx1-ubyte": labels(train),
    "t10k-images-idx3-ubyte": images(test),
    "t10k-labels-idx1-ubyte": labels(test),
  };
  if (!gzip) return files;
  return Object.fromEntries(Object.entries(files).map(([k, v]) => [`${k}.gz`, gzipSync(v)]));
}

/** Writes mnistFiles(...) into `dir` (created if missing); returns the names written. */
export async function writeMnistDir(dir: string, train: SplitBytes, test: SplitBytes, gzip: boolean): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files = mnistFiles(train, test, gzip);
  for (const [name, bytes] of Object.entries(files)) await writeFile(join(dir, name), bytes);
  return Object.keys(files);
}

/** Float pixels byte/255 back to bytes (exact for pixels that came from bytes). */
export function toBytes(images: Float32Array): Uint8Array {
  return Uint8Array.from(images, (p) => Math.round(p * 255));
}

/** The real CIFAR-10 batch files (the extracted official archive). */
export const SHARED_CIFAR10_DIR = join(SHARED_DATA, "cifar10", "cifar-10-batches-bin");

/** Null when the real CIFAR-10 files can be read; otherwise why the full-data tests skip. */
export const SHARED_CIFAR10_SKIP: string | null = existsSync(join(SHARED_CIFAR10_DIR, "test_batch.bin"))
  ? null
  : `skipped: ${SHARED_CIFAR10_DIR} is absent; set BNWASM_SHARED_DATA to the directory holding cifar10/cifar-10-batches-bin/`;

/**
 * A CIFAR-10 batch file of `records` records: label of record i = (i * 3 + salt) mod 10,
 * pixel (c, y, x) of record i = cifarPixel(i, c, y, x, salt).
 */
export function cifarBatch(records: number, salt: number): Uint8Array {
  const b = new Uint8Array(records * 3073);
  for (let i = 0; i < records; i++) {
    b[i * 3073] = (i * 3 + salt) % 10;
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 32; y++) {
        for (let x = 0; x < 32; x++) b[i * 3073 + 1 + c * 1024 + y * 32 + x] = cifarPixel(i, c, y, x, salt);
      }
    }
  }
  return b;
}

export function cifarPixel(i: number, c: number, y: number, x: number, salt: number): number {
  return (i * 29 + c * 101 + y * 7 + x * 3 + salt * 13) & 255;
}

export interface TarMember {
  name: string;
  data?: Uint8Array;
  /** The ustar type flag: "0" file (default), "5" directory, "2" symlink. */
  type?: string;
}

/** One ustar header block with its checksum. */
export function tarHeader(name: string, size: number, type = "0"): Uint8Array {
  const h = new Uint8Array(512);
  const put = (s: string, at: number) => {
    for (let i = 0; i < s.length; i++) h[at + i] = s.charCodeAt(i);
  };
  put(name, 0);
  put("0000644\0", 100);
  put("0000000\0", 108);
  put("0000000\0", 116);
  put(size.toString(8).padStart(11, "0") + "\0", 124);
  put("00000000000\0", 136);
  put("        ", 148);
  put(type, 156);
  put("ustar\0", 257);
  put("00", 263);
  let sum = 0;
  for (const b of h) sum += b;
  put(sum.toString(8).padStart(6, "0") + "\0 ", 148);
  return h;
}

/** A ustar archive of the members, each padded to 512 bytes, ended by two zero blocks. */
export function tarArchive(members: TarMember[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const m of members) {
    const data = m.data ?? new Uint8Array(0);
    parts.push(tarHeader(m.name, data.length, m.type ?? "0"), data, new Uint8Array((512 - (data.length % 512)) % 512));
  }
  parts.push(new Uint8Array(1024));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * A local HTTP server for download tests: `handler` answers each request (its path given);
 * `hits` lists the paths requested, `withHits(f)` runs f and counts the requests it caused.
 * Close it in afterAll.
 */
export async function loopbackServer(handler: (path: string, res: ServerResponse) => void): Promise<{
  base: string;
  hits: string[];
  withHits<T>(f: () => Promise<T>): Promise<[T, number]>;
  close(): Promise<void>;
}> {
  const hits: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? "/").split("?")[0]);
    hits.push(path);
    handler(path, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    async withHits<T>(f: () => Promise<T>): Promise<[T, number]> {
      const before = hits.length;
      const r = await f();
      return [r, hits.length - before];
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
