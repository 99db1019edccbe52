// Threads in headless Chromium, with the built package (dist/ + build/, no bundler). One
// origin serves the test page and its scripts (test/browser/) with the COOP/COEP headers, so
// the page is cross-origin isolated; a second origin serves the same files without them.
// dist/ and build/ get no headers on either: same-origin files need none, which is what the
// README tells users. In a dedicated Worker of the isolated page, init({ threads: 2 }) starts a
// nested Web Worker, and GEMM and convolutions (every call split: minMacs 0) give 1 thread's
// results bit for bit (a convolution's filter gradient, summed from per-thread partials,
// within rounding), training steps 1 thread's losses within rounding (Batch Normalization
// merges per-thread statistics) and the same bits run after run; shutdown() ends the nested
// worker. Without the headers, and on a page's main thread, init falls back to one thread and
// says why.
//
// Chromium is Debian's (/usr/bin/chromium, or $CHROMIUM_PATH), driven by playwright-core.
// Without it the suite is skipped locally, but fails under CI=true (.ci/run installs it).
import { existsSync } from "node:fs";
import { readFile, realpath, stat } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, type Page, type Worker } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, SKIP, SKIP_MESSAGE } from "./browser/harness.js";

const ROOT = path.resolve(fileURLToPath(new URL("..", import.meta.url)));
if (SKIP) console.warn(`test/browser_threads.test.ts: ${SKIP_MESSAGE}`);

const ISOLATION_HEADERS = { "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp" };
const SERVED = ["dist", "build", "test/browser"];
const MIME: Record<string, string> = { ".js": "text/javascript; charset=utf-8", ".wasm": "application/wasm", ".html": "text/html; charset=utf-8" };

/** A Content-Security-Policy that allows workers from the origin only, not from blob: URLs. */
const NO_BLOB_WORKERS = { "content-security-policy": "worker-src 'self'" };

/**
 * Serves dist/, build/ and test/browser/; the files under test/browser/ with `pageHeaders`,
 * and with NO_BLOB_WORKERS too when the query string is "?csp".
 */
