// Sequential (PyTorch's nn.Sequential): runs its layers in order, backward in reverse.
// Before the first layer runs it checks the whole chain of shapes (once per input shape and
// mode), so a wiring mistake names the layer index, the layer and both shapes and leaves
// every layer's state as it was. State is keyed like PyTorch's state_dict(): "<index>.<name>"
// ("0.weight", "1.running_mean", ...).
import type { GradTarget, Module } from "../module.js";
import { fmt, type Shape, sameShape } from "../shape.js";
import { checkIntoArg, checkOutArg, Tensor } from "../tensor.js";
import { Buffers } from "../buffers.js";
import { workspaceOf } from "../workspace.js";
import type { Backend } from "../backend.js";
import { canRecompute, checkDistinct, Container, expectedInput, isModule, layerName, readsInput, rethrow } from "./container.js";
import { deliverOutput } from "./io.js";

export class Sequential extends Container {
  protected readonly kind = "Sequential";
  private readonly list: Module[];
  private lastOutputShape: readonly number[] | null = null;
  private keys: (readonly [string, Module])[] = [];
  /** Memory-lean mode: each layer's input in the last forward (stale where dropped), its shape, and whether it was dropped. */
  private inputs: Tensor[] = [];
  private inShapes: Shape[] = [];
  private dropped: boolean[] = [];
  private leanBufs: Buffers | null = null;
  /** Memory-lean mode: a backward since the last forward wrote gradients over tensors that forward kept. */
  private consumed = false;

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

