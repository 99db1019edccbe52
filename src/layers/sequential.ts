// Sequential (PyTorch's nn.Sequential): runs its layers in order, backward in reverse.
// Before the first layer runs it checks the whole chain of shapes (once per input shape and
// mode), so a wiring mistake names the layer index, the layer and both shapes and leaves
// every layer's state as it was. State is keyed like PyTorch's state_dict(): "<index>.<name>"
// ("0.weight", "1.running_mean", ...).
import type { GradTarget, Module } from "../module.js";
import { fmt, type Shape, sameShape } from "../shape.js";
import type { Tensor } from "../tensor.js";
import { checkDistinct, Container, expectedInput, isModule, layerName, rethrow } from "./container.js";
import { deliverOutput } from "./io.js";

export class Sequential extends Container {
  protected readonly kind = "Sequential";
  private readonly list: Module[];
  private lastOutputShape: readonly number[] | null = null;
  private keys: (readonly [string, Module])[] = [];

  /** `new Sequential([a, b, c])` or, as in PyTorch, `new Sequential(a, b, c)`. */
  constructor(layers: readonly Module[] | Module = [], ...rest: Module[]) {
    super();
    const list = Array.isArray(layers) ? [...(layers as readonly Module[]), ...rest] : [layers as Module, ...rest];
    list.forEach((m, i) => this.checkLayer(m, i));
    this.list = list;
    this.keys = list.map((m, i) => [String(i), m] as const);
    checkDistinct(this, "Sequential");
  }

  private checkLayer(m: unknown, i: number): void {
    if (!isModule(m)) {
      const got = m === null ? "null" : typeof m === "object" ? ((m as object).constructor?.name ?? "an object") : typeof m;
      throw new Error(`Sequential: layer ${i} is not a Module (it needs forward, backward and parameters), got ${got}`);
    }
  }

  namedChildren(): readonly (readonly [string, Module])[] {
    return this.keys;
  }

  /** The layers, in order (read-only; use append() to add one). */
  get layers(): readonly Module[] {
    return this.list;
  }

  get length(): number {
    return this.list.length;
  }

  /** Adds a layer at the end (PyTorch's append). */
  append(layer: Module): this {
    this.assertUsable("append");
    this.checkLayer(layer, this.list.length);
    this.list.push(layer);
    this.keys = this.list.map((m, i) => [String(i), m] as const);
    try {
      checkDistinct(this, "Sequential");
    } catch (e) {
      this.list.pop();
      this.keys.pop();
      throw e;
    }
    layer.train(this.training);
    this.uncheck();
    return this;
  }

  toString(): string {
    return this.describeChildren();
  }

  /**
   * The output shape for `input`, checking every layer's input on the way (what each
   * forward would reject, in the current mode). Stops checking at a custom module that
   * cannot tell its output shape; that module and the ones after it check their own input.
   */
  outputShape(input: Shape): Shape {
    let h = input;
    for (let i = 0; i < this.list.length; i++) {
      const layer = this.list[i];
      const expected = expectedInput(layer, h);
      if (expected !== null) throw new Error(`Sequential: layer ${i} (${layerName(layer)}) expects input ${expected}, got ${fmt(h)}`);
      if (typeof layer.outputShape !== "function") return h;
      try {
        h = layer.outputShape(h);
      } catch (e) {
        rethrow(e, `Sequential: layer ${i} (${layerName(layer)})`, this.kind);
      }
    }
    return h;
  }

  /** Runs the layers in order; the last writes into `out` when given. Otherwise the result belongs to the last layer. */
  forward(x: Tensor, out?: Tensor): Tensor {
    return this.run(x, out, null);
  }

  /** forward(), with `observe` seeing each layer's output as it is made (layer index, output). */
  forwardObserved(x: Tensor, observe: (index: number, output: Tensor) => void): Tensor {
    return this.run(x, undefined, observe);
  }

  private run(x: Tensor, out: Tensor | undefined, observe: ((index: number, output: Tensor) => void) | null): Tensor {
    this.assertUsable("forward");
    if (x && Array.isArray(x.shape)) this.checkInputOnce(x.shape);
    let h = x;
    const last = this.list.length - 1;
    if (last < 0) return deliverOutput(this, x, out);
    for (let i = 0; i <= last; i++) {
      const layer = this.list[i];
      try {
        h = i === last && out ? layer.forward(h, out) : layer.forward(h);
      } catch (e) {
        rethrow(e, `Sequential: layer ${i} (${layerName(layer)})`, this.kind);
      }
      observe?.(i, h);
    }
    this.lastOutputShape = h.shape;
    return h;
  }

  /** Backward through every layer: accumulates parameter gradients, returns d(loss)/d(input) (into `into.dx` when given). */
  backward(dy: Tensor, into?: GradTarget): Tensor {
    return this.backwardFrom(dy, true, into) as Tensor;
  }

  /**
   * backward() without the gradient with respect to the model's input, which a training
   * step does not need (PyTorch skips it too when the input does not require grad): skips
   * the first layer's input gradient (a Dense layer's dX product) and everything before it.
   */
  backwardParams(dy: Tensor): void {
    this.backwardFrom(dy, false, undefined);
  }

  private backwardFrom(dy: Tensor, inputGrad: boolean, into: GradTarget | undefined): Tensor | null {
    this.assertUsable("backward");
    const want = this.lastOutputShape;
    if (!want) throw new Error("Sequential.backward: called before forward");
    if (dy && Array.isArray(dy.shape) && !sameShape(dy.shape, want)) {
      throw new Error(`Sequential.backward: expected dy of shape ${fmt(want)} (the last forward's output), got ${fmt(dy.shape)}`);
    }
    // Without the input's gradient, backward stops at the first layer that has parameters
    // (the layers before it, e.g. Flatten, have nothing to accumulate).
    let stop = 0;
    if (!inputGrad) while (stop < this.list.length - 1 && this.list[stop].parameters().length === 0) stop++;
    let g = dy;
    for (let i = this.list.length - 1; i >= stop; i--) {
      const layer = this.list[i];
      try {
        if (i === stop && !inputGrad) {
          const params = (layer as { backwardParams?: (dy: Tensor) => void }).backwardParams;
          if (typeof params === "function") params.call(layer, g);
          else layer.backward(g);
          return null;
        }
        g = i === 0 && into ? layer.backward(g, into) : layer.backward(g);
      } catch (e) {
        rethrow(e, `Sequential: layer ${i} (${layerName(layer)}) backward`, this.kind);
      }
    }
    return g;
  }
}
