// Layer Normalization (Ba et al. 2016) with PyTorch's semantics, over rows of D contiguous
// values (x viewed as [rows, D], D = the product of normalizedShape):
//   y = (x - mu_r) * invStd_r * gamma[d] + beta[d],  invStd_r = 1 / sqrt(var_r + eps)
// with the row's mean and biased variance. Forward: statistics (norm_common.ts: Chan merge
// of shifted float32 chunks in float64), then y; writes y, mean[rows], invStd[rows] (what
// backward needs). Backward, t = dy * gamma, xhat = (x - mu) * invStd:
//   dx = invStd * (t - mean(t) - xhat * mean(t * xhat)),
//   dgamma[d] += sum_r dy * xhat,  dbeta[d] += sum_r dy,
// two passes per row (the sums, then dx); ACCUMULATES dgamma and dbeta (0: skipped),
// WRITES dx. The row driver takes G segments per row so that GroupNorm on [N, C] (a
// segment per group, gamma per channel) runs through the same loops.
import { LANE_CHUNK } from "./common";
import { blockStats, flushF32, nsF32, nsF64, segAffine, segDx, segS1, segS2, segSums, statM2, statMean } from "./norm_common";

// Rows of G segments of S values; mean, var_ (0: not written), invStd hold rows*G values.
export function segRowsForward(y: usize, mean: usize, var_: usize, invStd: usize, x: usize, gamma: usize, beta: usize, eps: f32, rows: i32, G: i32, S: i32): void {
  const invS = 1.0 / <f64>S;
  // Three loops per row (statistics, then invStd, then y), so that the divisions and square
  // roots of different segments overlap instead of waiting on one another: short segments
  // (GroupNorm's [N, C] groups) are bound by that latency. invStd holds var until the second.
  for (let r = 0; r < rows; r++) {
    const k0 = r * G;
    for (let g = 0; g < G; g++) {
      blockStats(x + (<usize>((k0 + g) * S) << 2), S);
      const v = <f32>(statM2 * invS);
      store<f32>(mean + (<usize>(k0 + g) << 2), <f32>statMean);
      store<f32>(invStd + (<usize>(k0 + g) << 2), v);
      if (var_) store<f32>(var_ + (<usize>(k0 + g) << 2), v);
    }
    for (let g = 0; g < G; g++) {
      const q = invStd + (<usize>(k0 + g) << 2);
      store<f32>(q, <f32>(1.0 / Math.sqrt(<f64>load<f32>(q) + <f64>eps)));
    }
    for (let g = 0; g < G; g++) {
      const off = <usize>((k0 + g) * S) << 2, po = <usize>(g * S) << 2;
      segAffine(y + off, x + off, gamma + po, beta + po, S, load<f32>(mean + (<usize>(k0 + g) << 2)), load<f32>(invStd + (<usize>(k0 + g) << 2)));
    }
  }
}

// Backward of segRowsForward. scratch: norm_scratch_bytes(G * S).
export function segRowsBackward(dx: usize, dgamma: usize, dbeta: usize, dy: usize, x: usize, mean: usize, invStd: usize, gamma: usize, rows: i32, G: i32, S: i32, scratch: usize): void {
  const D = G * S;
  const params = dgamma != 0 || dbeta != 0;
  const dg64 = nsF64(scratch, D, 0), db64 = nsF64(scratch, D, 1);
  const accG = params ? nsF32(scratch, D, 0) : 0, accB = nsF32(scratch, D, 1);
  if (params) {
    memory.fill(dg64, 0, <usize>D << 4);
    memory.fill(accG, 0, <usize>D << 3);
  }
  const inv = 1.0 / <f64>S;
  // dx's coefficients of the row's G segments (two loops, as the forward's).
  const c2 = nsF32(scratch, D, 2), c3 = nsF32(scratch, D, 3);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < G; g++) {
      const k = r * G + g;
      const off = <usize>(r * D + g * S) << 2, po = <usize>(g * S) << 2;
      const is = load<f32>(invStd + (<usize>k << 2));
      segSums(accG ? accG + po : 0, accB + po, dy + off, x + off, gamma + po, S, load<f32>(mean + (<usize>k << 2)), is);
      const i64 = <f64>is;
      store<f32>(c2 + (<usize>g << 2), <f32>(-i64 * i64 * i64 * segS2 * inv));
      store<f32>(c3 + (<usize>g << 2), <f32>(-i64 * segS1 * inv));
    }
    for (let g = 0; g < G; g++) {
      const k = r * G + g;
      const off = <usize>(r * D + g * S) << 2, po = <usize>(g * S) << 2;
      segDx(dx + off, dy + off, x + off, gamma + po, S, load<f32>(mean + (<usize>k << 2)), load<f32>(invStd + (<usize>k << 2)), load<f32>(c2 + (<usize>g << 2)), load<f32>(c3 + (<usize>g << 2)));
    }
    // Each float32 accumulator holds at most LANE_CHUNK rows' terms before the float64 fold.
    if (params && (r % LANE_CHUNK == LANE_CHUNK - 1 || r == rows - 1)) {
      flushF32(dg64, accG, D);
      flushF32(db64, accB, D);
    }
  }
  if (!params) return;
  for (let d = 0; d < D; d++) {
    const o4 = <usize>d << 2, o8 = <usize>d << 3;
    if (dgamma) store<f32>(dgamma + o4, <f32>(<f64>load<f32>(dgamma + o4) + load<f64>(dg64 + o8)));
    if (dbeta) store<f32>(dbeta + o4, <f32>(<f64>load<f32>(dbeta + o4) + load<f64>(db64 + o8)));
  }
}

export function layer_norm_forward(y: usize, mean: usize, invStd: usize, x: usize, gamma: usize, beta: usize, eps: f32, rows: i32, D: i32): void {
  segRowsForward(y, mean, 0, invStd, x, gamma, beta, eps, rows, 1, D);
}

export function layer_norm_backward(dx: usize, dgamma: usize, dbeta: usize, dy: usize, x: usize, mean: usize, invStd: usize, gamma: usize, rows: i32, D: i32, scratch: usize): void {
  segRowsBackward(dx, dgamma, dbeta, dy, x, mean, invStd, gamma, rows, 1, D, scratch);
}
