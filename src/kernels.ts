// The signatures of the wasm exports (assembly/index.ts). Pointers are byte offsets into
// the backend's memory; sizes are element counts. Outputs first, then inputs, then sizes.
export interface Kernels {
  heap_base(): number;
  has_simd(): number;
  bn_scratch_bytes(C: number): number;
  bn_stats_nc(mean: number, var_: number, x: number, rows: number, C: number, scratch: number): void;
  bn_stats_nchw(mean: number, var_: number, x: number, N: number, C: number, HW: number, scratch: number): void;
  bn_forward_train_nc(y: number, mean: number, var_: number, invStd: number, x: number, gamma: number, beta: number, eps: number, rows: number, C: number, scratch: number): void;
  bn_forward_train_nchw(y: number, mean: number, var_: number, invStd: number, x: number, gamma: number, beta: number, eps: number, N: number, C: number, HW: number, scratch: number): void;
  bn_backward_nc(dx: number, dgamma: number, dbeta: number, dy: number, x: number, mean: number, invStd: number, gamma: number, rows: number, C: number, batchStats: number, scratch: number): void;
  bn_backward_nchw(dx: number, dgamma: number, dbeta: number, dy: number, x: number, mean: number, invStd: number, gamma: number, N: number, C: number, HW: number, batchStats: number, scratch: number): void;
  bn_fold(a: number, b: number, gamma: number, beta: number, runMean: number, runVar: number, eps: number, C: number): void;
  scale_shift_nc(y: number, x: number, a: number, b: number, rows: number, C: number, relu: number): void;
  scale_shift_nchw(y: number, x: number, a: number, b: number, N: number, C: number, HW: number, relu: number): void;
}
