// Seeded pseudo-random numbers for weight init, dropout masks and data shuffling.
// uniform: mulberry32 (Tommy Ettinger's 32-bit generator; test/check.ts's rng(seed) draws
// from it too), 2^-32 resolution in [0, 1). normal: Box-Muller, both values of each pair used.
// Not cryptographic; the point is that one seed gives one run, on every engine.

/** Anything indexable and writable: number[], Int32Array, Float32Array, ... */
export interface MutableArrayLike<T> {
  readonly length: number;
  [index: number]: T;
}

export class Rng {
  private s: number;
  private spare = 0;
  private hasSpare = false;

  /** The seed is taken modulo 2^32 (an integer; fractions are dropped). */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new Error(`batchnorm-wasm: Rng seed must be a finite number, got ${seed}`);
    this.s = Math.trunc(seed) >>> 0;
  }

  /** Puts this generator where `other` is (both then draw the same sequence). */
  copyFrom(other: Rng): void {
    this.s = other.s;
    this.spare = other.spare;
    this.hasSpare = other.hasSpare;
  }

  /**
   * The generator's position (uint32), to save and set back: the draws after `b.state =
   * a.state` repeat a's. Setting it drops normal()'s pending second value.
   */
  get state(): number {
    return this.s;
  }

  set state(v: number) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`batchnorm-wasm: Rng state must be an integer in [0, 2^32), got ${v}`);
    this.s = v;
    this.hasSpare = false;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Standard normal (mean 0, variance 1). */
  normal(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare;
    }
    const u = 1 - this.uniform(); // (0, 1]: log(u) is finite
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    const a = 2 * Math.PI * v;
    this.spare = r * Math.sin(a);
    this.hasSpare = true;
    return r * Math.cos(a);
  }

  /** Uniform integer in [0, n), for an integer 1 <= n <= 2^32. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 4294967296) {
      throw new Error(`batchnorm-wasm: Rng.int(n) needs an integer n in [1, 2^32], got ${n}`);
    }
    return Math.floor(this.uniform() * n);
  }

  /** Shuffles in place (Fisher-Yates): every permutation equally likely. */
  shuffle<T>(a: MutableArrayLike<T>): void {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    this.shuffle(p);
    return p;
  }
}

let seedCounter = 0x5eed;

/**
 * Seeds the layers created afterwards without an explicit `seed` (Dense initialisation,
 * Dropout masks), like torch.manual_seed: the same calls after manualSeed(s) give the same
 * model. Without it, a process starts from a fixed seed, so runs repeat anyway.
 */
export function manualSeed(seed: number): void {
  if (!Number.isInteger(seed)) throw new Error(`manualSeed: seed must be an integer, got ${seed}`);
  seedCounter = seed >>> 0;
}

/** The seed of the next layer created without one (each call moves on, so layers differ). */
export function nextSeed(): number {
  const s = seedCounter;
  seedCounter = (seedCounter + 0x9e3779b9) >>> 0;
  return s;
}
