// The CIFAR run's checkpoint: one directory per finished epoch, epoch-<n>/<network>/ (a
// saveCheckpoint of each network's weights, optimizer and dropout generator), and run.json
// naming the newest complete one with the run's config and history. run.json is written last
// (atomically), so a run killed at any point resumes from the last epoch it finished; older
// epoch directories are removed after it.
import { importNode } from "../data/node.js";
import type { Sequential } from "../layers/sequential.js";
import type { SGD } from "../optim/sgd.js";
import { restoreCheckpoint, saveCheckpoint } from "../training/checkpoint.js";
import { writeFileAtomic } from "./common.js";

const FORMAT = "batchnorm-wasm-cifar-run";
const RUN = "run.json";
/** Config entries a resumed run may change: more epochs, and where it stops. */
const MAY_DIFFER = new Set(["epochs", "backend"]);

export interface RunState {
  /** The last finished epoch (from 1). */
  epoch: number;
  /** Per network: its curves so far. */
  curves: Record<string, unknown>;
  /** Per network: training-step seconds and steps so far. */
  stepSeconds: Record<string, { seconds: number; steps: number }>;
}

interface RunFile {
  format: typeof FORMAT;
  dir: string;
  config: Record<string, unknown>;
  state: RunState;
}

export interface RunParts {
  config: Record<string, unknown>;
  models: ReadonlyMap<string, Sequential>;
  optimizers: ReadonlyMap<string, SGD>;
}

interface Fs {
  readFile(path: string, encoding: "utf8"): Promise<string>;
  readdir(path: string): Promise<string[]>;
  rm(path: string, options: { recursive: boolean; force: boolean }): Promise<void>;
}

async function node(what: string) {
  const fs = await importNode<Fs>("node:fs/promises", what);
  const { join } = await importNode<{ join(...p: string[]): string }>("node:path", what);
  return { fs, join };
}

export async function saveRunCheckpoint(dir: string, parts: RunParts & { state: RunState }): Promise<void> {
  const { fs, join } = await node("saveRunCheckpoint");
  const name = `epoch-${parts.state.epoch}`;
  for (const [network, model] of parts.models) {
    await saveCheckpoint(join(dir, name, network), { model, optimizer: parts.optimizers.get(network)!, meta: { epoch: parts.state.epoch, network } });
  }
  const run: RunFile = { format: FORMAT, dir: name, config: parts.config, state: parts.state };
  await writeFileAtomic(join(dir, RUN), JSON.stringify(run, null, 1));
  for (const f of await fs.readdir(dir)) {
    if (/^epoch-\d+$/.test(f) && f !== name) await fs.rm(join(dir, f), { recursive: true, force: true });
  }
}

/**
 * Loads the newest complete checkpoint into the models and optimizers (made as for the saved
 * run) and returns the run's state; null when `dir` holds none. A checkpoint of another
 * configuration is refused, naming what differs.
 */
export async function loadRunCheckpoint(dir: string, parts: RunParts): Promise<RunState | null> {
  const { fs, join } = await node("loadRunCheckpoint");
  let text: string;
  try {
    text = await fs.readFile(join(dir, RUN), "utf8");
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return null;
    throw e;
  }
  let run: RunFile;
  try {
    run = JSON.parse(text) as RunFile;
  } catch (e) {
    throw new Error(`resume: ${join(dir, RUN)} is not valid JSON (${(e as Error).message})`);
  }
  if (run?.format !== FORMAT || typeof run.dir !== "string" || !/^epoch-\d+$/.test(run.dir) || !Number.isInteger(run.state?.epoch)) {
    throw new Error(`resume: ${join(dir, RUN)} is not a batchnorm-wasm CIFAR run checkpoint`);
  }
  const differs: string[] = [];
  const keys = new Set([...Object.keys(run.config ?? {}), ...Object.keys(parts.config)]);
  for (const k of keys) {
    if (MAY_DIFFER.has(k)) continue;
    const a = JSON.stringify(run.config?.[k]), b = JSON.stringify(parts.config[k]);
    if (a !== b) differs.push(`${k}: ${a ?? "missing"} in the checkpoint, ${b ?? "missing"} now`);
  }
  if (differs.length > 0) throw new Error(`resume: the checkpoint in ${dir} is of another run configuration (${differs.join("; ")}); use the same flags or another --out`);
  for (const [network, model] of parts.models) {
    await restoreCheckpoint(join(dir, run.dir, network), { model, optimizer: parts.optimizers.get(network)! });
  }
  return run.state;
}
