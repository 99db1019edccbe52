// The float64 reference twin of the softmax cross-entropy kernels (assembly/loss.ts).

type Arr = ArrayLike<number>;

/**
 * Softmax of each row of logits[M, N] and the mean cross-entropy against labels[M]:
 * loss = (1/M) sum_r (logsumexp(x_r) - x_r[label_r]), logsumexp with the max subtracted.
 */
export function refSoftmaxXentForward(logits: Arr, labels: Arr, M: number, N: number): { probs: Float64Array; loss: number } {
  const probs = new Float64Array(M * N);
  let total = 0;
  for (let r = 0; r < M; r++) {
    let mx = -Infinity;
    for (let j = 0; j < N; j++) mx = Math.max(mx, logits[r * N + j]);
    let s = 0;
    for (let j = 0; j < N; j++) s += Math.exp(logits[r * N + j] - mx);
    for (let j = 0; j < N; j++) probs[r * N + j] = Math.exp(logits[r * N + j] - mx) / s;
    const label = labels[r];
    total += label >= 0 && label < N ? mx + Math.log(s) - logits[r * N + label] : NaN;
  }
  return { probs, loss: total / M };
}

/** dlogits = (probs - onehot(labels)) / M. */
export function refSoftmaxXentBackward(probs: Arr, labels: Arr, M: number, N: number): Float64Array {
  const d = new Float64Array(M * N);
  for (let r = 0; r < M; r++) {
    for (let j = 0; j < N; j++) d[r * N + j] = (probs[r * N + j] - (labels[r] === j ? 1 : 0)) / M;
  }
  return d;
}
