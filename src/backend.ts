// Loading the kernels: pick the SIMD or scalar build (probing SIMD support the way
// tfjs-backend-wasm does, with WebAssembly.validate on a tiny module), instantiate it
// over a WebAssembly.Memory that this side creates and owns, and hand out the heap.
// Works in Node (reads the .wasm next to the package) and in browsers (fetches it
// relative to this module's URL); nothing here imports a Node-only module statically.
// Importing the memory, rather than using the module's own, is what lets a later
// threaded build share one memory between workers without changing any kernel.
import { checkOptions, describe } from "./options.js";
import { WasmHeap } from "./heap.js";
import { KERNEL_NAMES, type Kernels } from "./kernels.js";

export type BuildName = "relaxed" | "simd" | "scalar";

/** Pages (64 KiB) a kernel module needs at least: its static data and the GEMM scratch it reserves past them. */
const MIN_PAGES = 4;

export interface InitOptions {
  /**
   * Which build to load: 'auto' (default) picks the best the engine validates: 'relaxed'
   * (SIMD + relaxed-SIMD fused multiply-add; Chromium, Node 22+, Node 20 with
   * --experimental-wasm-relaxed-simd), else 'simd', else 'scalar'.
   */
  build?: "auto" | BuildName;
  /** The module itself, instead of loading build/bn.<build>.wasm: bytes, a compiled module, or a URL. */
  wasm?: BufferSource | WebAssembly.Module | URL | string;
  /** Initial memory size in bytes (rounded up to 64 KiB pages). Default 16 MiB. */
  initialMemoryBytes?: number;
}

export interface BackendInfo {
  /** The build in use. */
  build: BuildName;
  /** Whether this engine can run WebAssembly SIMD at all. */
  simdSupported: boolean;
  /** Whether this engine can run relaxed SIMD (the 'relaxed' build). */
  relaxedSimdSupported: boolean;
  /** Current size of the linear memory, in bytes. */
  memoryBytes: number;
  /** Bytes of that memory held by live tensors and layer buffers. */
  heapBytesInUse: number;
}

export class Backend {
  readonly kernels: Kernels;
  readonly heap: WasmHeap;
  readonly build: BuildName;

  constructor(kernels: Kernels, heap: WasmHeap, build: BuildName) {
    this.kernels = kernels;
    this.heap = heap;
    this.build = build;
  }

  info(): BackendInfo {
    return {
      build: this.build,
      simdSupported: simdSupported(),
      relaxedSimdSupported: relaxedSimdSupported(),
      memoryBytes: this.heap.memory.buffer.byteLength,
      heapBytesInUse: this.heap.bytesInUse,
    };
  }
}

// i32.const 0; i8x16.splat; i8x16.popcnt: validates only where SIMD is supported.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);

export function simdSupported(): boolean {
  return WebAssembly.validate(SIMD_PROBE);
}

// i32.const 1; i8x16.splat; i32.const 2; i8x16.splat; i8x16.relaxed_swizzle.
const RELAXED_SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 15, 1, 13, 0, 65, 1, 253, 15, 65, 2, 253, 15, 253, 128, 2, 11,
]);

export function relaxedSimdSupported(): boolean {
  return WebAssembly.validate(RELAXED_SIMD_PROBE);
}

/** The best build this engine can run. */
export function bestBuild(): BuildName {
  return relaxedSimdSupported() ? "relaxed" : simdSupported() ? "simd" : "scalar";
}

function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === "string";
}

async function readUrl(url: URL): Promise<WebAssembly.Module> {
  if (url.protocol === "file:") {
    // A computed specifier keeps bundlers from pulling node:fs into browser builds.
    const fsName = "node:fs/promises";
    const fs = (await import(/* @vite-ignore */ fsName)) as { readFile(u: URL): Promise<Uint8Array<ArrayBuffer>> };
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = await fs.readFile(url);
    } catch (e) {
      throw new Error(`batchnorm-wasm: could not read the kernels at ${url.href} (${(e as Error).message}); run \`npm run build\` or pass init({ wasm })`);
    }
    return WebAssembly.compile(bytes);
  }
  const response = await fetch(url);
  if (!response.ok) throw new Error(`batchnorm-wasm: could not fetch ${url.href}: HTTP ${response.status}`);
  return WebAssembly.compile(await response.arrayBuffer());
}

