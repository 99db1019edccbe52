// Group Normalization (Wu & He 2018) with PyTorch's semantics; InstanceNorm is the case
// G = C (exactly: one group per channel). Per sample n and group g of C/G channels, over
// M = (C/G) * HW values:
//   y = (x - mu_ng) * invStd_ng * gamma[c] + beta[c],  invStd_ng = 1 / sqrt(var_ng + eps)
// with the group's mean and biased variance. Forward: statistics, then y; writes y and
// mean, var (0: not written), invStd of N*G values. Backward, with the group sums
// A = sum gamma[c] * dy, B = sum gamma[c] * dy * (x - mu):
//   dx = invStd * gamma[c] * dy - invStd^3 * B / M * (x - mu) - invStd * A / M,
//   dgamma[c] += sum dy * xhat,  dbeta[c] += sum dy;
// two passes (the sums, then dx); ACCUMULATES dgamma and dbeta (0: skipped), WRITES dx.
// Layouts: NCHW (a group is one contiguous block: planes of HW) and NHWC (rows of C:
// per-channel sums over the sample's pixels, merged into groups with Chan's formula).
// HW = 1 ([N, C] input) runs as rows of G segments (layer_norm.ts).
import { chanMergeW, f32At, f32Put, f64At, f64Put, LANE_CHUNK, red0, red1, sumDyDyx } from "./common";
import { colAffine, colBackwardDx, colSumsDyDyx, colSumsShifted } from "./columns";
import { planeAffine, planeBackwardDx } from "./planes";
import { BLOCK_CHUNK, blockStats, nsF32, nsF64, statM2, statMean } from "./norm_common";
import { segRowsBackward, segRowsForward } from "./layer_norm";

@inline function putStats(mean: usize, var_: usize, invStd: usize, k: i32, m: f64, v: f64, is: f64): void {
  f32Put(mean, k, <f32>m);
  if (var_) f32Put(var_, k, <f32>v);
  f32Put(invStd, k, <f32>is);
}

// dgamma += dg64, dbeta += db64 (either pointer 0: skipped).
function addParamGrads(dgamma: usize, dbeta: usize, dg64: usize, db64: usize, C: i32): void {
  for (let c = 0; c < C; c++) {
    if (dgamma) f32Put(dgamma, c, <f32>(<f64>f32At(dgamma, c) + f64At(dg64, c)));
    if (dbeta) f32Put(dbeta, c, <f32>(<f64>f32At(dbeta, c) + f64At(db64, c)));
  }
}

export function group_norm_forward_nchw(y: usize, mean: usize, var_: usize, invStd: usize, x: usize, gamma: usize, beta: usize, eps: f32, N: i32, C: i32, HW: i32, G: i32): void {
  const Cg = C / G;
  if (HW == 1) {
    segRowsForward(y, mean, var_, invStd, x, gamma, beta, eps, N, G, Cg);
    return;
  }
  const M = Cg * HW;
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < G; g++) {
      const k = n * G + g;
      const off = <usize>((n * C + g * Cg) * HW) << 2;
      blockStats(x + off, M);
      const v = statM2 / <f64>M, is = 1.0 / Math.sqrt(v + <f64>eps);
      putStats(mean, var_, invStd, k, statMean, v, is);
      const m = <f32>statMean;
      for (let j = 0; j < Cg; j++) {
        const c = g * Cg + j, o = off + (<usize>(j * HW) << 2);
        planeAffine(y + o, x + o, HW, m, <f32>(<f64>f32At(gamma, c) * is), f32At(beta, c), -Infinity);
      }
    }
  }
}

