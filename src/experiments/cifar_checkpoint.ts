// The CIFAR run's checkpoints: one saveCheckpoint directory per network (OUT/checkpoint/bn,
// .../plain), each complete on its own (weights, optimizer, dropout generator, and in its
// meta the run's config, the epochs it finished and its curves). Each is written atomically
// after every epoch, so a run killed at any point resumes every network from the last epoch
// it finished; the batches of an epoch depend only on (seed, epoch), so networks that stand at
// different epochs after a kill still see the same batches.
import type { Sequential } from "../layers/sequential.js";
import type { SGD } from "../optim/sgd.js";
import { loadCheckpoint, restoreCheckpoint, saveCheckpoint } from "../training/checkpoint.js";
import { importNode } from "../data/node.js";

/** Config entries a resumed run may change: more epochs, the build, how memory is kept and whether the networks step together. */
const MAY_DIFFER = new Set(["epochs", "backend", "memory", "schedule"]);

/** What a network's checkpoint carries besides weights and optimizer state. */
export interface NetworkState {
  /** The last finished epoch (from 1). */
  epoch: number;
  curves: unknown;
  stepSeconds: { seconds: number; steps: number };
}

async function join(...parts: string[]): Promise<string> {
  const path = await importNode<{ join(...p: string[]): string }>("node:path", "cifar checkpoint");
  return path.join(...parts);
}

export async function saveNetworkCheckpoint(dir: string, network: string, parts: { config: Record<string, unknown>; model: Sequential; optimizer: SGD; state: NetworkState }): Promise<void> {
  await saveCheckpoint(await join(dir, network), { model: parts.model, optimizer: parts.optimizer, meta: { network, config: parts.config, ...parts.state } });
}

/**
 * Loads a network's checkpoint into its model and optimizer (made as for the saved run) and
 * returns its state; null when there is none. A checkpoint of another configuration is
 * refused, naming what differs, before anything is loaded.
 */
export async function loadNetworkCheckpoint(dir: string, network: string, parts: { config: Record<string, unknown>; model: Sequential; optimizer: SGD }): Promise<NetworkState | null> {
  const at = await join(dir, network);
  let meta: Record<string, unknown>;
  try {
    meta = (await loadCheckpoint(at)).meta;
  } catch (e) {
    if (/no checkpoint in/.test((e as Error).message)) return null;
    throw new Error(`resume: ${(e as Error).message}`, { cause: e });
  }
  const saved = (meta.config ?? {}) as Record<string, unknown>;
  const differs: string[] = [];
  for (const k of new Set([...Object.keys(saved), ...Object.keys(parts.config)])) {
    if (MAY_DIFFER.has(k)) continue;
    const a = JSON.stringify(saved[k]), b = JSON.stringify(parts.config[k]);
    if (a !== b) differs.push(`${k}: ${a ?? "missing"} in the checkpoint, ${b ?? "missing"} now`);
  }
  if (differs.length > 0) throw new Error(`resume: the checkpoint in ${at} is of another run configuration (${differs.join("; ")}); use the same flags or another --out`);
  if (meta.network !== network || !Number.isInteger(meta.epoch) || (meta.epoch as number) < 1) throw new Error(`resume: ${at} does not hold a ${network} network's epoch`);
  await restoreCheckpoint(at, { model: parts.model, optimizer: parts.optimizer });
  return { epoch: meta.epoch as number, curves: meta.curves, stepSeconds: meta.stepSeconds as NetworkState["stepSeconds"] };
}
