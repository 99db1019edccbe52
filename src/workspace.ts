// Transient tensors shared by the layers of memory-lean containers: gradients passed from
// one layer to the next, inputs recomputed for backward, max-pooling indices. A layer
// that owned such buffers would hold each for the model's whole life; here they are taken
// for one use and given back, so memory holds only the ones alive at the same time.
//
// Training repeats the same requests step after step. The requests between two moments when
// none is taken form a segment (a forward, a backward). The first time a segment runs, each
// request is a heap block of its own, freed on release, and the segment's requests are
// recorded with their lifetimes; at its end they are laid out in one arena, by planLayout
// (offsets such that requests alive at the same time never overlap). The next time the same
// sequence of sizes comes, each request is a view of the arena at its planned offset: no
// allocation, and no holes left in the heap by blocks of changing sizes, which at the edge
// of a 4 GiB memory decide whether a batch fits. A segment that does not follow any known
// layout falls back to heap blocks and adds its own layout; the arena grows to the largest.
import type { Backend } from "./backend.js";
import { contiguousStrides, Tensor } from "./tensor.js";
import type { Shape } from "./shape.js";
import { sizeOf } from "./shape.js";

/** A request of a segment: its size, and the indices of the events that took and gave it back. */
export interface Interval {
  bytes: number;
  start: number;
  end: number;
}

/** Offsets (bytes, 16-aligned) for a segment's requests, and the bytes they span. */
export interface Layout {
  sizes: number[];
  offsets: number[];
  bytes: number;
}

const ALIGN = 16;
/** Layouts kept (a training step's forward and backward, an evaluation's, a smaller last batch's...). */
const MAX_LAYOUTS = 8;

/**
 * Offsets for requests whose lifetimes are known: one at a time, each at the lowest offset
 * where it overlaps no request already placed that is alive at the same time (greedy
 * interval packing). The order matters; a few are tried (largest first, longest-lived
 * first, earliest first) and the one with the smallest span kept: never below the peak of
 * live bytes, and on inceptionCifar's forward and backward equal to it.
 */
export function planLayout(requests: readonly Interval[]): Layout {
  const idx = requests.map((_, i) => i);
  const life = (i: number) => requests[i].end - requests[i].start;
  const orders = [
    [...idx].sort((a, b) => requests[b].bytes - requests[a].bytes || requests[a].start - requests[b].start),
    [...idx].sort((a, b) => life(b) - life(a) || requests[b].bytes - requests[a].bytes),
    [...idx].sort((a, b) => requests[b].bytes * life(b) - requests[a].bytes * life(a)),
    idx,
  ];
  let best: Layout | null = null;
  for (const order of orders) {
    const l = packInOrder(requests, order);
    if (!best || l.bytes < best.bytes) best = l;
  }
  return best!;
}

function packInOrder(requests: readonly Interval[], order: readonly number[]): Layout {
  const offsets = new Array<number>(requests.length).fill(0);
  const placed: number[] = [];
  let span = 0;
  for (const i of order) {
    const r = requests[i];
    const size = align(r.bytes);
    const busy = placed
      .filter((j) => requests[j].start < r.end && r.start < requests[j].end)
      .map((j) => [offsets[j], offsets[j] + align(requests[j].bytes)] as const)
      .sort((a, b) => a[0] - b[0]);
    let at = 0;
    for (const [lo, hi] of busy) {
      if (lo >= at + size) break;
      at = Math.max(at, hi);
    }
    offsets[i] = at;
    placed.push(i);
    span = Math.max(span, at + size);
  }
  return { sizes: requests.map((r) => r.bytes), offsets, bytes: span };
}

