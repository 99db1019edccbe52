// A streaming tar reader: push the archive's bytes in chunks of any size, and each regular
// file's contents go to the sink the visitor returns for it, without the archive or the
// file ever being held whole here. Formats: POSIX ustar (name prefix), GNU (long names in
// 'L' entries, base-256 sizes) and pax extended headers ('x': path and size); see POSIX.1-2017
// "pax", section ustar Interchange Format. Every header's checksum is checked (the unsigned
// byte sum with the checksum field read as spaces; the signed sum of old tars is accepted
// too). Only regular files reach the visitor; directories, links, devices and global pax
// headers are skipped. An archive that ends inside a header or a member is an error naming
// the member, its declared size and what came.

const BLOCK = 512;
/** The longest GNU long-name or pax record accepted: names, not data. */
const MAX_META_BYTES = 1 << 20;

export interface TarEntry {
  /** The full path in the archive, e.g. "cifar-10-batches-bin/data_batch_1.bin". */
  name: string;
  size: number;
  /** Byte offset of the entry's header in the (decompressed) archive. */
  offset: number;
}

/** Receives one member's bytes in order; end() is awaited once all `size` bytes came. */
export interface TarSink {
  write(chunk: Uint8Array): void;
  end(): void | Promise<void>;
}

/** Called at each regular file's header: a sink for its contents, or null to skip them. */
export type TarVisitor = (entry: TarEntry) => TarSink | null;

function fail(archive: string, message: string): never {
  throw new Error(`batchnorm-wasm: ${archive}: ${message}`);
}

function cString(b: Uint8Array, from: number, length: number): string {
  let end = from;
  while (end < from + length && b[end] !== 0) end++;
  let s = "";
  for (let i = from; i < end; i++) s += String.fromCharCode(b[i]);
  return s;
}

/** An octal field (digits, padded with spaces or NULs), or a GNU base-256 number; NaN when malformed. */
function numberField(b: Uint8Array, from: number, length: number): number {
  if (b[from] & 0x80) {
    if (b[from] === 0xff) return NaN; // negative
    let v = b[from] & 0x7f;
    for (let i = from + 1; i < from + length; i++) v = v * 256 + b[i];
    return Number.isSafeInteger(v) ? v : NaN;
  }
  const s = cString(b, from, length).trim();
  return /^[0-7]+$/.test(s) ? parseInt(s, 8) : NaN;
}

