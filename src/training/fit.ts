// fit(): the training loop a PyTorch user writes by hand, packaged Keras-style: seeded
// shuffling, mini-batches copied into one reused input tensor (the only copy per step: the
// data pipeline), the shared TrainStep, periodic evaluation with the shared Evaluator,
// history and progress output. Once the first step has run, a step allocates no wasm memory.
// The loop is a generator that pauses after every step: fit() runs it to the end at once, or,
// with yieldEvery, gives the event loop a turn every yieldEvery ms (a page stays responsive,
// a worker receives its messages).
import { getBackend } from "../backend.js";
import { type Dataset, gatherSamples, type Samples, toSamples } from "../data/dataset.js";
import { CrossEntropyLoss, type Loss } from "../loss.js";
import type { Module } from "../module.js";
import type { Optimizer } from "../optim/sgd.js";
import { boolOption, checkOptions, describe } from "../options.js";
import { Rng } from "../random.js";
import { fmt } from "../shape.js";
import { Tensor } from "../tensor.js";
import { checkModel, type EvalResult, Evaluator, positiveInt } from "./evaluate.js";
import { fmtLoss, Progress } from "./progress.js";
import { TrainStep } from "./step.js";
import { runSteps, runStepsYielding } from "./yield.js";

export interface StepInfo {
  /** Steps done so far, counting this one (from 1). */
  step: number;
  /** Epoch of this step (from 0). */
  epoch: number;
  /** Batch within the epoch (from 0). */
  batch: number;
  loss: number;
  lr: number;
}

export interface EvalInfo {
  step: number;
  epoch: number;
  valLoss: number;
  valAccuracy: number;
}

export interface EpochInfo {
  epoch: number;
  step: number;
  /** Mean training loss over the epoch's batches (finite ones). */
  loss: number;
  /** The last evaluation's results, if there is validation data. */
  valLoss?: number;
  valAccuracy?: number;
  lr: number;
}

/** Called during fit(); returning false stops training (after the current step). */
export interface Callbacks {
  onStep?(info: StepInfo): void | boolean;
  onEval?(info: EvalInfo): void | boolean;
  onEpochEnd?(info: EpochInfo): void | boolean;
}

export interface FitOptions {
  /** Passes over the data (default 1 when steps is not given). */
  epochs?: number;
  /** Total optimizer steps, instead of epochs (the data is reshuffled after each pass). */
  steps?: number;
  /** Default 32. */
  batchSize?: number;
  /** E.g. new SGD(model.parameters(), { lr: 0.01 }). */
  optimizer: Optimizer;
  /** Default new CrossEntropyLoss(). */
  loss?: Loss;
  /** Seed of the shuffling. Default 0. */
  seed?: number;
  /** Reshuffle the samples every epoch. Default true. */
  shuffle?: boolean;
  /** Drop the last, incomplete batch of each epoch (PyTorch's drop_last). Default false. */
  dropLast?: boolean;
  /** Data to evaluate on (loss and accuracy, in eval mode). */
  validation?: Dataset;
  /** Evaluate every this many steps (default: at the end of each epoch). */
  evalEvery?: number;
  /** Batch size of the evaluation. Default batchSize (so that no layer reallocates). */
  evalBatchSize?: number;
  callbacks?: Callbacks;
  /** Stepped at the end of each epoch (StepLR, LambdaLR, LearningRateScheduler). */
  scheduler?: { step(): void };
  /** A NaN or infinite loss: throw an Error naming the step (default), or skip that update and go on. */
  onNonFinite?: "throw" | "continue";
  /** Progress output: a bar on a TTY, plain lines otherwise. Default true. */
  verbose?: boolean;
  /** Where plain progress lines go (instead of stdout / console.log); disables the TTY bar. */
  log?: (line: string) => void;
  /**
   * Run asynchronously: fit() returns a Promise and gives the event loop a turn whenever this
   * many milliseconds have passed since the last one (0: after every step). The model must not
   * be used elsewhere until the promise settles.
   */
  yieldEvery?: number;
}

export interface History {
  /** Step number (from 1) of each entry of loss. */
  step: number[];
  /** Training loss of every step. */
  loss: number[];
  /** Epoch (from 0) of every step. */
  epoch: number[];
  /** Learning rate used at every step. */
  lr: number[];
  /** Mean training loss of each completed epoch. */
  epochLoss: number[];
  /** Step after which each evaluation ran. */
  valStep: number[];
  valLoss: number[];
  valAccuracy: number[];
  /** Steps and completed epochs done. */
  steps: number;
  epochs: number;
  /** Whether a callback stopped training early. */
  stopped: boolean;
  seconds: number;
}

