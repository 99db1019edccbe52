// Row-strided copies and sums: `rows` rows of `cols` contiguous floats, consecutive rows
// `ds` / `ss` floats apart (ds, ss >= cols). These move a channel slice of a bigger tensor
// (NHWC: rows = N*H*W pixels of C channels; NCHW: rows = N images of C*H*W floats) into or
// out of a contiguous buffer, and sum gradients that several consumers send to one input.
//   rows_copy: dst = src   (writes)
//   rows_add:  dst += src  (accumulates)

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
    // One contiguous run: a single row of rows * cols floats.
    cols = rows * cols;
    rows = 1;
  }
  const db = <usize>ds << 2, sb = <usize>ss << 2;
  for (let r = 0; r < rows; r++, dst += db, src += sb) {
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      for (; j + 8 <= cols; j += 8) {
        const o = <usize>j << 2;
        v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
        v128.store(dst + o, f32x4.add(v128.load(dst + o, 16), v128.load(src + o, 16)), 16);
      }
      for (; j + 4 <= cols; j += 4) {
        const o = <usize>j << 2;
        v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
      }
    }
    for (; j < cols; j++) {
      const o = <usize>j << 2;
      store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
    }
  }
}
