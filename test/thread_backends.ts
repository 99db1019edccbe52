// The backends the thread tests compare: one per thread count, on the best SIMD build, whose
// pools split every call however small (minMacs and minFloats 0), so that sizes below the
// thread count and the odd splits are exercised; the 3-thread pool cuts every product and
// convolution into 4 parts a thread (finestParts), more parts than threads. Registered with
// vitest's beforeAll/afterAll.
import { afterAll, beforeAll } from "vitest";
import { type Backend, bestBuild, createBackend } from "../src/backend.js";

export const THREADS = [1, 2, 3] as const;
export const THREAD_BUILD = bestBuild() === "scalar" ? "simd" : bestBuild();

/** A map thread count -> backend, filled before the file's tests run and shut down after. */
export function splittingBackends(): Map<number, Backend> {
  const backends = new Map<number, Backend>();
  beforeAll(async () => {
    for (const t of THREADS) {
      const b = await createBackend({ build: THREAD_BUILD, threads: t });
      if (b.pool) {
        b.pool.minMacs = 0;
        b.pool.minFloats = 0;
        // 3 threads: products and convolutions in 4 parts a thread, taken by whichever thread is free.
        b.pool.finestParts = t === 3;
      }
      backends.set(t, b);
    }
  });
  afterAll(() => {
    for (const b of backends.values()) b.shutdown();
  });
  return backends;
}
