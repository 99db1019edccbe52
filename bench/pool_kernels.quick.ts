// Quick timing of the pooling kernels (and the strided ReLU rows) on a CIFAR Inception shape, as
// a ratio to the f32x4 copy floor over the same bytes (the input tensor: n floats read and n
// written), measured in the same run over the same memory. Every forward is checked against the float64 reference
// first; a kernel that disagrees is not timed.
//   node --experimental-wasm-relaxed-simd --import tsx bench/pool_kernels.quick.ts [--build simd|relaxed|scalar] [--rounds 15]
import { parseArgs } from "node:util";
import { type BuildName, createBackend } from "../src/backend.js";
import { refGlobalAvgPool, refMaxPool2d, poolAxis, type PoolGeom, type PoolLayout } from "../test/reference/pool.js";
import { floorsFor } from "./harness/roofline.js";

const { values } = parseArgs({ options: { build: { type: "string", default: "simd" }, rounds: { type: "string", default: "15" } } });
const build = values.build as BuildName;
const rounds = Number(values.rounds);

const N = 16, C = 192, H = 32, W = 32;
const n = N * C * H * W;

const b = await createBackend({ build, initialMemoryBytes: 160 * 1024 * 1024 });
const k = b.kernels;
const floors = await floorsFor(b.heap.memory);

const alloc = (floats: number) => b.heap.alloc(floats * 4);
const x = alloc(n), y = alloc(n), idx = alloc(n), dy = alloc(n), dx = alloc(n), copyDst = alloc(n);
{
  const f = b.heap.f32;
  let s = 12345;
  const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  for (let i = 0; i < n; i++) {
    f[(x >> 2) + i] = rnd();
    f[(dy >> 2) + i] = rnd();
  }
}

function geom(K: number, s: number): PoolGeom {
  const a = poolAxis(H, K, s, "same");
  return { N, C, H, W, OH: a.out, OW: a.out, KH: K, KW: K, sh: s, sw: s, pt: a.pad, pl: a.pad };
}

type Task = { name: string; run: () => void };
const tasks: Task[] = [];
const problems: string[] = [];

function maxTasks(L: PoolLayout, g: PoolGeom): void {
  const w = [g.OH, g.OW, g.KH, g.KW, g.sh, g.sw, g.pt, g.pl] as const;
  const fwd = L === "nhwc"
    ? () => k.maxpool2d_forward_nhwc(y, C, idx, x, C, N, H, W, C, ...w)
    : () => k.maxpool2d_forward_nchw(y, C * g.OH * g.OW, idx, x, C * H * W, N, C, H, W, ...w);
  const bwd = L === "nhwc"
    ? () => k.maxpool2d_backward_nhwc(dx, C, dy, C, idx, N, H, W, C, g.OH, g.OW, 0)
    : () => k.maxpool2d_backward_nchw(dx, C * H * W, dy, C * g.OH * g.OW, idx, N, C, H, W, g.OH, g.OW, 0);
  const label = `maxpool ${g.KH}x${g.KW} s${g.sh} same ${L}`;
  fwd();
  const m = g.N * g.C * g.OH * g.OW;
  const want = refMaxPool2d(b.heap.f32.subarray(x >> 2, (x >> 2) + n), g, L);
  const gotY = b.heap.f32.subarray(y >> 2, (y >> 2) + m), gotI = b.heap.i32.subarray(idx >> 2, (idx >> 2) + m);
  for (let i = 0; i < m; i++) {
    if (gotY[i] !== Math.fround(want.y[i]) || gotI[i] !== want.idx[i]) {
      problems.push(`${label}: output ${i} differs from the reference`);
      return;
    }
  }
  tasks.push({ name: `${label} forward`, run: fwd }, { name: `${label} backward`, run: bwd });
}

