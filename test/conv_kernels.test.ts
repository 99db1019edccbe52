// The 2-D convolution kernels (assembly/conv_nhwc.ts, conv_nchw.ts) against the float64 direct
// loops of test/reference/conv.ts, in every build and both layouts: forward, the input gradient
// written and accumulated, the filter and bias gradients accumulated; over explicit cases (1 x 1
// as a plain product, 'same' with odd and even total padding, dilation 2, non-square kernels and
// strides, several tiles crossing image boundaries, patches deeper than one GEMM block) and a
// seeded sample of channels, H and W from the tail sizes. Tensors sit inside wider ones (a
// channel slice: pixel or image strides past their size) with NaN in the gaps of inputs and
// canaries in the gaps and around outputs; the work is split into ranges as a threaded caller would.
import { beforeAll, describe, expect, it } from "vitest";
import { type Backend, type BuildName, createBackend } from "../src/backend.js";
import { conv2dDesc } from "../src/kernels.js";
import { BUILDS, expectClose, get, put, putI32, rng } from "./check.js";
import {
  type ConvGeom, type ConvLayout, type ConvPadding, convGeom, refConv2dBackwardFilter, refConv2dBackwardInput, refConv2dForward,
} from "./reference/conv.js";
import { TAIL_SIZES } from "./shapes.js";

const TOL = 1e-5;
const GUARD = 8; // canary floats before and after every tensor
const CANARY = 12345.5;

interface ConvCase {
  layout: ConvLayout;
  shape: [N: number, H: number, W: number, C: number];
  OC: number;
  kernel: [number, number];
  stride?: [number, number];
  dilation?: [number, number];
  padding?: ConvPadding;
  /** x, dx, y, dy are channel slices of wider tensors. */
  strided: boolean;
  bias: boolean;
}

const label = (c: ConvCase): string => {
  const [N, H, W, C] = c.shape;
  return `${c.layout} N=${N} ${H}x${W}x${C}->${c.OC} k=${c.kernel.join("x")} s=${(c.stride ?? [1, 1]).join(",")} ` +
    `d=${(c.dilation ?? [1, 1]).join(",")} pad=${JSON.stringify(c.padding ?? 0)}${c.strided ? " strided" : ""}${c.bias ? " bias" : ""}`;
};

