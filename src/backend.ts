// Loading the kernels: pick the SIMD or scalar build (probing SIMD support the way
// tfjs-backend-wasm does, with WebAssembly.validate on a tiny module), instantiate it
// over a WebAssembly.Memory that this side creates and owns, and hand out the heap.
// Works in Node (reads the .wasm next to the package) and in browsers (fetches it
// relative to this module's URL); nothing here imports a Node-only module statically.
// Importing the memory, rather than using the module's own, is what lets the threaded
// builds share one memory between workers without changing any kernel.
import { checkOptions, describe } from "./options.js";
import { WasmHeap } from "./heap.js";
import { KERNEL_NAMES, type Kernels } from "./kernels.js";
import { ThreadPool } from "./threads/pool.js";

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
  /**
   * Threads the ops may use, the calling one included: a count, or 'auto' (the number of
   * cores: os.availableParallelism() in Node, navigator.hardwareConcurrency in browsers).
   * Default 1. More than one loads the threaded variant of the build (a shared memory) where
   * SharedArrayBuffer and Atomics.wait are available: Node, and in a browser a dedicated Worker
   * of a cross-origin isolated page (COOP same-origin + COEP require-corp), which then starts
   * threads - 1 nested Workers. Elsewhere (a page's main thread, a page without the headers)
   * the backend runs on one thread and backendInfo().threadsFallback says why.
   */
  threads?: number | "auto";
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
  /** Threads the ops use, the calling one included (1 after shutdown()). */
  threads: number;
  /** Threads init() was asked for ('auto' resolved to the number of cores). */
  threadsRequested: number;
  /** Why fewer threads than requested run (null when none were refused). */
  threadsFallback: string | null;
}

export class Backend {
  readonly kernels: Kernels;
  readonly heap: WasmHeap;
  readonly build: BuildName;
  /** The workers the ops split their work over; null: one thread. */
  pool: ThreadPool | null = null;
  threadsRequested = 1;
  threadsFallback: string | null = null;

  constructor(kernels: Kernels, heap: WasmHeap, build: BuildName) {
    this.kernels = kernels;
    this.heap = heap;
    this.build = build;
  }

  /** Threads the ops use, the calling one included. */
  get threads(): number {
    return this.pool ? this.pool.threads : 1;
  }

  info(): BackendInfo {
    return {
      build: this.build,
      simdSupported: simdSupported(),
      relaxedSimdSupported: relaxedSimdSupported(),
      memoryBytes: this.heap.memory.buffer.byteLength,
      heapBytesInUse: this.heap.bytesInUse,
      threads: this.threads,
      threadsRequested: this.threadsRequested,
      threadsFallback: this.threadsFallback,
    };
  }

