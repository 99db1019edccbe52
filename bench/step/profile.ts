// A plain loop of the bench's training step (SIMD build, same model, real MNIST batches when
// present) for a CPU profile, and a summary of the profile by function:
//
//   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/step/profile.ts [steps] [--build=scalar] [--wasm-file=PATH]
//   npx tsx bench/step/profile.ts --summarize /tmp/prof/<file>.cpuprofile [--wasm=build/bn.scalar.wasm]
//
// V8's profile calls wasm functions "wasm-function[i]" unless the module has a name section;
// the summary maps exported ones to their export names. For internal functions too, profile
// a build with names: npx asc assembly/index.ts --config asconfig.json --target simd
// -o /tmp/prof/bn.simd.named.wasm --debug, then --wasm-file=/tmp/prof/bn.simd.named.wasm.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gatherSamples, toSamples } from "../../src/data/dataset.js";
import { buildPaperNetworks } from "../../src/experiments/mnist_paper.js";
import { CrossEntropyLoss, init, loadEmbeddedMnist, loadMnist, type MnistSplit, Rng, SGD, tensor } from "../../src/index.js";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Function index -> export name of a wasm module (V8 profiles name wasm code "wasm-function[i]" without a name section). */
function wasmExportNames(bytes: Uint8Array): Map<number, string> {
  const names = new Map<number, string>();
  let pos = 8;
  const u32 = (): number => {
    let r = 0, shift = 0, b: number;
    do {
      b = bytes[pos++];
      r |= (b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80);
    return r >>> 0;
  };
  const str = (): string => {
    const n = u32();
    const s = new TextDecoder().decode(bytes.subarray(pos, pos + n));
    pos += n;
    return s;
  };
  while (pos < bytes.length) {
    const id = bytes[pos++];
    const size = u32();
    const end = pos + size;
    if (id === 7) {
      const count = u32();
      for (let i = 0; i < count; i++) {
        const name = str();
        const kind = bytes[pos++];
        const index = u32();
        if (kind === 0) names.set(index, name);
      }
    }
    pos = end;
  }
  return names;
}

function summarize(file: string): void {
  const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const wasmFile = process.argv.find((a) => a.startsWith("--wasm="))?.slice(7) ?? fileURLToPath(new URL("../../build/bn.simd.wasm", import.meta.url));
  const wasmNames = wasmExportNames(readFileSync(wasmFile));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const n = byId.get(id)!;
    const f = n.callFrame;
    const where = f.url.includes("wasm") || f.url === "" ? "" : ` ${f.url.split("/").slice(-2).join("/")}:${f.lineNumber + 1}`;
    const m = /^wasm-function\[(\d+)\]$/.exec(f.functionName);
    const fn = m ? `wasm ${wasmNames.get(Number(m[1])) ?? f.functionName}` : f.functionName || "(anonymous)";
    const key = `${fn}${where}`;
    const dt = p.timeDeltas[i] ?? 0;
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  });
  const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25);
  console.log(`self time by function, ${(total / 1000).toFixed(0)} ms sampled:`);
  for (const [k, v] of rows) console.log(`  ${((100 * v) / total).toFixed(1).padStart(5)}%  ${(v / 1000).toFixed(1).padStart(8)} ms  ${k}`);
}

async function loop(steps: number, build: "simd" | "scalar"): Promise<void> {
  let train: MnistSplit;
  try {
    train = (await loadMnist({ dir: process.env.MNIST_DIR ?? fileURLToPath(new URL("../../../shared/data/mnist/", import.meta.url)) })).train;
  } catch {
    train = (await loadEmbeddedMnist({ seed: 0 })).train;
  }
  // --wasm-file=PATH: a build with a name section (asc ... --debug), so the profile names internal functions too.
  const wasmFile = process.argv.find((a) => a.startsWith("--wasm-file="))?.slice("--wasm-file=".length);
  await init(wasmFile ? { wasm: readFileSync(wasmFile) } : { build });
  const { bn: model, plain } = buildPaperNetworks([100, 100, 100], 0.1, 0);
  plain.dispose();
  const loss = new CrossEntropyLoss();
  const opt = new SGD(model.parameters(), { lr: 0.5 });
  const x = tensor(new Float32Array(60 * 784), [60, 784]);
  const labels = new Uint8Array(60);
  const order = new Rng(0).permutation(train.count);
  const trainSamples = toSamples(train, "train");
  let pos = 0, sink = 0;
  const t0 = performance.now();
  for (let s = 0; s < steps; s++) {
    if (pos + 60 > train.count) pos = 0;
    gatherSamples(x, labels, trainSamples, order, pos, 60);
    pos += 60;
    opt.zeroGrad();
    sink += loss.forward(model.forward(x), labels);
    model.backwardParams(loss.backward());
    opt.step();
  }
  const dt = performance.now() - t0;
  console.log(`${steps} steps (${build}): ${(dt / steps).toFixed(3)} ms/step, mean loss ${(sink / steps).toFixed(4)}`);
}

const args = process.argv.slice(2);
const si = args.indexOf("--summarize");
if (si >= 0) summarize(args[si + 1]);
else {
  const build = args.find((a) => a.startsWith("--build="))?.slice(8) === "scalar" ? "scalar" : "simd";
  await loop(Number(args.find((a) => /^\d+$/.test(a)) ?? 5000), build);
}
