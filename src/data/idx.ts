// IDX files (LeCun's MNIST format), raw or gzip-compressed. Layout: a big-endian int32
// magic 0x0000TTNN (TT = element type, 0x08 = unsigned byte; NN = number of dimensions),
// NN big-endian int32 sizes, then the elements row-major. Images: magic 2051 (0x00000803,
// [count, rows, cols]); labels: magic 2049 (0x00000801, [count]).
// Every check is strict (magic, type, dimension count, sizes, exact length) and each error
// names the file, what was expected and what was found. Gzip data is decompressed as a
// stream into a buffer of the size the IDX header declares, and never read past it, so a
// small file that inflates to gigabytes is rejected after that many bytes, not after all of
// them. No Node-only imports here.

export interface IdxImages {
  count: number;
  rows: number;
  cols: number;
  /** count * rows * cols pixels, row-major [count, rows*cols], scaled from 0..255 to [0, 1]. */
  pixels: Float32Array;
}

export const IDX_IMAGES_MAGIC = 2051;
export const IDX_LABELS_MAGIC = 2049;

const UBYTE = 0x08;
type IdxKind = "images" | "labels";
const HEADER_BYTES: Record<IdxKind, number> = { images: 16, labels: 8 };
const TYPE_NAMES: Record<number, string> = {
  0x08: "unsigned byte",
  0x09: "signed byte",
  0x0b: "int16",
  0x0c: "int32",
  0x0d: "float32",
  0x0e: "float64",
};

function fail(name: string, message: string): never {
  throw new Error(`batchnorm-wasm: ${name}: ${message}`);
}

function hex32(v: number): string {
  return "0x" + (v >>> 0).toString(16).padStart(8, "0");
}

/** True when the bytes start with the gzip magic 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

export interface GunzipOptions {
  /**
   * The most decompressed bytes accepted. Decompression stops as soon as the output would
   * pass it, so a small file that inflates to gigabytes (a decompression bomb) costs no more.
   * Default: 256 MiB for gunzipBytes / maybeGunzip; for IDX files, which declare their size
   * in their header and are never read past it, 1 GiB (20 times MNIST's largest file).
   */
  maxBytes?: number;
}

const DEFAULT_MAX_BYTES = 2 ** 28;
const DEFAULT_MAX_IDX_BYTES = 2 ** 30;

/** The output size that the first bytes of the decompressed data declare, and its wording. */
interface Declared {
  size: number;
  what: string;
}

/** How to read the declared size from a header of `headerBytes` bytes (throws on a bad one). */
interface HeaderSize {
  headerBytes: number;
  declare(head: Uint8Array, maxBytes: number): Declared;
}

function maxBytesOf(options: GunzipOptions | undefined, name: string, fallback: number): number {
  const m = options?.maxBytes ?? fallback;
  if (!Number.isSafeInteger(m) || m < 1) fail(name, `maxBytes must be a positive integer, got ${String(m)}`);
  return m;
}

/** The gzip trailer's ISIZE: the decompressed length mod 2^32 (of the last member). */
function trailerSize(bytes: Uint8Array): number {
  const n = bytes.length;
  return (bytes[n - 4] | (bytes[n - 3] << 8) | (bytes[n - 2] << 16) | (bytes[n - 1] << 24)) >>> 0;
}

/**
 * The compressed bytes (copied: the input may be a view on a larger or shared buffer) as a
 * stream of 4 KiB slices, each handed over only when the decompressor asks. Engines inflate a
 * whole input chunk before looking at backpressure (Chromium does), and deflate expands at most
 * about 1032:1, so small slices keep what one chunk can produce past a limit to a few MB.
 */
