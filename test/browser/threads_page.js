// The page side of test/browser_threads.test.ts: runs a task in a dedicated module Worker
// (test/browser/threads_worker.js, where threads can run), or init({ threads }) here on the
// main thread (where they cannot).

/** The worker of the last inWorker(request, { keep: true }), still running. */
let kept = null;

/**
 * Starts a Worker, sends it `request` and resolves with its answer. The worker is ended then,
 * unless `keep` (endKept() ends it). `query` is appended to the worker script's URL (the test
 * server reads it).
 */
export function inWorker(request, { keep = false, query = "" } = {}) {
  return new Promise((resolve, reject) => {
    const w = new Worker(`/test/browser/threads_worker.js${query}`, { type: "module", name: "training" });
    w.onmessage = (e) => {
      if (keep) kept = w;
      else w.terminate();
      if (e.data.error) reject(new Error(e.data.error));
      else resolve(e.data.result);
    };
    w.onerror = (e) => {
      w.terminate();
      reject(new Error(`the training worker failed: ${e.message ?? "its script could not be loaded"}`));
    };
    w.postMessage(request);
  });
}

export function endKept() {
  kept?.terminate();
  kept = null;
}

/** init({ threads }) on the page's main thread; what backendInfo() says then. */
export async function initOnMainThread(threads) {
  const { init, backendInfo, shutdown } = await import("/dist/index.js");
  await init({ threads });
  const info = backendInfo();
  shutdown();
  return { info, crossOriginIsolated: globalThis.crossOriginIsolated === true };
}
