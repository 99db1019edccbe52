#!/usr/bin/python3
"""One training step of Ioffe & Szegedy's MNIST network in PyTorch, for bench/step.bench.ts.

    /usr/bin/python3 bench/step/torch_step.py [--data PREFIX] [--check-out FILE] [--threads 1]
                                         [--warmup-steps 50] [--min-steps 300] [--min-seconds 2]
                                         [--breakdown] [--samples]

The model is the paper's 784-100-100-100-10 sigmoid network with BatchNorm1d before each
sigmoid (nn.Sequential(Linear, BatchNorm1d, Sigmoid, ..., Linear(100, 10))), weights
N(0, 0.1^2), biases 0, nn.CrossEntropyLoss, torch.optim.SGD(lr=0.5), batch 60.

A timed step is what a training loop does for one mini-batch: copy the batch's rows out of
the training images into the input buffer (index_select into a preallocated tensor, as our
bench copies them into wasm memory), zero_grad, forward, loss, backward, SGD step, and
loss.item().

--data PREFIX reads PREFIX.json / PREFIX.bin written by the TypeScript bench: the training
images (uint8, scaled by 1/255 here), labels, the batch order, the initial parameters
(PyTorch state_dict keys and [out, in] layouts, the same as ours) and one check batch. With
--check-out FILE, before timing, one step from those parameters on the check batch is taken
and the loss and the updated parameters are written to FILE (float32, in state_dict order)
for the TypeScript side to compare with its float64 reference; the model is then reset to the
initial parameters. Without --data: random images and labels, the model's own init.

Timing: --warmup-steps steps, then at least --min-steps steps and --min-seconds seconds; per
step time.perf_counter (wall) and time.process_time (CPU of the whole process, every thread).
Prints one JSON object on stdout.
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
from torch_common import pin_threads, run_pass  # noqa: E402


def build_model(layers, eps, momentum):
    mods = []
    for i in range(len(layers) - 2):
        mods += [nn.Linear(layers[i], layers[i + 1]), nn.BatchNorm1d(layers[i + 1], eps=eps, momentum=momentum), nn.Sigmoid()]
    mods.append(nn.Linear(layers[-2], layers[-1]))
    model = nn.Sequential(*mods)
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.Linear):
                m.weight.normal_(0.0, 0.1)
                m.bias.zero_()
    return model


def blas_library():
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
        return sorted(libs)
    except OSError:
        return []


def quantile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    pos = q * (len(sorted_values) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def summary(ms):
    s = sorted(ms)
    return {
        "median": statistics.median(s),
        "p25": quantile(s, 0.25),
        "p75": quantile(s, 0.75),
        "min": s[0],
        "mean": statistics.fmean(s),
        "samples": len(s),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data")
    ap.add_argument("--check-out")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup-steps", type=int, default=50)
    ap.add_argument("--min-steps", type=int, default=300)
    ap.add_argument("--max-steps", type=int, default=5000)
    ap.add_argument("--min-seconds", type=float, default=2.0)
    ap.add_argument("--breakdown", action="store_true")
    ap.add_argument("--samples", action="store_true", help="also print every step's wall and CPU ms")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    pin_threads(args.threads)
    torch.manual_seed(args.seed)

    if args.data:
        with open(args.data + ".json") as f:
            meta = json.load(f)
        blob = np.fromfile(args.data + ".bin", dtype=np.uint8)

        def arr(name):
            a = meta["arrays"][name]
            return np.frombuffer(blob, dtype=np.dtype(a["dtype"]), count=a["length"], offset=a["offset"])

        layers = meta["layers"]
        batch = meta["batch"]
        lr = meta["lr"]
        eps = meta["eps"]
        momentum = meta["momentum"]
        images = torch.from_numpy(arr("images").reshape(-1, layers[0]).copy()).float().div_(255.0)
        labels = torch.from_numpy(arr("labels").astype(np.int64))
        order = torch.from_numpy(arr("order").astype(np.int64))
        init_state = {k: torch.from_numpy(arr("param:" + k).copy()).reshape(shape) for k, shape in meta["params"].items()}
        check_x = torch.from_numpy(arr("check_x").copy()).reshape(batch, layers[0])
        check_y = torch.from_numpy(arr("check_y").astype(np.int64))
        source = meta.get("source", args.data)
    else:
        layers = [784, 100, 100, 100, 10]
        batch, lr, eps, momentum = 60, 0.5, 1e-5, 0.1
        g = torch.Generator().manual_seed(args.seed)
        images = torch.rand(10000, layers[0], generator=g)
        labels = torch.randint(0, layers[-1], (10000,), generator=g)
        order = torch.randperm(10000, generator=g)
        init_state = None
        check_x = check_y = None
        source = "random images and labels"

    model = build_model(layers, eps, momentum)
    if init_state is not None:
        missing = set(model.state_dict().keys()) - set(init_state.keys()) - {k for k in model.state_dict() if "running" in k or "num_batches" in k}
        if missing:
            raise SystemExit(f"torch_step.py: the data file lacks parameters {sorted(missing)}")
        model.load_state_dict(init_state, strict=False)
    model.train()
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=lr)

    out = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas": blas_library(),
        "data": source,
        "model": str(model).replace("\n", " "),
    }

    if args.check_out:
        if check_x is None:
            raise SystemExit("torch_step.py: --check-out needs --data")
        opt.zero_grad()
        loss = loss_fn(model(check_x), check_y)
        loss.backward()
        opt.step()
        keys = list(meta["params"].keys())
        sd = model.state_dict()
        parts = [np.array([loss.item()], dtype=np.float32)] + [sd[k].detach().numpy().astype(np.float32).ravel() for k in keys]
        np.concatenate(parts).tofile(args.check_out)
        out["check"] = {"loss": loss.item(), "keys": keys, "file": args.check_out}
        # Back to the initial state (parameters, running statistics, counters) for the timing.
        model.load_state_dict(initial)
        opt = torch.optim.SGD(model.parameters(), lr=lr)

    n_batches = order.numel() // batch
    batches = [order[i * batch:(i + 1) * batch].clone() for i in range(n_batches)]
    xbuf = torch.empty(batch, layers[0])
    ybuf = torch.empty(batch, dtype=torch.int64)
    state = {"pos": 0}
    sink = 0.0

    def step():
        idx = batches[state["pos"]]
        state["pos"] = (state["pos"] + 1) % n_batches
        torch.index_select(images, 0, idx, out=xbuf)
        torch.index_select(labels, 0, idx, out=ybuf)
        opt.zero_grad()
        loss = loss_fn(model(xbuf), ybuf)
        loss.backward()
        opt.step()
        return loss.item()

    t = run_pass(step, args.warmup_steps, args.min_steps, args.min_seconds, args.max_steps)
    wall, cpu = t["wall"], t["cpu"]
    out["wallMs"] = summary(wall)
    out["cpuMs"] = summary(cpu)
    if args.samples:
        out["wallSamples"] = wall
        out["cpuSamples"] = cpu

    if args.breakdown:
        # Phases of the same step, timed separately (perf_counter between phases).
        phases = {k: [] for k in ["copy", "zero_grad", "forward", "loss", "backward", "sgd_step", "item"]}
        per_layer = [[] for _ in model]
        for i in range(max(args.min_steps, 300)):
            t = [time.perf_counter()]
            idx = batches[state["pos"]]
            state["pos"] = (state["pos"] + 1) % n_batches
            torch.index_select(images, 0, idx, out=xbuf)
            torch.index_select(labels, 0, idx, out=ybuf)
            t.append(time.perf_counter())
            opt.zero_grad()
            t.append(time.perf_counter())
            h = xbuf
            for j, m in enumerate(model):
                a = time.perf_counter()
                h = m(h)
                per_layer[j].append((time.perf_counter() - a) * 1e3)
            t.append(time.perf_counter())
            loss = loss_fn(h, ybuf)
            t.append(time.perf_counter())
            loss.backward()
            t.append(time.perf_counter())
            opt.step()
            t.append(time.perf_counter())
            sink += loss.item()
            t.append(time.perf_counter())
            for k, name in enumerate(phases):
                phases[name].append((t[k + 1] - t[k]) * 1e3)
        out["breakdownMs"] = {k: statistics.median(v) for k, v in phases.items()}
        out["forwardPerLayerMs"] = [{"layer": str(m), "ms": statistics.median(v)} for m, v in zip(model, per_layer)]

    out["sink"] = sink
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
