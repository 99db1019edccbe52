// Per-channel mean and biased variance, mu = (1/m) sum x, var = (1/m) sum (x - mu)^2
// (Ioffe & Szegedy 2015, Alg. 1), over m = rows (layout NC) or N*HW (layout NCHW) values.
// One pass over x: float32 sums of (x - shift) over chunks of at most LANE_CHUNK values a
// lane, shift = the channel's first value, merged into float64 (count, mean, M2) with
// Chan et al.'s formula. Never E[x^2] - E[x]^2. Results stay in scratch as float64
// (mean in F64 slot 0, M2 in F64 slot 1), where the training forward finishes them.
import { chanMerge, chanMergeW, chanMergeW2, f32At, f32Put, f64Put, LANE_CHUNK, red0, red1, scratchF32, scratchF64, sumShiftedSq } from "./common";
import { colSumsShifted } from "./columns";

// Values of one NCHW plane summed in float32 before a merge.
const PLANE_CHUNK: i32 = 1024;

export function statsNC(x: usize, rows: i32, C: i32, scratch: usize): void {
  const mean64 = scratchF64(scratch, C, 0), m264 = scratchF64(scratch, C, 1);
  const shift = scratchF32(scratch, C, 0), s1 = scratchF32(scratch, C, 1), s2 = scratchF32(scratch, C, 2);
  for (let c = 0; c < C; c++) {
    f64Put(mean64, c, 0);
    f64Put(m264, c, 0);
    f32Put(shift, c, f32At(x, c));
  }
  // Blocks of LANE_CHUNK rows: each f32 lane sums at most LANE_CHUNK values before the
  // float64 merge, whose per-block weights are computed once for all channels.
  for (let r0 = 0; r0 < rows; r0 += LANE_CHUNK) {
    const nr = min(LANE_CHUNK, rows - r0);
    colSumsShifted(s1, s2, x + (<usize>(r0 * C) << 2), shift, nr, C);
    const na = <f64>r0, nb = <f64>nr, inb = 1.0 / nb, w = nb / (na + nb), w2 = na * nb / (na + nb);
    let c = 0;
    if (ASC_FEATURE_SIMD) c = chanMergeW2(mean64, m264, shift, s1, s2, inb, w, w2, C);
    for (; c < C; c++) {
      chanMergeW(mean64, m264, c, inb, w, w2, <f64>f32At(shift, c), <f64>f32At(s1, c), <f64>f32At(s2, c));
    }
  }
}

export function statsNCHW(x: usize, N: i32, C: i32, HW: i32, scratch: usize): void {
  const mean64 = scratchF64(scratch, C, 0), m264 = scratchF64(scratch, C, 1);
  const shift = scratchF32(scratch, C, 0);
  for (let c = 0; c < C; c++) {
    f64Put(mean64, c, 0);
    f64Put(m264, c, 0);
    f32Put(shift, c, f32At(x, c * HW));
  }
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const plane = x + (<usize>((n * C + c) * HW) << 2);
      const k = f32At(shift, c);
      for (let h0 = 0; h0 < HW; h0 += PLANE_CHUNK) {
        const nh = min(PLANE_CHUNK, HW - h0);
        sumShiftedSq(plane + (<usize>h0 << 2), nh, k);
        chanMerge(mean64, m264, c, <f64>(n * HW + h0), <f64>nh, <f64>k, <f64>red0, <f64>red1);
      }
    }
  }
}
