// The allocator for WebAssembly linear memory. The kernels never allocate; TypeScript owns
// every byte above the module's static data. Blocks are 16-byte aligned so that f32x4 loads
// never straddle a block's start.
//
// Two-level segregated fit (TLSF: Masmano, Ripoll, Crespo, Real, "TLSF: a New Dynamic Memory
// Allocator for Real-Time Systems", ECRTS 2004). Free blocks sit in size classes, 16 per
// power of two (one class per size below 256 bytes), each a doubly linked list; a bitmap of
// the non-empty classes finds the smallest class whose blocks all hold a request, so alloc
// and release take O(1) time whatever the number of blocks (findFit says why it also looks
// at a few blocks of the request's own class). Neighbours are found through two maps of the
// free blocks, by start and by end offset (boundary tags kept here rather than in wasm
// memory, so every byte of a block belongs to its tensor), and merged on release. The space
// above the highest live block is not a free block but the top: it grows with memory.grow
// and comes back down when the block under it is freed, so a heap whose blocks are all
// released is back at its base.

const PAGE = 65536;
const ALIGN = 16;
/** wasm32 addresses 65536 pages: 4 GiB. */
const MAX_BYTES = 65536 * PAGE;
/** log2 of the number of size classes per power of two. */
const SUB_LOG2 = 4;
const SUB = 1 << SUB_LOG2;
/** Sizes are counted in 16-byte granules, fewer than 2^28 of them: class indices stay below this. */
const CLASSES = (28 - SUB_LOG2) * SUB + SUB;
/** Blocks of a request's own size class looked at before a larger class is split. */
const OWN_CLASS_LOOKS = 8;

interface FreeBlock {
  offset: number;
  bytes: number;
  sizeClass: number;
  prev: FreeBlock | null;
  next: FreeBlock | null;
}

export class WasmHeap {
  readonly memory: WebAssembly.Memory;
  private readonly base: number;
  private top: number;
  /** Live blocks: offset -> bytes. */
  private readonly sizes = new Map<number, number>();
  private readonly freeByStart = new Map<number, FreeBlock>();
  private readonly freeByEnd = new Map<number, FreeBlock>();
  /** The first free block of each size class. */
  private readonly classHeads: (FreeBlock | null)[] = new Array(CLASSES).fill(null);
  /** Bit c set: size class c has a free block. */
  private readonly nonEmpty = new Uint32Array(Math.ceil(CLASSES / 32));
  private viewF32: Float32Array;
  private viewI32: Int32Array;
  private inUse = 0;

  constructor(memory: WebAssembly.Memory, base: number) {
    this.memory = memory;
    this.base = alignUp(base);
    this.top = this.base;
    this.viewF32 = new Float32Array(memory.buffer);
    this.viewI32 = new Int32Array(memory.buffer);
  }

  /** Bytes currently handed out (not counting free holes). */
  get bytesInUse(): number {
    return this.inUse;
  }

  /** A Float32Array over all of memory, re-created if memory has grown since the last call. */
  get f32(): Float32Array {
    if (this.viewF32.buffer !== this.memory.buffer) this.viewF32 = new Float32Array(this.memory.buffer);
    return this.viewF32;
  }

  /** An Int32Array over all of memory (int32 labels), re-created like f32. */
  get i32(): Int32Array {
    if (this.viewI32.buffer !== this.memory.buffer) this.viewI32 = new Int32Array(this.memory.buffer);
    return this.viewI32;
  }

  /**
   * A 16-byte aligned block of at least `bytes` bytes (at least 16). Throws a RangeError, and
   * changes nothing, when memory cannot grow enough.
   */
  alloc(bytes: number): number {
    if (!Number.isInteger(bytes) || bytes < 0) throw new RangeError(`alloc: expected a non-negative integer byte count, got ${bytes}`);
    if (bytes > MAX_BYTES) throw this.outOfMemory(bytes, `a wasm32 memory addresses at most 4 GiB (${MAX_BYTES} bytes)`);
    const size = Math.max(ALIGN, alignUp(bytes));
    const block = this.findFit(size);
    if (block) {
      this.unlinkFree(block);
      if (block.bytes > size) this.linkFree(block.offset + size, block.bytes - size);
      return this.hand(block.offset, size);
    }
    const offset = this.top;
    const need = offset + size;
    if (need > MAX_BYTES) {
      throw this.outOfMemory(bytes, `the block would end at byte ${need}, past the 4 GiB (${MAX_BYTES} bytes) a wasm32 memory addresses`);
    }
    const have = this.memory.buffer.byteLength;
    if (need > have) {
      const pages = Math.ceil((need - have) / PAGE);
      try {
        // Grow by at least a quarter of the current size so that a growing workload
        // grows memory O(log n) times, not once per allocation.
        this.memory.grow(Math.max(pages, Math.ceil(have / PAGE / 4)));
      } catch {
        try {
          this.memory.grow(pages);
        } catch (e) {
          throw this.outOfMemory(bytes, `memory.grow(${pages}) failed: ${e instanceof Error ? e.message : String(e)}`, e);
        }
      }
    }
    this.top = need;
    return this.hand(offset, size);
  }