function startServer(pageHeaders: Record<string, string>): Promise<{ server: http.Server; origin: string }> {
  const server = http.createServer(async (req, res) => {
    const [pathname, query] = (req.url ?? "/").split("?", 2);
    let rel = "";
    try {
      rel = decodeURIComponent(pathname).replace(/^\/+/, "");
    } catch {
      // A malformed escape: not one of the served files.
    }
    const file = path.resolve(ROOT, rel);
    const dir = SERVED.find((d) => file.startsWith(path.join(ROOT, d) + path.sep));
    const real = dir ? await realpath(file).catch(() => null) : null;
    if (!dir || !real || !real.startsWith(ROOT + path.sep) || !(await stat(real)).isFile()) {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found");
      return;
    }
    const body = await readFile(real);
    res.writeHead(200, {
      "content-type": MIME[path.extname(real)] ?? "application/octet-stream",
      "cache-control": "no-store",
      ...(dir === "test/browser" ? pageHeaders : {}),
      ...(dir === "test/browser" && query === "csp" ? NO_BLOB_WORKERS : {}),
    });
    res.end(body);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve({ server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
  });
}

interface Info {
  build: string;
  threads: number;
  threadsRequested: number;
  threadsFallback: string | null;
}
interface InfoResult {
  info: Info;
  afterShutdown: Info;
  crossOriginIsolated: boolean;
  hardwareConcurrency: number;
}
interface TrainResult {
  losses: number[];
  params: number[][];
}
interface CompareRun {
  threads: number;
  info: Info;
  splitCalls: number;
  workerParts: number;
  ops: Record<string, number[][]>;
  training: { inception: TrainResult; small: TrainResult };
}
interface ThreadsPage {
  inWorker(request: { task: "info"; threads: number | "auto" }, opts?: { keep?: boolean; query?: string }): Promise<InfoResult>;
  inWorker(request: { task: "compare"; threadCounts: number[] }): Promise<CompareRun[]>;
  endKept(): void;
  initOnMainThread(threads: number): Promise<{ info: Info; crossOriginIsolated: boolean }>;
}
declare global {
  interface Window {
    bnThreads?: ThreadsPage;
  }
}

/** The first index where two bit-pattern arrays differ, or -1. */
/** Normwise relative difference of two arrays of float32 bit patterns. */
function relDiff(a: number[], b: number[]): number {
  const f = (u: number[]) => new Float32Array(Uint32Array.from(u).buffer);
  const x = f(a), y = f(b);
  let num = 0, den = 0;
  for (let i = 0; i < x.length; i++) {
    num = Math.max(num, Math.abs(x[i] - y[i]));
    den = Math.max(den, Math.abs(x[i]));
  }
  return x.length === y.length ? num / Math.max(den, 1e-30) : Infinity;
}

function firstDifference(a: number[], b: number[]): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

const NOT_ISOLATED = /not cross-origin isolated.*Cross-Origin-Opener-Policy: same-origin.*Cross-Origin-Embedder-Policy: require-corp/;
const MAIN_THREAD = /main thread cannot block in Atomics\.wait.*Worker/;

describe.skipIf(SKIP)(SKIP ? `browser threads (${SKIP_MESSAGE})` : "browser threads: the worker pool in headless Chromium", () => {
  let isolated: { server: http.Server; origin: string } | null = null;
  let plain: { server: http.Server; origin: string } | null = null;
  let browser: Browser | null = null;

  beforeAll(async () => {
    const missing = ["dist/index.js", "dist/threads/spawn_browser.js", "build/bn.relaxed-threads.wasm"].filter((f) => !existsSync(path.join(ROOT, f)));
    if (missing.length) throw new Error(`the package is not built (missing ${missing.join(", ")}): run \`npm run build\` first`);
    isolated = await startServer(ISOLATION_HEADERS);
    plain = await startServer({});
    browser = await launchChromium();
  }, 45_000);

  afterAll(async () => {
    await browser?.close();
    for (const s of [isolated, plain]) {
      if (!s) continue;
      s.server.closeAllConnections();
      await new Promise<void>((resolve) => s.server.close(() => resolve()));
    }
  });

  /** Runs body on test/browser/threads.html from `origin`; fails on anything the page reported. */
  async function withPage(origin: string, body: (page: Page, workers: Worker[], closed: Set<Worker>) => Promise<void>): Promise<void> {
    const context = await browser!.newContext();
    const page = await context.newPage();
    const problems: string[] = [];
    const workers: Worker[] = [];
    const closed = new Set<Worker>();
    page.on("worker", (w) => {
      workers.push(w);
      w.on("close", () => closed.add(w));
    });
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console.error: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`pageerror: ${e.stack ?? e.message}`));
    page.on("response", (r) => {
      if (r.status() >= 400) problems.push(`HTTP ${r.status()} for ${r.url()}`);
    });
    try {
      await page.goto(`${origin}/test/browser/threads.html`, { waitUntil: "load", timeout: 10_000 });
      await page.waitForFunction(() => window.bnThreads !== undefined, undefined, { timeout: 5_000 });
      await body(page, workers, closed);
      expect(problems, "the page reported errors").toEqual([]);
    } finally {
      await context.close();
    }
  }

  it("in a Worker of a cross-origin isolated page, init({ threads: 2 }) runs 2 threads, 'auto' asks for navigator.hardwareConcurrency, and shutdown() ends the nested worker", async () => {
    await withPage(isolated!.origin, async (page, workers, closed) => {
      const two = await page.evaluate(() => window.bnThreads!.inWorker({ task: "info", threads: 2 }, { keep: true }));
      expect(two.crossOriginIsolated).toBe(true);
      expect(two.info).toMatchObject({ build: "relaxed", threads: 2, threadsRequested: 2, threadsFallback: null });
      expect(two.afterShutdown.threads).toBe(1);
      // The training worker is still running (kept); the pool's nested worker has ended.
      const training = workers.filter((w) => !w.url().startsWith("blob:"));
      const nested = workers.filter((w) => w.url().startsWith("blob:"));
      expect(training.map((w) => new URL(w.url()).pathname)).toEqual(["/test/browser/threads_worker.js"]);
      expect(nested, "init({ threads: 2 }) should start one nested worker from a blob: URL").toHaveLength(1);
      await expect.poll(() => closed.has(nested[0]), { message: "the nested pool worker should end after shutdown()", timeout: 20_000 }).toBe(true);
      expect(closed.has(training[0]), "the nested worker should end by shutdown(), not with its parent").toBe(false);
      await page.evaluate(() => window.bnThreads!.endKept());

      const auto = await page.evaluate(() => window.bnThreads!.inWorker({ task: "info", threads: "auto" }));
      expect(auto.info.threadsRequested).toBe(auto.hardwareConcurrency);
      expect(auto.info.threads).toBe(auto.hardwareConcurrency);
      expect(auto.info.threadsFallback).toBeNull();
    });
  });

  it("GEMM and convolutions (NHWC, NCHW) give 1 thread's results bit for bit with 2 threads (filter gradients within rounding); training steps of two small models 1 thread's losses within rounding, identically twice", async () => {
    await withPage(isolated!.origin, async (page) => {
      const [one, two, again] = await page.evaluate(() => window.bnThreads!.inWorker({ task: "compare", threadCounts: [1, 2, 2] }));
      expect(one.info.threads).toBe(1);
      expect(two.info).toMatchObject({ threads: 2, threadsFallback: null });
      expect(one.splitCalls).toBe(0);
      expect(two.splitCalls, "with minMacs 0 the ops should hand work to the pool").toBeGreaterThan(0);
      expect(two.workerParts, "the nested worker should have run parts").toBeGreaterThan(0);
      expect(Object.keys(two.ops)).toEqual(Object.keys(one.ops));
      for (const [name, outs] of Object.entries(one.ops)) {
        outs.forEach((o, i) => {
          const what = `${name}: output ${i} (y, dx, dW, db) with 2 threads`;
          if (name.startsWith("conv") && i >= 2) expect(relDiff(o, two.ops[name][i]), `${what}, relative to 1 thread`).toBeLessThan(1e-5);
          else expect(firstDifference(o, two.ops[name][i]), `${what} differs from 1 thread at`).toBe(-1);
        });
      }
      for (const model of ["inception", "small"] as const) {
        const a = one.training[model], b = two.training[model], c = again.training[model];
        expect(a.losses.every(Number.isFinite)).toBe(true);
        // The Inception net's max pooling can pick the other of two inputs equal within
        // rounding after the first update (test/threads.test.ts says more): looser after step 0.
        a.losses.forEach((l, s) => expect(Math.abs(b.losses[s] - l) / l, `${model}: loss of step ${s}, 2 threads against 1`).toBeLessThan(model === "inception" && s > 0 ? 2e-3 : 1e-5));
        expect(c.losses, `${model}: losses of a second 2-thread run`).toEqual(b.losses);
        b.params.forEach((p, i) => expect(firstDifference(p, c.params[i]), `${model}: parameter ${i} after a second 2-thread run differs at`).toBe(-1));
      }
    });
  });

  it("a training Worker whose Content-Security-Policy refuses blob: workers falls back to one thread and says so", async () => {
    await withPage(isolated!.origin, async (page) => {
      const got = await page.evaluate(() => window.bnThreads!.inWorker({ task: "info", threads: 2 }, { query: "?csp" }));
      expect(got.crossOriginIsolated).toBe(true);
      expect(got.info).toMatchObject({ threads: 1, threadsRequested: 2 });
      expect(got.info.threadsFallback).toMatch(/worker threads could not start \(pool worker 1 .*worker-src blob:/);
    });
  });

  it("the main thread of an isolated page falls back to one thread: it cannot block in Atomics.wait", async () => {
    await withPage(isolated!.origin, async (page) => {
      const got = await page.evaluate(() => window.bnThreads!.initOnMainThread(2));
      expect(got.crossOriginIsolated).toBe(true);
      expect(got.info).toMatchObject({ threads: 1, threadsRequested: 2 });
      expect(got.info.threadsFallback).toMatch(MAIN_THREAD);
      expect(got.info.threadsFallback).not.toMatch(/cross-origin isolated/);
    });
  });

  it("a page served without the headers falls back to one thread, in a Worker and on the main thread, naming the two headers", async () => {
    await withPage(plain!.origin, async (page, workers) => {
      const inWorker = await page.evaluate(() => window.bnThreads!.inWorker({ task: "info", threads: 2 }));
      expect(inWorker.crossOriginIsolated).toBe(false);
      expect(inWorker.info).toMatchObject({ threads: 1, threadsRequested: 2 });
      expect(inWorker.info.threadsFallback).toMatch(NOT_ISOLATED);
      expect(inWorker.info.threadsFallback, "in a Worker the main-thread advice does not apply").not.toMatch(MAIN_THREAD);
      expect(workers.filter((w) => w.url().startsWith("blob:")), "no pool worker should start").toEqual([]);
      const main = await page.evaluate(() => window.bnThreads!.initOnMainThread(2));
      expect(main.info.threads).toBe(1);
      expect(main.info.threadsFallback).toMatch(NOT_ISOLATED);
      expect(main.info.threadsFallback).toMatch(MAIN_THREAD);
    });
  });
});
