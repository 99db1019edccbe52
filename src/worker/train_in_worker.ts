// trainInWorker(): fit() in a Web Worker, driven from the page. The worker
// (dist/worker/train_worker.js) loads the kernels itself, builds the model from layer specs
// (or imports a module that builds it), trains, posts progress, and sends the weights back
// as a state dict or safetensors bytes. The page's thread only receives messages.
import { checkOptions, describe } from "../options.js";
import type { EvalEvent, FromWorker, ModelSource, ProgressEvent, TrainRequest, TrainResult, ToWorker } from "./protocol.js";
import type { BackendInfo } from "../backend.js";

export interface TrainInWorkerOptions extends Omit<TrainRequest, "model" | "progressEvery" | "yieldEvery" | "weights"> {
  /** Layer specs (a Sequential), or { module: URL (relative to the page), export?: name of a function returning a model (default "createModel") }. */
  model: ModelSource | { module: string | URL; export?: string };
  /** Post a progress event every this many steps (and after the last). Default 10. */
  progressEvery?: number;
  /** The worker checks for stop() at least this often, in milliseconds. Default 10. */
  yieldEvery?: number;
  /** How the weights come back. Default 'stateDict'. */
  weights?: "stateDict" | "safetensors";
  /** Transfer the data's buffers to the worker instead of copying them (they become unusable on the page). Default false. */
  transfer?: boolean;
  /** Where the worker script is (default: train_worker.js next to this module). */
  workerUrl?: string | URL;
  onReady?(backend: BackendInfo): void;
  onProgress?(event: ProgressEvent): void;
  onEval?(event: EvalEvent): void;
}

interface Events {
  ready: BackendInfo;
  progress: ProgressEvent;
  eval: EvalEvent;
}

export interface TrainRun {
  /** The result, once training ends (all its steps, or after stop()); rejects on an error in the worker or terminate(). */
  readonly done: Promise<TrainResult>;
  /** Ends training after the current step; `done` resolves with the weights so far and stopped: true. */
  stop(): void;
  /** Kills the worker at once; `done` rejects. */
  terminate(): void;
  /** Adds a listener; returns a function that removes it. Events arrive in order. */
  on<K extends keyof Events>(type: K, listener: (event: Events[K]) => void): () => void;
  readonly worker: Worker;
}

const OPTIONS = [
  "model", "optimizer", "train", "validation", "epochs", "steps", "batchSize", "seed", "shuffle", "dropLast", "evalEvery", "evalBatchSize",
  "onNonFinite", "build", "threads", "progressEvery", "yieldEvery", "weights", "transfer", "workerUrl", "onReady", "onProgress", "onEval",
] as const;

function checkCount(name: string, v: unknown, min: number): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || (min === 1 && !Number.isInteger(v))) {
    throw new Error(`trainInWorker: ${name} must be ${min === 1 ? "a positive integer" : "a non-negative number"}, got ${describe(v)}`);
  }
  return v;
}

function baseUrl(): string {
  return (globalThis as { location?: { href: string } }).location?.href ?? import.meta.url;
}

/** Starts training in a new module Worker; see TrainInWorkerOptions. */
export function trainInWorker(options: TrainInWorkerOptions): TrainRun {
  if (options === null || typeof options !== "object") throw new Error(`trainInWorker: options are required, got ${describe(options)}`);
  checkOptions("trainInWorker", options, OPTIONS);
  const { transfer = false, workerUrl, onReady, onProgress, onEval, model, progressEvery = 10, yieldEvery = 10, weights = "stateDict", ...rest } = options;
  if (!model || typeof model !== "object") throw new Error(`trainInWorker: model must be an array of { layer, args } or { module }, got ${describe(model)}`);
  if (!rest.optimizer) throw new Error("trainInWorker: optimizer is required, e.g. { name: 'SGD', lr: 0.1 }");
  if (!rest.train) throw new Error("trainInWorker: train data is required: { x: Float32Array, y: Uint8Array | Int32Array, shape? }");
  if (weights !== "stateDict" && weights !== "safetensors") throw new Error(`trainInWorker: weights must be 'stateDict' or 'safetensors', got ${describe(weights)}`);
  const source: ModelSource = Array.isArray(model)
    ? model
    : { module: new URL(String((model as { module: string | URL }).module), baseUrl()).href, export: (model as { export?: string }).export };
  const request: TrainRequest = {
    ...rest,
    model: source,
    progressEvery: checkCount("progressEvery", progressEvery, 1),
    yieldEvery: checkCount("yieldEvery", yieldEvery, 0),
    weights,
  };

  if (typeof Worker !== "function") throw new Error("trainInWorker: this engine has no Web Worker (in Node, call fit() directly)");
  const worker = new Worker(workerUrl ?? new URL("./train_worker.js", import.meta.url), { type: "module", name: "batchnorm-wasm training" });
  const listeners: { [K in keyof Events]: Set<(e: Events[K]) => void> } = { ready: new Set(), progress: new Set(), eval: new Set() };
  if (onReady) listeners.ready.add(onReady);
  if (onProgress) listeners.progress.add(onProgress);
  if (onEval) listeners.eval.add(onEval);
  const emit = <K extends keyof Events>(type: K, e: Events[K]) => {
    for (const f of listeners[type]) f(e);
  };

  let settle: { resolve(r: TrainResult): void; reject(e: Error): void };
  const done = new Promise<TrainResult>((resolve, reject) => (settle = { resolve, reject }));
  let finished = false;
  const finish = (r: TrainResult | Error) => {
    if (finished) return;
    finished = true;
    worker.terminate();
    if (r instanceof Error) settle.reject(r);
    else settle.resolve(r);
  };

  worker.onmessage = (e: MessageEvent<FromWorker>) => {
    const m = e.data;
    try {
      if (m.type === "ready") emit("ready", m.backend);
      else if (m.type === "progress") emit("progress", m.event);
      else if (m.type === "eval") emit("eval", m.event);
      else if (m.type === "done") finish(m.result);
      else if (m.type === "error") {
        const err = new Error(`trainInWorker: ${m.message}`);
        if (m.stack) err.stack = `${err.message}\n(in the worker) ${m.stack}`;
        finish(err);
      }
    } catch (listenerError) {
      finish(listenerError instanceof Error ? listenerError : new Error(String(listenerError)));
    }
  };
  worker.onerror = (e: ErrorEvent) => {
    e.preventDefault();
    finish(new Error(`trainInWorker: the worker failed: ${e.message || "could not load the worker script (served as JavaScript? same origin?)"}`));
  };
  worker.onmessageerror = () => finish(new Error("trainInWorker: a message from the worker could not be deserialized"));

  const transferList: Transferable[] = [];
  if (transfer) {
    for (const d of [rest.train, rest.validation]) {
      if (!d) continue;
      const a = d as { x?: Float32Array; images?: Float32Array; y?: ArrayBufferView; labels?: ArrayBufferView };
      for (const v of [a.x ?? a.images, a.y ?? a.labels]) if (v && !transferList.includes(v.buffer as ArrayBuffer)) transferList.push(v.buffer as ArrayBuffer);
    }
  }
  const start: ToWorker = { type: "start", request };
  worker.postMessage(start, transferList);

  return {
    done,
    worker,
    stop() {
      if (!finished) worker.postMessage({ type: "stop" } satisfies ToWorker);
    },
    terminate() {
      finish(new Error("trainInWorker: terminated"));
    },
    on(type, listener) {
      listeners[type].add(listener);
      return () => void listeners[type].delete(listener);
    },
  };
}
