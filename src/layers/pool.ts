// Pooling layers: MaxPool2d and AvgPool2d (PyTorch's, with Keras's 'same' padding as an
// option) over [N, C, H, W] or [N, H, W, C], and GlobalAvgPool2d (Keras's
// GlobalAveragePooling2D; PyTorch's AdaptiveAvgPool2d(1) + flatten) to [N, C]. Outputs may
// be written into a channel slice and dy may arrive as one (Inception's pooling branch).
import { type Backend, getBackend } from "../backend.js";
import { Buffers } from "../buffers.js";
import { type GradTarget, Layer } from "../module.js";
import type { DataFormat } from "../ops/bn.js";
import { type ConvGeometry, nhwcOf, outShapeOf, type Padding, windowGeometry } from "../ops/conv.js";
import { avgPoolBackward, avgPoolForward, globalAvgPoolBackward, globalAvgPoolForward, maxPoolBackward, maxPoolForward } from "../ops/pool.js";
import { boolOption, checkOptions, describe } from "../options.js";
import { fmt, type Shape, sameShape } from "../shape.js";
import { checkIntoArg, checkOutArg, checkTensorArg, Tensor } from "../tensor.js";
import { workspaceOf } from "../workspace.js";

export interface Pool2dOptions {
  /** Default: the kernel size (PyTorch's default). A number or [sh, sw]. */
  stride?: number | readonly [number, number];
  /** A number, [ph, pw], 'valid' (0) or 'same' (TensorFlow's). Default 0. */
  padding?: Padding;
  /** Where the channel axis is. Default channelsFirst. */
  dataFormat?: DataFormat;
}

export interface AvgPool2dOptions extends Pool2dOptions {
  /**
   * Divide by the whole window (PyTorch's count_include_pad=True, the default) or by the taps
   * inside the input (false; the default with padding 'same', as Keras / TensorFlow do).
   */
  countIncludePad?: boolean;
}

function pair(where: string, key: string, v: unknown, min: number): [number, number] {
  const ok = (n: unknown): n is number => typeof n === "number" && Number.isInteger(n) && n >= min;
  if (ok(v)) return [v, v];
  if (Array.isArray(v) && v.length === 2 && ok(v[0]) && ok(v[1])) return [v[0], v[1]];
  throw new Error(`${where}: ${key} must be an integer >= ${min} or a pair of them, got ${describe(v)}`);
}

function dataFormatOf(where: string, v: unknown): DataFormat {
  const f = v ?? "channelsFirst";
  if (f !== "channelsFirst" && f !== "channelsLast") throw new Error(`${where}: dataFormat must be 'channelsFirst' or 'channelsLast', got ${describe(f)}`);
  return f;
}

/** What the window pools share: geometry per input shape, output and gradient destinations. */
abstract class WindowPool2d extends Layer {
  readonly kernelSize: readonly [number, number];
  readonly stride: readonly [number, number];
  readonly padding: readonly [number | "valid" | "same", number | "valid" | "same"];
  readonly dataFormat: DataFormat;
  protected readonly backend: Backend;
  protected readonly bufs: Buffers;
  private geom: ConvGeometry | null = null;
  private geomShape: readonly number[] | null = null;
  protected saved: { shape: readonly number[]; g: ConvGeometry } | null = null;

  constructor(where: string, kernelSize: number | readonly [number, number], options: Pool2dOptions) {
    super();
    this.kernelSize = pair(where, "kernelSize", kernelSize, 1);
    this.stride = options.stride === undefined ? this.kernelSize : pair(where, "stride", options.stride, 1);
    const p = options.padding ?? 0;
    const okPad = (n: unknown) => n === "valid" || n === "same" || (typeof n === "number" && Number.isInteger(n) && n >= 0);
    if (okPad(p)) this.padding = [p as number, p as number];
    else if (Array.isArray(p) && p.length === 2 && p.every((n) => typeof n === "number" && okPad(n))) this.padding = [p[0], p[1]];
    else throw new Error(`${where}: padding must be an integer >= 0, a pair [ph, pw] of them, 'valid' or 'same', got ${describe(p)}`);
    for (let i = 0; i < 2; i++) {
      const pad = this.padding[i];
      if (typeof pad === "number" && pad > this.kernelSize[i] / 2) {
        throw new Error(`${where}: padding ${pad} is more than half the kernel size ${this.kernelSize[i]} (a window could hold padding only)`);
      }
    }
    this.dataFormat = dataFormatOf(where, options.dataFormat);
    this.backend = getBackend();
    this.bufs = new Buffers(this.backend, where);
  }

