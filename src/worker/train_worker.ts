// The Web Worker that trainInWorker() starts (dist/worker/train_worker.js, a module worker).
// It loads the kernels itself (build/ next to dist/, as on the page) and answers one start
// message; a stop message ends training after the current step.
import type { ToWorker } from "./protocol.js";
import { runJob } from "./job.js";

interface WorkerScope {
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  postMessage(message: unknown, transfer?: Transferable[]): void;
}

const scope = globalThis as unknown as WorkerScope;
let started = false;
let stop = false;

scope.onmessage = (e) => {
  const msg = e.data;
  if (msg.type === "stop") {
    stop = true;
  } else if (msg.type === "start" && !started) {
    started = true;
    void runJob(msg.request, (m, transfer) => scope.postMessage(m, transfer ?? []), () => stop);
  }
};
