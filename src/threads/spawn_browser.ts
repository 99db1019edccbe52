// Pool workers in a browser: nested dedicated Web Workers started from a Blob URL of the
// body, so no file has to be located next to the package and no bundler is needed. A blob:
// worker inherits its creator's cross-origin isolation (COEP), which the shared memory
// needs. The data (the compiled module, the shared memory and control block) arrives as the
// first message; the worker answers "ready" and from then on only Atomics talk to it.
// Workers started this way cannot be unref'd: they end with shutdown() or with the page.
import type { PoolWorker } from "./spawn.js";
import { WORKER_BODY } from "./worker_source.js";

const BROWSER_WORKER_SOURCE = `"use strict";
${WORKER_BODY}
self.onmessage = (e) => {
  self.onmessage = null;
  poolWorker(e.data, () => self.postMessage("ready"));
};
`;

/** One Blob URL per realm, kept for the realm's life: workers of a later init() reuse it. */
let workerUrl: string | null = null;

export function spawnBrowserWorker({ workerData }: { workerData: Record<string, unknown> }): PoolWorker {
  workerUrl ??= URL.createObjectURL(new Blob([BROWSER_WORKER_SOURCE], { type: "text/javascript" }));
  const id = String(workerData.id);
  let w: Worker;
  try {
    w = new Worker(workerUrl, { name: `batchnorm-wasm pool worker ${id}` });
  } catch (e) {
    return { ready: Promise.reject(e as Error), unref: () => {}, terminate: () => {} };
  }
  const ready = new Promise<void>((resolve, reject) => {
    w.onmessage = () => resolve();
    w.onerror = (e) => {
      e.preventDefault();
      reject(new Error(`pool worker ${id} failed before it was ready: ${e.message || "its blob: script was refused (does a Content-Security-Policy lack worker-src blob:?)"}`));
    };
    w.onmessageerror = () => reject(new Error(`pool worker ${id} could not receive the module and the shared memory`));
  });
  w.postMessage(workerData);
  return { ready, unref: () => {}, terminate: () => w.terminate() };
}
