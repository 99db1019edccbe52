// 2-D convolution ops: the only code that calls the conv2d_* kernels. A layer describes its
// geometry once (convGeometry); each call writes the descriptor the kernels read, with the
// strides of the tensors it is given (a channel slice of a concatenation is read or written
// in place: NHWC by its pixel stride, NCHW by its image stride).
// With a thread pool, a large call is split by a fixed partition that depends only on the
// sizes and the thread count. Forward by ranges of output pixels and backward_input by images
// (a tile scatters into its neighbours' input rows, so two threads on one image would add into
// the same dx): no output element is shared between threads and each is summed in the same
// order as on one thread, so they are bit-identical to one thread. backward_filter, a sum over
// pixels, by pixel ranges into per-thread partials (see there). Workers get their own scratch.
import type { Backend } from "../backend.js";
import { CONV2D_FIELDS } from "../kernels.js";
import { fmt, type Shape } from "../shape.js";
import type { Tensor } from "../tensor.js";
import { splitRange } from "../threads/partition.js";
import type { DataFormat } from "./bn.js";
import { PART_MACS } from "./matmul.js";

/** Padding: one number for all sides, [top/bottom, left/right], or TensorFlow's 'valid' / 'same'. */
export type Padding = number | readonly [number, number] | "valid" | "same";

/** The geometry of a convolution (or a pooling window) on one input shape. */
export interface ConvGeometry {
  N: number; H: number; W: number; C: number;
  OH: number; OW: number; OC: number;
  KH: number; KW: number; SH: number; SW: number; DH: number; DW: number;
  /** Top and left padding; bottom and right are whatever OH and OW imply. */
  PT: number; PL: number;
}

/**
 * Output size and leading padding along one axis. 'same' is TensorFlow's: out = ceil(in /
 * stride) and a total padding of max((out - 1) * stride + (k - 1) * dilation + 1 - in, 0), the
 * odd one on the bottom/right (PyTorch's padding='same' splits it the same way).
 */
export function convAxis(size: number, k: number, stride: number, dilation: number, padding: number | "valid" | "same"): { out: number; padBefore: number } {
  const span = (k - 1) * dilation + 1;
  if (padding === "same") {
    const out = Math.ceil(size / stride);
    const total = Math.max((out - 1) * stride + span - size, 0);
    return { out, padBefore: Math.floor(total / 2) };
  }
  const p = padding === "valid" ? 0 : padding;
  return { out: Math.floor((size + 2 * p - span) / stride) + 1, padBefore: p };
}

/** A sliding window's size, strides, dilations and padding per axis (a convolution's or a pool's). */
export interface Window {
  kernel: readonly [number, number];
  stride: readonly [number, number];
  dilation: readonly [number, number];
  padding: readonly [number | "valid" | "same", number | "valid" | "same"];
}

/**
 * The geometry of a window sliding over an input of `shape` (4-D in the layout), giving OC
 * output channels (null: as many as it reads), or an error naming `owner` and what does not
 * fit: `expected` (the owner's description of its input, when the shape is not one), an empty
 * dimension, or a window larger than the padded input.
 */
export function windowGeometry(owner: object, shape: Shape, dataFormat: DataFormat, win: Window, OC: number | null, expected: string | null): ConvGeometry {
  if (expected) throw new Error(`${String(owner)}: expected input ${expected}, got ${fmt(shape)}`);
  if (shape.includes(0)) throw new Error(`${String(owner)}: expected an input without empty dimensions, got ${fmt(shape)}`);
  const [N, H, W, C] = nhwcOf(shape, dataFormat);
  const [KH, KW] = win.kernel, [SH, SW] = win.stride, [DH, DW] = win.dilation;
  const h = convAxis(H, KH, SH, DH, win.padding[0]);
  const w = convAxis(W, KW, SW, DW, win.padding[1]);
  if (h.out < 1 || w.out < 1) {
    const span = `${(KH - 1) * DH + 1}x${(KW - 1) * DW + 1}`;
    throw new Error(`${String(owner)}: the ${span} ${DH > 1 || DW > 1 ? "window (with dilation)" : "window"} is larger than the padded ${H}x${W} input (${fmt(shape)})`);
  }
  return { N, H, W, C, OH: h.out, OW: w.out, OC: OC ?? C, KH, KW, SH, SW, DH, DW, PT: h.padBefore, PL: w.padBefore };
}

/** Dimensions of x in N, H, W, C order for the layout. */
export function nhwcOf(shape: Shape, dataFormat: DataFormat): [number, number, number, number] {
  const [a, b, c, d] = shape;
  return dataFormat === "channelsLast" ? [a, b, c, d] : [a, c, d, b];
}

