// Batch Normalization split over the backend's threads (assembly/bn_split.ts): rows of the
// channels-last layout, images of NCHW, in a fixed partition of the sizes and the thread
// count. Statistics and gradient sums are per-part float64 partials merged on the calling
// thread in range order (Chan et al.'s formula for the moments), so the result is the whole
// batch's statistics, reproducible run to run for a given thread count, and equal to one
// thread's within rounding. Each function returns false (nothing done) when there is no
// pool or the tensor is too small to gain from splitting.
import type { Backend } from "../backend.js";
import type { Tensor } from "../tensor.js";
import type { ThreadPool } from "../threads/pool.js";
import { splitRange } from "../threads/partition.js";
import type { BnBatchStats, BnLayout } from "./bn.js";

/** The pool and the ranges of rows (or images) when this layout is worth splitting. */
function plan(backend: Backend, L: BnLayout): { pool: ThreadPool; ranges: [number, number][] } | null {
  const pool = backend.pool;
  if (!pool || L.m * L.C < pool.minFloats) return null;
  const ranges = splitRange(L.planar ? L.N : L.m, pool.threads, L.planar ? 1 : 4);
  return ranges.length < 2 ? null : { pool, ranges };
}

/** Scratch per thread: the caller's own for thread 0, the pool's for the workers. */
function scratchOf(pool: ThreadPool, scratch: Tensor): readonly number[] {
  return pool.scratch(scratch.size * 4).map((p, t) => (t === 0 ? scratch.ptr : p));
}

// Which argument of each split kernel is its scratch (the pool puts the running thread's there).
const SCRATCH = { statsNc: 4, statsNchw: 5, applyNc: 10, applyNchw: 9, partNc: 11, dxNc: 12 } as const;

/** Bytes from the start of rows (or images) s of the layout, for a tensor whose rows are `stride` floats apart. */
function at(ptr: number, L: BnLayout, s: number, stride: number): number {
  return ptr + 4 * s * (L.planar ? L.C * L.HW : stride);
}

/** Training forward (y = bn(x), then max(0, .) when relu; y rows ys floats apart). Writes y and stats. */
export function bnForwardTrainParallel(
  y: Tensor, ys: number, stats: BnBatchStats, x: Tensor, gamma: Tensor, beta: Tensor, eps: number, L: BnLayout, relu: boolean, scratch: Tensor,
): boolean {
  const p = plan(x.backend, L);
  if (!p) return false;
  const { pool, ranges } = p;
  const k = x.backend.kernels, C = L.C, s = scratchOf(pool, scratch);
  const partBytes = 8 * k.bn_stats_part_f64s(C);
  const parts = pool.partials(partBytes * ranges.length);
  pool.run(L.planar ? "bn_stats_part_nchw" : "bn_stats_part_nc", ranges.map(([a, b], t) => L.planar
    ? [parts + t * partBytes, at(x.ptr, L, a, C), b - a, C, L.HW, 0]
    : [parts + t * partBytes, at(x.ptr, L, a, C), b - a, C, 0]), L.planar ? SCRATCH.statsNchw : SCRATCH.statsNc, s);
  k.bn_stats_merge(stats.mean.ptr, stats.var.ptr, stats.invStd.ptr, parts, ranges.length, C, eps);
  applyRanges(p, y, ys, x, stats.mean, stats.invStd, gamma, beta, L, relu, s);
  return true;
}

/** y = bn(x) (then max(0, .) when relu) from given mean and invStd. Writes y. */
export function bnApplyParallel(y: Tensor, ys: number, x: Tensor, mean: Tensor, invStd: Tensor, gamma: Tensor, beta: Tensor, L: BnLayout, relu: boolean, scratch: Tensor): boolean {
  const p = plan(x.backend, L);
  if (!p) return false;
  applyRanges(p, y, ys, x, mean, invStd, gamma, beta, L, relu, scratchOf(p.pool, scratch));
  return true;
}

function applyRanges(
  { pool, ranges }: { pool: ThreadPool; ranges: [number, number][] },
  y: Tensor, ys: number, x: Tensor, mean: Tensor, invStd: Tensor, gamma: Tensor, beta: Tensor, L: BnLayout, relu: boolean, s: readonly number[],
): void {
  const C = L.C;
  pool.run(L.planar ? "bn_apply_nchw" : "bn_apply_nc", ranges.map(([a, b]) => L.planar
    ? [at(y.ptr, L, a, C), at(x.ptr, L, a, C), mean.ptr, invStd.ptr, gamma.ptr, beta.ptr, b - a, C, L.HW, 0]
    : [at(y.ptr, L, a, ys), ys, at(x.ptr, L, a, C), mean.ptr, invStd.ptr, gamma.ptr, beta.ptr, b - a, C, relu ? 1 : 0, 0]), L.planar ? SCRATCH.applyNchw : SCRATCH.applyNc, s);
}

/**
 * Backward of bn(x) (of max(0, bn(x)) when relu; beta needed then); dy rows dys floats apart.
 * Writes dx (contiguous), accumulates dgamma and dbeta (null: skipped).
 */
export function bnBackwardParallel(
  dx: Tensor, dgamma: Tensor | null, dbeta: Tensor | null, dy: Tensor, dys: number,
  x: Tensor, mean: Tensor, invStd: Tensor, gamma: Tensor, beta: Tensor | null, L: BnLayout, batchStats: boolean, relu: boolean, scratch: Tensor,
): boolean {
  const p = plan(x.backend, L);
  if (!p) return false;
  const { pool, ranges } = p;
  const k = x.backend.kernels, C = L.C, s = scratchOf(pool, scratch);
  const partBytes = 16 * C;
  const parts = pool.partials(partBytes * ranges.length + 12 * C);
  const coef = parts + partBytes * ranges.length;
  const b = beta ? beta.ptr : 0, r = relu ? 1 : 0;
  pool.run(L.planar ? "bn_backward_part_nchw" : "bn_backward_part_nc", ranges.map(([a0, a1], t) => L.planar
    ? [parts + t * partBytes, at(dy.ptr, L, a0, C), at(x.ptr, L, a0, C), mean.ptr, a1 - a0, C, L.HW]
    : [parts + t * partBytes, at(dy.ptr, L, a0, dys), dys, at(x.ptr, L, a0, C), mean.ptr, invStd.ptr, gamma.ptr, b, a1 - a0, C, r, 0]), L.planar ? -1 : SCRATCH.partNc, s);
  k.bn_backward_merge(coef, dgamma ? dgamma.ptr : 0, dbeta ? dbeta.ptr : 0, parts, ranges.length, invStd.ptr, gamma.ptr, L.m, C, batchStats ? 1 : 0, scratch.ptr);
  pool.run(L.planar ? "bn_backward_dx_nchw" : "bn_backward_dx_nc", ranges.map(([a0, a1]) => L.planar
    ? [at(dx.ptr, L, a0, C), at(dy.ptr, L, a0, C), at(x.ptr, L, a0, C), mean.ptr, coef, a1 - a0, C, L.HW]
    : [at(dx.ptr, L, a0, C), at(dy.ptr, L, a0, dys), dys, at(x.ptr, L, a0, C), mean.ptr, coef, invStd.ptr, gamma.ptr, b, a1 - a0, C, r, 0]), L.planar ? -1 : SCRATCH.dxNc, s);
  return true;
}
