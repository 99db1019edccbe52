// node --experimental-wasm-relaxed-simd --import tsx bench/conv_kernels.quick.ts [--batch=16] [--only=<label substring>]
//   [--builds=simd,relaxed] [--layouts=nhwc,nchw] [--reps=3] [--rounds=3]
//
// The convolution kernels on the CIFAR-10 Inception network's shapes: GFLOP/s of forward and
// of forward + backward (input and filter gradients: 3x the forward's flops, 2*N*OH*OW*OC*KH*KW*C
// each pass), and their share of the f32x4 mul+add peak measured in the same process (the
// fastest of bench/peak/peak.ts's loops, sampled before every case: the highest of the run).
// Times are the process's CPU time of the fastest of `reps` calls, in each of `rounds` sweeps
// over all cases, and the best round is kept: the machine is shared, and the least disturbed
// call is the best estimate of the kernel (wall-clock figures are printed too). Before timing, every kernel's output is spot-checked against the float64 element
// references of test/reference/conv.ts; a disagreement aborts the run. A quick measuring
// script, not the `npm run bench -- conv` suite.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type Backend, type BuildName, createBackend, relaxedSimdSupported } from "../src/backend.js";
import { conv2dDesc } from "../src/kernels.js";
import { putI32, rng } from "../test/check.js";
import {
  type ConvGeom, type ConvLayout, type ConvPadding, convGeom, refConv2dBackwardFilterAt, refConv2dBackwardInputAt, refConv2dForwardAt,
} from "../test/reference/conv.js";

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt;
const BATCH = Number(opt("batch", "16"));
const ONLY = opt("only", "");
const REPS = Number(opt("reps", "3"));
const ROUNDS = Number(opt("rounds", "3"));
const BUILDS = opt("builds", relaxedSimdSupported() ? "simd,relaxed" : "simd").split(",") as BuildName[];
const LAYOUTS = opt("layouts", "nhwc,nchw").split(",") as ConvLayout[];
const TOL = 1e-4;

interface Shape {
  label: string;
  H: number;
  C: number;
  OC: number;
  k: number;
  padding: ConvPadding;
}

/** The convolutions of the CIFAR-10 Inception network (square inputs, stride 1, 'same'). */
const SHAPES: Shape[] = ([
  { label: "1x1 256->128 @32", H: 32, C: 256, OC: 128, k: 1, padding: "same" },
  { label: "3x3 128->192 @32", H: 32, C: 128, OC: 192, k: 3, padding: "same" },
  { label: "5x5 32->96 @32", H: 32, C: 32, OC: 96, k: 5, padding: "same" },
  { label: "3x3 96->208 @16", H: 16, C: 96, OC: 208, k: 3, padding: "same" },
  { label: "3x3 160->320 @8", H: 8, C: 160, OC: 320, k: 3, padding: "same" },
  { label: "3x3 3->64 @32", H: 32, C: 3, OC: 64, k: 3, padding: "same" },
] as Shape[]).filter((s) => s.label.includes(ONLY));

const log = (s = "") => process.stdout.write(s + "\n");

// ---------------------------------------------------------------- peak

interface PeakModule {
  peak_chains(iters: number, s: number, t: number): number;
  peak_tile(iters: number): number;
  peak_indep(iters: number, s: number): number;
}

