// Float64 references of the dense-layer products (assembly/gemm.ts), written for clarity,
// not speed. Row-major; W in PyTorch's [out, in] layout. The tests and bench/gemm.bench.ts
// check the wasm kernels against these and nothing else.

import { refAct } from "./activations.js";

type Arr = ArrayLike<number>;

/** Y[M,N] = act(X[M,K] W[N,K]^T + b[N]); b null: no bias. */
export function refGemmNT(x: Arr, w: Arr, b: Arr | null, M: number, N: number, K: number, act = 0): Float64Array {
  const y = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = b ? b[j] : 0;
      for (let k = 0; k < K; k++) s += x[i * K + k] * w[j * K + k];
      y[i * N + j] = refAct(s, act);
    }
  }
  return y;
}

/** dX[M,K] = dY[M,N] W[N,K]. */
export function refGemmNN(dy: Arr, w: Arr, M: number, N: number, K: number): Float64Array {
  const dx = new Float64Array(M * K);
  for (let i = 0; i < M; i++) {
    for (let n = 0; n < N; n++) {
      const g = dy[i * N + n];
      for (let k = 0; k < K; k++) dx[i * K + k] += g * w[n * K + k];
    }
  }
  return dx;
}

/** dW[N,K] + dY[M,N]^T X[M,K] (dw0: the accumulator's initial value, or zero). */
export function refGemmTNAcc(dw0: Arr | null, dy: Arr, x: Arr, M: number, N: number, K: number): Float64Array {
  const dw = dw0 ? Float64Array.from(dw0) : new Float64Array(N * K);
  for (let i = 0; i < M; i++) {
    for (let n = 0; n < N; n++) {
      const g = dy[i * N + n];
      for (let k = 0; k < K; k++) dw[n * K + k] += g * x[i * K + k];
    }
  }
  return dw;
}

/** db[N] + sum over the M rows of dY[M,N] (db0: the accumulator's initial value, or zero). */
export function refBiasBackward(db0: Arr | null, dy: Arr, M: number, N: number): Float64Array {
  const db = db0 ? Float64Array.from(db0) : new Float64Array(N);
  for (let i = 0; i < M; i++) for (let n = 0; n < N; n++) db[n] += dy[i * N + n];
  return db;
}

/**
 * C = act((c0 ?? 0) + op(A)[M,K] op(B)[K,N] + bias[N]) as a dense [M,N] array: the general
 * product gemm_f32 computes. op(A)(i, k) = transA ? a[k*lda + i] : a[i*lda + k]; op(B)(k, j)
 * = transB ? b[j*ldb + k] : b[k*ldb + j]; c0 (dense [M,N]) is the accumulator's initial value.
 */
export function refGemm(c0: Arr | null, a: Arr, lda: number, transA: boolean, b: Arr, ldb: number, transB: boolean,
  bias: Arr | null, M: number, N: number, K: number, act = 0): Float64Array {
  const c = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = (c0 ? c0[i * N + j] : 0) + (bias ? bias[j] : 0);
      for (let k = 0; k < K; k++) s += a[transA ? k * lda + i : i * lda + k] * b[transB ? j * ldb + k : k * ldb + j];
      c[i * N + j] = refAct(s, act);
    }
  }
  return c;
}
