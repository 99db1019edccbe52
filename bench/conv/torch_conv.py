#!/usr/bin/python3
"""One convolution shape in PyTorch on one thread, for bench/conv.bench.ts.

    /usr/bin/python3 bench/conv/torch_conv.py --shape N,H,C,OC,K [--formats nchw,nhwc]
        [--warmup 1] [--min-iters 3] [--min-seconds 0.3] [--check DIR]

F.conv2d(x, w, padding="same") without bias, stride 1, on random float32 data, as the layer
of the seed network runs it in training: x and w require gradients, so forward records the
graph. "nchw" is PyTorch's default contiguous memory format, "nhwc" is
torch.channels_last (x, w and dy converted; oneDNN's fast path). Per format, two passes:
  fwd      y = F.conv2d(x, w)
  fwd+bwd  y = F.conv2d(x, w); y.backward(dy)   (dX and dW, accumulated into .grad)
Each pass: --warmup calls, then at least --min-iters calls and --min-seconds seconds; per call
time.perf_counter (wall) and time.process_time (CPU of the whole process).

--check DIR: instead of timing, reads DIR/x.bin [N, C, H, W], DIR/w.bin [OC, C, K, K] and
DIR/dy.bin [N, OC, H, W] (float32, PyTorch's logical order) and writes, per format,
DIR/out_<format>.bin = y, dx, dw concatenated in the same logical order (contiguous).

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
from torch_common import cpu_capability, pin_threads, run_pass  # noqa: E402


def prepare(x, w, dy, fmt):
    mf = torch.channels_last if fmt == "nhwc" else torch.contiguous_format
    x = x.contiguous(memory_format=mf).detach().requires_grad_(True)
    w = w.contiguous(memory_format=mf).detach().requires_grad_(True)
    dy = dy.contiguous(memory_format=mf)
    return x, w, dy


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", required=True, help="N,H,C,OC,K (square input and kernel)")
    ap.add_argument("--formats", default="nchw,nhwc")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--min-iters", type=int, default=3)
    ap.add_argument("--min-seconds", type=float, default=0.3)
    ap.add_argument("--check")
    args = ap.parse_args()

    pin_threads(args.threads)
    torch.manual_seed(0)
    N, H, C, OC, K = (int(v) for v in args.shape.split(","))
    formats = args.formats.split(",")
    out = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "cpu_capability": cpu_capability(),
        "shape": [N, H, C, OC, K],
    }

    if args.check:
        def load(name, shape):
            return torch.from_numpy(np.fromfile(os.path.join(args.check, name), dtype="<f4").reshape(shape).copy())

        x0 = load("x.bin", (N, C, H, H))
        w0 = load("w.bin", (OC, C, K, K))
        dy0 = load("dy.bin", (N, OC, H, H))
        for fmt in formats:
            x, w, dy = prepare(x0, w0, dy0, fmt)
            y = F.conv2d(x, w, padding="same")
            y.backward(dy)
            parts = [t.detach().contiguous().numpy().astype("<f4").ravel() for t in (y, x.grad, w.grad)]
            np.concatenate(parts).tofile(os.path.join(args.check, f"out_{fmt}.bin"))
        out["check"] = formats
    else:
        samples = {}
        for fmt in formats:
            x, w, dy = prepare(torch.randn(N, C, H, H), torch.randn(OC, C, K, K) / (C * K * K) ** 0.5, torch.randn(N, OC, H, H), fmt)

            def fwd():
                y = F.conv2d(x, w, padding="same")
                del y

            def fwd_bwd():
                y = F.conv2d(x, w, padding="same")
                y.backward(dy)

            samples[f"{fmt} fwd"] = run_pass(fwd, args.warmup, args.min_iters, args.min_seconds)
            samples[f"{fmt} fwd+bwd"] = run_pass(fwd_bwd, args.warmup, args.min_iters, args.min_seconds)
        out["samples"] = samples

    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
