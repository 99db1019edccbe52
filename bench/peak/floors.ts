// @ts-nocheck: AssemblyScript, compiled by bench/harness/roofline.ts with asc; tsc does not
// know its builtins (f32x4, v128).
//
// The memory floors: the fastest f32x4 passes over n floats, run over the same
// WebAssembly.Memory (imported) and the same buffers as the kernels they bound.
//   sum  = read n floats (four f32x4 accumulators, 16 floats an iteration)
//   copy = read n floats and write n floats (v128 load/store, 64 bytes an iteration)
//   add  = read 2n floats and write n floats

// Sum of n floats at p: four independent f32x4 accumulators hide the add latency, so the
// loop runs at the speed of the loads.
export function floor_sum(p: usize, n: i32): f32 {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const q = p + (<usize>i << 2);
    a0 = f32x4.add(a0, v128.load(q));
    a1 = f32x4.add(a1, v128.load(q, 16));
    a2 = f32x4.add(a2, v128.load(q, 32));
    a3 = f32x4.add(a3, v128.load(q, 48));
  }
  for (; i + 4 <= n; i += 4) a0 = f32x4.add(a0, v128.load(p + (<usize>i << 2)));
  a0 = f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3));
  let s: f32 = f32x4.extract_lane(a0, 0) + f32x4.extract_lane(a0, 1) + f32x4.extract_lane(a0, 2) + f32x4.extract_lane(a0, 3);
  for (; i < n; i++) s += load<f32>(p + (<usize>i << 2));
  return s;
}

// dst[i] = src[i] for n floats with v128 loads and stores (not memory.copy: the floor is
// what an f32x4 kernel loop can do).
export function floor_copy(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const o = <usize>i << 2;
    const v0 = v128.load(src + o), v1 = v128.load(src + o, 16), v2 = v128.load(src + o, 32), v3 = v128.load(src + o, 48);
    v128.store(dst + o, v0);
    v128.store(dst + o, v1, 16);
    v128.store(dst + o, v2, 32);
    v128.store(dst + o, v3, 48);
  }
  for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), v128.load(src + (<usize>i << 2)));
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), load<f32>(src + (<usize>i << 2)));
}

// dst[i] = a[i] + b[i] for n floats: two read streams and one write stream, the traffic of
// the backward's second pass (a diagnostic floor, not one of the issue's).
export function floor_add(dst: usize, a: usize, b: usize, n: i32): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const o = <usize>i << 2;
    v128.store(dst + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
    v128.store(dst + o, f32x4.add(v128.load(a + o, 16), v128.load(b + o, 16)), 16);
  }
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), load<f32>(a + (<usize>i << 2)) + load<f32>(b + (<usize>i << 2)));
}
