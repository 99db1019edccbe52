// A pool of worker threads running the kernels on the backend's shared memory. The caller
// is thread 0 and works as one of the threads; workers 1 .. n-1 each instantiate the same
// module on the same memory (own globals, own GEMM scratch). Dispatch uses no postMessage:
// the caller writes the kernel and every part's arguments into shared memory, publishes the
// call and notifies; workers spin briefly, then Atomics.wait on a generation counter. Every
// thread, the caller included, then takes parts one at a time until none is left (each taken
// with one compareExchange on a claim word), so a thread that runs slower (another process on
// its core, a slower core of a hybrid CPU) or sleeps simply takes fewer parts. Calls are
// synchronous, as the single-thread ones are. The partition into parts is the op's and depends
// only on the sizes and the thread count; each part writes only its own outputs (or its own
// partial, merged by the caller in part order) and gets the running thread's scratch, so
// the results do not depend on which thread ran which part.
// In Node workers are unref'd once ready: a process that never calls shutdown() still exits.
// In a browser they are nested Web Workers of the Worker that calls init() (spawn_browser.ts).
import type { Kernels } from "../kernels.js";
import type { WasmHeap } from "../heap.js";
import { type PoolWorker, workerSpawner } from "./spawn.js";

/** The kernels a worker may be asked to run (their index is the call's kernel id). */
export const POOL_KERNELS = [
  "gemm_f32",
  "gemm_nt",
  "conv2d_forward_nhwc", "conv2d_backward_input_nhwc", "conv2d_backward_filter_nhwc",
  "conv2d_forward_nchw", "conv2d_backward_input_nchw", "conv2d_backward_filter_nchw",
  "bn_stats_part_nc", "bn_stats_part_nchw", "bn_apply_nc", "bn_apply_nchw", "scale_shift_nc", "scale_shift_nchw",
  "bn_backward_part_nc", "bn_backward_part_nchw", "bn_backward_dx_nc", "bn_backward_dx_nchw",
  "act_forward", "act_backward", "act_forward_rows", "act_backward_rows", "mul",
  "sgd_step", "adam_step", "rows_copy", "rows_add",
  "maxpool2d_forward_nhwc", "maxpool2d_forward_nchw", "maxpool2d_backward_nhwc", "maxpool2d_backward_nchw",
  "avgpool2d_forward_nhwc", "avgpool2d_forward_nchw", "avgpool2d_backward_nhwc", "avgpool2d_backward_nchw",
  "global_avgpool_forward_nhwc", "global_avgpool_forward_nchw", "global_avgpool_backward_nhwc", "global_avgpool_backward_nchw",
] as const satisfies readonly (keyof Kernels)[];
export type PoolKernel = (typeof POOL_KERNELS)[number];
const KERNEL_ID = new Map<string, number>(POOL_KERNELS.map((k, i) => [k, i]));

/** Arguments per part at most (avgpool2d_backward_* take 18). */
const MAX_ARGS = 20;
/** Parts per call at most. */
const MAX_PARTS = 64;
// The control block (Int32Array):
//   GEN      the call counter workers wait on;
//   STOP     set by shutdown();
//   FAILED   parts that threw, ERRLEN the length of the first one's message (in `err`);
//   KERNEL   the call's kernel id; NPARTS its number of parts;
//   CLAIM    (GEN & 0xffff) << 16 | the next part to take: a thread takes part i by moving it
//            to i + 1 with compareExchange, so each part runs exactly once, and a thread still
//            looking at an earlier call (its tag differs) takes nothing;
//   DONE     parts finished; the thread that finishes the last one wakes the caller;
//   SCRATCH_ARG  which argument is the scratch pointer (-1: none): each thread puts its own
//            there, from SCRATCH + thread id.
// The words every thread spins on or updates (GEN, CLAIM, DONE) sit on cache lines of their
// own (64 bytes apart), so that one thread's compareExchange does not evict what another polls.
const CTL_GEN = 0, CTL_CLAIM = 16, CTL_DONE = 32;
const CTL_STOP = 48, CTL_FAILED = 49, CTL_ERRLEN = 50, CTL_KERNEL = 51, CTL_NPARTS = 52, CTL_SCRATCH_ARG = 53;
const CTL_SCRATCH = 64;
/**
 * Loads of the counter before a worker or the caller blocks in Atomics.wait (an Atomics.load
 * in a loop takes 9-16 ns in Node 20, so 0.2-0.3 ms): waking a thread from Atomics.wait costs
 * ~100 us, so a worker that spins catches the next op of a training step awake. On 2 idle
 * cores (npm run bench -- threads), a split 24^3 product took 117 us with 100 loads and 1.5 us
 * with 20,000 (one thread: 1.1 us); 128^3 went from 0.84x to 1.81x. On a machine loaded by
 * other processes a spinning thread holds a core they need (an empty dispatch measured ~860 us
 * there against ~20 us with 100).
 */
