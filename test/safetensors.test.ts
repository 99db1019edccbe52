// safetensors read back from real files (Node Buffers are views into pooled memory), from
// sub-views at unaligned offsets, and the format's rules: a sane header, valid entries, and
// tensors that cover the data section exactly. Names are kept as they are, "__proto__" too.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { init } from "../src/backend.js";
import { BatchNorm1d } from "../src/layers/batchnorm.js";
import { ReLU } from "../src/layers/activations.js";
import { Dense } from "../src/layers/dense.js";
import type { StateDict } from "../src/module.js";
import { SGD } from "../src/optim/sgd.js";
import { Sequential } from "../src/layers/sequential.js";
import { fromSafetensors, toSafetensors } from "../src/serialize/safetensors.js";
import { tensor } from "../src/tensor.js";
import { fit } from "../src/training/fit.js";
import { rng } from "./check.js";

let dir = "";
beforeAll(async () => {
  await init();
  dir = mkdtempSync(join(tmpdir(), "bn-safetensors-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Values that differ in every byte, so any misplaced read shows. */
function sample(): StateDict {
  return {
    "0.weight": Float32Array.from({ length: 24 }, (_, i) => (i - 11.5) / 7),
    "1.running_var": Float32Array.from([0.5, 1.25, 3e-7, 65504]),
    "1.num_batches_tracked": BigInt64Array.of(123456789012n),
  };
}

function expectSameState(got: StateDict, want: StateDict): void {
  expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
  for (const k of Object.keys(want)) {
    expect(got[k].constructor, k).toBe(want[k].constructor);
    expect(Array.from(got[k] as ArrayLike<number | bigint>), k).toEqual(Array.from(want[k] as ArrayLike<number | bigint>));
  }
}

/** A safetensors file from a header object (no padding) and `dataLen` data bytes. */
function withHeader(header: object, dataLen: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataLen);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  for (let i = 0; i < dataLen; i++) out[8 + json.length + i] = i + 1;
  return out;
}

/** The 8-byte length field followed by `header` as raw bytes. */
function rawHeader(length: bigint, header: string, extra = 0): Uint8Array {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.length + extra);
  new DataView(out.buffer).setBigUint64(0, length, true);
  out.set(json, 8);
  return out;
}

const f32 = (n: number, begin: number) => ({ dtype: "F32", shape: [n], data_offsets: [begin, begin + 4 * n] });

describe("fromSafetensors on bytes that are a view into a larger buffer", () => {
  it("reads a file written with writeFileSync and read back with readFileSync", () => {
    const sd = sample();
    const file = join(dir, "sample.safetensors");
    writeFileSync(file, toSafetensors(sd, { "0.weight": [4, 6] }));
    const buf = readFileSync(file);
    const back = fromSafetensors(buf);
    expectSameState(back.stateDict, sd);
    expect(back.stateDict["1.num_batches_tracked"]).toEqual(BigInt64Array.of(123456789012n));
    expect(back.shapes["0.weight"]).toEqual([4, 6]);
    // The result is a copy: changing the file's bytes afterwards changes nothing.
    buf.fill(0);
    expectSameState(back.stateDict, sample());
  });

  it("reads a Uint8Array sub-view at an unaligned offset, a DataView, a Buffer and an ArrayBuffer", () => {
    const bytes = toSafetensors(sample());
    for (const offset of [1, 3, 5, 8]) {
      const big = new Uint8Array(offset + bytes.length + 11).fill(0xee);
      big.set(bytes, offset);
      const view = big.subarray(offset, offset + bytes.length);
      expectSameState(fromSafetensors(view).stateDict, sample());
      expectSameState(fromSafetensors(new DataView(big.buffer, offset, bytes.length)).stateDict, sample());
      expectSameState(fromSafetensors(Buffer.from(big.buffer, offset, bytes.length)).stateDict, sample());
      // Aligned copies out of unaligned input: the typed arrays start at offset 0 of their own buffer.
      const w = fromSafetensors(view).stateDict["0.weight"];
      expect([w.byteOffset, w.buffer.byteLength]).toEqual([0, 96]);
    }
    const copy = new ArrayBuffer(bytes.length);
    new Uint8Array(copy).set(bytes);
    expectSameState(fromSafetensors(copy).stateDict, sample());
  });

  it("round-trips a trained Dense + BatchNorm1d model through a file: identical outputs in eval mode", () => {
    const r = rng(4);
    const n = 96, features = 6;
    const x = Float32Array.from({ length: n * features }, () => r.normal());
    const y = Uint8Array.from({ length: n }, (_, i) => (x[i * features] + x[i * features + 1] > 0 ? 1 : 0) + (x[i * features + 2] > 0.5 ? 1 : 0));
    const build = (seed: number) =>
      new Sequential([new Dense(features, 8, { seed }), new BatchNorm1d(8), new ReLU(), new Dense(8, 5, { seed: seed + 1 }), new BatchNorm1d(5), new ReLU(), new Dense(5, 3, { seed: seed + 2 })]);
    const model = build(1);
    fit(model, { x, y, shape: [n, features] }, { epochs: 3, batchSize: 32, optimizer: new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 }), verbose: false });
    const file = join(dir, "model.safetensors");
    writeFileSync(file, toSafetensors(model.stateDict(), model.stateShapes(), { format: "pt" }));

    const loaded = fromSafetensors(readFileSync(file));
    expect(loaded.stateDict["1.num_batches_tracked"]).toEqual(BigInt64Array.of(9n));
    expect(loaded.stateDict["4.num_batches_tracked"]).toEqual(BigInt64Array.of(9n));
    expect(loaded.shapes).toEqual(model.stateShapes());
    const fresh = build(50);
    fresh.loadStateDict(loaded.stateDict);
    expectSameState(fresh.stateDict(), model.stateDict());
    model.eval();
    fresh.eval();
    const input = tensor(x.subarray(0, 20 * features), [20, features]);
    expect(fresh.forward(input).toArray()).toEqual(model.forward(input).toArray());
  });

  it("rejects what is not bytes, naming what came", () => {
    expect(() => fromSafetensors(null as never)).toThrow(/expected the file's bytes as a Uint8Array .* or an ArrayBuffer, got null/);
    expect(() => fromSafetensors([1, 2, 3] as never)).toThrow(/expected the file's bytes .*, got Array/);
    expect(() => fromSafetensors("abc" as never)).toThrow(/expected the file's bytes .*, got string/);
  });
});

describe("fromSafetensors follows the format's rules", () => {
  it("checks the header length field against the format's limit and the bytes given", () => {
    expect(() => fromSafetensors(new Uint8Array(7))).toThrow(/7 bytes is too short for a safetensors file \(the header length alone takes 8\)/);
    expect(() => fromSafetensors(rawHeader(2n ** 63n, "{}"))).toThrow(/the header length field says 9223372036854775808 bytes, more than the format's limit of 100000000/);
    expect(() => fromSafetensors(rawHeader(100n, "{}"))).toThrow(/the header length field says 100 bytes, but only 2 bytes follow it/);
    expect(() => fromSafetensors(rawHeader(0n, "", 8))).toThrow(/expected the header to be a JSON object starting with "\{", got an empty header/);
    expect(() => fromSafetensors(rawHeader(4n, ' {} '))).toThrow(/expected the header to be a JSON object starting with "\{", got byte 0x20/);
    expect(() => fromSafetensors(rawHeader(4n, "[1,2"))).toThrow(/starting with "\{", got byte 0x5b/);
    expect(() => fromSafetensors(rawHeader(3n, "{a}"))).toThrow(/the header is not valid UTF-8 JSON/);
    expect(() => fromSafetensors(rawHeader(2n, "{}"))).not.toThrow();
    // Padding with spaces after the JSON, as writers do, is fine.
    expect(Object.keys(fromSafetensors(rawHeader(8n, "{}      ")).stateDict)).toEqual([]);
  });

  it("checks each entry's dtype, shape and data_offsets, naming the tensor, what was expected and what came", () => {
    expect(() => fromSafetensors(withHeader({ w: [1] }, 4))).toThrow(/the entry of "w" must be an object \{ dtype, shape, data_offsets \}, got \[1\]/);
    expect(() => fromSafetensors(withHeader({ w: { ...f32(2, 0), dtype: "F16" } }, 8))).toThrow(/"w" has dtype "F16"; only F32, I64, F64 are supported/);
    expect(() => fromSafetensors(withHeader({ w: { ...f32(2, 0), dtype: "constructor" } }, 8))).toThrow(/"w" has dtype "constructor"; only F32, I64, F64/);
    expect(() => fromSafetensors(withHeader({ w: { ...f32(2, 0), dtype: undefined } }, 8))).toThrow(/"w" has dtype undefined/);
    expect(() => fromSafetensors(withHeader({ w: { ...f32(2, 0), shape: [-2] } }, 8))).toThrow(/"w" has shape \[-2\]; expected an array of non-negative integers/);
    expect(() => fromSafetensors(withHeader({ w: { ...f32(2, 0), shape: [1.5] } }, 8))).toThrow(/"w" has shape \[1\.5\]; expected/);
    expect(() => fromSafetensors(withHeader({ w: { ...f32(2, 0), shape: "2" } }, 8))).toThrow(/"w" has shape "2"; expected/);
    expect(() => fromSafetensors(withHeader({ w: { ...f32(2, 0), data_offsets: [0] } }, 8))).toThrow(/"w" has data_offsets \[0\]; expected \[begin, end\] with integers 0 <= begin <= end/);
    expect(() => fromSafetensors(withHeader({ w: { ...f32(2, 0), data_offsets: [8, 0] } }, 8))).toThrow(/"w" has data_offsets \[8,0\]; expected \[begin, end\]/);
    expect(() => fromSafetensors(withHeader({ w: { ...f32(2, 0), data_offsets: [0, 8.5] } }, 8))).toThrow(/"w" has data_offsets \[0,8\.5\]; expected/);
    expect(() => fromSafetensors(withHeader({ w: f32(2, 0) }, 4))).toThrow(/"w" has data_offsets \[0,8\] outside the 4 data bytes/);
    // Byte length = product(shape) * dtype size.
    expect(() => fromSafetensors(withHeader({ w: { dtype: "F32", shape: [2, 3], data_offsets: [0, 16] } }, 16))).toThrow(/"w" \(F32 \[2, 3\]\) needs 24 bytes, but its data_offsets span 16/);
    expect(() => fromSafetensors(withHeader({ n: { dtype: "I64", shape: [], data_offsets: [0, 4] } }, 4))).toThrow(/"n" \(I64 \[\]\) needs 8 bytes, but its data_offsets span 4/);
    expect(() => fromSafetensors(withHeader({ __metadata__: { a: 1 } }, 0))).toThrow(/"__metadata__" must be an object of strings, but "a" is 1/);
    expect(() => fromSafetensors(withHeader({ __metadata__: ["x"] }, 0))).toThrow(/"__metadata__" must be an object of strings, got \["x"\]/);
  });

  it("rejects gaps, overlaps and trailing bytes: the tensors must cover the data section exactly", () => {
    // A gap between two tensors.
    expect(() => fromSafetensors(withHeader({ a: f32(2, 0), b: f32(2, 12) }, 20))).toThrow(
      /"b" \(data_offsets \[12,20\]\) starts at data byte 12, but "a" \(data_offsets \[0,8\]\) ends at 8: a gap of 4 bytes; expected the tensors to cover the data contiguously/,
    );
    // A gap before the first one.
    expect(() => fromSafetensors(withHeader({ a: f32(2, 4) }, 12))).toThrow(/"a" \(data_offsets \[4,12\]\) starts at data byte 4, but the data section starts at 0: a gap of 4 bytes/);
    // Overlapping tensors, and two tensors sharing the same bytes.
    expect(() => fromSafetensors(withHeader({ a: f32(3, 0), b: f32(2, 8) }, 16))).toThrow(
      /"b" \(data_offsets \[8,16\]\) overlaps "a" \(data_offsets \[0,12\]\); expected each tensor to start where the one before it ends \(12\)/,
    );
    expect(() => fromSafetensors(withHeader({ a: f32(2, 0), b: f32(2, 0) }, 8))).toThrow(/overlaps/);
    // Bytes after the last tensor.
    expect(() => fromSafetensors(withHeader({ a: f32(2, 0) }, 11))).toThrow(/the tensors cover 8 data bytes, but 11 follow the header \(3 trailing bytes\); expected them to cover the data exactly/);
    expect(() => fromSafetensors(withHeader({}, 1))).toThrow(/the tensors cover 0 data bytes, but 1 follow the header/);
  });

  it("accepts tensors listed in any order, empty tensors, and an empty file", () => {
    const back = fromSafetensors(withHeader({ z: f32(1, 0), a: f32(2, 4), e: { dtype: "F32", shape: [0, 3], data_offsets: [12, 12] }, n: { dtype: "I64", shape: [1], data_offsets: [12, 20] } }, 20));
    expect(Object.keys(back.stateDict)).toEqual(["z", "a", "e", "n"]);
    expect(back.shapes.e).toEqual([0, 3]);
    expect(back.stateDict.e.length).toBe(0);
    expect(back.stateDict.n).toBeInstanceOf(BigInt64Array);
    expect(Object.keys(fromSafetensors(toSafetensors({})).stateDict)).toEqual([]);
  });
});

describe("names are data, not object keys with meaning", () => {
  it('keeps tensors named "__proto__", "constructor" and "toString" as ordinary keys, both ways', () => {
    const sd: StateDict = Object.create(null);
    sd["__proto__"] = Float32Array.from([1, 2]);
    sd["constructor"] = Float32Array.from([3]);
    sd["toString"] = Float32Array.from([4, 5, 6]);
    sd["hasOwnProperty"] = BigInt64Array.of(7n);
    const bytes = toSafetensors(sd, { toString: [3, 1] }, { ["__proto__"]: "meta", note: "x" });
    const back = fromSafetensors(bytes);
    expect(Object.getPrototypeOf(back.stateDict)).toBe(null);
    expect(Object.keys(back.stateDict).sort()).toEqual(["__proto__", "constructor", "hasOwnProperty", "toString"]);
    expect(Array.from(back.stateDict["__proto__"] as Float32Array)).toEqual([1, 2]);
    expect(Array.from(back.stateDict["constructor"] as Float32Array)).toEqual([3]);
    expect(back.shapes["toString"]).toEqual([3, 1]);
    expect(back.shapes["constructor"]).toEqual([1]);
    expect(back.stateDict["hasOwnProperty"]).toEqual(BigInt64Array.of(7n));
    expect(Object.getPrototypeOf(back.metadata)).toBe(null);
    expect(back.metadata?.["__proto__"]).toBe("meta");
    expect(back.metadata?.note).toBe("x");
    // Nothing leaked into Object.prototype.
    expect(({} as Record<string, unknown>).length).toBeUndefined();
  });

  it('reads a "__proto__" tensor from a file written elsewhere (a raw JSON header)', () => {
    const back = fromSafetensors(withHeader({ ["__proto__"]: f32(1, 0), w: f32(1, 4) }, 8));
    expect(Object.keys(back.stateDict)).toEqual(["__proto__", "w"]);
    expect(back.stateDict["__proto__"]).toBeInstanceOf(Float32Array);
    expect(back.stateDict.w).toBeInstanceOf(Float32Array);
  });
});
