// A pool of worker threads running the kernels on the backend's shared memory. The caller
// is thread 0 and works as one of the threads; workers 1 .. n-1 each instantiate the same
// module on the same memory (own globals, own GEMM scratch). Dispatch uses no postMessage:
// the caller writes each worker's kernel and arguments into a control block of shared
// memory, bumps a generation counter and notifies; workers spin briefly, then
// Atomics.wait on it. The caller runs its own part, then waits (spin, then Atomics.wait)
// for the pending count to reach zero. Calls are synchronous, as the single-thread ones are.
// In Node workers are unref'd once ready: a process that never calls shutdown() still exits.
// In a browser they are nested Web Workers of the Worker that calls init() (spawn_browser.ts).
import type { Kernels } from "../kernels.js";
import type { WasmHeap } from "../heap.js";
import { type PoolWorker, workerSpawner } from "./spawn.js";

/** The kernels a worker may be asked to run (their index is the slot's kernel id). */
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

/** Arguments per call at most (avgpool2d_backward_* take 18). */
const MAX_ARGS = 20;
// The control block (Int32Array): generation, (unused), stop flag, failed count, length of the
// first failure's message, then per thread a slot of (kernel id, state). A slot's state is
// SLOT_OPEN when its part waits for a thread, SLOT_RUNNING once its worker took it, SLOT_DONE
// when finished or taken by the caller. Whoever moves it from open (compareExchange) runs the
// part: the caller, done with its own, runs the parts no worker has started. So a worker that
// sleeps or is descheduled by other processes costs the step no more than running that part on
// the calling thread, and the results do not depend on who ran a part (same partition, same
// kernels, the part's own scratch).
const CTL_GEN = 0, CTL_STOP = 2, CTL_FAILED = 3, CTL_ERRLEN = 4, CTL_SLOTS = 8;
const SLOT_DONE = 0, SLOT_OPEN = 1, SLOT_RUNNING = 2;
/**
 * Loads of the counter before a worker or the caller blocks in Atomics.wait (tens of
 * microseconds): waking a thread from Atomics.wait costs ~100 us, so a worker that spins
 * catches the next op of a training step awake. On 2 idle cores (npm run bench -- threads), a
 * split 24^3 product took 117 us with 100 loads and 1.5 us with 20,000 (one thread: 1.1 us);
 * 128^3 went from 0.84x to 1.81x. On a machine loaded by other processes a spinning thread
 * holds a core they need (an empty dispatch measured ~860 us there against ~20 us with 100).
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

export class ThreadPool {
  /** Threads including the caller. */
  readonly threads: number;
  /** The ops split a call only from this many multiply-adds (PARALLEL_MIN_MACS; tests lower it to split small shapes). */
  minMacs = PARALLEL_MIN_MACS;
  /** Memory-bound ops split only from this many floats (PARALLEL_MIN_FLOATS; tests lower it). */
  minFloats = PARALLEL_MIN_FLOATS;
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
  /** Counters since the pool started: calls, parts handed to workers, and of those the parts the caller ran itself because no worker had started them. */
  readonly stats = { runs: 0, workerParts: 0, stolen: 0 };

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
    const ctl = new SharedArrayBuffer((CTL_SLOTS + 2 * threads) * 4);
    const args = new SharedArrayBuffer(threads * MAX_ARGS * 8);
    const err = new SharedArrayBuffer(512);
    const gemmScratch: number[] = [];
    for (let t = 0; t < threads; t++) gemmScratch.push(t === 0 ? 0 : heap.alloc(kernels.gemm_scratch_bytes()));
    const workers: PoolWorker[] = [];
    const ready: Promise<void>[] = [];
    for (let id = 1; id < threads; id++) {
      const w = spawn({
        workerData: {
          module, memory, ctl, args, err, id, names: POOL_KERNELS, gemmScratch: gemmScratch[id], maxArgs: MAX_ARGS, spin: SPIN,
          gen: CTL_GEN, stop: CTL_STOP, failed: CTL_FAILED, errLen: CTL_ERRLEN, slotBase: CTL_SLOTS,
          open: SLOT_OPEN, running: SLOT_RUNNING, done: SLOT_DONE,
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
   * Runs `kernel` once per entry of `parts` (at most `threads`; null: that thread idles),
   * parts[0] on the calling thread, and returns when all are done. Throws if any failed.
   */
  run(kernel: PoolKernel, parts: readonly (readonly number[] | null)[]): void {
    if (this.closed) throw new Error("batchnorm-wasm: the thread pool was shut down");
    const n = parts.length;
    if (n > this.threads) throw new Error(`ThreadPool.run: ${n} parts for ${this.threads} threads`);
    const ctl = this.ctl, args = this.args;
    const id = POOL_KERNELS.indexOf(kernel);
    const fn = this.kernels[kernel] as (...a: number[]) => void;
    for (let t = 1; t < this.threads; t++) {
      const p = t < n ? parts[t] : null;
      ctl[CTL_SLOTS + 2 * t] = p ? id : -1;
      if (p) for (let i = 0; i < p.length; i++) args[t * MAX_ARGS + i] = p[i];
      Atomics.store(ctl, CTL_SLOTS + 2 * t + 1, p ? SLOT_OPEN : SLOT_DONE);
    }
    Atomics.add(ctl, CTL_GEN, 1);
    Atomics.notify(ctl, CTL_GEN);
    let failure: unknown = null;
    const own = parts[0];
    if (own) {
      try {
        fn(...own);
      } catch (e) {
        failure = e;
      }
    }
    // The parts no worker has started: run them here.
    const stats = this.stats;
    stats.runs++;
    for (let t = 1; t < n; t++) {
      const p = parts[t];
      if (p) stats.workerParts++;
      if (!p || Atomics.compareExchange(ctl, CTL_SLOTS + 2 * t + 1, SLOT_OPEN, SLOT_DONE) !== SLOT_OPEN) continue;
      stats.stolen++;
      try {
        fn(...p);
      } catch (e) {
        failure ??= new Error(`batchnorm-wasm: a kernel failed on the calling thread, running thread ${t}'s part (${kernel}: ${e instanceof Error ? e.message : String(e)})`);
      }
    }
    // Then wait for the ones that are running (spin, then Atomics.wait).
    for (let t = 1; t < n; t++) {
      const at = CTL_SLOTS + 2 * t + 1;
      let st = Atomics.load(ctl, at);
      for (let i = 0; st === SLOT_RUNNING && i < SPIN; i++) st = Atomics.load(ctl, at);
      while (st === SLOT_RUNNING) {
        Atomics.wait(ctl, at, SLOT_RUNNING);
        st = Atomics.load(ctl, at);
      }
    }
    if (failure) throw failure;
    if (Atomics.load(ctl, CTL_FAILED) !== 0) {
      const len = Atomics.load(ctl, CTL_ERRLEN);
      const msg = new TextDecoder().decode(this.err.slice(0, len));
      Atomics.store(ctl, CTL_FAILED, 0);
      throw new Error(`batchnorm-wasm: a kernel failed on a worker thread (${msg})`);
    }
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
