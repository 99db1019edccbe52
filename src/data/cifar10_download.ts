// Downloading the official cifar-10-binary.tar.gz, streamed through gunzip and the tar reader
// as it arrives. The archive is published with an MD5 only, which WebCrypto lacks, so each
// extracted batch file is checked against the SHA-256 pinned here before it is kept; the
// checked files are cached in a folder (written atomically) that loadCifar10 also reads.
import {
  CIFAR10_FILES,
  Cifar10Assembler,
  cifar10Options,
  readCifar10Archive,
  type Cifar10Data,
  type Cifar10FileName,
  type Cifar10Options,
} from "./cifar10.js";
import { sha256Hex, webCrypto, writeFileAtomic } from "./download.js";
import { dirPath, nodeFs, nodePath } from "./node.js";

export const CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";

/**
 * SHA-256 of the six batch files inside the official archive (which is published with
 * md5 c32a1d4ab5d03f1284b67883e8d87530; the files' own md5s are 5dd7e06a..., 5ea93a67...,
 * 942cd6a4..., ae636b3b..., 53f37980..., 803d5f7f..., in this order).
 */
export const CIFAR10_SHA256: Readonly<Record<Cifar10FileName, string>> = {
  "data_batch_1.bin": "cee916563c9f80d84e3cc88e17fdc0941787f1244f00a67874d45b261883ada5",
  "data_batch_2.bin": "a591ca11fa1708a91ee40f54b3da4784ccd871ecf2137de63f51ada8b3fa57ed",
  "data_batch_3.bin": "bbe8596564c0f86427f876058170b84dac6670ddf06d79402899d93ceea26f67",
  "data_batch_4.bin": "014e562d6e23c72197cc727519169a60359f5eccd8945ad5a09d710285ff4e48",
  "data_batch_5.bin": "755304fc0b379caeae8c14f0dac912fbc7d6cd469eb67a1029a08a39453a9add",
  "test_batch.bin": "8e2eb146ae340b09e24670f29cabc6326dba54da8789dab6768acf480273f65b",
};

/** What is needed of fetch(); the global fetch fits. A `body` stream is read as it arrives. */
export type Cifar10FetchLike = (url: string) => Promise<{
  ok: boolean;
  status: number;
  statusText: string;
  body?: ReadableStream<Uint8Array> | null;
  arrayBuffer(): Promise<ArrayBuffer>;
}>;

export interface DownloadCifar10Options extends Cifar10Options {
  /** Where the six checked .bin files are kept; created if missing. loadCifar10({ dir: cacheDir }) reads it. */
  cacheDir: string | URL;
  /** Default CIFAR10_URL. */
  url?: string;
  /** Default: the global fetch. */
  fetch?: Cifar10FetchLike;
  /** Expected SHA-256 per file (64 hex digits); missing entries default to CIFAR10_SHA256. */
  checksums?: Partial<Record<Cifar10FileName, string>>;
  /** Progress messages, e.g. console.log. Default: silent. */
  log?: (message: string) => void;
}

/** The archive's bytes as a stream; network errors name the URL. */
function downloadStream(body: ReadableStream<Uint8Array>, describe: (why: string) => string): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let r: ReadableStreamReadResult<Uint8Array>;
        try {
          r = await reader.read();
        } catch (e) {
          throw new Error(describe(e instanceof Error ? e.message : String(e)));
        }
        if (r.done) controller.close();
        else controller.enqueue(r.value);
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * CIFAR-10 (Node only), from the six batch files cached in `cacheDir` when they are all there
 * with the expected SHA-256s, else from the official archive at `url`: streamed, each batch
 * file checked against its SHA-256 and written to the cache only then. A file that fails its
 * check is never kept (a damaged cached copy is removed) and the call throws naming it.
 * Returns the same data as loadCifar10.
 */
