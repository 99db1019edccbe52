// The exported kernels: `<op>_<direction>[_<layout>]`. Arguments: pointers first, outputs
// (and state updated in place) before inputs, each followed by what describes its layout
// (a row stride, a transpose flag: BLAS's `A, lda`); then scalars, sizes and mode flags;
// scratch last. All pointers are byte offsets into the imported memory.
export { bn_scratch_bytes } from "./common";
export { bn_forward_train_nc, bn_forward_train_nchw } from "./bn_forward_train";
export { bn_backward_nc, bn_backward_nchw } from "./bn_backward";
export { bn_fold, scale_shift_nc, scale_shift_nchw } from "./bn_inference";
export { bn_update_running, bn_saved_from_running } from "./bn_running";
export { bn_relu_forward_train_nc, bn_relu_apply_nc, bn_relu_backward_nc } from "./bn_relu";
export { bn_stats_part_f64s, bn_stats_part_nc, bn_stats_part_nchw, bn_stats_merge, bn_apply_nc, bn_apply_nchw, bn_backward_part_nc, bn_backward_part_nchw, bn_backward_merge, bn_backward_dx_nc, bn_backward_dx_nchw } from "./bn_split";
export { bn_renorm_forward_train_nc, bn_renorm_forward_train_nchw, bn_renorm_update } from "./bn_renorm";
export { bn_renorm_backward_nc, bn_renorm_backward_nchw } from "./bn_backward";
export { bn_ghost_moments } from "./bn_ghost";
import { STATIC_END } from "./gemm";

export { gemm_f32, gemm_nt, gemm_nn, gemm_tn_acc, bias_backward_acc, gemm_scratch_bytes, gemm_set_scratch } from "./gemm";
export { conv2d_scratch_bytes } from "./conv";
export { conv2d_forward_nhwc, conv2d_backward_input_nhwc, conv2d_backward_filter_nhwc } from "./conv_nhwc";
export { conv2d_forward_nchw, conv2d_backward_input_nchw, conv2d_backward_filter_nchw } from "./conv_nchw";
export { maxpool2d_forward_nhwc, maxpool2d_forward_nchw, maxpool2d_backward_nhwc, maxpool2d_backward_nchw } from "./pool_max";
export { avgpool2d_forward_nhwc, avgpool2d_forward_nchw, avgpool2d_backward_nhwc, avgpool2d_backward_nchw } from "./pool_avg";
export { global_avgpool_forward_nhwc, global_avgpool_forward_nchw, global_avgpool_backward_nhwc, global_avgpool_backward_nchw } from "./pool_global";
export { act_forward, act_backward, act_forward_rows, act_backward_rows, mul, exp_forward } from "./activations";
export { softmax_xent_forward, softmax_xent_backward } from "./loss";
export { sgd_step, adam_step } from "./optim";
export { rows_copy, rows_add, rows_fill } from "./rows";
export { norm_scratch_bytes } from "./norm_common";
export { layer_norm_forward, layer_norm_backward } from "./layer_norm";
export { group_norm_forward_nchw, group_norm_backward_nchw, group_norm_forward_nhwc, group_norm_backward_nhwc } from "./group_norm";

// First byte past the module's static data and the GEMM's default scratch: the TypeScript
// heap starts here.
export function heap_base(): usize {
  return STATIC_END;
}

// True in the builds compiled with --enable simd.
export function has_simd(): bool {
  return ASC_FEATURE_SIMD;
}

// True in the build compiled with --enable relaxed-simd (fused multiply-add in GEMM).
export function has_relaxed_simd(): bool {
  return ASC_FEATURE_RELAXED_SIMD;
}
