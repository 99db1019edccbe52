// Inverted dropout (PyTorch's nn.Dropout; Srivastava et al. 2014): in training, each element
// is kept with probability 1 - p and scaled by 1/(1 - p), so eval is the identity. The mask
// (0 or 1/(1-p)) is drawn from a seeded Rng straight into a layer-owned tensor in wasm
// memory, and forward and backward are both y = x * mask (the `mul` kernel).
import { type Backend, getBackend } from "../backend.js";
import { Buffers } from "../buffers.js";
import { checkRngStates, type GradTarget, Layer } from "../module.js";
import { contiguousGrad, deliverGrad, deliverOutput } from "./io.js";
import { multiply } from "../ops/elementwise.js";
import { checkOptions, describe } from "../options.js";
import { nextSeed, Rng } from "../random.js";
import { fmt, type Shape, sameShape } from "../shape.js";
import { checkIntoArg, checkOutArg, checkTensorArg, type Tensor } from "../tensor.js";

export interface DropoutOptions {
  /** Seed of the masks. Default: the next of the sequence set by manualSeed(). */
  seed?: number;
}

export class Dropout extends Layer {
  /** Probability of zeroing an element. */
  readonly p: number;
  private readonly backend: Backend;
  private readonly bufs: Buffers;
  private readonly rng: Rng;
  private readonly rngSaved = new Rng(0);
  /** Shape of the last forward's input (null before any), and its mask (null: it was the identity). */
  private savedShape: readonly number[] | null = null;
  private savedMask: Tensor | null = null;

  constructor(p = 0.5, opts?: DropoutOptions) {
    super();
    const options = checkOptions("Dropout", opts, ["seed"]);
    if (typeof p !== "number" || !(p >= 0 && p <= 1)) throw new Error(`Dropout: p must be a probability in [0, 1], got ${describe(p)}`);
    const seed = options.seed ?? nextSeed();
    if (!Number.isInteger(seed)) throw new Error(`Dropout: seed must be an integer, got ${seed}`);
    this.p = p;
    this.backend = getBackend();
    this.bufs = new Buffers(this.backend, this.toString());
    this.rng = new Rng(seed);
  }

  toString(): string {
    return `Dropout(p=${this.p})`;
  }

  /** The input's shape: dropout is element-wise. */
  outputShape(input: Shape): Shape {
    return input;
  }

  /** Training: x * mask with a fresh mask; eval (or p = 0): x itself. */
  forward(x: Tensor, out?: Tensor): Tensor {
    this.assertUsable("forward");
    checkTensorArg(x, this.backend, this, "forward");
    checkOutArg(out, this.backend, this);
    this.savedShape = x.shape;
    if (!this.training || this.p === 0) {
      this.savedMask = null;
      return deliverOutput(this, x, out);
    }
    const mask = this.bufs.get("mask", x.shape);
    const m = mask.data;
    const keep = 1 - this.p;
    const scale = keep > 0 ? 1 / keep : 0;
    const rng = this.rng;
    for (let i = 0; i < m.length; i++) m[i] = rng.uniform() < keep ? scale : 0;
    const y = this.bufs.get("y", x.shape);
    multiply(y, x, mask);
    this.savedMask = mask;
    return deliverOutput(this, y, out);
  }

  backward(grad: Tensor, into?: GradTarget): Tensor {
    this.assertUsable("backward");
    checkIntoArg(into, this.backend, this);
    const shape = this.savedShape, mask = this.savedMask;
    if (!shape) throw new Error(`${this}.backward: called before forward`);
    checkTensorArg(grad, this.backend, this, "backward", true);
    const dy = contiguousGrad(this.bufs, grad);
    if (!sameShape(dy.shape, shape)) throw new Error(`${this}.backward: expected dy of shape ${fmt(shape)} (the last forward's output), got ${fmt(dy.shape)}`);
    if (!mask) return deliverGrad(this, dy, into);
    mask.assertLive();
    const dx = this.bufs.get("dx", dy.shape);
    multiply(dx, dy, mask);
    return deliverGrad(this, dx, into);
  }

  /** The mask generator's position: a skipped step draws its mask again. */
  saveForwardState(): void {
    this.rngSaved.copyFrom(this.rng);
  }

  restoreForwardState(): void {
    this.rng.copyFrom(this.rngSaved);
  }

  /** The mask generator's position, under "rng". */
  rngStates(): Record<string, number> {
    this.assertUsable("rngStates");
    return { rng: this.rng.state };
  }

  setRngStates(states: Record<string, number>): void {
    this.assertUsable("setRngStates");
    checkRngStates(`${this}.setRngStates`, states, { rng: 0 });
    this.rng.state = states.rng;
  }

  protected releaseMemory(): void {
    this.bufs.releaseAll();
    this.savedShape = null;
    this.savedMask = null;
  }
}