export function group_norm_backward_nchw(dx: usize, dgamma: usize, dbeta: usize, dy: usize, x: usize, mean: usize, invStd: usize, gamma: usize, N: i32, C: i32, HW: i32, G: i32, scratch: usize): void {
  const Cg = C / G;
  if (HW == 1) {
    segRowsBackward(dx, dgamma, dbeta, dy, x, mean, invStd, gamma, N, G, Cg, scratch);
    return;
  }
  const dg64 = nsF64(scratch, C, 0), db64 = nsF64(scratch, C, 1);
  memory.fill(dg64, 0, <usize>C << 4);
  const inv = 1.0 / <f64>(Cg * HW);
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < G; g++) {
      const k = n * G + g;
      const off = <usize>((n * C + g * Cg) * HW) << 2;
      const m = f32At(mean, k), is = <f64>f32At(invStd, k);
      let A: f64 = 0, B: f64 = 0;
      for (let j = 0; j < Cg; j++) {
        const c = g * Cg + j, o = off + (<usize>(j * HW) << 2);
        let sdy: f64 = 0, sdyx: f64 = 0;
        for (let h0 = 0; h0 < HW; h0 += BLOCK_CHUNK) {
          const q = o + (<usize>h0 << 2);
          sumDyDyx(dy + q, x + q, min(BLOCK_CHUNK, HW - h0), m);
          sdy += <f64>red0;
          sdyx += <f64>red1;
        }
        f64Put(dg64, c, f64At(dg64, c) + sdyx * is);
        f64Put(db64, c, f64At(db64, c) + sdy);
        const gc = <f64>f32At(gamma, c);
        A += gc * sdy;
        B += gc * sdyx;
      }
      const k2 = <f32>(-is * is * is * B * inv), k3 = <f32>(-is * A * inv);
      for (let j = 0; j < Cg; j++) {
        const c = g * Cg + j, o = off + (<usize>(j * HW) << 2);
        planeBackwardDx(dx + o, dy + o, x + o, HW, m, <f32>(is * <f64>f32At(gamma, c)), k2, k3);
      }
    }
  }
  addParamGrads(dgamma, dbeta, dg64, db64, C);
}

export function group_norm_forward_nhwc(y: usize, mean: usize, var_: usize, invStd: usize, x: usize, gamma: usize, beta: usize, eps: f32, N: i32, HW: i32, C: i32, G: i32, scratch: usize): void {
  const Cg = C / G;
  if (HW == 1) {
    segRowsForward(y, mean, var_, invStd, x, gamma, beta, eps, N, G, Cg);
    return;
  }
  const mean64 = nsF64(scratch, C, 0), m264 = nsF64(scratch, C, 1);
  const shift = nsF32(scratch, C, 0), s1 = nsF32(scratch, C, 1), s2 = nsF32(scratch, C, 2);
  const mc = nsF32(scratch, C, 3), ac = nsF32(scratch, C, 4);
  const sample = <usize>(HW * C) << 2;
  for (let n = 0; n < N; n++) {
    const xb = x + <usize>n * sample;
    memory.fill(mean64, 0, <usize>C << 4);
    for (let c = 0; c < C; c++) f32Put(shift, c, f32At(xb, c));
    // Per-channel (mean, M2) over the sample's pixels, LANE_CHUNK rows a float32 block.
    for (let r0 = 0; r0 < HW; r0 += LANE_CHUNK) {
      const nr = min(LANE_CHUNK, HW - r0);
      colSumsShifted(s1, s2, xb + (<usize>(r0 * C) << 2), shift, nr, C);
      const na = <f64>r0, nb = <f64>nr, w = nb / (na + nb), w2 = na * nb / (na + nb);
      for (let c = 0; c < C; c++) {
        chanMergeW(mean64, m264, c, 1.0 / nb, w, w2, <f64>f32At(shift, c), <f64>f32At(s1, c), <f64>f32At(s2, c));
      }
    }
    // Channels into groups: Chan's merge of equal counts HW.
    const hw = <f64>HW;
    for (let g = 0; g < G; g++) {
      let gm: f64 = 0, gm2: f64 = 0, cnt: f64 = 0;
      for (let j = 0; j < Cg; j++) {
        const c = g * Cg + j;
        const delta = f64At(mean64, c) - gm, tot = cnt + hw;
        gm += delta * (hw / tot);
        gm2 += f64At(m264, c) + delta * delta * (cnt * hw / tot);
        cnt = tot;
      }
      const v = gm2 / cnt, is = 1.0 / Math.sqrt(v + <f64>eps);
      putStats(mean, var_, invStd, n * G + g, gm, v, is);
      for (let j = 0; j < Cg; j++) {
        const c = g * Cg + j;
        f32Put(mc, c, <f32>gm);
        f32Put(ac, c, <f32>(<f64>f32At(gamma, c) * is));
      }
    }
    colAffine(y + <usize>n * sample, C, xb, mc, ac, beta, -Infinity, HW, C);
  }
}

