// Optimizer update ops with torch.optim's rules: the only code that calls sgd_step and
// adam_step. Each updates one parameter (and its state) in place.
import type { Tensor } from "../tensor.js";
import { splitCall } from "./split.js";

export interface SgdHyper {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

/** One SGD step of `param` from `grad`; buf is the momentum buffer (null without momentum), set from grad when first. */
export function sgdStep(param: Tensor, grad: Tensor, buf: Tensor | null, h: SgdHyper, first: boolean): void {
  const n = h.nesterov ? 1 : 0, f = first ? 1 : 0;
  if (splitCall(param.backend, "sgd_step", 3 * param.size, param.size, 4, (s, e) => [param.ptr + 4 * s, grad.ptr + 4 * s, buf ? buf.ptr + 4 * s : 0, e - s, h.lr, h.momentum, h.dampening, h.weightDecay, n, f])) return;
  param.backend.kernels.sgd_step(param.ptr, grad.ptr, buf ? buf.ptr : 0, param.size, h.lr, h.momentum, h.dampening, h.weightDecay, n, f);
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
  const d = h.decoupled ? 1 : 0;
  if (splitCall(param.backend, "adam_step", 4 * param.size, param.size, 4, (s, e) => [param.ptr + 4 * s, grad.ptr + 4 * s, m.ptr + 4 * s, v.ptr + 4 * s, e - s, h.lr, h.betas[0], h.betas[1], h.eps, h.weightDecay, d, step])) return;
  param.backend.kernels.adam_step(param.ptr, grad.ptr, m.ptr, v.ptr, param.size, h.lr, h.betas[0], h.betas[1], h.eps, h.weightDecay, d, step);
}
