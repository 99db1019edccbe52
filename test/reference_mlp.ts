// The float64 reference twins of the MLP's elementwise, loss and optimizer kernels
// (assembly/activations.ts, loss.ts, optim.ts), written for clarity, not speed. The
// optimizers replay PyTorch's torch.optim update rules (torch/optim/sgd.py and adam.py,
// _single_tensor_sgd and _single_tensor_adam) line by line. At the end: the few lines of
// wasm-memory plumbing that the MLP kernel tests share.

type Arr = ArrayLike<number>;

/** The `act` codes of the kernels. */
export const ACT = { identity: 0, relu: 1, sigmoid: 2, tanh: 3 } as const;
export type ActCode = (typeof ACT)[keyof typeof ACT];
export const ACT_NAMES: Record<ActCode, string> = { 0: "identity", 1: "relu", 2: "sigmoid", 3: "tanh" };

function act1(v: number, act: ActCode): number {
  switch (act) {
    case ACT.identity:
      return v;
    case ACT.relu:
      return Number.isNaN(v) ? v : Math.max(v, 0);
    case ACT.sigmoid:
      return 1 / (1 + Math.exp(-v));
    case ACT.tanh:
      return Math.tanh(v);
  }
}

/** y = act(x). */
export function refActForward(x: Arr, act: ActCode): Float64Array {
  return Float64Array.from(x, (v) => act1(v, act));
}

/**
 * dx = dy * act'(.) from the saved output y (PyTorch's threshold_backward, sigmoid_backward,
 * tanh_backward): ReLU y <= 0 ? 0 : dy; sigmoid dy * y * (1 - y); tanh dy * (1 - y^2).
 */
export function refActBackward(dy: Arr, y: Arr, act: ActCode): Float64Array {
  const dx = new Float64Array(dy.length);
  for (let i = 0; i < dy.length; i++) {
    const g = dy[i], o = y[i];
    if (act === ACT.identity) dx[i] = g;
    else if (act === ACT.relu) dx[i] = o <= 0 ? 0 : g;
    else if (act === ACT.sigmoid) dx[i] = g * o * (1 - o);
    else dx[i] = g * (1 - o * o);
  }
  return dx;
}

/** y = x * mask (inverted dropout). */
export function refMul(x: Arr, mask: Arr): Float64Array {
  return Float64Array.from(x, (v, i) => v * mask[i]);
}

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

export interface SgdOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

/** torch.optim.SGD on one parameter tensor; buf is null until the first step with momentum. */
export class RefSgd {
  readonly param: Float64Array;
  buf: Float64Array | null = null;
  readonly opts: Required<SgdOptions>;

  constructor(param: Arr, opts: SgdOptions) {
    this.param = Float64Array.from(param);
    this.opts = { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, ...opts };
  }

  step(grad: Arr): void {
    const { lr, momentum, dampening, weightDecay, nesterov } = this.opts;
    const p = this.param;
    // grad = grad.add(param, alpha=weight_decay)
    let g = Float64Array.from(grad);
    if (weightDecay !== 0) g = g.map((v, i) => v + weightDecay * p[i]);
    if (momentum !== 0) {
      const b = this.buf;
      if (b === null) this.buf = Float64Array.from(g); // buf = torch.clone(grad)
      else for (let i = 0; i < b.length; i++) b[i] = momentum * b[i] + (1 - dampening) * g[i];
      const buf = this.buf!;
      g = nesterov ? g.map((v, i) => v + momentum * buf[i]) : Float64Array.from(buf);
    }
    for (let i = 0; i < p.length; i++) p[i] -= lr * g[i]; // param.add_(grad, alpha=-lr)
  }
}

export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** AdamW's decoupled weight decay. */
  decoupled?: boolean;
}

/** torch.optim.Adam / AdamW on one parameter tensor; `step` counts the steps taken. */
export class RefAdam {
  readonly param: Float64Array;
  readonly m: Float64Array;
  readonly v: Float64Array;
  step = 0;
  readonly opts: Required<AdamOptions>;

  constructor(param: Arr, opts: AdamOptions) {
    this.param = Float64Array.from(param);
    this.m = new Float64Array(param.length);
    this.v = new Float64Array(param.length);
    this.opts = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, ...opts };
  }

  update(grad: Arr): void {
    const { lr, beta1, beta2, eps, weightDecay, decoupled } = this.opts;
    const p = this.param, m = this.m, v = this.v;
    this.step += 1;
    const bc1 = 1 - beta1 ** this.step, bc2 = 1 - beta2 ** this.step;
    const stepSize = lr / bc1, bc2Sqrt = Math.sqrt(bc2);
    for (let i = 0; i < p.length; i++) {
      let g = grad[i];
      if (weightDecay !== 0) {
        if (decoupled) p[i] *= 1 - lr * weightDecay; // param.mul_(1 - lr * weight_decay)
        else g += weightDecay * p[i]; // grad = grad.add(param, alpha=weight_decay)
      }
      m[i] = beta1 * m[i] + (1 - beta1) * g;
      v[i] = beta2 * v[i] + (1 - beta2) * g * g;
      const denom = Math.sqrt(v[i]) / bc2Sqrt + eps;
      p[i] -= stepSize * (m[i] / denom); // param.addcdiv_(exp_avg, denom, value=-step_size)
    }
  }
}
