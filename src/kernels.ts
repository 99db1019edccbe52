// The signatures of the wasm exports (assembly/index.ts). Pointers are byte offsets into
// the backend's memory; sizes are element counts. Outputs first, then inputs, then sizes.
export interface BnKernels {
  heap_base(): number;
  has_simd(): number;
  has_relaxed_simd(): number;
  bn_scratch_bytes(C: number): number;
  bn_forward_train_nc(y: number, mean: number, var_: number, invStd: number, x: number, gamma: number, beta: number, eps: number, rows: number, C: number, scratch: number): void;
  bn_forward_train_nchw(y: number, mean: number, var_: number, invStd: number, x: number, gamma: number, beta: number, eps: number, N: number, C: number, HW: number, scratch: number): void;
  bn_backward_nc(dx: number, dgamma: number, dbeta: number, dy: number, x: number, mean: number, invStd: number, gamma: number, rows: number, C: number, batchStats: number, scratch: number): void;
  bn_backward_nchw(dx: number, dgamma: number, dbeta: number, dy: number, x: number, mean: number, invStd: number, gamma: number, N: number, C: number, HW: number, batchStats: number, scratch: number): void;
  bn_fold(a: number, b: number, gamma: number, beta: number, runMean: number, runVar: number, eps: number, C: number): void;
  /** runMean = (1 - f) runMean + f mean, runVar = (1 - f) runVar + f var * unbias. Updates in place. */
  bn_update_running(runMean: number, runVar: number, mean: number, var_: number, factor: number, unbias: number, C: number): void;
  /** mean = runMean, invStd = 1/sqrt(runVar + eps). Writes mean, invStd. */
  bn_saved_from_running(mean: number, invStd: number, runMean: number, runVar: number, eps: number, C: number): void;
  scale_shift_nc(y: number, x: number, a: number, b: number, rows: number, C: number, relu: number): void;
  scale_shift_nchw(y: number, x: number, a: number, b: number, N: number, C: number, HW: number, relu: number): void;
  /** Training forward fused with ReLU: y = max(0, (x - mean) * f32(gamma * invStd) + beta), y rows ys floats apart. Writes y, mean, var (biased), invStd. */
  bn_relu_forward_train_nc(y: number, ys: number, mean: number, var_: number, invStd: number, x: number, gamma: number, beta: number, eps: number, rows: number, C: number, scratch: number): void;
  /** bn_relu_forward_train_nc's output from given mean and invStd (a recomputation, or eval with the running ones). Writes y. */
  bn_relu_apply_nc(y: number, ys: number, x: number, mean: number, invStd: number, gamma: number, beta: number, rows: number, C: number, scratch: number): void;
  /** Backward of the fused pair: the mask [pre-activation > 0] rebuilt from x, mean, invStd; dy rows dys floats apart. Writes dx (contiguous); accumulates dgamma, dbeta (0: skipped). */
  bn_relu_backward_nc(dx: number, dgamma: number, dbeta: number, dy: number, dys: number, x: number, mean: number, invStd: number, gamma: number, beta: number, rows: number, C: number, batchStats: number, scratch: number): void;
  // The phases of a Batch Normalization split over threads by rows (NC) or images (NCHW): assembly/bn_split.ts.
  /** Float64s of one forward partial for C channels: count, mean[C], M2[C]. */
  bn_stats_part_f64s(C: number): number;
  /** Writes part = (count, mean[C], M2[C]) of the range's rows. */
  bn_stats_part_nc(part: number, x: number, rows: number, C: number, scratch: number): void;
  bn_stats_part_nchw(part: number, x: number, N: number, C: number, HW: number, scratch: number): void;
  /** Chan et al.'s merge of nparts consecutive partials, in order. Writes mean, var (biased), invStd. */
  bn_stats_merge(mean: number, var_: number, invStd: number, parts: number, nparts: number, C: number, eps: number): void;
  /** y = (x - mean) * f32(gamma * invStd) + beta, then max(0, .) when relu (y rows ys floats apart; ys = C unless relu). Writes y. */
  bn_apply_nc(y: number, ys: number, x: number, mean: number, invStd: number, gamma: number, beta: number, rows: number, C: number, relu: number, scratch: number): void;
  bn_apply_nchw(y: number, x: number, mean: number, invStd: number, gamma: number, beta: number, N: number, C: number, HW: number, scratch: number): void;
  /** Writes part = (sum g[C], sum g*(x - mean)[C]) in float64; g = dy, or dy * [pre-activation > 0] when relu (dys = C unless relu). */
  bn_backward_part_nc(part: number, dy: number, dys: number, x: number, mean: number, invStd: number, gamma: number, beta: number, rows: number, C: number, relu: number, scratch: number): void;
  bn_backward_part_nchw(part: number, dy: number, x: number, mean: number, N: number, C: number, HW: number): void;
  /** Sums nparts backward partials in order; accumulates dgamma, dbeta (0: skipped); writes k = (k1, k2, k3)[C] float32. */
  bn_backward_merge(k: number, dgamma: number, dbeta: number, parts: number, nparts: number, invStd: number, gamma: number, m: number, C: number, batchStats: number, scratch: number): void;
  /** dx = k1 * g + k2 * (x - mean) + k3 over the range. Writes dx (contiguous; may be x). */
  bn_backward_dx_nc(dx: number, dy: number, dys: number, x: number, mean: number, k: number, invStd: number, gamma: number, beta: number, rows: number, C: number, relu: number, scratch: number): void;
  bn_backward_dx_nchw(dx: number, dy: number, x: number, mean: number, k: number, N: number, C: number, HW: number): void;
  /**
   * Batch Renormalization training forward: y = (x - mean) * gamma r invStd + gamma d + beta with
   * r = clip(sqrt(var + eps) / s, rMin, rMax), d = clip((mean - renormMean) / s, -dMax, dMax),
   * s = max(renormStd, sqrt(eps)). Writes y, mean, var (biased), invStd, r, d.
   */
  bn_renorm_forward_train_nc(y: number, mean: number, var_: number, invStd: number, r: number, d: number, x: number, gamma: number, beta: number, renormMean: number, renormStd: number, eps: number, rMin: number, rMax: number, dMax: number, rows: number, C: number, scratch: number): void;
  bn_renorm_forward_train_nchw(y: number, mean: number, var_: number, invStd: number, r: number, d: number, x: number, gamma: number, beta: number, renormMean: number, renormStd: number, eps: number, rMin: number, rMax: number, dMax: number, N: number, C: number, HW: number, scratch: number): void;
  /** Backward with r, d constant: bn_backward with gamma * r; dgamma += r sum(dy xhat) + d sum(dy), dbeta += sum(dy). Writes dx. */
  bn_renorm_backward_nc(dx: number, dgamma: number, dbeta: number, dy: number, x: number, mean: number, invStd: number, gamma: number, r: number, d: number, rows: number, C: number, scratch: number): void;
  bn_renorm_backward_nchw(dx: number, dgamma: number, dbeta: number, dy: number, x: number, mean: number, invStd: number, gamma: number, r: number, d: number, N: number, C: number, HW: number, scratch: number): void;
  /** renormMean = (1 - f) renormMean + f mean, renormStd = (1 - f) renormStd + f sqrt(var + eps). Updates in place. */
  bn_renorm_update(renormMean: number, renormStd: number, mean: number, var_: number, factor: number, eps: number, C: number): void;
  /** mean, var = the averages over G rows of C of groupMean, groupVar (ghost batches' moments). Writes mean, var. */
  bn_ghost_moments(mean: number, var_: number, groupMean: number, groupVar: number, G: number, C: number): void;
}

