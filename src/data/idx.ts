// IDX files (LeCun's MNIST format), raw or gzip-compressed. Layout: a big-endian int32
// magic 0x0000TTNN (TT = element type, 0x08 = unsigned byte; NN = number of dimensions),
// NN big-endian int32 sizes, then the elements row-major. Images: magic 2051 (0x00000803,
// [count, rows, cols]); labels: magic 2049 (0x00000801, [count]).
// Every check is strict (magic, type, dimension count, sizes, exact length) and each error
// names the file, what was expected and what was found. No Node-only imports here.

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

/**
 * Decompresses gzip data with the platform's DecompressionStream('gzip') (browsers, Node >= 18).
 * Corrupt, truncated or trailing-garbage input rejects with an error naming `name`. Expects one
 * gzip member (as gzip writes; concatenated multi-member files are rejected).
 */
export async function gunzipBytes(bytes: Uint8Array, name = "gzip data"): Promise<Uint8Array> {
  if (!isGzip(bytes)) {
    fail(name, `not gzip data: expected the gzip magic 1f 8b, got ${describeStart(bytes)}`);
  }
  const DS = (globalThis as { DecompressionStream?: typeof DecompressionStream }).DecompressionStream;
  if (typeof DS !== "function") {
    fail(name, "is gzip-compressed but this engine has no DecompressionStream; pass the decompressed bytes instead");
  }
  // Copy into a fresh ArrayBuffer: the input may be a view on a larger or shared buffer.
  const input = new Uint8Array(bytes.length);
  input.set(bytes);
  let out: Uint8Array;
  try {
    const stream = new Blob([input]).stream().pipeThrough(new DS("gzip"));
    out = new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    fail(name, `corrupt or truncated gzip data (${bytes.length} compressed bytes): ${why}`);
  }
  // Engines differ on bytes after the end of the gzip stream (Node ignores some), so check
  // the trailer ourselves: a single-member file ends with ISIZE = output length mod 2^32.
  const n = bytes.length;
  const isize = (bytes[n - 4] | (bytes[n - 3] << 8) | (bytes[n - 2] << 16) | (bytes[n - 1] << 24)) >>> 0;
  if (n < 18 || isize !== out.length % 4294967296) {
    fail(
      name,
      `corrupt gzip data or trailing bytes after it: expected the file to end with the gzip size field ${out.length % 4294967296} ` +
        `(the decompressed length), got ${n < 18 ? `only ${n} bytes` : isize}`,
    );
  }
  return out;
}

/** The bytes themselves, or their decompression when they start with the gzip magic. */
export async function maybeGunzip(bytes: Uint8Array, name = "data"): Promise<Uint8Array> {
  return isGzip(bytes) ? gunzipBytes(bytes, name) : bytes;
}

function describeStart(bytes: Uint8Array): string {
  if (bytes.length === 0) return "an empty file";
  const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ");
  return `${head}${bytes.length > 4 ? " ..." : ""} (${bytes.length} bytes)`;
}

/** Reads and checks the header; returns the sizes and where the data starts. */
function parseHeader(bytes: Uint8Array, name: string, kind: "images" | "labels"): number[] {
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

function checkLength(bytes: Uint8Array, name: string, headerBytes: number, dims: number[], labels: string[]): void {
  const n = dims.reduce((p, d) => p * d, 1);
  const want = headerBytes + n;
  const shape = dims.map((d, i) => `${d} ${labels[i]}`).join(" x ");
  if (bytes.length < want) {
    fail(name, `truncated: the header declares ${shape}, so expected ${want} bytes (${headerBytes} header + ${n} data), got ${bytes.length} (${want - bytes.length} missing)`);
  }
  if (bytes.length > want) {
    fail(name, `trailing data: the header declares ${shape}, so expected exactly ${want} bytes (${headerBytes} header + ${n} data), got ${bytes.length} (${bytes.length - want} extra)`);
  }
}

/** Parses a raw (decompressed) IDX images file: magic 2051, [count, rows, cols] unsigned bytes. */
export function parseIdxImages(bytes: Uint8Array, name = "IDX images"): IdxImages {
  const [count, rows, cols] = parseHeader(bytes, name, "images");
  if (rows === 0 || cols === 0 || rows > 65536 || cols > 65536) {
    fail(name, `implausible image size: expected rows and cols in 1..65536, got ${rows} x ${cols}`);
  }
  checkLength(bytes, name, 16, [count, rows, cols], ["images", "rows", "cols"]);
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
  checkLength(bytes, name, 8, [count], ["labels"]);
  return new Uint8Array(bytes.subarray(8)); // a copy, and a plain Uint8Array even for a Node Buffer
}

/** parseIdxImages on raw or gzip-compressed bytes. */
export async function decodeIdxImages(bytes: Uint8Array, name = "IDX images"): Promise<IdxImages> {
  return parseIdxImages(await maybeGunzip(bytes, name), name);
}

/** parseIdxLabels on raw or gzip-compressed bytes. */
export async function decodeIdxLabels(bytes: Uint8Array, name = "IDX labels"): Promise<Uint8Array> {
  return parseIdxLabels(await maybeGunzip(bytes, name), name);
}