  /** Ends the worker threads; the ops run on the calling thread from then on. Idempotent. */
  shutdown(): void {
    this.pool?.shutdown();
    this.pool = null;
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

/** The kernels' instance on `memory`; a module the user passed that does not link gets an error saying which builds fit. */
async function instantiateKernels(module: WebAssembly.Module, memory: WebAssembly.Memory, custom: boolean): Promise<WebAssembly.Instance> {
  try {
    return await WebAssembly.instantiate(module, { env: { memory } });
  } catch (e) {
    if (!custom || !(e instanceof WebAssembly.LinkError)) throw e;
    throw new Error(
      `batchnorm-wasm: init: the module passed as init({ wasm }) does not link to the library's memory (${e.message}); ` +
        "a module given this way runs on one thread, so pass a single-thread build (bn.relaxed.wasm, bn.simd.wasm or bn.scalar.wasm), not a -threads one",
      { cause: e },
    );
  }
}

export async function createBackend(opts?: InitOptions): Promise<Backend> {
  const options = checkOptions("batchnorm-wasm: init", opts, ["build", "wasm", "initialMemoryBytes", "threads"]);
  const requested = await threadCount(options.threads);
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
  // The kernels' static data and the GEMM's reserved scratch take the first pages: never fewer.
  const pages = Math.max(MIN_PAGES, Math.ceil((options.initialMemoryBytes ?? 16 * 1024 * 1024) / 65536));
  const refusal = requested > 1 ? threadsRefusal(build, options.wasm !== undefined) : null;
  let memory: WebAssembly.Memory | null = null;
  let fallback = refusal;
  if (requested > 1 && !refusal) {
    try {
      memory = new WebAssembly.Memory({ initial: pages, maximum: MAX_SHARED_PAGES, shared: true });
    } catch (e) {
      fallback = `a shared memory of at most ${MAX_SHARED_PAGES} pages could not be created (${(e as Error).message})`;
    }
  }
  const threaded = memory !== null;
  const module = options.wasm
    ? await compileSource(options.wasm)
    : await readUrl(new URL(`../build/bn.${threaded ? `${build}-threads` : build}.wasm`, import.meta.url));
  memory ??= new WebAssembly.Memory({ initial: pages });
  const instance = await instantiateKernels(module, memory, options.wasm !== undefined);
  const missing = KERNEL_NAMES.filter((name) => typeof instance.exports[name] !== "function");
  if (missing.length > 0) {
    throw new Error(
      `batchnorm-wasm: the given wasm module is not a complete batchnorm-wasm kernel build: it lacks ${missing.join(", ")}; ` +
        "rebuild it with `npm run build:wasm`, or pass init({ wasm }) a build that exports them",
    );
  }
  const kernels = instance.exports as unknown as Kernels;
  const actual: BuildName = kernels.has_relaxed_simd() ? "relaxed" : kernels.has_simd() ? "simd" : "scalar";
  const backend = new Backend(kernels, new WasmHeap(memory, kernels.heap_base()), actual);
  backend.threadsRequested = requested;
  backend.threadsFallback = fallback;
  if (threaded) {
    // The threaded build runs on one thread as well: a pool that cannot start (a page whose
    // Content-Security-Policy refuses blob: workers) leaves the caller working alone.
    try {
      backend.pool = await ThreadPool.start(requested, module, memory, kernels, backend.heap);
    } catch (e) {
      backend.threadsFallback = `the worker threads could not start (${e instanceof Error ? e.message : String(e)})`;
    }
  }
  return backend;
}

/**
 * The maximum of a threaded build's memory: the 65536 pages (4 GiB) a wasm32 memory
 * addresses, the heap's own limit, so that a threaded run can allocate what a single-thread
 * one can. A shared memory cannot move when it grows, so the engine reserves the maximum's
 * address space up front; 64-bit V8 reserves that much (plus guard regions) for every wasm32
 * memory anyway, so a lower maximum would save nothing there. Where the reservation fails
 * (a 32-bit engine) init falls back to one thread and says so.
 */
const MAX_SHARED_PAGES = 65536;

/** The requested thread count as a number: 'auto' is the number of cores. */
async function threadCount(t: unknown): Promise<number> {
  if (t === undefined) return 1;
  if (t === "auto") return coreCount();
  if (typeof t !== "number" || !Number.isInteger(t) || t < 1 || t > 256) {
    throw new Error(`batchnorm-wasm: init: threads must be 'auto' or an integer in [1, 256], got ${describe(t)}`);
  }
  return t;
}

async function coreCount(): Promise<number> {
  if (isNode()) {
    // A computed specifier keeps bundlers from pulling node:os into browser builds.
    const osName = "node:os";
    const os = (await import(/* @vite-ignore */ osName)) as { availableParallelism?(): number; cpus(): unknown[] };
    return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
  }
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  return Math.max(1, nav?.hardwareConcurrency ?? 1);
}

const NOT_ISOLATED =
  "the page is not cross-origin isolated: serve it with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp";
const MAIN_THREAD = "a browser page's main thread cannot block in Atomics.wait: call init({ threads }) in a dedicated Worker that runs the training";

/** Why this engine cannot run the threaded build, or null when it can. */
function threadsRefusal(build: BuildName, customWasm: boolean): string | null {
  const g = globalThis as { SharedArrayBuffer?: unknown; Atomics?: { wait?: unknown }; crossOriginIsolated?: boolean; document?: unknown; Worker?: unknown };
  const browser = !isNode();
  // On a page that is not isolated both obstacles are named when both apply: fixing the
  // headers alone would only lead to the main-thread refusal.
  const alsoMain = browser && g.document !== undefined ? `; and then ${MAIN_THREAD}` : "";
  if (typeof g.SharedArrayBuffer !== "function") {
    return browser && g.crossOriginIsolated !== true ? `SharedArrayBuffer is not available: ${NOT_ISOLATED}${alsoMain}` : "SharedArrayBuffer is not available in this engine";
  }
  if (browser && g.crossOriginIsolated !== true) return `${NOT_ISOLATED}${alsoMain}`;
  if (typeof g.Atomics !== "object" || typeof g.Atomics?.wait !== "function") return "Atomics.wait is not available in this engine";
  if (!canBlock()) {
    return g.document !== undefined
      ? MAIN_THREAD
      : "Atomics.wait cannot block in this context (a service worker or a worklet?): call init({ threads }) in a dedicated Worker";
  }
  if (browser && typeof g.Worker !== "function") return "this context cannot start Web Workers (nested workers need a dedicated Worker)";
  if (customWasm) return "a module passed as init({ wasm }) runs on one thread (the threaded builds are loaded by name)";
  if (build === "scalar") return "the scalar build has no threaded variant (threads need WebAssembly SIMD)";
  return null;
}

/**
 * Whether this thread may block in Atomics.wait: a wait on a value that does not match
 * returns "not-equal" at once where blocking is allowed and throws where it is not (a page's
 * main thread, a service worker).
 */
function canBlock(): boolean {
  try {
    return Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1) === "not-equal";
  } catch {
    return false;
  }
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

/** Which build is in use, how much memory it holds, and how many threads run the ops. */
export function backendInfo(): BackendInfo {
  return getBackend().info();
}

/**
 * Ends the current backend's worker threads (a no-op with one thread or before init). In Node
 * they never keep the process alive; in a browser they run until this is called or the page
 * (or the Worker that called init) goes away.
 */
export function shutdown(): void {
  current?.shutdown();
}