/**
 * Kernels of the MLP: dense layers, activations, loss, optimizers. Row-major
 * float32; W in PyTorch's [out, in] layout. `act` codes: 0 none, 1 ReLU, 2 sigmoid, 3 tanh.
 */
export interface MlpKernels {
  /**
   * C[M,N] = act((accumulate ? C : 0) + op(A)[M,K] op(B)[K,N] (+ bias[N])), C's rows ldc floats apart
   * (the gaps untouched); op = transpose when transA / transB is 1 (A stored [K,M], B stored [N,K]);
   * lda, ldb: row strides as stored; bias = 0: none. Writes C (accumulate 0) or accumulates (1).
   */
  gemm_f32(c: number, ldc: number, a: number, lda: number, transA: number, b: number, ldb: number, transB: number, bias: number, M: number, N: number, K: number, accumulate: number, act: number): void;
  /** Y[M,N] = act(X[M,K] W[N,K]^T + b[N]); b = 0 means no bias. Writes Y. */
  gemm_nt(y: number, x: number, w: number, b: number, M: number, N: number, K: number, act: number): void;
  /** dX[M,K] = dY[M,N] W[N,K]. Writes dX. */
  gemm_nn(dx: number, dy: number, w: number, M: number, N: number, K: number): void;
  /** dW[N,K] += dY[M,N]^T X[M,K]. Accumulates. */
  gemm_tn_acc(dw: number, dy: number, x: number, M: number, N: number, K: number): void;
  /** Bytes of scratch the GEMM kernels use. */
  gemm_scratch_bytes(): number;
  /** Points this instance's GEMM scratch at ptr (0: the module's static area; one per worker in a threaded build). */
  gemm_set_scratch(ptr: number): void;
  /** db[N] += sum over rows of dY[M,N]. Accumulates. */
  bias_backward_acc(db: number, dy: number, M: number, N: number): void;
  /** y = act(x) over n floats. Writes y. */
  act_forward(y: number, x: number, n: number, act: number): void;
  /** dx = dy * act'(.) over n floats, from the saved output y (sigmoid, tanh) or input (ReLU: y works too). Writes dx. */
  act_backward(dx: number, dy: number, y: number, n: number, act: number): void;
  /** act_forward over rows x cols floats, row r at x + r*xs and y + r*ys (strides in floats, >= cols: a channel slice). Writes y. */
  act_forward_rows(y: number, ys: number, x: number, xs: number, rows: number, cols: number, act: number): void;
  /** act_backward over rows x cols floats with row strides dxs, dys, ys. Writes dx, or accumulates into it when accumulate != 0. */
  act_backward_rows(dx: number, dxs: number, dy: number, dys: number, y: number, ys: number, rows: number, cols: number, act: number, accumulate: number): void;
  /** Mean softmax cross-entropy of logits[M,N] against int32 labels[M]; writes probs[M,N], returns the loss. */
  softmax_xent_forward(probs: number, logits: number, labels: number, M: number, N: number): number;
  /** dlogits = (probs - onehot(labels)) / M. Writes dlogits. */
  softmax_xent_backward(dlogits: number, probs: number, labels: number, M: number, N: number): void;
  /** PyTorch SGD step in place (momentum buffer buf, initialised from the first step's gradient when first != 0). */
  sgd_step(param: number, grad: number, buf: number, n: number, lr: number, momentum: number, dampening: number, weightDecay: number, nesterov: number, first: number): void;
  /** PyTorch Adam (decoupled = 0) / AdamW (decoupled = 1) step in place; step counts from 1. */
  adam_step(param: number, grad: number, m: number, v: number, n: number, lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, decoupled: number, step: number): void;
  /** y = exp(x) over n floats (the SIMD exp the sigmoid, tanh and softmax use). Writes y. */
  exp_forward(y: number, x: number, n: number): void;
  /** y = x * mask over n floats (inverted dropout: mask holds 0 or 1/(1-p)). Writes y. */
  mul(y: number, x: number, mask: number, n: number): void;
}

