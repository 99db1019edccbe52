// The allocator for WebAssembly linear memory. The kernels never allocate; TypeScript owns
// every byte above the module's static data. First-fit over a free list kept sorted by
// offset, neighbours coalesced on release, the top of the heap grown with memory.grow.
// Blocks are 16-byte aligned so that f32x4 loads never straddle a block's start.

const PAGE = 65536;
const ALIGN = 16;

interface Block {
  offset: number;
  bytes: number;
}

export class WasmHeap {
  readonly memory: WebAssembly.Memory;
  private readonly base: number;
  private top: number;
  private readonly freeList: Block[] = [];
  private readonly sizes = new Map<number, number>();
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

  /** Bytes currently handed out (not counting free-list holes). */
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

  alloc(bytes: number): number {
    if (!Number.isInteger(bytes) || bytes < 0) throw new RangeError(`alloc: expected a non-negative integer byte count, got ${bytes}`);
    const size = Math.max(ALIGN, alignUp(bytes));
    for (let i = 0; i < this.freeList.length; i++) {
      const b = this.freeList[i];
      if (b.bytes >= size) {
        const offset = b.offset;
        if (b.bytes === size) this.freeList.splice(i, 1);
        else {
          b.offset += size;
          b.bytes -= size;
        }
        return this.hand(offset, size);
      }
    }
    const offset = this.top;
    const need = offset + size;
    const have = this.memory.buffer.byteLength;
    if (need > have) {
      // Grow by at least a quarter of the current size so that a growing workload
      // grows memory O(log n) times, not once per allocation.
      const pages = Math.max(Math.ceil((need - have) / PAGE), Math.ceil(have / PAGE / 4));
      try {
        this.memory.grow(pages);
      } catch {
        this.memory.grow(Math.ceil((need - have) / PAGE));
      }
    }
    this.top = need;
    return this.hand(offset, size);
  }

  release(offset: number): void {
    const size = this.sizes.get(offset);
    if (size === undefined) throw new Error(`release: ${offset} is not a live allocation`);
    this.sizes.delete(offset);
    this.inUse -= size;
    if (offset + size === this.top) {
      this.top = offset;
      // The block below the top may now be the last free one: fold it into the top.
      const last = this.freeList[this.freeList.length - 1];
      if (last && last.offset + last.bytes === this.top) {
        this.top = last.offset;
        this.freeList.pop();
      }
      return;
    }
    let i = 0;
    while (i < this.freeList.length && this.freeList[i].offset < offset) i++;
    this.freeList.splice(i, 0, { offset, bytes: size });
    const next = this.freeList[i + 1];
    if (next && offset + size === next.offset) {
      this.freeList[i].bytes += next.bytes;
      this.freeList.splice(i + 1, 1);
    }
    const prev = this.freeList[i - 1];
    if (prev && prev.offset + prev.bytes === offset) {
      prev.bytes += this.freeList[i].bytes;
      this.freeList.splice(i, 1);
    }
  }

  private hand(offset: number, size: number): number {
    this.sizes.set(offset, size);
    this.inUse += size;
    return offset;
  }
}

function alignUp(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}
