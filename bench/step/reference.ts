// The reference of the training-step suite: one float64 step (test/reference/layers.ts:
// analytic gradients, then p - lr * g) and the measure a variant's step is compared with it
// by. The update error is normwise per parameter,
//   max|dp_got - dp_ref| / max(max|dp_ref|, 0.1 * the largest |dp_ref| of the same layer),
// where dp = p_after - p_before: the updates themselves, not the weights, are compared. The
// floor matters only for the Dense biases in front of a BatchNorm, whose gradient is zero
// (BN subtracts the batch mean), so every implementation's update there is rounding noise.
import type { Sequential } from "../../src/index.js";
import { refLayersOf, refModelGrads, refParams } from "../../test/reference/layers.js";

export interface RefStep {
  loss: number;
  /** Initial parameters (float64 copies of the float32 values), in model.parameters() order. */
  before: Float64Array[];
  /** p_after - p_before of the float64 step. */
  delta: Float64Array[];
  names: string[];
}

export function referenceStep(model: Sequential, x: Float32Array, batch: number, labels: Uint8Array, lr: number): RefStep {
  const layers = refLayersOf(model);
  const before = refParams(layers);
  const g = refModelGrads(layers, x, batch, labels);
  const grads: Float64Array[] = [];
  const names: string[] = [];
  g.params.forEach((p, i) => {
    if (!p) return;
    grads.push(p.weight);
    names.push(`${i}.weight`);
    if (p.bias) {
      grads.push(p.bias);
      names.push(`${i}.bias`);
    }
  });
  if (grads.length !== before.length) throw new Error("bench: reference gradients and parameters do not line up");
  return { loss: g.loss, before, delta: grads.map((gr) => gr.map((v) => -lr * v)), names };
}

/** The same reference with another implementation's step as the updates (to compare two of them directly). */
export function withUpdates(ref: RefStep, after: readonly ArrayLike<number>[]): RefStep {
  return { ...ref, delta: after.map((a, k) => Float64Array.from(a, (v, i) => v - ref.before[k][i])) };
}

export interface StepError {
  lossRelErr: number;
  /** Per parameter (names as PyTorch's state_dict keys). */
  updateRelErr: Record<string, number>;
  maxErr: number;
}

export function compareStep(ref: RefStep, loss: number, after: readonly ArrayLike<number>[]): StepError {
  if (after.length !== ref.before.length) throw new Error(`bench: expected ${ref.before.length} parameters, got ${after.length}`);
  const maxAbs = (d: Float64Array) => d.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  // The largest reference update of each layer ("3" of "3.weight", "3.bias").
  const layerScale = new Map<string, number>();
  ref.delta.forEach((d, k) => {
    const layer = ref.names[k].split(".")[0];
    layerScale.set(layer, Math.max(layerScale.get(layer) ?? 0, maxAbs(d)));
  });
  const updateRelErr: Record<string, number> = {};
  const lossRelErr = Math.abs(loss - ref.loss) / Math.abs(ref.loss);
  let maxErr = lossRelErr;
  ref.delta.forEach((want, k) => {
    const b = ref.before[k], a = after[k];
    if (a.length !== want.length) throw new Error(`bench: parameter ${ref.names[k]} has ${a.length} values, expected ${want.length}`);
    let num = 0;
    for (let i = 0; i < want.length; i++) {
      const d = Math.abs(a[i] - b[i] - want[i]);
      num = Math.max(num, Number.isNaN(d) ? Infinity : d);
    }
    const e = num / Math.max(maxAbs(want), 0.1 * layerScale.get(ref.names[k].split(".")[0])!, 1e-30);
    updateRelErr[ref.names[k]] = e;
    maxErr = Math.max(maxErr, e);
  });
  return { lossRelErr, updateRelErr, maxErr: Number.isNaN(maxErr) ? Infinity : maxErr };
}

/** Where a step's error is worst, for the check's message. */
export function worst(c: StepError): string {
  const [k, v] = Object.entries(c.updateRelErr).reduce((a, b) => (b[1] > a[1] ? b : a));
  return `loss rel. error ${c.lossRelErr.toExponential(2)}, worst update ${k} ${v.toExponential(2)}`;
}
