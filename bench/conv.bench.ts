// npm run bench -- conv [--quick] [--only=<part of a shape label>] [--no-tfjs-cpu] [--no-torch]
//
// The Conv2d layer (src/layers/conv2d.ts, what users run: new Conv2d(C, OC, k, { padding:
// 'same', bias: false, dataFormat })) on the convolution shapes of the seed CIFAR-10 Inception
// network, at batch 16 and 32 (--quick: 16): forward (layer.forward(x)) and forward+backward
// (forward, then backward(dy): dX and dW), channelsLast (NHWC) and channelsFirst (NCHW), the
// simd build and the relaxed build (fused multiply-add) where the engine runs it. GFLOP/s count
// 2*N*OH*OW*OC*KH*KW*C per pass (forward+backward: 3x the forward's), on the CPU-time medians
// (the machine is shared), and their share of the f32x4 mul+add peak (bench/peak/peak.ts) timed
// in the same group as the layers. Targets (issue 7), simd build, geometric mean over the shapes:
// forward >= 70% of the peak, forward+backward >= 60%, and >= 20x tfjs-cpu on forward+backward.
//
// Before timing, every layer's y, dX and dW are spot-checked against the float64 element
// references of test/reference/conv.ts (the corners and random elements); a layer that
// disagrees is not timed and the run stops.
//
// Peers, NHWC (tfjs takes NHWC):
//   - tfjs-wasm (XNNPACK, SIMD, one thread): tf.conv2d forward only. Its wasm backend registers
//     no Conv2DBackpropFilter (tfjs#8474): it cannot train a convolution; the run shows the error.
//     The timed call does not read the output back (dataSync would add a copy ours does not do).
//   - tfjs-cpu: tf.valueAndGrads of tf.conv2d (y, dX, dW). Its Conv2DBackpropFilter runs at
//     ~0.01 GFLOP/s here (the whole pass ~0.02-0.03): one call of the batch-16 3x3 128->192
//     layer would take ~17 minutes.
//     It is timed on ONE image (batch 1), once per shape, after the rest, and its times at
//     batch N are that time x N (every pass of a convolution is linear in N; measured here:
//     5.5 s at batch 1, 10.6 s at batch 2 for dW of 3x3 160->320). It is checked before, on the
//     same channels and kernel at 8x8 (the same tfjs kernels; a full-size check would cost as
//     much as the timed call). --quick leaves out the shapes above 0.3 GFLOP per image;
//     --no-tfjs-cpu leaves it out.
//   - PyTorch (/usr/bin/python3, one thread): F.conv2d forward and forward+backward, contiguous
//     (NCHW rows) and channels_last (NHWC rows), bench/conv/torch_conv.py in a child process per
//     round. Its y, dX and dW are compared with ours on one shape before any timing.
// Writes bench/results/conv.json and prints one markdown table per layout.
import * as tf from "@tensorflow/tfjs";
import { backendInfo, type BuildName, Conv2d, init, relaxedSimdSupported, type Tensor, tensor } from "../src/index.js";
import { convGeom, type ConvGeom, type ConvLayout } from "../test/reference/conv.js";
import { spotConv } from "./conv/spot.js";
import { type ConvDims, type TorchFormat, torchOutputs, type TorchRun, torchTimes } from "./conv/torch.js";
import {
  type Budget, type Context, fmt, fmtMs, fmtX, gflops, keep, median, peakOf, type PeakTask, peakTasks, relErr, rng, runSuite, table, type Task, timeGroup,
  type Timing, transpose,
} from "./harness/index.js";

/** Our layers against the float64 references (relative to the largest reference value checked). */
const TOL_LIB = 1e-4;
/** Peers against the references (tfjs) or against our checked outputs (PyTorch). */
const TOL_PEER = 1e-3;
const TARGET_FWD = 0.7;
const TARGET_FWD_BWD = 0.6;
const TARGET_TFJS_CPU = 20;
/** --quick times tfjs-cpu only on shapes up to this many forward+backward flops per image. */
const QUICK_TFJS_CPU_FLOPS = 3e8;
/** The shape PyTorch's output is compared with ours on (the first selected shape without it). */
const TORCH_CHECK = "3x3 160->320 @8";

