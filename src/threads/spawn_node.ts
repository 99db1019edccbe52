// Pool workers in Node: worker_threads Workers evaluating the body from source, with the
// data as workerData and "ready" posted to the parent once.
import type { PoolWorker, SpawnWorker } from "./spawn.js";
import { WORKER_BODY } from "./worker_source.js";

const NODE_WORKER_SOURCE = `"use strict";
const { workerData, parentPort } = require("node:worker_threads");
${WORKER_BODY}
poolWorker(workerData, () => parentPort.postMessage("ready"));
`;

interface NodeWorker {
  on(event: "message", f: (m: unknown) => void): void;
  on(event: "error", f: (e: Error) => void): void;
  on(event: "exit", f: (code: number) => void): void;
  unref(): void;
  terminate(): Promise<number>;
}

export async function nodeSpawner(): Promise<SpawnWorker> {
  // A computed specifier keeps bundlers from pulling node:worker_threads into browser builds.
  const wtName = "node:worker_threads";
  const wt = (await import(/* @vite-ignore */ wtName)) as { Worker: new (src: string, o: object) => NodeWorker };
  return ({ workerData }): PoolWorker => {
    const w = new wt.Worker(NODE_WORKER_SOURCE, { eval: true, workerData });
    const ready = new Promise<void>((resolve, reject) => {
      w.on("message", () => resolve());
      w.on("error", reject);
      w.on("exit", (code) => reject(new Error(`pool worker ${String(workerData.id)} exited with code ${code} before it was ready`)));
    });
    return { ready, unref: () => w.unref(), terminate: () => void w.terminate() };
  };
}