  protected describeWindow(): string {
    const [KH, KW] = this.kernelSize;
    const parts = [`${KH}x${KW}`];
    if (this.stride[0] !== KH || this.stride[1] !== KW) parts.push(`stride=${this.stride.join("x")}`);
    if (this.padding[0] !== 0 || this.padding[1] !== 0) parts.push(`padding=${this.padding[0] === this.padding[1] ? JSON.stringify(this.padding[0]) : JSON.stringify(this.padding)}`);
    if (this.dataFormat === "channelsLast") parts.push("channelsLast");
    return parts.join(", ");
  }

  expectedInput(shape: Shape): string | null {
    return shape.length === 4 ? null : this.dataFormat === "channelsLast" ? "[N, H, W, C]" : "[N, C, H, W]";
  }

  protected geometryOf(shape: Shape): ConvGeometry {
    if (this.geom && this.geomShape && sameShape(shape, this.geomShape)) return this.geom;
    const win = { kernel: this.kernelSize, stride: this.stride, dilation: [1, 1] as const, padding: this.padding };
    this.geom = windowGeometry(this, shape, this.dataFormat, win, null, this.expectedInput(shape));
    this.geomShape = [...shape];
    return this.geom;
  }

  outputShape(input: Shape): Shape {
    return outShapeOf(this.geometryOf(input), this.dataFormat);
  }

  /** The output tensor: `out` (checked) or the layer's own. */
  protected outputFor(g: ConvGeometry, out: Tensor | undefined): Tensor {
    const shape = outShapeOf(g, this.dataFormat);
    if (!out) return this.bufs.get("y", shape);
    checkTensorArg(out, this.backend, this, "forward (out)", true);
    if (!sameShape(out.shape, shape)) throw new Error(`${this}.forward: expected an output tensor of shape ${fmt(shape)}, got ${fmt(out.shape)}`);
    return out;
  }

  /** The saved geometry and the dx destination for a checked dy. */
  protected prepareBackward(dy: Tensor, into: GradTarget | undefined): [ConvGeometry, Tensor] {
    this.assertUsable("backward");
    const s = this.saved;
    if (!s) throw new Error(`${this}.backward: called before forward`);
    checkTensorArg(dy, this.backend, this, "backward", true);
    const want = outShapeOf(s.g, this.dataFormat);
    if (!sameShape(dy.shape, want)) throw new Error(`${this}.backward: expected dy of shape ${fmt(want)} (the last forward's output), got ${fmt(dy.shape)}`);
    if (into && !sameShape(into.dx.shape, s.shape)) throw new Error(`${this}.backward: expected a dx tensor of shape ${fmt(s.shape)}, got ${fmt(into.dx.shape)}`);
    return [s.g, into ? into.dx : this.bufs.get("dx", s.shape)];
  }

  protected releaseMemory(): void {
    this.bufs.releaseAll();
    this.saved = null;
  }
}

/** Outputs per chunk of images when indices are made for one use: 1 MiB of them, whatever the batch. */
const CHUNK_OUTPUTS = 1 << 18;

/**
 * fn over chunks of whole images (first image, the chunk's geometry), each small enough that
 * the indices of one chunk, made and used at once, take a bounded workspace tensor.
 */
function byImageChunks(g: ConvGeometry, fn: (n0: number, gc: ConvGeometry) => void): void {
  const per = Math.max(1, Math.floor(CHUNK_OUTPUTS / (g.OH * g.OW * g.C)));
  for (let n0 = 0; n0 < g.N; n0 += per) fn(n0, { ...g, N: Math.min(per, g.N - n0) });
}

/** The maximum over each window (padding never wins; ties: the first in scan order; NaN propagates). */
export class MaxPool2d extends WindowPool2d {
  /**
   * Set by a memory-lean container: forward keeps neither the indices nor its output, and
   * backward recomputes the indices from the input (into.x, or the saved input).
   */
  memoryLean = false;
  readonly acceptsRematerializedInput = true;
  readonly backwardIgnoresOutput = true;
  private idx: Tensor | null = null;
  private savedX: Tensor | null = null;

  constructor(kernelSize: number | readonly [number, number], opts?: Pool2dOptions) {
    super("MaxPool2d", kernelSize, checkOptions("MaxPool2d", opts, ["stride", "padding", "dataFormat"]));
  }