interface Shape {
  label: string;
  H: number;
  C: number;
  OC: number;
  k: number;
}

/** The convolutions of the seed CIFAR-10 Inception network (square inputs, stride 1, 'same'). */
const SHAPES: Shape[] = [
  { label: "1x1 256->128 @32", H: 32, C: 256, OC: 128, k: 1 },
  { label: "3x3 128->192 @32", H: 32, C: 128, OC: 192, k: 3 },
  { label: "5x5 32->96 @32", H: 32, C: 32, OC: 96, k: 5 },
  { label: "3x3 96->208 @16", H: 16, C: 96, OC: 208, k: 3 },
  { label: "3x3 160->320 @8", H: 8, C: 160, OC: 320, k: 3 },
  { label: "3x3 3->64 @32", H: 32, C: 3, OC: 64, k: 3 },
];

const LAYOUTS: ConvLayout[] = ["nhwc", "nchw"];
const FORMAT = { nhwc: "channelsLast", nchw: "channelsFirst" } as const;
const PASSES = ["fwd", "fwd+bwd"] as const;
type Pass = (typeof PASSES)[number];

const geomOf = (s: Shape, N: number): ConvGeom => convGeom([N, s.H, s.H, s.C], s.OC, [s.k, s.k], { padding: "same" });
const flopsOf = (g: ConvGeom): number => 2 * g.N * g.OH * g.OW * g.OC * g.KH * g.KW * g.C;
const passFlops = (g: ConvGeom, p: Pass): number => (p === "fwd" ? 1 : 3) * flopsOf(g);
const ours = (build: BuildName, layout: ConvLayout, p: Pass) => `${build} ${layout} ${p}`;
const torchName = (layout: ConvLayout, p: Pass) => `pytorch ${layout} ${p}`;
const TFJS_WASM = "tfjs-wasm nhwc fwd";
const TFJS_CPU = "tfjs-cpu nhwc fwd+bwd";
const geomean = (a: readonly number[]): number => (a.length && a.every((v) => v > 0 && Number.isFinite(v)) ? Math.exp(a.reduce((s, v) => s + Math.log(v), 0) / a.length) : NaN);

interface Settings {
  batches: number[];
  rounds: (batch: number) => number;
  budget: (callMs: number) => Budget;
  torch: { minIters: number; minSeconds: number; warmup: number };
}

function settings(quick: boolean): Settings {
  return {
    batches: quick ? [16] : [16, 32],
    // The big layers take 0.3-2 s a call; the rounds interleave them with the peak and the peers.
    // Three: with two, one slow minute of the shared host moved a shape's median by 10-20%.
    rounds: () => (quick ? 1 : 3),
    // At least `iterations` calls a round; the short layers (and the peak) fill `time`. A call
    // of 50 ms or more is not warmed up again: the check call ran it, and its working set
    // (megabytes) leaves the caches between rounds anyway.
    budget: (callMs) => ({ time: quick ? 150 : 250, warmupTime: 0, iterations: 2, warmupIterations: callMs >= 50 ? 0 : 2 }),
    torch: quick ? { minIters: 2, minSeconds: 0.1, warmup: 1 } : { minIters: 3, minSeconds: 0.3, warmup: 1 },
  };
}

/** A timed variant's figures (CPU-time medians). */
interface VariantResult extends Timing {
  variant: string;
  flops: number;
  gflops: number;
  /** Of this group's peak (ours only). */
  share?: number;
}

interface GroupResult {
  label: string;
  batch: number;
  shape: Shape;
  /** Forward flops. */
  flops: number;
  peakGflops: number;
  peakLoops: Record<string, number>;
  variants: Record<string, VariantResult>;
}

// ---------------------------------------------------------------- our layers

interface Ours {
  build: BuildName;
  layout: ConvLayout;
  layer: Conv2d;
  x: Tensor;
  dy: Tensor;
}

