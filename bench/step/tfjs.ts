// The tfjs side of bench/step.bench.ts: the paper's network as a tf.layers sequential
// model (dense -> batchNormalization -> sigmoid, three times, then dense 10), softmax
// cross-entropy on the logits, tf.train.sgd(0.5), in two training steps:
//   - "trainOnBatch": model.compile + model.trainOnBatch (Keras' own loop; it awaits the loss);
//   - "variableGrads": tf.variableGrads over model.apply(x, { training: true }) and
//     optimizer.applyGradients, then the loss's dataSync (a custom loop, less bookkeeping).
// Both build the input and one-hot label tensors from the batch each step (the copy into
// tfjs memory is part of the step, as the copy into wasm memory is part of ours).
// Settings that make it the same model as ours and PyTorch's: BN epsilon 1e-5 (Keras'
// default is 1e-3) and momentum 0.9 (Keras keeps 0.9 of the old estimate, PyTorch's 0.1 is
// the new batch's share); dense kernels are [in, out] in tfjs, [out, in] in ours.
import * as tf from "@tensorflow/tfjs";
import { transpose } from "../harness/index.js";

/** One Dense layer's initial parameters in our (PyTorch) layout: weight [out, in]. */
export interface DenseInit {
  inF: number;
  outF: number;
  weight: Float32Array;
  bias: Float32Array;
}

export interface TfStepOptions {
  lr: number;
  eps: number;
  /** PyTorch's momentum (the new batch's share of the running estimates). */
  momentum: number;
  batch: number;
  classes: number;
}

export type TfStepKind = "trainOnBatch" | "variableGrads";

/** The tf.layers model with our initial weights (dense kernels transposed to [in, out]). */
export function buildTfModel(dense: readonly DenseInit[], o: TfStepOptions): tf.Sequential {
  const model = tf.sequential();
  dense.forEach((d, i) => {
    const last = i === dense.length - 1;
    model.add(tf.layers.dense({ units: d.outF, useBias: true, ...(i === 0 ? { inputShape: [d.inF] } : {}) }));
    if (!last) {
      model.add(tf.layers.batchNormalization({ axis: -1, epsilon: o.eps, momentum: 1 - o.momentum }));
      model.add(tf.layers.activation({ activation: "sigmoid" }));
    }
  });
  const denseLayers = model.layers.filter((l) => l.getClassName() === "Dense");
  if (denseLayers.length !== dense.length) throw new Error("bench: tfjs model has the wrong number of dense layers");
  denseLayers.forEach((l, i) => {
    const d = dense[i];
    const w = [tf.tensor2d(transpose(d.weight, d.outF, d.inF), [d.inF, d.outF]), tf.tensor1d(d.bias)];
    l.setWeights(w);
    tf.dispose(w);
  });
  return model;
}

/** One training step on a batch given as JS arrays; returns the loss. */
export interface TfStepper {
  kind: TfStepKind;
  step(x: Float32Array, labels: Uint8Array): Promise<number> | number;
  /** The trainable parameters in our order and layout (Dense weight [out, in], bias; BN gamma, beta). */
  params(): Float32Array[];
  dispose(): void;
}

export function makeTfStepper(kind: TfStepKind, dense: readonly DenseInit[], o: TfStepOptions): TfStepper {
  const model = buildTfModel(dense, o);
  const opt = tf.train.sgd(o.lr);
  const inF = dense[0].inF;
  const onehot = new Float32Array(o.batch * o.classes);
  const inputs = (x: Float32Array, labels: Uint8Array): [tf.Tensor2D, tf.Tensor2D] => {
    onehot.fill(0);
    for (let i = 0; i < o.batch; i++) onehot[i * o.classes + labels[i]] = 1;
    return [tf.tensor2d(x, [o.batch, inF]), tf.tensor2d(onehot, [o.batch, o.classes])];
  };
  const lossFn = (yTrue: tf.Tensor, logits: tf.Tensor) => tf.losses.softmaxCrossEntropy(yTrue, logits);
  let step: TfStepper["step"];
  if (kind === "trainOnBatch") {
    model.compile({ optimizer: opt, loss: lossFn });
    step = async (x, labels) => {
      const [xt, yt] = inputs(x, labels);
      const r = await model.trainOnBatch(xt, yt);
      tf.dispose([xt, yt]);
      return Array.isArray(r) ? r[0] : r;
    };
  } else {
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    step = (x, labels) => {
      const [xt, yt] = inputs(x, labels);
      const { value, grads } = tf.variableGrads(() => lossFn(yt, model.apply(xt, { training: true }) as tf.Tensor) as tf.Scalar, vars);
      opt.applyGradients(grads);
      const l = value.dataSync()[0];
      tf.dispose([xt, yt, value, ...Object.values(grads)]);
      return l;
    };
  }
  return {
    kind,
    step,
    params() {
      const out: Float32Array[] = [];
      for (const layer of model.layers) {
        const cls = layer.getClassName();
        const ws = layer.trainableWeights.map((w) => w.read().dataSync() as Float32Array);
        if (cls === "Dense") {
          const shape = layer.trainableWeights[0].shape as number[];
          out.push(transpose(ws[0], shape[0], shape[1]), Float32Array.from(ws[1]));
        } else if (cls === "BatchNormalization") out.push(Float32Array.from(ws[0]), Float32Array.from(ws[1]));
      }
      return out;
    },
    dispose() {
      model.dispose();
      opt.dispose();
    },
  };
}
