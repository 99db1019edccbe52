// @ts-nocheck: AssemblyScript, compiled by bench/harness/roofline.ts with asc; tsc does not
// know its builtins (f32x4, v128).
//
// The f32x4 multiply-add peak of this machine under V8: three loops that issue nothing but
// f32x4.mul + f32x4.add pairs (the pair a wasm SIMD GEMM issues per multiply-add; wasm SIMD
// 1.0 has no FMA) with enough independent work to be bound by the vector ports, not by
// latency. The peak is the fastest of the three.
// Each returns a lane of its accumulators so that nothing is dead code. 8 flops per pair.

// Two splat operands and eight vector operands, L1-resident and never written.
const OPS = memory.data<f32>([0.5, -0.25, 0.125, 0.75, -0.5, 0.25, -0.125, 0.375, 1.0, -1.0, 0.5, -0.5], 16);

// 12 chains acc = acc * s + t: 12 mul-add pairs an iteration.
export function peak_chains(iters: i32, s0: f32, t0: f32): f32 {
  const s = f32x4.splat(s0), t = f32x4.splat(t0);
  let a0 = f32x4.splat(0.1), a1 = f32x4.splat(0.2), a2 = f32x4.splat(0.3), a3 = f32x4.splat(0.4);
  let a4 = f32x4.splat(0.5), a5 = f32x4.splat(0.6), a6 = f32x4.splat(0.7), a7 = f32x4.splat(0.8);
  let a8 = f32x4.splat(0.9), a9 = f32x4.splat(1.0), a10 = f32x4.splat(1.1), a11 = f32x4.splat(1.2);
  for (let i = 0; i < iters; i++) {
    a0 = f32x4.add(f32x4.mul(a0, s), t); a1 = f32x4.add(f32x4.mul(a1, s), t);
    a2 = f32x4.add(f32x4.mul(a2, s), t); a3 = f32x4.add(f32x4.mul(a3, s), t);
    a4 = f32x4.add(f32x4.mul(a4, s), t); a5 = f32x4.add(f32x4.mul(a5, s), t);
    a6 = f32x4.add(f32x4.mul(a6, s), t); a7 = f32x4.add(f32x4.mul(a7, s), t);
    a8 = f32x4.add(f32x4.mul(a8, s), t); a9 = f32x4.add(f32x4.mul(a9, s), t);
    a10 = f32x4.add(f32x4.mul(a10, s), t); a11 = f32x4.add(f32x4.mul(a11, s), t);
  }
  const r = f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7)));
  const q = f32x4.add(r, f32x4.add(f32x4.add(a8, a9), f32x4.add(a10, a11)));
  return f32x4.extract_lane(q, 0);
}

// A 4 x 8 register tile (8 accumulators) fed by 4 splat loads and 2 vector loads an
// iteration from OPS: the GEMM micro-kernel with its operands pinned in L1, i.e. without
// packing, blocking or cache misses. 8 mul-add pairs an iteration.
export function peak_tile(iters: i32): f32 {
  const p = OPS;
  let c00 = f32x4.splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  for (let i = 0; i < iters; i++) {
    const b0 = v128.load(p, 16), b1 = v128.load(p, 32);
    let av = v128.load32_splat(p);
    c00 = f32x4.add(c00, f32x4.mul(av, b0)); c01 = f32x4.add(c01, f32x4.mul(av, b1));
    av = v128.load32_splat(p, 4);
    c10 = f32x4.add(c10, f32x4.mul(av, b0)); c11 = f32x4.add(c11, f32x4.mul(av, b1));
    av = v128.load32_splat(p, 8);
    c20 = f32x4.add(c20, f32x4.mul(av, b0)); c21 = f32x4.add(c21, f32x4.mul(av, b1));
    av = v128.load32_splat(p, 12);
    c30 = f32x4.add(c30, f32x4.mul(av, b0)); c31 = f32x4.add(c31, f32x4.mul(av, b1));
  }
  const r = f32x4.add(f32x4.add(f32x4.add(c00, c01), f32x4.add(c10, c11)), f32x4.add(f32x4.add(c20, c21), f32x4.add(c30, c31)));
  return f32x4.extract_lane(r, 0);
}

// 10 accumulators of products of two loop-carried vectors x, y (each moved by one add an
// iteration, not counted): 10 mul-add pairs an iteration.
export function peak_indep(iters: i32, s0: f32): f32 {
  let x = f32x4.splat(1), y = f32x4.splat(s0);
  const d = f32x4.splat(1e-7);
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0;
  for (let i = 0; i < iters; i++) {
    a0 = f32x4.add(a0, f32x4.mul(x, y)); a1 = f32x4.add(a1, f32x4.mul(x, x));
    a2 = f32x4.add(a2, f32x4.mul(y, y)); a3 = f32x4.add(a3, f32x4.mul(x, d));
    a4 = f32x4.add(a4, f32x4.mul(y, d)); a5 = f32x4.add(a5, f32x4.mul(x, y));
    a6 = f32x4.add(a6, f32x4.mul(x, x)); a7 = f32x4.add(a7, f32x4.mul(y, y));
    a8 = f32x4.add(a8, f32x4.mul(x, d)); a9 = f32x4.add(a9, f32x4.mul(y, d));
    x = f32x4.add(x, d); y = f32x4.sub(y, d);
  }
  const r = f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7)));
  return f32x4.extract_lane(f32x4.add(r, f32x4.add(a8, a9)), 0);
}
