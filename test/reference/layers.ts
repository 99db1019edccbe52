// Float64 references of the MLP layers and of a whole Sequential + CrossEntropyLoss, built
// from the per-op references (gemm.ts, activations.ts, loss.ts, bn.ts) so that
// each formula lives in one place. Written for clarity, not speed. Layers are described by
// plain data (RefLayer), which refLayersOf() reads off a wasm model.
import { BatchNorm1d } from "../../src/layers/batchnorm.js";
import { Activation } from "../../src/layers/activations.js";
import { Dense } from "../../src/layers/dense.js";
import type { Sequential } from "../../src/layers/sequential.js";
import { refBackward, refForwardTrain } from "./bn.js";
import { refBiasBackward, refGemmNN, refGemmNT, refGemmTNAcc } from "./gemm.js";
import { ACT, refActBackward, refActForward } from "./activations.js";
import { refSoftmaxXentBackward, refSoftmaxXentForward } from "./loss.js";

type Arr = ArrayLike<number>;

/** Dense forward: y[M, out] = x[M, in] W[out, in]^T + b. */
export function refDenseForward(x: Arr, w: Arr, b: Arr | null, M: number, inF: number, outF: number): Float64Array {
  return refGemmNT(x, w, b, M, outF, inF);
}

/** Dense backward: dx = dy W, dW = dy^T x, db = sum over rows of dy. */
export function refDenseBackward(dy: Arr, x: Arr, w: Arr, M: number, inF: number, outF: number) {
  return {
    dx: refGemmNN(dy, w, M, outF, inF),
    dw: refGemmTNAcc(null, dy, x, M, outF, inF),
    db: refBiasBackward(null, dy, M, outF),
  };
}

export type RefLayer =
  | { kind: "dense"; w: Float64Array; b: Float64Array | null; inF: number; outF: number }
  | { kind: "bn"; gamma: Float64Array; beta: Float64Array; eps: number }
  | { kind: "act"; act: "relu" | "sigmoid" | "tanh" };

export interface RefGrads {
  loss: number;
  /** d loss / d input. */
  dx: Float64Array;
  /** Per layer: { weight, bias } gradients (Dense: dW, db; BN: dgamma, dbeta), or null. */
  params: ({ weight: Float64Array; bias: Float64Array | null } | null)[];
}

/** Mean cross-entropy of the model (BN in training mode: batch statistics) on x [M, in]. */
export function refModelLoss(layers: readonly RefLayer[], x: Arr, M: number, labels: Arr): number {
  return run(layers, x, M, labels, false).loss;
}

/** Loss and every gradient, by the layers' analytic backward formulas. */
export function refModelGrads(layers: readonly RefLayer[], x: Arr, M: number, labels: Arr): RefGrads {
  return run(layers, x, M, labels, true);
}

function run(layers: readonly RefLayer[], x0: Arr, M: number, labels: Arr, withGrads: boolean): RefGrads {
  const inputs: Float64Array[] = [];
  const outputs: Float64Array[] = [];
  let h: Float64Array = Float64Array.from(x0);
  let width = h.length / M;
  for (const L of layers) {
    inputs.push(h);
    if (L.kind === "dense") {
      h = refDenseForward(h, L.w, L.b, M, L.inF, L.outF);
      width = L.outF;
    } else if (L.kind === "bn") h = refForwardTrain(h, [M, width], { gamma: L.gamma, beta: L.beta, eps: L.eps }).y;
    else h = refActForward(h, ACT[L.act]);
    outputs.push(h);
  }
  const { probs, loss } = refSoftmaxXentForward(h, labels, M, width);
  if (!withGrads) return { loss, dx: new Float64Array(0), params: [] };
  let g = refSoftmaxXentBackward(probs, labels, M, width);
  const params: RefGrads["params"] = layers.map(() => null);
  for (let i = layers.length - 1; i >= 0; i--) {
    const L = layers[i];
    const x = inputs[i];
    if (L.kind === "dense") {
      const r = refDenseBackward(g, x, L.w, M, L.inF, L.outF);
      params[i] = { weight: r.dw, bias: L.b ? r.db : null };
      g = r.dx;
    } else if (L.kind === "bn") {
      const C = L.gamma.length;
      const r = refBackward(g, x, [M, C], { gamma: L.gamma, eps: L.eps });
      params[i] = { weight: r.dgamma, bias: r.dbeta };
      g = r.dx;
    } else g = refActBackward(g, outputs[i], ACT[L.act]);
  }
  return { loss, dx: g, params };
}

/** The float64 description of a wasm Sequential of Dense, BatchNorm1d and activation layers. */
export function refLayersOf(model: Sequential): RefLayer[] {
  return model.layers.map((m, i): RefLayer => {
    if (m instanceof Dense) {
      return { kind: "dense", w: Float64Array.from(m.weight.value.data), b: m.bias ? Float64Array.from(m.bias.value.data) : null, inF: m.inFeatures, outF: m.outFeatures };
    }
    if (m instanceof BatchNorm1d) {
      const C = m.numFeatures;
      return {
        kind: "bn",
        gamma: m.weight ? Float64Array.from(m.weight.value.data) : new Float64Array(C).fill(1),
        beta: m.bias ? Float64Array.from(m.bias.value.data) : new Float64Array(C),
        eps: m.eps,
      };
    }
    if (m instanceof Activation) return { kind: "act", act: m.kind };
    throw new Error(`refLayersOf: layer ${i} (${String(m)}) has no float64 reference`);
  });
}

/** The parameter arrays of a RefLayer list, in the order of model.parameters(). */
export function refParams(layers: RefLayer[]): Float64Array[] {
  const out: Float64Array[] = [];
  for (const L of layers) {
    if (L.kind === "dense") {
      out.push(L.w);
      if (L.b) out.push(L.b);
    } else if (L.kind === "bn") out.push(L.gamma, L.beta);
  }
  return out;
}

/** Central differences of f with respect to v[i] for every i in `at`, in float64. */
export function numericGrad(f: () => number, v: Float64Array, at: Iterable<number>, eps = 1e-6): Map<number, number> {
  const out = new Map<number, number>();
  for (const i of at) {
    const keep = v[i];
    v[i] = keep + eps;
    const up = f();
    v[i] = keep - eps;
    const down = f();
    v[i] = keep;
    out.set(i, (up - down) / (2 * eps));
  }
  return out;
}
