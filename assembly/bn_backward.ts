// Batch Normalization backward (Ioffe & Szegedy 2015, Sec. 3), xhat = (x - mu) * invStd:
//   dbeta  = sum dy,   dgamma = sum dy * xhat,
//   dx     = gamma * invStd / m * (m * dy - dbeta - xhat * dgamma)        (batch statistics)
//   dx     = gamma * invStd * dy                                          (running statistics,
//                                                                          batchStats = 0)
// Batch Renormalization (Ioffe 2017) is y = (gamma r) xhat + (gamma d + beta) with r, d
// per-channel constants of the gradient: dx is the above with gamma * r, dgamma =
// r * sum dy * xhat + d * sum dy, dbeta = sum dy (bn_renorm_backward_*; r, d as the forward
// wrote them).
// Two passes: the sums (reads dy and x), then dx = k1*dy + k2*(x - mu) + k3 per channel
// (reads dy and x, writes dx). ACCUMULATES dgamma and dbeta (skipped when the pointer is 0),
// WRITES dx. mean and invStd are what the forward saved (or the running estimates).
import { f32At, f32Put, f64At, f64Put, LANE_CHUNK, red0, red1, scratchF32, scratchF64, sumDyDyx } from "./common";
import { colBackwardDx, colSumsDyDyx } from "./columns";
import { planeBackwardDx } from "./planes";

const PLANE_CHUNK: i32 = 1024;

// From the float64 sums in scratch: accumulate dgamma/dbeta, and put k1, k2, k3 in F32
// slots 2, 3, 4. r, d: Batch Renormalization's corrections (0: none, r = 1 and d = 0).
export function finishBackward(dgamma: usize, dbeta: usize, invStd: usize, gamma: usize, r: usize, d: usize, m: i32, C: i32, batchStats: i32, scratch: usize): void {
  const sdy = scratchF64(scratch, C, 0), sdyx = scratchF64(scratch, C, 1);
  const k1 = scratchF32(scratch, C, 2), k2 = scratchF32(scratch, C, 3), k3 = scratchF32(scratch, C, 4);
  const inv = 1.0 / <f64>m;
  for (let c = 0; c < C; c++) {
    const is = <f64>f32At(invStd, c);
    const rc: f64 = r ? <f64>f32At(r, c) : 1.0, dc: f64 = d ? <f64>f32At(d, c) : 0.0;
    const g = <f64>f32At(gamma, c) * rc;
    const db = f64At(sdy, c), dg = f64At(sdyx, c) * is;
    if (dbeta) f32Put(dbeta, c, <f32>(<f64>f32At(dbeta, c) + db));
    if (dgamma) f32Put(dgamma, c, <f32>(<f64>f32At(dgamma, c) + (r ? rc * dg + dc * db : dg)));
    const gi = g * is;
    f32Put(k1, c, <f32>gi);
    f32Put(k2, c, batchStats ? <f32>(-gi * is * dg * inv) : 0);
    f32Put(k3, c, batchStats ? <f32>(-gi * db * inv) : 0);
  }
}

export function bn_backward_nc(dx: usize, dgamma: usize, dbeta: usize, dy: usize, x: usize, mean: usize, invStd: usize, gamma: usize, rows: i32, C: i32, batchStats: i32, scratch: usize): void {
  backwardNC(dx, dgamma, dbeta, dy, x, mean, invStd, gamma, 0, 0, rows, C, batchStats, scratch);
}

export function bn_backward_nchw(dx: usize, dgamma: usize, dbeta: usize, dy: usize, x: usize, mean: usize, invStd: usize, gamma: usize, N: i32, C: i32, HW: i32, batchStats: i32, scratch: usize): void {
  backwardNCHW(dx, dgamma, dbeta, dy, x, mean, invStd, gamma, 0, 0, N, C, HW, batchStats, scratch);
}

// Training-mode backward of Batch Renormalization (r, d: the forward's corrections).
export function bn_renorm_backward_nc(dx: usize, dgamma: usize, dbeta: usize, dy: usize, x: usize, mean: usize, invStd: usize, gamma: usize, r: usize, d: usize, rows: i32, C: i32, scratch: usize): void {
  backwardNC(dx, dgamma, dbeta, dy, x, mean, invStd, gamma, r, d, rows, C, 1, scratch);
}

