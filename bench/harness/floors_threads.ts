// The memory floors on several threads: the same f32x4 loops as floorsFor() (bench/peak/
// floors.ts), each thread walking its own contiguous part of the buffers of a threaded
// backend's shared memory. What a split memory-bound kernel is measured against: two cores
// may share one memory bus, so the 2-thread floor is measured, not assumed half the 1-thread one.
// Also the f32x4 multiply-add peak loop (bench/peak/peak.ts) on every thread at once: what
// the cores give a compute-bound kernel split over them, in this run (a shared host's
// neighbours take from it), measured rather than assumed `threads` times one core's.
// The caller runs part 0; helper threads (Node worker_threads) wait on a shared counter.
import type { Floors } from "./roofline.js";
import { peakModule, sharedFloorsModule } from "./roofline.js";

const WORKER = String.raw`
"use strict";
const { workerData: d, parentPort } = require("node:worker_threads");
const ctl = new Int32Array(d.ctl), args = new Float64Array(d.args);
const abort = () => { throw new Error("bench: abort in a floor loop"); };
const e = new WebAssembly.Instance(d.module, { env: { memory: d.memory, abort } }).exports;
const pk = new WebAssembly.Instance(d.peak, { env: { abort } }).exports;
parentPort.postMessage("ready");
let seen = 0;
for (;;) {
  let g = Atomics.load(ctl, 0);
  for (let i = 0; g === seen && i < 100000; i++) g = Atomics.load(ctl, 0);
  while (g === seen) { Atomics.wait(ctl, 0, seen); g = Atomics.load(ctl, 0); }
  seen = g;
  const a = args, o = d.id * 4;
  const op = a[o];
  if (op === 1) e.floor_sum(a[o + 1], a[o + 2]);
  else if (op === 2) e.floor_copy(a[o + 1], a[o + 2], a[o + 3]);
  else if (op === 3) e.floor_add(a[o + 1], a[o + 2], a[o + 3], d.n[d.id]);
  else if (op === 4) break;
  else if (op === 5) pk.peak_tile(a[o + 1]);
  if (Atomics.sub(ctl, 1, 1) === 1) Atomics.notify(ctl, 1);
}
`;

interface NodeWorker {
  on(event: "message", f: (m: unknown) => void): void;
  on(event: "error", f: (e: Error) => void): void;
  terminate(): Promise<number>;
}

export interface ThreadedFloors extends Floors {
  readonly threads: number;
  /** The peak loop's 4 x 8 register tile for `iters` iterations on every thread at once (threads x iters x 64 flops). */
  peakTile(iters: number): void;
  close(): void;
}

/** Floors split over `threads` threads on `memory` (shared). */
export async function threadedFloors(memory: WebAssembly.Memory, threads: number): Promise<ThreadedFloors> {
  if (!(memory.buffer instanceof SharedArrayBuffer)) throw new Error("bench: threaded floors need a shared memory (a threaded backend)");
  const module = await sharedFloorsModule();
  const peak = await peakModule();
  const abort = () => {
    throw new Error("bench: abort in a floor loop");
  };
  const ownPeak = (await WebAssembly.instantiate(peak, { env: { abort } })).exports as unknown as { peak_tile(iters: number): number };
  const own = (await WebAssembly.instantiate(module, { env: { memory, abort } })).exports as unknown as {
    floor_sum(p: number, n: number): number;
    floor_copy(d: number, s: number, n: number): void;
    floor_add(d: number, a: number, b: number, n: number): void;
  };
  const wt = (await import("node:worker_threads")) as unknown as { Worker: new (src: string, o: object) => NodeWorker };
  const ctl = new Int32Array(new SharedArrayBuffer(8));
  const args = new Float64Array(new SharedArrayBuffer(threads * 4 * 8));
  const nAdd = new Int32Array(new SharedArrayBuffer(threads * 4));
  const workers: NodeWorker[] = [];
  await Promise.all(Array.from({ length: threads - 1 }, (_, i) => new Promise<void>((resolve, reject) => {
    const w = new wt.Worker(WORKER, { eval: true, workerData: { module, peak, memory, ctl: ctl.buffer, args: args.buffer, n: nAdd, id: i + 1 } });
    workers.push(w);
    w.on("message", () => resolve());
    w.on("error", reject);
  })));
  /** Parts of n floats: multiples of 16 except the last. */
  const parts = (n: number): [number, number][] => {
    const per = Math.ceil(n / threads / 16) * 16;
    return Array.from({ length: threads }, (_, t) => [Math.min(n, t * per), Math.min(n, (t + 1) * per)] as [number, number]);
  };
  const run = (op: number, set: (t: number, s: number, e: number) => void, n: number, mine: (s: number, e: number) => void) => {
    const ps = parts(n);
    for (let t = 1; t < threads; t++) {
      args[t * 4] = op;
      set(t, ps[t][0], ps[t][1]);
    }
    Atomics.store(ctl, 1, threads - 1);
    Atomics.add(ctl, 0, 1);
    Atomics.notify(ctl, 0);
    mine(ps[0][0], ps[0][1]);
    let left = Atomics.load(ctl, 1);
    while (left !== 0) left = Atomics.load(ctl, 1);
  };
  return {
    threads,
    sum(p, n) {
      run(1, (t, s, e) => { args[t * 4 + 1] = p + 4 * s; args[t * 4 + 2] = e - s; }, n, (s, e) => own.floor_sum(p + 4 * s, e - s));
      return 0;
    },
    copy(d, src, n) {
      run(2, (t, s, e) => { args[t * 4 + 1] = d + 4 * s; args[t * 4 + 2] = src + 4 * s; args[t * 4 + 3] = e - s; }, n, (s, e) => own.floor_copy(d + 4 * s, src + 4 * s, e - s));
    },
    add(d, a, b, n) {
      run(3, (t, s, e) => { args[t * 4 + 1] = d + 4 * s; args[t * 4 + 2] = a + 4 * s; args[t * 4 + 3] = b + 4 * s; nAdd[t] = e - s; }, n, (s, e) => own.floor_add(d + 4 * s, a + 4 * s, b + 4 * s, e - s));
    },
    peakTile(iters) {
      run(5, (t) => { args[t * 4 + 1] = iters; }, 0, () => ownPeak.peak_tile(iters));
    },
    close() {
      for (let t = 1; t < threads; t++) args[t * 4] = 4;
      Atomics.add(ctl, 0, 1);
      Atomics.notify(ctl, 0);
      for (const w of workers) void w.terminate();
    },
  };
}
