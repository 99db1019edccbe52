// Element-wise activations (PyTorch's nn.Sigmoid, nn.ReLU, nn.Tanh). Forward writes
// y = f(x) into a layer-owned tensor and keeps it: every derivative here is a function of
// the output (sigmoid' = y(1-y), tanh' = 1-y^2, relu' = [y > 0]), so backward needs only y.
import { type Backend, getBackend } from "../backend.js";
import { Buffers } from "../buffers.js";
import type { ActName } from "../kernels.js";
import { type GradTarget, Layer } from "../module.js";
import { activationBackward, activationForward } from "../ops/elementwise.js";
import { fmt, type Shape, sameShape } from "../shape.js";
import { checkIntoArg, checkOutArg, checkTensorArg, type Tensor } from "../tensor.js";

export abstract class Activation extends Layer {
  /** Which function: 'relu', 'sigmoid' or 'tanh'. */
  abstract readonly kind: ActName;
  private readonly backend: Backend;
  private readonly bufs: Buffers;
  private savedY: Tensor | null = null;

  constructor() {
    super();
    this.backend = getBackend();
    this.bufs = new Buffers(this.backend, `${new.target.name}()`);
  }

  toString(): string {
    return `${this.constructor.name}()`;
  }

  /** The input's shape: activations are element-wise. */
  outputShape(input: Shape): Shape {
    return input;
  }

  /** y = f(x), written straight into `out` when given (a channel slice of a concatenation). */
  forward(x: Tensor, out?: Tensor): Tensor {
    this.assertUsable("forward");
    checkTensorArg(x, this.backend, this, "forward");
    checkOutArg(out, this.backend, this);
    let y: Tensor;
    if (out) {
      checkTensorArg(out, this.backend, this, "forward (out)", true);
      if (!sameShape(out.shape, x.shape)) throw new Error(`${this}.forward: expected an output tensor of shape ${fmt(x.shape)}, got ${fmt(out.shape)}`);
      y = out;
    } else y = this.bufs.get("y", x.shape);
    activationForward(y, x, this.kind);
    // Backward needs the output: a slice stays valid while the tensor it is cut from does.
    this.savedY = y;
    return y;
  }

  /** dx = dy * f'(y), reading a dy slice in place and writing or adding into `into.dx` when given. */
  backward(dy: Tensor, into?: GradTarget): Tensor {
    this.assertUsable("backward");
    checkIntoArg(into, this.backend, this);
    // ReLU's mask [y > 0] is [x > 0]: from a rematerialized input when its output was dropped.
    const y = this.kind === "relu" && into?.x ? into.x : this.savedY;
    if (!y) throw new Error(`${this}.backward: called before forward (there is no saved output to differentiate)`);
    checkTensorArg(dy, this.backend, this, "backward", true);
    if (!sameShape(dy.shape, y.shape)) throw new Error(`${this}.backward: expected dy of shape ${fmt(y.shape)} (the last forward's output), got ${fmt(dy.shape)}`);
    y.assertLive();
    if (into && !sameShape(into.dx.shape, y.shape)) throw new Error(`${this}.backward: expected a dx tensor of shape ${fmt(y.shape)}, got ${fmt(into.dx.shape)}`);
    const dx = into ? into.dx : this.bufs.get("dx", dy.shape);
    activationBackward(dx, dy, y, this.kind, into?.accumulate ?? false);
    return dx;
  }

  protected releaseMemory(): void {
    this.bufs.releaseAll();
    this.savedY = null;
  }
}

/** max(0, x). Its output is cheap to rebuild from its input, so a memory-lean container may drop it. */
export class ReLU extends Activation {
  readonly kind = "relu";
  /** backward() reads `into.x` when given: the mask [x > 0] needs only the input. */
  readonly acceptsRematerializedInput = true;
  /** The kernel reads x[i] before it writes dx[i], so into.dx may be into.x. */
  readonly gradOverInput = true;

  /** The last forward's output again, into `out`, from its input x. */
  recompute(x: Tensor | null, out: Tensor): void {
    this.assertUsable("recompute");
    if (!x) throw new Error(`${this}.recompute: needs the last forward's input, got null`);
    checkTensorArg(x, out.backend, this, "recompute");
    checkTensorArg(out, x.backend, this, "recompute (out)", true);
    if (!sameShape(out.shape, x.shape)) throw new Error(`${this}.recompute: expected an output tensor of shape ${fmt(x.shape)}, got ${fmt(out.shape)}`);
    activationForward(out, x, "relu");
  }
}

/** 1 / (1 + exp(-x)). */
export class Sigmoid extends Activation {
  readonly kind = "sigmoid";
}

/** tanh(x). */
export class Tanh extends Activation {
  readonly kind = "tanh";
}