export function bn_renorm_backward_nchw(dx: usize, dgamma: usize, dbeta: usize, dy: usize, x: usize, mean: usize, invStd: usize, gamma: usize, r: usize, d: usize, N: i32, C: i32, HW: i32, scratch: usize): void {
  backwardNCHW(dx, dgamma, dbeta, dy, x, mean, invStd, gamma, r, d, N, C, HW, 1, scratch);
}

// sdy[c] = sum dy, sdyx[c] = sum dy * (x - mean) over rows x C (float64; float32 over at most
// LANE_CHUNK rows, in F32 slots 0 and 1 of scratch). Writes sdy, sdyx.
export function sumsNC(sdy: usize, sdyx: usize, dy: usize, x: usize, mean: usize, rows: i32, C: i32, scratch: usize): void {
  const s1 = scratchF32(scratch, C, 0), s2 = scratchF32(scratch, C, 1);
  for (let c = 0; c < C; c++) { f64Put(sdy, c, 0); f64Put(sdyx, c, 0); }
  for (let r0 = 0; r0 < rows; r0 += LANE_CHUNK) {
    const o = <usize>(r0 * C) << 2;
    colSumsDyDyx(s1, s2, dy + o, x + o, mean, min(LANE_CHUNK, rows - r0), C);
    for (let c = 0; c < C; c++) {
      f64Put(sdy, c, f64At(sdy, c) + <f64>f32At(s1, c));
      f64Put(sdyx, c, f64At(sdyx, c) + <f64>f32At(s2, c));
    }
  }
}

// The same sums over N x C planes of HW (float32 over at most PLANE_CHUNK values). Writes sdy, sdyx.
export function sumsNCHW(sdy: usize, sdyx: usize, dy: usize, x: usize, mean: usize, N: i32, C: i32, HW: i32): void {
  for (let c = 0; c < C; c++) { f64Put(sdy, c, 0); f64Put(sdyx, c, 0); }
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const o = <usize>((n * C + c) * HW) << 2;
      const mu = f32At(mean, c);
      for (let h0 = 0; h0 < HW; h0 += PLANE_CHUNK) {
        const q = o + (<usize>h0 << 2);
        sumDyDyx(dy + q, x + q, min(PLANE_CHUNK, HW - h0), mu);
        f64Put(sdy, c, f64At(sdy, c) + <f64>red0);
        f64Put(sdyx, c, f64At(sdyx, c) + <f64>red1);
      }
    }
  }
}

function backwardNC(dx: usize, dgamma: usize, dbeta: usize, dy: usize, x: usize, mean: usize, invStd: usize, gamma: usize, r: usize, d: usize, rows: i32, C: i32, batchStats: i32, scratch: usize): void {
  sumsNC(scratchF64(scratch, C, 0), scratchF64(scratch, C, 1), dy, x, mean, rows, C, scratch);
  finishBackward(dgamma, dbeta, invStd, gamma, r, d, rows, C, batchStats, scratch);
  const k1 = scratchF32(scratch, C, 2), k2 = scratchF32(scratch, C, 3), k3 = scratchF32(scratch, C, 4);
  colBackwardDx(dx, dy, x, mean, k1, k2, k3, rows, C);
}

function backwardNCHW(dx: usize, dgamma: usize, dbeta: usize, dy: usize, x: usize, mean: usize, invStd: usize, gamma: usize, r: usize, d: usize, N: i32, C: i32, HW: i32, batchStats: i32, scratch: usize): void {
  sumsNCHW(scratchF64(scratch, C, 0), scratchF64(scratch, C, 1), dy, x, mean, N, C, HW);
  finishBackward(dgamma, dbeta, invStd, gamma, r, d, N * HW, C, batchStats, scratch);
  const k1 = scratchF32(scratch, C, 2), k2 = scratchF32(scratch, C, 3), k3 = scratchF32(scratch, C, 4);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const o = <usize>((n * C + c) * HW) << 2;
      planeBackwardDx(dx + o, dy + o, x + o, HW, f32At(mean, c), f32At(k1, c), f32At(k2, c), f32At(k3, c));
    }
  }
}