export async function downloadCifar10(options: DownloadCifar10Options): Promise<Cifar10Data> {
  const what = "downloadCifar10";
  if (options === null || typeof options !== "object" || options.cacheDir === undefined) {
    throw new Error("batchnorm-wasm: downloadCifar10({ cacheDir }) needs a directory to keep the files in");
  }
  const { records, maxBytes } = cifar10Options(what, options);
  const url = options.url ?? CIFAR10_URL;
  if (typeof url !== "string" || url === "") throw new Error(`batchnorm-wasm: ${what}: url must be a non-empty string, got ${JSON.stringify(url)}`);
  const fetchFn = options.fetch ?? (globalThis as { fetch?: Cifar10FetchLike }).fetch;
  if (typeof fetchFn !== "function") throw new Error(`batchnorm-wasm: ${what}: no fetch() in this engine; pass options.fetch`);
  const checksums = {} as Record<Cifar10FileName, string>;
  for (const f of CIFAR10_FILES) {
    const sum = options.checksums?.[f] ?? CIFAR10_SHA256[f];
    if (typeof sum !== "string" || !/^[0-9a-fA-F]{64}$/.test(sum)) {
      throw new Error(`batchnorm-wasm: ${what}: checksums[${JSON.stringify(f)}] must be a SHA-256 of 64 hex digits, got ${JSON.stringify(sum)}`);
    }
    checksums[f] = sum.toLowerCase();
  }
  const subtle = webCrypto();
  const log = options.log ?? (() => {});
  const fs = await nodeFs(what);
  const path = await nodePath(what);
  const dir = path.resolve(await dirPath(options.cacheDir, what));
  await fs.mkdir(dir, { recursive: true });

  // The cache first: all six files with the right size and checksum, or the archive.
  const cached = new Cifar10Assembler(records);
  for (const f of CIFAR10_FILES) {
    const p = path.join(dir, f);
    let bytes: Uint8Array;
    try {
      bytes = await fs.readFile(p);
    } catch (e) {
      if ((e as { code?: string }).code !== "ENOENT") throw e;
      break;
    }
    const sum = await sha256Hex(subtle, bytes);
    if (sum !== checksums[f]) {
      log(`${f}: cached copy has SHA-256 ${sum}, expected ${checksums[f]}`);
      break;
    }
    const w = cached.writer(f, p, bytes.length);
    w.write(bytes);
    w.end();
  }
  try {
    const data = cached.finish(dir, `CIFAR-10 batch files in ${dir}`);
    log(`CIFAR-10: all six files already in ${dir}, SHA-256 ok`);
    return data;
  } catch {
    // fetch below
  }

  log(`CIFAR-10: fetching ${url}`);
  const couldNot = (why: string) => `batchnorm-wasm: could not download cifar-10-binary.tar.gz from ${url}: ${why}`;
  let source: Uint8Array | ReadableStream<Uint8Array>;
  try {
    const response = await fetchFn(url);
    if (!response.ok) throw new Error(`HTTP ${response.status}${response.statusText ? " " + response.statusText : ""}`);
    source = response.body ? downloadStream(response.body, couldNot) : new Uint8Array(await response.arrayBuffer());
  } catch (e) {
    throw new Error(couldNot(e instanceof Error ? e.message : String(e)));
  }
  const asm = new Cifar10Assembler(records);
  await readCifar10Archive(source, true, `cifar-10-binary.tar.gz from ${url}`, asm, maxBytes, (file, memberName, size) => {
    const writer = asm.writer(file, memberName, size); // checks the size before anything is kept
    const whole = new Uint8Array(size);
    let fill = 0;
    return {
      write(chunk) {
        writer.write(chunk);
        whole.set(chunk, fill);
        fill += chunk.length;
      },
      async end() {
        writer.end();
        const sum = await sha256Hex(subtle, whole);
        if (sum !== checksums[file]) {
          await fs.rm(path.join(dir, file), { force: true }); // a cached copy cannot be right either
          throw new Error(
            `batchnorm-wasm: checksum mismatch for ${file} in cifar-10-binary.tar.gz from ${url}: expected SHA-256 ${checksums[file]}, got ${sum} (${size} bytes); ` +
              "the download is damaged or the server sends a different file, so it was not kept",
          );
        }
        await writeFileAtomic(fs, path.join(dir, file), whole);
        log(`${file}: saved ${size} bytes, SHA-256 ok`);
      },
    };
  });
  return asm.finish(`cifar-10-binary.tar.gz from ${url}`, `CIFAR-10 from ${url}, cached in ${dir}`);
}
