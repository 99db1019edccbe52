// One training job as the worker runs it: init the kernels, build the model and optimizer,
// fit() with turns for the event loop (so that a stop message gets through), progress as
// messages, and the weights at the end. Independent of the Worker global: train_worker.ts
// wires it to postMessage.
import { backendInfo, init, shutdown } from "../backend.js";
import type { Module } from "../module.js";
import { toSafetensors } from "../serialize/safetensors.js";
import { fit } from "../training/fit.js";
import type { FromWorker, ModelSource, TrainRequest, TrainResult } from "./protocol.js";
import { buildModel, buildOptimizer } from "./spec.js";

type Post = (message: FromWorker, transfer?: Transferable[]) => void;

async function createModel(source: ModelSource): Promise<Module> {
  if (Array.isArray(source)) return buildModel(source);
  const { module, export: name = "createModel" } = source as { module: string; export?: string };
  const mod = (await import(/* @vite-ignore */ module)) as Record<string, unknown>;
  const factory = mod[name];
  if (typeof factory !== "function") throw new Error(`trainInWorker: ${module} has no exported function ${name}() that returns a model`);
  return (await factory()) as Module;
}

/** The buffers of a state dict or of safetensors bytes, to transfer rather than copy. */
function buffersOf(result: TrainResult): Transferable[] {
  const views = result.safetensors ? [result.safetensors] : Object.values(result.stateDict ?? {});
  return [...new Set(views.map((v) => v.buffer as ArrayBuffer))];
}

/** Runs `request`; `stopRequested` is polled after every step. Posts ready, progress, eval, then done or error. */
export async function runJob(request: TrainRequest, post: Post, stopRequested: () => boolean): Promise<void> {
  try {
    await init({ build: request.build ?? "auto", threads: request.threads ?? 1 });
    post({ type: "ready", backend: backendInfo() });
    const model = await createModel(request.model);
    const optimizer = buildOptimizer(model.parameters(), request.optimizer);
    const t0 = performance.now();
    const seconds = () => (performance.now() - t0) / 1000;
    let posted = 0;
    let last = { step: 0, epoch: 0, batch: 0, loss: NaN, lr: optimizer.lr };
    const { progressEvery } = request;
    try {
      const history = await fit(model, request.train, {
        optimizer,
        validation: request.validation,
        epochs: request.epochs,
        steps: request.steps,
        batchSize: request.batchSize,
        seed: request.seed,
        shuffle: request.shuffle,
        dropLast: request.dropLast,
        evalEvery: request.evalEvery,
        evalBatchSize: request.evalBatchSize,
        onNonFinite: request.onNonFinite,
        verbose: false,
        yieldEvery: request.yieldEvery,
        callbacks: {
          onStep(info) {
            last = info;
            if (info.step % progressEvery === 0) {
              posted = info.step;
              post({ type: "progress", event: { ...info, seconds: seconds() } });
            }
            return !stopRequested();
          },
          onEval(info) {
            post({ type: "eval", event: { ...info, seconds: seconds() } });
          },
        },
      });
      if (last.step > posted) post({ type: "progress", event: { ...last, seconds: seconds() } });
      const stateDict = model.stateDict();
      const result: TrainResult = { history, stopped: history.stopped, backend: backendInfo() };
      if (request.weights === "safetensors") result.safetensors = toSafetensors(stateDict, (model as { stateShapes?(): Record<string, number[]> }).stateShapes?.() ?? {});
      else result.stateDict = stateDict;
      post({ type: "done", result }, buffersOf(result));
    } finally {
      model.dispose?.();
      (optimizer as { dispose?(): void }).dispose?.();
    }
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    post({ type: "error", message: err.message, stack: err.stack });
  } finally {
    shutdown();
  }
}
