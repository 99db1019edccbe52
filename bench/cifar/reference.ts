// The reference of the CIFAR step suite: one forward and backward of an NHWC network of
// Sequential, Concat, Conv2d, BatchNorm2d, ReLU, MaxPool2d, GlobalAvgPool2d and Dense (the
// layers of inceptionCifar) in float64, composed from the per-op references of test/reference/
// (conv, bn, pool, activations, layers, loss), on float64 copies of a wasm model's weights.
// It is plain loops (seconds at width 0.0625 and batch 4), so the suite checks a tiny copy of
// the network with it: the same code paths as the timed widths, every parameter's gradient.
import { ReLU } from "../../src/layers/activations.js";
import { BatchNorm2d } from "../../src/layers/batchnorm.js";
import { BatchNormReLU2d } from "../../src/layers/batchnorm_relu.js";
import { Concat } from "../../src/layers/concat.js";
import { Conv2d } from "../../src/layers/conv2d.js";
import { Dense } from "../../src/layers/dense.js";
import { GlobalAvgPool2d, MaxPool2d } from "../../src/layers/pool.js";
import { Sequential } from "../../src/layers/sequential.js";
import type { Module, Parameter } from "../../src/module.js";
import { ACT, refActBackward, refActForward } from "../../test/reference/activations.js";
import { refBackward, refForwardTrain } from "../../test/reference/bn.js";
import { convGeom, refConv2dBackwardFilter, refConv2dBackwardInput, refConv2dForward } from "../../test/reference/conv.js";
import { refDenseBackward, refDenseForward } from "../../test/reference/layers.js";
import { refSoftmaxXentBackward, refSoftmaxXentForward } from "../../test/reference/loss.js";
import { type PoolGeom, poolAxis, refGlobalAvgPool, refGlobalAvgPoolBackward, refMaxPool2d, refMaxPool2dBackward } from "../../test/reference/pool.js";

/** An activation: dense NHWC [N, H, W, C], or [N, C] after the global pool (H = W = 1). */
interface Act {
  v: Float64Array;
  N: number;
  H: number;
  W: number;
  C: number;
}

/** A parameter of the model, its state-dict key and its float64 value. */
export interface RefParam {
  key: string;
  param: Parameter;
  value: Float64Array;
}

/** A node of the float64 network: forward keeps what its backward needs; backward adds into grads. */
interface Node {
  forward(x: Act): Act;
  backward(dy: Act): Act;
}

function conv(m: Conv2d, w: RefParam, grads: Map<RefParam, Float64Array>): Node {
  let saved: { x: Act; g: ReturnType<typeof convGeom> } | null = null;
  return {
    forward(x) {
      const g = convGeom([x.N, x.H, x.W, x.C], m.outChannels, [m.kernelSize[0], m.kernelSize[1]], { padding: "same" });
      saved = { x, g };
      return { v: refConv2dForward(x.v, w.value, null, g, "nhwc"), N: x.N, H: g.OH, W: g.OW, C: g.OC };
    },
    backward(dy) {
      const { x, g } = saved!;
      grads.set(w, refConv2dBackwardFilter(null, null, dy.v, x.v, g, "nhwc").dw);
      return { ...x, v: refConv2dBackwardInput(null, dy.v, w.value, g, "nhwc") };
    },
  };
}

function batchNorm(m: BatchNorm2d, gamma: RefParam | null, beta: RefParam | null, grads: Map<RefParam, Float64Array>): Node {
  let x: Act | null = null;
  const shape = (a: Act) => [a.N, a.H, a.W, a.C];
  return {
    forward(a) {
      x = a;
      return { ...a, v: refForwardTrain(a.v, shape(a), { gamma: gamma?.value, beta: beta?.value, eps: m.eps, dataFormat: "channelsLast" }).y };
    },
    backward(dy) {
      const r = refBackward(dy.v, x!.v, shape(x!), { gamma: gamma?.value, eps: m.eps, dataFormat: "channelsLast" });
      if (gamma) grads.set(gamma, r.dgamma);
      if (beta) grads.set(beta, r.dbeta);
      return { ...x!, v: r.dx };
    },
  };
}

function relu(): Node {
  let y: Act | null = null;
  return {
    forward(a) {
      return (y = { ...a, v: refActForward(a.v, ACT.relu) });
    },
    backward(dy) {
      return { ...dy, v: refActBackward(dy.v, y!.v, ACT.relu) };
    },
  };
}

