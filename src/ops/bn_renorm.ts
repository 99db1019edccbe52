// Batch Renormalization (Ioffe 2017) and Ghost Batch Normalization (Hoffer et al. 2017) ops:
// the only code that calls the bn_renorm_* and bn_ghost_* kernels. Ghost batches are runs of
// consecutive samples, so each is a contiguous block of the tensor in every layout
// (rows x C, NCHW planes, NHWC rows): the plain BN kernels run on each block at an offset.
import type { Tensor } from "../tensor.js";
import type { BnBatchStats, BnLayout } from "./bn.js";

/** Batch Renormalization's clipping bounds for one step: r in [rMin, rMax], d in [-dMax, dMax]. */
export interface RenormClip {
  rMin: number;
  rMax: number;
  dMax: number;
}

/**
 * Training forward of Batch Renormalization: y = gamma * ((x - mean) * invStd * r + d) + beta with
 * r, d from the batch statistics and renormMean / renormStd (before this batch). Writes y, stats, r, d.
 */
export function bnRenormForwardTrain(
  y: Tensor, stats: BnBatchStats, r: Tensor, d: Tensor,
  x: Tensor, gamma: Tensor, beta: Tensor, renormMean: Tensor, renormStd: Tensor, eps: number, clip: RenormClip, L: BnLayout, scratch: Tensor,
): void {
  const k = x.backend.kernels;
  const { mean, invStd } = stats;
  if (L.planar) {
    k.bn_renorm_forward_train_nchw(y.ptr, mean.ptr, stats.var.ptr, invStd.ptr, r.ptr, d.ptr, x.ptr, gamma.ptr, beta.ptr, renormMean.ptr, renormStd.ptr, eps, clip.rMin, clip.rMax, clip.dMax, L.N, L.C, L.HW, scratch.ptr);
  } else {
    k.bn_renorm_forward_train_nc(y.ptr, mean.ptr, stats.var.ptr, invStd.ptr, r.ptr, d.ptr, x.ptr, gamma.ptr, beta.ptr, renormMean.ptr, renormStd.ptr, eps, clip.rMin, clip.rMax, clip.dMax, L.rows, L.C, scratch.ptr);
  }
}

/** Backward of a renorm training forward, r and d held constant. dx written; dgamma, dbeta accumulated (null: none). */
export function bnRenormBackward(
  dx: Tensor, dgamma: Tensor | null, dbeta: Tensor | null,
  dy: Tensor, x: Tensor, mean: Tensor, invStd: Tensor, gamma: Tensor, r: Tensor, d: Tensor, L: BnLayout, scratch: Tensor,
): void {
  const k = x.backend.kernels;
  const dg = dgamma ? dgamma.ptr : 0, db = dbeta ? dbeta.ptr : 0;
  if (L.planar) k.bn_renorm_backward_nchw(dx.ptr, dg, db, dy.ptr, x.ptr, mean.ptr, invStd.ptr, gamma.ptr, r.ptr, d.ptr, L.N, L.C, L.HW, scratch.ptr);
  else k.bn_renorm_backward_nc(dx.ptr, dg, db, dy.ptr, x.ptr, mean.ptr, invStd.ptr, gamma.ptr, r.ptr, d.ptr, L.rows, L.C, scratch.ptr);
}

/** renormMean += f (mean - renormMean), renormStd += f (sqrt(var + eps) - renormStd). Updates in place. */
export function bnRenormUpdate(renormMean: Tensor, renormStd: Tensor, stats: BnBatchStats, factor: number, eps: number): void {
  renormMean.backend.kernels.bn_renorm_update(renormMean.ptr, renormStd.ptr, stats.mean.ptr, stats.var.ptr, factor, eps, renormMean.size);
}

/** The layout of one of G equal ghost batches of L, and its offset in floats. */
function ghostPart(L: BnLayout, G: number): { sub: BnLayout; floats: number } {
  if (L.planar) {
    const N = L.N / G;
    return { sub: { planar: true, N, C: L.C, HW: L.HW, m: N * L.HW }, floats: N * L.C * L.HW };
  }
  const rows = L.rows / G;
  return { sub: { planar: false, rows, C: L.C, m: rows }, floats: rows * L.C };
}

/**
 * Ghost Batch Norm training forward: G consecutive sub-batches, each normalized with its own
 * statistics. Writes y and, in `groups`, G rows of C means, biased variances and invStd.
 */
export function bnGhostForwardTrain(y: Tensor, groups: BnBatchStats, x: Tensor, gamma: Tensor, beta: Tensor, eps: number, L: BnLayout, G: number, scratch: Tensor): void {
  const k = x.backend.kernels;
  const { sub, floats } = ghostPart(L, G);
  const C = L.C;
  for (let g = 0; g < G; g++) {
    const o = 4 * g * floats, s = 4 * g * C;
    const yp = y.ptr + o, xp = x.ptr + o, mp = groups.mean.ptr + s, vp = groups.var.ptr + s, ip = groups.invStd.ptr + s;
    if (sub.planar) k.bn_forward_train_nchw(yp, mp, vp, ip, xp, gamma.ptr, beta.ptr, eps, sub.N, C, sub.HW, scratch.ptr);
    else k.bn_forward_train_nc(yp, mp, vp, ip, xp, gamma.ptr, beta.ptr, eps, sub.rows, C, scratch.ptr);
  }
}

/** Backward of bnGhostForwardTrain, sub-batch by sub-batch. dx written; dgamma, dbeta accumulated (null: none). */
export function bnGhostBackward(
  dx: Tensor, dgamma: Tensor | null, dbeta: Tensor | null,
  dy: Tensor, x: Tensor, groups: BnBatchStats, gamma: Tensor, L: BnLayout, G: number, scratch: Tensor,
): void {
  const k = x.backend.kernels;
  const { sub, floats } = ghostPart(L, G);
  const C = L.C;
  const dg = dgamma ? dgamma.ptr : 0, db = dbeta ? dbeta.ptr : 0;
  for (let g = 0; g < G; g++) {
    const o = 4 * g * floats, s = 4 * g * C;
    const mp = groups.mean.ptr + s, ip = groups.invStd.ptr + s;
    if (sub.planar) k.bn_backward_nchw(dx.ptr + o, dg, db, dy.ptr + o, x.ptr + o, mp, ip, gamma.ptr, sub.N, C, sub.HW, 1, scratch.ptr);
    else k.bn_backward_nc(dx.ptr + o, dg, db, dy.ptr + o, x.ptr + o, mp, ip, gamma.ptr, sub.rows, C, 1, scratch.ptr);
  }
}

/** stats.mean, stats.var = the averages of the G sub-batches' means and biased variances (Keras 2's rule). Writes them. */
export function bnGhostMoments(stats: BnBatchStats, groups: BnBatchStats, G: number): void {
  stats.mean.backend.kernels.bn_ghost_moments(stats.mean.ptr, stats.var.ptr, groups.mean.ptr, groups.var.ptr, G, stats.mean.size);
}
