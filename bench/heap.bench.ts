// npm run bench -- heap [--quick] [--heap=FILE]
//
// The WebAssembly heap allocator (src/heap.ts) under tensor churn, on its own memory (no
// kernels): the blocks are small tensors of 1 to 1,024 floats, log-uniform.
//   - alloc 100k: 100,000 blocks allocated on an empty heap;
//   - release 100k, random order: those 100,000 blocks released in a shuffled order;
//   - churn: 10,000 live blocks, then 200,000 steps that each release a random live block
//     and allocate a new one (the fill is not timed).
// Median per whole phase (untimed set-up around it), by the wall clock and by the process's
// CPU time (the machine is shared). Then, from one untimed run of each, fragmentation as the highest byte
// any block reached over the peak of live bytes (1: no hole was ever left unused) for
//   - churn: the workload above;
//   - churn, drifting sizes: the size window slides from 1-16 to 500-8,000 floats;
//   - refill holes small first: 1,000 freed 4,096-byte blocks below 1,000 freed 2,064-byte
//     blocks, refilled by 1,000 requests of 2,064 bytes then 1,000 of 4,096 bytes
//     (test/heap.test.ts's best-fit case, where first fit leaves every 4 KiB hole split).
// Each workload is first checked (blocks 16-byte aligned and disjoint, bytesInUse exact,
// the heap back at its base once all is released); a heap that fails is refused (exit 2).
// --heap=FILE measures another module that exports WasmHeap, e.g. an earlier allocator:
//   git show <commit>:src/heap.ts > /tmp/heap_before.ts
//   npm run bench -- heap --heap=/tmp/heap_before.ts
// Writes bench/results/heap_churn.json (heap_churn.<file name>.json with --heap).
import { basename, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Rng } from "../src/index.js";
import { type Context, fmt, runSuite, table, type Task, timed, timeGroup } from "./harness/index.js";

const BLOCKS = 100_000;
const LIVE = 10_000;
const STEPS = 200_000;
const BASE = 1024;

/** What the workloads need of an allocator: src/heap.ts's WasmHeap, or --heap's. */
interface Heap {
  alloc(bytes: number): number;
  release(offset: number): void;
  readonly bytesInUse: number;
}
type HeapClass = new (memory: WebAssembly.Memory, base: number) => Heap;

const aligned = (bytes: number) => Math.max(16, Math.ceil(bytes / 16) * 16);
/** Bytes of a tensor of lo to hi floats (1 to 1,024 unless told), log-uniform. */
const tensorBytes = (r: Rng, lo = 1, hi = 1024) => 4 * Math.round(Math.exp(Math.log(lo) + r.uniform() * Math.log(hi / lo)));

/** Tracks the blocks handed out: highest byte reached, peak live bytes, and (when asked) every block, to check them. */
class Tracker {
  extent = 0;
  live = 0;
  peakLive = 0;
  readonly blocks = new Map<number, number>();

  constructor(readonly keep: boolean) {}

  alloc(heap: Heap, bytes: number): number {
    const p = heap.alloc(bytes);
    const size = aligned(bytes);
    this.live += size;
    if (this.live > this.peakLive) this.peakLive = this.live;
    if (p + size > this.extent) this.extent = p + size;
    if (this.keep) {
      if (p % 16 !== 0 || p < BASE || this.blocks.has(p)) throw new Error(`bench: block at ${p} is misaligned, below the base ${BASE} or handed out twice`);
      this.blocks.set(p, size);
      if (heap.bytesInUse !== this.live) throw new Error(`bench: bytesInUse ${heap.bytesInUse}, expected ${this.live}`);
    }
    return p;
  }

  release(heap: Heap, p: number, bytes: number): void {
    heap.release(p);
    this.live -= aligned(bytes);
    if (this.keep) this.blocks.delete(p);
  }

  checkDisjoint(): void {
    const sorted = [...this.blocks].sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i][0] < sorted[i - 1][0] + sorted[i - 1][1]) throw new Error(`bench: blocks at ${sorted[i - 1][0]} and ${sorted[i][0]} overlap`);
    }
  }

  /** Highest byte reached above the base, over the peak of live bytes. */
  get ratio(): number {
    return (this.extent - BASE) / this.peakLive;
  }
}

// ---------------------------------------------------------------- workloads

interface Live {
  ptrs: number[];
  bytes: number[];
}

function fill(heap: Heap, t: Tracker, r: Rng, n: number, size: (r: Rng) => number): Live {
  const live: Live = { ptrs: [], bytes: [] };
  for (let i = 0; i < n; i++) {
    const b = size(r);
    live.ptrs.push(t.alloc(heap, b));
    live.bytes.push(b);
  }
  return live;
}

function releaseAll(heap: Heap, t: Tracker, live: Live, r: Rng): void {
  const order = live.ptrs.map((_, i) => i);
  r.shuffle(order);
  for (const i of order) t.release(heap, live.ptrs[i], live.bytes[i]);
}

/** Each step releases a random live block and allocates one of size(step). */
function churn(heap: Heap, t: Tracker, r: Rng, live: Live, steps: number, size: (r: Rng, step: number) => number): void {
  for (let s = 0; s < steps; s++) {
    const i = r.int(live.ptrs.length);
    t.release(heap, live.ptrs[i], live.bytes[i]);
    const b = size(r, s);
    live.ptrs[i] = t.alloc(heap, b);
    live.bytes[i] = b;
  }
}

/** A size window that slides from 1-16 floats to 500-8,000 over the run. */
function drifting(r: Rng, step: number): number {
  const lo = 1 + Math.round((499 * step) / STEPS);
  return tensorBytes(r, lo, 16 * lo);
}

