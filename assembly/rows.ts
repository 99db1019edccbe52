// Row-strided copies and sums: `rows` rows of `cols` contiguous floats, consecutive rows
// `ds` / `ss` floats apart (ds, ss >= cols). These move a channel slice of a bigger tensor
// (NHWC: rows = N*H*W pixels of C channels; NCHW: rows = N images of C*H*W floats) into or
// out of a contiguous buffer, and sum gradients that several consumers send to one input.
//   rows_copy: dst = src   (writes)
//   rows_add:  dst += src  (accumulates)
//   rows_fill: dst = value (writes; zeroing a gradient, a tensor of zeros)
// JavaScript's TypedArray.fill over wasm memory is no substitute for rows_fill: over a
// shared memory (the threaded builds) V8 fills element by element with atomic stores,
// 6-8x slower than over an ArrayBuffer (Node 20: 32-45 us against 5.3 us per 100k floats).
import { addF32, zeroF32 } from "./common";

export function rows_copy(dst: usize, ds: i32, src: usize, ss: i32, rows: i32, cols: i32): void {
  const db = <usize>ds << 2, sb = <usize>ss << 2, n = <usize>cols << 2;
  if (ds == cols && ss == cols) {
    memory.copy(dst, src, <usize>rows * n);
    return;
  }
  for (let r = 0; r < rows; r++, dst += db, src += sb) memory.copy(dst, src, n);
}

export function rows_add(dst: usize, ds: i32, src: usize, ss: i32, rows: i32, cols: i32): void {
  if (ds == cols && ss == cols) {
    addF32(dst, src, rows * cols);
    return;
  }
  const db = <usize>ds << 2, sb = <usize>ss << 2;
  for (let r = 0; r < rows; r++, dst += db, src += sb) addF32(dst, src, cols);
}

export function rows_fill(dst: usize, ds: i32, rows: i32, cols: i32, value: f32): void {
  const db = <usize>ds << 2;
  if (ds == cols) {
    cols *= rows;
    rows = 1;
  }
  for (let r = 0; r < rows; r++, dst += db) fillF32(dst, cols, value);
}

// dst[0 .. n) = value. +0 over long runs is memory.fill (V8's memset); short runs and other
// values are stores (a call out to memset costs more than a short store loop).
function fillF32(dst: usize, n: i32, value: f32): void {
  if (reinterpret<u32>(value) == 0) {
    if (n >= 256) memory.fill(dst, 0, <usize>n << 2);
    else zeroF32(dst, n);
    return;
  }
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const v = f32x4.splat(value);
    for (; i + 8 <= n; i += 8) {
      v128.store(dst + (<usize>i << 2), v);
      v128.store(dst + (<usize>i << 2), v, 16);
    }
    for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), v);
  }
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), value);
}