/** The layers of one build for one shape and batch: init({ build }) first, so that they and their tensors live in that build's memory. */
async function buildOurs(build: BuildName, s: Shape, seed: number, g: ConvGeom, xs: Float32Array, dys: Float32Array): Promise<Ours[]> {
  const xn = xs.length, yn = dys.length;
  // x and dy (shared by both layouts: the same values read in either order), and per layout y, dx, scratch.
  const bytes = 4 * (3 * xn + 3 * yn) + (48 << 20);
  await init({ build, initialMemoryBytes: bytes });
  if (backendInfo().build !== build) throw new Error(`bench: asked for the ${build} build, got ${backendInfo().build}`);
  const x = tensor(xs, [g.N, g.H, g.W, g.C]), dy = tensor(dys, [g.N, g.OH, g.OW, g.OC]);
  return LAYOUTS.map((layout) => {
    // The same seed: the same filters in every build and layout.
    const layer = new Conv2d(s.C, s.OC, s.k, { padding: "same", bias: false, dataFormat: FORMAT[layout], seed });
    const nhwc = layout === "nhwc";
    return {
      build, layout, layer,
      x: nhwc ? x : x.view([g.N, g.C, g.H, g.W]),
      dy: nhwc ? dy : dy.view([g.N, g.OC, g.OH, g.OW]),
    };
  });
}

/** One forward and one backward, spot-checked against the references; returns the outputs. */
function checkOurs(ctx: Context, o: Ours, g: ConvGeom, label: string, xs: Float32Array, dys: Float32Array): { y: Float32Array; dx: Float32Array; dw: Float32Array } {
  const w = o.layer.weight.value.toArray();
  const y = o.layer.forward(o.x).toArray();
  o.layer.zeroGrad();
  const dx = o.layer.backward(o.dy).toArray();
  const dw = o.layer.weight.grad.toArray();
  const e = spotConv(g, o.layout, xs, w, dys, { y, dx, dw });
  for (const what of ["y", "dx", "dw"] as const) ctx.check.requireError(`wasm-${o.build} ${o.layout}`, label, what, e[what]!.err, TOL_LIB, e[what]!.detail);
  return { y, dx, dw };
}

// ---------------------------------------------------------------- PyTorch, checked once

/** PyTorch's outputs on our data for one shape at batch 16, compared with our checked NCHW layer's. */
async function checkTorch(ctx: Context, s: Shape, seed: number): Promise<TorchRun | null> {
  if (!ctx.peers.torch()) return null;
  const N = 16, g = geomOf(s, N), label = `${s.label} N=${N}`;
  const r = rng(seed);
  const xs = r.array(g.N * g.H * g.W * g.C), dys = r.array(g.N * g.OH * g.OW * g.OC);
  const [nhwc, nchw] = await buildOurs("simd", s, seed, g, xs, dys);
  const mine = checkOurs(ctx, nchw, g, label, xs, dys);
  const w = nchw.layer.weight.value.toArray();
  for (const o of [nhwc, nchw]) o.layer.dispose();
  nhwc.x.dispose();
  nhwc.dy.dispose();
  ctx.log(`checking PyTorch against our simd NCHW layer on ${label} ...`);
  const { run, out } = torchOutputs(ctx.peers, { N, H: s.H, C: s.C, OC: s.OC, k: s.k }, xs, w, dys);
  let ok = true;
  for (const fmt of ["nchw", "nhwc"] as TorchFormat[]) {
    const errs = (["y", "dx", "dw"] as const).map((what) => {
      const e = relErr(out[fmt][what], mine[what]);
      ok = ctx.check.acceptError(`pytorch ${fmt}`, label, what, e, TOL_PEER, `normwise relative error against ours ${e.toExponential(2)}`) && ok;
      return `${what} ${e.toExponential(1)}`;
    });
    ctx.log(`  pytorch ${fmt === "nhwc" ? "channels_last" : "contiguous"}: ${errs.join(", ")} (normwise, against ours)`);
  }
  ctx.log(`pytorch ${run.torch}, ${run.threads} thread, mkldnn ${run.mkldnn}, CPU capability ${run.cpu_capability ?? "?"}`);
  return ok ? run : null;
}