/** Hand-picked cases, run in both layouts. */
const EXPLICIT: Omit<ConvCase, "layout">[] = [
  // 1 x 1 stride 1: the plain product path, dense and as slices.
  { shape: [2, 5, 7, 17], OC: 9, kernel: [1, 1], strided: false, bias: true },
  { shape: [3, 4, 3, 8], OC: 17, kernel: [1, 1], strided: true, bias: true },
  // 1 x 1 but strided or padded: the gather path.
  { shape: [2, 9, 8, 5], OC: 4, kernel: [1, 1], stride: [2, 2], padding: "valid", strided: true, bias: false },
  { shape: [1, 5, 5, 3], OC: 7, kernel: [1, 1], padding: 1, strided: false, bias: true },
  // 3 x 3 'same' at stride 1 (total 2: symmetric) and stride 2 on even sizes (total 1: the extra row at the bottom).
  { shape: [2, 8, 8, 4], OC: 8, kernel: [3, 3], padding: "same", strided: false, bias: true },
  { shape: [2, 8, 9, 3], OC: 5, kernel: [3, 3], stride: [2, 2], padding: "same", strided: true, bias: true },
  // even kernel 'same': total 1 at stride 1, the extra column on the right.
  { shape: [1, 7, 6, 5], OC: 3, kernel: [2, 4], padding: "same", strided: false, bias: false },
  // 5 x 5 valid and padded, stride 2.
  { shape: [2, 9, 9, 7], OC: 9, kernel: [5, 5], padding: "valid", strided: false, bias: true },
  { shape: [1, 17, 8, 3], OC: 4, kernel: [5, 5], stride: [2, 2], padding: 2, strided: true, bias: true },
  // dilation 2, 'same' and valid.
  { shape: [2, 9, 7, 4], OC: 5, kernel: [3, 3], dilation: [2, 2], padding: "same", strided: false, bias: true },
  { shape: [1, 9, 9, 3], OC: 8, kernel: [3, 3], dilation: [2, 1], padding: "valid", strided: true, bias: false },
  // non-square kernel, stride and padding; a single row or column.
  { shape: [2, 7, 5, 3], OC: 4, kernel: [3, 1], stride: [2, 1], padding: [1, 0], strided: false, bias: true },
  { shape: [3, 1, 17, 4], OC: 5, kernel: [1, 3], padding: "same", strided: true, bias: true },
  { shape: [2, 17, 1, 5], OC: 3, kernel: [5, 1], stride: [2, 1], padding: [2, 0], strided: false, bias: true },
  // kernel as large as the padded input: one output pixel.
  { shape: [2, 3, 3, 4], OC: 6, kernel: [5, 5], padding: 1, strided: false, bias: true },
  // several tiles, crossing image boundaries (N*OH*OW > one tile), and patches deeper than one GEMM block.
  { shape: [3, 9, 9, 17], OC: 9, kernel: [5, 5], padding: "same", strided: true, bias: true },
  { shape: [2, 12, 10, 40], OC: 20, kernel: [3, 3], padding: 1, strided: false, bias: true },
  { shape: [2, 17, 17, 8], OC: 24, kernel: [3, 3], stride: [2, 2], padding: "same", strided: true, bias: false },
  { shape: [2, 16, 16, 32], OC: 12, kernel: [1, 1], strided: false, bias: true },
  // backward_filter's deeper tiles, several per image.
  { shape: [2, 16, 16, 48], OC: 8, kernel: [5, 5], padding: "same", strided: true, bias: true },
];

/** A seeded sample of the tail sizes for channels, H and W, with kernels 1/3/5, strides 1/2, each padding mode and some dilation. */
function sampled(count: number, seed: number): Omit<ConvCase, "layout">[] {
  const r = rng(seed);
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(r.uniform() * xs.length)];
  const out: Omit<ConvCase, "layout">[] = [];
  while (out.length < count) {
    const k = pick([1, 3, 3, 5]);
    const s = pick([1, 2]);
    const d = r.uniform() < 0.2 ? 2 : 1;
    const c: Omit<ConvCase, "layout"> = {
      shape: [pick([1, 2, 3]), pick(TAIL_SIZES), pick(TAIL_SIZES), pick(TAIL_SIZES)], OC: pick(TAIL_SIZES),
      kernel: [k, k], stride: [s, s], dilation: [d, d], padding: pick<ConvPadding>([0, "valid", "same", "same", 1, 2]),
      strided: r.uniform() < 0.4, bias: r.uniform() < 0.7,
    };
    const g = convGeom(c.shape, c.OC, c.kernel, c);
    if (g.OH >= 1 && g.OW >= 1) out.push(c);
  }
  return out;
}

const CASES: ConvCase[] = (["nhwc", "nchw"] as const).flatMap((layout) =>
  [...EXPLICIT, ...sampled(40, layout === "nhwc" ? 1 : 2)].map((c) => ({ ...c, layout })));

/**
 * Where a tensor sits: `units` blocks of `width` floats (NHWC: pixels of C channels; NCHW:
 * images of C*H*W), `stride` floats apart, `offset` floats into each (a channel slice).
 */
interface Place {
  units: number;
  width: number;
  stride: number;
  offset: number;
}

