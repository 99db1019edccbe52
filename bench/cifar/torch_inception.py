#!/usr/bin/python3
"""The seed's CIFAR-10 Inception network in PyTorch on one thread, for bench/cifar.bench.ts.

    /usr/bin/python3 bench/cifar/torch_inception.py --width W [--batch 32] [--threads 1]
        [--warmup-steps 1] [--min-steps 2] [--min-seconds 0] [--check PREFIX]

The network of src/models/inception.ts: inception modules 3a, 3b, maxpool 3x3/2, 4a-4e,
maxpool 3x3/2, 5a, 5b, global average pooling, Linear(10); each module runs
1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 | maxpool 3x3/1 -> 1x1 on its input and concatenates them on
the channels. Every convolution is Conv2d(bias=False, padding='same') -> BatchNorm2d(eps=1e-3,
momentum=0.01) -> ReLU; BatchNorm's scale is fixed at 1 (Keras's scale=False: its weight does
not train). Max pooling pads as TensorFlow's 'same' (the odd padding after, with -inf). Channel
counts are the plan's times --width, rounded half up, at least 1 (as scaledChannels does).
Model and input are torch.channels_last; nn.CrossEntropyLoss; SGD(lr=0.01, momentum=0.9).
Module and parameter names follow our state-dict keys ("0.1.3.weight").

A timed step: zero_grad, forward, loss, backward, SGD step, loss.item(), on random data at
--batch (the values do not change the work). --warmup-steps steps, then at least --min-steps
steps and --min-seconds seconds; per step time.perf_counter (wall) and time.process_time (CPU
of the whole process).

--check PREFIX: instead of timing, reads PREFIX.json (width, batch, labels, the trainable
parameters' keys and shapes in PyTorch's layouts) and PREFIX.bin (x as [N, 32, 32, 3] float32,
then the parameters in key order), takes one step and writes PREFIX.out.bin: the loss, then
every parameter's gradient in key order (float32, PyTorch's layouts).

Prints one JSON object on stdout.
"""

import argparse
import json
import math
import os
import statistics
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
from torch_common import cpu_capability, pin_threads, run_pass  # noqa: E402

PLAN = [
    ("3a", (64, 96, 128, 16, 32, 32)),
    ("3b", (128, 128, 192, 32, 96, 64)),
    "pool",
    ("4a", (192, 96, 208, 16, 48, 64)),
    ("4b", (160, 112, 224, 24, 64, 64)),
    ("4c", (128, 128, 256, 24, 64, 64)),
    ("4d", (112, 144, 288, 32, 64, 64)),
    ("4e", (256, 160, 320, 32, 128, 128)),
    "pool",
    ("5a", (256, 160, 320, 32, 128, 128)),
    ("5b", (384, 192, 384, 48, 128, 128)),
]


def scaled(c, width):
    return max(1, math.floor(c * width + 0.5))


class SamePool2d(nn.Module):
    """3x3 max pooling with TensorFlow's 'same' padding (out = ceil(in / stride))."""

    def __init__(self, k, stride):
        super().__init__()
        self.k, self.stride = k, stride

    def forward(self, x):
        pads = []
        for size in (x.shape[3], x.shape[2]):
            out = -(-size // self.stride)
            total = max((out - 1) * self.stride + self.k - size, 0)
            pads += [total // 2, total - total // 2]
        return F.max_pool2d(F.pad(x, pads, value=-math.inf), self.k, self.stride)


class GlobalAvgPool(nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3))


class Inception(nn.ModuleList):
    def forward(self, x):
        return torch.cat([b(x) for b in self], dim=1)


def unit(cin, cout, k):
    bn = nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01)
    bn.weight.requires_grad_(False)
    return [nn.Conv2d(cin, cout, k, padding="same", bias=False), bn, nn.ReLU()]


def build(width, classes=10):
    layers, c = [], 3
    for step in PLAN:
        if step == "pool":
            layers.append(SamePool2d(3, 2))
            continue
        c1, c3r, c3, c5r, c5, cp = (scaled(v, width) for v in step[1])
        layers.append(Inception([
            nn.Sequential(*unit(c, c1, 1)),
            nn.Sequential(*unit(c, c3r, 1), *unit(c3r, c3, 3)),
            nn.Sequential(*unit(c, c5r, 1), *unit(c5r, c5, 5)),
            nn.Sequential(SamePool2d(3, 1), *unit(c, cp, 1)),
        ]))
        c = c1 + c3 + c5 + cp
    layers += [GlobalAvgPool(), nn.Linear(c, classes)]
    return nn.Sequential(*layers)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup-steps", type=int, default=1)
    ap.add_argument("--min-steps", type=int, default=2)
    ap.add_argument("--min-seconds", type=float, default=0.0)
    ap.add_argument("--check")
    args = ap.parse_args()

    pin_threads(args.threads)
    torch.manual_seed(0)
    out = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "cpu_capability": cpu_capability(),
    }

    if args.check:
        with open(args.check + ".json") as f:
            meta = json.load(f)
        blob = np.fromfile(args.check + ".bin", dtype="<f4")
        n = meta["batch"]
        # Float64: the check asks whether PyTorch computes the same function as our float64
        # reference; in float32 a 1e-6 rounding difference flips max-pool and ReLU decisions
        # and moves whole gradients on this small network (ours do too).
        model = build(meta["width"]).double()
        trainable = {k: p for k, p in model.named_parameters() if p.requires_grad}
        keys = [k for k, _ in meta["params"]]
        if list(trainable) != keys:
            raise SystemExit(f"torch_inception.py: parameters differ from ours: {sorted(set(trainable) ^ set(keys))[:6]}")
        off = n * 32 * 32 * 3
        x = torch.from_numpy(blob[:off].reshape(n, 32, 32, 3).astype(np.float64)).permute(0, 3, 1, 2)
        with torch.no_grad():
            for k, shape in meta["params"]:
                size = int(np.prod(shape))
                trainable[k].copy_(torch.from_numpy(blob[off:off + size].reshape(shape).astype(np.float64)))
                off += size
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
        y = torch.tensor(meta["labels"], dtype=torch.int64)
        model.train()
        loss = nn.CrossEntropyLoss()(model(x), y)
        loss.backward()
        parts = [np.array([loss.item()], dtype="<f8")] + [trainable[k].grad.detach().contiguous().numpy().astype("<f8").ravel() for k in keys]
        np.concatenate(parts).tofile(args.check + ".out.bin")
        out["check"] = {"loss": loss.item(), "params": len(keys)}
    else:
        model = build(args.width).to(memory_format=torch.channels_last)
        model.train()
        loss_fn = nn.CrossEntropyLoss()
        opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01, momentum=0.9)
        x = torch.rand(args.batch, 3, 32, 32).contiguous(memory_format=torch.channels_last)
        y = torch.randint(0, 10, (args.batch,))

        def step():
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            return loss.item()

        t = run_pass(step, args.warmup_steps, args.min_steps, args.min_seconds)
        out.update({"width": args.width, "batch": args.batch, **t, "wallMedian": statistics.median(t["wall"])})

    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
