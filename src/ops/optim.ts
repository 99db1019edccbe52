// Optimizer update ops with torch.optim's rules: the only code that calls sgd_step and
// adam_step. Each updates one parameter (and its state) in place.
import type { Tensor } from "../tensor.js";

export interface SgdHyper {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

/** One SGD step of `param` from `grad`; buf is the momentum buffer (null without momentum), set from grad when first. */
export function sgdStep(param: Tensor, grad: Tensor, buf: Tensor | null, h: SgdHyper, first: boolean): void {
  param.backend.kernels.sgd_step(param.ptr, grad.ptr, buf ? buf.ptr : 0, param.size, h.lr, h.momentum, h.dampening, h.weightDecay, h.nesterov ? 1 : 0, first ? 1 : 0);
}

export interface AdamHyper {
  lr: number;
  /** Decay rates of the first and second moment estimates. */
  betas: readonly [number, number];
  eps: number;
  weightDecay: number;
  /** AdamW: shrink the weights instead of adding weightDecay * w to the gradient. */
  decoupled: boolean;
}

/** One Adam / AdamW step (step counts from 1) of `param` with moments m, v. */
export function adamStep(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, h: AdamHyper, step: number): void {
  param.backend.kernels.adam_step(param.ptr, grad.ptr, m.ptr, v.ptr, param.size, h.lr, h.betas[0], h.betas[1], h.eps, h.weightDecay, h.decoupled ? 1 : 0, step);
}
