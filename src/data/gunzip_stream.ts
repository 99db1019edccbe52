// Gzip decompression as a stream handed on chunk by chunk, for archives too large to hold
// decompressed twice (CIFAR-10's 170 MB .tar.gz inflates to 184 MB). The platform's
// DecompressionStream('gzip') does the work (browsers, Node >= 18); the compressed input is
// fed in slices of at most 16 KiB, each only when the decompressor asks, so what one slice
// can produce past the limit stays near 16 MB (deflate expands at most about 1032:1), and
// decompression stops as soon as the output passes maxBytes. The trailer's size field is
// checked here because engines differ on bytes after the end of the gzip stream.
import { isGzip } from "./idx.js";

const SLICE = 1 << 14;

function fail(name: string, message: string): never {
  throw new Error(`batchnorm-wasm: ${name}: ${message}`);
}

/** What went through the input: its total length, first two bytes and last four bytes. */
interface InputStats {
  total: number;
  head: number[];
  tail: Uint8Array;
  /** An error of the source itself (a read error, a failed download), passed on unchanged. */
  sourceError: unknown;
}

function remember(stats: InputStats, chunk: Uint8Array): void {
  for (let i = 0; i < chunk.length && stats.head.length < 2; i++) stats.head.push(chunk[i]);
  const keep = Math.min(4, chunk.length);
  const tail = new Uint8Array(4);
  tail.set(stats.tail.subarray(keep));
  tail.set(chunk.subarray(chunk.length - keep), 4 - keep);
  stats.tail = tail;
  stats.total += chunk.length;
}

/** The input as slices of at most SLICE bytes (copies: DecompressionStream may detach or refuse shared buffers). */
function sliced(source: Uint8Array | ReadableStream<Uint8Array>, stats: InputStats): ReadableStream<BufferSource> {
  const reader = source instanceof Uint8Array ? null : source.getReader();
  let current: Uint8Array = source instanceof Uint8Array ? source : new Uint8Array(0);
  let at = 0;
  let done = source instanceof Uint8Array;
  return new ReadableStream<BufferSource>(
    {
      async pull(controller) {
        while (at >= current.length) {
          if (done || reader === null) {
            controller.close();
            return;
          }
          let r: ReadableStreamReadResult<Uint8Array>;
          try {
            r = await reader.read();
          } catch (e) {
            stats.sourceError = e;
            throw e;
          }
          if (r.done) {
            done = true;
            continue;
          }
          current = r.value;
          at = 0;
        }
        const slice = current.slice(at, at + SLICE);
        at += slice.length;
        remember(stats, slice);
        controller.enqueue(slice);
      },
      cancel(reason) {
        return reader?.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * Decompresses gzip data (bytes or a stream of bytes) and hands each decompressed chunk to
 * `sink` in order, awaiting it. Rejects, naming `name`, on data that is not gzip, corrupt or
 * truncated, with trailing bytes, or that decompresses to more than `maxBytes`; an error of
 * the sink or of the source stream is passed on as it is. Returns the decompressed length.
 */
export async function gunzipChunks(
  source: Uint8Array | ReadableStream<Uint8Array>,
  name: string,
  maxBytes: number,
  sink: (chunk: Uint8Array) => void | Promise<void>,
): Promise<number> {
  if (source instanceof Uint8Array && !isGzip(source)) {
    fail(name, `not gzip data: expected the gzip magic 1f 8b, got ${source.length} bytes starting ${hexStart(source)}`);
  }
  const DS = (globalThis as { DecompressionStream?: typeof DecompressionStream }).DecompressionStream;
  if (typeof DS !== "function") {
    fail(name, "is gzip-compressed but this engine has no DecompressionStream; decompress it first");
  }
  const stats: InputStats = { total: 0, head: [], tail: new Uint8Array(4), sourceError: undefined };
  const reader = sliced(source, stats).pipeThrough(new DS("gzip")).getReader();
  let out = 0;
  try {
    for (;;) {
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await reader.read();
      } catch (e) {
        if (stats.sourceError !== undefined) throw stats.sourceError;
        if (stats.head.length < 2 || stats.head[0] !== 0x1f || stats.head[1] !== 0x8b) {
          fail(name, `not gzip data: expected the gzip magic 1f 8b, got ${stats.head.map((b) => b.toString(16).padStart(2, "0")).join(" ") || "an empty file"}`);
        }
        const why = e instanceof Error ? e.message : String(e);
        fail(name, `corrupt or truncated gzip data (after ${stats.total} compressed bytes): ${why}`);
      }
      if (r.done) break;
      out += r.value.length;
      if (out > maxBytes) {
        fail(name, `decompresses to more than ${maxBytes} bytes, the limit (stopped there); pass a larger maxBytes if the file is genuine`);
      }
      await sink(r.value);
    }
  } catch (e) {
    reader.cancel().catch(() => {});
    throw e;
  }
  const isize = ((stats.tail[0] | (stats.tail[1] << 8) | (stats.tail[2] << 16) | (stats.tail[3] << 24)) >>> 0);
  if (stats.total < 18 || isize !== out % 4294967296) {
    fail(
      name,
      `corrupt gzip data or trailing bytes after it: expected the file to end with the gzip size field ${out % 4294967296} ` +
        `(the decompressed length), got ${stats.total < 18 ? `only ${stats.total} bytes` : isize}`,
    );
  }
  return out;
}

function hexStart(bytes: Uint8Array): string {
  if (bytes.length === 0) return "(empty)";
  return Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ") + (bytes.length > 4 ? " ..." : "");
}
