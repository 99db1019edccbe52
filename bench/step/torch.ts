// The PyTorch side of bench/step.bench.ts: the data file bench/step/torch_step.py reads (the
// same images, batch order and initial weights as ours), and the step it took on the check
// batch read back.
import { readFileSync, writeFileSync } from "node:fs";
import type { MnistSplit } from "../../src/index.js";

export interface TorchResult {
  torch: string;
  threads: number;
  blas: string[];
  data: string;
  wallMs: { median: number; p25: number; p75: number; min: number; mean: number; samples: number };
  cpuMs: { median: number; p25: number; p75: number; min: number; mean: number; samples: number };
  breakdownMs?: Record<string, number>;
  forwardPerLayerMs?: { layer: string; ms: number }[];
  check?: { loss: number; keys: string[]; file: string };
  wallSamples?: number[];
  cpuSamples?: number[];
}

/** A parameter by its PyTorch state_dict key, its values and its shape. */
export type NamedParam = [string, Float32Array, number[]];

export interface TorchData {
  train: MnistSplit;
  order: Int32Array;
  params: NamedParam[];
  checkX: Float32Array;
  checkY: Uint8Array;
  source: string;
  meta: { layers: number[]; batch: number; lr: number; eps: number; momentum: number };
}

/** Writes PREFIX.json + PREFIX.bin, what torch_step.py --data PREFIX reads. */
export function writeTorchData(prefix: string, d: TorchData): void {
  const parts: { name: string; bytes: Uint8Array; dtype: string; length: number }[] = [];
  const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const u8 = new Uint8Array(d.train.images.length);
  for (let i = 0; i < u8.length; i++) u8[i] = Math.round(d.train.images[i] * 255);
  parts.push({ name: "images", bytes: u8, dtype: "uint8", length: u8.length });
  parts.push({ name: "labels", bytes: d.train.labels, dtype: "uint8", length: d.train.labels.length });
  parts.push({ name: "order", bytes: bytes(d.order), dtype: "<i4", length: d.order.length });
  for (const [k, v] of d.params) parts.push({ name: `param:${k}`, bytes: bytes(v), dtype: "<f4", length: v.length });
  parts.push({ name: "check_x", bytes: bytes(d.checkX), dtype: "<f4", length: d.checkX.length });
  parts.push({ name: "check_y", bytes: d.checkY, dtype: "uint8", length: d.checkY.length });
  let off = 0;
  const arrays: Record<string, { offset: number; length: number; dtype: string }> = {};
  for (const p of parts) {
    arrays[p.name] = { offset: off, length: p.length, dtype: p.dtype };
    off += Math.ceil(p.bytes.byteLength / 16) * 16;
  }
  const blob = new Uint8Array(off);
  for (const p of parts) blob.set(p.bytes, arrays[p.name].offset);
  writeFileSync(`${prefix}.bin`, blob);
  const meta = { ...d.meta, source: d.source, params: Object.fromEntries(d.params.map(([k, , s]) => [k, s])), arrays };
  writeFileSync(`${prefix}.json`, JSON.stringify(meta));
}

/** The loss and the parameters after torch_step.py's check step (--check-out FILE), in `params` order. */
export function readTorchCheck(file: string, params: readonly NamedParam[]): { loss: number; after: Float32Array[] } {
  const buf = readFileSync(file);
  const flat = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const after: Float32Array[] = [];
  let off = 1;
  for (const [, v] of params) {
    after.push(flat.slice(off, off + v.length));
    off += v.length;
  }
  return { loss: flat[0], after };
}
