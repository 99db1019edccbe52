// Flatten (PyTorch's nn.Flatten with its defaults): [N, d1, d2, ...] -> [N, d1*d2*...].
// Row-major data does not move, so forward returns a view of the input (same memory, new
// shape) and backward a view of dy with the input's shape: nothing is copied. A view is
// alive exactly as long as the tensor it looks at.
import { type Backend, getBackend } from "../backend.js";
import { Buffers } from "../buffers.js";
import { type GradTarget, Layer } from "../module.js";
import { contiguousGrad, deliverGrad, deliverOutput } from "./io.js";
import { fmt, type Shape, sameShape } from "../shape.js";
import { checkIntoArg, checkOutArg, checkTensorArg, type Tensor } from "../tensor.js";

/** Caches one view so that steady-state forward/backward calls create no objects. */
class ViewSlot {
  private view: Tensor | null = null;
  constructor(private readonly owner: string) {}
  of(base: Tensor, shape: Shape): Tensor {
    const v = this.view;
    if (v && v.base === (base.base ?? base) && v.ptr === base.ptr && sameShape(v.shape, shape)) return v;
    return (this.view = base.view(shape, this.owner));
  }
}

export class Flatten extends Layer {
  private readonly backend: Backend;
  private readonly out = new ViewSlot("Flatten()");
  private readonly din = new ViewSlot("Flatten()");
  private savedShape: readonly number[] | null = null;
  private readonly bufs: Buffers;

  constructor() {
    super();
    this.backend = getBackend();
    this.bufs = new Buffers(this.backend, "Flatten()");
  }

  toString(): string {
    return "Flatten()";
  }

  /** Null when `shape` is a valid input, otherwise what was expected (for error messages). */
  expectedInput(shape: Shape): string | null {
    return shape.length >= 1 ? null : "[N, ...]";
  }

  /** [N, d1, d2, ...] -> [N, d1*d2*...]. */
  outputShape(input: Shape): Shape {
    if (input.length < 1) throw new Error(`Flatten: expected an input of rank >= 1 ([N, ...]), got ${fmt(input)}`);
    return input.length === 2 ? input : [input[0], input.slice(1).reduce((a, b) => a * b, 1)];
  }

  forward(x: Tensor, out?: Tensor): Tensor {
    this.assertUsable("forward");
    checkTensorArg(x, this.backend, "Flatten", "forward");
    checkOutArg(out, this.backend, "Flatten");
    if (x.shape.length < 1) throw new Error(`Flatten: expected an input of rank >= 1 ([N, ...]), got ${fmt(x.shape)}`);
    this.savedShape = x.shape;
    const N = x.shape[0];
    if (x.shape.length === 2) return deliverOutput(this, x, out);
    return deliverOutput(this, this.out.of(x, [N, N === 0 ? x.shape.slice(1).reduce((a, b) => a * b, 1) : x.size / N]), out);
  }

  backward(grad: Tensor, into?: GradTarget): Tensor {
    this.assertUsable("backward");
    checkIntoArg(into, this.backend, "Flatten");
    const shape = this.savedShape;
    if (!shape) throw new Error("Flatten.backward: called before forward");
    checkTensorArg(grad, this.backend, "Flatten", "backward", true);
    const dy = contiguousGrad(this.bufs, grad);
    const N = shape[0];
    const flat = [N, shape.slice(1).reduce((a, b) => a * b, 1)];
    if (!sameShape(dy.shape, flat)) throw new Error(`Flatten.backward: expected dy of shape ${fmt(flat)} (the last forward's output), got ${fmt(dy.shape)}`);
    if (shape.length === 2) return deliverGrad(this, dy, into);
    return deliverGrad(this, this.din.of(dy, shape), into);
  }

  protected releaseMemory(): void {
    this.bufs.releaseAll();
    this.savedShape = null;
  }
}
