// Training checkpoints in a directory, for resuming a run bit-exactly (Node only: the file
// system is loaded on first use, so the package still loads in browsers):
//   model.<tag>.safetensors      the model's stateDict (PyTorch keys and shapes)
//   optimizer.<tag>.safetensors  the optimizer's stateDict (step, lr, hyper-parameters, buffers)
//   checkpoint.json              the two files' names, sizes and SHA-256s, the scheduler's
//                                state, generator positions (the model's dropout generators
//                                and the caller's) and the caller's meta (epoch, history, ...)
// Each save writes new tagged files under temporary names and renames them, and renames
// checkpoint.json last: until that rename the previous checkpoint stays whole, after it the
// new one is. A directory without checkpoint.json holds no complete checkpoint.
import type { Module, StateDict } from "../module.js";
import { checkRngStates } from "../module.js";
import type { Optimizer } from "../optim/sgd.js";
import type { Scheduler, SchedulerState } from "../optim/schedule.js";
import { importNode } from "../data/node.js";
import { fromSafetensors, toSafetensors } from "../serialize/safetensors.js";

const FORMAT = "batchnorm-wasm-checkpoint";
const VERSION = 1;
const MARKER = "checkpoint.json";
const PART = /^(model|optimizer)\.[0-9a-z]+\.safetensors$/;

/** A model with what checkpoints need (Sequential and the other containers have all of it). */
export type CheckpointModel = Module & { stateShapes?(): Record<string, number[]> };

/** An optimizer with state dicts (SGD, Adam, AdamW). */
export type CheckpointOptimizer = Optimizer & {
  readonly name?: string;
  stateDict(): StateDict;
  loadStateDict(sd: StateDict): void;
  stateShapes?(): Record<string, number[]>;
};

export interface SaveCheckpointOptions {
  model: CheckpointModel;
  optimizer: CheckpointOptimizer;
  scheduler?: Scheduler;
  /** The caller's generator positions (Rng.state of the shuffling, augmentation, ...), uint32 each. */
  rng?: Record<string, number>;
  /** Anything JSON can hold: epoch, history, config. (JSON turns NaN and Infinity into null.) */
  meta: object;
}

export interface Checkpoint {
  model: StateDict;
  optimizer: StateDict;
  /** The optimizer's class ("SGD", "Adam", "AdamW"). */
  optimizerName: string;
  scheduler: SchedulerState | null;
  /** The model's own generator positions (model.rngStates()). */
  modelRng: Record<string, number>;
  rng: Record<string, number>;
  meta: Record<string, unknown>;
}

interface FileEntry {
  name: string;
  bytes: number;
  sha256: string;
}

interface Manifest {
  format: typeof FORMAT;
  version: number;
  files: { model: FileEntry; optimizer: FileEntry };
  optimizer: string;
  scheduler: SchedulerState | null;
  modelRng: Record<string, number>;
  rng: Record<string, number>;
  meta: Record<string, unknown>;
}

interface Fs {
  readFile(path: string): Promise<Uint8Array>;
  readdir(path: string): Promise<string[]>;
  mkdir(path: string, options: { recursive: boolean }): Promise<string | undefined>;
  rename(from: string, to: string): Promise<void>;
  rm(path: string, options?: { force?: boolean }): Promise<void>;
  open(path: string, flags: string): Promise<{ write(data: Uint8Array): Promise<unknown>; sync(): Promise<void>; close(): Promise<void> }>;
}

async function nodeModules(what: string): Promise<{ fs: Fs; join(...p: string[]): string }> {
  const fs = await importNode<Fs>("node:fs/promises", what);
  const { join } = await importNode<{ join(...p: string[]): string }>("node:path", what);
  return { fs, join };
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const subtle = (globalThis as { crypto?: { subtle?: { digest(a: string, d: Uint8Array): Promise<ArrayBuffer> } } }).crypto?.subtle;
  if (!subtle) throw new Error("batchnorm-wasm: checkpoints need WebCrypto (globalThis.crypto.subtle) for their checksums");
  return Array.from(new Uint8Array(await subtle.digest("SHA-256", bytes)), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Writes `data` to a temporary name beside `file`, flushes it to disk, then renames it to `file`. */
async function writeAtomic(fs: Fs, file: string, data: Uint8Array): Promise<void> {
  const tmp = `${file}.tmp`;
  try {
    const h = await fs.open(tmp, "w");
    try {
      await h.write(data);
      await h.sync();
    } finally {
      await h.close();
    }
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true }).catch(() => {});
    throw e;
  }
}

function errorCode(e: unknown): string | undefined {
  return (e as { code?: string } | null)?.code;
}

