// npm run bench -- norms [--quick] [--no-torch] [--only=<part of a case label, e.g. GN>]
//
// LayerNorm, GroupNorm, InstanceNorm2d, Batch Renormalization, Ghost Batch Norm and (the
// baseline) BatchNorm, training forward and
// backward, on the cases of bench/norms/cases.ts (4M floats in both layouts, the MNIST MLP's
// [60, 100]): this library's SIMD build through the layers, against the memory floors BN is
// held to (forward within 1.2x of sum+copy, backward within 1.3x of 3 sums + copy, timed in
// interleaved rounds on the same buffers), tfjs's wasm backend (tf.moments + arithmetic) and
// PyTorch on one thread. Every variant is checked against its float64 reference
// (test/reference/*.ts) before it is timed. Prints the table; bench/results/norms.json.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { getBackend } from "../src/backend.js";
import { init, type Module, type Tensor, tensor } from "../src/index.js";
import { CASES, dims, EPS, type Kind, KINDS, type NormCase, type RefOut } from "./norms/cases.js";
import { TfNorm } from "./norms/tfjs.js";
import { checkFloors, type Context, type ExternalSamples, floorsFor, floorTasks, fmt, fmtMs, fmtX, median, rng, runSuite, table, timeGroup, type Timing } from "./harness/index.js";

const TOL_LIB = 1e-4;
const TOL_PEER = 1e-3;
const TARGET = { fwd: 1.2, bwd: 1.3 };
const TORCH_SCRIPT = fileURLToPath(new URL("./norms/torch_norms.py", import.meta.url));

interface Row {
  label: string;
  kind: string;
  n: number;
  floors: { sum: Timing; copy: Timing };
  fwd: Timing;
  bwd: Timing;
  /** ours / floor, wall and CPU clocks. */
  ratio: { fwd: number; bwd: number; fwdCpu: number; bwdCpu: number };
  met: { fwd: boolean; bwd: boolean };
  tfjs?: { fwd: number; fwdBwd: number } | { skipped: string };
  torch?: { fwd: number; fwdBwd: number; format: string } | { skipped: string };
}

function data(c: NormCase, seed: number) {
  const r = rng(seed);
  const n = c.shape.reduce((a, b) => a * b, 1), P = KINDS[c.kind].params(c);
  // An offset per sample and per channel (a layout or statistics mix-up cannot pass the check).
  const x = r.array(n);
  const { N, C, HW } = dims(c), last = c.dataFormat === "channelsLast";
  for (let i = 0; i < n; i++) {
    const s = Math.floor(i / (C * HW)), ch = last ? i % C : Math.floor(i / HW) % C;
    x[i] = x[i] * (0.5 + 0.1 * (ch % 7)) + 0.3 * (s % 5) - 1 + 0.05 * ch;
  }
  void N;
  return { x, dy: r.array(n), gamma: Float32Array.from({ length: P }, () => 1 + 0.2 * r.normal()), beta: Float32Array.from({ length: P }, () => 0.1 * r.normal()) };
}

/** NHWC <-> NCHW for the PyTorch peer (identity for channels-first cases). */
function toLogical(a: Float32Array, c: NormCase, back = false): Float32Array {
  if (c.dataFormat !== "channelsLast" || c.shape.length < 3) return a;
  const { N, C, HW } = dims(c);
  const out = new Float32Array(a.length);
  for (let n = 0; n < N; n++)
    for (let ch = 0; ch < C; ch++)
      for (let i = 0; i < HW; i++) {
        const l = (n * C + ch) * HW + i, p = (n * HW + i) * C + ch;
        if (back) out[p] = a[l];
        else out[l] = a[p];
      }
  return out;
}

function logicalShape(c: NormCase): number[] {
  return c.dataFormat === "channelsLast" && c.shape.length === 4 ? [c.shape[0], c.shape[3], c.shape[1], c.shape[2]] : c.shape;
}

function requireAll(ctx: Context, variant: string, c: NormCase, got: Record<keyof RefOut, ArrayLike<number>>, ref: RefOut, peer: boolean): boolean {
  for (const k of ["y", "dx", "dgamma", "dbeta"] as const) {
    if (peer) {
      if (!ctx.check.accept(variant, c.label, k, got[k], ref[k], TOL_PEER)) return false;
    } else ctx.check.require(variant, c.label, k, got[k], ref[k], TOL_LIB);
  }
  return true;
}

function setParams(layer: Module, gamma: Float32Array, beta: Float32Array): void {
  for (const p of layer.parameters()) p.value.data.set(p.name === "weight" ? gamma : beta);
}

