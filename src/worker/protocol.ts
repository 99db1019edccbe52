// The messages between trainInWorker() (the page) and the training worker (train_worker.ts).
// Everything here is structured-cloneable; typed arrays travel as transferables where noted.
import type { BackendInfo, BuildName } from "../backend.js";
import type { ArrayDataset, ImageDataset } from "../data/dataset.js";
import type { History } from "../training/fit.js";
import type { StateDict } from "../module.js";
import type { LayerSpec, OptimizerSpec } from "./spec.js";

/** A model built in the worker: layer specs (a Sequential), or a module whose export returns a model. */
export type ModelSource = readonly LayerSpec[] | { module: string; export?: string };

/** What the worker trains, and how (fit()'s options that survive postMessage). */
export interface TrainRequest {
  model: ModelSource;
  optimizer: OptimizerSpec;
  train: ArrayDataset | ImageDataset;
  validation?: ArrayDataset | ImageDataset;
  epochs?: number;
  steps?: number;
  batchSize?: number;
  seed?: number;
  shuffle?: boolean;
  dropLast?: boolean;
  evalEvery?: number;
  evalBatchSize?: number;
  onNonFinite?: "throw" | "continue";
  build?: "auto" | BuildName;
  threads?: number | "auto";
  progressEvery: number;
  yieldEvery: number;
  weights: "stateDict" | "safetensors";
}

export interface ProgressEvent {
  /** Steps done (from 1). */
  step: number;
  epoch: number;
  batch: number;
  loss: number;
  lr: number;
  /** Seconds since training started (after init and the model were ready). */
  seconds: number;
}

export interface EvalEvent {
  step: number;
  epoch: number;
  valLoss: number;
  valAccuracy: number;
  seconds: number;
}

export interface TrainResult {
  history: History;
  /** Whether stop() ended training before its epochs or steps were done. */
  stopped: boolean;
  /** The trained weights, PyTorch-keyed (weights: 'stateDict', the default). */
  stateDict?: StateDict;
  /** The same as a safetensors file (weights: 'safetensors'). */
  safetensors?: Uint8Array;
  /** The worker's backend: build, threads, and why fewer threads ran than asked for. */
  backend: BackendInfo;
}

export type ToWorker = { type: "start"; request: TrainRequest } | { type: "stop" };

export type FromWorker =
  | { type: "ready"; backend: BackendInfo }
  | { type: "progress"; event: ProgressEvent }
  | { type: "eval"; event: EvalEvent }
  | { type: "done"; result: TrainResult }
  | { type: "error"; message: string; stack?: string };