function checkParts(where: string, o: SaveCheckpointOptions): void {
  if (o === null || typeof o !== "object") throw new Error(`${where}: expected { model, optimizer, scheduler?, rng?, meta }, got ${o === null ? "null" : typeof o}`);
  for (const key of Object.keys(o)) {
    if (!["model", "optimizer", "scheduler", "rng", "meta"].includes(key)) throw new Error(`${where}: unknown option "${key}" (expected model, optimizer, scheduler, rng, meta)`);
  }
  if (typeof o.model?.stateDict !== "function") throw new Error(`${where}: model must be a module with stateDict() (a Sequential, ...)`);
  if (typeof o.optimizer?.stateDict !== "function" || typeof o.optimizer.loadStateDict !== "function") {
    throw new Error(`${where}: optimizer must have stateDict() and loadStateDict() (SGD, Adam, AdamW)`);
  }
  if (o.scheduler !== undefined && (typeof o.scheduler?.stateDict !== "function" || typeof o.scheduler.loadStateDict !== "function")) {
    throw new Error(`${where}: scheduler must have stateDict() and loadStateDict() (StepLR, LambdaLR, LearningRateScheduler)`);
  }
}

/**
 * Saves model, optimizer, scheduler, generator positions and `meta` into `dir` (created if
 * needed), atomically: a run killed during the save keeps the previous checkpoint.
 */
export async function saveCheckpoint(dir: string, options: SaveCheckpointOptions): Promise<void> {
  const where = "saveCheckpoint";
  if (typeof dir !== "string" || dir === "") throw new Error(`${where}: expected a directory path, got ${JSON.stringify(dir)}`);
  checkParts(where, options);
  const { model, optimizer, scheduler, rng = {}, meta } = options;
  checkRngStates(`${where}: rng`, rng, Object.fromEntries(Object.keys(rng ?? {}).map((k) => [k, 0])));
  if (meta === null || typeof meta !== "object" || Array.isArray(meta)) throw new Error(`${where}: meta must be an object (epoch, history, config, ...), got ${meta === null ? "null" : Array.isArray(meta) ? "an array" : typeof meta}`);
  const metaJson = JSON.parse(JSON.stringify(meta)) as Record<string, unknown>;

  const modelBytes = toSafetensors(model.stateDict(), (model as CheckpointModel).stateShapes?.() ?? {});
  const optimizerBytes = toSafetensors(optimizer.stateDict(), optimizer.stateShapes?.() ?? {});
  const tag = Date.now().toString(36) + Math.floor(Math.random() * 36 ** 6).toString(36).padStart(6, "0");
  const manifest: Manifest = {
    format: FORMAT,
    version: VERSION,
    files: {
      model: { name: `model.${tag}.safetensors`, bytes: modelBytes.length, sha256: await sha256(modelBytes) },
      optimizer: { name: `optimizer.${tag}.safetensors`, bytes: optimizerBytes.length, sha256: await sha256(optimizerBytes) },
    },
    optimizer: optimizer.name ?? optimizer.constructor.name,
    scheduler: scheduler?.stateDict?.() ?? null,
    modelRng: model.rngStates?.() ?? {},
    rng: { ...rng },
    meta: metaJson,
  };

  const { fs, join } = await nodeModules(where);
  await fs.mkdir(dir, { recursive: true });
  await writeAtomic(fs, join(dir, manifest.files.model.name), modelBytes);
  await writeAtomic(fs, join(dir, manifest.files.optimizer.name), optimizerBytes);
  await writeAtomic(fs, join(dir, MARKER), new TextEncoder().encode(JSON.stringify(manifest, null, 1)));
  // The new checkpoint is complete; the files of earlier ones (or of interrupted saves) go.
  const keep = new Set([manifest.files.model.name, manifest.files.optimizer.name]);
  for (const f of await fs.readdir(dir)) {
    if ((PART.test(f) && !keep.has(f)) || (f.endsWith(".tmp") && (PART.test(f.slice(0, -4)) || f === `${MARKER}.tmp`))) await fs.rm(join(dir, f), { force: true }).catch(() => {});
  }
}

function checkManifest(where: string, m: unknown): asserts m is Manifest {
  const o = m as Partial<Manifest> | null;
  if (o === null || typeof o !== "object" || o.format !== FORMAT) throw new Error(`${where}: ${MARKER} is not a batchnorm-wasm checkpoint (its "format" should be "${FORMAT}")`);
  if (o.version !== VERSION) throw new Error(`${where}: ${MARKER} has version ${JSON.stringify(o.version)}; this library reads version ${VERSION}`);
  for (const part of ["model", "optimizer"] as const) {
    const f = o.files?.[part];
    if (!f || typeof f.name !== "string" || !PART.test(f.name) || !Number.isSafeInteger(f.bytes) || typeof f.sha256 !== "string") {
      throw new Error(`${where}: ${MARKER} has no valid files.${part} entry { name, bytes, sha256 }`);
    }
  }
  if (typeof o.optimizer !== "string") throw new Error(`${where}: ${MARKER} has no optimizer name`);
  if (o.meta === null || typeof o.meta !== "object") throw new Error(`${where}: ${MARKER} has no meta object`);
  checkRngStates(`${where}: ${MARKER} modelRng`, o.modelRng, Object.fromEntries(Object.keys(o.modelRng ?? {}).map((k) => [k, 0])));
  checkRngStates(`${where}: ${MARKER} rng`, o.rng, Object.fromEntries(Object.keys(o.rng ?? {}).map((k) => [k, 0])));
}