function place(layout: ConvLayout, g: ConvGeom, side: "x" | "y", strided: boolean): Place {
  const [units, ch, plane] = side === "x" ? (layout === "nhwc" ? [g.N * g.H * g.W, g.C, 1] : [g.N, g.C, g.H * g.W])
    : (layout === "nhwc" ? [g.N * g.OH * g.OW, g.OC, 1] : [g.N, g.OC, g.OH * g.OW]);
  const width = ch * plane;
  if (!strided) return { units, width, stride: width, offset: 0 };
  // A slice of channels [2, 2 + ch) of ch + 5 (x side) or [1, 1 + ch) of ch + 3 (y side).
  const [before, after] = side === "x" ? [2, 3] : [1, 2];
  return { units, width, stride: (before + ch + after) * plane, offset: before * plane };
}

/** A tensor in wasm memory at its place, guards of canaries around the whole block. */
class Placed {
  readonly ptr: number;
  private readonly base: number;
  private readonly len: number;

  constructor(private readonly be: Backend, readonly p: Place, dense: Float32Array, gapFill: number) {
    this.len = p.units * p.stride;
    const all = new Float32Array(this.len + 2 * GUARD).fill(gapFill);
    all.fill(CANARY, 0, GUARD);
    all.fill(CANARY, GUARD + this.len);
    for (let u = 0; u < p.units; u++) all.set(dense.subarray(u * p.width, (u + 1) * p.width), GUARD + u * p.stride + p.offset);
    this.base = be.heap.alloc(all.length * 4);
    be.heap.f32.set(all, this.base >> 2);
    this.ptr = this.base + (GUARD + p.offset) * 4;
  }

  /** The dense values, after checking that nothing outside them changed from `gapFill` (gaps) and the canary (guards). */
  read(what: string, gapFill = CANARY): Float32Array {
    const all = this.be.heap.f32.subarray(this.base >> 2, (this.base >> 2) + this.len + 2 * GUARD);
    for (let i = 0; i < GUARD; i++) {
      if (all[i] !== CANARY || all[GUARD + this.len + i] !== CANARY) expect.fail(`${what}: wrote outside the tensor`);
    }
    const { units, width, stride, offset } = this.p;
    const dense = new Float32Array(units * width);
    for (let u = 0; u < units; u++) {
      for (let i = 0; i < stride; i++) {
        const v = all[GUARD + u * stride + i];
        if (i >= offset && i < offset + width) dense[u * width + i - offset] = v;
        else if (!Object.is(v, gapFill)) expect.fail(`${what}: wrote into the gap of block ${u} (float ${i} of ${stride})`);
      }
    }
    return dense;
  }

  free(): void {
    this.be.heap.release(this.base);
  }
}

interface Outputs {
  y: Float32Array;
  dx: Float32Array;
  dxAcc: Float32Array;
  dw: Float32Array;
  db: Float32Array;
}

