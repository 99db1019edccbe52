// The safetensors format (huggingface/safetensors), so that state dicts move to and from
// PyTorch (`safetensors.torch.save_file(model.state_dict(), ...)` / `load_file`):
//   8 bytes: N, the header's length (unsigned little-endian 64-bit);
//   N bytes: a JSON object { name: { dtype, shape, data_offsets: [begin, end] }, ...,
//            "__metadata__"?: { string: string } }, padded with spaces to a multiple of 8;
//   the data: every tensor's bytes, little-endian, row-major, offsets relative to here.
// Float32Array values are written as F32, BigInt64Array ones (num_batches_tracked) as I64,
// Float64Array ones (an optimizer's hyper-parameters) as F64.
import type { StateDict, StateValue } from "../module.js";
import { fmt } from "../shape.js";

export type Shapes = Record<string, readonly number[]>;

export interface SafetensorsContents {
  stateDict: StateDict;
  shapes: Record<string, number[]>;
  /** The "__metadata__" entry, if the file has one. */
  metadata?: Record<string, string>;
}

// The reference implementation's limit on the header's size.
const MAX_HEADER = 100_000_000;
const DTYPES = ["F32", "I64", "F64"] as const;
type Dtype = (typeof DTYPES)[number];
const DTYPE_BYTES: Record<Dtype, number> = { F32: 4, I64: 8, F64: 8 };

function isDtype(s: string): s is Dtype {
  return (DTYPES as readonly string[]).includes(s);
}