export function group_norm_backward_nhwc(dx: usize, dgamma: usize, dbeta: usize, dy: usize, x: usize, mean: usize, invStd: usize, gamma: usize, N: i32, HW: i32, C: i32, G: i32, scratch: usize): void {
  const Cg = C / G;
  if (HW == 1) {
    segRowsBackward(dx, dgamma, dbeta, dy, x, mean, invStd, gamma, N, G, Cg, scratch);
    return;
  }
  const sdy = nsF64(scratch, C, 0), sdyx = nsF64(scratch, C, 1), dg64 = nsF64(scratch, C, 2), db64 = nsF64(scratch, C, 3);
  const s1 = nsF32(scratch, C, 0), s2 = nsF32(scratch, C, 1), mc = nsF32(scratch, C, 2);
  const k1 = nsF32(scratch, C, 3), k2 = nsF32(scratch, C, 4), k3 = nsF32(scratch, C, 5);
  memory.fill(dg64, 0, <usize>C << 4);
  const inv = 1.0 / <f64>(Cg * HW);
  const sample = <usize>(HW * C) << 2;
  for (let n = 0; n < N; n++) {
    const xb = x + <usize>n * sample, gb = dy + <usize>n * sample;
    for (let g = 0; g < G; g++) {
      const m = f32At(mean, n * G + g);
      for (let j = 0; j < Cg; j++) f32Put(mc, g * Cg + j, m);
    }
    memory.fill(sdy, 0, <usize>C << 4);
    for (let r0 = 0; r0 < HW; r0 += LANE_CHUNK) {
      const o = <usize>(r0 * C) << 2;
      colSumsDyDyx(s1, s2, gb + o, xb + o, mc, min(LANE_CHUNK, HW - r0), C);
      for (let c = 0; c < C; c++) {
        f64Put(sdy, c, f64At(sdy, c) + <f64>f32At(s1, c));
        f64Put(sdyx, c, f64At(sdyx, c) + <f64>f32At(s2, c));
      }
    }
    for (let g = 0; g < G; g++) {
      const is = <f64>f32At(invStd, n * G + g);
      let A: f64 = 0, B: f64 = 0;
      for (let j = 0; j < Cg; j++) {
        const c = g * Cg + j;
        const gc = <f64>f32At(gamma, c), a = f64At(sdy, c), b = f64At(sdyx, c);
        f64Put(dg64, c, f64At(dg64, c) + b * is);
        f64Put(db64, c, f64At(db64, c) + a);
        A += gc * a;
        B += gc * b;
      }
      const v2 = <f32>(-is * is * is * B * inv), v3 = <f32>(-is * A * inv);
      for (let j = 0; j < Cg; j++) {
        const c = g * Cg + j;
        f32Put(k1, c, <f32>(is * <f64>f32At(gamma, c)));
        f32Put(k2, c, v2);
        f32Put(k3, c, v3);
      }
    }
    colBackwardDx(dx + <usize>n * sample, gb, xb, mc, k1, k2, k3, HW, C);
  }
  addParamGrads(dgamma, dbeta, dg64, db64, C);
}
