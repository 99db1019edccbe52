// npm run bench: the benchmarks in one go (BN layers, GEMM, one MNIST training step, the
// heap allocator under tensor churn), each in its own Node process. Node 20 validates
// relaxed-SIMD modules only behind a flag; pass it so the relaxed build is measured too
// (Node 22+ runs it by default).
import { spawnSync } from "node:child_process";

const major = Number(process.versions.node.split(".")[0]);
const flags = major < 22 ? ["--experimental-wasm-relaxed-simd"] : [];
const all = { bn: "bench/index.ts", gemm: "bench/gemm.bench.ts", step: "bench/train_step.bench.ts", heap: "bench/heap_churn.bench.ts" };
const args = process.argv.slice(2);
const only = args.filter((a) => a in all);
const rest = args.filter((a) => !(a in all));
for (const [name, file] of Object.entries(all)) {
  if (only.length && !only.includes(name)) continue;
  console.log(`\n=== ${name}: ${file} ===\n`);
  const r = spawnSync(process.execPath, [...flags, "--import", "tsx", file, ...rest], { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
