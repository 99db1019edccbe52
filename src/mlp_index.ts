// The public API of the MLP part (issue 3): layers, model, loss, optimizers, schedules, the
// training loop, serialisation and BatchNorm folding. Re-exported by src/index.ts.
export { Dense } from "./layers/dense.js";
export type { DenseInit, DenseOptions } from "./layers/dense.js";
export { Activation, ReLU, Sigmoid, Tanh } from "./layers/activations.js";
export { Dropout } from "./layers/dropout.js";
export type { DropoutOptions } from "./layers/dropout.js";
export { Flatten } from "./layers/flatten.js";
export { Sequential } from "./sequential.js";
export { CrossEntropyLoss } from "./loss.js";
export type { Labels, Loss } from "./loss.js";
export { SGD } from "./optim/sgd.js";
export type { Optimizer, SGDOptions } from "./optim/sgd.js";
export { Adam, AdamW } from "./optim/adam.js";
export type { AdamOptions } from "./optim/adam.js";
export { LambdaLR, LearningRateScheduler, StepLR, stepDecay } from "./optim/schedule.js";
export type { Scheduler, StepDecayOptions, StepLROptions } from "./optim/schedule.js";
export { fit } from "./training/fit.js";
export type { Callbacks, EpochInfo, EvalInfo, FitOptions, History, StepInfo } from "./training/fit.js";
export { evaluate, Evaluator } from "./training/evaluate.js";
export type { EvalResult, EvaluateOptions } from "./training/evaluate.js";
export { TrainStep } from "./training/step.js";
export type { TrainStepOptions } from "./training/step.js";
export type { ArrayDataset, Dataset, ImageDataset } from "./data/dataset.js";
export { fromSafetensors, toSafetensors } from "./serialize/safetensors.js";
export type { SafetensorsContents, Shapes } from "./serialize/safetensors.js";
// Takes a Sequential (returns the folded model) or, as functional.ts's did, BN arrays (returns { a, b }).
export { foldBatchNorm } from "./fold.js";
export { manualSeed } from "./random.js";