function refillSmallFirst(heap: Heap, t: Tracker): void {
  const holes: [number, number][] = [];
  for (const bytes of [4096, 2064]) {
    for (let i = 0; i < 1000; i++) {
      holes.push([t.alloc(heap, bytes), bytes]);
      t.alloc(heap, 16);
    }
  }
  for (const [p, b] of holes) t.release(heap, p, b);
  for (const bytes of [2064, 4096]) for (let i = 0; i < 1000; i++) t.alloc(heap, bytes);
}

/** Runs a workload on a fresh heap, checking every block; returns its fragmentation. A heap that fails is refused. */
function checkedRun(ctx: Context, HeapImpl: HeapClass, memory: WebAssembly.Memory, name: string, work: (heap: Heap, t: Tracker) => Live | null): number {
  try {
    const heap = new HeapImpl(memory, BASE);
    const t = new Tracker(true);
    const live = work(heap, t);
    t.checkDisjoint();
    const ratio = t.ratio;
    if (live) releaseAll(heap, t, live, new Rng(99));
    else for (const [p, size] of [...t.blocks]) t.release(heap, p, size);
    if (heap.bytesInUse !== 0) throw new Error(`${heap.bytesInUse} bytes in use after releasing everything`);
    const p = heap.alloc(16);
    if (p !== BASE) throw new Error(`after releasing everything the next block is at ${p}, not at the base ${BASE}`);
    return ratio;
  } catch (e) {
    ctx.check.refuse("the heap", name, (e as Error).message.replace(/^bench: /, ""));
  }
}

/** The timed phases; each builds its heap and live blocks untimed around the part it times. */
function phases(HeapImpl: HeapClass, memory: WebAssembly.Memory): Task[] {
  const size = (r: Rng) => tensorBytes(r);
  return [
    {
      name: `alloc ${BLOCKS / 1000}k`,
      phase: () => {
        const heap = new HeapImpl(memory, BASE), t = new Tracker(false), r = new Rng(1);
        const live: Live = { ptrs: [], bytes: [] };
        const s = timed(() => Object.assign(live, fill(heap, t, r, BLOCKS, size)));
        releaseAll(heap, t, live, r);
        return s;
      },
    },
    {
      name: `release ${BLOCKS / 1000}k, random order`,
      phase: () => {
        const heap = new HeapImpl(memory, BASE), t = new Tracker(false), r = new Rng(1);
        const live = fill(heap, t, r, BLOCKS, size);
        return timed(() => releaseAll(heap, t, live, r));
      },
    },
    {
      name: `churn ${STEPS / 1000}k steps, ${LIVE / 1000}k live`,
      phase: () => {
        const heap = new HeapImpl(memory, BASE), t = new Tracker(false), r = new Rng(2);
        const live = fill(heap, t, r, LIVE, size);
        const s = timed(() => churn(heap, t, r, live, STEPS, size));
        releaseAll(heap, t, live, r);
        return s;
      },
    },
  ];
}

await runSuite({
  name: "heap",
  title: "heap churn bench",
  results: (ctx) => `heap_churn${ctx.arg("heap") ? `.${basename(ctx.arg("heap")!).replace(/\.[cm]?[jt]s$/, "")}` : ""}`,
  reference: "the allocator's contract (aligned, disjoint blocks; exact bytesInUse; empty after releasing all)",
  fix: "npx vitest run test/heap.test.ts",
  flags: { heap: "a module exporting WasmHeap to measure instead of src/heap.ts" },
  async run(ctx) {
    const file = ctx.arg("heap") ? resolve(ctx.arg("heap")!) : fileURLToPath(new URL("../src/heap.ts", import.meta.url));
    const { WasmHeap } = (await import(pathToFileURL(file).href)) as { WasmHeap: HeapClass };
    ctx.log(`heap: ${file}`);
    const memory = new WebAssembly.Memory({ initial: 1 });
    const fragmentation = {
      churn: checkedRun(ctx, WasmHeap, memory, "churn", (heap, t) => {
        const r = new Rng(2);
        const live = fill(heap, t, r, LIVE, (q) => tensorBytes(q));
        churn(heap, t, r, live, STEPS, (q) => tensorBytes(q));
        return live;
      }),
      "churn, drifting sizes": checkedRun(ctx, WasmHeap, memory, "churn, drifting sizes", (heap, t) => {
        const r = new Rng(3);
        const live = fill(heap, t, r, LIVE, (q) => drifting(q, 0));
        churn(heap, t, r, live, STEPS, drifting);
        return live;
      }),
      "refill holes small first": checkedRun(ctx, WasmHeap, memory, "refill holes small first", (heap, t) => {
        refillSmallFirst(heap, t);
        return null;
      }),
    };
    checkedRun(ctx, WasmHeap, memory, "alloc then release in random order", (heap, t) => fill(heap, t, new Rng(1), BLOCKS, (q) => tensorBytes(q)));

    const budget = { time: 0, iterations: ctx.quick ? 2 : 5, warmupTime: 0, warmupIterations: 1 };
    const t = await timeGroup(phases(WasmHeap, memory), { budget });
    const timings = [...t].map(([task, v]) => ({ task, ...v }));
    ctx.log();
    ctx.log(table(["workload", "wall ms", "cpu ms", "samples"], timings.map((v) => [v.task, fmt(v.ms, 1), fmt(v.cpuMs, 1), String(v.samples)])));
    ctx.log();
    ctx.log(table(["fragmentation", "highest byte reached / peak live bytes"], Object.entries(fragmentation).map(([k, v]) => [k, fmt(v)])));
    return { heap: file, workload: { blocks: BLOCKS, live: LIVE, steps: STEPS, floats: "1 to 1,024, log-uniform" }, timings, fragmentation };
  },
});