const SPIN = 20000;

/**
 * Multiply-adds below which a product or convolution stays on the calling thread. Measured
 * with `npm run bench -- threads` (a sweep of square products split in two, 2 idle cores):
 * 32^3 (33k) 0.73x, 48^3 (111k) 1.22x, 64^3 (262k) 1.50x, 128^3 (2.1M) 1.81x.
 */
export const PARALLEL_MIN_MACS = 1 << 17;

/**
 * Floats below which a memory-bound op (Batch Normalization, activations, pooling, optimizer
 * updates) stays on the calling thread. Measured with `npm run bench -- threads` (the
 * element-wise sweep, 2 idle cores).
 */
export const PARALLEL_MIN_FLOATS = 1 << 15;

/**
 * Parts per thread at most: a large product or convolution is cut finer than one part a thread
 * so that a thread slowed down for a while (a shared host, a hybrid CPU's slower cores) takes
 * fewer of them rather than making the others wait at the end. Memory-bound ops keep one part
 * a thread: cut in 4 a thread, BN's forward on 4M floats ran 10% slower (two interleaved runs
 * here), while the convolutions gained 2-17% in 7 of 8 comparisons.
 */
const PARTS_PER_THREAD = 4;

export class ThreadPool {
  /** Threads including the caller. */
  readonly threads: number;
  /** The ops split a call only from this many multiply-adds (PARALLEL_MIN_MACS; tests lower it to split small shapes). */
  minMacs = PARALLEL_MIN_MACS;
  /** Memory-bound ops split only from this many floats (PARALLEL_MIN_FLOATS; tests lower it). */
  minFloats = PARALLEL_MIN_FLOATS;
  /** Parts per thread at most (PARTS_PER_THREAD; 1: one part a thread). */
  partsPerThread = PARTS_PER_THREAD;
  /** Cut every product and convolution into partsPerThread parts per thread whatever its size (tests set it). */
  finestParts = false;
  private readonly kernels: Kernels;
  private readonly heap: WasmHeap;
  private readonly ctl: Int32Array;
  private readonly args: Float64Array;
  private readonly err: Uint8Array;
  private readonly workers: PoolWorker[];
  private readonly gemmScratch: number[];
  /** Per-thread conv scratch of workers 1 .. n-1 (index 0 unused: the caller uses the layer's). */
  private scratchPtrs: number[] = [];
  private scratchBytes = 0;
  private partialsPtr = 0;
  private partialsBytes = 0;
  private closed = false;
  /** Counters since the pool started: calls, their parts, and the parts the calling thread ran. */
  readonly stats = { runs: 0, parts: 0, byCaller: 0 };

  private constructor(threads: number, kernels: Kernels, heap: WasmHeap, ctl: SharedArrayBuffer, args: SharedArrayBuffer, err: SharedArrayBuffer, workers: PoolWorker[], gemmScratch: number[]) {
    this.threads = threads;
    this.kernels = kernels;
    this.heap = heap;
    this.ctl = new Int32Array(ctl);
    this.args = new Float64Array(args);
    this.err = new Uint8Array(err);
    this.workers = workers;
    this.gemmScratch = gemmScratch;
  }

