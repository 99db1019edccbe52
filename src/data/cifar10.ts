// CIFAR-10, binary version (Krizhevsky 2009, https://www.cs.toronto.edu/~kriz/cifar.html):
// data_batch_1.bin ... data_batch_5.bin (training) and test_batch.bin, each 10,000 records of
// 1 label byte (0..9) and 3,072 pixel bytes: the red, green and blue planes of a 32x32 image,
// each row-major. loadCifar10 reads the folder or the official cifar-10-binary.tar.gz
// (streamed: gunzip and tar are read chunk by chunk, never held whole) in Node;
// cifar10FromBytes takes the files' or the archive's bytes anywhere.
// Pixels stay bytes in the files' order (CHW per image): 150 MB for the training set, where
// float32 would take 600 MB; training converts them per batch. Each split is one buffer
// allocated at its final size and filled record by record as the bytes arrive. Sizes, record
// counts and labels are checked, and each error names the file, what was expected and what came.
import { isGzip } from "./idx.js";
import { gunzipChunks } from "./gunzip_stream.js";
import { dirPath, fileChunks, nodeFs, nodePath } from "./node.js";
import { TarReader, type TarSink } from "./tar.js";

export const CIFAR10_ROWS = 32;
export const CIFAR10_COLS = 32;
export const CIFAR10_CHANNELS = 3;
/** 3,072 bytes per image: channel-major R, G, B planes of 32x32. */
export const CIFAR10_IMAGE_BYTES = CIFAR10_CHANNELS * CIFAR10_ROWS * CIFAR10_COLS;
/** 3,073 bytes per record: the label, then the image. */
export const CIFAR10_RECORD_BYTES = 1 + CIFAR10_IMAGE_BYTES;
/** Records in each of the six official files. */
export const CIFAR10_RECORDS_PER_FILE = 10000;

/** Class names by label, as in batches.meta.txt. */
export const CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"] as const;

export const CIFAR10_TRAIN_FILES = ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"] as const;
export const CIFAR10_TEST_FILE = "test_batch.bin";
export type Cifar10FileName = (typeof CIFAR10_TRAIN_FILES)[number] | typeof CIFAR10_TEST_FILE;
export const CIFAR10_FILES: readonly Cifar10FileName[] = [...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE];
/** The folder the official archive unpacks to. */
export const CIFAR10_ARCHIVE_DIR = "cifar-10-batches-bin";

/** A split: images as N * 3072 bytes (image i at i*3072, pixel (c, y, x) at + c*1024 + y*32 + x), and N labels 0..9. */
export interface Cifar10Split {
  images: Uint8Array;
  labels: Uint8Array;
}

export interface Cifar10Data {
  /** 50,000 images from data_batch_1..5, in file order. */
  train: Cifar10Split;
  /** 10,000 images from test_batch. */
  test: Cifar10Split;
  /** Where the data came from, for logs and reports. */
  source: string;
}

export interface Cifar10Options {
  /**
   * Records expected in each file (default 10,000, as published); every file must hold exactly
   * this many. Smaller values are for tests and cut-down copies.
   */
  recordsPerFile?: number;
  /** The most decompressed bytes accepted from a .tar.gz (default 256 MiB; the official archive inflates to 184 MB). */
  maxBytes?: number;
}

/** The six files' raw bytes, or the official archive's (.tar.gz or .tar). */
export interface Cifar10Bytes {
  train: Uint8Array[];
  test: Uint8Array;
}

export interface LoadCifar10Options extends Cifar10Options {
  /**
   * A folder holding data_batch_1.bin ... data_batch_5.bin and test_batch.bin (or holding
   * cifar-10-batches-bin/ with them), or the path of cifar-10-binary.tar.gz (or a .tar).
   */
  dir: string | URL;
}

const DEFAULT_MAX_BYTES = 2 ** 28;

function fail(name: string, message: string): never {
  throw new Error(`batchnorm-wasm: ${name}: ${message}`);
}

export interface ResolvedCifar10Options {
  records: number;
  maxBytes: number;
}

