// Dense (PyTorch's nn.Linear): y = x W^T + b over the last axis, W in PyTorch's [out, in]
// layout. Forward saves its input for backward; backward accumulates dW += dY^T X and
// db += sum_rows dY and returns dX = dY W. All three are wasm kernels on pointers.
import { type Backend, getBackend } from "../backend.js";
import { Buffers } from "../buffers.js";
import { checkFloatState, type GradTarget, Layer, Parameter, type StateDict } from "../module.js";
import { contiguousGrad, deliverOutput } from "./io.js";
import { linearBackwardInput, linearBackwardParams, linearForward } from "../ops/matmul.js";
import { boolOption, checkOptions } from "../options.js";
import { nextSeed, Rng } from "../random.js";
import { checkInit, type DenseInit, initialise } from "./init.js";
import { fmt, type Shape, sameShape } from "../shape.js";
import { checkIntoArg, checkOutArg, checkTensorArg, Tensor } from "../tensor.js";

export interface DenseOptions {
  /** Learn an additive bias. Default true. */
  bias?: boolean;
  /** Weight initialisation. Default 'torch'. */
  init?: DenseInit;
  /** Seed of the initialisation. Default: the next of a sequence set by manualSeed() (distinct layers, same on every run). */
  seed?: number;
}

export class Dense extends Layer {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly weight: Parameter;
  /** Null when created with bias: false. */
  readonly bias: Parameter | null;

  private readonly backend: Backend;
  private readonly bufs: Buffers;
  private savedX: Tensor | null = null;

  constructor(inFeatures: number, outFeatures: number, options: DenseOptions = {}) {
    super();
    for (const [name, v] of [["inFeatures", inFeatures], ["outFeatures", outFeatures]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`Dense: ${name} must be a positive integer, got ${v}`);
    }
    checkOptions("Dense", options, ["bias", "init", "seed"]);
    const useBias = boolOption("Dense", "bias", options.bias, true);
    const init = options.init ?? "torch";
    checkInit("Dense", init);
    let seed: number;
    if (options.seed === undefined) seed = nextSeed();
    else if (Number.isInteger(options.seed)) seed = options.seed;
    else throw new Error(`Dense: seed must be an integer, got ${options.seed}`);

    this.backend = getBackend();
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    const owner = this.toString();
    const make = (shape: Shape) => {
      const t = new Tensor(this.backend, shape, owner);
      t.data.fill(0);
      return t;
    };
    this.weight = new Parameter("weight", make([outFeatures, inFeatures]), make([outFeatures, inFeatures]));
    this.bias = useBias ? new Parameter("bias", make([outFeatures]), make([outFeatures])) : null;
    this.bufs = new Buffers(this.backend, owner);
    initialise(this.weight.value.data, this.bias?.value.data ?? null, inFeatures, outFeatures, init, new Rng(seed));
  }

  toString(): string {
    return `Dense(${this.inFeatures} -> ${this.outFeatures}${this.bias ? "" : ", bias=false"})`;
  }

  /** Null when `shape` is a valid input, otherwise what was expected (for error messages). */
  expectedInput(shape: Shape): string | null {
    return shape.length >= 1 && shape[shape.length - 1] === this.inFeatures ? null : `[N, ${this.inFeatures}]`;
  }

  /** [..., in] -> [..., out]. */
  outputShape(input: Shape): Shape {
    const expected = this.expectedInput(input);
    if (expected) throw new Error(`${this}: expected input ${expected}, got ${fmt(input)}`);
    return [...input.slice(0, -1), this.outFeatures];
  }

  /** y[..., out] = x[..., in] W^T + b. The output belongs to the layer (overwritten by the next call). */
  forward(x: Tensor, out?: Tensor): Tensor {
    this.assertUsable("forward");
    checkTensorArg(x, this.backend, this, "forward");
    checkOutArg(out, this.backend, this);
    const expected = this.expectedInput(x.shape);
    if (expected) throw new Error(`${this}: expected input ${expected}, got ${fmt(x.shape)}`);
    const y = this.bufs.getWithLastDim("y", x.shape, this.outFeatures);
    linearForward(y, x, this.weight.value, this.bias?.value ?? null);
    this.savedX = x;
    return deliverOutput(this, y, out);
  }

