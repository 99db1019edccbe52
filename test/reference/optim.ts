// The float64 reference twins of the optimizer kernels (assembly/optim.ts): they replay
// PyTorch's torch.optim update rules (torch/optim/sgd.py and adam.py, _single_tensor_sgd and
// _single_tensor_adam) line by line.

type Arr = ArrayLike<number>;

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