  toString(): string {
    return `MaxPool2d(${this.describeWindow()})`;
  }

  forward(x: Tensor, out?: Tensor): Tensor {
    this.assertUsable("forward");
    checkTensorArg(x, this.backend, this, "forward");
    checkOutArg(out, this.backend, this);
    const g = this.geometryOf(x.shape);
    const y = this.outputFor(g, out);
    // The indices are int32, one per output value: a float32-sized buffer holds them.
    if (this.memoryLean) {
      this.forwardChunked(y, x, g);
      this.idx = null;
    } else {
      this.idx = this.bufs.get("idx", [g.N * g.OH * g.OW * g.C]);
      maxPoolForward(y, this.idx, x, g, this.dataFormat);
    }
    this.savedX = x;
    this.saved = { shape: x.shape, g };
    return y;
  }

  /** The last forward's output again, into `out`, from its input x. */
  recompute(x: Tensor | null, out: Tensor): void {
    this.assertUsable("recompute");
    if (!x) throw new Error(`${this}.recompute: needs the last forward's input, got null`);
    const s = this.saved;
    if (!s) throw new Error(`${this}.recompute: called before forward`);
    checkTensorArg(x, this.backend, this, "recompute");
    if (!sameShape(x.shape, s.shape)) throw new Error(`${this}.recompute: expected the last forward's input shape ${fmt(s.shape)}, got ${fmt(x.shape)}`);
    this.forwardChunked(this.outputFor(s.g, out), x, s.g);
  }

  /** y = the window maxima of x, image chunk by image chunk, with indices made and dropped per chunk. */
  private forwardChunked(y: Tensor, x: Tensor, g: ConvGeometry): void {
    const ws = workspaceOf(this.backend);
    const idx = ws.acquire([Math.min(g.N, Math.max(1, Math.floor(CHUNK_OUTPUTS / (g.OH * g.OW * g.C)))) * g.OH * g.OW * g.C]);
    try {
      byImageChunks(g, (n0, gc) => maxPoolForward(y.narrow(0, n0, gc.N), idx, x.narrow(0, n0, gc.N), gc, this.dataFormat));
    } finally {
      ws.release(idx);
    }
  }

  backward(dy: Tensor, into?: GradTarget): Tensor {
    checkIntoArg(into, this.backend, this);
    const [g, dx] = this.prepareBackward(dy, into);
    if (this.idx) {
      maxPoolBackward(dx, dy, this.idx, g, this.dataFormat, into?.accumulate ?? false);
      return dx;
    }
    const x = into?.x ?? this.savedX!;
    if (x.isDisposed) throw new Error(`${this}.backward: the input of the last forward was disposed; keep it alive until backward`);
    // The indices again from x, a chunk of images at a time (the kernel writes the maxima too).
    const ws = workspaceOf(this.backend);
    const per = Math.min(g.N, Math.max(1, Math.floor(CHUNK_OUTPUTS / (g.OH * g.OW * g.C))));
    const idx = ws.acquire([per * g.OH * g.OW * g.C]);
    const y = ws.acquire(outShapeOf({ ...g, N: per }, this.dataFormat));
    try {
      byImageChunks(g, (n0, gc) => {
        const ys = gc.N === per ? y : y.narrow(0, 0, gc.N);
        maxPoolForward(ys, idx, x.narrow(0, n0, gc.N), gc, this.dataFormat);
        maxPoolBackward(dx.narrow(0, n0, gc.N), dy.narrow(0, n0, gc.N), idx, gc, this.dataFormat, into?.accumulate ?? false);
      });
    } finally {
      ws.release(y);
      ws.release(idx);
    }
    return dx;
  }

  protected releaseMemory(): void {
    super.releaseMemory();
    this.idx = null;
    this.savedX = null;
  }
}

/** The mean over each window (PyTorch's count_include_pad by default; Keras's with 'same'). */
export class AvgPool2d extends WindowPool2d {
  readonly countIncludePad: boolean;

  constructor(kernelSize: number | readonly [number, number], opts?: AvgPool2dOptions) {
    const options = checkOptions("AvgPool2d", opts, ["stride", "padding", "dataFormat", "countIncludePad"]);
    super("AvgPool2d", kernelSize, options);
    this.countIncludePad = boolOption("AvgPool2d", "countIncludePad", options.countIncludePad, options.padding !== "same");
  }