  /** Returns a block from alloc to the heap, merged with the free blocks on either side. */
  release(offset: number): void {
    const size = this.sizes.get(offset);
    if (size === undefined) {
      throw new Error(`release: expected the offset of a live block, got ${offset} (never allocated, or already released)`);
    }
    this.sizes.delete(offset);
    this.inUse -= size;
    let start = offset, end = offset + size;
    const below = this.freeByEnd.get(start);
    if (below) {
      this.unlinkFree(below);
      start = below.offset;
    }
    const above = this.freeByStart.get(end);
    if (above) {
      this.unlinkFree(above);
      end = above.offset + above.bytes;
    }
    // No free block ends at the top (it would have been merged into it): a block that
    // reaches the top lowers it instead of joining the free lists.
    if (end === this.top) this.top = start;
    else this.linkFree(start, end - start);
  }

  /**
   * A free block of at least `size` bytes, or null. TLSF takes the first block of the smallest
   * class whose every block is large enough. That alone passes over the blocks of the
   * request's own class that would fit, and splits a larger one instead: in
   * bench/heap.bench.ts the heap then reaches 1.09x the peak live bytes on random churn
   * (1.06x with the look below) and 1.66x when holes of exactly the requested sizes are
   * refilled (1.00x). So the first few blocks of the own class are looked at first; a bounded
   * number, so alloc stays O(1).
   */
  private findFit(size: number): FreeBlock | null {
    const granules = size / ALIGN;
    if (granules >= 1 << 28) return null;
    let c = sizeClassOf(granules);
    if (smallestOfClass(c) < granules) {
      let best: FreeBlock | null = null;
      for (let b = this.classHeads[c], seen = 0; b && seen < OWN_CLASS_LOOKS; b = b.next, seen++) {
        if (b.bytes >= size && (!best || b.bytes < best.bytes)) best = b;
      }
      if (best) return best;
      c++;
    }
    for (let word = c >>> 5; word < this.nonEmpty.length; word++) {
      const bits = word === c >>> 5 ? this.nonEmpty[word] & (~0 << (c & 31)) : this.nonEmpty[word];
      if (bits !== 0) return this.classHeads[word * 32 + (31 - Math.clz32(bits & -bits))];
    }
    return null;
  }

  private linkFree(offset: number, bytes: number): void {
    const sizeClass = sizeClassOf(bytes / ALIGN);
    const head = this.classHeads[sizeClass];
    const block: FreeBlock = { offset, bytes, sizeClass, prev: null, next: head };
    if (head) head.prev = block;
    this.classHeads[sizeClass] = block;
    this.nonEmpty[sizeClass >>> 5] |= 1 << (sizeClass & 31);
    this.freeByStart.set(offset, block);
    this.freeByEnd.set(offset + bytes, block);
  }

  private unlinkFree(block: FreeBlock): void {
    if (block.prev) block.prev.next = block.next;
    else this.classHeads[block.sizeClass] = block.next;
    if (block.next) block.next.prev = block.prev;
    if (this.classHeads[block.sizeClass] === null) this.nonEmpty[block.sizeClass >>> 5] &= ~(1 << (block.sizeClass & 31));
    this.freeByStart.delete(block.offset);
    this.freeByEnd.delete(block.offset + block.bytes);
  }

  private hand(offset: number, size: number): number {
    this.sizes.set(offset, size);
    this.inUse += size;
    return offset;
  }

  private outOfMemory(bytes: number, why: string, cause?: unknown): RangeError {
    const have = this.memory.buffer.byteLength;
    const pages = have / PAGE;
    return new RangeError(
      `batchnorm-wasm: out of memory: asked for ${bytes} bytes with ${this.inUse} bytes in use and WebAssembly memory ` +
        `at ${have} bytes (${pages} page${pages === 1 ? "" : "s"}); ${why}. ` +
        "dispose() the tensors you no longer need (or use smaller batches) and try again",
      { cause },
    );
  }
}

/**
 * Size class of a block of `granules` 16-byte granules: the granule count itself below 16,
 * above that 16 classes per power of two, numbered in increasing order of size.
 */
function sizeClassOf(granules: number): number {
  const shift = Math.max(0, 31 - Math.clz32(granules) - SUB_LOG2);
  return shift * SUB + (granules >>> shift);
}

/** The fewest granules a block of class c holds (sizeClassOf's inverse at the class's start). */
function smallestOfClass(c: number): number {
  const shift = Math.max(0, (c >>> SUB_LOG2) - 1);
  return (c - shift * SUB) << shift;
}

function alignUp(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}