const FIT_OPTIONS = [
  "epochs", "steps", "batchSize", "optimizer", "loss", "seed", "shuffle", "dropLast", "validation",
  "evalEvery", "evalBatchSize", "callbacks", "scheduler", "onNonFinite", "verbose", "log", "yieldEvery",
] as const;
const CALLBACKS = ["onStep", "onEval", "onEpochEnd"] as const;

/**
 * Checks every label against the model's output before the first step (a bad label found
 * mid-epoch would stop training after running statistics had moved): integers in
 * [0, classes) when the model can tell its output shape, >= 0 otherwise.
 */
function checkLabels(where: string, d: Samples, classes: number | null): void {
  const y = d.y;
  for (let i = 0; i < d.count; i++) {
    const c = y[i];
    if (c < 0 || (classes !== null && c >= classes)) {
      const range = classes === null ? "labels must be >= 0" : `the model outputs ${classes} classes, so labels must be integers in [0, ${classes})`;
      throw new Error(`${where}: label ${c} of sample ${i} is out of range: ${range}`);
    }
  }
}

/**
 * Trains `model` on `data` and returns the history. Each step: copy a shuffled batch into
 * the input tensor, forward, loss, zero the gradients, backward, optimizer step. With
 * `yieldEvery` (milliseconds) it returns a Promise of the history and yields to the event
 * loop between steps; the steps and their results are the same.
 */
export function fit(model: Module, data: Dataset, options: FitOptions & { yieldEvery: number }): Promise<History>;
export function fit(model: Module, data: Dataset, options: FitOptions & { yieldEvery?: undefined }): History;
export function fit(model: Module, data: Dataset, options: FitOptions): History | Promise<History>;
export function fit(model: Module, data: Dataset, options: FitOptions): History | Promise<History> {
  const every = (options as Partial<FitOptions> | null | undefined)?.yieldEvery;
  if (every === undefined) return runSteps(fitSteps(model, data, options));
  if (typeof every !== "number" || !(every >= 0) || !Number.isFinite(every)) {
    return Promise.reject(new Error(`fit: yieldEvery must be a non-negative number of milliseconds, got ${describe(every)}`));
  }
  return runStepsYielding(fitSteps(model, data, options), every);
}

