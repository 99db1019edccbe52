// The WebAssembly heap allocator (src/heap.ts) on its own memory, no kernel module: blocks
// checked against a model of the live set, neighbours merged, best fit on a workload where
// first fit needs 1.66x the live size, 100,000 blocks released in random order (how fast is
// measured by bench/heap.bench.ts, not here), and out-of-memory errors that leave the
// heap as it was.
import { describe, expect, it, vi } from "vitest";
import { WasmHeap } from "../src/heap.js";
import { Rng } from "../src/random.js";

const PAGE = 65536;
const aligned = (bytes: number) => Math.max(16, Math.ceil(bytes / 16) * 16);

function newHeap(base: number, maximumPages = 1024): { heap: WasmHeap; memory: WebAssembly.Memory } {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: maximumPages });
  return { heap: new WasmHeap(memory, base), memory };
}

/** Live blocks as the test sees them; each block's bytes hold its id, checked on release. */
class Model {
  readonly live = new Map<number, { bytes: number; id: number }>();
  private nextId = 1;
  liveBytes = 0;
  extent = 0;
  peakLive = 0;

  constructor(readonly heap: WasmHeap, readonly base: number) {}

  alloc(bytes: number): number {
    const p = this.heap.alloc(bytes);
    expect(p % 16, `block at ${p} is not 16-byte aligned`).toBe(0);
    expect(p).toBeGreaterThanOrEqual(this.base);
    expect(p + aligned(bytes)).toBeLessThanOrEqual(this.heap.memory.buffer.byteLength);
    expect(this.live.has(p), `block at ${p} handed out twice`).toBe(false);
    const id = this.nextId++;
    this.live.set(p, { bytes, id });
    new Int32Array(this.heap.memory.buffer, p, aligned(bytes) / 4).fill(id);
    this.liveBytes += aligned(bytes);
    this.extent = Math.max(this.extent, p + aligned(bytes));
    this.peakLive = Math.max(this.peakLive, this.liveBytes);
    return p;
  }

  release(p: number): void {
    const block = this.live.get(p)!;
    const words = new Int32Array(this.heap.memory.buffer, p, aligned(block.bytes) / 4);
    // Another block written over this one means the two overlapped.
    expect(words.every((w) => w === block.id), `block at ${p} (${block.bytes} bytes) was overwritten`).toBe(true);
    this.heap.release(p);
    this.live.delete(p);
    this.liveBytes -= aligned(block.bytes);
  }

  expectNoOverlap(): void {
    const blocks = [...this.live].map(([p, b]) => [p, p + aligned(b.bytes)]).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < blocks.length; i++) expect(blocks[i][0], "live blocks overlap").toBeGreaterThanOrEqual(blocks[i - 1][1]);
  }
}

function randomPop<T>(r: Rng, items: T[]): T {
  const i = r.int(items.length);
  const x = items[i];
  items[i] = items[items.length - 1];
  items.pop();
  return x;
}

