// Where one training step of our model spends its time (bench/step.bench.ts prints
// this next to PyTorch's own breakdown): the phases of the step, and every layer's forward
// and backward, each the median over many steps of performance.now() differences. The
// per-layer loop calls the layers directly, as Sequential.forward / backwardParams do (it
// skips Sequential's per-layer shape checks, whose cost shows as "forward (Sequential)"
// minus the sum of the layers).
import type { Module } from "../../src/module.js";
import type { CrossEntropyLoss } from "../../src/loss.js";
import { Dense } from "../../src/layers/dense.js";
import type { SGD } from "../../src/optim/sgd.js";
import { layerName } from "../../src/layers/container.js";
import type { Sequential } from "../../src/layers/sequential.js";
import type { Tensor } from "../../src/tensor.js";
import { median } from "../harness/index.js";

export interface Breakdown {
  /** Median ms per phase of the step as the bench times it. */
  phases: Record<string, number>;
  /** Sum of the phase medians (compare with the timed step's median). */
  phaseSum: number;
  forwardPerLayer: { layer: string; ms: number; gflops?: number }[];
  backwardPerLayer: { layer: string; ms: number; gflops?: number }[];
}

export function breakdownStep(model: Sequential, loss: CrossEntropyLoss, opt: SGD, copyBatch: () => Uint8Array, x: Tensor, steps: number): Breakdown {
  const names = ["copy batch", "zeroGrad", "forward (Sequential)", "loss forward", "loss backward", "backward (Sequential)", "SGD step"] as const;
  const phases: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  const layers: readonly Module[] = model.layers;
  const fwd: number[][] = layers.map(() => []);
  const bwd: number[][] = layers.map(() => []);
  let sink = 0;
  for (let s = 0; s < steps; s++) {
    // Whole step, phase by phase.
    const t: number[] = [performance.now()];
    const labels = copyBatch();
    t.push(performance.now());
    opt.zeroGrad();
    t.push(performance.now());
    const logits = model.forward(x);
    t.push(performance.now());
    sink += loss.forward(logits, labels);
    t.push(performance.now());
    const g = loss.backward();
    t.push(performance.now());
    model.backwardParams(g);
    t.push(performance.now());
    opt.step();
    t.push(performance.now());
    names.forEach((n, i) => phases[n].push(t[i + 1] - t[i]));

    // The same step, layer by layer.
    const labels2 = copyBatch();
    opt.zeroGrad();
    let h = x;
    for (let i = 0; i < layers.length; i++) {
      const a = performance.now();
      h = layers[i].forward(h);
      fwd[i].push(performance.now() - a);
    }
    sink += loss.forward(h, labels2);
    let d = loss.backward();
    for (let i = layers.length - 1; i >= 0; i--) {
      const a = performance.now();
      const L = layers[i];
      if (i === 0 && L instanceof Dense) L.backwardParams(d);
      else d = L.backward(d);
      bwd[i].push(performance.now() - a);
    }
    opt.step();
  }
  if (sink === 1.2345) console.log(""); // keep the losses observable
  const M = x.shape[0];
  const per = (samples: number[][], backward: boolean) =>
    layers.map((L, i) => {
      const ms = median(samples[i]);
      let gflops: number | undefined;
      if (L instanceof Dense) {
        // forward: Y = X W^T; backward: dW = dY^T X (+ dX = dY W except for the first layer).
        const mm = 2 * M * L.inFeatures * L.outFeatures;
        const flops = backward ? (i === 0 ? mm : 2 * mm) : mm;
        gflops = flops / ms / 1e6;
      }
      return { layer: `${i}: ${layerName(L)}`, ms, gflops };
    });
  const med = Object.fromEntries(names.map((n) => [n, median(phases[n])]));
  return {
    phases: med,
    phaseSum: Object.values(med).reduce((a, b) => a + b, 0),
    forwardPerLayer: per(fwd, false),
    backwardPerLayer: per(bwd, true),
  };
}
