// Starting one pool worker: a worker_threads Worker in Node, a nested Web Worker in a
// browser. Both run the same body (worker_source.ts) on the same workerData; only how the
// data arrives and how the worker says it is ready differ (spawn_node.ts, spawn_browser.ts).
import { spawnBrowserWorker } from "./spawn_browser.js";
import { nodeSpawner } from "./spawn_node.js";

/** What the pool needs of a started worker. */
export interface PoolWorker {
  /** Resolves once the worker has instantiated the kernels; rejects if it failed to start. */
  readonly ready: Promise<void>;
  /** Lets a Node process exit while the worker waits; browsers have no equivalent (a no-op there). */
  unref(): void;
  terminate(): void;
}

/** Starts a worker running the pool's body on `workerData` (module, memory, control block, ids). */
export type SpawnWorker = (options: { workerData: Record<string, unknown> }) => PoolWorker;

/** The spawner for this environment. */
export async function workerSpawner(): Promise<SpawnWorker> {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === "string" ? nodeSpawner() : spawnBrowserWorker;
}
