// batchnorm-wasm: Batch Normalization training on the CPU with WebAssembly SIMD.
export { init, backendInfo, createBackend, simdSupported, relaxedSimdSupported, bestBuild, Backend } from "./backend.js";
export type { BackendInfo, BuildName, InitOptions } from "./backend.js";
export { Tensor, tensor, zeros, full } from "./tensor.js";
export { Parameter } from "./module.js";
export type { Module, StateDict, StateValue } from "./module.js";
export { BatchNorm, BatchNorm1d, BatchNorm2d, layoutFor } from "./batchnorm.js";
export type { BatchNormOptions, BnLayout, DataFormat } from "./batchnorm.js";
export { batchNormTrain, batchNormBackward, batchNormInference } from "./functional.js";
export type { TrainOptions, BackwardOptions, InferenceOptions } from "./functional.js";
export type { Kernels } from "./kernels.js";
export type { Shape } from "./shape.js";
export { Rng } from "./random.js";
export type { MutableArrayLike } from "./random.js";
export * from "./data/index.js";
export * from "./mlp_index.js";