/** fit()'s loop: checks the arguments on the first next(), then pauses after every step. */
function* fitSteps(model: Module, data: Dataset, options: FitOptions): Generator<void, History, void> {
  const where = "fit";
  checkModel(where, model);
  if (options === null || typeof options !== "object") throw new Error(`${where}: options are required, e.g. { epochs: 1, batchSize: 60, optimizer }`);
  checkOptions(where, options, FIT_OPTIONS);
  const d = toSamples(data, where);
  const opt = options.optimizer;
  if (!opt || typeof opt.step !== "function" || typeof opt.lr !== "number") {
    throw new Error(`${where}: options.optimizer is required, e.g. new SGD(model.parameters(), { lr: 0.01 }), got ${describe(opt)}`);
  }
  const B = positiveInt(where, "batchSize", options.batchSize ?? 32);
  if (options.epochs !== undefined && options.steps !== undefined) throw new Error(`${where}: give epochs or steps, not both`);
  const totalSteps = options.steps === undefined ? null : positiveInt(where, "steps", options.steps);
  const epochs = totalSteps !== null ? Infinity : (options.epochs ?? 1);
  if (totalSteps === null && (!Number.isInteger(epochs) || epochs < 0)) throw new Error(`${where}: epochs must be a non-negative integer, got ${options.epochs}`);
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed)) throw new Error(`${where}: seed must be an integer, got ${seed}`);
  const shuffle = boolOption(where, "shuffle", options.shuffle, true);
  const dropLast = boolOption(where, "dropLast", options.dropLast, false);
  const verbose = boolOption(where, "verbose", options.verbose, true);
  if (options.log !== undefined && typeof options.log !== "function") throw new Error(`${where}: log must be a function (line: string) => void, got ${describe(options.log)}`);
  const onNonFinite = options.onNonFinite ?? "throw";
  if (onNonFinite !== "throw" && onNonFinite !== "continue") throw new Error(`${where}: onNonFinite must be 'throw' or 'continue', got ${JSON.stringify(onNonFinite)}`);
  const evalEvery = options.evalEvery === undefined ? null : positiveInt(where, "evalEvery", options.evalEvery);
  const val = options.validation === undefined ? null : toSamples(options.validation, `${where}: validation`);
  if (val && val.features !== d.features) {
    throw new Error(`${where}: validation samples have shape ${fmt(val.featureShape)}, but the training samples have ${fmt(d.featureShape)}`);
  }
  const evalB = options.evalBatchSize === undefined ? null : positiveInt(where, "evalBatchSize", options.evalBatchSize);
  const cb = checkOptions(`${where}: callbacks`, options.callbacks, CALLBACKS);
  for (const k of CALLBACKS) {
    if (cb[k] !== undefined && typeof cb[k] !== "function") throw new Error(`${where}: callbacks.${k} must be a function, got ${describe(cb[k])}`);
  }
  if (options.scheduler !== undefined && typeof options.scheduler?.step !== "function") throw new Error(`${where}: scheduler must have a step() method (StepLR, LambdaLR, ...), got ${describe(options.scheduler)}`);
  const loss = options.loss ?? new CrossEntropyLoss();
  if (typeof loss.forward !== "function" || typeof loss.backward !== "function") throw new Error(`${where}: options.loss must have forward(logits, labels) and backward(), got ${describe(loss)}`);

  // The last, partial batch is trained on when it holds 2 or more samples and dropped when it
  // holds 1 (batch statistics need two values; one sample of an epoch changes next to nothing).
  const partial = d.count % B;
  const dropTail = dropLast || partial === 1;
  const batchesPerEpoch = dropTail ? Math.floor(d.count / B) : Math.ceil(d.count / B);
  if (batchesPerEpoch === 0) {
    throw new Error(`${where}: ${d.count} sample${d.count === 1 ? "" : "s"} with batchSize ${B} leave${d.count === 1 ? "s" : ""} no batch to train on (${dropLast ? "dropLast drops the partial one" : "a last batch of 1 sample is dropped"}); use a batchSize of at most ${d.count}`);
  }
  const lastRows = dropTail ? B : d.count - (batchesPerEpoch - 1) * B;
  const backend = getBackend();

  const history: History = { step: [], loss: [], epoch: [], lr: [], epochLoss: [], valStep: [], valLoss: [], valAccuracy: [], steps: 0, epochs: 0, stopped: false, seconds: 0 };
  const progress = new Progress(verbose, options.log);
  const t0 = performance.now();
  const wasTraining = model.training;
  const perm = new Int32Array(d.count);
  for (let i = 0; i < d.count; i++) perm[i] = i;
  const rng = new Rng(seed);

  const full = new Tensor(backend, [Math.min(B, d.count), ...d.featureShape], "fit");
  const fullLabels = new Int32Array(full.shape[0]);
  let tail: Tensor | null = null;
  let tailLabels: Int32Array | null = null;
  if (lastRows !== full.shape[0]) {
    tail = new Tensor(backend, [lastRows, ...d.featureShape], "fit");
    tailLabels = new Int32Array(lastRows);
  }
  // Evaluation batches have the training batch's shape (padded), so that no layer reallocates.
  const evaluator = val ? new Evaluator(d.featureShape, evalB ?? full.shape[0], loss instanceof CrossEntropyLoss ? loss : undefined) : null;
  // A skipped step (onNonFinite: 'continue') must leave the model as it was before it.
  const trainStep = new TrainStep(model, loss, opt, { undoNonFinite: onNonFinite === "continue" });

  let step = 0;
  // Written by runEval (a closure, which TypeScript's narrowing does not follow).
  const evals: { last: EvalResult | null; step: number } = { last: null, step: -1 };
  const elapsed = () => (performance.now() - t0) / 1000;
  const runEval = (epoch: number): boolean => {
    if (!evaluator || !val) return true;
    const r = evaluator.run(model, val);
    evals.last = r;
    evals.step = step;
    history.valStep.push(step);
    history.valLoss.push(r.loss);
    history.valAccuracy.push(r.accuracy);
    if (evalEvery !== null) progress.print(`step ${step}: val_loss ${fmtLoss(r.loss)}  val_acc ${(100 * r.accuracy).toFixed(2)}%`);
    return cb.onEval?.({ step, epoch, valLoss: r.loss, valAccuracy: r.accuracy }) !== false;
  };

  const valText = () => {
    const ev = evals.last;
    return ev && evals.step === step ? `  val_loss ${fmtLoss(ev.loss)}  val_acc ${(100 * ev.accuracy).toFixed(2)}%` : "";
  };
  let printedStep = 0;
  let epochSum = 0, epochCount = 0;

  try {
    model.train(true);
    // Every batch shape through the whole model, and every label, before the first step.
    if (typeof model.outputShape === "function") {
      const out = model.outputShape(full.shape);
      if (tail) model.outputShape(tail.shape);
      checkLabels(where, d, out.length === 2 ? out[1] : null);
      if (val) checkLabels(`${where}: validation`, val, out.length === 2 ? out[1] : null);
    } else {
      checkLabels(where, d, null);
      if (val) checkLabels(`${where}: validation`, val, null);
    }
    let go = true;
    for (let epoch = 0; go && epoch < epochs; epoch++) {
      if (shuffle) rng.shuffle(perm);
      epochSum = 0;
      epochCount = 0;
      let batchesDone = 0;
      for (let b = 0; b < batchesPerEpoch; b++) {
        batchesDone++;
        const start = b * B;
        const rows = Math.min(B, d.count - start);
        const input = rows === full.shape[0] ? full : tail!;
        const labels = rows === full.shape[0] ? fullLabels : tailLabels!;
        gatherSamples(input, labels, d, perm, start, rows);
        const value = trainStep.run(input, labels);
        step++;
        const lr = opt.lr;
        history.step.push(step);
        history.loss.push(value);
        history.epoch.push(epoch);
        history.lr.push(lr);
        if (Number.isFinite(value)) {
          epochSum += value;
          epochCount++;
        } else if (onNonFinite === "throw") {
          throw new Error(
            `fit: the loss is ${value} at step ${step} (epoch ${epoch + 1}, batch ${b + 1} of ${batchesPerEpoch}); ` +
              "lower the learning rate or check the data for NaN/Inf values, or pass onNonFinite: 'continue' to skip such steps",
          );
        }
        history.steps = step;
        if (cb.onStep?.({ step, epoch, batch: b, loss: value, lr }) === false) go = false;
        if (go && evalEvery !== null && step % evalEvery === 0 && !runEval(epoch)) go = false;
        if (progress.due()) {
          const head = totalSteps !== null ? `step ${step}/${totalSteps}` : `epoch ${epoch + 1}/${epochs} ${b + 1}/${batchesPerEpoch}`;
          progress.bar(`${head} {bar} loss ${fmtLoss(epochCount > 0 ? epochSum / epochCount : value)}  ${elapsed().toFixed(1)}s`, totalSteps !== null ? step : b + 1, totalSteps ?? batchesPerEpoch);
        }
        if (totalSteps !== null && step >= totalSteps) go = false;
        if (!go) break;
        yield;
      }
      // An epoch cut short by `steps` or a callback is not counted as complete.
      const complete = batchesDone === batchesPerEpoch;
      const meanLoss = epochCount > 0 ? epochSum / epochCount : NaN;
      if (complete) {
        history.epochs = epoch + 1;
        history.epochLoss.push(meanLoss);
        if (evalEvery === null && !runEval(epoch)) go = false;
        const ev = evals.last;
        progress.print(`${totalSteps !== null ? `epoch ${epoch + 1} (step ${step}/${totalSteps})` : `epoch ${epoch + 1}/${epochs}`}  loss ${fmtLoss(meanLoss)}${valText()}  ${elapsed().toFixed(1)}s`);
        printedStep = step;
        const info: EpochInfo = { epoch, step, loss: meanLoss, lr: opt.lr };
        if (ev) {
          info.valLoss = ev.loss;
          info.valAccuracy = ev.accuracy;
        }
        if (cb.onEpochEnd?.(info) === false) go = false;
        options.scheduler?.step();
      }
    }
    // Ended inside an epoch (steps, or a callback): evaluate the final weights, and a closing line.
    if (val && step > 0 && evals.step !== step) runEval(history.epoch[history.epoch.length - 1] ?? 0);
    if (step > 0 && printedStep !== step) {
      const mean = epochCount > 0 ? epochSum / epochCount : NaN;
      progress.print(`step ${step}${totalSteps !== null ? `/${totalSteps}` : ""}  loss ${fmtLoss(mean)} (this epoch)${evalEvery === null ? valText() : ""}  ${elapsed().toFixed(1)}s`);
    }
    history.stopped = go === false && (totalSteps === null ? history.epochs < epochs : step < totalSteps);
  } finally {
    progress.end();
    history.seconds = elapsed();
    model.train(wasTraining);
    full.release();
    tail?.release();
    evaluator?.dispose();
    if (!options.loss) (loss as CrossEntropyLoss).dispose();
  }
  return history;
}
