// Softmax cross-entropy of logits[M, N] (row-major) against int32 class labels[M], averaged
// over the rows: PyTorch's CrossEntropyLoss(reduction='mean') without weights or smoothing.
//   softmax_xent_forward(probs, logits, labels, M, N):
//     per row, with mx = max_j x_j and s = sum_j exp(x_j - mx) (the max subtraction keeps
//     logits of 1e4 finite), probs_j = exp(x_j - mx) / s and
//     loss_r = logsumexp(x) - x_label = log(s) + (mx - x_label). s and the mean over rows are
//     float64. Writes probs (may alias logits: x_label is read first), returns the mean loss;
//     NaN if a label is outside [0, N) (nothing out of bounds is read).
//   softmax_xent_backward(dlogits, probs, labels, M, N):
//     dlogits = (probs - onehot(labels)) / M, the gradient of the mean loss; rows with a label
//     outside [0, N) get probs / M. Writes dlogits (may alias probs).
// exp(x - mx): x - mx is rounded in float32 (an absolute error up to ulp(|x - mx|) / 2, a
// relative error of that size in the probability: 1e-6 at a logit gap of 16), so its rounding
// error lo is recovered exactly with TwoSum (Knuth, TAOCP vol. 2, 4.2.2) and fed to the exp's
// reduced argument (activations.ts expf4Tail/expfTail). lo is NaN only when x - mx is
// infinite (a logit of -Inf), where it is dropped.
import { expfTail, expf4Tail } from "./activations";

export function softmax_xent_forward(probs: usize, logits: usize, labels: usize, M: i32, N: i32): f64 {
  const rowBytes = <usize>N << 2;
  let total: f64 = 0;
  for (let r = 0; r < M; r++) {
    const x = logits + <usize>r * rowBytes, p = probs + <usize>r * rowBytes;
    const label = load<i32>(labels + (<usize>r << 2));
    const ok = label >= 0 && label < N;
    if (!ok) total = NaN;
    const xl: f32 = ok ? load<f32>(x + (<usize>label << 2)) : 0;

    let i = 0;
    let mx: f32 = -Infinity;
    if (ASC_FEATURE_SIMD) {
      if (N >= 4) {
        let mv = v128.load(x);
        for (i = 4; i + 4 <= N; i += 4) mv = f32x4.max(mv, v128.load(x + (<usize>i << 2)));
        mx = max(max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
      }
    }
    for (; i < N; i++) mx = max(mx, load<f32>(x + (<usize>i << 2)));

    let s: f64 = 0;
    i = 0;
    if (ASC_FEATURE_SIMD) {
      const mxv = f32x4.splat(mx);
      let a0 = f64x2.splat(0), a1 = f64x2.splat(0);
      for (; i + 4 <= N; i += 4) {
        const o = <usize>i << 2;
        const xv = v128.load(x + o);
        const d = f32x4.sub(xv, mxv), bb = f32x4.sub(d, xv);
        const lo = f32x4.sub(f32x4.sub(xv, f32x4.sub(d, bb)), f32x4.add(mxv, bb));
        const e = expf4Tail(d, v128.and(lo, f32x4.eq(lo, lo)));
        v128.store(p + o, e);
        a0 = f64x2.add(a0, f64x2.promote_low_f32x4(e));
        a1 = f64x2.add(a1, f64x2.promote_low_f32x4(v128.shuffle<f32>(e, e, 2, 3, 0, 1)));
      }
      a0 = f64x2.add(a0, a1);
      s = f64x2.extract_lane(a0, 0) + f64x2.extract_lane(a0, 1);
    }
    for (; i < N; i++) {
      const o = <usize>i << 2;
      const xv = load<f32>(x + o);
      const d = xv - mx, bb = d - xv;
      const lo = (xv - (d - bb)) - (mx + bb);
      const e = expfTail(d, lo == lo ? lo : 0);
      store<f32>(p + o, e);
      s += <f64>e;
    }

    total += Math.log(s) + (<f64>mx - <f64>xl);

    const s32 = <f32>s;
    i = 0;
    if (ASC_FEATURE_SIMD) {
      const sv = f32x4.splat(s32);
      for (; i + 4 <= N; i += 4) {
        const o = <usize>i << 2;
        v128.store(p + o, f32x4.div(v128.load(p + o), sv));
      }
    }
    for (; i < N; i++) {
      const o = <usize>i << 2;
      store<f32>(p + o, load<f32>(p + o) / s32);
    }
  }
  return total / <f64>M;
}

export function softmax_xent_backward(dlogits: usize, probs: usize, labels: usize, M: i32, N: i32): void {
  const rowBytes = <usize>N << 2;
  const inv = <f32>(1.0 / <f64>M);
  for (let r = 0; r < M; r++) {
    const p = probs + <usize>r * rowBytes, d = dlogits + <usize>r * rowBytes;
    const label = load<i32>(labels + (<usize>r << 2));
    const hit = label >= 0 && label < N;
    const pl: f32 = hit ? load<f32>(p + (<usize>label << 2)) : 0;
    let i = 0;
    if (ASC_FEATURE_SIMD) {
      const iv = f32x4.splat(inv);
      for (; i + 4 <= N; i += 4) {
        const o = <usize>i << 2;
        v128.store(d + o, f32x4.mul(v128.load(p + o), iv));
      }
    }
    for (; i < N; i++) {
      const o = <usize>i << 2;
      store<f32>(d + o, load<f32>(p + o) * inv);
    }
    if (hit) store<f32>(d + (<usize>label << 2), (pl - <f32>1) * inv);
  }
}