  /**
   * A Sequential whose children have the given keys (PyTorch's nn.Sequential(OrderedDict(...))):
   * e.g. ["0", conv], ["1", batchNormReLU], ["3", conv] keeps the state-dict keys of a PyTorch
   * Sequential(conv, bn, relu, conv, ...) whose ReLUs a fused layer replaced.
   */
  static fromEntries(entries: readonly (readonly [string, Module])[]): Sequential {
    const seq = new Sequential(entries.map(([, m]) => m));
    const keys = entries.map(([k]) => String(k));
    keys.forEach((k, i) => {
      if (k === "" || k.includes(".")) throw new Error(`Sequential.fromEntries: key ${i} must be non-empty and contain no ".", got ${JSON.stringify(k)}`);
      if (keys.indexOf(k) !== i) throw new Error(`Sequential.fromEntries: key ${JSON.stringify(k)} appears twice`);
    });
    seq.keys = entries.map(([k, m]) => [String(k), m] as const);
    return seq;
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
    const next = this.keys.reduce((n, [k]) => (/^\d+$/.test(k) ? Math.max(n, Number(k) + 1) : n), 0);
    this.keys = [...this.keys, [String(next), layer] as const];
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

  /** backward() reads `into.x` when its first layer does. */
  get acceptsRematerializedInput(): boolean {
    return this.list.length > 0 && this.list[0].acceptsRematerializedInput === true;
  }

  /** Whether recompute() can run: the last layer can rebuild its output. */
  canRecompute(): boolean {
    return this.list.length > 0 && canRecompute(this.list[this.list.length - 1]);
  }

  /**
   * Whether recompute() reads x: the last layer's recompute reads its input, and that input
   * comes from x through layers that rebuild it (not a kept tensor).
   */
  recomputeReadsInput(): boolean {
    const last = this.list.length - 1;
    return last >= 0 && readsInput(this.list[last]) && this.inputReadsX0(last);
  }

  /** Whether rebuilding layer i's input reads the Sequential's input. */
  private inputReadsX0(i: number): boolean {
    for (; i > 0; i--) {
      if (!this.dropped[i] || !readsInput(this.list[i - 1])) return false;
    }
    return true;
  }

  /** The last forward's output again, into `out`, from x (that forward's input, or null when recomputeReadsInput() is false); memory-lean mode. */
  recompute(x: Tensor | null, out: Tensor): void {
    this.assertUsable("recompute");
    this.assertNotConsumed("recompute");
    if (!this.canRecompute()) throw new Error(`Sequential.recompute: the last layer (${layerName(this.list[this.list.length - 1])}) cannot recompute its output`);
    const last = this.list.length - 1;
    const xin = readsInput(this.list[last]) ? this.inputOf(last, x, out.backend) : null;
    this.list[last].recompute!(xin, out);
    if (xin && last > 0 && this.dropped[last]) workspaceOf(out.backend).release(xin);
  }

  /**
   * Layer i's input of the last forward: x0 (the Sequential's input) for layer 0, the kept
   * tensor, or for a dropped one a workspace tensor rebuilt by the layers before it (the
   * caller releases it). A producer whose recompute reads no input is not handed one, so a
   * chain of modules is rebuilt one module deep, not from the start.
   */
  private inputOf(i: number, x0: Tensor | null | undefined, backend: Backend): Tensor {
    if (i === 0) {
      if (!x0) throw new Error("Sequential: rebuilding a layer's input needs the Sequential's input, which was not given");
      return x0;
    }
    if (!this.dropped[i]) return this.inputs[i];
    const producer = this.list[i - 1];
    const prev = readsInput(producer) ? this.inputOf(i - 1, x0, backend) : null;
    const ws = workspaceOf(backend);
    const buf = ws.acquire(this.inShapes[i]);
    producer.recompute!(prev, buf);
    if (prev && i - 1 > 0 && this.dropped[i - 1]) ws.release(prev);
    return buf;
  }

  private runLean(x: Tensor, out: Tensor | undefined, observe: ((index: number, output: Tensor) => void) | null): Tensor {
    const n = this.list.length;
    // The tensors' own backend: several backends may be alive (init() called again).
    const ws = workspaceOf(x.backend);
    if (this.inShapes.length !== n || !sameShape(this.inShapes[0], x.shape)) {
      this.inShapes = [x.shape];
      for (let i = 0; i < n - 1; i++) this.inShapes.push(this.list[i].outputShape!(this.inShapes[i]));
    }
    if (this.dropped.length !== n) this.dropped = new Array<boolean>(n);
    for (let i = 0; i < n; i++) this.dropped[i] = i > 0 && canRecompute(this.list[i - 1]) && this.list[i].acceptsRematerializedInput === true;
    this.consumed = false;
    if (this.inputs.length !== n) this.inputs = new Array<Tensor>(n);
    let h = x;
    for (let i = 0; i < n; i++) {
      const layer = this.list[i];
      const dest = i === n - 1 ? out : this.dropped[i + 1] ? ws.acquire(this.inShapes[i + 1]) : undefined;
      this.inputs[i] = h;
      let y: Tensor;
      try {
        y = layer.forward(h, dest);
      } catch (e) {
        if (dest && i < n - 1) ws.release(dest);
        if (i > 0 && this.dropped[i]) ws.release(h);
        rethrow(e, `Sequential: layer ${i} (${layerName(layer)})`, this.kind);
      }
      if (i > 0 && this.dropped[i]) ws.release(h);
      observe?.(i, y);
      h = y;
    }
    this.lastOutputShape = h.shape;
    return h;
  }

  private run(x: Tensor, out: Tensor | undefined, observe: ((index: number, output: Tensor) => void) | null): Tensor {
    this.assertUsable("forward");
    if (x instanceof Tensor) checkOutArg(out, x.backend, "Sequential");
    if (x && Array.isArray(x.shape)) this.checkInputOnce(x.shape);
    if (this.memoryLean && this.list.length > 0 && this.list.every((m) => typeof m.outputShape === "function")) return this.runLean(x, out, observe);
    if (this.dropped.length > 0) this.dropped = [];
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
    if (dy instanceof Tensor) checkIntoArg(into, dy.backend, "Sequential");
    const want = this.lastOutputShape;
    if (!want) throw new Error("Sequential.backward: called before forward");
    if (dy && Array.isArray(dy.shape) && !sameShape(dy.shape, want)) {
      throw new Error(`Sequential.backward: expected dy of shape ${fmt(want)} (the last forward's output), got ${fmt(dy.shape)}`);
    }
    // Without the input's gradient, backward stops at the first layer that has parameters
    // (the layers before it, e.g. Flatten, have nothing to accumulate).
    let stop = 0;
    if (!inputGrad) while (stop < this.list.length - 1 && this.list[stop].parameters().length === 0) stop++;
    if (this.dropped.length === this.list.length) {
      this.assertNotConsumed("backward");
      return this.backwardLean(dy, stop, inputGrad, into);
    }
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

  private assertNotConsumed(what: string): void {
    if (this.consumed) {
      throw new Error(`Sequential.${what}: in memory-lean mode backward writes gradients over what the last forward kept, so it runs once per forward; call forward again first`);
    }
  }

  /**
   * Whether layer i's backward may write its dx over its input x: the layer allows it, and x
   * is read by nobody after this backward, being rebuilt for it alone or the own output of a
   * layer whose backward does not read it (a convolution's output under BN-ReLU).
   */
  private canWriteGradOverInput(i: number, x: Tensor | undefined, rebuilt: boolean): boolean {
    if (i === 0 || !x || this.list[i].gradOverInput !== true || !x.contiguous) return false;
    return rebuilt || (x === this.inputs[i] && this.list[i - 1].backwardIgnoresOutput === true);
  }

  /**
   * Backward in memory-lean mode: each layer's dx in a workspace tensor that becomes the next
   * layer's dy and is released after it, or written over the layer's input where
   * gradOverInput allows; dropped inputs rebuilt just before the layer that reads them. The
   * returned dx is `into.dx` or the Sequential's own tensor.
   */
  private backwardLean(dy: Tensor, stop: number, inputGrad: boolean, into: GradTarget | undefined): Tensor | null {
    const ws = workspaceOf(dy.backend);
    const x0 = into?.x ?? this.inputs[0];
    let g = dy;
    let gTaken = false;
    for (let i = this.list.length - 1; i >= stop; i--) {
      const layer = this.list[i];
      const rebuilt = i > 0 && this.dropped[i];
      // Layers that read their input get it passed: their saved references may point at
      // dropped tensors (ReLU's own output, say, which was a slice of a dropped concatenation).
      const x = rebuilt ? this.inputOf(i, x0, dy.backend) : layer.acceptsRematerializedInput ? (i === 0 ? x0 : this.inputs[i]) : i === 0 ? into?.x : undefined;
      const last = i === stop;
      let dx: Tensor | null = null;
      let target: GradTarget | undefined;
      const over = !last || inputGrad ? this.canWriteGradOverInput(i, x, rebuilt) : false;
      if (over) {
        target = { dx: x!, accumulate: false, x };
        this.consumed = true;
      } else if (i === 0 && into) target = into;
      else if (last && !inputGrad) target = rebuilt ? { dx: (dx = ws.acquire(this.inShapes[i])), accumulate: false, x } : undefined;
      else if (i === 0) target = x ? { dx: (dx = (this.leanBufs ??= new Buffers(dy.backend, "Sequential")).get("dx", this.inShapes[0])), accumulate: false, x } : undefined;
      else target = { dx: (dx = ws.acquire(this.inShapes[i])), accumulate: false, x };
      let out: Tensor;
      try {
        if (last && !inputGrad && !rebuilt && typeof (layer as { backwardParams?: unknown }).backwardParams === "function") {
          (layer as unknown as { backwardParams: (dy: Tensor) => void }).backwardParams(g);
          out = g;
        } else out = layer.backward(g, target);
      } catch (e) {
        const taken = over ? (rebuilt ? x! : null) : dx !== null && i !== 0 ? dx : null;
        if (taken) ws.release(taken);
        rethrow(e, `Sequential: layer ${i} (${layerName(layer)}) backward`, this.kind);
      } finally {
        if (rebuilt && !over) ws.release(x!);
        if (gTaken) ws.release(g);
      }
      if (last && !inputGrad) {
        if (dx) ws.release(dx);
        return null;
      }
      g = out;
      gTaken = over ? rebuilt : dx !== null && i !== 0;
    }
    return g;
  }

  protected releaseMemory(): void {
    this.leanBufs?.releaseAll();
  }
}