function maxPool(m: MaxPool2d): Node {
  let saved: { g: PoolGeom; idx: Int32Array; x: Act } | null = null;
  return {
    forward(x) {
      const [KH, KW] = m.kernelSize, [sh, sw] = m.stride;
      const h = poolAxis(x.H, KH, sh, m.padding[0]), w = poolAxis(x.W, KW, sw, m.padding[1]);
      const g: PoolGeom = { N: x.N, C: x.C, H: x.H, W: x.W, OH: h.out, OW: w.out, KH, KW, sh, sw, pt: h.pad, pl: w.pad };
      const r = refMaxPool2d(x.v, g, "nhwc");
      saved = { g, idx: r.idx, x };
      return { v: r.y, N: x.N, H: g.OH, W: g.OW, C: x.C };
    },
    backward(dy) {
      const { g, idx, x } = saved!;
      return { ...x, v: refMaxPool2dBackward(dy.v, idx, g, "nhwc") };
    },
  };
}

function globalAvgPool(): Node {
  let x: Act | null = null;
  return {
    forward(a) {
      x = a;
      return { v: refGlobalAvgPool(a.v, a.N, a.C, a.H, a.W, "nhwc"), N: a.N, H: 1, W: 1, C: a.C };
    },
    backward(dy) {
      return { ...x!, v: refGlobalAvgPoolBackward(dy.v, x!.N, x!.C, x!.H, x!.W, "nhwc") };
    },
  };
}

function dense(m: Dense, w: RefParam, b: RefParam | null, grads: Map<RefParam, Float64Array>): Node {
  let x: Act | null = null;
  return {
    forward(a) {
      x = a;
      return { v: refDenseForward(a.v, w.value, b?.value ?? null, a.N, m.inFeatures, m.outFeatures), N: a.N, H: 1, W: 1, C: m.outFeatures };
    },
    backward(dy) {
      const r = refDenseBackward(dy.v, x!.v, w.value, x!.N, m.inFeatures, m.outFeatures);
      grads.set(w, r.dw);
      if (b) grads.set(b, r.db);
      return { ...x!, v: r.dx };
    },
  };
}

function sequential(nodes: Node[]): Node {
  return {
    forward: (x) => nodes.reduce((a, n) => n.forward(a), x),
    backward: (dy) => nodes.reduceRight((g, n) => n.backward(g), dy),
  };
}

/** Branches on the same input, outputs concatenated on the channel axis; backward sums the branches' dx. */
function concat(branches: Node[]): Node {
  let widths: number[] = [];
  return {
    forward(x) {
      const ys = branches.map((b) => b.forward(x));
      widths = ys.map((y) => y.C);
      const C = widths.reduce((a, b) => a + b, 0), P = x.N * ys[0].H * ys[0].W;
      const v = new Float64Array(P * C);
      let off = 0;
      for (const y of ys) {
        for (let p = 0; p < P; p++) for (let c = 0; c < y.C; c++) v[p * C + off + c] = y.v[p * y.C + c];
        off += y.C;
      }
      return { v, N: x.N, H: ys[0].H, W: ys[0].W, C };
    },
    backward(dy) {
      let dx: Act | null = null, off = 0;
      const P = dy.N * dy.H * dy.W;
      branches.forEach((b, i) => {
        const c0 = off, Cb = widths[i];
        const d = new Float64Array(P * Cb);
        for (let p = 0; p < P; p++) for (let c = 0; c < Cb; c++) d[p * Cb + c] = dy.v[p * dy.C + c0 + c];
        off += Cb;
        const g = b.backward({ ...dy, v: d, C: Cb });
        if (!dx) dx = { ...g, v: Float64Array.from(g.v) };
        else for (let k = 0; k < g.v.length; k++) dx.v[k] += g.v[k];
      });
      return dx!;
    },
  };
}

/** The float64 network of a wasm model (NHWC layers only), and its parameters in model.parameters() order. */
export class RefNet {
  readonly params: RefParam[] = [];
  private readonly grads = new Map<RefParam, Float64Array>();
  private readonly root: Node;

  constructor(model: Module) {
    this.root = this.node(model, "");
    const ps = model.parameters();
    if (ps.length !== this.params.length || ps.some((p, i) => p !== this.params[i].param)) {
      throw new Error("bench: the reference network's parameters do not line up with model.parameters()");
    }
  }