// ---------------------------------------------------------------- tfjs

/** tfjs-wasm cannot differentiate a convolution: the error it gives, shown in the output. */
function tfjsWasmGradError(): string {
  const x = tf.zeros([1, 4, 4, 2]) as tf.Tensor4D, w = tf.zeros([3, 3, 2, 2]) as tf.Tensor4D;
  try {
    const gs = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, "same"))([x, w]);
    gs.forEach((t) => t.dispose());
    return "";
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  } finally {
    x.dispose();
    w.dispose();
  }
}

/** Filters as tfjs holds them, [KH, KW, C, OC], from ours in NHWC order [OC, KH, KW, C]. */
const tfFilter = (w: Float32Array, g: ConvGeom) => tf.tensor4d(transpose(w, g.OC, g.KH * g.KW * g.C), [g.KH, g.KW, g.C, g.OC]);
const tfDwAt = (g: ConvGeom) => (oc: number, c: number, kh: number, kw: number) => ((kh * g.KW + kw) * g.C + c) * g.OC + oc;

// ---------------------------------------------------------------- one group: a shape at a batch

async function runGroup(ctx: Context, S: Settings, s: Shape, si: number, N: number, peak: PeakTask[], o: { tfWasm: boolean; torch: boolean }): Promise<GroupResult> {
  const g = geomOf(s, N), label = `${s.label} N=${N}`, seed = 100 + si;
  const r = rng(seed * 7 + N);
  const xs = r.array(g.N * g.H * g.W * g.C), dys = r.array(g.N * g.OH * g.OW * g.OC);
  const builds: BuildName[] = relaxedSimdSupported() ? ["simd", "relaxed"] : ["simd"];
  const variants: Ours[] = [];
  for (const b of builds) variants.push(...(await buildOurs(b, s, seed, g, xs, dys)));
  const tasks: Task[] = [...peak];
  const disposers: (() => void)[] = [];
  try {
    for (const v of variants) {
      checkOurs(ctx, v, g, label, xs, dys);
      const { layer, x, dy } = v;
      tasks.push({ name: ours(v.build, v.layout, "fwd"), fn: () => layer.forward(x) });
      tasks.push({ name: ours(v.build, v.layout, "fwd+bwd"), fn: () => {
        layer.forward(x);
        layer.backward(dy);
      } });
      disposers.push(() => layer.dispose());
    }
    disposers.push(() => {
      variants[0].x.dispose();
      variants[0].dy.dispose();
      variants[2]?.x.dispose();
      variants[2]?.dy.dispose();
    });

    if (o.tfWasm) {
      const xT = tf.tensor4d(xs, [g.N, g.H, g.W, g.C]);
      const w = variants[0].layer.weight.value.toArray();
      const wT = tfFilter(w, g);
      disposers.push(() => (xT.dispose(), wT.dispose()));
      const y0 = tf.conv2d(xT, wT, 1, "same");
      const y = y0.dataSync();
      y0.dispose();
      const e = spotConv(g, "nhwc", xs, w, dys, { y }).y!;
      if (ctx.check.acceptError(TFJS_WASM, label, "y", e.err, TOL_PEER, e.detail)) {
        tasks.push({ name: TFJS_WASM, fn: () => {
          const out = tf.conv2d(xT, wT, 1, "same");
          keep(out.shape[0]);
          out.dispose();
        } });
      }
    }

    if (o.torch) {
      // One child process a round times all four PyTorch variants; the first task of the round runs it.
      let last: { round: number; run: TorchRun } | null = null;
      const dims: ConvDims = { N, H: s.H, C: s.C, OC: s.OC, k: s.k };
      for (const layout of LAYOUTS) {
        for (const p of PASSES) {
          tasks.push({
            name: torchName(layout, p),
            external: (round: number) => {
              if (!last || last.round !== round) last = { round, run: torchTimes(ctx.peers, dims, S.torch) };
              return last.run.samples?.[`${layout} ${p}`] ?? null;
            },
          });
        }
      }
    }

    // A call's expected length, from the check's pace: 25 GFLOP/s.
    const callMs = passFlops(g, "fwd+bwd") / 25e6;
    const t = await timeGroup(tasks, { budget: S.budget(callMs), rounds: S.rounds(N), minSampleMs: 0 });
    const pk = peakOf(peak, t, "cpu");
    const res: GroupResult = { label, batch: N, shape: s, flops: flopsOf(g), peakGflops: pk.gflops, peakLoops: pk.loops, variants: {} };
    for (const [name, tm] of t) {
      if (name.startsWith("peak")) continue;
      const f = passFlops(g, name.endsWith("fwd+bwd") ? "fwd+bwd" : "fwd");
      const gf = gflops(f, tm.cpuMs);
      res.variants[name] = { variant: name, ...tm, flops: f, gflops: gf, ...(name.startsWith("pytorch") || name.startsWith("tfjs") ? {} : { share: gf / pk.gflops }) };
    }
    const v = (n: string) => res.variants[n];
    const line = LAYOUTS.map((l) => `${l} fwd ${fmt(v(ours("simd", l, "fwd"))?.gflops, 1)} (${fmt(100 * (v(ours("simd", l, "fwd"))?.share ?? NaN), 0)}%) fwd+bwd ${fmt(v(ours("simd", l, "fwd+bwd"))?.gflops, 1)} (${fmt(100 * (v(ours("simd", l, "fwd+bwd"))?.share ?? NaN), 0)}%)`);
    ctx.log(`  ${label.padEnd(22)} peak ${fmt(pk.gflops, 1)} GFLOP/s; simd ${line.join("; ")}`);
    return res;
  } finally {
    disposers.forEach((d) => d());
  }
}

