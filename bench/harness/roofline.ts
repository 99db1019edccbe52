// The limits a kernel is measured against, taken in the same run and process as the kernel:
//   - floors (bench/peak/floors.ts): f32x4 passes over memory, instantiated over the SAME
//     WebAssembly.Memory as the backend under test, so that they walk the very buffers the
//     kernels walk: sum (read n floats), copy (read n, write n), add (read 2n, write n);
//   - peak (bench/peak/peak.ts): the f32x4 multiply-add peak, the fastest of three loops
//     that issue only f32x4.mul + f32x4.add pairs: 12 independent chains acc = acc*s + t; a
//     4 x 8 register tile with its operands pinned in L1; 10 accumulators of loop-carried
//     products.
// Both are compiled at startup from their AssemblyScript with asc's API (-O3, SIMD, runtime
// stub, as the kernel builds) and written to build/ for inspection. Their sources are .ts
// files under bench/peak/, which tsc does not check (it does not know f32x4 or v128).
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { keep, type Task, type Timing } from "./timing.js";

const compiled = new Map<string, Promise<WebAssembly.Module>>();

function compile(name: "floors" | "peak", importMemory: boolean, shared = false): Promise<WebAssembly.Module> {
  const key = shared ? `${name}-shared` : name;
  let m = compiled.get(key);
  if (!m) {
    m = (async () => {
      const asc = (await import("assemblyscript/asc")).default;
      const source = await readFile(new URL(`../peak/${name}.ts`, import.meta.url), "utf8");
      const result = await asc.compileString(source, {
        optimizeLevel: 3,
        shrinkLevel: 0,
        runtime: "stub",
        importMemory,
        initialMemory: 1,
        noAssert: true,
        enable: shared ? ["simd", "threads"] : ["simd"],
        ...(shared ? { sharedMemory: true, maximumMemory: 65536 } : {}),
      });
      if (result.error || !result.binary) {
        throw new Error(`bench: compiling bench/peak/${name}.ts failed: ${result.error?.message ?? ""}\n${result.stderr.toString()}`);
      }
      const out = new URL(`../../build/${key}.wasm`, import.meta.url);
      await mkdir(new URL(".", out), { recursive: true });
      await writeFile(out, result.binary);
      return WebAssembly.compile(result.binary as Uint8Array<ArrayBuffer>);
    })();
    compiled.set(key, m);
  }
  return m;
}

const abort = () => {
  throw new Error("bench: abort in a roofline loop");
};

// ---------------------------------------------------------------- floors

export interface Floors {
  /** Sum of n floats at byte offset p (the read floor). */
  sum(p: number, n: number): number;
  /** Copies n floats from src to dst (the read + write floor). */
  copy(dst: number, src: number, n: number): void;
  /** dst = a + b over n floats (two reads + one write). */
  add(dst: number, a: number, b: number, n: number): void;
}

/** The floor loops running over `memory` (the memory of the backend being measured). */
export async function floorsFor(memory: WebAssembly.Memory): Promise<Floors> {
  const instance = await WebAssembly.instantiate(await compile("floors", true), { env: { memory, abort } });
  const e = instance.exports as unknown as {
    floor_sum(p: number, n: number): number;
    floor_copy(d: number, s: number, n: number): void;
    floor_add(d: number, a: number, b: number, n: number): void;
  };
  return { sum: e.floor_sum, copy: e.floor_copy, add: e.floor_add };
}

/** The floor loops compiled for a shared memory (a threaded backend's), for bench/harness/floors_threads.ts. */
export function sharedFloorsModule(): Promise<WebAssembly.Module> {
  return compile("floors", true, true);
}

/** A buffer in the backend's memory: a byte offset and a view of its floats. */
export interface Buffer {
  readonly ptr: number;
  readonly data: Float32Array;
}

/** Checks the floors on the suite's own buffers (y is overwritten with x). */
export function checkFloors(fl: Floors, x: Buffer, y: Buffer, n: number): void {
  const xs = x.data;
  let s = 0, abs = 0;
  for (let i = 0; i < n; i++) {
    s += xs[i];
    abs += Math.abs(xs[i]);
  }
  const got = fl.sum(x.ptr, n);
  if (!(Math.abs(got - s) <= 1e-4 * abs + 1e-6)) throw new Error(`bench: the sum floor is wrong (${got} vs ${s})`);
  fl.copy(y.ptr, x.ptr, n);
  const ys = y.data;
  for (let i = 0; i < n; i++) if (ys[i] !== xs[i]) throw new Error(`bench: the copy floor is wrong at ${i}`);
}

/** "floor sum" over x and "floor copy" from x to y, n floats each. */
export function floorTasks(fl: Floors, x: Buffer, y: Buffer, n: number): Task[] {
  const xp = x.ptr, yp = y.ptr;
  return [
    { name: "floor sum", fn: () => keep(fl.sum(xp, n)) },
    { name: "floor copy", fn: () => fl.copy(yp, xp, n) },
  ];
}

// ---------------------------------------------------------------- peak

interface PeakExports {
  peak_chains(iters: number, s: number, t: number): number;
  peak_tile(iters: number): number;
  peak_indep(iters: number, s: number): number;
}

export type PeakTask = Task & { fn: () => unknown; flops: number };

/** The peak loops' module (no memory of its own to share: each thread instantiates it). */
export function peakModule(): Promise<WebAssembly.Module> {
  return compile("peak", false);
}

/** The peak loops (~0.25 ms a call each), to time next to the kernels. */
export async function peakTasks(): Promise<PeakTask[]> {
  const instance = await WebAssembly.instantiate(await peakModule(), { env: { abort } });
  const pk = instance.exports as unknown as PeakExports;
  const it = { chains: 100_000, tile: 150_000, indep: 120_000 };
  return [
    { name: "peak chains", fn: () => keep(pk.peak_chains(it.chains, 0.999, 0.001)), flops: it.chains * 12 * 8 },
    { name: "peak tile", fn: () => keep(pk.peak_tile(it.tile)), flops: it.tile * 8 * 8 },
    { name: "peak indep", fn: () => keep(pk.peak_indep(it.indep, 0.5)), flops: it.indep * 10 * 8 },
  ];
}

export function gflops(flops: number, ms: number): number {
  return flops / ms / 1e6;
}

/** The peak from timed peak tasks: the fastest loop's GFLOP/s, and every loop's. */
export function peakOf(tasks: readonly PeakTask[], timings: Map<string, Timing>, clock: "wall" | "cpu" = "cpu"): { gflops: number; loops: Record<string, number> } {
  const loops: Record<string, number> = {};
  for (const t of tasks) {
    const tm = timings.get(t.name);
    if (tm) loops[t.name] = gflops(t.flops, clock === "cpu" ? tm.cpuMs : tm.ms);
  }
  return { gflops: Math.max(...Object.values(loops)), loops };
}
