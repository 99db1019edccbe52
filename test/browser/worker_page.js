// Runs inside headless Chromium (see test/worker_browser.test.ts): trainInWorker() from the
// built package, with what it reported returned as plain values (typed arrays as byte lists).
import { trainInWorker } from "/dist/index.js";

const bytes = (v) => Array.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));

/**
 * Trains with `options` (data given as plain arrays); stops after the progress event of step
 * `stopAt` when given. Returns the events in arrival order and the result.
 */
export async function train({ options, x, y, valX, valY, stopAt }) {
  const events = [];
  const run = trainInWorker({
    ...options,
    train: { x: Float32Array.from(x), y: Uint8Array.from(y), shape: [y.length, x.length / y.length] },
    validation: valX ? { x: Float32Array.from(valX), y: Uint8Array.from(valY), shape: [valY.length, valX.length / valY.length] } : undefined,
  });
  run.on("ready", (b) => events.push({ type: "ready", threads: b.threads, threadsRequested: b.threadsRequested, threadsFallback: b.threadsFallback, build: b.build }));
  run.on("progress", (e) => {
    events.push({ type: "progress", step: e.step, loss: e.loss });
    if (stopAt !== undefined && e.step === stopAt) run.stop();
  });
  run.on("eval", (e) => events.push({ type: "eval", step: e.step, valAccuracy: e.valAccuracy }));
  try {
    const r = await run.done;
    const stateDict = r.stateDict ? Object.fromEntries(Object.entries(r.stateDict).map(([k, v]) => [k, bytes(v)])) : null;
    return {
      events,
      stopped: r.stopped,
      steps: r.history.steps,
      loss: r.history.loss,
      backend: { build: r.backend.build, threads: r.backend.threads, threadsRequested: r.backend.threadsRequested, threadsFallback: r.backend.threadsFallback },
      stateDict,
      safetensors: r.safetensors ? bytes(r.safetensors) : null,
      error: null,
    };
  } catch (e) {
    return { events, error: e instanceof Error ? e.message : String(e) };
  }
}