describe("WasmHeap", () => {
  it("random alloc/release churn agrees with a model of the live blocks, and all freed returns the top to its base", () => {
    const base = 1000; // unaligned on purpose: the first block sits at 1008
    const { heap, memory } = newHeap(base);
    const model = new Model(heap, 1008);
    const r = new Rng(7);
    const ptrs: number[] = [];
    for (let step = 0; step < 6000; step++) {
      if (ptrs.length > 0 && r.uniform() < 0.48) model.release(randomPop(r, ptrs));
      else ptrs.push(model.alloc(r.uniform() < 0.05 ? r.int(70_000) : r.int(400)));
      expect(heap.bytesInUse).toBe(model.liveBytes);
      if (step % 500 === 0) model.expectNoOverlap();
    }
    model.expectNoOverlap();
    while (ptrs.length > 0) model.release(randomPop(r, ptrs));
    expect(heap.bytesInUse).toBe(0);
    const bytes = memory.buffer.byteLength;
    expect(heap.alloc(1)).toBe(1008);
    expect(memory.buffer.byteLength).toBe(bytes);
  });

  it("100,000 blocks released in random order leave an empty heap (the time this takes is in bench/heap.bench.ts)", () => {
    const { heap } = newHeap(0, 4096);
    const r = new Rng(3);
    const ptrs: number[] = [];
    let expected = 0;
    for (let i = 0; i < 100_000; i++) {
      const bytes = 4 * (1 + r.int(256));
      expected += aligned(bytes);
      ptrs.push(heap.alloc(bytes));
    }
    expect(heap.bytesInUse).toBe(expected);
    r.shuffle(ptrs);
    for (const p of ptrs) heap.release(p);
    expect(heap.bytesInUse).toBe(0);
    expect(heap.alloc(16)).toBe(0);
  });

  it("three adjacent blocks freed in any order merge into one block that their total size fits", () => {
    const sizes = [48, 160, 1024];
    for (const order of [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]]) {
      const { heap, memory } = newHeap(64);
      const blocks = sizes.map((s) => heap.alloc(s));
      expect(blocks[1]).toBe(blocks[0] + sizes[0]);
      expect(blocks[2]).toBe(blocks[1] + sizes[1]);
      const guard = heap.alloc(16); // keeps the three below the top, so only merging can reunite them
      const bytes = memory.buffer.byteLength;
      for (const i of order) heap.release(blocks[i]);
      expect(heap.alloc(48 + 160 + 1024), `order ${order}`).toBe(blocks[0]);
      expect(memory.buffer.byteLength).toBe(bytes);
      expect(heap.alloc(16), "nothing was left between the merged block and the guard").toBe(guard + 16);
    }
  });

  it("puts each request in the hole that fits it best: refilling 4 KiB and 2 KiB holes does not grow the heap (first fit: 1.66x)", () => {
    // 1,000 blocks of 4096 bytes, then 1,000 of 2064 bytes, each followed by a 16-byte block
    // that stays; the big ones are freed, then 1,000 of 2064 bytes and 1,000 of 4096 bytes
    // are asked for again. First fit puts each 2064-byte request into the lowest 4 KiB hole
    // (leaving 2032 bytes that fit nothing), so every 4 KiB request goes on top: 1.66 times
    // the live size. Best fit reuses every hole exactly.
    const { heap } = newHeap(0, 4096);
    const model = new Model(heap, 0);
    const holes: number[] = [];
    for (const bytes of [4096, 2064]) {
      for (let i = 0; i < 1000; i++) {
        holes.push(model.alloc(bytes));
        model.alloc(16);
      }
    }
    const extent = model.extent;
    for (const p of holes) model.release(p);
    for (const bytes of [2064, 4096]) for (let i = 0; i < 1000; i++) model.alloc(bytes);
    model.expectNoOverlap();
    expect(model.extent / model.peakLive).toBe(1);
    expect(model.extent).toBe(extent);
  });

  it("release of an offset that is not a live block throws and changes nothing", () => {
    const { heap } = newHeap(0);
    const a = heap.alloc(100);
    const b = heap.alloc(100);
    const inUse = heap.bytesInUse;
    expect(() => heap.release(a + 16)).toThrow(/release: expected the offset of a live block, got 16 \(never allocated, or already released\)/);
    expect(() => heap.release(4096)).toThrow(/got 4096/);
    expect(heap.bytesInUse).toBe(inUse);
    heap.release(a);
    expect(() => heap.release(a)).toThrow(/got 0 \(never allocated, or already released\)/);
    expect(heap.bytesInUse).toBe(inUse - 112);
    expect(heap.alloc(112)).toBe(a);
    heap.release(a);
    heap.release(b);
    expect(heap.bytesInUse).toBe(0);
    expect(heap.alloc(16)).toBe(0);
  });

  describe("out of memory", () => {
    it("says what was asked for, what is in use and how big memory is; the heap is unchanged and keeps working", () => {
      const { heap, memory } = newHeap(0, 16);
      const a = heap.alloc(10 * PAGE);
      const bytes = memory.buffer.byteLength;
      let error: unknown;
      try {
        heap.alloc(10 * PAGE);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(RangeError);
      const message = (error as Error).message;
      expect(message).toContain(`asked for ${10 * PAGE} bytes with ${10 * PAGE} bytes in use and WebAssembly memory at ${bytes} bytes (${bytes / PAGE} pages)`);
      expect(message).toMatch(/memory\.grow\(\d+\) failed: .*Maximum memory size exceeded/);
      expect(message).toContain("dispose() the tensors you no longer need");
      expect((error as Error).cause).toBeInstanceOf(RangeError); // the engine's own error
      expect(memory.buffer.byteLength).toBe(bytes);
      expect(heap.bytesInUse).toBe(10 * PAGE);
      // The failed request took nothing: the next block starts where the failed one would have.
      const b = heap.alloc(100);
      expect(b).toBe(a + 10 * PAGE);
      heap.release(b);
      heap.release(a);
      expect(heap.bytesInUse).toBe(0);
      expect(heap.alloc(10 * PAGE)).toBe(0);
    });

    it("fills memory up to its maximum when growing by a quarter more would exceed it", () => {
      const { heap, memory } = newHeap(0, 16);
      heap.alloc(14 * PAGE);
      heap.alloc(2 * PAGE);
      expect(memory.buffer.byteLength).toBe(16 * PAGE);
      expect(() => heap.alloc(16)).toThrow(/asked for 16 bytes with 1048576 bytes in use and WebAssembly memory at 1048576 bytes \(16 pages\)/);
    });

    it("rejects a request beyond wasm32's 4 GiB before trying to grow memory", () => {
      const { heap, memory } = newHeap(0, 16);
      heap.alloc(100);
      const grow = vi.spyOn(memory, "grow");
      expect(() => heap.alloc(5 * 2 ** 30)).toThrow(RangeError);
      expect(() => heap.alloc(5 * 2 ** 30)).toThrow(/asked for 5368709120 bytes with 112 bytes in use and WebAssembly memory at 65536 bytes \(1 page\); a wasm32 memory addresses at most 4 GiB/);
      expect(() => heap.alloc(2 ** 32 - 16)).toThrow(/asked for 4294967280 bytes .*the block would end at byte 4294967392, past the 4 GiB/);
      expect(grow).not.toHaveBeenCalled();
      expect(heap.bytesInUse).toBe(112);
      expect(heap.alloc(16)).toBe(112);
    });
  });
});
