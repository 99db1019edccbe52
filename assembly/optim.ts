// Optimizer steps in place over n contiguous float32 parameters, the update rules of PyTorch's
// torch.optim (see: torch/optim/sgd.py and adam.py, _single_tensor_sgd / _single_tensor_adam,
// the CPU path). Scalars arrive as float64 and enter the element loop as float32, as PyTorch
// casts them for a float32 tensor. grad is read-only.
//   sgd_step(param, grad, buf, n, lr, momentum, dampening, weightDecay, nesterov, first):
//     g = grad + wd * param (skipped when wd == 0);
//     momentum != 0: buf = first ? g : momentum * buf + (1 - dampening) * g,
//                    g = nesterov ? g + momentum * buf : buf;
//     param -= lr * g. Writes param and buf (buf is not touched when momentum == 0).
//   adam_step(param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, decoupled, step):
//     Adam (Kingma & Ba 2015), decoupled = 0: g = grad + wd * param; AdamW (Loshchilov &
//     Hutter 2019), decoupled = 1: param *= 1 - lr * wd, g = grad (both skipped when wd == 0);
//     m = beta1 * m + (1 - beta1) * g; v = beta2 * v + (1 - beta2) * g * g;
//     param -= (lr / bc1) * (m / (sqrt(v) / sqrt(bc2) + eps)), bc_i = 1 - beta_i^step, step >= 1.
//     bc1, bc2 and 1 - lr * wd are float64, once per call. (PyTorch >= 2.0 writes the m update
//     as m.lerp_(g, 1 - beta1): the same value up to rounding.) Writes param, m, v.

export function sgd_step(param: usize, grad: usize, buf: usize, n: i32, lr: f64, momentum: f64, dampening: f64, weightDecay: f64, nesterov: i32, first: i32): void {
  const lr32 = <f32>lr, wd = <f32>weightDecay, mom = <f32>momentum, keep = <f32>(1.0 - dampening);
  const hasWd = weightDecay != 0, hasMom = momentum != 0, nest = nesterov != 0, init = first != 0;
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const lrv = f32x4.splat(lr32), wdv = f32x4.splat(wd), mv = f32x4.splat(mom), kv = f32x4.splat(keep);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const p = v128.load(param + o);
      let g = v128.load(grad + o);
      if (hasWd) g = f32x4.add(g, f32x4.mul(wdv, p));
      if (hasMom) {
        const b = init ? g : f32x4.add(f32x4.mul(v128.load(buf + o), mv), f32x4.mul(kv, g));
        v128.store(buf + o, b);
        g = nest ? f32x4.add(g, f32x4.mul(mv, b)) : b;
      }
      v128.store(param + o, f32x4.sub(p, f32x4.mul(lrv, g)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const p = load<f32>(param + o);
    let g = load<f32>(grad + o);
    if (hasWd) g = g + wd * p;
    if (hasMom) {
      const b = init ? g : load<f32>(buf + o) * mom + keep * g;
      store<f32>(buf + o, b);
      g = nest ? g + mom * b : b;
    }
    store<f32>(param + o, p - lr32 * g);
  }
}

export function adam_step(param: usize, grad: usize, m: usize, v: usize, n: i32, lr: f64, beta1: f64, beta2: f64, eps: f64, weightDecay: f64, decoupled: i32, step: i32): void {
  const stepSize = <f32>(lr / (1.0 - Math.pow(beta1, <f64>step)));
  const bc2Sqrt = <f32>Math.sqrt(1.0 - Math.pow(beta2, <f64>step));
  const b1 = <f32>beta1, c1 = <f32>(1.0 - beta1), b2 = <f32>beta2, c2 = <f32>(1.0 - beta2), e = <f32>eps;
  const coupled = weightDecay != 0 && decoupled == 0, shrinks = weightDecay != 0 && decoupled != 0;
  const wd = <f32>weightDecay, decay = <f32>(1.0 - lr * weightDecay);
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const ssv = f32x4.splat(stepSize), bcv = f32x4.splat(bc2Sqrt), ev = f32x4.splat(e);
    const b1v = f32x4.splat(b1), c1v = f32x4.splat(c1), b2v = f32x4.splat(b2), c2v = f32x4.splat(c2);
    const wdv = f32x4.splat(wd), dv = f32x4.splat(decay);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      let p = v128.load(param + o);
      let g = v128.load(grad + o);
      if (coupled) g = f32x4.add(g, f32x4.mul(wdv, p));
      if (shrinks) p = f32x4.mul(p, dv);
      const mo = f32x4.add(f32x4.mul(b1v, v128.load(m + o)), f32x4.mul(c1v, g));
      const vo = f32x4.add(f32x4.mul(b2v, v128.load(v + o)), f32x4.mul(c2v, f32x4.mul(g, g)));
      v128.store(m + o, mo);
      v128.store(v + o, vo);
      const denom = f32x4.add(f32x4.div(f32x4.sqrt(vo), bcv), ev);
      v128.store(param + o, f32x4.sub(p, f32x4.mul(ssv, f32x4.div(mo, denom))));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    let p = load<f32>(param + o);
    let g = load<f32>(grad + o);
    if (coupled) g = g + wd * p;
    if (shrinks) p = p * decay;
    const mo = b1 * load<f32>(m + o) + c1 * g;
    const vo = b2 * load<f32>(v + o) + c2 * (g * g);
    store<f32>(m + o, mo);
    store<f32>(v + o, vo);
    const denom = sqrt<f32>(vo) / bc2Sqrt + e;
    store<f32>(param + o, p - stepSize * (mo / denom));
  }
}
