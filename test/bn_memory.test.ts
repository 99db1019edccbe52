// The memory model: after the first step a training loop on fixed shapes allocates nothing,
// so wasm memory neither grows nor is re-laid; views follow memory growth.
import { beforeAll, describe, expect, it } from "vitest";
import { backendInfo, getBackend, init } from "../src/backend.js";
import { BatchNorm1d, BatchNorm2d } from "../src/layers/batchnorm.js";
import { tensor } from "../src/tensor.js";
import { rng } from "./check.js";

beforeAll(async () => {
  await init({ initialMemoryBytes: 1 << 20 });
});

describe("memory", () => {
  it("10,000 forward+backward steps leave wasm memory and the heap unchanged after the first step", () => {
    const r = rng(5);
    const cases = [
      { bn: new BatchNorm2d(16), shape: [8, 16, 6, 6] },
      { bn: new BatchNorm2d(16, { dataFormat: "channelsLast" }), shape: [8, 6, 6, 16] },
      { bn: new BatchNorm1d(100), shape: [60, 100] },
    ];
    const data = cases.map((c) => {
      const n = c.shape.reduce((a, b) => a * b, 1);
      return { x: tensor(r.array(n), c.shape), dy: tensor(r.array(n), c.shape) };
    });
    const step = (i: number) => {
      cases.forEach((c, j) => {
        c.bn.forward(data[j].x);
        c.bn.backward(data[j].dy);
        // Now and then an eval pass, as a validation loop would do.
        if (i % 1000 === 0) c.bn.eval().forward(data[j].x) && c.bn.train();
      });
    };
    step(0);
    const memory = getBackend().heap.memory;
    const bytes = memory.buffer.byteLength;
    const buffer = memory.buffer;
    const inUse = backendInfo().heapBytesInUse;
    for (let i = 1; i < 10_000; i++) step(i);
    expect(memory.buffer.byteLength).toBe(bytes);
    expect(memory.buffer).toBe(buffer);
    expect(backendInfo().heapBytesInUse).toBe(inUse);
    expect(cases[0].bn.numBatchesTracked).toBe(10_000);
  });

  it("tensors stay correct across memory growth (views are re-created)", () => {
    const a = tensor([1, 2, 3, 4], [2, 2]);
    const old = a.data;
    const big = tensor(new Float32Array(4 << 20), [4 << 20]);
    expect(old.byteLength).toBe(0); // the old view was detached by memory.grow
    expect(Array.from(a.data)).toEqual([1, 2, 3, 4]);
    big.dispose();
    a.dispose();
  });

  it("freed blocks are reused: alloc/free cycles do not grow the heap", () => {
    const start = backendInfo().heapBytesInUse;
    const bytes = getBackend().heap.memory.buffer.byteLength;
    for (let i = 0; i < 1000; i++) {
      const ts = [tensor(new Float32Array(1000), [1000]), tensor(new Float32Array(37), [37]), tensor(new Float32Array(5000), [5000])];
      ts[1].dispose();
      ts[0].dispose();
      ts[2].dispose();
    }
    expect(backendInfo().heapBytesInUse).toBe(start);
    expect(getBackend().heap.memory.buffer.byteLength).toBe(bytes);
  });
});