/** Row-strided moves: rows of cols contiguous floats, row strides ds / ss (in floats). */
export interface RowKernels {
  /** dst = src. Writes dst. */
  rows_copy(dst: number, ds: number, src: number, ss: number, rows: number, cols: number): void;
  /** dst += src. Accumulates into dst. */
  rows_add(dst: number, ds: number, src: number, ss: number, rows: number, cols: number): void;
  /** dst = value. Writes dst. */
  rows_fill(dst: number, ds: number, rows: number, cols: number, value: number): void;
}

/**
 * 2-D convolution (assembly/conv.ts, conv_nhwc.ts, conv_nchw.ts). The geometry is a descriptor
 * of CONV2D_FIELDS.length int32 values at `desc` (conv2dDesc below), written once per layer
 * and input shape. NHWC: x/dx [N, H, W, C] with pixels XS floats apart (>= C), y/dy
 * [N, OH, OW, OC] with pixels YS apart (>= OC), weights [OC, KH, KW, C]. NCHW: x/dx
 * [N, C, H, W] with images XS floats apart (>= C*H*W), y/dy [N, OC, OH, OW] with images YS
 * apart, weights [OC, C, KH, KW]. `scratch`: conv2d_scratch_bytes(desc) bytes, 16-byte
 * aligned, one per concurrent call. Ranges: forward and backward_filter take output pixels
 * [p0, p1) of N*OH*OW, backward_input images [n0, n1) (the whole batch: 0, N*OH*OW or 0, N).
 */