/** The shape [N, OC, OH, OW] or [N, OH, OW, OC] of an output. */
export function outShapeOf(g: ConvGeometry, dataFormat: DataFormat): number[] {
  return dataFormat === "channelsLast" ? [g.N, g.OH, g.OW, g.OC] : [g.N, g.OC, g.OH, g.OW];
}

/**
 * The floats between consecutive pixels (channelsLast) or images (channelsFirst) of t, which
 * must otherwise be dense: what the kernels take as XS / YS. Throws for other strides.
 */
export function pixelOrImageStride(t: Tensor, dataFormat: DataFormat, what: string): number {
  const [n, a, b, c] = t.shape;
  const s = t.strides;
  if (dataFormat === "channelsLast") {
    const px = s[2];
    if (s[3] === 1 && s[1] === b * px && (n === 1 || s[0] === a * b * px) && px >= c) return px;
  } else {
    const img = s[0];
    if (s[3] === 1 && s[2] === c && s[1] === b * c && img >= a * b * c) return img;
  }
  throw new Error(`${what}: a ${fmt(t.shape)} tensor with strides ${fmt(s)} is not a ${dataFormat === "channelsLast" ? "slice of pixels" : "slice of images"} the convolution kernels can read`);
}

/** The descriptor block (CONV2D_FIELDS int32 values) a layer owns; written before each call. */
export function writeDescriptor(backend: Backend, desc: Tensor, g: ConvGeometry, XS: number, YS: number): number {
  const ptr = desc.ptr;
  const i32 = backend.heap.i32;
  const o = ptr >>> 2;
  // Field by field, no merged object: a spread of the geometry per call cost ~5 us (a few
  // hundred calls a CIFAR step).
  for (let i = 0; i < CONV2D_FIELDS.length; i++) {
    const f = CONV2D_FIELDS[i];
    i32[o + i] = f === "XS" ? XS : f === "YS" ? YS : g[f];
  }
  return ptr;
}

/** The pool when a convolution of this geometry is worth splitting, else null. */
function poolFor(backend: Backend, g: ConvGeometry) {
  const pool = backend.pool;
  return pool && g.N * g.OH * g.OW * g.KH * g.KW * g.C * g.OC >= pool.minMacs ? pool : null;
}

/** Scratch per thread: the layer's for the caller, the pool's for the workers. */
function scratchPerThread(pool: NonNullable<Backend["pool"]>, scratch: Tensor): readonly number[] {
  const s = pool.scratch(scratch.size * 4);
  return s.map((p, t) => (t === 0 ? scratch.ptr : p));
}

/** The argument of the conv2d_* kernels that is their scratch (the last of eight). */
const SCRATCH_ARG = 7;

/** Bytes of scratch the kernels need for this geometry (written descriptor at `desc`). */
export function convScratchBytes(backend: Backend, desc: Tensor, g: ConvGeometry, dataFormat: DataFormat): number {
  const pix = dataFormat === "channelsLast";
  writeDescriptor(backend, desc, g, pix ? g.C : g.C * g.H * g.W, pix ? g.OC : g.OC * g.OH * g.OW);
  return backend.kernels.conv2d_scratch_bytes(desc.ptr);
}

/** y = conv(x, w) + b over the whole batch. Writes y (a slice of a bigger output allowed). */
export function conv2dForward(y: Tensor, x: Tensor, w: Tensor, b: Tensor | null, g: ConvGeometry, dataFormat: DataFormat, desc: Tensor, scratch: Tensor): void {
  const k = x.backend.kernels;
  const d = writeDescriptor(x.backend, desc, g, pixelOrImageStride(x, dataFormat, "conv2d x"), pixelOrImageStride(y, dataFormat, "conv2d y"));
  const P = g.N * g.OH * g.OW;
  const pool = poolFor(x.backend, g);
  if (pool) {
    const macs = P * g.KH * g.KW * g.C * g.OC;
    const parts = splitRange(P, pool.partsFor(macs, PART_MACS), 8).map(([p0, p1]) => [y.ptr, x.ptr, w.ptr, b ? b.ptr : 0, d, p0, p1, 0]);
    pool.run(dataFormat === "channelsLast" ? "conv2d_forward_nhwc" : "conv2d_forward_nchw", parts, SCRATCH_ARG, scratchPerThread(pool, scratch));
    return;
  }
  if (dataFormat === "channelsLast") k.conv2d_forward_nhwc(y.ptr, x.ptr, w.ptr, b ? b.ptr : 0, d, 0, P, scratch.ptr);
  else k.conv2d_forward_nchw(y.ptr, x.ptr, w.ptr, b ? b.ptr : 0, d, 0, P, scratch.ptr);
}