function globalTasks(L: PoolLayout): void {
  const fwd = L === "nhwc"
    ? () => k.global_avgpool_forward_nhwc(y, C, x, C, N, H, W, C)
    : () => k.global_avgpool_forward_nchw(y, C, x, C * H * W, N, C, H, W);
  const bwd = L === "nhwc"
    ? () => k.global_avgpool_backward_nhwc(dx, C, dy, C, N, H, W, C, 0)
    : () => k.global_avgpool_backward_nchw(dx, C * H * W, dy, C, N, C, H, W, 0);
  fwd();
  const want = refGlobalAvgPool(b.heap.f32.subarray(x >> 2, (x >> 2) + n), N, C, H, W, L);
  const got = b.heap.f32.subarray(y >> 2, (y >> 2) + N * C);
  // Relative to the mean magnitude of the terms (the inputs are uniform in [-1, 1]: means near 0).
  for (let i = 0; i < N * C; i++) {
    if (Math.abs(got[i] - want[i]) > 1e-6 * 0.5) {
      problems.push(`global avgpool ${L}: output ${i} = ${got[i]}, reference ${want[i]}`);
      return;
    }
  }
  tasks.push({ name: `global avgpool ${L} forward`, run: fwd }, { name: `global avgpool ${L} backward`, run: bwd });
}

function avgTasks(L: PoolLayout, g: PoolGeom): void {
  const w = [g.OH, g.OW, g.KH, g.KW, g.sh, g.sw, g.pt, g.pl, 0] as const;
  const label = `avgpool ${g.KH}x${g.KW} s${g.sh} same ${L}`;
  const fwd = L === "nhwc"
    ? () => k.avgpool2d_forward_nhwc(y, C, x, C, N, H, W, C, ...w)
    : () => k.avgpool2d_forward_nchw(y, C * g.OH * g.OW, x, C * H * W, N, C, H, W, ...w);
  const bwd = L === "nhwc"
    ? () => k.avgpool2d_backward_nhwc(dx, C, dy, C, N, H, W, C, ...w, 0)
    : () => k.avgpool2d_backward_nchw(dx, C * H * W, dy, C * g.OH * g.OW, N, C, H, W, ...w, 0);
  tasks.push({ name: `${label} forward`, run: fwd }, { name: `${label} backward`, run: bwd });
}

for (const L of ["nhwc", "nchw"] as const) {
  maxTasks(L, geom(3, 1));
  maxTasks(L, geom(3, 2));
  globalTasks(L);
  avgTasks(L, geom(3, 1));
}
// ReLU of a 64-channel branch written into its slice of a 256-channel NHWC concat output
// (rows = N*H*W of 64 floats, 256 apart), against the same floats dense.
const rows = (n / 256) | 0;
tasks.push(
  { name: "relu rows 64 of 256 channels (slice)", run: () => k.act_forward_rows(y, 256, x, 64, rows, 64, 1) },
  { name: "relu dense, same floats (1/4 the span)", run: () => k.act_forward(y, x, rows * 64, 1) },
  { name: "relu backward rows, slice, accumulate", run: () => k.act_backward_rows(dx, 64, dy, 256, y, 256, rows, 64, 1, 1) },
);
const copy: Task = { name: "f32x4 copy of n floats (floor)", run: () => floors.copy(copyDst, x, n) };
const sum: Task = { name: "f32x4 sum of n floats", run: () => void floors.sum(x, n) };
const all = [copy, sum, ...tasks];

// Rounds interleave the tasks so that a slow spell on the shared machine hits them all alike.
const samples = new Map<Task, number[]>(all.map((t) => [t, []]));
for (const t of all) for (let i = 0; i < 3; i++) t.run();
for (let r = 0; r < rounds; r++) {
  for (const t of all) {
    const reps = 5;
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) t.run();
    samples.get(t)!.push((performance.now() - t0) / reps);
  }
}
// Medians, and minima: on a shared machine the minimum is the better estimate of the unloaded speed.
const median = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1];
const copyMed = median(samples.get(copy)!), copyMin = Math.min(...samples.get(copy)!);
console.log(`build ${b.build}; n = ${n} floats (${((n * 4) / 2 ** 20).toFixed(1)} MiB); [${N},${H},${W},${C}] NHWC and [${N},${C},${H},${W}] NCHW; ${rounds} rounds of 5 calls`);
console.log(`${"kernel".padEnd(40)} ${"min ms".padStart(8)} ${"x copy".padStart(7)} ${"med ms".padStart(8)} ${"x copy".padStart(7)}`);
for (const t of all) {
  const med = median(samples.get(t)!), min = Math.min(...samples.get(t)!);
  console.log(`${t.name.padEnd(40)} ${min.toFixed(3).padStart(8)} ${(min / copyMin).toFixed(2).padStart(7)} ${med.toFixed(3).padStart(8)} ${(med / copyMed).toFixed(2).padStart(7)}`);
}
for (const p of problems) console.log(`NOT TIMED: ${p}`);
if (problems.length) process.exitCode = 1;
