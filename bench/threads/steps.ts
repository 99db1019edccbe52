// Whole training steps at 1 and 2 threads for bench/threads.bench.ts, next to PyTorch at 1 and 2
// threads where installed: the paper's MNIST step (784-100-100-100-10 sigmoid with BN, SGD lr
// 0.5, batch 60: the rows copied out of 10,000 random images into the input, then the step, as
// bench/step/torch_step.py does without --data) and the CIFAR Inception step (inceptionCifar,
// NHWC, SGD momentum 0.9, batch 32, as bench/cifar/torch_inception.py). Before timing, the
// 2-thread step's loss is checked against the 1-thread step's (equal within rounding: BN merges
// per-thread statistics).
import { fileURLToPath } from "node:url";
import { buildPaperNetworks } from "../../src/experiments/mnist_paper.js";
import { inceptionCifar } from "../../src/models/inception.js";
import { backendInfo, type BuildName, CrossEntropyLoss, init, SGD, type Tensor, tensor, TrainStep } from "../../src/index.js";
import type { Context, ExternalSamples, Task } from "../harness/index.js";
import { keep, rng } from "../harness/index.js";

const MNIST_TORCH = fileURLToPath(new URL("../step/torch_step.py", import.meta.url));
const CIFAR_TORCH = fileURLToPath(new URL("../cifar/torch_inception.py", import.meta.url));

export interface StepCase {
  label: string;
  /** Our step on `threads` threads of `build`, and its disposal. */
  make(build: BuildName, threads: number): Promise<{ run: () => number; dispose(): void }>;
  /** PyTorch's per-step samples at `threads` threads (the timing script, a child process). */
  torch(ctx: Context, threads: number, steps: number): ExternalSamples;
  /** Steps per timing round. */
  steps: number;
}

async function backendFor(build: BuildName, threads: number): Promise<void> {
  await init({ build, threads });
  const info = backendInfo();
  if (info.threads !== threads) throw new Error(`bench: asked for ${threads} threads, got ${info.threads} (${info.threadsFallback})`);
}

export const MNIST_STEP: StepCase = {
  label: "MNIST paper step (batch 60)",
  steps: 1500,
  async make(build, threads) {
    await backendFor(build, threads);
    const { bn } = buildPaperNetworks([100, 100, 100], 0.1, 0);
    const loss = new CrossEntropyLoss(), opt = new SGD(bn.parameters(), { lr: 0.5 });
    const step = new TrainStep(bn, loss, opt);
    const r = rng(5);
    const images = Float32Array.from({ length: 10000 * 784 }, () => r.uniform());
    const labels = Int32Array.from({ length: 10000 }, () => Math.floor(r.uniform() * 10));
    const x: Tensor = tensor(new Float32Array(60 * 784), [60, 784]);
    const y = new Int32Array(60);
    let at = 0;
    return {
      run() {
        // Rows at a moving offset of the random images: a gather of 60 rows, as a loop does.
        const xd = x.data;
        for (let i = 0; i < 60; i++) {
          const k = (at + i * 157) % 10000;
          xd.set(images.subarray(k * 784, k * 784 + 784), i * 784);
          y[i] = labels[k];
        }
        at = (at + 60) % 10000;
        return step.run(x, y);
      },
      dispose() {
        bn.dispose();
        loss.dispose();
        opt.dispose();
        x.dispose();
      },
    };
  },
  torch(ctx, threads, steps) {
    const r = ctx.peers.runTorch<{ wallSamples?: number[]; cpuSamples?: number[] }>(MNIST_TORCH, ["--threads", String(threads), "--samples", "--min-steps", String(steps), "--min-seconds", "0.5"], threads);
    return { wall: r.wallSamples ?? [], cpu: r.cpuSamples ?? [] };
  },
};

export function cifarStep(width: number): StepCase {
  const batch = 32;
  return {
    label: `CIFAR Inception step, width ${width} (batch ${batch})`,
    steps: width >= 1 ? 3 : 10,
    async make(build, threads) {
      await backendFor(build, threads);
      const model = inceptionCifar({ width, dataFormat: "channelsLast", seed: 0 });
      const loss = new CrossEntropyLoss(), opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
      const step = new TrainStep(model, loss, opt);
      const r = rng(7);
      const x = tensor(Float32Array.from({ length: batch * 32 * 32 * 3 }, () => r.uniform()), [batch, 32, 32, 3]);
      const labels = Uint8Array.from({ length: batch }, () => Math.floor(r.uniform() * 10));
      return {
        run: () => step.run(x, labels),
        dispose() {
          model.dispose();
          loss.dispose();
          opt.dispose();
          x.dispose();
        },
      };
    },
    torch(ctx, threads, steps) {
      return ctx.peers.runTorch<ExternalSamples>(CIFAR_TORCH, ["--width", String(width), "--batch", String(batch), "--threads", String(threads), "--warmup-steps", "1", "--min-steps", String(steps)], threads);
    },
  };
}

/** The timing tasks of one step case: ours at 1 and 2 threads (checked), PyTorch at 1 and 2 threads when installed. */
export async function stepTasks(ctx: Context, c: StepCase, build: BuildName, torch: boolean): Promise<{ tasks: Task[]; dispose(): void }> {
  const one = await c.make(build, 1), two = await c.make(build, 2);
  const l1 = one.run(), l2 = two.run();
  ctx.check.require("2 threads", c.label, "first step's loss against 1 thread", [l2], [l1], 1e-5);
  const tasks: Task[] = [
    { name: "ours 1 thread", fn: () => keep(one.run()) },
    { name: "ours 2 threads", fn: () => keep(two.run()) },
  ];
  if (torch) {
    tasks.push({ name: "pytorch 1 thread", external: () => c.torch(ctx, 1, c.steps) });
    tasks.push({ name: "pytorch 2 threads", external: () => c.torch(ctx, 2, c.steps) });
  }
  return { tasks, dispose: () => (one.dispose(), two.dispose()) };
}
