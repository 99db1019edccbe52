// The memory-traffic floors every Batch Normalization kernel is measured against: the
// fastest a pass over the same buffer can go on this machine, in the same run.
//   sum  = read n floats (f32x4 adds into four accumulators, 16 floats an iteration)
//   copy = read n floats and write n floats (v128 load/store, 64 bytes an iteration)
// They are compiled from the AssemblyScript source below at startup (asc's compileString,
// -O3, SIMD, runtime stub, imported memory: the same flags as the kernel builds), written
// to build/floors.wasm for inspection, and instantiated over the SAME WebAssembly.Memory
// as the backend under test, so that they walk the very buffers the kernels walk.
// The source lives in a string, not in a .ts file under bench/, because tsc (npm run
// typecheck covers bench/) does not know the AssemblyScript builtins (v128, f32x4).
import { mkdir, writeFile } from "node:fs/promises";

export const FLOORS_SOURCE = `
// Sum of n floats at p: four independent f32x4 accumulators hide the add latency, so the
// loop runs at the speed of the loads.
export function floor_sum(p: usize, n: i32): f32 {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const q = p + (<usize>i << 2);
    a0 = f32x4.add(a0, v128.load(q));
    a1 = f32x4.add(a1, v128.load(q, 16));
    a2 = f32x4.add(a2, v128.load(q, 32));
    a3 = f32x4.add(a3, v128.load(q, 48));
  }
  for (; i + 4 <= n; i += 4) a0 = f32x4.add(a0, v128.load(p + (<usize>i << 2)));
  a0 = f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3));
  let s: f32 = f32x4.extract_lane(a0, 0) + f32x4.extract_lane(a0, 1) + f32x4.extract_lane(a0, 2) + f32x4.extract_lane(a0, 3);
  for (; i < n; i++) s += load<f32>(p + (<usize>i << 2));
  return s;
}

// dst[i] = src[i] for n floats with v128 loads and stores (not memory.copy: the floor is
// what an f32x4 kernel loop can do).
export function floor_copy(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const o = <usize>i << 2;
    const v0 = v128.load(src + o), v1 = v128.load(src + o, 16), v2 = v128.load(src + o, 32), v3 = v128.load(src + o, 48);
    v128.store(dst + o, v0);
    v128.store(dst + o, v1, 16);
    v128.store(dst + o, v2, 32);
    v128.store(dst + o, v3, 48);
  }
  for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), v128.load(src + (<usize>i << 2)));
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), load<f32>(src + (<usize>i << 2)));
}

// dst[i] = a[i] + b[i] for n floats: two read streams and one write stream, the traffic of
// the backward's second pass (a diagnostic floor, not one of the issue's).
export function floor_add(dst: usize, a: usize, b: usize, n: i32): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const o = <usize>i << 2;
    v128.store(dst + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
    v128.store(dst + o, f32x4.add(v128.load(a + o, 16), v128.load(b + o, 16)), 16);
  }
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), load<f32>(a + (<usize>i << 2)) + load<f32>(b + (<usize>i << 2)));
}
`;

export interface Floors {
  /** Sum of n floats at byte offset p (the read floor). */
  sum(p: number, n: number): number;
  /** Copies n floats from src to dst (the read + write floor). */
  copy(dst: number, src: number, n: number): void;
  /** dst = a + b over n floats (two reads + one write). */
  add(dst: number, a: number, b: number, n: number): void;
}

let compiled: Promise<WebAssembly.Module> | null = null;

/** Compiles the floor kernels once (about a second) and writes build/floors.wasm. */
export function compileFloors(): Promise<WebAssembly.Module> {
  compiled ??= (async () => {
    const asc = (await import("assemblyscript/asc")).default;
    const result = await asc.compileString(FLOORS_SOURCE, {
      optimizeLevel: 3,
      shrinkLevel: 0,
      runtime: "stub",
      importMemory: true,
      initialMemory: 1,
      noAssert: true,
      enable: ["simd"],
    });
    if (result.error || !result.binary) {
      throw new Error(`bench: compiling the floor kernels failed: ${result.error?.message ?? ""}\n${result.stderr.toString()}`);
    }
    const out = new URL("../build/floors.wasm", import.meta.url);
    await mkdir(new URL(".", out), { recursive: true });
    await writeFile(out, result.binary);
    return WebAssembly.compile(result.binary as Uint8Array<ArrayBuffer>);
  })();
  return compiled;
}

/** The floor kernels running over `memory` (the memory of the backend being measured). */
export async function floorsFor(memory: WebAssembly.Memory): Promise<Floors> {
  const module = await compileFloors();
  const instance = await WebAssembly.instantiate(module, {
    env: {
      memory,
      abort: () => {
        throw new Error("floors: abort");
      },
    },
  });
  const e = instance.exports as unknown as {
    floor_sum(p: number, n: number): number;
    floor_copy(d: number, s: number, n: number): void;
    floor_add(d: number, a: number, b: number, n: number): void;
  };
  return { sum: e.floor_sum, copy: e.floor_copy, add: e.floor_add };
}