async function compileSource(src: NonNullable<InitOptions["wasm"]>): Promise<WebAssembly.Module> {
  if (src instanceof WebAssembly.Module) return src;
  if (typeof src === "string" || src instanceof URL) {
    // Relative strings resolve like a user expects on each platform: against the page in
    // a browser, against the working directory in Node.
    const proc = (globalThis as { process?: { cwd(): string } }).process;
    const cwd = proc ? proc.cwd().replace(/\\/g, "/").replace(/\/?$/, "/") : "";
    const base = isNode() && proc
      ? `file://${cwd.startsWith("/") ? "" : "/"}${encodeURI(cwd)}`
      : (globalThis as { location?: { href: string } }).location?.href ?? import.meta.url;
    return readUrl(new URL(String(src), base));
  }
  return WebAssembly.compile(src);
}

export async function createBackend(opts?: InitOptions): Promise<Backend> {
  const options = checkOptions("batchnorm-wasm: init", opts, ["build", "wasm", "initialMemoryBytes"]);
  const bytes = options.initialMemoryBytes;
  if (bytes !== undefined && (typeof bytes !== "number" || !Number.isInteger(bytes) || bytes < 0 || bytes > 4 * 1024 ** 3)) {
    throw new Error(`batchnorm-wasm: init: initialMemoryBytes must be an integer number of bytes in [0, 4 GiB], got ${describe(bytes)}`);
  }
  const wanted = options.build ?? "auto";
  if (wanted !== "auto" && wanted !== "relaxed" && wanted !== "simd" && wanted !== "scalar") {
    throw new Error(`batchnorm-wasm: build must be 'auto', 'relaxed', 'simd' or 'scalar', got ${JSON.stringify(wanted)}`);
  }
  const build: BuildName = wanted === "auto" ? bestBuild() : wanted;
  if (build === "simd" && !simdSupported()) {
    throw new Error("batchnorm-wasm: the SIMD build was requested but this engine does not support WebAssembly SIMD");
  }
  if (build === "relaxed" && !relaxedSimdSupported()) {
    throw new Error(
      "batchnorm-wasm: the relaxed-SIMD build was requested but this engine does not support relaxed SIMD (Node 20 needs --experimental-wasm-relaxed-simd)",
    );
  }
  const module = options.wasm
    ? await compileSource(options.wasm)
    : await readUrl(new URL(`../build/bn.${build}.wasm`, import.meta.url));
  // The kernels' static data and the GEMM's reserved scratch take the first pages: never fewer.
  const pages = Math.max(MIN_PAGES, Math.ceil((options.initialMemoryBytes ?? 16 * 1024 * 1024) / 65536));
  const memory = new WebAssembly.Memory({ initial: pages });
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  const missing = KERNEL_NAMES.filter((name) => typeof instance.exports[name] !== "function");
  if (missing.length > 0) {
    throw new Error(
      `batchnorm-wasm: the given wasm module is not a complete batchnorm-wasm kernel build: it lacks ${missing.join(", ")}; ` +
        "rebuild it with `npm run build:wasm`, or pass init({ wasm }) a build that exports them",
    );
  }
  const kernels = instance.exports as unknown as Kernels;
  const actual: BuildName = kernels.has_relaxed_simd() ? "relaxed" : kernels.has_simd() ? "simd" : "scalar";
  return new Backend(kernels, new WasmHeap(memory, kernels.heap_base()), actual);
}

let current: Backend | null = null;
let loading: Promise<Backend> | null = null;

/**
 * Loads the kernels; call once (await it) before anything else. Calling it again with
 * different options loads a new backend for tensors and layers created afterwards.
 */
export async function init(options?: InitOptions): Promise<BackendInfo> {
  const p = createBackend(options);
  loading = p;
  try {
    const b = await p;
    if (loading === p) current = b;
    return b.info();
  } finally {
    if (loading === p) loading = null;
  }
}

/** The loaded backend; throws a clear error before init() has finished. */
export function getBackend(): Backend {
  if (current) return current;
  throw new Error(
    loading
      ? "batchnorm-wasm: init() has not finished yet; await init() before creating tensors or layers"
      : "batchnorm-wasm: the WebAssembly kernels are not loaded; call `await init()` first",
  );
}

/** Which build is in use and how much memory it holds. */
export function backendInfo(): BackendInfo {
  return getBackend().info();
}
