// The safetensors format (huggingface/safetensors), so that state dicts move to and from
// PyTorch (`safetensors.torch.save_file(model.state_dict(), ...)` / `load_file`):
//   8 bytes: N, the header's length (unsigned little-endian 64-bit);
//   N bytes: a JSON object { name: { dtype, shape, data_offsets: [begin, end] }, ...,
//            "__metadata__"?: { string: string } }, padded with spaces to a multiple of 8;
//   the data: every tensor's bytes, little-endian, row-major, offsets relative to here.
// Float32Array values are written as F32, BigInt64Array ones (num_batches_tracked) as I64.
import type { StateDict, StateValue } from "../module.js";
import { fmt } from "../shape.js";

export type Shapes = Record<string, readonly number[]>;

export interface SafetensorsContents {
  stateDict: StateDict;
  shapes: Record<string, number[]>;
  /** The "__metadata__" entry, if the file has one. */
  metadata?: Record<string, string>;
}

const MAX_HEADER = 100_000_000;
const DTYPE_BYTES: Record<string, number> = { F32: 4, I64: 8 };

function prod(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function littleEndian(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}

/**
 * Serialises a state dict. `shapes` gives each key's shape (e.g. model.stateShapes());
 * without it Float32Arrays are 1-D and a one-element BigInt64Array is a scalar (shape []).
 */
export function toSafetensors(stateDict: StateDict, shapes: Shapes = {}, metadata?: Record<string, string>): Uint8Array {
  if (stateDict === null || typeof stateDict !== "object") throw new Error(`toSafetensors: expected a state dict (an object of Float32Array / BigInt64Array), got ${stateDict === null ? "null" : typeof stateDict}`);
  if (!littleEndian()) throw new Error("toSafetensors: this engine is big-endian; safetensors data is little-endian");
  const names = Object.keys(stateDict).sort();
  for (const k of Object.keys(shapes ?? {})) {
    if (!(k in stateDict)) throw new Error(`toSafetensors: shapes has "${k}", which is not in the state dict`);
  }
  const entries = names.map((name) => {
    if (name === "__metadata__") throw new Error('toSafetensors: "__metadata__" is reserved; pass metadata as the third argument');
    const v: StateValue = stateDict[name];
    const dtype = v instanceof Float32Array ? "F32" : v instanceof BigInt64Array ? "I64" : null;
    if (!dtype) throw new Error(`toSafetensors: "${name}" must be a Float32Array or BigInt64Array, got ${(v as object)?.constructor?.name ?? typeof v}`);
    const given = shapes?.[name];
    const shape = given ? [...given] : dtype === "I64" && v.length === 1 ? [] : [v.length];
    if (!shape.every((s) => Number.isInteger(s) && s >= 0)) throw new Error(`toSafetensors: shape of "${name}" must be non-negative integers, got ${JSON.stringify(given)}`);
    if (prod(shape) !== v.length) throw new Error(`toSafetensors: "${name}" has ${v.length} values, but shape ${fmt(shape)} holds ${prod(shape)}`);
    return { name, dtype, shape, bytes: new Uint8Array(v.buffer, v.byteOffset, v.byteLength) };
  });
  // Data laid out by alignment, then name (as the reference implementation does), so that
  // the 8-byte tensors stay 8-byte aligned.
  const layout = [...entries].sort((a, b) => DTYPE_BYTES[b.dtype] - DTYPE_BYTES[a.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = {};
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

/** Parses safetensors bytes (F32 and I64 tensors) into a state dict and each key's shape. */
export function fromSafetensors(bytes: Uint8Array | ArrayBuffer): SafetensorsContents {
  const buf = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes;
  if (!(buf instanceof Uint8Array)) throw new Error(`fromSafetensors: expected a Uint8Array or ArrayBuffer, got ${bytes === null ? "null" : typeof bytes}`);
  if (!littleEndian()) throw new Error("fromSafetensors: this engine is big-endian; safetensors data is little-endian");
  if (buf.length < 8) throw new Error(`fromSafetensors: ${buf.length} bytes is too short for a safetensors file (the header length alone takes 8)`);
  const n = new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getBigUint64(0, true);
  if (n > BigInt(Math.min(MAX_HEADER, buf.length - 8))) {
    throw new Error(`fromSafetensors: the header length ${n} does not fit in the ${buf.length} bytes given (is this a safetensors file?)`);
  }
  const headerLen = Number(n);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(buf.subarray(8, 8 + headerLen)));
  } catch (e) {
    throw new Error(`fromSafetensors: the header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) throw new Error("fromSafetensors: the header must be a JSON object");
  const base = 8 + headerLen;
  const dataLen = buf.length - base;
  const out: SafetensorsContents = { stateDict: {}, shapes: {} };
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (info === null || typeof info !== "object" || Object.values(info).some((m) => typeof m !== "string")) throw new Error('fromSafetensors: "__metadata__" must be an object of strings');
      out.metadata = { ...(info as Record<string, string>) };
      continue;
    }
    const t = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (t === null || typeof t !== "object") throw new Error(`fromSafetensors: the entry of "${name}" must be an object { dtype, shape, data_offsets }`);
    const size = DTYPE_BYTES[t.dtype as string];
    if (typeof t.dtype !== "string" || size === undefined) throw new Error(`fromSafetensors: "${name}" has dtype ${JSON.stringify(t.dtype)}; only F32 and I64 are supported`);
    const shape = t.shape;
    if (!Array.isArray(shape) || !shape.every((s) => Number.isInteger(s) && s >= 0)) throw new Error(`fromSafetensors: "${name}" has an invalid shape ${JSON.stringify(shape)}`);
    const off = t.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isInteger(o) && o >= 0) || off[0] > off[1] || off[1] > dataLen) {
      throw new Error(`fromSafetensors: "${name}" has data_offsets ${JSON.stringify(off)} outside the ${dataLen} data bytes`);
    }
    const count = prod(shape as number[]);
    if (off[1] - off[0] !== count * size) {
      throw new Error(`fromSafetensors: "${name}" (${t.dtype} ${fmt(shape as number[])}) needs ${count * size} bytes, but its data_offsets span ${off[1] - off[0]}`);
    }
    // A copy: aligned, and independent of the caller's buffer.
    const raw = buf.slice(base + off[0], base + off[1]);
    const value: StateValue = t.dtype === "F32" ? new Float32Array(raw.buffer, 0, count) : new BigInt64Array(raw.buffer, 0, count);
    out.stateDict[name] = value;
    out.shapes[name] = [...(shape as number[])];
  }
  return out;
}