export interface ConvKernels {
  /** Bytes of scratch any conv2d kernel of this geometry needs (either layout; independent of N). */
  conv2d_scratch_bytes(desc: number): number;
  /** y = conv(x, w) + b (b = 0: no bias). Writes y (only its OC channels of each pixel). */
  conv2d_forward_nhwc(y: number, x: number, w: number, b: number, desc: number, p0: number, p1: number, scratch: number): void;
  /** dx = (accumulate ? dx : 0) + conv^T(dy, w). Writes dx (accumulate 0) or accumulates (1). */
  conv2d_backward_input_nhwc(dx: number, dy: number, w: number, desc: number, accumulate: number, n0: number, n1: number, scratch: number): void;
  /** dw += dy^T . patches(x); db += column sums of dy (db = 0: no bias). Accumulates. */
  conv2d_backward_filter_nhwc(dw: number, db: number, dy: number, x: number, desc: number, p0: number, p1: number, scratch: number): void;
  /** y = conv(x, w) + b (b = 0: no bias). Writes y (only each image's OC*OH*OW block). */
  conv2d_forward_nchw(y: number, x: number, w: number, b: number, desc: number, p0: number, p1: number, scratch: number): void;
  /** dx = (accumulate ? dx : 0) + conv^T(dy, w). Writes dx (accumulate 0) or accumulates (1). */
  conv2d_backward_input_nchw(dx: number, dy: number, w: number, desc: number, accumulate: number, n0: number, n1: number, scratch: number): void;
  /** dw += dy . columns(x)^T; db += plane sums of dy (db = 0: no bias). Accumulates. */
  conv2d_backward_filter_nchw(dw: number, db: number, dy: number, x: number, desc: number, p0: number, p1: number, scratch: number): void;
}

/**
 * The convolution descriptor's int32 fields, in memory order: images, input height, width,
 * channels, output height, width, channels, kernel height, width, strides, dilations, top and
 * left padding (bottom/right follow from OH, OW), the pixel (NHWC) or image (NCHW) strides of
 * x/dx and of y/dy in floats.
 */
export const CONV2D_FIELDS = ["N", "H", "W", "C", "OH", "OW", "OC", "KH", "KW", "SH", "SW", "DH", "DW", "PT", "PL", "XS", "YS"] as const;
export type Conv2dDesc = Record<(typeof CONV2D_FIELDS)[number], number>;

/** The descriptor's values in memory order (write them as int32 at `desc`). */
export function conv2dDesc(g: Conv2dDesc): Int32Array {
  return Int32Array.from(CONV2D_FIELDS, (f) => g[f]);
}

/**
 * Pooling kernels, float32, PyTorch's semantics. Strides in floats: NHWC x[n,h,w,c] at
 * x + ((n*H + h)*W + w)*xs + c (pixel stride xs >= C), NCHW x[n,c,h,w] at x + n*xn + c*H*W + h*W + w
 * (image stride xn >= C*H*W); y, dx, dy likewise, so any of them can be a channel slice. Output
 * window (oh, ow) covers input rows oh*sh - pt + [0, KH) and columns ow*sw - pl + [0, KW), clipped
 * to the image; OH, OW come from the caller and every window must hold an in-bounds tap.
 * Max-pooling indices: int32, dense [N, OH, OW, C] (NHWC) or [N, C, OH, OW] (NCHW), = h*W + w.
 */
