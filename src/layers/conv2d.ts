// Conv2d (PyTorch's nn.Conv2d, Keras's Conv2D): y = conv(x, W) + b over [N, C, H, W]
// (channelsFirst) or [N, H, W, C] (channelsLast, the fast path). The kernels compute tiles
// of output pixels as matrix products over gathered patches (scratch bounded independently
// of the batch; a 1x1 stride-1 convolution in NHWC is one product in place). Forward saves
// its input for backward; backward writes or accumulates dx and accumulates dW and db. The
// output may be a channel slice of a bigger tensor (a Concat branch), and so may dy.
// Weights are stored in the kernels' order, [OC, C, KH, KW] (channelsFirst, PyTorch's) or
// [OC, KH, KW, C] (channelsLast); state dicts always hold PyTorch's [OC, C, KH, KW].
import { type Backend, getBackend } from "../backend.js";
import { Buffers } from "../buffers.js";
import { checkFloatState, type GradTarget, Layer, Parameter, type StateDict } from "../module.js";
import type { DataFormat } from "../ops/bn.js";
import {
  type ConvGeometry, conv2dBackwardFilter, conv2dBackwardInput, conv2dForward, convScratchBytes, nhwcOf, outShapeOf, type Padding, windowGeometry,
} from "../ops/conv.js";
import { boolOption, checkOptions, describe } from "../options.js";
import { nextSeed, Rng } from "../random.js";
import { fmt, type Shape, sameShape } from "../shape.js";
import { checkIntoArg, checkOutArg, checkTensorArg, Tensor } from "../tensor.js";
import { checkInit, initialise, type WeightInit } from "./init.js";

export interface Conv2dOptions {
  /** Default 1; a number or [sh, sw]. */
  stride?: number | readonly [number, number];
  /** A number, [ph, pw], 'valid' (0) or 'same' (TensorFlow's, the odd pixel at the bottom/right). Default 0. */
  padding?: Padding;
  /** Default 1; a number or [dh, dw]. */
  dilation?: number | readonly [number, number];
  /** Learn an additive bias. Default true (false before BatchNorm, whose beta makes it redundant). */
  bias?: boolean;
  /** Where the channel axis is. Default channelsFirst. */
  dataFormat?: DataFormat;
  /** Weight initialisation; default 'torch' (PyTorch's Conv2d). */
  init?: WeightInit;
  /** Seed of the initialisation. Default: the next of the sequence set by manualSeed(). */
  seed?: number;
}

const OPTIONS = ["stride", "padding", "dilation", "bias", "dataFormat", "init", "seed"] as const;

function pair(where: string, key: string, v: unknown, min: number): [number, number] {
  const ok = (n: unknown): n is number => typeof n === "number" && Number.isInteger(n) && n >= min;
  if (ok(v)) return [v, v];
  if (Array.isArray(v) && v.length === 2 && ok(v[0]) && ok(v[1])) return [v[0], v[1]];
  throw new Error(`${where}: ${key} must be an integer >= ${min} or a pair of them, got ${describe(v)}`);
}

function checkPadding(where: string, v: unknown): [number | "valid" | "same", number | "valid" | "same"] {
  if (v === "valid" || v === "same") return [v, v];
  const ok = (n: unknown): n is number => typeof n === "number" && Number.isInteger(n) && n >= 0;
  if (ok(v)) return [v, v];
  if (Array.isArray(v) && v.length === 2 && ok(v[0]) && ok(v[1])) return [v[0], v[1]];
  throw new Error(`${where}: padding must be an integer >= 0, a pair [ph, pw] of them, 'valid' or 'same', got ${describe(v)}`);
}

export class Conv2d extends Layer {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: readonly [number, number];
  readonly stride: readonly [number, number];
  readonly dilation: readonly [number, number];
  readonly padding: readonly [number | "valid" | "same", number | "valid" | "same"];
  readonly dataFormat: DataFormat;
  /** [OC, C, KH, KW] (channelsFirst) or [OC, KH, KW, C] (channelsLast). */
  readonly weight: Parameter;
  readonly bias: Parameter | null;

  private readonly backend: Backend;
  private readonly bufs: Buffers;
  /** The kernels' geometry block (int32) and the geometry of the last input shape. */
  private readonly desc: Tensor;
  private geom: ConvGeometry | null = null;
  private geomShape: readonly number[] | null = null;
  private scratch: Tensor | null = null;
  private savedX: Tensor | null = null;
  /** backward() reads `into.x` when given (see GradTarget). */
  readonly acceptsRematerializedInput = true;
  /** backward() takes dW from x before it writes dx, so into.dx may be into.x. */
  readonly gradOverInput = true;
  readonly backwardIgnoresOutput = true;