  /** Starts threads - 1 workers on `memory` (shared) running `module`; resolves when all are ready. */
  static async start(threads: number, module: WebAssembly.Module, memory: WebAssembly.Memory, kernels: Kernels, heap: WasmHeap): Promise<ThreadPool> {
    const spawn = await workerSpawner();
    const ctl = new SharedArrayBuffer((CTL_SCRATCH + threads) * 4);
    const args = new SharedArrayBuffer(MAX_PARTS * MAX_ARGS * 8);
    const err = new SharedArrayBuffer(512);
    const gemmScratch: number[] = [];
    for (let t = 0; t < threads; t++) gemmScratch.push(t === 0 ? 0 : heap.alloc(kernels.gemm_scratch_bytes()));
    const workers: PoolWorker[] = [];
    const ready: Promise<void>[] = [];
    for (let id = 1; id < threads; id++) {
      const w = spawn({
        workerData: {
          module, memory, ctl, args, err, id, names: POOL_KERNELS, gemmScratch: gemmScratch[id], maxArgs: MAX_ARGS, spin: SPIN,
          gen: CTL_GEN, stop: CTL_STOP, failed: CTL_FAILED, errLen: CTL_ERRLEN, kernel: CTL_KERNEL, nparts: CTL_NPARTS,
          claim: CTL_CLAIM, done: CTL_DONE, scratchArg: CTL_SCRATCH_ARG, scratch: CTL_SCRATCH,
        },
      });
      workers.push(w);
      ready.push(w.ready);
    }
    try {
      await Promise.all(ready);
    } catch (e) {
      for (const w of workers) void w.terminate();
      for (const p of gemmScratch) if (p) heap.release(p);
      throw e;
    }
    for (const w of workers) w.unref();
    return new ThreadPool(threads, kernels, heap, ctl, args, err, workers, gemmScratch);
  }

  /**
   * Conv scratch of at least `bytes` for each worker (index t for thread t; index 0 is 0:
   * the caller passes its layer's own). Grown, never shrunk; allocated on this thread while
   * the workers are idle.
   */
  scratch(bytes: number): readonly number[] {
    if (bytes > this.scratchBytes) {
      for (const p of this.scratchPtrs) if (p) this.heap.release(p);
      this.scratchPtrs = [0];
      for (let t = 1; t < this.threads; t++) this.scratchPtrs.push(this.heap.alloc(bytes));
      this.scratchBytes = bytes;
    }
    return this.scratchPtrs;
  }

  /**
   * A buffer of at least `bytes` for the per-thread partial results of a split reduction
   * (grown, never shrunk; allocated on this thread while the workers are idle).
   */
  partials(bytes: number): number {
    if (bytes > this.partialsBytes) {
      if (this.partialsPtr) this.heap.release(this.partialsPtr);
      this.partialsPtr = this.heap.alloc(bytes);
      this.partialsBytes = bytes;
    }
    return this.partialsPtr;
  }

  /**
   * How many parts to cut an op of `work` (multiply-adds, floats, ...) into: one per thread,
   * and up to PARTS_PER_THREAD per thread while each part keeps at least `perPart` of it.
   */
  partsFor(work: number, perPart: number): number {
    const most = this.partsPerThread;
    const per = this.finestParts ? most : Math.max(1, Math.min(most, Math.floor(work / (perPart * this.threads))));
    return Math.min(MAX_PARTS, this.threads * per);
  }