/** dx (+)= the input gradient of dy through w. Writes dx, or accumulates into it. */
export function conv2dBackwardInput(dx: Tensor, dy: Tensor, w: Tensor, g: ConvGeometry, dataFormat: DataFormat, accumulate: boolean, desc: Tensor, scratch: Tensor): void {
  const k = dy.backend.kernels;
  const d = writeDescriptor(dy.backend, desc, g, pixelOrImageStride(dx, dataFormat, "conv2d dx"), pixelOrImageStride(dy, dataFormat, "conv2d dy"));
  const pool = g.N > 1 ? poolFor(dy.backend, g) : null;
  if (pool) {
    const macs = g.N * g.OH * g.OW * g.KH * g.KW * g.C * g.OC;
    const parts = splitRange(g.N, pool.partsFor(macs, PART_MACS), 1).map(([n0, n1]) => [dx.ptr, dy.ptr, w.ptr, d, accumulate ? 1 : 0, n0, n1, 0]);
    pool.run(dataFormat === "channelsLast" ? "conv2d_backward_input_nhwc" : "conv2d_backward_input_nchw", parts, SCRATCH_ARG, scratchPerThread(pool, scratch));
    return;
  }
  if (dataFormat === "channelsLast") k.conv2d_backward_input_nhwc(dx.ptr, dy.ptr, w.ptr, d, accumulate ? 1 : 0, 0, g.N, scratch.ptr);
  else k.conv2d_backward_input_nchw(dx.ptr, dy.ptr, w.ptr, d, accumulate ? 1 : 0, 0, g.N, scratch.ptr);
}

/**
 * dw += dy^T patches(x); db += sums of dy per output channel (db null: no bias). Accumulates.
 * Split over threads by ranges of output pixels, the sum's own axis, one part per thread
 * (each further part would cost a zeroed partial the size of dw): part 0 adds its range into
 * dw and db, each other part into a zeroed partial of its own, and the partials are then added
 * to dw and db in part order. Each thread gathers only its own pixels' patches, where a split
 * by output channels would gather all of them on every thread (measured on the Inception's
 * shapes: 1.52-1.95x against 1.33-1.73x). A reduction in another order: within rounding of
 * one thread, and the same bits run to run for a given thread count.
 */
export function conv2dBackwardFilter(dw: Tensor, db: Tensor | null, dy: Tensor, x: Tensor, g: ConvGeometry, dataFormat: DataFormat, desc: Tensor, scratch: Tensor): void {
  const backend = dy.backend;
  const k = backend.kernels;
  const d = writeDescriptor(backend, desc, g, pixelOrImageStride(x, dataFormat, "conv2d x"), pixelOrImageStride(dy, dataFormat, "conv2d dy"));
  const P = g.N * g.OH * g.OW;
  const pool = poolFor(backend, g);
  const ranges = pool ? splitRange(P, pool.threads, 8) : [];
  const kernel = dataFormat === "channelsLast" ? "conv2d_backward_filter_nhwc" : "conv2d_backward_filter_nchw";
  if (pool && ranges.length > 1) {
    const wN = dw.size, bN = db ? g.OC : 0;
    const per = (wN + bN + 3) & ~3; // floats per partial, whole 16-byte blocks
    const base = pool.partials((ranges.length - 1) * per * 4);
    const zeros = (ranges.length - 1) * per;
    k.rows_fill(base, zeros, 1, zeros, 0); // not TypedArray.fill: slow over a shared memory (assembly/rows.ts)
    const parts = ranges.map(([p0, p1], t) => {
      if (t === 0) return [dw.ptr, db ? db.ptr : 0, dy.ptr, x.ptr, d, p0, p1, 0];
      const at = base + (t - 1) * per * 4;
      return [at, db ? at + wN * 4 : 0, dy.ptr, x.ptr, d, p0, p1, 0];
    });
    pool.run(kernel, parts, SCRATCH_ARG, scratchPerThread(pool, scratch));
    for (let t = 1; t < parts.length; t++) {
      k.rows_add(dw.ptr, wN, parts[t][0], wN, 1, wN);
      if (db) k.rows_add(db.ptr, bN, parts[t][1], bN, 1, bN);
    }
    return;
  }
  k[kernel](dw.ptr, db ? db.ptr : 0, dy.ptr, x.ptr, d, 0, P, scratch.ptr);
}