export function cifar10Options(what: string, options: Cifar10Options): ResolvedCifar10Options {
  const records = options.recordsPerFile ?? CIFAR10_RECORDS_PER_FILE;
  if (!Number.isSafeInteger(records) || records < 1 || records * CIFAR10_RECORD_BYTES > 2 ** 31) {
    fail(what, `recordsPerFile must be a positive integer (at most ${Math.floor(2 ** 31 / CIFAR10_RECORD_BYTES)}), got ${String(records)}`);
  }
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) fail(what, `maxBytes must be a positive integer, got ${String(maxBytes)}`);
  return { records, maxBytes };
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? "" : "s"}`;
}

/** Splits one file's records into its split's labels and images, as the bytes come. */
class BatchWriter implements TarSink {
  private pos = 0;

  constructor(
    private readonly split: Cifar10Split,
    private readonly first: number,
    private readonly size: number,
    private readonly name: string,
  ) {}

  write(chunk: Uint8Array): void {
    const { images, labels } = this.split;
    if (this.pos + chunk.length > this.size) {
      fail(this.name, `longer than the ${this.size} bytes expected (the file grew while it was read?)`);
    }
    let at = 0;
    while (at < chunk.length) {
      const r = Math.floor(this.pos / CIFAR10_RECORD_BYTES);
      const off = this.pos - r * CIFAR10_RECORD_BYTES;
      if (off === 0) {
        const label = chunk[at];
        if (label >= CIFAR10_CLASSES.length) {
          fail(
            this.name,
            `record ${r} (byte ${this.pos}) has label ${label}; expected 0..${CIFAR10_CLASSES.length - 1}` +
              " (a corrupt file, or not CIFAR-10: CIFAR-100's records start with two label bytes)",
          );
        }
        labels[this.first + r] = label;
        at++;
        this.pos++;
        continue;
      }
      const n = Math.min(CIFAR10_RECORD_BYTES - off, chunk.length - at);
      images.set(chunk.subarray(at, at + n), (this.first + r) * CIFAR10_IMAGE_BYTES + off - 1);
      at += n;
      this.pos += n;
    }
  }

  end(): void {
    if (this.pos !== this.size) fail(this.name, `truncated: expected ${this.size} bytes, got ${this.pos}`);
  }
}

/** The two splits, allocated at their final size, and which of the six files have been placed. */
export class Cifar10Assembler {
  readonly train: Cifar10Split;
  readonly test: Cifar10Split;
  private readonly seen = new Map<Cifar10FileName, string>();

  constructor(private readonly records: number) {
    this.train = { images: new Uint8Array(5 * records * CIFAR10_IMAGE_BYTES), labels: new Uint8Array(5 * records) };
    this.test = { images: new Uint8Array(records * CIFAR10_IMAGE_BYTES), labels: new Uint8Array(records) };
  }

  /** The CIFAR-10 file a path names (its last component), or null. */
  static fileOf(path: string): Cifar10FileName | null {
    const base = path.slice(path.lastIndexOf("/") + 1);
    return (CIFAR10_FILES as readonly string[]).includes(base) ? (base as Cifar10FileName) : null;
  }

  /**
   * A writer for `file` (called `name` in errors) of `size` bytes, after checking that size:
   * exactly recordsPerFile records of 3,073 bytes.
   */
  writer(file: Cifar10FileName, name: string, size: number): BatchWriter {
    const before = this.seen.get(file);
    if (before !== undefined) fail(name, `a second ${file} (the first was ${before})`);
    const want = this.records * CIFAR10_RECORD_BYTES;
    if (size !== want) {
      const whole = Math.floor(size / CIFAR10_RECORD_BYTES);
      const rest = size - whole * CIFAR10_RECORD_BYTES;
      const got = rest === 0 ? plural(whole, "record") : `${plural(whole, "whole record")} and ${plural(rest, "byte")} more: truncated or not a CIFAR-10 file`;
      fail(name, `expected ${plural(this.records, "record")} of ${CIFAR10_RECORD_BYTES} bytes (1 label + ${CIFAR10_IMAGE_BYTES} pixels) = ${want} bytes, got ${size} bytes (${got})`);
    }
    this.seen.set(file, name);
    const t = (CIFAR10_TRAIN_FILES as readonly string[]).indexOf(file);
    return t >= 0 ? new BatchWriter(this.train, t * this.records, size, name) : new BatchWriter(this.test, 0, size, name);
  }

  /** The data once all six files were placed; `where` says where they were looked for. */
  finish(where: string, source: string): Cifar10Data {
    const missing = CIFAR10_FILES.filter((f) => !this.seen.has(f));
    if (missing.length > 0) fail(where, `missing ${missing.join(", ")}; expected the six files ${CIFAR10_FILES.join(", ")}`);
    return { train: this.train, test: this.test, source };
  }
}

/** Streams a tar (gzip-compressed or not) into the assembler; other members are skipped. */
export async function readCifar10Archive(
  source: Uint8Array | ReadableStream<Uint8Array>,
  gzip: boolean,
  name: string,
  asm: Cifar10Assembler,
  maxBytes: number,
  sinkFor: (file: Cifar10FileName, memberName: string, size: number) => TarSink = (f, m, s) => asm.writer(f, m, s),
): Promise<void> {
  const tar = new TarReader(name, (entry) => {
    const file = Cifar10Assembler.fileOf(entry.name);
    return file === null ? null : sinkFor(file, `${name}: ${entry.name}`, entry.size);
  });
  if (gzip) {
    await gunzipChunks(source, name, maxBytes, (chunk) => tar.push(chunk));
  } else if (source instanceof Uint8Array) {
    await tar.push(source);
  } else {
    const reader = source.getReader();
    try {
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
        await tar.push(r.value);
      }
    } catch (e) {
      reader.cancel().catch(() => {});
      throw e;
    }
  }
  tar.finish();
}

/**
 * CIFAR-10 from bytes (any engine): the six files' contents as `{ train: [5 arrays], test }`,
 * or the official archive (cifar-10-binary.tar.gz, or the .tar inside it) as one Uint8Array.
 */
export async function cifar10FromBytes(input: Cifar10Bytes | Uint8Array, options: Cifar10Options & { source?: string } = {}): Promise<Cifar10Data> {
  const what = "cifar10FromBytes";
  const { records, maxBytes } = cifar10Options(what, options);
  const asm = new Cifar10Assembler(records);
  if (input instanceof Uint8Array) {
    const gzip = isGzip(input);
    const name = gzip ? "cifar-10-binary.tar.gz" : "cifar-10-binary.tar";
    await readCifar10Archive(input, gzip, name, asm, maxBytes);
    return asm.finish(name, options.source ?? `CIFAR-10 archive bytes (${name})`);
  }
  if (input === null || typeof input !== "object" || !Array.isArray(input.train) || input.train.length !== 5) {
    fail(what, `expected { train: [5 Uint8Arrays: ${CIFAR10_TRAIN_FILES.join(", ")}], test: Uint8Array } or the archive's bytes`);
  }
  const files: [Cifar10FileName, unknown][] = [...CIFAR10_TRAIN_FILES.map((f, i) => [f, input.train[i]] as [Cifar10FileName, unknown]), [CIFAR10_TEST_FILE, input.test]];
  for (const [file, bytes] of files) {
    if (!(bytes instanceof Uint8Array)) fail(what, `expected ${file} as a Uint8Array, got ${bytes === undefined ? "nothing" : typeof bytes}`);
    const w = asm.writer(file, file, bytes.length);
    w.write(bytes);
    w.end();
  }
  return asm.finish(what, options.source ?? "CIFAR-10 batch file bytes");
}