/** Runs the three kernels of one case (in ranges split at seeded points), checks them against the reference, returns their outputs. */
function checkCase(be: Backend, c: ConvCase, seed: number): Outputs {
  const g = convGeom(c.shape, c.OC, c.kernel, c);
  const { layout } = c;
  const nhwc = layout === "nhwc";
  const k = be.kernels;
  const r = rng(seed);
  const xn = g.N * g.C * g.H * g.W, yn = g.N * g.OC * g.OH * g.OW, wn = g.OC * g.C * g.KH * g.KW;
  const x = r.array(xn), w = r.array(wn, 1 / Math.sqrt(g.C * g.KH * g.KW)), b = r.array(g.OC, 0.1);
  const dy = r.array(yn), dx0 = r.array(xn), dw0 = r.array(wn), db0 = r.array(g.OC);
  const px = place(layout, g, "x", c.strided), py = place(layout, g, "y", c.strided);
  const desc = putI32(be, conv2dDesc({ ...g, XS: px.stride, YS: py.stride }));
  const scratchBytes = k.conv2d_scratch_bytes(desc);
  const scratch = be.heap.alloc(Math.max(scratchBytes, 16));
  be.heap.f32.fill(NaN, scratch >> 2, (scratch + scratchBytes) >> 2); // the kernels must not read what they did not write
  const P = g.N * g.OH * g.OW;
  const split = Math.floor(r.uniform() * (P + 1)), nSplit = Math.floor(r.uniform() * (g.N + 1));
  const tag = `${be.build} ${label(c)}`;
  const placed: Placed[] = [];
  const put = (p: Place, dense: Float32Array, gap: number) => {
    const t = new Placed(be, p, dense, gap);
    placed.push(t);
    return t;
  };
  try {
    const tx = put(px, x, NaN), tdy = put(py, dy, NaN);
    const tw = put({ units: 1, width: wn, stride: wn, offset: 0 }, w, NaN), tb = put({ units: 1, width: g.OC, stride: g.OC, offset: 0 }, b, NaN);
    const fwd = nhwc ? k.conv2d_forward_nhwc : k.conv2d_forward_nchw;
    const bwdIn = nhwc ? k.conv2d_backward_input_nhwc : k.conv2d_backward_input_nchw;
    const bwdW = nhwc ? k.conv2d_backward_filter_nhwc : k.conv2d_backward_filter_nchw;

    const ty = put(py, new Float32Array(yn).fill(NaN), CANARY);
    fwd(ty.ptr, tx.ptr, tw.ptr, c.bias ? tb.ptr : 0, desc, 0, split, scratch);
    fwd(ty.ptr, tx.ptr, tw.ptr, c.bias ? tb.ptr : 0, desc, split, P, scratch);
    const y = ty.read(`forward ${tag}`);
    expectClose(y, refConv2dForward(x, w, c.bias ? b : null, g, layout), TOL, `forward ${tag}`);

    const tdx = put(px, new Float32Array(xn).fill(NaN), CANARY);
    bwdIn(tdx.ptr, tdy.ptr, tw.ptr, desc, 0, 0, nSplit, scratch);
    bwdIn(tdx.ptr, tdy.ptr, tw.ptr, desc, 0, nSplit, g.N, scratch);
    const dx = tdx.read(`backward_input ${tag}`);
    expectClose(dx, refConv2dBackwardInput(null, dy, w, g, layout), TOL, `backward_input (write) ${tag}`);

    const tdxAcc = put(px, dx0, CANARY);
    bwdIn(tdxAcc.ptr, tdy.ptr, tw.ptr, desc, 1, 0, g.N, scratch);
    const dxAcc = tdxAcc.read(`backward_input ${tag}`);
    expectClose(dxAcc, refConv2dBackwardInput(dx0, dy, w, g, layout), TOL, `backward_input (accumulate) ${tag}`);

    const tdw = put({ units: 1, width: wn, stride: wn, offset: 0 }, dw0, CANARY), tdb = put({ units: 1, width: g.OC, stride: g.OC, offset: 0 }, db0, CANARY);
    bwdW(tdw.ptr, c.bias ? tdb.ptr : 0, tdy.ptr, tx.ptr, desc, 0, split, scratch);
    bwdW(tdw.ptr, c.bias ? tdb.ptr : 0, tdy.ptr, tx.ptr, desc, split, P, scratch);
    const want = refConv2dBackwardFilter(dw0, db0, dy, x, g, layout);
    const dw = tdw.read(`backward_filter ${tag}`), db = tdb.read(`backward_filter ${tag}`);
    expectClose(dw, want.dw, TOL, `backward_filter dw ${tag}`);
    expectClose(db, c.bias ? want.db : db0, TOL, `backward_filter db ${tag}`);
    return { y, dx, dxAcc, dw, db };
  } finally {
    for (const t of placed) t.free();
    be.heap.release(scratch);
    be.heap.release(desc);
  }
}

const builds: BuildName[] = BUILDS;
const backends = {} as Record<BuildName, Backend>;

beforeAll(async () => {
  for (const b of builds) backends[b] = await createBackend({ build: b });
});

