// Geometry and helpers shared by the pooling kernels (pool_max.ts, pool_avg.ts, pool_global.ts).
// A window of output row oh covers input rows [oh*sh - pt, oh*sh - pt + KH); the rows outside
// [0, H) are padding. The caller computes OH and OW (TensorFlow's 'same' puts the odd padding
// row at the bottom, which only shows as a window clipped at H), so every window must hold at
// least one input row and column.

// First in-bounds input row (or column) of the window of output o.
@inline export function winStart(o: i32, s: i32, p: i32): i32 {
  return max(o * s - p, 0);
}

// One past the last in-bounds input row (or column) of the window of output o.
@inline export function winEnd(o: i32, s: i32, p: i32, K: i32, H: i32): i32 {
  return min(o * s - p + K, H);
}

// The outputs [lo, hi) whose whole window lies inside [0, W): the SIMD loops along W in NCHW
// run there, the scalar loop takes the clipped windows at both ends.
@inline export function interiorLo(OW: i32, sw: i32, pl: i32): i32 {
  return min((pl + sw - 1) / sw, OW);
}
@inline export function interiorHi(OW: i32, W: i32, KW: i32, sw: i32, pl: i32): i32 {
  const last = W - KW + pl; // the last interior output starts at or before this column
  return last < 0 ? 0 : min(last / sw + 1, OW);
}

// Zeroes `cols` floats in each of `rows` rows `stride` floats apart (a slice of a tensor).
export function zeroRows(p: usize, stride: i32, rows: i32, cols: i32): void {
  if (stride == cols) {
    memory.fill(p, 0, <usize>rows * cols << 2);
    return;
  }
  for (let r = 0; r < rows; r++) memory.fill(p + (<usize>r * stride << 2), 0, <usize>cols << 2);
}

// Four floats s apart from p (s = 1, 2 as a constant after inlining): lanes x[0], x[s], x[2s],
// x[3s]. The stride-2 loads stay inside [p, p + 7 floats), never past the last lane.
@inline export function load4(p: usize, s: i32): v128 {
  if (s == 1) return v128.load(p);
  const a = v128.load(p), b = v128.load(p, 12);
  return i8x16.shuffle(a, b, 0, 1, 2, 3, 8, 9, 10, 11, 20, 21, 22, 23, 28, 29, 30, 31);
}

// a where the lane of `mask` is all ones, b where it is all zeros (masks from comparisons only).
// The relaxed build's laneselect is one blendv on x86, where bitselect takes three or four
// instructions; on such masks both give the same bits.
@inline export function selectLanes(a: v128, b: v128, mask: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i32x4.relaxed_laneselect(a, b, mask);
  return v128.bitselect(a, b, mask);
}