  toString(): string {
    const cip = this.countIncludePad === (this.padding[0] !== "same") ? "" : `, countIncludePad=${this.countIncludePad}`;
    return `AvgPool2d(${this.describeWindow()}${cip})`;
  }

  forward(x: Tensor, out?: Tensor): Tensor {
    this.assertUsable("forward");
    checkTensorArg(x, this.backend, this, "forward");
    checkOutArg(out, this.backend, this);
    const g = this.geometryOf(x.shape);
    const y = this.outputFor(g, out);
    avgPoolForward(y, x, g, this.dataFormat, this.countIncludePad);
    this.saved = { shape: x.shape, g };
    return y;
  }

  backward(dy: Tensor, into?: GradTarget): Tensor {
    checkIntoArg(into, this.backend, this);
    const [g, dx] = this.prepareBackward(dy, into);
    avgPoolBackward(dx, dy, g, this.dataFormat, this.countIncludePad, into?.accumulate ?? false);
    return dx;
  }
}

/** The mean over H x W of each channel: [N, C, H, W] or [N, H, W, C] -> [N, C]. */
export class GlobalAvgPool2d extends Layer {
  /** backward() needs only the input's shape, so the input may be dropped after forward. */
  readonly acceptsRematerializedInput = true;
  readonly dataFormat: DataFormat;
  private readonly backend: Backend;
  private readonly bufs: Buffers;
  private savedShape: readonly number[] | null = null;

  constructor(opts?: { dataFormat?: DataFormat }) {
    super();
    const options = checkOptions("GlobalAvgPool2d", opts, ["dataFormat"]);
    this.dataFormat = dataFormatOf("GlobalAvgPool2d", options.dataFormat);
    this.backend = getBackend();
    this.bufs = new Buffers(this.backend, "GlobalAvgPool2d");
  }

  toString(): string {
    return `GlobalAvgPool2d(${this.dataFormat === "channelsLast" ? "channelsLast" : ""})`;
  }

  expectedInput(shape: Shape): string | null {
    return shape.length === 4 ? null : this.dataFormat === "channelsLast" ? "[N, H, W, C]" : "[N, C, H, W]";
  }

  outputShape(input: Shape): Shape {
    const expected = this.expectedInput(input);
    if (expected) throw new Error(`${this}: expected input ${expected}, got ${fmt(input)}`);
    if (input.includes(0)) throw new Error(`${this}: expected an input without empty dimensions, got ${fmt(input)}`);
    const [N, , , C] = nhwcOf(input, this.dataFormat);
    return [N, C];
  }

  forward(x: Tensor, out?: Tensor): Tensor {
    this.assertUsable("forward");
    checkTensorArg(x, this.backend, this, "forward");
    checkOutArg(out, this.backend, this);
    const shape = this.outputShape(x.shape);
    let y: Tensor;
    if (out) {
      checkTensorArg(out, this.backend, this, "forward (out)", true);
      if (!sameShape(out.shape, shape)) throw new Error(`${this}.forward: expected an output tensor of shape ${fmt(shape)}, got ${fmt(out.shape)}`);
      y = out;
    } else y = this.bufs.get("y", shape);
    const [N, H, W, C] = nhwcOf(x.shape, this.dataFormat);
    globalAvgPoolForward(y, x, N, H, W, C, this.dataFormat);
    this.savedShape = x.shape;
    return y;
  }

  backward(dy: Tensor, into?: GradTarget): Tensor {
    this.assertUsable("backward");
    checkIntoArg(into, this.backend, this);
    const shape = this.savedShape;
    if (!shape) throw new Error(`${this}.backward: called before forward`);
    checkTensorArg(dy, this.backend, this, "backward", true);
    const [N, H, W, C] = nhwcOf(shape, this.dataFormat);
    if (!sameShape(dy.shape, [N, C])) throw new Error(`${this}.backward: expected dy of shape ${fmt([N, C])} (the last forward's output), got ${fmt(dy.shape)}`);
    if (into && !sameShape(into.dx.shape, shape)) throw new Error(`${this}.backward: expected a dx tensor of shape ${fmt(shape)}, got ${fmt(into.dx.shape)}`);
    const dx = into ? into.dx : this.bufs.get("dx", shape);
    globalAvgPoolBackward(dx, dy, N, H, W, C, this.dataFormat, into?.accumulate ?? false);
    return dx;
  }

  protected releaseMemory(): void {
    this.bufs.releaseAll();
    this.savedShape = null;
  }
}
