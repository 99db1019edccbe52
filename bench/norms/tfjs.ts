// A normalization in @tensorflow/tfjs as tf.moments plus arithmetic (tfjs has no LayerNorm,
// GroupNorm or InstanceNorm op): x viewed as form.shape (a reshape of our memory),
//   forward  = moments over form.axes (keepDims), y = (x - mean) * rsqrt(var + eps) * gamma + beta
//   backward = tf.grads of that map w.r.t. x, gamma, beta with the upstream gradient dy; the
//              tape re-runs the forward, so this time includes one.
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import type { TfForm } from "./cases.js";

export class TfNorm {
  private readonly x: tf.Tensor;
  private readonly dy: tf.Tensor;
  private readonly gamma: tf.Tensor;
  private readonly beta: tf.Tensor;
  private readonly gradFn: (args: tf.Tensor[], dy?: tf.Tensor) => tf.Tensor[];
  sink = 0;

  constructor(form: TfForm, x: Float32Array, dy: Float32Array, gamma: Float32Array, beta: Float32Array, eps: number) {
    this.x = tf.tensor(x, form.shape);
    this.dy = tf.tensor(dy, form.shape);
    this.gamma = tf.tensor(gamma, form.param.length ? form.param : []);
    this.beta = tf.tensor(beta, form.param.length ? form.param : []);
    const f = (xt: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const { mean, variance } = tf.moments(xt, form.axes, true);
      return tf.add(tf.mul(tf.mul(tf.sub(xt, mean), tf.rsqrt(tf.add(variance, eps))), g), b);
    };
    this.apply = () => f(this.x, this.gamma, this.beta);
    this.gradFn = tf.grads(f);
  }

  private readonly apply: () => tf.Tensor;

  /** Timed: y (read back one value: the wasm backend computes synchronously anyway). */
  forward = (): void => {
    const y = tf.tidy(this.apply);
    this.sink += y.dataSync()[0];
    y.dispose();
  };

  /** Timed: dx, dgamma, dbeta, a taped forward included. */
  backward = (): void => {
    const r = tf.tidy(() => this.gradFn([this.x, this.gamma, this.beta], this.dy));
    this.sink += r[1].dataSync()[0];
    tf.dispose(r);
  };

  outputs(): { y: Float32Array; dx: Float32Array; dgamma: Float32Array; dbeta: Float32Array } {
    const y = tf.tidy(this.apply);
    const r = tf.tidy(() => this.gradFn([this.x, this.gamma, this.beta], this.dy));
    const read = (t: tf.Tensor) => t.dataSync() as Float32Array;
    const out = { y: read(y), dx: read(r[0]), dgamma: read(r[1]), dbeta: read(r[2]) };
    tf.dispose([y, ...r]);
    return out;
  }

  dispose(): void {
    tf.dispose([this.x, this.dy, this.gamma, this.beta]);
  }
}