// ---------------------------------------------------------------- tfjs-cpu, one image a shape

interface TfjsCpuResult extends Timing {
  label: string;
  /** Milliseconds of one image (CPU time), to be multiplied by the batch. */
  perImageMs: number;
  gflops: number;
}

async function runTfjsCpu(ctx: Context, shapes: readonly Shape[]): Promise<Record<string, TfjsCpuResult>> {
  const out: Record<string, TfjsCpuResult> = {};
  if (!(await ctx.peers.useTf("cpu"))) return out;
  ctx.log("\ntfjs-cpu forward+backward on one image per shape (times at batch N are N x these):");
  for (const [si, s] of shapes.entries()) {
    const g = geomOf(s, 1), label = `${s.label} N=1`;
    if (ctx.quick && passFlops(g, "fwd+bwd") > QUICK_TFJS_CPU_FLOPS) {
      ctx.log(`  ${s.label.padEnd(18)} left out of --quick (${fmt(passFlops(g, "fwd+bwd") / 1e9, 2)} GFLOP per image)`);
      continue;
    }
    // Checked on the same channels and kernel at 8x8 (the same tfjs kernels; a check at the
    // full size would cost as much as the timed call), then timed once at the full size.
    const gc = geomOf({ ...s, H: Math.min(s.H, 8) }, 1);
    const r = rng(900 + si);
    const data = (gg: ConvGeom) => ({
      xs: r.array(gg.N * gg.H * gg.W * gg.C), dys: r.array(gg.N * gg.OH * gg.OW * gg.OC), w: r.array(gg.OC * gg.KH * gg.KW * gg.C, 1 / Math.sqrt(gg.C * gg.KH * gg.KW)),
    });
    const tensors = (gg: ConvGeom, d: ReturnType<typeof data>) => ({
      xT: tf.tensor4d(d.xs, [gg.N, gg.H, gg.W, gg.C]), wT: tfFilter(d.w, gg), dyT: tf.tensor4d(d.dys, [gg.N, gg.OH, gg.OW, gg.OC]),
    });
    const vg = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, "same"));
    const dc = data(gc), tc = tensors(gc, dc);
    let ok = true;
    try {
      const { value, grads } = vg([tc.xT, tc.wT], tc.dyT);
      const got = { y: value.dataSync(), dx: grads[0].dataSync(), dw: grads[1].dataSync(), dwAt: tfDwAt(gc) };
      value.dispose();
      grads.forEach((d) => d.dispose());
      const e = spotConv(gc, "nhwc", dc.xs, dc.w, dc.dys, got);
      for (const what of ["y", "dx", "dw"] as const) ok = ctx.check.acceptError(TFJS_CPU, label, what, e[what]!.err, TOL_PEER, `at ${gc.H}x${gc.W}: ${e[what]!.detail}`) && ok;
    } finally {
      Object.values(tc).forEach((t) => t.dispose());
    }
    if (!ok) continue;
    const { xT, wT, dyT } = tensors(g, data(g));
    try {
      const once: Budget = { time: 0, warmupTime: 0, iterations: 1, warmupIterations: 0 };
      const t = await timeGroup([{ name: TFJS_CPU, fn: () => {
        const res = vg([xT, wT], dyT);
        keep(res.value.shape[0]);
        res.value.dispose();
        res.grads.forEach((d) => d.dispose());
      } }], { budget: once, rounds: 1, minSampleMs: 0 });
      const tm = t.get(TFJS_CPU)!;
      out[s.label] = { label, ...tm, perImageMs: tm.cpuMs, gflops: gflops(passFlops(g, "fwd+bwd"), tm.cpuMs) };
      ctx.log(`  ${s.label.padEnd(18)} ${fmtMs(tm.cpuMs)} ms cpu (${fmtMs(tm.ms)} wall), ${fmt(out[s.label].gflops, 3)} GFLOP/s`);
    } finally {
      xT.dispose();
      wT.dispose();
      dyT.dispose();
    }
  }
  return out;
}

