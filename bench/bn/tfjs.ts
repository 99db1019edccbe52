// Batch Normalization in @tensorflow/tfjs, on the backend bench/harness/peers.ts selected
// (wasm: XNNPACK-era kernels, SIMD, no threads in Node; cpu: plain JavaScript). tfjs
// normalizes channels-last only, so it always runs on [..., C] data (an NCHW case is
// transposed to NHWC first, and its outputs transposed back for the correctness check).
//   forward   = tf.moments over every axis but the last + tf.batchNorm
//   backward  = tf.grads of x -> batchNorm(x, moments(x)) w.r.t. x, gamma, beta with the
//               upstream gradient dy (the tape differentiates through the moments too).
//               tfjs cannot backpropagate without re-running the forward under the tape,
//               so this time includes a forward.
//   inference = tf.batchNorm with the given running mean and variance
// Both backends run their kernels synchronously inside the op call (the cpu backend's
// dataSync right after an op takes ~0 ms), so the timed functions read back only the
// per-channel outputs with dataSync and do not copy the 16 MB outputs out of tfjs.
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";

export interface TfInputs {
  /** Channels-last shape, [..., C]. */
  shape: number[];
  x: Float32Array;
  dy: Float32Array;
  gamma: Float32Array;
  beta: Float32Array;
  runMean: Float32Array;
  runVar: Float32Array;
  eps: number;
}

export class TfBatchNorm {
  private readonly x: tf.Tensor;
  private readonly dy: tf.Tensor;
  private readonly gamma: tf.Tensor1D;
  private readonly beta: tf.Tensor1D;
  private readonly runMean: tf.Tensor1D;
  private readonly runVar: tf.Tensor1D;
  private readonly eps: number;
  private readonly axes: number[];
  private readonly gradFn: (args: tf.Tensor[], dy?: tf.Tensor) => tf.Tensor[];
  sink = 0;

  /** Creates the tensors on the current tfjs backend (select it first). */
  constructor(inp: TfInputs) {
    this.x = tf.tensor(inp.x, inp.shape);
    this.dy = tf.tensor(inp.dy, inp.shape);
    this.gamma = tf.tensor1d(inp.gamma);
    this.beta = tf.tensor1d(inp.beta);
    this.runMean = tf.tensor1d(inp.runMean);
    this.runVar = tf.tensor1d(inp.runVar);
    this.eps = inp.eps;
    this.axes = inp.shape.slice(0, -1).map((_, i) => i);
    const eps = this.eps, axes = this.axes;
    this.gradFn = tf.grads((x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const { mean, variance } = tf.moments(x, axes);
      return tf.batchNorm(x, mean, variance, b as tf.Tensor1D, g as tf.Tensor1D, eps);
    });
  }

  private forwardTensors(): tf.Tensor[] {
    return tf.tidy(() => {
      const { mean, variance } = tf.moments(this.x, this.axes);
      return [tf.batchNorm(this.x, mean, variance, this.beta, this.gamma, this.eps), mean, variance];
    });
  }

  private backwardTensors(): tf.Tensor[] {
    return tf.tidy(() => this.gradFn([this.x, this.gamma, this.beta], this.dy));
  }

  private inferenceTensor(): tf.Tensor {
    return tf.tidy(() => tf.batchNorm(this.x, this.runMean, this.runVar, this.beta, this.gamma, this.eps));
  }

  /** Timed: training forward (y, batch mean, batch var). */
  forward = (): void => {
    const r = this.forwardTensors();
    this.sink += r[1].dataSync()[0] + r[2].dataSync()[0];
    tf.dispose(r);
  };

  /** Timed: backward (dx, dgamma, dbeta), a taped forward included. */
  backward = (): void => {
    const r = this.backwardTensors();
    this.sink += r[1].dataSync()[0] + r[2].dataSync()[0];
    tf.dispose(r);
  };

  /** Timed: inference y = batchNorm(x, runMean, runVar). */
  inference = (): void => {
    const r = this.inferenceTensor();
    tf.dispose(r);
  };

  /** Outputs for the correctness check (full copies). */
  outputs() {
    const f = this.forwardTensors();
    const b = this.backwardTensors();
    const i = this.inferenceTensor();
    const read = (t: tf.Tensor) => t.dataSync() as Float32Array;
    const out = {
      y: read(f[0]),
      mean: read(f[1]),
      var: read(f[2]),
      dx: read(b[0]),
      dgamma: read(b[1]),
      dbeta: read(b[2]),
      yInf: read(i),
    };
    tf.dispose([...f, ...b, i]);
    return out;
  }

  dispose(): void {
    tf.dispose([this.x, this.dy, this.gamma, this.beta, this.runMean, this.runVar]);
  }
}