  private param(prefix: string, name: string, p: Parameter): RefParam {
    const r = { key: `${prefix}${name}`, param: p, value: Float64Array.from(p.value.data) };
    this.params.push(r);
    return r;
  }

  private node(m: Module, prefix: string): Node {
    if (m instanceof Sequential) return sequential(m.namedChildren().map(([k, c]) => this.node(c, `${prefix}${k}.`)));
    if (m instanceof Concat) return concat(m.branches.map((c, i) => this.node(c, `${prefix}${i}.`)));
    if (m instanceof Conv2d) {
      if (m.dataFormat !== "channelsLast" || m.bias || m.stride.some((s) => s !== 1) || m.dilation.some((d) => d !== 1) || m.padding.some((p) => p !== "same")) {
        throw new Error(`bench: the reference takes NHWC 'same' stride-1 convolutions without bias, not ${m}`);
      }
      return conv(m, this.param(prefix, "weight", m.weight), this.grads);
    }
    if (m instanceof BatchNorm2d) {
      if (m.dataFormat !== "channelsLast") throw new Error(`bench: the reference takes NHWC BatchNorm, not ${m}`);
      const gamma = m.weight ? this.param(prefix, "weight", m.weight) : null;
      const beta = m.bias ? this.param(prefix, "bias", m.bias) : null;
      // BatchNormReLU2d (the fused layer of the memory-lean network) is BatchNorm then ReLU.
      return m instanceof BatchNormReLU2d ? sequential([batchNorm(m, gamma, beta, this.grads), relu()]) : batchNorm(m, gamma, beta, this.grads);
    }
    if (m instanceof ReLU) return relu();
    if (m instanceof MaxPool2d) return maxPool(m);
    if (m instanceof GlobalAvgPool2d) return globalAvgPool();
    if (m instanceof Dense) {
      const w = this.param(prefix, "weight", m.weight);
      return dense(m, w, m.bias ? this.param(prefix, "bias", m.bias) : null, this.grads);
    }
    throw new Error(`bench: no float64 reference for ${String(m)}`);
  }

  /** Mean cross-entropy and every parameter's gradient for x [N, H, W, C] (BN with batch statistics). */
  lossAndGrads(x: ArrayLike<number>, [N, H, W, C]: readonly number[], labels: ArrayLike<number>): { loss: number; grads: Float64Array[] } {
    const logits = this.root.forward({ v: Float64Array.from(x), N, H, W, C });
    const { probs, loss } = refSoftmaxXentForward(logits.v, labels, N, logits.C);
    this.grads.clear();
    this.root.backward({ ...logits, v: refSoftmaxXentBackward(probs, labels, N, logits.C) });
    return { loss, grads: this.params.map((p) => this.grads.get(p) ?? new Float64Array(p.value.length)) };
  }
}

/** How far one step's loss and gradients are from the reference's. */
export interface GradError {
  lossRelErr: number;
  /** Per parameter (state-dict keys): max |g - g_ref| / max |g_ref| over the tensor. */
  gradRelErr: Record<string, number>;
  maxErr: number;
  worst: string;
}

export function compareGrads(keys: readonly string[], ref: { loss: number; grads: readonly Float64Array[] }, loss: number, grads: readonly ArrayLike<number>[]): GradError {
  const gradRelErr: Record<string, number> = {};
  const lossRelErr = Math.abs(loss - ref.loss) / Math.abs(ref.loss);
  let maxErr = Number.isNaN(lossRelErr) ? Infinity : lossRelErr, worstKey = "";
  ref.grads.forEach((want, k) => {
    const got = grads[k];
    if (got.length !== want.length) throw new Error(`bench: gradient ${keys[k]} has ${got.length} values, expected ${want.length}`);
    let num = 0, den = 0;
    for (let i = 0; i < want.length; i++) {
      const d = Math.abs(got[i] - want[i]);
      num = Math.max(num, Number.isNaN(d) ? Infinity : d);
      den = Math.max(den, Math.abs(want[i]));
    }
    const e = num / Math.max(den, 1e-30);
    gradRelErr[keys[k]] = e;
    if (!(e <= maxErr)) {
      maxErr = e;
      worstKey = keys[k];
    }
  });
  const worst = `loss rel. error ${lossRelErr.toExponential(2)}, worst gradient ${worstKey || "-"} ${(gradRelErr[worstKey] ?? 0).toExponential(2)}`;
  return { lossRelErr, gradRelErr, maxErr, worst };
}
