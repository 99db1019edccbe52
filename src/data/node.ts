// Node-only modules, loaded on demand. A computed specifier keeps bundlers from pulling
// node:fs and friends into browser builds (the same trick as backend.ts).

/** The subset of node:fs/promises the data loaders use. */
export interface NodeFs {
  readFile(path: string): Promise<Uint8Array>;
  writeFile(path: string, data: Uint8Array): Promise<void>;
  readdir(path: string): Promise<string[]>;
  stat(path: string): Promise<{ isDirectory(): boolean; isFile(): boolean; size: number }>;
  mkdir(path: string, options: { recursive: boolean }): Promise<string | undefined>;
  rename(from: string, to: string): Promise<void>;
  rm(path: string, options?: { force?: boolean }): Promise<void>;
  open(path: string, flags: "r"): Promise<NodeFileHandle>;
}

/** The subset of node:fs/promises' FileHandle the streaming readers use. */
export interface NodeFileHandle {
  read(buffer: Uint8Array, offset: number, length: number, position: number | null): Promise<{ bytesRead: number }>;
  close(): Promise<void>;
}

export interface NodePath {
  join(...parts: string[]): string;
  resolve(...parts: string[]): string;
}

function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === "string";
}

export async function importNode<T>(specifier: string, what: string): Promise<T> {
  if (!isNode()) {
    throw new Error(`batchnorm-wasm: ${what} needs Node.js (it uses ${specifier}); in a browser, fetch the bytes yourself and use the *FromBytes loaders`);
  }
  const name = specifier; // not a literal on purpose
  return (await import(/* @vite-ignore */ name)) as T;
}

export function nodeFs(what: string): Promise<NodeFs> {
  return importNode<NodeFs>("node:fs/promises", what);
}

export function nodePath(what: string): Promise<NodePath> {
  return importNode<NodePath>("node:path", what);
}

/** A directory given as a path or a file: URL, as a path string. */
export async function dirPath(dir: string | URL, what: string): Promise<string> {
  if (dir instanceof URL) {
    if (dir.protocol !== "file:") throw new Error(`batchnorm-wasm: ${what}: expected a directory path or a file: URL, got ${dir.href}`);
    const url = await importNode<{ fileURLToPath(u: URL): string }>("node:url", what);
    return url.fileURLToPath(dir);
  }
  if (typeof dir !== "string" || dir === "") throw new Error(`batchnorm-wasm: ${what}: expected a directory path, got ${JSON.stringify(dir)}`);
  return dir;
}

/**
 * A file as a stream of chunks of at most `chunkBytes`, read only as the consumer asks; the
 * file is closed at its end, on cancel, and on a read error.
 */
export async function fileChunks(path: string, what: string, chunkBytes = 1 << 16): Promise<ReadableStream<Uint8Array>> {
  const fs = await nodeFs(what);
  const fh = await fs.open(path, "r");
  let open = true;
  const close = async () => {
    if (open) {
      open = false;
      await fh.close();
    }
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const buf = new Uint8Array(chunkBytes);
        let n: number;
        try {
          n = (await fh.read(buf, 0, chunkBytes, null)).bytesRead;
        } catch (e) {
          await close().catch(() => {});
          throw e;
        }
        if (n === 0) {
          await close();
          controller.close();
        } else {
          controller.enqueue(n === chunkBytes ? buf : buf.subarray(0, n));
        }
      },
      cancel: close,
    },
    { highWaterMark: 0 },
  );
}
