// BatchNorm2d followed by ReLU in one layer, channels-last: y = max(0, bn(x)). It keeps
// only what backward needs, its input (the convolution's output, which the convolution
// keeps anyway) and the per-channel mean and invStd, where the separate layers keep
// BatchNorm's output and ReLU's output besides. Backward rebuilds ReLU's mask from them,
// and recompute() rebuilds the output for a memory-lean container. Same parameters, state
// and state-dict keys as BatchNorm2d: Sequential([conv, new BatchNormReLU2d(C)]) loads
// PyTorch's Sequential(conv, bn, relu) state ("1.bias", "1.running_mean", ...; ReLU has none).
import type { GradTarget } from "../module.js";
import { type BnLayout, bnReluApply, bnReluBackward, bnReluForwardTrain, bnSavedFromRunning } from "../ops/bn.js";
import { fmt, sameShape } from "../shape.js";
import { checkIntoArg, checkOutArg, checkTensorArg, type Tensor } from "../tensor.js";
import { type BatchNormOptions, BatchNorm2d } from "./batchnorm.js";
import { deliverGrad } from "./io.js";

interface Saved {
  x: Tensor;
  layout: BnLayout;
  batchStats: boolean;
}

/** Whether t is [N, H, W, C] with rows of C channels a fixed stride apart (contiguous, or a channel slice). */
function rowsOfChannels(t: Tensor): boolean {
  const s = t.strides, d = t.shape, r = d.length;
  if (s[r - 1] !== 1 && d[r - 1] !== 1) return false;
  for (let i = 0; i < r - 2; i++) if (d[i] !== 1 && s[i] !== s[i + 1] * d[i + 1]) return false;
  return true;
}

export class BatchNormReLU2d extends BatchNorm2d {
  private savedIn: Saved | null = null;
  /** The backward kernel reads x[i] before it writes dx[i], so into.dx may be into.x. */
  readonly gradOverInput = true;
  /** backward() and recompute() read the input and statistics, never the output. */
  readonly backwardIgnoresOutput = true;

  constructor(numFeatures: number, options: BatchNormOptions = {}) {
    if (options && typeof options === "object" && (options.renorm !== undefined || options.virtualBatchSize !== undefined)) {
      throw new Error("BatchNormReLU2d: renorm and virtualBatchSize are not supported by the fused layer; use BatchNorm2d followed by ReLU");
    }
    super(numFeatures, options);
    if (this.dataFormat !== "channelsLast") {
      throw new Error(`BatchNormReLU2d: only dataFormat 'channelsLast' is supported (got '${this.dataFormat}'); use BatchNorm2d followed by ReLU for channels-first`);
    }
  }

  /** relu(bn(x)), written straight into `out` when given (a channel slice of a concatenation). */
  forward(x: Tensor, out?: Tensor): Tensor {
    this.assertUsable("forward");
    checkTensorArg(x, this.backend, this, "forward");
    checkOutArg(out, this.backend, this);
    const layout = this.checkedLayout(x.shape);
    const y = this.outputFor(x, out);
    const batchStats = this.usesBatchStats;
    if (batchStats) {
      bnReluForwardTrain(y, this.stats, x, this.gamma, this.beta, this.eps, layout, this.scratch);
      if (this.training && this.trackRunningStats) this.updateRunningStats(layout.m);
    } else {
      bnSavedFromRunning(this.stats.mean, this.stats.invStd, this.runningMean!, this.runningVar!, this.eps);
      bnReluApply(y, x, this.stats.mean, this.stats.invStd, this.gamma, this.beta, layout, this.scratch);
    }
    const s = this.savedIn ?? (this.savedIn = { x, layout, batchStats });
    s.x = x;
    s.layout = layout;
    s.batchStats = batchStats;
    return y;
  }

  private outputFor(x: Tensor, out: Tensor | undefined): Tensor {
    if (!out) return this.bufs.get("y", x.shape);
    checkTensorArg(out, this.backend, this, "forward (out)", true);
    if (!sameShape(out.shape, x.shape)) throw new Error(`${this}.forward: expected an output tensor of shape ${fmt(x.shape)}, got ${fmt(out.shape)}`);
    if (!rowsOfChannels(out)) throw new Error(`${this}.forward: the output must be contiguous or a channel slice, got strides ${fmt(out.strides)}`);
    return out;
  }

  /** The last forward's output again, into `out`, from x (that forward's input) and the saved statistics. */
  recompute(x: Tensor | null, out: Tensor): void {
    this.assertUsable("recompute");
    if (!x) throw new Error(`${this.name}.recompute: needs the last forward's input (the convolution output), got null`);
    const s = this.savedIn;
    if (!s) throw new Error(`${this}.recompute: called before forward`);
    checkTensorArg(x, this.backend, this, "recompute");
    if (!sameShape(x.shape, s.x.shape)) throw new Error(`${this}.recompute: expected the last forward's input shape ${fmt(s.x.shape)}, got ${fmt(x.shape)}`);
    bnReluApply(this.outputFor(x, out), x, this.stats.mean, this.stats.invStd, this.gamma, this.beta, s.layout, this.scratch);
  }

  /** dx for the last forward's input (into.x when given); accumulates weight.grad and bias.grad. */
  backward(dy: Tensor, into?: GradTarget): Tensor {
    this.assertUsable("backward");
    checkIntoArg(into, this.backend, this);
    const s = this.savedIn;
    if (!s) throw new Error(`${this}.backward: called before forward (there is no saved input to differentiate)`);
    checkTensorArg(dy, this.backend, this, "backward", true);
    if (!sameShape(dy.shape, s.x.shape)) throw new Error(`${this}.backward: expected dy of shape ${fmt(s.x.shape)} (the last forward's output), got ${fmt(dy.shape)}`);
    if (!rowsOfChannels(dy)) throw new Error(`${this}.backward: dy must be contiguous or a channel slice, got strides ${fmt(dy.strides)}`);
    const x = into?.x ?? s.x;
    if (x.isDisposed) throw new Error(`${this}.backward: the input of the last forward was disposed; keep it alive until backward`);
    const direct = into !== undefined && !into.accumulate && into.dx.contiguous && sameShape(into.dx.shape, x.shape);
    const dx = direct ? into.dx : this.bufs.get("dx", x.shape);
    bnReluBackward(dx, this.weight?.grad ?? null, this.bias?.grad ?? null, dy, x, this.stats.mean, this.stats.invStd, this.gamma, this.beta, s.layout, s.batchStats, this.scratch);
    return direct ? dx : deliverGrad(this, dx, into);
  }

  protected releaseMemory(): void {
    super.releaseMemory();
    this.savedIn = null;
  }
}