// ---------------------------------------------------------------- report

function report(ctx: Context, groups: GroupResult[], tfCpu: Record<string, TfjsCpuResult>, relaxed: boolean) {
  const pct = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? "-" : `${(100 * x).toFixed(0)}%`);
  const gf = (x: number | undefined) => fmt(x, 1);
  const ms = (x: number | undefined) => (x === undefined ? "-" : fmtMs(x));
  const x = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? "-" : fmtX(v, 2));
  const summary: Record<string, unknown> = {};
  const targets: Record<string, string> = {};
  const batches = [...new Set(groups.map((gr) => gr.batch))];
  const runPeak = median(groups.map((gr) => gr.peakGflops));
  for (const layout of LAYOUTS) {
    const head = [
      "batch", "shape", "peak GFLOP/s",
      "simd fwd GFLOP/s", "% peak", "simd fwd+bwd GFLOP/s", "% peak",
      ...(relaxed ? ["relaxed fwd GFLOP/s", "relaxed fwd+bwd GFLOP/s"] : []),
      ...(layout === "nhwc" ? ["tfjs-cpu fwd+bwd ms", "x tfjs-cpu", "tfjs-wasm fwd ms", "x tfjs-wasm"] : []),
      "PyTorch fwd ms", "PyTorch fwd+bwd ms", "x PyTorch",
    ];
    const rows: string[][] = [];
    for (const batch of batches) {
      const gs = groups.filter((gr) => gr.batch === batch);
      const cols: Record<string, number[]> = {};
      const add = (k: string, v: number | undefined) => void (v !== undefined && Number.isFinite(v) && (cols[k] ??= []).push(v));
      for (const gr of gs) {
        const v = (n: string) => gr.variants[n];
        const sf = v(ours("simd", layout, "fwd")), sb = v(ours("simd", layout, "fwd+bwd"));
        const rf = v(ours("relaxed", layout, "fwd")), rb = v(ours("relaxed", layout, "fwd+bwd"));
        const tc = tfCpu[gr.shape.label], tcMs = tc ? tc.perImageMs * batch : undefined;
        const tw = v(TFJS_WASM), pf = v(torchName(layout, "fwd")), pb = v(torchName(layout, "fwd+bwd"));
        // tfjs runs NHWC only: compared with our NHWC layer.
        const xCpu = layout === "nhwc" && tcMs !== undefined && sb ? tcMs / sb.cpuMs : undefined;
        const xWasm = layout === "nhwc" && tw && sf ? tw.cpuMs / sf.cpuMs : undefined;
        const xTorch = pb && sb ? pb.cpuMs / sb.cpuMs : undefined;
        add("peak", gr.peakGflops);
        add("sf", sf?.gflops), add("sfs", sf?.share), add("sb", sb?.gflops), add("sbs", sb?.share), add("rf", rf?.gflops), add("rb", rb?.gflops);
        add("xCpu", xCpu), add("xWasm", xWasm), add("xTorch", xTorch);
        rows.push([
          String(batch), gr.shape.label, gf(gr.peakGflops),
          gf(sf?.gflops), pct(sf?.share), gf(sb?.gflops), pct(sb?.share),
          ...(relaxed ? [gf(rf?.gflops), gf(rb?.gflops)] : []),
          ...(layout === "nhwc" ? [ms(tcMs), x(xCpu), ms(tw?.cpuMs), x(xWasm)] : []),
          ms(pf?.cpuMs), ms(pb?.cpuMs), x(xTorch),
        ]);
      }
      const gm = (k: string) => (cols[k]?.length === gs.length ? geomean(cols[k]) : NaN);
      const gmAny = (k: string) => (cols[k]?.length ? geomean(cols[k]) : NaN);
      rows.push([
        String(batch), "geomean", gf(gm("peak")),
        gf(gm("sf")), pct(gm("sfs")), gf(gm("sb")), pct(gm("sbs")),
        ...(relaxed ? [gf(gm("rf")), gf(gm("rb"))] : []),
        ...(layout === "nhwc" ? ["", x(gmAny("xCpu")), "", x(gmAny("xWasm"))] : []),
        "", "", x(gmAny("xTorch")),
      ]);
      const key = `simd ${layout} N=${batch}`;
      const fwdShare = gm("sfs"), bwdShare = gm("sbs");
      summary[key] = {
        fwdGflops: gm("sf"), fwdShare, fwdBwdGflops: gm("sb"), fwdBwdShare: bwdShare,
        relaxedFwdGflops: gm("rf"), relaxedFwdBwdGflops: gm("rb"),
        ...(layout === "nhwc" ? { xTfjsCpu: { geomean: gmAny("xCpu"), min: cols.xCpu ? Math.min(...cols.xCpu) : NaN, shapes: cols.xCpu?.length ?? 0 }, xTfjsWasmFwd: gmAny("xWasm") } : {}),
        xPytorchFwdBwd: gmAny("xTorch"),
      };
      const met = (ok: boolean) => (ok ? "met" : "NOT met");
      const alt = (k: string) => `; ${gf(gm(k))} GFLOP/s = ${pct(gm(k) / runPeak)} of the run's median peak`;
      targets[`${key} fwd`] = `${pct(fwdShare)} of the peak (target >= ${pct(TARGET_FWD)}): ${met(fwdShare >= TARGET_FWD)}${alt("sf")}`;
      targets[`${key} fwd+bwd`] = `${pct(bwdShare)} of the peak (target >= ${pct(TARGET_FWD_BWD)}): ${met(bwdShare >= TARGET_FWD_BWD)}${alt("sb")}`;
      if (cols.xCpu?.length) {
        const minX = Math.min(...cols.xCpu);
        targets[`${key} x tfjs-cpu`] = `${x(geomean(cols.xCpu))} geomean, ${x(minX)} at least, over ${cols.xCpu.length} shape(s) (target >= ${TARGET_TFJS_CPU}x): ${met(minX >= TARGET_TFJS_CPU)}`;
      }
    }
    ctx.log(`\n### ${layout === "nhwc" ? "NHWC (channelsLast)" : "NCHW (channelsFirst)"}\n`);
    ctx.log(table(head, rows, { group: true }));
  }
  ctx.log("\nGFLOP/s: CPU-time medians; forward+backward = forward, dX and dW (3x the forward's flops). peak: the f32x4 mul+add");
  ctx.log("loop timed in the same group as the row, % peak: of that peak; geomean: over the shapes (the targets' measure).");
  ctx.log("x <peer>: the peer's time over ours (simd build; > 1: ours is faster), on forward+backward (tfjs-wasm: forward).");
  ctx.log("tfjs: NHWC only (its layout); tfjs-cpu timed on one image, times N; tfjs-wasm has no convolution gradients");
  ctx.log("(Conv2DBackpropFilter is not registered). PyTorch: one thread; NHWC rows channels_last, NCHW rows contiguous.\n");
  for (const [k, v] of Object.entries(targets)) ctx.log(`  ${k.padEnd(28)} ${v}`);
  return { summary, targets };
}

