// Batch Normalization at 1 and 2 threads against the memory floors at 1 and 2 threads, for
// bench/threads.bench.ts: training forward (floor: a sum and a copy of the tensor) and backward
// (floor: three sums and a copy) on 4M floats, NHWC and NCHW, plain and fused with ReLU. The
// 2-thread outputs are checked against the 1-thread ones (within rounding: the statistics are
// merged per-thread partials) before timing.
import type { Backend } from "../../src/backend.js";
import { bnBackward, bnForwardTrain, bnLayout, bnReluBackward, bnReluForwardTrain, bnScratchBytes, type DataFormat } from "../../src/ops/bn.js";
import { Tensor } from "../../src/tensor.js";
import type { Context, Floors, Task } from "../harness/index.js";
import { keep, rng } from "../harness/index.js";

export interface BnCase {
  label: string;
  shape: number[];
  dataFormat: DataFormat;
  relu: boolean;
}

export const BN_CASES: BnCase[] = [
  { label: "BN NHWC [64,32,32,64]", shape: [64, 32, 32, 64], dataFormat: "channelsLast", relu: false },
  { label: "BN NCHW [64,64,32,32]", shape: [64, 64, 32, 32], dataFormat: "channelsFirst", relu: false },
  { label: "BN-ReLU NHWC [64,32,32,64]", shape: [64, 32, 32, 64], dataFormat: "channelsLast", relu: true },
];

interface Bound {
  fwd: () => void;
  bwd: () => void;
  outputs: () => Float32Array[];
  x: Tensor;
  y: Tensor;
  dy: Tensor;
  dispose(): void;
}

function bind(b: Backend, c: BnCase): Bound {
  const L = bnLayout(c.shape, c.dataFormat);
  const C = L.C;
  const t = (shape: number[], seed: number | null, lo = -1, hi = 1) => {
    const q = new Tensor(b, shape);
    if (seed === null) q.data.fill(0);
    else {
      const r = rng(seed);
      const d = q.data;
      for (let i = 0; i < d.length; i++) d[i] = lo + (hi - lo) * r.uniform();
    }
    return q;
  };
  const x = t(c.shape, 1, -1, 2), dy = t(c.shape, 2), y = t(c.shape, null), dx = t(c.shape, null);
  const gamma = t([C], 3, 0.5, 1.5), beta = t([C], 4, -0.5, 0.5), dg = t([C], null), db = t([C], null);
  const stats = { mean: t([C], null), var: t([C], null), invStd: t([C], null) };
  const scratch = new Tensor(b, [Math.ceil(bnScratchBytes(b, C) / 4)]);
  const fwd = c.relu ? () => bnReluForwardTrain(y, stats, x, gamma, beta, 1e-3, L, scratch) : () => bnForwardTrain(y, stats, x, gamma, beta, 1e-3, L, scratch);
  const bwd = c.relu
    ? () => bnReluBackward(dx, dg, db, dy, x, stats.mean, stats.invStd, gamma, beta, L, true, scratch)
    : () => bnBackward(dx, dg, db, dy, x, stats.mean, stats.invStd, gamma, L, true, scratch);
  return {
    fwd, bwd, x, y, dy,
    outputs: () => [y, dx, stats.mean, stats.invStd].map((q) => Float32Array.from(q.data)),
    dispose: () => [x, dy, y, dx, gamma, beta, dg, db, stats.mean, stats.var, stats.invStd, scratch].forEach((q) => q.dispose()),
  };
}

/** Tasks of one case: forward and backward at 1 and 2 threads, and the floors on each backend's buffers. */
export function bnTasks(ctx: Context, c: BnCase, one: Backend, two: Backend, floors1: Floors, floors2: Floors): { tasks: Task[]; n: number; dispose(): void } {
  const a = bind(one, c), b = bind(two, c);
  a.fwd(); a.bwd(); b.fwd(); b.bwd();
  const oa = a.outputs(), ob = b.outputs();
  ["y", "dx", "mean", "invStd"].forEach((what, i) => ctx.check.require("2 threads", c.label, `${what} against 1 thread`, ob[i], oa[i], 1e-5));
  const n = a.x.size;
  const floorsOf = (fl: Floors, q: Bound, tag: string): Task[] => [
    { name: `floor sum ${tag}`, fn: () => keep(fl.sum(q.x.ptr, n)) },
    { name: `floor copy ${tag}`, fn: () => fl.copy(q.y.ptr, q.x.ptr, n) },
  ];
  return {
    n,
    tasks: [
      { name: "fwd 1 thread", fn: a.fwd }, { name: "fwd 2 threads", fn: b.fwd },
      { name: "bwd 1 thread", fn: a.bwd }, { name: "bwd 2 threads", fn: b.bwd },
      ...floorsOf(floors1, a, "1 thread"), ...floorsOf(floors2, b, "2 threads"),
    ],
    dispose: () => (a.dispose(), b.dispose()),
  };
}