describe.each(builds)("conv2d kernels, %s build", (build) => {
  it.each(CASES.map((c, i) => [label(c), c, i] as const))("match the reference: %s", (_, c, i) => {
    checkCase(backends[build], c, 100 + i);
  });
});

describe("SIMD and scalar builds agree", () => {
  // The products sum in the same order in both builds and the patch copies and scatter-adds
  // are elementwise, so the results are the same bits.
  it.each(CASES.filter((_, i) => i % 9 === 0).map((c, i) => [label(c), c, i] as const))("bit for bit: %s", (_, c, i) => {
    const simd = checkCase(backends.simd, c, 900 + i), scalar = checkCase(backends.scalar, c, 900 + i);
    for (const key of ["y", "dx", "dxAcc", "dw", "db"] as const) {
      expect(Buffer.from(simd[key].buffer).equals(Buffer.from(scalar[key].buffer)), key).toBe(true);
    }
  });
});

describe("the three kernels are one linear map and its adjoints", () => {
  // Independently of the reference: with y = conv(x, w) (no bias), <dy, y> = <dx, x> = <dw, w>
  // for dx, dw the kernels' gradients of <dy, conv(x, w)>, summed in float64.
  const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let s = 0, m = 0;
    for (let i = 0; i < a.length; i++) {
      s += a[i] * b[i];
      m += Math.abs(a[i] * b[i]);
    }
    return { s, m };
  };
  it.each(CASES.filter((_, i) => i % 7 === 3).map((c, i) => [label(c), c, i] as const))("%s", (_, c, i) => {
    const be = backends[builds[0]];
    const g = convGeom(c.shape, c.OC, c.kernel, c);
    const r = rng(500 + i);
    const x = r.array(g.N * g.C * g.H * g.W), w = r.array(g.OC * g.C * g.KH * g.KW), dy = r.array(g.N * g.OC * g.OH * g.OW);
    const nhwc = c.layout === "nhwc", k = be.kernels;
    const desc = putI32(be, conv2dDesc({ ...g, XS: nhwc ? g.C : g.C * g.H * g.W, YS: nhwc ? g.OC : g.OC * g.OH * g.OW }));
    const scratch = be.heap.alloc(Math.max(k.conv2d_scratch_bytes(desc), 16));
    const px = put(be, x), pw = put(be, w), pdy = put(be, dy);
    const py = put(be, new Float32Array(dy.length)), pdx = put(be, new Float32Array(x.length)), pdw = put(be, new Float32Array(w.length));
    try {
      (nhwc ? k.conv2d_forward_nhwc : k.conv2d_forward_nchw)(py, px, pw, 0, desc, 0, g.N * g.OH * g.OW, scratch);
      (nhwc ? k.conv2d_backward_input_nhwc : k.conv2d_backward_input_nchw)(pdx, pdy, pw, desc, 0, 0, g.N, scratch);
      (nhwc ? k.conv2d_backward_filter_nhwc : k.conv2d_backward_filter_nchw)(pdw, 0, pdy, px, desc, 0, g.N * g.OH * g.OW, scratch);
      const yy = dot(dy, get(be, py, dy.length)), xx = dot(x, get(be, pdx, x.length)), ww = dot(w, get(be, pdw, w.length));
      const scale = Math.max(yy.m, xx.m, ww.m);
      expect(Math.abs(yy.s - xx.s) / scale).toBeLessThan(1e-5);
      expect(Math.abs(yy.s - ww.s) / scale).toBeLessThan(1e-5);
    } finally {
      for (const p of [desc, scratch, px, pw, pdy, py, pdx, pdw]) be.heap.release(p);
    }
  });
});

