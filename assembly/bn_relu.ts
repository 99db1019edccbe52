// Batch Normalization fused with the ReLU that follows it (Ioffe & Szegedy 2015, Alg. 1,
// then max(0, .)), channels-last rows x C. The layer keeps only its input x (the
// convolution's output) and the per-channel mean and invStd: the output is recomputed
// from them when a memory-lean container needs it again, and backward rebuilds the ReLU's
// mask from them. All three kernels form the pre-activation the same way,
//   v = (x - mu) * a + beta,   a = f32(gamma * invStd),
// so the recomputed output and the backward mask are bit-identical to the forward's.
//   forward:  y = max(0, v)                               WRITES y (row stride ys), mean, var, invStd
//   apply:    y = max(0, v) from given mean, invStd       WRITES y (row stride ys)
//   backward: g = dy * [v > 0], then Batch Normalization's backward of g:
//     dbeta += sum g,  dgamma += sum g * xhat,
//     dx = gamma * invStd / m * (m * g - sum g - xhat * sum g * xhat)   (batch statistics)
//     dx = gamma * invStd * g                                           (running statistics)
//                                            WRITES dx (contiguous; may be x itself, as x[i] is
//                                            read before dx[i] is written), ACCUMULATES dgamma, dbeta
// dy may be a channel slice (row stride dys >= C), as may y. Sums: float32 over at most
// LANE_CHUNK rows, merged into float64 (as bn_backward_nc).
import { f32At, f32Put, f64At, f64Put, LANE_CHUNK, scratchF32, scratchF64 } from "./common";
import { statsNC } from "./bn_stats";
import { colAffine, colMaskedDx, colMaskedSums } from "./columns";

// a = f32(gamma * invStd) into F32 slot 3 of scratch (invStd as stored, in float32).
export function scaleOf(invStd: usize, gamma: usize, C: i32, scratch: usize): usize {
  const a = scratchF32(scratch, C, 3);
  for (let c = 0; c < C; c++) f32Put(a, c, <f32>(<f64>f32At(gamma, c) * <f64>f32At(invStd, c)));
  return a;
}

export function bn_relu_forward_train_nc(y: usize, ys: i32, mean: usize, var_: usize, invStd: usize, x: usize, gamma: usize, beta: usize, eps: f32, rows: i32, C: i32, scratch: usize): void {
  statsNC(x, rows, C, scratch);
  const mean64 = scratchF64(scratch, C, 0), m264 = scratchF64(scratch, C, 1);
  for (let c = 0; c < C; c++) {
    const v = f64At(m264, c) / <f64>rows;
    f32Put(mean, c, <f32>f64At(mean64, c));
    f32Put(var_, c, <f32>v);
    f32Put(invStd, c, <f32>(1.0 / Math.sqrt(v + <f64>eps)));
  }
  colAffine(y, ys, x, mean, scaleOf(invStd, gamma, C, scratch), beta, 0, rows, C);
}

export function bn_relu_apply_nc(y: usize, ys: i32, x: usize, mean: usize, invStd: usize, gamma: usize, beta: usize, rows: i32, C: i32, scratch: usize): void {
  colAffine(y, ys, x, mean, scaleOf(invStd, gamma, C, scratch), beta, 0, rows, C);
}

// sdy[c] = sum g, sdyx[c] = sum g * (x - mu), g = dy * [v > 0], over rows (float64; float32 over
// at most LANE_CHUNK rows in F32 slots 0 and 1 of scratch; a = scaleOf's, in slot 3). Writes sdy, sdyx.
export function maskedSumsNC(sdy: usize, sdyx: usize, dy: usize, dys: i32, x: usize, mean: usize, a: usize, beta: usize, rows: i32, C: i32, scratch: usize): void {
  const s1 = scratchF32(scratch, C, 0), s2 = scratchF32(scratch, C, 1);
  for (let c = 0; c < C; c++) { f64Put(sdy, c, 0); f64Put(sdyx, c, 0); }
  for (let r0 = 0; r0 < rows; r0 += LANE_CHUNK) {
    const nr = min(LANE_CHUNK, rows - r0);
    colMaskedSums(s1, s2, dy + (<usize>r0 * <usize>dys << 2), dys, x + (<usize>(r0 * C) << 2), mean, a, beta, nr, C);
    for (let c = 0; c < C; c++) {
      f64Put(sdy, c, f64At(sdy, c) + <f64>f32At(s1, c));
      f64Put(sdyx, c, f64At(sdyx, c) + <f64>f32At(s2, c));
    }
  }
}

export function bn_relu_backward_nc(dx: usize, dgamma: usize, dbeta: usize, dy: usize, dys: i32, x: usize, mean: usize, invStd: usize, gamma: usize, beta: usize, rows: i32, C: i32, batchStats: i32, scratch: usize): void {
  const sdy = scratchF64(scratch, C, 0), sdyx = scratchF64(scratch, C, 1);
  const a = scaleOf(invStd, gamma, C, scratch);
  maskedSumsNC(sdy, sdyx, dy, dys, x, mean, a, beta, rows, C, scratch);
  // k1, k2, k3 in F32 slots 0, 1, 2 (slot 3 holds a).
  const k1 = scratchF32(scratch, C, 0), k2 = scratchF32(scratch, C, 1), k3 = scratchF32(scratch, C, 2);
  const inv = 1.0 / <f64>rows;
  for (let c = 0; c < C; c++) {
    const is = <f64>f32At(invStd, c), gi = <f64>f32At(gamma, c) * is;
    const db = f64At(sdy, c), dg = f64At(sdyx, c) * is;
    if (dbeta) f32Put(dbeta, c, <f32>(<f64>f32At(dbeta, c) + db));
    if (dgamma) f32Put(dgamma, c, <f32>(<f64>f32At(dgamma, c) + dg));
    f32Put(k1, c, <f32>gi);
    f32Put(k2, c, batchStats ? <f32>(-gi * is * dg * inv) : 0);
    f32Put(k3, c, batchStats ? <f32>(-gi * db * inv) : 0);
  }
  colMaskedDx(dx, dy, dys, x, mean, a, beta, k1, k2, k3, rows, C);
}