export interface PoolKernels {
  /** y = window max (ties: first in scan order; NaN wins), idx = its h*W + w. Writes y and idx. */
  maxpool2d_forward_nhwc(y: number, ys: number, idx: number, x: number, xs: number, N: number, H: number, W: number, C: number, OH: number, OW: number, KH: number, KW: number, sh: number, sw: number, pt: number, pl: number): void;
  /** maxpool2d_forward_nhwc for NCHW (image strides yn, xn). Writes y and idx. */
  maxpool2d_forward_nchw(y: number, yn: number, idx: number, x: number, xn: number, N: number, C: number, H: number, W: number, OH: number, OW: number, KH: number, KW: number, sh: number, sw: number, pt: number, pl: number): void;
  /** dx[idx] += dy. Writes dx (zeroes its slice first), or accumulates when accumulate != 0. */
  maxpool2d_backward_nhwc(dx: number, dxs: number, dy: number, dys: number, idx: number, N: number, H: number, W: number, C: number, OH: number, OW: number, accumulate: number): void;
  /** maxpool2d_backward_nhwc for NCHW. Writes dx (zeroes its slice first), or accumulates when accumulate != 0. */
  maxpool2d_backward_nchw(dx: number, dxn: number, dy: number, dyn: number, idx: number, N: number, C: number, H: number, W: number, OH: number, OW: number, accumulate: number): void;
  /** y = window sum / (countIncludePad ? KH*KW : in-bounds taps). Writes y. */
  avgpool2d_forward_nhwc(y: number, ys: number, x: number, xs: number, N: number, H: number, W: number, C: number, OH: number, OW: number, KH: number, KW: number, sh: number, sw: number, pt: number, pl: number, countIncludePad: number): void;
  /** avgpool2d_forward_nhwc for NCHW. Writes y. */
  avgpool2d_forward_nchw(y: number, yn: number, x: number, xn: number, N: number, C: number, H: number, W: number, OH: number, OW: number, KH: number, KW: number, sh: number, sw: number, pt: number, pl: number, countIncludePad: number): void;
  /** dx += dy / count over each window's in-bounds taps. Writes dx (zeroes its slice first), or accumulates when accumulate != 0. */
  avgpool2d_backward_nhwc(dx: number, dxs: number, dy: number, dys: number, N: number, H: number, W: number, C: number, OH: number, OW: number, KH: number, KW: number, sh: number, sw: number, pt: number, pl: number, countIncludePad: number, accumulate: number): void;
  /** avgpool2d_backward_nhwc for NCHW (each dx gathered from its outputs). Writes dx, or accumulates when accumulate != 0. */
  avgpool2d_backward_nchw(dx: number, dxn: number, dy: number, dyn: number, N: number, C: number, H: number, W: number, OH: number, OW: number, KH: number, KW: number, sh: number, sw: number, pt: number, pl: number, countIncludePad: number, accumulate: number): void;
  /** y[n, c] (row stride ys) = mean over H*W of x (float32 chunks, float64 total). Writes y. */
  global_avgpool_forward_nhwc(y: number, ys: number, x: number, xs: number, N: number, H: number, W: number, C: number): void;
  /** global_avgpool_forward_nhwc for NCHW (image stride xn). Writes y. */
  global_avgpool_forward_nchw(y: number, ys: number, x: number, xn: number, N: number, C: number, H: number, W: number): void;
  /** dx[n, h, w, c] = dy[n, c] / (H*W). Writes dx, or accumulates when accumulate != 0. */
  global_avgpool_backward_nhwc(dx: number, dxs: number, dy: number, dys: number, N: number, H: number, W: number, C: number, accumulate: number): void;
  /** global_avgpool_backward_nhwc for NCHW (image stride dxn). Writes dx, or accumulates when accumulate != 0. */
  global_avgpool_backward_nchw(dx: number, dxn: number, dy: number, dys: number, N: number, C: number, H: number, W: number, accumulate: number): void;
}

/**
 * Per-sample normalizations (assembly/layer_norm.ts, group_norm.ts), PyTorch's semantics.
 * Statistics per row (LayerNorm: x as [rows, D]) or per sample and group (GroupNorm,
 * InstanceNorm = G = C; G divides C; NCHW or NHWC): mean and invStd = 1/sqrt(var + eps)
 * of rows (resp. N*G) values, what backward reads; var (biased) too where the pointer is not 0.
 * gamma and beta are always given (ones and zeros without affine). Backward writes dx and
 * accumulates dgamma, dbeta (0: skipped). `scratch`: norm_scratch_bytes(D or C) bytes.
 */