async function tfjsPeer(ctx: Context, c: NormCase, d: ReturnType<typeof data>, ref: RefOut): Promise<Row["tfjs"]> {
  const kind: Kind = KINDS[c.kind];
  if (!kind.tfjs) return { skipped: `tfjs has no ${c.kind}` };
  if (!(await ctx.peers.useTf("wasm"))) return { skipped: "tfjs-wasm unavailable" };
  const m = new TfNorm(kind.tfjs(c), d.x, d.dy, d.gamma, d.beta, EPS);
  try {
    if (!requireAll(ctx, "tfjs-wasm", c, m.outputs(), ref, true)) return { skipped: "disagrees with the reference" };
    const budget = { time: ctx.quick ? 200 : 800, warmupTime: 0, iterations: ctx.quick ? 2 : 4, warmupIterations: 1 };
    const t = await timeGroup([{ name: "fwd", fn: m.forward }, { name: "fwd+bwd", fn: m.backward }], { budget, minSampleMs: 0.5 });
    return { fwd: t.get("fwd")!.ms, fwdBwd: t.get("fwd+bwd")!.ms };
  } finally {
    m.dispose();
  }
}

function torchPeer(ctx: Context, c: NormCase, d: ReturnType<typeof data>, ref: RefOut): Row["torch"] {
  const torchKind = (KINDS[c.kind] as Kind).torch;
  if (!torchKind) return { skipped: `PyTorch has no ${c.kind}` };
  if (!ctx.peers.torch()) return { skipped: "no PyTorch (see the note above)" };
  const kind = torchKind, shape = logicalShape(c);
  const format = c.dataFormat === "channelsLast" && c.shape.length === 4 ? "nhwc" : "nchw";
  const common = ["--kind", kind, "--shape", shape.join(","), "--groups", String(c.groups ?? 1), "--format", format, "--eps", String(EPS)];
  const dir = mkdtempSync(join(tmpdir(), "norms-bench-torch-"));
  try {
    const bytes = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    writeFileSync(join(dir, "x.bin"), bytes(toLogical(d.x, c)));
    writeFileSync(join(dir, "dy.bin"), bytes(toLogical(d.dy, c)));
    writeFileSync(join(dir, "gamma.bin"), bytes(d.gamma));
    writeFileSync(join(dir, "beta.bin"), bytes(d.beta));
    ctx.peers.runTorch(TORCH_SCRIPT, [...common, "--check", dir]);
    const buf = readFileSync(join(dir, "out.bin"));
    const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    const n = d.x.length, P = d.gamma.length;
    const got = { y: toLogical(all.slice(0, n), c, true), dx: toLogical(all.slice(n, 2 * n), c, true), dgamma: all.slice(2 * n, 2 * n + P), dbeta: all.slice(2 * n + P) };
    if (!requireAll(ctx, "pytorch", c, got, ref, true)) return { skipped: "disagrees with the reference" };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const run = ctx.peers.runTorch<{ samples: Record<string, ExternalSamples> }>(TORCH_SCRIPT, [...common, "--min-seconds", ctx.quick ? "0.2" : "0.6"]);
  return { fwd: median(run.samples.fwd.wall), fwdBwd: median(run.samples["fwd+bwd"].wall), format };
}

async function runCase(ctx: Context, c: NormCase, seed: number): Promise<Row> {
  const n = c.shape.reduce((a, b) => a * b, 1);
  ctx.log(`\n== ${c.label}: ${n} floats`);
  const d = data(c, seed);
  const t0 = performance.now();
  const ref = KINDS[c.kind].reference(c, d.x, d.dy, d.gamma, d.beta);
  ctx.log(`  float64 reference: ${(performance.now() - t0).toFixed(0)} ms`);

  const layer = KINDS[c.kind].make(c);
  setParams(layer, d.gamma, d.beta);
  const x = tensor(d.x, c.shape), dy = tensor(d.dy, c.shape);
  layer.zeroGrad();
  const y: Tensor = layer.forward(x);
  const yv = y.toArray();
  const dx = layer.backward(dy).toArray();
  const [wg, bg] = layer.parameters().map((p) => p.grad.toArray());
  requireAll(ctx, "wasm-simd", c, { y: yv, dx, dgamma: wg, dbeta: bg }, ref, false);
  ctx.log(`  checked against the float64 reference (max rel. err ${ctx.check.worst(c.label).toExponential(1)})`);

  const fl = await floorsFor(getBackend().heap.memory);
  checkFloors(fl, x, y, n);
  const rounds = ctx.quick ? 1 : 3;
  const budget = { time: ctx.quick ? 100 : 250, warmupTime: 50, iterations: 10, warmupIterations: 3 };
  const t = await timeGroup([...floorTasks(fl, x, y, n), { name: "fwd", fn: () => layer.forward(x) }, { name: "bwd", fn: () => layer.backward(dy) }], { budget, rounds, minSampleMs: 0.5 });
  const sum = t.get("floor sum")!, copy = t.get("floor copy")!, fwd = t.get("fwd")!, bwd = t.get("bwd")!;
  const ratio = {
    fwd: fwd.ms / (sum.ms + copy.ms),
    bwd: bwd.ms / (3 * sum.ms + copy.ms),
    fwdCpu: fwd.cpuMs / (sum.cpuMs + copy.cpuMs),
    bwdCpu: bwd.cpuMs / (3 * sum.cpuMs + copy.cpuMs),
  };
  ctx.log(`  floors: sum ${fmtMs(sum.ms)} ms, copy ${fmtMs(copy.ms)} ms; ours: fwd ${fmtMs(fwd.ms)} ms (${fmtX(ratio.fwd)} floor), bwd ${fmtMs(bwd.ms)} ms (${fmtX(ratio.bwd)} floor)`);
  layer.dispose?.();
  x.dispose();
  dy.dispose();

  const tfjs = await tfjsPeer(ctx, c, d, ref);
  if (tfjs && "fwd" in tfjs) ctx.log(`  tfjs-wasm: fwd ${fmtMs(tfjs.fwd)} ms, fwd+bwd ${fmtMs(tfjs.fwdBwd)} ms`);
  const torch = torchPeer(ctx, c, d, ref);
  if (torch && "fwd" in torch) ctx.log(`  pytorch (1 thread, ${torch.format}): fwd ${fmtMs(torch.fwd)} ms, fwd+bwd ${fmtMs(torch.fwdBwd)} ms`);
  return { label: c.label, kind: c.kind, n, floors: { sum, copy }, fwd, bwd, ratio, met: { fwd: ratio.fwd <= TARGET.fwd, bwd: ratio.bwd <= TARGET.bwd }, tfjs, torch };
}

function report(rows: Row[]): string {
  const peer = (p: Row["tfjs"] | Row["torch"], ours: number) => (p && "fwd" in p ? [fmtMs(p.fwd), fmtMs(p.fwdBwd), fmtX(p.fwdBwd / ours)] : ["-", "-", "-"]);
  const yes = (b: boolean) => (b ? "met" : "NOT met");
  return table(
    ["case", "fwd ms", "fwd / floor", `<= ${TARGET.fwd}x`, "bwd ms", "bwd / floor", `<= ${TARGET.bwd}x`, "tfjs fwd", "tfjs fwd+bwd", "vs tfjs", "torch fwd", "torch fwd+bwd", "vs torch"],
    rows.map((r) => {
      const both = r.fwd.ms + r.bwd.ms;
      return [r.label, fmtMs(r.fwd.ms), `${fmtX(r.ratio.fwd)} (cpu ${fmt(r.ratio.fwdCpu, 2)})`, yes(r.met.fwd), fmtMs(r.bwd.ms), `${fmtX(r.ratio.bwd)} (cpu ${fmt(r.ratio.bwdCpu, 2)})`, yes(r.met.bwd), ...peer(r.tfjs, both), ...peer(r.torch, both)];
    }),
  );
}

await runSuite({
  name: "norms",
  title: "batchnorm-wasm per-sample norm benchmarks",
  results: "norms",
  reference: "test/reference/{bn,bn_renorm,layer_norm,group_norm}.ts",
  fix: "npx vitest run test/norm_kernels.test.ts test/norm_torch.test.ts",
  async run(ctx) {
    await init({ build: "simd" });
    const rows: Row[] = [];
    for (const [i, c] of ctx.select(CASES).entries()) rows.push(await runCase(ctx, c, 500 + i));
    ctx.log("\n" + report(rows));
    return {
      settings: { TOL_LIB, TOL_PEER, TARGET, EPS, build: "simd" },
      notes: [
        "ms = median per call (wall clock; cpu = this process's CPU time), our fwd and bwd and the floors timed in interleaved rounds on the same wasm memory",
        "floors: forward sum + copy, backward 3 * sum + copy over the case's floats (BN's targets)",
        "tfjs-wasm: tf.moments + arithmetic; its backward (tf.grads) re-runs the forward, so it is compared as fwd+bwd with our fwd + bwd",
        "pytorch: one thread, functional training-mode calls, channels_last for NHWC cases; x, gamma, beta require grad",
      ],
      rows,
    };
  },
});