function compilePeak(): PeakModule {
  const root = fileURLToPath(new URL("..", import.meta.url));
  execFileSync("npx", ["asc", "bench/peak/peak.ts", "--config", "bench/peak/asconfig.json", "-o", "build/peak.wasm", "--enable", "simd", "-O3", "--runtime", "stub"],
    { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
  const mod = new WebAssembly.Module(readFileSync(new URL("../build/peak.wasm", import.meta.url)));
  return new WebAssembly.Instance(mod, { env: { abort: () => {} } }).exports as unknown as PeakModule;
}

let sink = 0;

/**
 * The fastest CPU and wall ms per call of fn over reps calls (after one warm-up call): on a
 * machine shared with other jobs the least disturbed call is the best estimate of the kernel.
 */
function time(fn: () => void, reps: number): { cpu: number; wall: number } {
  fn();
  let cpu = Infinity, wall = Infinity;
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage(), t0 = performance.now();
    fn();
    const t1 = performance.now(), c1 = process.cpuUsage(c0);
    wall = Math.min(wall, t1 - t0);
    cpu = Math.min(cpu, (c1.user + c1.system) / 1000);
  }
  return { cpu, wall };
}

/**
 * The f32x4 mul+add peak in GFLOP/s: the fastest of the three loops, each the fastest of
 * `reps` short calls (~0.5 ms); sampled before every case, the run's highest is the peak.
 */
const peakSeen: Record<string, number> = { chains: 0, tile: 0, indep: 0 };
function samplePeak(pk: PeakModule, reps = 15): void {
  const it = { chains: 200_000, tile: 300_000, indep: 240_000 };
  const gf = (flops: number, ms: number) => flops / ms / 1e6;
  peakSeen.chains = Math.max(peakSeen.chains, gf(it.chains * 12 * 8, time(() => void (sink += pk.peak_chains(it.chains, 0.999, 0.001)), reps).cpu));
  peakSeen.tile = Math.max(peakSeen.tile, gf(it.tile * 8 * 8, time(() => void (sink += pk.peak_tile(it.tile)), reps).cpu));
  peakSeen.indep = Math.max(peakSeen.indep, gf(it.indep * 10 * 8, time(() => void (sink += pk.peak_indep(it.indep, 0.5)), reps).cpu));
}
const peakNow = () => Math.max(...Object.values(peakSeen));

// ---------------------------------------------------------------- one case

interface Result {
  build: BuildName;
  layout: ConvLayout;
  label: string;
  fwd: number;
  fwdBwd: number;
  fwdWall: number;
  fwdBwdWall: number;
  /** GFLOP/s of backward_input and backward_filter alone. */
  bwdIn: number;
  bwdW: number;
}

function runCase(be: Backend, layout: ConvLayout, s: Shape): Result {
  const g: ConvGeom = convGeom([BATCH, s.H, s.H, s.C], s.OC, [s.k, s.k], { padding: s.padding });
  const nhwc = layout === "nhwc";
  const k = be.kernels;
  const r = rng(7);
  const xn = g.N * g.C * g.H * g.W, yn = g.N * g.OC * g.OH * g.OW, wn = g.OC * g.C * g.KH * g.KW;
  const x = r.array(xn), w = r.array(wn, 1 / Math.sqrt(g.C * g.KH * g.KW)), dy = r.array(yn);
  const desc = putI32(be, conv2dDesc({ ...g, XS: nhwc ? g.C : g.C * g.H * g.W, YS: nhwc ? g.OC : g.OC * g.OH * g.OW }));
  const scratch = be.heap.alloc(k.conv2d_scratch_bytes(desc));
  const px = be.heap.alloc(xn * 4), pw = be.heap.alloc(wn * 4), pdy = be.heap.alloc(yn * 4);
  const py = be.heap.alloc(yn * 4), pdx = be.heap.alloc(xn * 4), pdw = be.heap.alloc(wn * 4);
  be.heap.f32.set(x, px >> 2);
  be.heap.f32.set(w, pw >> 2);
  be.heap.f32.set(dy, pdy >> 2);
  const P = g.N * g.OH * g.OW;
  const fwd = () => (nhwc ? k.conv2d_forward_nhwc : k.conv2d_forward_nchw)(py, px, pw, 0, desc, 0, P, scratch);
  const bwdIn = () => (nhwc ? k.conv2d_backward_input_nhwc : k.conv2d_backward_input_nchw)(pdx, pdy, pw, desc, 0, 0, g.N, scratch);
  const bwdW = () => (nhwc ? k.conv2d_backward_filter_nhwc : k.conv2d_backward_filter_nchw)(pdw, 0, pdy, px, desc, 0, P, scratch);
  try {
    // Spot checks against the float64 references (64 random elements of each result).
    fwd();
    bwdIn();
    be.heap.f32.fill(0, pdw >> 2, (pdw >> 2) + wn);
    bwdW();
    const f = be.heap.f32;
    const pick = (n: number) => Math.floor(r.uniform() * n);
    const check = (what: string, got: (i: number[]) => number, want: (i: number[]) => number, dims: number[]) => {
      let err = 0, scale = 0;
      for (let t = 0; t < 64; t++) {
        const i = dims.map(pick);
        const wv = want(i);
        err = Math.max(err, Math.abs(got(i) - wv));
        scale = Math.max(scale, Math.abs(wv));
      }
      if (!(err <= TOL * scale)) throw new Error(`${be.build} ${layout} ${s.label} ${what}: disagrees with the reference (${err} vs scale ${scale}); not timing it`);
    };
    const yIdx = (n: number, oc: number, oh: number, ow: number) => (nhwc ? ((n * g.OH + oh) * g.OW + ow) * g.OC + oc : ((n * g.OC + oc) * g.OH + oh) * g.OW + ow);
    const xIdx = (n: number, c: number, h: number, ww: number) => (nhwc ? ((n * g.H + h) * g.W + ww) * g.C + c : ((n * g.C + c) * g.H + h) * g.W + ww);
    const wIdx = (oc: number, c: number, kh: number, kw: number) => (nhwc ? ((oc * g.KH + kh) * g.KW + kw) * g.C + c : ((oc * g.C + c) * g.KH + kh) * g.KW + kw);
    check("forward", ([n, oc, oh, ow]) => f[(py >> 2) + yIdx(n, oc, oh, ow)], ([n, oc, oh, ow]) => refConv2dForwardAt(x, w, null, g, layout, n, oc, oh, ow), [g.N, g.OC, g.OH, g.OW]);
    check("backward_input", ([n, c, h, ww]) => f[(pdx >> 2) + xIdx(n, c, h, ww)], ([n, c, h, ww]) => refConv2dBackwardInputAt(dy, w, g, layout, n, c, h, ww), [g.N, g.C, g.H, g.W]);
    check("backward_filter", ([oc, c, kh, kw]) => f[(pdw >> 2) + wIdx(oc, c, kh, kw)], ([oc, c, kh, kw]) => refConv2dBackwardFilterAt(dy, x, g, layout, oc, c, kh, kw), [g.OC, g.C, g.KH, g.KW]);

    const flops = 2 * P * g.OC * g.KH * g.KW * g.C;
    const tf = time(fwd, REPS);
    const tb = time(() => {
      fwd();
      bwdIn();
      bwdW();
    }, REPS);
    const ti = time(bwdIn, REPS), tw = time(bwdW, REPS);
    return {
      build: be.build, layout, label: s.label, fwd: flops / tf.cpu / 1e6, fwdBwd: (3 * flops) / tb.cpu / 1e6,
      fwdWall: flops / tf.wall / 1e6, fwdBwdWall: (3 * flops) / tb.wall / 1e6, bwdIn: flops / ti.cpu / 1e6, bwdW: flops / tw.cpu / 1e6,
    };
  } finally {
    for (const p of [desc, scratch, px, pw, pdy, py, pdx, pdw]) be.heap.release(p);
  }
}

// ---------------------------------------------------------------- main

const line = (r: Result, peak: number) =>
  `${r.build.padEnd(8)} ${r.layout} ${r.label.padEnd(18)} fwd ${r.fwd.toFixed(1).padStart(5)} GFLOP/s (${((100 * r.fwd) / peak).toFixed(0).padStart(3)}%)` +
  `  fwd+bwd ${r.fwdBwd.toFixed(1).padStart(5)} GFLOP/s (${((100 * r.fwdBwd) / peak).toFixed(0).padStart(3)}%)` +
  `  (dX ${r.bwdIn.toFixed(1)}, dW ${r.bwdW.toFixed(1)})  [wall ${r.fwdWall.toFixed(1)} / ${r.fwdBwdWall.toFixed(1)}]`;

const pk = compilePeak();
samplePeak(pk, 40);
log(`f32x4 mul+add peak so far: ${peakNow().toFixed(1)} GFLOP/s (shares on each line use the peak seen so far; the summary uses the run's highest)`);
const backends = new Map<BuildName, Backend>();
for (const build of BUILDS) backends.set(build, await createBackend({ build, initialMemoryBytes: 256 << 20 }));
// Every case once per round, the best of all rounds kept: samples spread over the whole run
// rather than one burst per case, so that a slow spell of the machine hits one round only.
const best = new Map<string, Result>();
for (let round = 0; round < ROUNDS; round++) {
  if (ROUNDS > 1) log(`round ${round + 1} of ${ROUNDS}`);
  for (const [build, be] of backends) {
    for (const layout of LAYOUTS) {
      for (const s of SHAPES) {
        samplePeak(pk);
        const r = runCase(be, layout, s);
        log(line(r, peakNow()));
        const key = `${build} ${layout} ${s.label}`, b = best.get(key);
        best.set(key, b ? {
          ...b, fwd: Math.max(b.fwd, r.fwd), fwdBwd: Math.max(b.fwdBwd, r.fwdBwd), fwdWall: Math.max(b.fwdWall, r.fwdWall),
          fwdBwdWall: Math.max(b.fwdBwdWall, r.fwdBwdWall), bwdIn: Math.max(b.bwdIn, r.bwdIn), bwdW: Math.max(b.bwdW, r.bwdW),
        } : r);
      }
    }
  }
}
samplePeak(pk, 40);
const pk2 = peakNow();
log(`\nf32x4 mul+add peak: ${pk2.toFixed(1)} GFLOP/s, the highest of the run (loops: ${Object.entries(peakSeen).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ")})`);
const results = [...best.values()];
if (ROUNDS > 1) {
  log(`best of ${ROUNDS} rounds, shares of that peak:`);
  for (const r of results) log(line(r, pk2));
}
const geo = (a: number[]) => Math.exp(a.reduce((s, v) => s + Math.log(v), 0) / a.length);
for (const build of BUILDS) {
  for (const layout of LAYOUTS) {
    const rs = results.filter((r) => r.build === build && r.layout === layout);
    if (!rs.length) continue;
    const f = geo(rs.map((r) => r.fwd)), b = geo(rs.map((r) => r.fwdBwd));
    log(`geomean ${build} ${layout}: fwd ${f.toFixed(1)} GFLOP/s = ${((100 * f) / pk2).toFixed(0)}% of peak, fwd+bwd ${b.toFixed(1)} = ${((100 * b) / pk2).toFixed(0)}%`);
  }
}
if (sink === 12345) log("");
