// Row-strided copies and sums: `rows` rows of `cols` contiguous floats, consecutive rows
// `ds` / `ss` floats apart (ds, ss >= cols). These move a channel slice of a bigger tensor
// (NHWC: rows = N*H*W pixels of C channels; NCHW: rows = N images of C*H*W floats) into or
// out of a contiguous buffer, and sum gradients that several consumers send to one input.
//   rows_copy: dst = src   (writes)
//   rows_add:  dst += src  (accumulates)
import { addF32 } from "./common";

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