function slices(bytes: Uint8Array): ReadableStream<BufferSource> {
  const input = new Uint8Array(bytes.length);
  input.set(bytes);
  let at = 0;
  return new ReadableStream<BufferSource>(
    {
      pull(controller) {
        if (at >= input.length) {
          controller.close();
          return;
        }
        controller.enqueue(input.subarray(at, at + 4096));
        at += 4096;
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * Streams gzip data through the platform's DecompressionStream into one buffer. With
 * `header`, the buffer is allocated at the size the decompressed header declares, and the
 * stream is cancelled as soon as the data goes past it; without, output is capped at maxBytes.
 */
async function inflate(bytes: Uint8Array, name: string, maxBytes: number, header?: HeaderSize): Promise<Uint8Array> {
  if (!isGzip(bytes)) {
    fail(name, `not gzip data: expected the gzip magic 1f 8b, got ${describeStart(bytes)}`);
  }
  const DS = (globalThis as { DecompressionStream?: typeof DecompressionStream }).DecompressionStream;
  if (typeof DS !== "function") {
    fail(name, "is gzip-compressed but this engine has no DecompressionStream; pass the decompressed bytes instead");
  }
  const reader = slices(bytes).pipeThrough(new DS("gzip")).getReader();
  // Without a header, the trailer's size (checked at the end) is a good first guess.
  let out = new Uint8Array(header ? header.headerBytes : Math.min(maxBytes, Math.max(trailerSize(bytes), 65536)));
  let pos = 0;
  let declared: Declared | null = null;
  try {
    for (;;) {
      let chunk: Uint8Array;
      try {
        const r = await reader.read();
        if (r.done) break;
        chunk = r.value;
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        fail(name, `corrupt or truncated gzip data (${bytes.length} compressed bytes): ${why}`);
      }
      let from = 0;
      if (header && declared === null) {
        from = Math.min(header.headerBytes - pos, chunk.length);
        out.set(chunk.subarray(0, from), pos);
        pos += from;
        if (pos < header.headerBytes) continue;
        declared = header.declare(out, maxBytes);
        const whole = new Uint8Array(declared.size);
        whole.set(out);
        out = whole;
      }
      const end = pos + chunk.length - from;
      if (end > out.length) {
        if (declared) {
          fail(name, `larger than its header declares: ${declared.what}, but the decompressed data goes on past that (stopped at ${end} bytes); trailing data, or a decompression bomb`);
        }
        if (end > maxBytes) {
          fail(name, `decompresses to more than ${maxBytes} bytes, the limit (stopped there); pass a larger maxBytes if the file is genuine`);
        }
        const grown = new Uint8Array(Math.min(maxBytes, Math.max(end, 2 * out.length)));
        grown.set(out.subarray(0, pos));
        out = grown;
      }
      out.set(from === 0 ? chunk : chunk.subarray(from), pos);
      pos = end;
    }
  } catch (e) {
    reader.cancel().catch(() => {});
    throw e;
  }
  // Engines differ on bytes after the end of the gzip stream (Node ignores some), so check
  // the trailer ourselves: a single-member file ends with ISIZE = output length mod 2^32.
  const n = bytes.length;
  if (n < 18 || trailerSize(bytes) !== pos % 4294967296) {
    fail(
      name,
      `corrupt gzip data or trailing bytes after it: expected the file to end with the gzip size field ${pos % 4294967296} ` +
        `(the decompressed length), got ${n < 18 ? `only ${n} bytes` : trailerSize(bytes)}`,
    );
  }
  // Shorter than a header: the header check says what is missing.
  if (header && declared === null) header.declare(out.subarray(0, pos), maxBytes);
  return out.subarray(0, pos);
}

/**
 * Decompresses gzip data with the platform's DecompressionStream('gzip') (browsers, Node >= 18),
 * as a stream, stopping past options.maxBytes (default 256 MiB). Corrupt, truncated or
 * trailing-garbage input rejects with an error naming `name`. Expects one gzip member (as gzip
 * writes; concatenated multi-member files are rejected).
 */
export async function gunzipBytes(bytes: Uint8Array, name = "gzip data", options: GunzipOptions = {}): Promise<Uint8Array> {
  return inflate(bytes, name, maxBytesOf(options, name, DEFAULT_MAX_BYTES));
}

/** The bytes themselves, or their decompression when they start with the gzip magic. */
export async function maybeGunzip(bytes: Uint8Array, name = "data", options: GunzipOptions = {}): Promise<Uint8Array> {
  return isGzip(bytes) ? gunzipBytes(bytes, name, options) : bytes;
}

function describeStart(bytes: Uint8Array): string {
  if (bytes.length === 0) return "an empty file";
  const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ");
  return `${head}${bytes.length > 4 ? " ..." : ""} (${bytes.length} bytes)`;
}

/** Reads and checks the header; returns the sizes and where the data starts. */
function parseHeader(bytes: Uint8Array, name: string, kind: IdxKind): number[] {
  const wantDims = kind === "images" ? 3 : 1;
  const wantMagic = kind === "images" ? IDX_IMAGES_MAGIC : IDX_LABELS_MAGIC;
  const what = `IDX ${kind} file (magic ${wantMagic} = ${hex32(wantMagic)}: unsigned bytes, ${wantDims} dimension${wantDims > 1 ? "s" : ""})`;
  if (isGzip(bytes)) {
    fail(name, `expected a raw ${what}, got gzip-compressed data; decompress it first (gunzipBytes / maybeGunzip)`);
  }
  if (bytes.length < 4) fail(name, `truncated: expected an ${what}, got only ${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== wantMagic) {
    let hint = "";
    if (bytes[0] !== 0 || bytes[1] !== 0) hint = " (not an IDX file: IDX starts with two zero bytes)";
    else if (bytes[2] !== UBYTE) hint = ` (element type ${TYPE_NAMES[bytes[2]] ?? `0x${bytes[2].toString(16)}`}, not unsigned byte)`;
    else if (magic === IDX_LABELS_MAGIC) hint = " (an IDX labels file, not images)";
    else if (magic === IDX_IMAGES_MAGIC) hint = " (an IDX images file, not labels)";
    else hint = ` (${bytes[3]} dimensions, not ${wantDims})`;
    fail(name, `wrong magic number: expected an ${what}, got ${magic} = ${hex32(magic)}${hint}`);
  }
  const headerBytes = 4 + 4 * wantDims;
  if (bytes.length < headerBytes) {
    fail(name, `truncated header: expected at least ${headerBytes} bytes for an ${what}, got ${bytes.length}`);
  }
  const dims: number[] = [];
  for (let i = 0; i < wantDims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  return dims;
}

const DIM_LABELS = { images: ["images", "rows", "cols"], labels: ["labels"] };

/** "the header declares 2 images x 28 rows x 28 cols" */
function declares(dims: number[], kind: IdxKind): string {
  return `the header declares ${dims.map((d, i) => `${d} ${DIM_LABELS[kind][i]}`).join(" x ")}`;
}

function checkLength(bytes: Uint8Array, name: string, kind: IdxKind, dims: number[]): void {
  const headerBytes = HEADER_BYTES[kind];
  const n = dims.reduce((p, d) => p * d, 1);
  const want = headerBytes + n;
  if (bytes.length < want) {
    fail(name, `truncated: ${declares(dims, kind)}, so expected ${want} bytes (${headerBytes} header + ${n} data), got ${bytes.length} (${want - bytes.length} missing)`);
  }
  if (bytes.length > want) {
    fail(name, `trailing data: ${declares(dims, kind)}, so expected exactly ${want} bytes (${headerBytes} header + ${n} data), got ${bytes.length} (${bytes.length - want} extra)`);
  }
}

function checkImageSize(rows: number, cols: number, name: string): void {
  if (rows === 0 || cols === 0 || rows > 65536 || cols > 65536) {
    fail(name, `implausible image size: expected rows and cols in 1..65536, got ${rows} x ${cols}`);
  }
}

/** The IDX header as the streaming decompressor's size source: the exact file size it declares. */
function idxHeaderSize(kind: IdxKind, name: string): HeaderSize {
  const headerBytes = HEADER_BYTES[kind];
  return {
    headerBytes,
    declare(head, maxBytes) {
      const dims = parseHeader(head, name, kind);
      if (kind === "images") checkImageSize(dims[1], dims[2], name);
      const n = dims.reduce((p, d) => p * d, 1);
      const what = `${declares(dims, kind)}, so ${headerBytes + n} bytes (${headerBytes} header + ${n} data)`;
      if (headerBytes + n > maxBytes) fail(name, `${what}, more than the limit of ${maxBytes} decompressed bytes; pass a larger maxBytes if the file is genuine`);
      return { size: headerBytes + n, what };
    },
  };
}

/** Parses a raw (decompressed) IDX images file: magic 2051, [count, rows, cols] unsigned bytes. */
export function parseIdxImages(bytes: Uint8Array, name = "IDX images"): IdxImages {
  const [count, rows, cols] = parseHeader(bytes, name, "images");
  checkImageSize(rows, cols, name);
  checkLength(bytes, name, "images", [count, rows, cols]);
  const n = count * rows * cols;
  const pixels = new Float32Array(n);
  const scale = new Float32Array(256);
  for (let v = 0; v < 256; v++) scale[v] = v / 255;
  const data = bytes.subarray(16);
  for (let i = 0; i < n; i++) pixels[i] = scale[data[i]];
  return { count, rows, cols, pixels };
}

/** Parses a raw (decompressed) IDX labels file: magic 2049, [count] unsigned bytes. */
export function parseIdxLabels(bytes: Uint8Array, name = "IDX labels"): Uint8Array {
  const [count] = parseHeader(bytes, name, "labels");
  checkLength(bytes, name, "labels", [count]);
  return new Uint8Array(bytes.subarray(8)); // a copy, and a plain Uint8Array even for a Node Buffer
}

/** The decompressed bytes of a gzip IDX file, read no further than its header declares. */
function gunzipIdx(bytes: Uint8Array, name: string, kind: IdxKind, options: GunzipOptions): Promise<Uint8Array> {
  return inflate(bytes, name, maxBytesOf(options, name, DEFAULT_MAX_IDX_BYTES), idxHeaderSize(kind, name));
}

/** parseIdxImages on raw or gzip-compressed bytes (see GunzipOptions for the size limit). */
export async function decodeIdxImages(bytes: Uint8Array, name = "IDX images", options: GunzipOptions = {}): Promise<IdxImages> {
  return parseIdxImages(isGzip(bytes) ? await gunzipIdx(bytes, name, "images", options) : bytes, name);
}

/** parseIdxLabels on raw or gzip-compressed bytes (see GunzipOptions for the size limit). */
export async function decodeIdxLabels(bytes: Uint8Array, name = "IDX labels", options: GunzipOptions = {}): Promise<Uint8Array> {
  return parseIdxLabels(isGzip(bytes) ? await gunzipIdx(bytes, name, "labels", options) : bytes, name);
}
