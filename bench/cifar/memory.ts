// Heap of the seed's full network in training, for the README's memory table:
//   node --import tsx bench/cifar/memory.ts              heap per image (batch 2 -> 4), kept and memory-lean
//   node --import tsx bench/cifar/memory.ts --batch 250  two training steps at batch 250 (minutes each)
// Each measurement runs in a fresh process of its own (the memory-lean workspace is one per
// backend, so a second model in the same process would find it already grown).
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { backendInfo, CrossEntropyLoss, init, SGD, TrainStep, tensor } from "../../src/index.js";
import { inceptionCifar } from "../../src/models/inception.js";

const { values } = parseArgs({ options: { batch: { type: "string" }, one: { type: "string" }, bn: { type: "string" }, lean: { type: "string" } } });

/** Heap bytes in use after training steps at each batch size, one model. */
async function measure(bn: boolean, memoryLean: boolean, batches: number[], steps: number): Promise<void> {
  await init({ build: "simd" });
  const model = inceptionCifar({ bn, memoryLean });
  const step = new TrainStep(model, new CrossEntropyLoss(), new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 }));
  for (const B of batches) {
    const x = tensor(Float32Array.from({ length: B * 32 * 32 * 3 }, (_, i) => Math.sin(i * 0.37) * 0.5 + 0.5), [B, 32, 32, 3]);
    const labels = Int32Array.from({ length: B }, (_, i) => i % 10);
    for (let s = 1; s <= steps; s++) {
      const t0 = performance.now();
      const loss = step.run(x, labels);
      const info = backendInfo();
      console.log(JSON.stringify({ batch: B, step: s, loss, seconds: (performance.now() - t0) / 1000, heapBytes: info.heapBytesInUse, memoryBytes: info.memoryBytes }));
    }
    x.dispose();
  }
}

if (values.one) {
  await measure(values.bn === "1", values.lean === "1", values.one.split(",").map(Number), values.batch ? 2 : 1);
} else {
  const self = fileURLToPath(import.meta.url);
  const run = (bn: boolean, lean: boolean, batches: string) => {
    const r = spawnSync(process.execPath, ["--import", "tsx", self, "--one", batches, "--bn", bn ? "1" : "0", "--lean", lean ? "1" : "0", ...(values.batch ? ["--batch", values.batch] : [])], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(r.stderr);
    return r.stdout.trim().split("\n").map((l) => JSON.parse(l) as { batch: number; step: number; loss: number; seconds: number; heapBytes: number; memoryBytes: number });
  };
  if (values.batch) {
    for (const m of run(true, true, values.batch)) {
      console.log(`batch ${m.batch} step ${m.step}: loss ${m.loss.toFixed(4)}, ${m.seconds.toFixed(1)} s, heap in use ${(m.heapBytes / 2 ** 20).toFixed(0)} MiB, wasm memory ${(m.memoryBytes / 2 ** 20).toFixed(0)} MiB`);
    }
  } else {
    for (const lean of [false, true]) {
      for (const bn of [true, false]) {
        const [a, b] = run(bn, lean, "2,4");
        console.log(`${lean ? "memory-lean" : "kept       "} ${bn ? "with BN   " : "without BN"}: ${((b.heapBytes - a.heapBytes) / 2 / 1e6).toFixed(2)} MB per image`);
      }
    }
  }
}