function align(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

interface Taken {
  /** Index of the request in its segment. */
  index: number;
  /** Its own heap block, or null for a view of the arena. */
  block: Tensor | null;
  offset: number;
  bytes: number;
}

export class Workspace {
  private readonly backend: Backend;
  private readonly taken = new Map<Tensor, Taken>();
  /** The current segment's requests, and the event counter that dates them. */
  private segment: Interval[] = [];
  private clock = 0;
  private missed = false;
  /** Layouts that the current segment has followed so far. */
  private candidates: Layout[] = [];
  private layouts: Layout[] = [];
  private arena: Tensor | null = null;

  constructor(backend: Backend) {
    this.backend = backend;
  }

  /** A contiguous float32 (or int32-sized) tensor of `shape`, to give back with release(). Its values are undefined. */
  acquire(shape: Shape): Tensor {
    const bytes = sizeOf(shape) * 4;
    if (this.taken.size === 0) this.beginSegment();
    const index = this.segment.length;
    this.segment.push({ bytes, start: this.clock++, end: -1 });
    this.candidates = this.candidates.filter((l) => l.sizes[index] === bytes);
    // A segment that starts like no layout takes heap blocks, which may then use the arena's
    // memory (the arena comes back, large enough for every layout, at the segment's end).
    if (index === 0 && this.candidates.length === 0) this.dropArena();
    const offset = this.candidates.length > 0 ? this.candidates[0].offsets[index] : -1;
    let t: Tensor;
    if (offset >= 0 && this.arena && offset + bytes <= this.arena.size * 4 && this.isFree(offset, bytes)) {
      t = new Tensor(this.backend, shape, "Workspace", this.arena, { ptr: this.arena.ptr + offset, strides: contiguousStrides(shape) });
      this.taken.set(t, { index, block: null, offset, bytes });
    } else {
      this.missed = true;
      const block = new Tensor(this.backend, [Math.max(1, bytes / 4)], "Workspace");
      t = new Tensor(this.backend, shape, "Workspace", block, { ptr: block.ptr, strides: contiguousStrides(shape) });
      this.taken.set(t, { index, block, offset: -1, bytes });
    }
    return t;
  }

  /** Gives back a tensor from acquire(); its memory may be handed out again at once. */
  release(t: Tensor): void {
    const e = this.taken.get(t);
    if (!e) throw new Error("Workspace.release: expected a tensor acquired from this workspace and not yet released");
    this.taken.delete(t);
    e.block?.release();
    this.segment[e.index].end = this.clock++;
    if (this.taken.size === 0) this.endSegment();
  }

  /** Bytes the workspace holds: its arena and the blocks taken outside it. */
  get bytes(): number {
    let n = this.arena ? this.arena.size * 4 : 0;
    for (const e of this.taken.values()) if (e.block) n += e.block.size * 4;
    return n;
  }

  /** Returns the arena to the heap and forgets the layouts; only between segments (nothing taken). */
  trim(): void {
    if (this.taken.size > 0) throw new Error(`Workspace.trim: ${this.taken.size} tensor(s) still taken; release them first`);
    this.layouts = [];
    this.dropArena();
  }

  private beginSegment(): void {
    this.segment = [];
    this.clock = 0;
    this.missed = false;
    this.candidates = this.layouts;
  }

  private endSegment(): void {
    if (!this.missed) return;
    const layout = planLayout(this.segment);
    this.layouts = [layout, ...this.layouts.filter((l) => !sameSizes(l.sizes, layout.sizes))].slice(0, MAX_LAYOUTS);
    const need = Math.max(...this.layouts.map((l) => l.bytes));
    if (this.arena && this.arena.size * 4 >= need) return;
    this.dropArena();
    try {
      this.arena = new Tensor(this.backend, [Math.max(1, need / 4)], "Workspace");
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      // No room for the arena: requests keep taking heap blocks of their own.
      this.layouts = [];
    }
  }

  private dropArena(): void {
    this.arena?.release();
    this.arena = null;
  }

  /** Whether [offset, offset + bytes) of the arena is not part of a tensor still taken. */
  private isFree(offset: number, bytes: number): boolean {
    for (const e of this.taken.values()) if (!e.block && e.offset < offset + bytes && offset < e.offset + e.bytes) return false;
    return true;
  }
}

function sameSizes(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

const workspaces = new WeakMap<Backend, Workspace>();

/** The backend's workspace (one per backend, made on first use). */
export function workspaceOf(backend: Backend): Workspace {
  let w = workspaces.get(backend);
  if (!w) {
    w = new Workspace(backend);
    workspaces.set(backend, w);
  }
  return w;
}
