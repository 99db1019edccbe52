// Evaluation in eval mode over a whole data set, in batches of one fixed size: the last
// batch is padded with zeros (eval-mode layers treat rows independently), so that no layer
// sees a new shape and reallocates. fit(), evaluate() and the experiments use this one loop.
import { getBackend } from "../backend.js";
import { gatherSamples, type Samples, toSamples, type Dataset } from "../data/dataset.js";
import { CrossEntropyLoss } from "../loss.js";
import type { Module } from "../module.js";
import { checkOptions, describe } from "../options.js";
import { fmt } from "../shape.js";
import { Tensor } from "../tensor.js";

export interface EvaluateOptions {
  /** Default 256 (or fewer if there are fewer samples). */
  batchSize?: number;
  /** Default new CrossEntropyLoss(). */
  loss?: CrossEntropyLoss;
}

export interface EvalResult {
  /** Mean cross-entropy over all samples. */
  loss: number;
  /** Share of samples whose largest logit is the label's, in [0, 1]. */
  accuracy: number;
  count: number;
}

/**
 * Called after each batch's forward with one layer's output (a Sequential's layer `index`):
 * rows [0, rows) of `output` are samples [from, from + rows).
 */
export type Observer = (index: number, output: Tensor, from: number, rows: number) => void;

/** A model whose forward can report every layer's output (Sequential). */
interface Observable {
  forwardObserved(x: Tensor, observe: (index: number, output: Tensor) => void): Tensor;
}

function observable(model: Module): Observable {
  if (typeof (model as Partial<Observable>).forwardObserved !== "function") throw new Error("Evaluator: observing layer outputs needs a model with forwardObserved (a Sequential)");
  return model as unknown as Observable;
}

/** Index of the largest of the N values of row r of z. */
export function argmaxRow(z: Float32Array, r: number, N: number): number {
  let best = 0;
  const o = r * N;
  for (let c = 1; c < N; c++) if (z[o + c] > z[o + best]) best = c;
  return best;
}

/** The evaluation loop's buffers (an input tensor of batch B, int32 labels, a loss), reused from call to call. */
export class Evaluator {
  readonly batchSize: number;
  private readonly input: Tensor;
  private readonly labels: Int32Array;
  private readonly loss: CrossEntropyLoss;
  private readonly ownsLoss: boolean;

  constructor(featureShape: readonly number[], batchSize: number, loss?: CrossEntropyLoss) {
    this.batchSize = batchSize;
    this.input = new Tensor(getBackend(), [batchSize, ...featureShape], "Evaluator");
    this.labels = new Int32Array(batchSize);
    this.ownsLoss = !loss;
    this.loss = loss ?? new CrossEntropyLoss();
  }

  /** Mean loss and accuracy of `model` over all of `s` in eval mode (the previous mode is restored). */
  run(model: Module, s: Samples, observe?: Observer): EvalResult {
    return this.runBatches(model, s.count, (input, labels, from, rows) => gatherSamples(input, labels, s, null, from, rows), observe);
  }

  /**
   * run() over `count` samples that `fill` writes batch by batch: rows [0, rows) of `input`
   * and `labels` get samples [from, from + rows) (data kept in another form, e.g. uint8 images
   * converted per batch). The rest of a short last batch is zeroed here.
   */
  runBatches(model: Module, count: number, fill: (input: Tensor, labels: Int32Array, from: number, rows: number) => void, observe?: Observer): EvalResult {
    const wasTraining = model.training;
    model.eval();
    try {
      const { batchSize: B, labels, input } = this;
      const features = input.size / B;
      let lossSum = 0, correct = 0;
      for (let from = 0; from < count; from += B) {
        const rows = Math.min(B, count - from);
        fill(input, labels, from, rows);
        if (rows < B) input.data.fill(0, rows * features);
        const logits = observe ? observable(model).forwardObserved(input, (i, h) => observe(i, h, from, rows)) : model.forward(input);
        if (logits.shape.length !== 2 || logits.shape[0] !== B) {
          throw new Error(`evaluate: expected the model to return logits [${B}, classes], got ${fmt(logits.shape)}`);
        }
        lossSum += this.loss.forwardRows(logits, labels, rows) * rows;
        const N = logits.shape[1];
        const z = logits.data;
        for (let r = 0; r < rows; r++) if (argmaxRow(z, r, N) === labels[r]) correct++;
      }
      return { loss: lossSum / count, accuracy: correct / count, count };
    } finally {
      model.train(wasTraining);
    }
  }

  dispose(): void {
    this.input.release();
    if (this.ownsLoss) this.loss.dispose();
  }
}

/** Throws unless `model` has what training and evaluation call. */
export function checkModel(where: string, model: unknown): asserts model is Module {
  const m = model as Partial<Module> | null;
  if (m === null || typeof m !== "object" || typeof m.forward !== "function" || typeof m.backward !== "function" || typeof m.train !== "function") {
    throw new Error(`${where}: expected a model (a Module such as Sequential), got ${describe(model)}`);
  }
}

/** A positive integer option, or an error naming it. */
export function positiveInt(where: string, key: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw new Error(`${where}: ${key} must be a positive integer, got ${describe(v)}`);
  return v;
}

/** Loss and accuracy of `model` on `data`, in eval mode (the previous mode is restored). */
export function evaluate(model: Module, data: Dataset, opts?: EvaluateOptions): EvalResult {
  checkModel("evaluate", model);
  const options = checkOptions("evaluate", opts, ["batchSize", "loss"]);
  const s = toSamples(data, "evaluate");
  const B = Math.min(positiveInt("evaluate", "batchSize", options.batchSize ?? 256), s.count);
  const ev = new Evaluator(s.featureShape, B, options.loss);
  try {
    return ev.run(model, s);
  } finally {
    ev.dispose();
  }
}