function prod(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function littleEndian(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}

/**
 * Serialises a state dict. `shapes` gives each key's shape (e.g. model.stateShapes());
 * without it Float32Arrays and Float64Arrays are 1-D and a one-element BigInt64Array is a
 * scalar (shape []).
 */
export function toSafetensors(stateDict: StateDict, shapes: Shapes = {}, metadata?: Record<string, string>): Uint8Array {
  if (stateDict === null || typeof stateDict !== "object") throw new Error(`toSafetensors: expected a state dict (an object of Float32Array / BigInt64Array / Float64Array), got ${stateDict === null ? "null" : typeof stateDict}`);
  if (!littleEndian()) throw new Error("toSafetensors: this engine is big-endian; safetensors data is little-endian");
  const names = Object.keys(stateDict).sort();
  for (const k of Object.keys(shapes ?? {})) {
    if (!Object.hasOwn(stateDict, k)) throw new Error(`toSafetensors: shapes has "${k}", which is not in the state dict`);
  }
  const entries = names.map((name) => {
    if (name === "__metadata__") throw new Error('toSafetensors: "__metadata__" is reserved; pass metadata as the third argument');
    const v: StateValue = stateDict[name];
    const dtype: Dtype | null = v instanceof Float32Array ? "F32" : v instanceof BigInt64Array ? "I64" : v instanceof Float64Array ? "F64" : null;
    if (!dtype) throw new Error(`toSafetensors: "${name}" must be a Float32Array, BigInt64Array or Float64Array, got ${(v as object)?.constructor?.name ?? typeof v}`);
    const given = shapes && Object.hasOwn(shapes, name) ? shapes[name] : undefined;
    const shape = given ? [...given] : dtype === "I64" && v.length === 1 ? [] : [v.length];
    if (!shape.every((s) => Number.isInteger(s) && s >= 0)) throw new Error(`toSafetensors: shape of "${name}" must be non-negative integers, got ${JSON.stringify(given)}`);
    if (prod(shape) !== v.length) throw new Error(`toSafetensors: "${name}" has ${v.length} values, but shape ${fmt(shape)} holds ${prod(shape)}`);
    return { name, dtype, shape, bytes: new Uint8Array(v.buffer, v.byteOffset, v.byteLength) };
  });
  // Data laid out by alignment, then name (as the reference implementation does), so that
  // the 8-byte tensors stay 8-byte aligned.
  const layout = [...entries].sort((a, b) => DTYPE_BYTES[b.dtype] - DTYPE_BYTES[a.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  // No prototype: a tensor named "__proto__" is then an ordinary key that JSON.stringify writes.
  const header: Record<string, unknown> = Object.create(null);
  if (metadata !== undefined) {
    if (metadata === null || typeof metadata !== "object" || Object.values(metadata).some((m) => typeof m !== "string")) {
      throw new Error("toSafetensors: metadata must be an object of strings");
    }
    header.__metadata__ = { ...metadata };
  }
  const offsets = new Map<string, [number, number]>();
  let offset = 0;
  for (const e of layout) {
    offsets.set(e.name, [offset, offset + e.bytes.length]);
    offset += e.bytes.length;
  }
  for (const e of entries) header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: offsets.get(e.name) };
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  const base = 8 + json.length;
  for (const e of layout) out.set(e.bytes, base + offsets.get(e.name)![0]);
  return out;
}

/** One tensor's header entry, checked. */
interface Entry {
  name: string;
  dtype: Dtype;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * The bytes given, as a Uint8Array over exactly them. A Node Buffer from readFileSync is a
 * view into a larger pooled ArrayBuffer, so byteOffset is honoured for every kind of view.
 */
function asBytes(input: unknown): Uint8Array {
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  const tag = Object.prototype.toString.call(input);
  if (tag === "[object ArrayBuffer]" || tag === "[object SharedArrayBuffer]") return new Uint8Array(input as ArrayBuffer);
  const got = input === null ? "null" : typeof input === "object" ? ((input as object).constructor?.name ?? "an object") : typeof input;
  throw new Error(`fromSafetensors: expected the file's bytes as a Uint8Array (a Node Buffer is one), another ArrayBufferView or an ArrayBuffer, got ${got}`);
}

/** The JSON header, checked to be an object, and where the data section starts. */
function readHeader(buf: Uint8Array): { header: object; base: number } {
  if (buf.length < 8) throw new Error(`fromSafetensors: ${buf.length} bytes is too short for a safetensors file (the header length alone takes 8)`);
  const n = new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER)) {
    throw new Error(`fromSafetensors: the header length field says ${n} bytes, more than the format's limit of ${MAX_HEADER} (is this a safetensors file?)`);
  }
  if (n > BigInt(buf.length - 8)) {
    throw new Error(`fromSafetensors: the header length field says ${n} bytes, but only ${buf.length - 8} bytes follow it (is this a safetensors file, and is it complete?)`);
  }
  const headerLen = Number(n);
  // The format requires the header to open with "{"; this also rejects an empty header early.
  if (headerLen === 0 || buf[8] !== 0x7b) {
    const got = headerLen === 0 ? "an empty header" : `byte 0x${buf[8].toString(16).padStart(2, "0")}`;
    throw new Error(`fromSafetensors: expected the header to be a JSON object starting with "{", got ${got} (is this a safetensors file?)`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(buf.subarray(8, 8 + headerLen)));
  } catch (e) {
    throw new Error(`fromSafetensors: the header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    throw new Error(`fromSafetensors: the header must be a JSON object, got ${header === null ? "null" : Array.isArray(header) ? "an array" : typeof header}`);
  }
  return { header, base: 8 + headerLen };
}

function readMetadata(info: unknown): Record<string, string> {
  if (info === null || typeof info !== "object" || Array.isArray(info)) {
    throw new Error(`fromSafetensors: "__metadata__" must be an object of strings, got ${JSON.stringify(info)}`);
  }
  const out: Record<string, string> = Object.create(null);
  for (const [k, v] of Object.entries(info)) {
    if (typeof v !== "string") throw new Error(`fromSafetensors: "__metadata__" must be an object of strings, but "${k}" is ${JSON.stringify(v)}`);
    out[k] = v;
  }
  return out;
}

/** Checks one tensor's { dtype, shape, data_offsets } against itself and the data length. */
function readEntry(name: string, info: unknown, dataLen: number): Entry {
  if (info === null || typeof info !== "object" || Array.isArray(info)) {
    throw new Error(`fromSafetensors: the entry of "${name}" must be an object { dtype, shape, data_offsets }, got ${JSON.stringify(info)}`);
  }
  const t = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof t.dtype !== "string" || !isDtype(t.dtype)) {
    throw new Error(`fromSafetensors: "${name}" has dtype ${JSON.stringify(t.dtype)}; only ${DTYPES.join(", ")} are supported`);
  }
  const shape = t.shape;
  if (!Array.isArray(shape) || !shape.every((s) => Number.isSafeInteger(s) && s >= 0)) {
    throw new Error(`fromSafetensors: "${name}" has shape ${JSON.stringify(shape)}; expected an array of non-negative integers`);
  }
  const off = t.data_offsets;
  if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isSafeInteger(o) && o >= 0) || off[0] > off[1]) {
    throw new Error(`fromSafetensors: "${name}" has data_offsets ${JSON.stringify(off)}; expected [begin, end] with integers 0 <= begin <= end`);
  }
  if (off[1] > dataLen) throw new Error(`fromSafetensors: "${name}" has data_offsets ${JSON.stringify(off)} outside the ${dataLen} data bytes`);
  const bytes = prod(shape) * DTYPE_BYTES[t.dtype];
  if (off[1] - off[0] !== bytes) {
    throw new Error(`fromSafetensors: "${name}" (${t.dtype} ${fmt(shape)}) needs ${bytes} bytes, but its data_offsets span ${off[1] - off[0]}`);
  }
  return { name, dtype: t.dtype, shape: [...shape], begin: off[0], end: off[1] };
}

/**
 * The format's rule for the data section: taken in offset order, the tensors are contiguous
 * and cover it exactly, with no gap, no overlap and no byte after the last one.
 */
function checkCoverage(entries: Entry[], dataLen: number): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let end = 0;
  let prev: Entry | null = null;
  const at = (e: Entry) => `"${e.name}" (data_offsets [${e.begin},${e.end}])`;
  for (const e of sorted) {
    if (e.begin > end) {
      const before = prev ? `${at(prev)} ends at ${end}` : "the data section starts at 0";
      throw new Error(`fromSafetensors: ${at(e)} starts at data byte ${e.begin}, but ${before}: a gap of ${e.begin - end} bytes; expected the tensors to cover the data contiguously`);
    }
    if (e.begin < end) {
      throw new Error(`fromSafetensors: ${at(e)} overlaps ${at(prev!)}; expected each tensor to start where the one before it ends (${end})`);
    }
    end = e.end;
    prev = e;
  }
  if (end !== dataLen) {
    throw new Error(`fromSafetensors: the tensors cover ${end} data bytes, but ${dataLen} follow the header (${dataLen - end} trailing bytes); expected them to cover the data exactly`);
  }
}

/**
 * Parses safetensors bytes (F32, I64 and F64 tensors) into a state dict and each key's shape.
 * Takes a Uint8Array (a Node Buffer from readFileSync is fine), any other ArrayBufferView or
 * an ArrayBuffer. Each tensor is copied out, so the result never aliases the input. Names are
 * kept as they are (PyTorch's can be anything): the returned objects have no prototype, so a
 * tensor named "__proto__" or "constructor" is an ordinary key.
 */
export function fromSafetensors(bytes: ArrayBufferView | ArrayBuffer): SafetensorsContents {
  const buf = asBytes(bytes);
  if (!littleEndian()) throw new Error("fromSafetensors: this engine is big-endian; safetensors data is little-endian");
  const { header, base } = readHeader(buf);
  const dataLen = buf.length - base;
  let metadata: Record<string, string> | undefined;
  const entries: Entry[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") metadata = readMetadata(info);
    else entries.push(readEntry(name, info, dataLen));
  }
  checkCoverage(entries, dataLen);
  const out: SafetensorsContents = { stateDict: Object.create(null), shapes: Object.create(null) };
  if (metadata !== undefined) out.metadata = metadata;
  for (const e of entries) {
    const raw = new Uint8Array(e.end - e.begin);
    raw.set(buf.subarray(base + e.begin, base + e.end));
    const count = prod(e.shape);
    out.stateDict[e.name] = e.dtype === "F32" ? new Float32Array(raw.buffer, 0, count) : e.dtype === "I64" ? new BigInt64Array(raw.buffer, 0, count) : new Float64Array(raw.buffer, 0, count);
    out.shapes[e.name] = e.shape;
  }
  return out;
}
