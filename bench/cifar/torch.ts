// The PyTorch side of bench/cifar.bench.ts: bench/cifar/torch_inception.py times one training
// step of the same network at a width (a child process per timing round), and, once before any
// timing, takes one step from our weights on our batch so its loss and gradients can be
// compared with the float64 reference.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ExternalSamples, Peers } from "../harness/index.js";

export const TORCH_SCRIPT = fileURLToPath(new URL("./torch_inception.py", import.meta.url));

export interface TorchInfo {
  torch: string;
  threads: number;
  mkldnn: boolean;
  cpu_capability: string | null;
}

/** A trainable parameter as PyTorch holds it: its key, shape and values in PyTorch's layout. */
export type TorchParam = readonly [key: string, shape: readonly number[], value: Float32Array];

/** Per-step milliseconds of one timing run at a width and batch. */
export function torchStepTimes(peers: Peers, width: number, batch: number, o: { warmup: number; minSteps: number }): ExternalSamples & TorchInfo {
  return peers.runTorch(TORCH_SCRIPT, ["--width", String(width), "--batch", String(batch), "--warmup-steps", String(o.warmup), "--min-steps", String(o.minSteps)]);
}

/** PyTorch's loss and gradients in float64 (PyTorch's layouts, `params` order) of one step on x [N, 32, 32, 3]. */
export function torchStepGrads(peers: Peers, width: number, x: Float32Array, labels: Uint8Array, params: readonly TorchParam[]): { info: TorchInfo; loss: number; grads: Float64Array[] } {
  const dir = mkdtempSync(join(tmpdir(), "cifar-bench-torch-"));
  const prefix = join(dir, "check");
  try {
    const parts = [x, ...params.map((p) => p[2])];
    const blob = new Float32Array(parts.reduce((s, a) => s + a.length, 0));
    let off = 0;
    for (const a of parts) {
      blob.set(a, off);
      off += a.length;
    }
    writeFileSync(`${prefix}.bin`, new Uint8Array(blob.buffer));
    writeFileSync(`${prefix}.json`, JSON.stringify({ width, batch: labels.length, labels: Array.from(labels), params: params.map(([k, s]) => [k, s]) }));
    const info = peers.runTorch<TorchInfo>(TORCH_SCRIPT, ["--check", prefix]);
    const buf = readFileSync(`${prefix}.out.bin`);
    const all = new Float64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    const want = 1 + params.reduce((s, p) => s + p[2].length, 0);
    if (all.length !== want) throw new Error(`bench: torch_inception.py wrote ${all.length} doubles, expected ${want}`);
    const grads: Float64Array[] = [];
    off = 1;
    for (const p of params) {
      grads.push(all.slice(off, off + p[2].length));
      off += p[2].length;
    }
    return { info, loss: all[0], grads };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A convolution filter [OC, C, KH, KW] (PyTorch's) as [OC, KH, KW, C] (our channelsLast layer's). */
export function filterToNhwc(w: Float64Array, [OC, C, KH, KW]: readonly number[]): Float64Array {
  const out = new Float64Array(w.length);
  for (let o = 0; o < OC; o++) for (let c = 0; c < C; c++) for (let h = 0; h < KH; h++) for (let k = 0; k < KW; k++) out[((o * KH + h) * KW + k) * C + c] = w[((o * C + c) * KH + h) * KW + k];
  return out;
}