/** Finds the six files in `root` or in root/cifar-10-batches-bin; null when neither has any. */
async function findFolder(root: string, what: string): Promise<string | null> {
  const fs = await nodeFs(what);
  const path = await nodePath(what);
  for (const dir of [root, path.join(root, CIFAR10_ARCHIVE_DIR)]) {
    let entries: string[];
    try {
      entries = await fs.readdir(dir);
    } catch {
      continue;
    }
    if (entries.some((e) => Cifar10Assembler.fileOf(e) !== null)) return dir;
  }
  return null;
}

/**
 * CIFAR-10 (Node only) from a folder of the six .bin files, or from the official
 * cifar-10-binary.tar.gz (or .tar) read as a stream. See Cifar10Options.
 */
export async function loadCifar10(options: LoadCifar10Options): Promise<Cifar10Data> {
  const what = "loadCifar10";
  if (options === null || typeof options !== "object" || options.dir === undefined) {
    throw new Error("batchnorm-wasm: loadCifar10({ dir }) needs the folder of the CIFAR-10 .bin files or the path of cifar-10-binary.tar.gz");
  }
  const { records, maxBytes } = cifar10Options(what, options);
  const fs = await nodeFs(what);
  const path = await nodePath(what);
  const root = path.resolve(await dirPath(options.dir, what));
  const expected = `a folder holding ${CIFAR10_FILES.join(", ")} (or ${CIFAR10_ARCHIVE_DIR}/ with them), or cifar-10-binary.tar.gz`;
  let stat: { isDirectory(): boolean; isFile(): boolean; size: number };
  try {
    stat = await fs.stat(root);
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new Error(`batchnorm-wasm: the CIFAR-10 data ${root} ${code === "ENOENT" ? "does not exist" : `cannot be read (${(e as Error).message})`}; expected ${expected}`);
  }
  const asm = new Cifar10Assembler(records);

  if (stat.isFile()) {
    const head = (await fileChunks(root, what, 2)).getReader();
    const first = await head.read();
    await head.cancel();
    const gzip = !first.done && isGzip(first.value);
    await readCifar10Archive(await fileChunks(root, what), gzip, root, asm, maxBytes);
    return asm.finish(root, `CIFAR-10 archive ${root}`);
  }

  const dir = await findFolder(root, what);
  if (dir === null) {
    let listed: string[] = [];
    try {
      listed = (await fs.readdir(root)).sort();
    } catch {
      // reported below as not a folder
    }
    const seen = listed.length === 0 ? "it is empty" : `found: ${listed.slice(0, 20).join(", ")}${listed.length > 20 ? `, ... (${listed.length} entries)` : ""}`;
    throw new Error(`batchnorm-wasm: the CIFAR-10 folder ${root} holds none of the batch files; expected ${expected}; ${seen}`);
  }
  for (const file of CIFAR10_FILES) {
    const p = path.join(dir, file);
    let s: { isFile(): boolean; size: number };
    try {
      s = await fs.stat(p);
    } catch (e) {
      if ((e as { code?: string }).code === "ENOENT") continue; // reported with the others by finish()
      throw e;
    }
    if (!s.isFile()) fail(p, "expected a file, got a directory or special file");
    const w = asm.writer(file, p, s.size);
    const reader = (await fileChunks(p, what, 1 << 20)).getReader();
    try {
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
        w.write(r.value);
      }
    } catch (e) {
      reader.cancel().catch(() => {});
      throw e;
    }
    w.end();
  }
  return asm.finish(dir, `CIFAR-10 batch files in ${dir}`);
}
