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