function utf8(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

/** The `path` and `size` records of a pax extended header ("<len> <key>=<value>\n" each). */
function paxRecords(data: Uint8Array, archive: string, offset: number): { path?: string; size?: number } {
  const out: { path?: string; size?: number } = {};
  let at = 0;
  while (at < data.length) {
    if (data[at] === 0) break;
    let sp = at;
    while (sp < data.length && data[sp] !== 0x20) sp++;
    const len = Number(cString(data, at, sp - at));
    if (!Number.isSafeInteger(len) || len <= sp - at || at + len > data.length || data[at + len - 1] !== 0x0a) {
      fail(archive, `corrupt pax extended header at byte ${offset}: a record at its byte ${at} has a bad length`);
    }
    const record = utf8(data.subarray(sp + 1, at + len - 1));
    const eq = record.indexOf("=");
    const key = record.slice(0, eq);
    const value = record.slice(eq + 1);
    if (key === "path") out.path = value;
    if (key === "size") {
      if (!/^[0-9]+$/.test(value)) fail(archive, `corrupt pax extended header at byte ${offset}: size=${JSON.stringify(value)}`);
      out.size = Number(value);
    }
    at += len;
  }
  return out;
}

type State =
  | { kind: "header" }
  | { kind: "data"; entry: TarEntry; sink: TarSink; left: number }
  | { kind: "meta"; type: "L" | "x"; offset: number; buf: Uint8Array; fill: number }
  | { kind: "skip"; left: number; entry: TarEntry | null; dataLeft: number }
  | { kind: "end" };

/** Feed the archive to push() in order, then call finish() at its end. */
export class TarReader {
  private readonly header = new Uint8Array(BLOCK);
  private headerFill = 0;
  private state: State = { kind: "header" };
  /** Archive bytes consumed so far. */
  private offset = 0;
  /** Name and size from a GNU 'L' or pax 'x' entry, for the next header. */
  private pending: { path?: string; size?: number } = {};
  private lastName = "";

  /** `archive` names the archive in error messages. */
  constructor(
    private readonly archive: string,
    private readonly visitor: TarVisitor,
  ) {}

  /** True once the end-of-archive block was read; later bytes are ignored. */
  get ended(): boolean {
    return this.state.kind === "end";
  }

  async push(chunk: Uint8Array): Promise<void> {
    let at = 0;
    while (at < chunk.length) {
      const s = this.state;
      const avail = chunk.length - at;
      if (s.kind === "end") return;
      if (s.kind === "header") {
        const n = Math.min(BLOCK - this.headerFill, avail);
        this.header.set(chunk.subarray(at, at + n), this.headerFill);
        this.headerFill += n;
        at += n;
        if (this.headerFill === BLOCK) {
          this.headerFill = 0;
          const empty = this.readHeader();
          this.offset += BLOCK;
          if (empty) await empty.end();
        }
      } else if (s.kind === "data") {
        const n = Math.min(s.left, avail);
        s.sink.write(chunk.subarray(at, at + n));
        s.left -= n;
        at += n;
        this.offset += n;
        if (s.left === 0) {
          await s.sink.end();
          this.afterData(s.entry.size, s.entry, 0);
        }
      } else if (s.kind === "meta") {
        const n = Math.min(s.buf.length - s.fill, avail);
        s.buf.set(chunk.subarray(at, at + n), s.fill);
        s.fill += n;
        at += n;
        this.offset += n;
        if (s.fill === s.buf.length) {
          if (s.type === "L") this.pending.path = utf8(s.buf.subarray(0, s.buf.indexOf(0) < 0 ? s.buf.length : s.buf.indexOf(0)));
          else Object.assign(this.pending, paxRecords(s.buf, this.archive, s.offset));
          this.afterData(s.buf.length, null, 0);
        }
      } else {
        const n = Math.min(s.left, avail);
        s.left -= n;
        s.dataLeft = Math.max(0, s.dataLeft - n);
        at += n;
        this.offset += n;
        if (s.left === 0) this.state = { kind: "header" };
      }
    }
  }

  /** Checks that the archive did not stop inside a header or a member. */
  finish(): void {
    const s = this.state;
    const member = (e: TarEntry) => `member ${JSON.stringify(e.name)} (header at byte ${e.offset})`;
    if (s.kind === "header" && this.headerFill > 0) {
      fail(this.archive, `truncated: the archive ends inside a header block at byte ${this.offset} (${this.headerFill} of ${BLOCK} bytes)${this.after()}`);
    }
    if (s.kind === "data") {
      fail(this.archive, `truncated: ${member(s.entry)} is short: its header declares ${s.entry.size} bytes, the archive ends after ${s.entry.size - s.left}`);
    }
    if (s.kind === "meta") {
      fail(this.archive, `truncated: the archive ends inside the extended header at byte ${s.offset} (${s.fill} of ${s.buf.length} bytes)`);
    }
    if (s.kind === "skip") {
      if (s.entry && s.dataLeft > 0) {
        fail(this.archive, `truncated: ${member(s.entry)} is short: its header declares ${s.entry.size} bytes, the archive ends after ${s.entry.size - s.dataLeft}`);
      }
      fail(this.archive, `truncated: the archive ends inside the padding after ${s.entry ? member(s.entry) : "an extended header"}`);
    }
  }

  private after(): string {
    return this.lastName ? ` (after member ${JSON.stringify(this.lastName)})` : " (the first header)";
  }

  /** Skips the padding to the next block boundary, or the whole member when not kept. */
  private afterData(size: number, entry: TarEntry | null, dataLeft: number): void {
    const pad = (BLOCK - (size % BLOCK)) % BLOCK;
    this.state = pad + dataLeft > 0 ? { kind: "skip", left: pad + dataLeft, entry, dataLeft } : { kind: "header" };
  }

  /** Reads the header block; returns the sink of a kept empty file, to be ended by the caller. */
  private readHeader(): TarSink | null {
    const h = this.header;
    let zero = true;
    for (let i = 0; i < BLOCK && zero; i++) zero = h[i] === 0;
    if (zero) {
      this.state = { kind: "end" };
      return null;
    }
    const stored = numberField(h, 148, 8);
    let unsigned = 0;
    let signed = 0;
    for (let i = 0; i < BLOCK; i++) {
      const b = i >= 148 && i < 156 ? 0x20 : h[i];
      unsigned += b;
      signed += b >= 128 ? b - 256 : b;
    }
    if (stored !== unsigned && stored !== signed) {
      const said = Number.isNaN(stored) ? `an unreadable checksum field ${JSON.stringify(cString(h, 148, 8))}` : `checksum ${stored}`;
      fail(this.archive, `corrupt tar header at byte ${this.offset}${this.after()}: the header says ${said}, its bytes sum to ${unsigned}; not a tar archive, or a damaged one`);
    }
    const type = String.fromCharCode(h[156]);
    let size = numberField(h, 124, 12);
    if (Number.isNaN(size)) {
      fail(this.archive, `corrupt tar header at byte ${this.offset}${this.after()}: unreadable size field ${JSON.stringify(cString(h, 124, 12))}`);
    }
    const ustar = cString(h, 257, 6) === "ustar" && h[262] === 0; // POSIX; GNU writes "ustar  \0"
    let name = cString(h, 0, 100);
    if (ustar && h[345] !== 0) name = `${cString(h, 345, 155)}/${name}`;
    if (this.pending.path !== undefined) name = this.pending.path;
    if (this.pending.size !== undefined && type !== "L" && type !== "x") size = this.pending.size;
    if (type !== "L" && type !== "x") this.pending = {};
    const entry: TarEntry = { name, size, offset: this.offset };

    if (type === "L" || type === "x") {
      if (size > MAX_META_BYTES) {
        fail(this.archive, `corrupt tar header at byte ${this.offset}${this.after()}: an extended header of ${size} bytes (at most ${MAX_META_BYTES} expected)`);
      }
      this.state = size > 0 ? { kind: "meta", type, offset: this.offset, buf: new Uint8Array(size), fill: 0 } : { kind: "header" };
      return null;
    }
    this.lastName = name;
    // Links, directories, devices and FIFOs carry no data; other types (contiguous files,
    // global pax headers, vendor types) are skipped by their size.
    const noData = type === "1" || type === "2" || type === "3" || type === "4" || type === "5" || type === "6";
    const regular = type === "0" || type === "\0" || type === "7";
    const sink = regular ? this.visitor(entry) : null;
    if (sink && size > 0) {
      this.state = { kind: "data", entry, sink, left: size };
      return null;
    }
    if (noData || size === 0) {
      this.state = { kind: "header" };
      return sink;
    }
    this.afterData(size, entry, size);
    return null;
  }
}

/** Reads a whole archive given as bytes or as a stream of chunks (see TarReader). */
export async function readTar(source: Uint8Array | AsyncIterable<Uint8Array>, archive: string, visitor: TarVisitor): Promise<void> {
  const reader = new TarReader(archive, visitor);
  if (source instanceof Uint8Array) await reader.push(source);
  else for await (const chunk of source) await reader.push(chunk);
  reader.finish();
}
