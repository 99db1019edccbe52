"""What every PyTorch script of the benchmarks shares (imported from bench/<suite>/torch_*.py).

    pin_threads(n)       intra-op threads = n, inter-op threads = 1 (where it can still be set)
    cpu_capability()     the "CPU capability usage" line of torch.__config__.show() (AVX512, ...)
    run_pass(fn, ...)    per-call wall (time.perf_counter) and CPU (time.process_time, every
                         thread of the process) milliseconds after a warm-up
"""

import time

import torch


def pin_threads(n):
    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass


def cpu_capability():
    for line in torch.__config__.show().splitlines():
        if "CPU capability usage" in line:
            return line.split(":", 1)[1].strip()
    return None


def run_pass(fn, warmup, min_iters, min_seconds, max_iters=None):
    """Calls fn warmup times, then at least min_iters times and min_seconds long (at most max_iters)."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    t_start = time.perf_counter()
    while (max_iters is None or len(wall) < max_iters) and (len(wall) < min_iters or time.perf_counter() - t_start < min_seconds):
        c0 = time.process_time()
        t0 = time.perf_counter()
        fn()
        t1 = time.perf_counter()
        c1 = time.process_time()
        wall.append((t1 - t0) * 1e3)
        cpu.append((c1 - c0) * 1e3)
    return {"wall": wall, "cpu": cpu}