describe("scratch", () => {
  it("does not grow with the batch: 3x3 128->192 at 32x32 needs the same few MiB for 1 image or 250 (im2col of the batch: 1.2 GB)", () => {
    const be = backends[builds[0]], k = be.kernels;
    const bytes = (N: number) => {
      const g = convGeom([N, 32, 32, 128], 192, [3, 3], { padding: "same" });
      const desc = putI32(be, conv2dDesc({ ...g, XS: g.C, YS: g.OC }));
      try {
        return k.conv2d_scratch_bytes(desc);
      } finally {
        be.heap.release(desc);
      }
    };
    expect(bytes(250)).toBe(bytes(1));
    expect(bytes(250)).toBeLessThan(2 << 20);
  });
});

describe("the kernels trap on a geometry they cannot run", () => {
  it.each(["nhwc", "nchw"] as const)("%s: stride or dilation 0, negative padding, empty sizes, short strides, bad ranges and flags", (layout) => {
    const be = backends[builds[0]], k = be.kernels;
    const g = convGeom([2, 5, 5, 3], 4, [3, 3], { padding: 1 });
    const nhwc = layout === "nhwc";
    const good = { ...g, XS: nhwc ? g.C : g.C * g.H * g.W, YS: nhwc ? g.OC : g.OC * g.OH * g.OW };
    const P = g.N * g.OH * g.OW;
    const buf = be.heap.alloc(4096 * 4), scratch = be.heap.alloc(1 << 16);
    const fwd = nhwc ? k.conv2d_forward_nhwc : k.conv2d_forward_nchw;
    const bwdIn = nhwc ? k.conv2d_backward_input_nhwc : k.conv2d_backward_input_nchw;
    const bwdW = nhwc ? k.conv2d_backward_filter_nhwc : k.conv2d_backward_filter_nchw;
    const run = (d: typeof good, f: (desc: number) => void) => {
      const desc = putI32(be, conv2dDesc(d));
      try {
        f(desc);
      } finally {
        be.heap.release(desc);
      }
    };
    try {
      run(good, (desc) => expect(() => fwd(buf, buf, buf, 0, desc, 0, P, scratch)).not.toThrow());
      const bad = [{ SH: 0 }, { DW: 0 }, { PT: -1 }, { C: 0 }, { OW: 0 }, { KH: 0 }, { N: 0 }, { XS: good.XS - 1 }, { YS: good.YS - 1 }];
      for (const change of bad) {
        run({ ...good, ...change }, (desc) => {
          expect(() => fwd(buf, buf, buf, 0, desc, 0, 1, scratch), JSON.stringify(change)).toThrow(WebAssembly.RuntimeError);
          expect(() => bwdIn(buf, buf, buf, desc, 0, 0, 1, scratch), JSON.stringify(change)).toThrow(WebAssembly.RuntimeError);
          expect(() => bwdW(buf, 0, buf, buf, desc, 0, 1, scratch), JSON.stringify(change)).toThrow(WebAssembly.RuntimeError);
          if (!("XS" in change || "YS" in change)) expect(() => k.conv2d_scratch_bytes(desc), JSON.stringify(change)).toThrow(WebAssembly.RuntimeError);
        });
      }
      run(good, (desc) => {
        expect(() => fwd(buf, buf, buf, 0, desc, 0, P + 1, scratch)).toThrow(WebAssembly.RuntimeError);
        expect(() => fwd(buf, buf, buf, 0, desc, -1, P, scratch)).toThrow(WebAssembly.RuntimeError);
        expect(() => bwdW(buf, 0, buf, buf, desc, 0, P + 1, scratch)).toThrow(WebAssembly.RuntimeError);
        expect(() => bwdIn(buf, buf, buf, desc, 0, 0, g.N + 1, scratch)).toThrow(WebAssembly.RuntimeError);
        expect(() => bwdIn(buf, buf, buf, desc, 2, 0, g.N, scratch)).toThrow(WebAssembly.RuntimeError);
      });
    } finally {
      be.heap.release(buf);
      be.heap.release(scratch);
    }
  });
});