// ---------------------------------------------------------------- main

await runSuite({
  name: "conv",
  title: "conv bench",
  results: "conv",
  reference: "test/reference/conv.ts",
  fix: "npx vitest run test/conv_kernels.test.ts test/conv_layers.test.ts",
  async run(ctx) {
    const S = settings(ctx.quick);
    const shapes = ctx.select(SHAPES);
    const relaxed = relaxedSimdSupported();
    if (!relaxed) ctx.log("note: this engine does not run relaxed SIMD (Node 20 needs --experimental-wasm-relaxed-simd); timing the simd build only");

    // The peak loops, 8 calls a sample (~2 ms), timed in every group.
    const peak: PeakTask[] = (await peakTasks()).map((p) => ({ name: p.name, flops: 8 * p.flops, fn: () => {
      for (let i = 0; i < 8; i++) p.fn();
    } }));

    const tfWasm = (await ctx.peers.useTf("wasm")) !== null;
    let tfjsWasmGrad = "";
    if (tfWasm) {
      tfjsWasmGrad = tfjsWasmGradError();
      ctx.log(`tfjs-wasm conv2d gradients: ${tfjsWasmGrad ? `fail: "${tfjsWasmGrad}"; forward only` : "work"}`);
    }

    const checkShape = shapes.find((s) => s.label === TORCH_CHECK) ?? shapes[0];
    const torch = await checkTorch(ctx, checkShape, 100 + SHAPES.indexOf(checkShape));

    const groups: GroupResult[] = [];
    for (const N of S.batches) {
      ctx.log(`\nbatch ${N} (${S.rounds(N)} round${S.rounds(N) > 1 ? "s" : ""}):`);
      for (const s of shapes) groups.push(await runGroup(ctx, S, s, SHAPES.indexOf(s), N, peak, { tfWasm, torch: torch !== null }));
    }

    const tfCpu = await runTfjsCpu(ctx, shapes);

    const peaks = groups.map((gr) => gr.peakGflops).sort((a, b) => a - b);
    ctx.log(`\nf32x4 mul+add peak: ${fmt(median(peaks), 1)} GFLOP/s (median over the groups; ${fmt(peaks[0], 1)}..${fmt(peaks[peaks.length - 1], 1)})`);
    const { summary, targets } = report(ctx, groups, tfCpu, relaxed);
    return {
      peak: { source: "bench/peak/peak.ts: the fastest of peak_chains, peak_tile, peak_indep (f32x4.mul + f32x4.add pairs), per group", median: median(peaks), perGroup: peaks },
      tolerances: { ours: TOL_LIB, peers: TOL_PEER },
      tfjsWasmGradients: tfjsWasmGrad || "work",
      pytorch: torch ? { torch: torch.torch, threads: torch.threads, mkldnn: torch.mkldnn, cpuCapability: torch.cpu_capability, checkedOn: `${checkShape.label} N=16` } : null,
      tfjsCpu: { note: "one image per shape, timed once; times at batch N are N x perImageMs", perShape: tfCpu },
      summary,
      targets,
      errors: ctx.check.errors,
      groups,
    };
  },
});
