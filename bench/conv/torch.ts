// The PyTorch side of bench/conv.bench.ts: bench/conv/torch_conv.py times F.conv2d on one
// shape (a child process per timing round, both memory formats, forward and forward+backward),
// and, once before any timing, computes one shape on our data so its output can be compared
// with ours.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ExternalSamples, Peers } from "../harness/index.js";

export const TORCH_SCRIPT = fileURLToPath(new URL("./torch_conv.py", import.meta.url));

/** The memory formats: "nchw" is PyTorch's contiguous format, "nhwc" torch.channels_last. */
export type TorchFormat = "nchw" | "nhwc";

export interface TorchRun {
  torch: string;
  threads: number;
  mkldnn: boolean;
  cpu_capability: string | null;
  shape: number[];
  /** "<format> fwd" and "<format> fwd+bwd": per-call milliseconds. */
  samples?: Record<string, ExternalSamples>;
}

export interface ConvDims {
  N: number;
  H: number;
  C: number;
  OC: number;
  k: number;
}

const shapeArg = (d: ConvDims) => `${d.N},${d.H},${d.C},${d.OC},${d.k}`;

/** One timing run of the shape (both formats, both passes). */
export function torchTimes(peers: Peers, d: ConvDims, o: { minIters: number; minSeconds: number; warmup: number }): TorchRun {
  return peers.runTorch<TorchRun>(TORCH_SCRIPT, ["--shape", shapeArg(d), "--min-iters", String(o.minIters), "--min-seconds", String(o.minSeconds), "--warmup", String(o.warmup)]);
}

/**
 * PyTorch's y, dx and dw for x [N, C, H, W], w [OC, C, K, K] and dy [N, OC, H, W] (PyTorch's
 * logical order, as our channelsFirst layer holds them), per memory format, in the same order.
 */
export function torchOutputs(peers: Peers, d: ConvDims, x: Float32Array, w: Float32Array, dy: Float32Array): { run: TorchRun; out: Record<TorchFormat, { y: Float32Array; dx: Float32Array; dw: Float32Array }> } {
  const dir = mkdtempSync(join(tmpdir(), "conv-bench-torch-"));
  try {
    const bytes = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    writeFileSync(join(dir, "x.bin"), bytes(x));
    writeFileSync(join(dir, "w.bin"), bytes(w));
    writeFileSync(join(dir, "dy.bin"), bytes(dy));
    const run = peers.runTorch<TorchRun>(TORCH_SCRIPT, ["--shape", shapeArg(d), "--check", dir]);
    const read = (fmt: TorchFormat) => {
      const buf = readFileSync(join(dir, `out_${fmt}.bin`));
      const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
      if (all.length !== dy.length + x.length + w.length) throw new Error(`bench: torch_conv.py wrote ${all.length} floats for ${fmt}, expected ${dy.length + x.length + w.length}`);
      return { y: all.subarray(0, dy.length), dx: all.subarray(dy.length, dy.length + x.length), dw: all.subarray(dy.length + x.length) };
    };
    return { run, out: { nchw: read("nchw"), nhwc: read("nhwc") } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