/** Reads and checks the checkpoint in `dir` (complete, files intact), without applying it. */
export async function loadCheckpoint(dir: string): Promise<Checkpoint> {
  const where = "loadCheckpoint";
  if (typeof dir !== "string" || dir === "") throw new Error(`${where}: expected a directory path, got ${JSON.stringify(dir)}`);
  const { fs, join } = await nodeModules(where);
  let files: string[];
  try {
    files = await fs.readdir(dir);
  } catch (e) {
    if (errorCode(e) === "ENOENT") throw new Error(`${where}: no checkpoint in ${dir}: the directory does not exist`);
    throw e;
  }
  if (!files.includes(MARKER)) {
    const parts = files.filter((f) => PART.test(f) || f.endsWith(".tmp"));
    if (parts.length > 0) {
      throw new Error(`${where}: the checkpoint in ${dir} is incomplete: ${parts.join(", ")} but no ${MARKER} (a save was interrupted before it finished); start the run afresh`);
    }
    throw new Error(`${where}: no checkpoint in ${dir} (no ${MARKER})`);
  }
  let manifest: unknown;
  try {
    manifest = JSON.parse(new TextDecoder().decode(await fs.readFile(join(dir, MARKER))));
  } catch (e) {
    throw new Error(`${where}: ${join(dir, MARKER)} is not valid JSON (${(e as Error).message})`);
  }
  checkManifest(where, manifest);
  const read = async (part: "model" | "optimizer"): Promise<StateDict> => {
    const f = manifest.files[part];
    const path = join(dir, f.name);
    let bytes: Uint8Array;
    try {
      bytes = await fs.readFile(path);
    } catch (e) {
      if (errorCode(e) === "ENOENT") throw new Error(`${where}: the checkpoint in ${dir} is incomplete: ${MARKER} names ${f.name}, which is missing`);
      throw e;
    }
    if (bytes.length !== f.bytes) throw new Error(`${where}: ${path} has ${bytes.length} bytes, but ${MARKER} says ${f.bytes} (the file was changed or truncated)`);
    if ((await sha256(bytes)) !== f.sha256) throw new Error(`${where}: ${path} does not match the SHA-256 in ${MARKER} (the file was changed or corrupted)`);
    try {
      return { ...fromSafetensors(bytes).stateDict };
    } catch (e) {
      throw new Error(`${where}: ${path}: ${(e as Error).message}`, { cause: e });
    }
  };
  return {
    model: await read("model"),
    optimizer: await read("optimizer"),
    optimizerName: manifest.optimizer,
    scheduler: manifest.scheduler ?? null,
    modelRng: manifest.modelRng,
    rng: manifest.rng,
    meta: manifest.meta,
  };
}

export interface RestoreCheckpointOptions {
  model: CheckpointModel;
  optimizer: CheckpointOptimizer;
  scheduler?: Scheduler;
}

/**
 * Loads the checkpoint in `dir` into model, optimizer and scheduler (made as for the saved
 * run) and the model's generators; returns the caller's `meta` and `rng` positions. The files
 * are read and checked first, each part is checked before it is loaded, and a part that
 * refuses puts back the ones loaded before it: on an error (missing or incomplete checkpoint,
 * another model or optimizer) everything stays as it was.
 */
export async function restoreCheckpoint(dir: string, options: RestoreCheckpointOptions): Promise<{ meta: Record<string, unknown>; rng: Record<string, number> }> {
  const where = "restoreCheckpoint";
  checkParts(where, { ...options, meta: {} });
  const { model, optimizer, scheduler } = options;
  const ck = await loadCheckpoint(dir);
  const name = optimizer.name ?? optimizer.constructor.name;
  if (ck.optimizerName !== name) throw new Error(`${where}: the checkpoint in ${dir} holds the state of a ${ck.optimizerName} optimizer, but a ${name} was given`);
  if ((ck.scheduler === null) !== (scheduler === undefined)) {
    throw new Error(`${where}: the checkpoint in ${dir} ${ck.scheduler ? `holds a ${ck.scheduler.name} schedule, but no scheduler was given` : "holds no schedule, but a scheduler was given"}`);
  }
  // Each loader checks before it changes anything; a later part that refuses puts the earlier ones back.
  const undo: (() => void)[] = [];
  try {
    const sd = model.stateDict();
    model.loadStateDict(ck.model);
    undo.push(() => model.loadStateDict(sd));
    if (typeof model.setRngStates === "function") {
      const r = model.rngStates!();
      model.setRngStates(ck.modelRng);
      undo.push(() => model.setRngStates!(r));
    } else if (Object.keys(ck.modelRng).length > 0) {
      throw new Error(`the checkpoint has generator states (${Object.keys(ck.modelRng).join(", ")}) but the model has no setRngStates()`);
    }
    const o = optimizer.stateDict();
    optimizer.loadStateDict(ck.optimizer);
    undo.push(() => optimizer.loadStateDict(o));
    if (scheduler && ck.scheduler) scheduler.loadStateDict!(ck.scheduler);
  } catch (e) {
    for (const f of undo.reverse()) f();
    throw new Error(`${where}: ${(e as Error).message}`, { cause: e });
  }
  return { meta: ck.meta, rng: ck.rng };
}