export interface NormKernels {
  norm_scratch_bytes(C: number): number;
  /** y = (x - mean_r) * invStd_r * gamma[d] + beta[d] over rows of D. Writes y, mean, invStd. */
  layer_norm_forward(y: number, mean: number, invStd: number, x: number, gamma: number, beta: number, eps: number, rows: number, D: number): void;
  layer_norm_backward(dx: number, dgamma: number, dbeta: number, dy: number, x: number, mean: number, invStd: number, gamma: number, rows: number, D: number, scratch: number): void;
  /** y = (x - mean_ng) * invStd_ng * gamma[c] + beta[c], x [N, C, HW]. Writes y, mean, var (0: skipped), invStd. */
  group_norm_forward_nchw(y: number, mean: number, var_: number, invStd: number, x: number, gamma: number, beta: number, eps: number, N: number, C: number, HW: number, G: number): void;
  group_norm_backward_nchw(dx: number, dgamma: number, dbeta: number, dy: number, x: number, mean: number, invStd: number, gamma: number, N: number, C: number, HW: number, G: number, scratch: number): void;
  /** group_norm_forward_nchw for x [N, HW, C]. */
  group_norm_forward_nhwc(y: number, mean: number, var_: number, invStd: number, x: number, gamma: number, beta: number, eps: number, N: number, HW: number, C: number, G: number, scratch: number): void;
  group_norm_backward_nhwc(dx: number, dgamma: number, dbeta: number, dy: number, x: number, mean: number, invStd: number, gamma: number, N: number, HW: number, C: number, G: number, scratch: number): void;
}

export type Kernels = BnKernels & MlpKernels & RowKernels & ConvKernels & PoolKernels & NormKernels;

/** Every export createBackend() requires of a kernel module (checked complete against Kernels below). */
export const KERNEL_NAMES = [
  "heap_base", "has_simd", "has_relaxed_simd", "bn_scratch_bytes",
  "bn_forward_train_nc", "bn_forward_train_nchw", "bn_backward_nc", "bn_backward_nchw", "bn_fold",
  "bn_update_running", "bn_saved_from_running", "scale_shift_nc", "scale_shift_nchw",
  "bn_relu_forward_train_nc", "bn_relu_apply_nc", "bn_relu_backward_nc",
  "bn_stats_part_f64s", "bn_stats_part_nc", "bn_stats_part_nchw", "bn_stats_merge", "bn_apply_nc", "bn_apply_nchw",
  "bn_backward_part_nc", "bn_backward_part_nchw", "bn_backward_merge", "bn_backward_dx_nc", "bn_backward_dx_nchw",
  "bn_renorm_forward_train_nc", "bn_renorm_forward_train_nchw", "bn_renorm_backward_nc", "bn_renorm_backward_nchw", "bn_renorm_update", "bn_ghost_moments",
  "gemm_f32", "gemm_nt", "gemm_nn", "gemm_tn_acc", "gemm_scratch_bytes", "gemm_set_scratch", "bias_backward_acc",
  "act_forward", "act_backward", "act_forward_rows", "act_backward_rows", "exp_forward", "mul", "softmax_xent_forward", "softmax_xent_backward",
  "sgd_step", "adam_step", "rows_copy", "rows_add", "rows_fill", "conv2d_scratch_bytes", "conv2d_forward_nhwc", "conv2d_backward_input_nhwc",
  "conv2d_backward_filter_nhwc", "conv2d_forward_nchw", "conv2d_backward_input_nchw", "conv2d_backward_filter_nchw",
  "maxpool2d_forward_nhwc", "maxpool2d_forward_nchw", "maxpool2d_backward_nhwc", "maxpool2d_backward_nchw",
  "avgpool2d_forward_nhwc", "avgpool2d_forward_nchw", "avgpool2d_backward_nhwc", "avgpool2d_backward_nchw",
  "global_avgpool_forward_nhwc", "global_avgpool_forward_nchw", "global_avgpool_backward_nhwc", "global_avgpool_backward_nchw",
  "norm_scratch_bytes", "layer_norm_forward", "layer_norm_backward",
  "group_norm_forward_nchw", "group_norm_backward_nchw", "group_norm_forward_nhwc", "group_norm_backward_nhwc",
] as const satisfies readonly (keyof Kernels)[];
// A compile error here names a kernel of the interfaces missing from KERNEL_NAMES.
const kernelNamesComplete: [Exclude<keyof Kernels, (typeof KERNEL_NAMES)[number]>] extends [never] ? true : never = true;
void kernelNamesComplete;

/** Activation codes of act_forward / act_backward / gemm_nt. */
export const ACT = { none: 0, relu: 1, sigmoid: 2, tanh: 3 } as const;
export type ActName = Exclude<keyof typeof ACT, "none">;
