#!/usr/bin/python3
"""One normalization on one shape in PyTorch on one thread, for bench/norms.bench.ts.

    /usr/bin/python3 bench/norms/torch_norms.py --kind bn|ln|gn|in --shape N,C[,H,W]
        [--groups G] [--format nchw|nhwc] [--warmup 2] [--min-iters 5] [--min-seconds 0.5]
        [--check DIR]

Training-mode functional calls on float32 data in PyTorch's logical order [N, C, ...]:
  bn  F.batch_norm(x, None, None, gamma, beta, training=True)
  ln  F.layer_norm(x, x.shape[1:], gamma, beta)
  gn  F.group_norm(x, G, gamma, beta)
  in  F.instance_norm(x, weight=gamma, bias=beta, use_input_stats=True)
"nhwc" is torch.channels_last (4-D only). x, gamma and beta require gradients. Passes:
  fwd      y = f(x)
  fwd+bwd  y = f(x); y.backward(dy)
per call time.perf_counter (wall) and time.process_time (CPU).

--check DIR: reads DIR/x.bin, DIR/dy.bin (the shape), DIR/gamma.bin, DIR/beta.bin (float32)
and writes DIR/out.bin = y, dx, dgamma, dbeta (logical order) instead of timing.
Prints one JSON object on stdout.
"""

import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
from torch_common import pin_threads, run_pass  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", required=True, choices=["bn", "ln", "gn", "in"])
    ap.add_argument("--shape", required=True)
    ap.add_argument("--groups", type=int, default=1)
    ap.add_argument("--format", default="nchw", choices=["nchw", "nhwc"])
    ap.add_argument("--eps", type=float, default=1e-5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--min-iters", type=int, default=5)
    ap.add_argument("--min-seconds", type=float, default=0.5)
    ap.add_argument("--check")
    args = ap.parse_args()
    pin_threads(1)
    shape = [int(s) for s in args.shape.split(",")]
    pshape = shape[1:] if args.kind == "ln" else [shape[1]]
    if args.check:
        rd = lambda name, s: torch.from_numpy(np.fromfile(os.path.join(args.check, name), dtype=np.float32).reshape(s))
        x, dy, gamma, beta = rd("x.bin", shape), rd("dy.bin", shape), rd("gamma.bin", pshape), rd("beta.bin", pshape)
    else:
        g = torch.Generator().manual_seed(0)
        x, dy = torch.randn(shape, generator=g), torch.randn(shape, generator=g)
        gamma, beta = 1 + 0.2 * torch.randn(pshape, generator=g), 0.1 * torch.randn(pshape, generator=g)
    if args.format == "nhwc" and len(shape) == 4:
        x, dy = x.contiguous(memory_format=torch.channels_last), dy.contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    gamma.requires_grad_(True)
    beta.requires_grad_(True)
    eps = args.eps
    if args.kind == "bn":
        f = lambda: F.batch_norm(x, None, None, gamma, beta, training=True, eps=eps)
    elif args.kind == "ln":
        f = lambda: F.layer_norm(x, shape[1:], gamma, beta, eps=eps)
    elif args.kind == "gn":
        f = lambda: F.group_norm(x, args.groups, gamma, beta, eps=eps)
    else:
        f = lambda: F.instance_norm(x, weight=gamma, bias=beta, use_input_stats=True, eps=eps)
    info = {"torch": torch.__version__, "threads": torch.get_num_threads(), "kind": args.kind, "shape": shape, "format": args.format}
    if args.check:
        y = f()
        y.backward(dy)
        out = torch.cat([t.detach().contiguous().reshape(-1) for t in (y, x.grad, gamma.grad, beta.grad)])
        out.numpy().astype(np.float32).tofile(os.path.join(args.check, "out.bin"))
        print(json.dumps(info))
        return

    def fwd():
        f()

    def fwd_bwd():
        f().backward(dy)

    info["samples"] = {
        "fwd": run_pass(fwd, args.warmup, args.min_iters, args.min_seconds),
        "fwd+bwd": run_pass(fwd_bwd, args.warmup, args.min_iters, args.min_seconds),
    }
    print(json.dumps(info))


if __name__ == "__main__":
    main()