  constructor(inChannels: number, outChannels: number, kernelSize: number | readonly [number, number], opts?: Conv2dOptions) {
    super();
    const where = "Conv2d";
    for (const [name, v] of [["inChannels", inChannels], ["outChannels", outChannels]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`${where}: ${name} must be a positive integer, got ${describe(v)}`);
    }
    const options = checkOptions(where, opts, OPTIONS);
    this.kernelSize = pair(where, "kernelSize", kernelSize, 1);
    this.stride = pair(where, "stride", options.stride ?? 1, 1);
    this.dilation = pair(where, "dilation", options.dilation ?? 1, 1);
    this.padding = checkPadding(where, options.padding ?? 0);
    const dataFormat = options.dataFormat ?? "channelsFirst";
    if (dataFormat !== "channelsFirst" && dataFormat !== "channelsLast") throw new Error(`${where}: dataFormat must be 'channelsFirst' or 'channelsLast', got ${describe(dataFormat)}`);
    const useBias = boolOption(where, "bias", options.bias, true);
    const init = options.init ?? "torch";
    checkInit(where, init);
    const seed = options.seed ?? nextSeed();
    if (!Number.isInteger(seed)) throw new Error(`${where}: seed must be an integer, got ${describe(seed)}`);

    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.dataFormat = dataFormat;
    this.backend = getBackend();
    const owner = this.toString();
    const [KH, KW] = this.kernelSize;
    const wShape = dataFormat === "channelsLast" ? [outChannels, KH, KW, inChannels] : [outChannels, inChannels, KH, KW];
    const make = (shape: Shape) => {
      const t = new Tensor(this.backend, shape, owner);
      t.data.fill(0);
      return t;
    };
    this.weight = new Parameter("weight", make(wShape), make(wShape));
    this.bias = useBias ? new Parameter("bias", make([outChannels]), make([outChannels])) : null;
    this.bufs = new Buffers(this.backend, owner);
    this.desc = new Tensor(this.backend, [32], owner);
    // PyTorch's fans: in * kh * kw and out * kh * kw. Drawn in PyTorch's [OC, C, KH, KW] order
    // so that a seed gives the same filters in both layouts.
    const w = new Float32Array(outChannels * inChannels * KH * KW);
    const b = this.bias ? new Float32Array(outChannels) : null;
    initialise(w, b, inChannels * KH * KW, outChannels * KH * KW, init, new Rng(seed));
    this.setWeightFromTorch(w);
    if (b) this.bias!.value.data.set(b);
  }

  toString(): string {
    const [KH, KW] = this.kernelSize;
    const extra = [
      this.stride[0] !== 1 || this.stride[1] !== 1 ? `stride=${this.stride.join("x")}` : "",
      this.padding[0] !== 0 || this.padding[1] !== 0 ? `padding=${this.padding[0] === this.padding[1] ? JSON.stringify(this.padding[0]) : JSON.stringify(this.padding)}` : "",
      this.dilation[0] !== 1 || this.dilation[1] !== 1 ? `dilation=${this.dilation.join("x")}` : "",
      this.bias ? "" : "bias=false",
      this.dataFormat === "channelsLast" ? "channelsLast" : "",
    ].filter((s) => s !== "");
    return `Conv2d(${this.inChannels} -> ${this.outChannels}, ${KH}x${KW}${extra.length > 0 ? `, ${extra.join(", ")}` : ""})`;
  }

  /** Null when `shape` is a valid input, otherwise what was expected (for Sequential's messages). */
  expectedInput(shape: Shape): string | null {
    const C = this.inChannels;
    const want = this.dataFormat === "channelsLast" ? `[N, H, W, ${C}]` : `[N, ${C}, H, W]`;
    if (shape.length !== 4) return want;
    return nhwcOf(shape, this.dataFormat)[3] === C ? null : want;
  }

  /** The geometry for an input shape, or an error naming what does not fit. */
  private geometryOf(shape: Shape): ConvGeometry {
    if (this.geom && this.geomShape && sameShape(shape, this.geomShape)) return this.geom;
    const win = { kernel: this.kernelSize, stride: this.stride, dilation: this.dilation, padding: this.padding };
    const g = windowGeometry(this, shape, this.dataFormat, win, this.outChannels, this.expectedInput(shape));
    const bytes = convScratchBytes(this.backend, this.desc, g, this.dataFormat);
    this.scratch = this.bufs.get("scratch", [Math.max(4, Math.ceil(bytes / 4))]);
    this.geom = g;
    this.geomShape = [...shape];
    return g;
  }

  outputShape(input: Shape): Shape {
    return outShapeOf(this.geometryOf(input), this.dataFormat);
  }

  /** y = conv(x, W) + b, into `out` when given (a slice of a bigger output is written in place). */
  forward(x: Tensor, out?: Tensor): Tensor {
    this.assertUsable("forward");
    checkTensorArg(x, this.backend, this, "forward");
    checkOutArg(out, this.backend, this);
    const g = this.geometryOf(x.shape);
    const shape = outShapeOf(g, this.dataFormat);
    let y: Tensor;
    if (out) {
      checkTensorArg(out, this.backend, this, "forward (out)", true);
      if (!sameShape(out.shape, shape)) throw new Error(`${this}.forward: expected an output tensor of shape ${fmt(shape)}, got ${fmt(out.shape)}`);
      y = out;
    } else y = this.bufs.get("y", shape);
    conv2dForward(y, x, this.weight.value, this.bias?.value ?? null, g, this.dataFormat, this.desc, this.scratch!);
    this.savedX = x;
    return y;
  }

