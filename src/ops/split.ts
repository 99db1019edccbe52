// Memory-bound ops split over the backend's threads by a fixed partition of rows, elements or
// images (src/threads/partition.ts). Every output element is written by one thread with the
// same arithmetic as on one thread, so results are bit-identical to one thread's.
import type { Backend } from "../backend.js";
import type { PoolKernel } from "../threads/pool.js";
import { splitRange } from "../threads/partition.js";

/**
 * Runs `kernel` over [0, total) split in ranges of multiples of `unit`, with the arguments
 * argsOf(start, end) gives each; false (nothing done) when there is no pool or the work
 * (`floats`: the floats moved, or their equivalent in copies for an op that computes more per
 * float) is below the pool's threshold.
 */
export function splitCall(backend: Backend, kernel: PoolKernel, floats: number, total: number, unit: number, argsOf: (start: number, end: number) => number[]): boolean {
  const pool = backend.pool;
  if (!pool || floats < pool.minFloats) return false;
  const ranges = splitRange(total, pool.threads, unit);
  if (ranges.length < 2) return false;
  pool.run(kernel, ranges.map(([s, e]) => argsOf(s, e)));
  return true;
}