  /**
   * Runs `kernel` once per entry of `parts` (at most MAX_PARTS) on whichever threads take
   * them, the calling thread included, and returns when all are done. With `scratchArg` >= 0,
   * that argument of every part is replaced by the running thread's scratch: scratch[t] for
   * thread t (the caller's own at 0, the pool's scratch() for the workers). Throws if any
   * part failed.
   */
  run(kernel: PoolKernel, parts: readonly (readonly number[])[], scratchArg = -1, scratch: readonly number[] = []): void {
    if (this.closed) throw new Error("batchnorm-wasm: the thread pool was shut down");
    const n = parts.length;
    if (n > MAX_PARTS) throw new Error(`ThreadPool.run: ${n} parts, at most ${MAX_PARTS}`);
    if (scratchArg >= 0 && scratch.length < this.threads) throw new Error(`ThreadPool.run: ${scratch.length} scratch pointers for ${this.threads} threads`);
    if (n === 0) return;
    const ctl = this.ctl, args = this.args;
    const id = KERNEL_ID.get(kernel)!;
    for (let i = 0; i < n; i++) {
      const p = parts[i], o = i * MAX_ARGS;
      if (p.length > MAX_ARGS) throw new Error(`ThreadPool.run: ${kernel} part ${i} has ${p.length} arguments, at most ${MAX_ARGS}`);
      for (let j = 0; j < p.length; j++) args[o + j] = p[j];
    }
    for (let t = 1; t < this.threads; t++) ctl[CTL_SCRATCH + t] = scratchArg >= 0 ? scratch[t] : 0;
    ctl[CTL_KERNEL] = id;
    ctl[CTL_NPARTS] = n;
    ctl[CTL_SCRATCH_ARG] = scratchArg;
    Atomics.store(ctl, CTL_DONE, 0);
    // The claim word carries the new call's tag before the counter moves: a worker that wakes
    // for this call finds its parts, one still on an earlier call finds nothing to take.
    const gen = (Atomics.load(ctl, CTL_GEN) + 1) | 0;
    Atomics.store(ctl, CTL_CLAIM, (gen & 0xffff) << 16);
    Atomics.store(ctl, CTL_GEN, gen);
    Atomics.notify(ctl, CTL_GEN);
    const stats = this.stats;
    stats.runs++;
    stats.parts += n;
    const fn = this.kernels[kernel] as (...a: number[]) => void;
    const tag = gen & 0xffff;
    let failure: unknown = null;
    for (;;) {
      const w = Atomics.load(ctl, CTL_CLAIM);
      const i = w & 0xffff;
      if (w >>> 16 !== tag || i >= n) break;
      if (Atomics.compareExchange(ctl, CTL_CLAIM, w, w + 1) !== w) continue;
      stats.byCaller++;
      const o = i * MAX_ARGS;
      if (scratchArg >= 0) args[o + scratchArg] = scratch[0];
      try {
        fn(args[o], args[o + 1], args[o + 2], args[o + 3], args[o + 4], args[o + 5], args[o + 6], args[o + 7], args[o + 8], args[o + 9],
          args[o + 10], args[o + 11], args[o + 12], args[o + 13], args[o + 14], args[o + 15], args[o + 16], args[o + 17], args[o + 18], args[o + 19]);
      } catch (e) {
        failure ??= new Error(`batchnorm-wasm: a kernel failed on the calling thread (${kernel}, part ${i} of ${n}: ${e instanceof Error ? e.message : String(e)})`, { cause: e });
      }
      Atomics.add(ctl, CTL_DONE, 1);
    }
    // Then wait for the parts still running on workers (spin, then Atomics.wait).
    let done = Atomics.load(ctl, CTL_DONE);
    for (let k = 0; done < n && k < SPIN; k++) done = Atomics.load(ctl, CTL_DONE);
    while (done < n) {
      Atomics.wait(ctl, CTL_DONE, done);
      done = Atomics.load(ctl, CTL_DONE);
    }
    // A worker's failure is cleared even when the caller's own is the one reported.
    if (Atomics.load(ctl, CTL_FAILED) !== 0) {
      const len = Atomics.load(ctl, CTL_ERRLEN);
      const msg = new TextDecoder().decode(this.err.slice(0, len));
      Atomics.store(ctl, CTL_FAILED, 0);
      failure ??= new Error(`batchnorm-wasm: a kernel failed on a worker thread (${msg})`);
    }
    if (failure) throw failure;
  }

  /** Ends the workers and returns their memory to the heap. Idempotent. */
  shutdown(): void {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.ctl, CTL_STOP, 1);
    Atomics.add(this.ctl, CTL_GEN, 1);
    Atomics.notify(this.ctl, CTL_GEN);
    for (const w of this.workers) void w.terminate();
    for (const p of [...this.gemmScratch, ...this.scratchPtrs, this.partialsPtr]) if (p) this.heap.release(p);
    this.scratchPtrs = [];
    this.partialsPtr = 0;
  }

  get isShutDown(): boolean {
    return this.closed;
  }
}