  /** Accumulates weight.grad and bias.grad; returns dx, written into or added to `into.dx` when given. */
  backward(dy: Tensor, into?: GradTarget): Tensor {
    checkIntoArg(into, this.backend, this);
    const [x, g] = this.checkBackward(dy, into?.x);
    let dx: Tensor;
    if (into) {
      if (!sameShape(into.dx.shape, x.shape)) throw new Error(`${this}.backward: expected a dx tensor of shape ${fmt(x.shape)}, got ${fmt(into.dx.shape)}`);
      dx = into.dx;
    } else dx = this.bufs.get("dx", x.shape);
    // The filter gradient first: it is the last reader of x, which dx may overwrite.
    conv2dBackwardFilter(this.weight.grad, this.bias?.grad ?? null, dy, x, g, this.dataFormat, this.desc, this.scratch!);
    conv2dBackwardInput(dx, dy, this.weight.value, g, this.dataFormat, into?.accumulate ?? false, this.desc, this.scratch!);
    return dx;
  }

  /** backward() without dx, for a model's first layer (its input needs no gradient). */
  backwardParams(dy: Tensor): void {
    const [x, g] = this.checkBackward(dy);
    conv2dBackwardFilter(this.weight.grad, this.bias?.grad ?? null, dy, x, g, this.dataFormat, this.desc, this.scratch!);
  }

  private checkBackward(dy: Tensor, given?: Tensor): [Tensor, ConvGeometry] {
    this.assertUsable("backward");
    const saved = this.savedX;
    if (!saved) throw new Error(`${this}.backward: called before forward (there is no saved input to differentiate)`);
    checkTensorArg(dy, this.backend, this, "backward", true);
    if (given !== undefined) {
      checkTensorArg(given, this.backend, this, "backward (into.x)");
      if (!sameShape(given.shape, saved.shape)) throw new Error(`${this}.backward: expected into.x of shape ${fmt(saved.shape)} (the last forward's input), got ${fmt(given.shape)}`);
    }
    const x = given ?? saved;
    const g = this.geometryOf(x.shape);
    const want = outShapeOf(g, this.dataFormat);
    if (!sameShape(dy.shape, want)) throw new Error(`${this}.backward: expected dy of shape ${fmt(want)} (the last forward's output), got ${fmt(dy.shape)}`);
    if (x.isDisposed) throw new Error(`${this}.backward: the input of the last forward was disposed; keep it alive until backward`);
    return [x, g];
  }

  parameters(): Parameter[] {
    return this.bias ? [this.weight, this.bias] : [this.weight];
  }

  /** "weight" in PyTorch's [OC, C, KH, KW] order and "bias" [OC]; copies. */
  stateDict(): StateDict {
    this.assertUsable("stateDict");
    const sd: StateDict = { weight: this.weightAsTorch() };
    if (this.bias) sd.bias = this.bias.value.toArray();
    return sd;
  }

  stateShapes(): Record<string, number[]> {
    const [KH, KW] = this.kernelSize;
    const s: Record<string, number[]> = { weight: [this.outChannels, this.inChannels, KH, KW] };
    if (this.bias) s.bias = [this.outChannels];
    return s;
  }

  /** Loads "weight" ([OC, C, KH, KW], PyTorch's order) and "bias"; checks everything before changing anything. */
  loadStateDict(sd: StateDict): void {
    this.assertUsable("loadStateDict");
    checkFloatState(`${this}.loadStateDict`, sd, this.stateShapes());
    this.setWeightFromTorch(sd.weight);
    if (this.bias) this.bias.value.data.set(sd.bias);
  }

  /** The weights in PyTorch's [OC, C, KH, KW] order (a copy). */
  weightAsTorch(): Float32Array {
    const w = this.weight.value.toArray();
    if (this.dataFormat === "channelsFirst") return w;
    const [KH, KW] = this.kernelSize, C = this.inChannels, OC = this.outChannels;
    const out = new Float32Array(w.length);
    for (let o = 0; o < OC; o++) for (let c = 0; c < C; c++) for (let i = 0; i < KH * KW; i++) out[(o * C + c) * KH * KW + i] = w[(o * KH * KW + i) * C + c];
    return out;
  }

  /** Sets the weights from PyTorch's [OC, C, KH, KW] order. */
  setWeightFromTorch(w: Float32Array): void {
    const dst = this.weight.value.data;
    if (this.dataFormat === "channelsFirst") {
      dst.set(w);
      return;
    }
    const [KH, KW] = this.kernelSize, C = this.inChannels, OC = this.outChannels;
    for (let o = 0; o < OC; o++) for (let c = 0; c < C; c++) for (let i = 0; i < KH * KW; i++) dst[(o * KH * KW + i) * C + c] = w[(o * C + c) * KH * KW + i];
  }

  protected releaseMemory(): void {
    this.bufs.releaseAll();
    for (const p of this.parameters()) {
      p.value.release();
      p.grad.release();
    }
    this.desc.release();
    this.savedX = null;
    this.scratch = null;
  }
}