  /** Accumulates weight.grad and bias.grad and returns dx (owned by the layer). */
  backward(grad: Tensor, into?: GradTarget): Tensor {
    checkIntoArg(into, this.backend, this);
    const [x, dy] = this.checkBackward(grad);
    if (into && !sameShape(into.dx.shape, x.shape)) throw new Error(`${this}.backward: expected a dx tensor of shape ${fmt(x.shape)}, got ${fmt(into.dx.shape)}`);
    // Into a given dx, the product writes or accumulates there directly (no extra pass).
    const dx = into ? into.dx : this.bufs.get("dx", x.shape);
    linearBackwardInput(dx, dy, this.weight.value, into?.accumulate ?? false);
    this.accumulate(dy, x);
    return dx;
  }

  /**
   * backward() without dx: only accumulates the parameter gradients. For the first layer of
   * a model, whose input needs no gradient (what PyTorch does for inputs that do not require grad).
   */
  backwardParams(grad: Tensor): void {
    const [x, dy] = this.checkBackward(grad);
    this.accumulate(dy, x);
  }

  /** The saved input and dy (a contiguous copy if it came as a slice), once both are checked. */
  private checkBackward(grad: Tensor): [Tensor, Tensor] {
    this.assertUsable("backward");
    const x = this.savedX;
    if (!x) throw new Error(`${this}.backward: called before forward (there is no saved input to differentiate)`);
    checkTensorArg(grad, this.backend, this, "backward", true);
    const dy = contiguousGrad(this.bufs, grad);
    if (!matchesOutput(dy.shape, x.shape, this.outFeatures)) {
      const want = [...x.shape.slice(0, -1), this.outFeatures];
      throw new Error(`${this}.backward: expected dy of shape ${fmt(want)} (the last forward's output), got ${fmt(dy.shape)}`);
    }
    if (x.isDisposed) throw new Error(`${this}.backward: the input of the last forward was disposed; keep it alive until backward`);
    return [x, dy];
  }

  private accumulate(dy: Tensor, x: Tensor): void {
    linearBackwardParams(this.weight.grad, this.bias?.grad ?? null, dy, x);
  }

  parameters(): Parameter[] {
    return this.bias ? [this.weight, this.bias] : [this.weight];
  }

  /** "weight" [out * in] (row-major [out, in], PyTorch's layout) and "bias" [out]; copies. */
  stateDict(): StateDict {
    this.assertUsable("stateDict");
    const sd: StateDict = { weight: this.weight.value.toArray() };
    if (this.bias) sd.bias = this.bias.value.toArray();
    return sd;
  }

  /** PyTorch shapes of the stateDict entries. */
  stateShapes(): Record<string, number[]> {
    const s: Record<string, number[]> = { weight: [this.outFeatures, this.inFeatures] };
    if (this.bias) s.bias = [this.outFeatures];
    return s;
  }

  /** Loads "weight" (and "bias"); checks every entry before changing anything. */
  loadStateDict(sd: StateDict): void {
    this.assertUsable("loadStateDict");
    checkFloatState(`${this}.loadStateDict`, sd, this.stateShapes());
    this.weight.value.data.set(sd.weight);
    if (this.bias) this.bias.value.data.set(sd.bias);
  }

  /** Releases every tensor this layer owns. */
  protected releaseMemory(): void {
    this.bufs.releaseAll();
    for (const p of this.parameters()) {
      p.value.release();
      p.grad.release();
    }
    this.savedX = null;
  }
}

/** Whether `dy` has the shape of the output for input shape `x`: [...x[:-1], out]. */
function matchesOutput(dy: Shape, x: Shape, out: number): boolean {
  const n = x.length;
  if (dy.length !== n || dy[n - 1] !== out) return false;
  for (let i = 0; i < n - 1; i++) if (dy[i] !== x[i]) return false;
  return true;
}
