// The built package (dist/index.js + build/*.wasm, exactly as published, no bundler) in
// headless Chromium: init() fetches the wasm relative to import.meta.url, BatchNorm2d's
// training forward matches the float64 reference in both layouts, the SIMD build is the
// one picked, init({ wasm: URL }) loads the scalar build, and using the package before
// init() throws an error that says so.
//
// Chromium is Debian's (/usr/bin/chromium, or $CHROMIUM_PATH), driven by playwright-core.
// Without it the suite is skipped locally, but fails under CI=true (.ci/run installs it).
import { existsSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDemoServer } from "../demo/serve.mjs";
import { launchChromium, SKIP, SKIP_MESSAGE, watchPage } from "./browser/harness.js";
import { expectClose, rng } from "./check.js";
import { refForwardTrain, refRunningUpdate } from "./reference/bn.js";

const ROOT = path.resolve(fileURLToPath(new URL("..", import.meta.url)));
if (SKIP) console.warn(`test/browser.test.ts: ${SKIP_MESSAGE}`);

const TOL = 1e-5;

/** The demo's static server over the project root, without the isolation headers: a plain page. */
function startServer(root: string): Promise<{ server: http.Server; origin: string }> {
  const server = createDemoServer(root, { isolated: false });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve({ server, origin: `http://127.0.0.1:${port}` });
    });
  });
}

/** A raw GET (the path is sent as given, not normalized like a browser would). */
function rawGet(origin: string, rawPath: string): Promise<{ status: number; type: string | undefined }> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, path: rawPath, method: "GET", agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: res.headers["content-type"] }));
    });
    req.on("error", reject);
    req.end();
  });
}

// ---------------------------------------------------------------------------------------
// The page side (test/browser/page.js, loaded by test/browser/index.html as window.bnPage).

interface PageInfo {
  build: string;
  simdSupported: boolean;
  memoryBytes: number;
  heapBytesInUse: number;
}
interface ForwardResult {
  y: number[];
  yShape: number[];
  runningMean: number[];
  runningVar: number[];
  numBatchesTracked: number;
  info: PageInfo;
}
interface PageApi {
  beforeInit(): { layer: string | null; tensor: string | null; backendInfo: string | null };
  initDefault(): Promise<{ returned: PageInfo; info: PageInfo }>;
  initFromUrl(href: string): Promise<{ returned: PageInfo; info: PageInfo }>;
  forwardTrain(args: { x: number[]; shape: number[]; dataFormat: string; gamma: number[]; beta: number[] }): ForwardResult;
}
declare global {
  interface Window {
    bnPage?: PageApi;
  }
}

/** A page with its console errors, uncaught exceptions and failed requests recorded. */
interface TestPage {
  page: Page;
  problems: string[];
  /** Paths (on our server) of every request the page made. */
  requested: string[];
  /** Runs fn, adding what the page reported to any error; then fails on any report. */
  run<T>(what: string, fn: () => Promise<T>): Promise<T>;
}

// ---------------------------------------------------------------------------------------
// Deterministic inputs: per-channel offsets and scales so the normalization is not trivial.

function makeCase(shape: number[], dataFormat: "channelsFirst" | "channelsLast", seed: number) {
  const r = rng(seed);
  const C = dataFormat === "channelsLast" ? shape[shape.length - 1] : shape[1];
  const inner = dataFormat === "channelsLast" ? 1 : shape.slice(2).reduce((a, b) => a * b, 1);
  const n = shape.reduce((a, b) => a * b, 1);
  const offset = Array.from({ length: C }, (_, c) => 3 * (c - C / 2) + 0.25);
  const scale = Array.from({ length: C }, (_, c) => 0.5 + 0.75 * c);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(i / inner) % C;
    x[i] = offset[c] + scale[c] * r.normal();
  }
  const gamma = Float32Array.from({ length: C }, (_, c) => 0.5 + 0.3 * c * (c % 2 ? -1 : 1));
  const beta = Float32Array.from({ length: C }, (_, c) => -1 + 0.45 * c);
  return { x, gamma, beta, C };
}

function checkForward(got: ForwardResult, c: ReturnType<typeof makeCase>, shape: number[], dataFormat: "channelsFirst" | "channelsLast", what: string) {
  expect(got.yShape, `${what}: y shape`).toEqual(shape);
  const ref = refForwardTrain(c.x, shape, { gamma: c.gamma, beta: c.beta, dataFormat });
  expectClose(got.y, ref.y, TOL, `${what}: y`);
  const state = { mean: new Float64Array(c.C), var: new Float64Array(c.C).fill(1), numBatchesTracked: 0 };
  refRunningUpdate(state, ref, 0.1);
  expectClose(got.runningMean, state.mean, TOL, `${what}: running_mean`);
  expectClose(got.runningVar, state.var, TOL, `${what}: running_var`);
  expect(got.numBatchesTracked, `${what}: num_batches_tracked`).toBe(1);
}

const NCHW = [3, 5, 7, 9];
const NHWC = [3, 7, 9, 5];

describe.skipIf(SKIP)(SKIP ? `browser (${SKIP_MESSAGE})` : "browser: the built package in headless Chromium", () => {
  let server: http.Server | null = null;
  let origin = "";
  let browser: Browser | null = null;
  let context: BrowserContext | null = null;

  beforeAll(async () => {
    const missing = ["dist/index.js", "dist/backend.js", "build/bn.relaxed.wasm", "build/bn.simd.wasm", "build/bn.scalar.wasm"].filter((f) => !existsSync(path.join(ROOT, f)));
    if (missing.length) throw new Error(`the package is not built (missing ${missing.join(", ")}): run \`npm run build\` first`);
    ({ server, origin } = await startServer(ROOT));
    // chromium.launch gives the browser a fresh temporary user-data-dir and removes it on close.
    browser = await launchChromium();
    context = await browser.newContext();
  }, 45_000);

  afterAll(async () => {
    await context?.close().catch(() => {});
    await browser?.close();
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server!.close(() => resolve()));
    }
  });

  /**
   * Runs body on a fresh page (its own module graph, so the package starts uninitialized)
   * at test/browser/index.html; fails with whatever the page reported (console errors,
   * uncaught exceptions, failed requests), including what it reported after body's last
   * evaluate, then closes the page.
   */
  async function withPage(body: (t: TestPage) => Promise<void>): Promise<void> {
    const page = await context!.newPage();
    const requested: string[] = [];
    page.on("request", (r) => {
      if (r.url().startsWith(origin + "/")) requested.push(new URL(r.url()).pathname);
    });
    const { problems, report } = watchPage(page);
    const run = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
      let value: T;
      try {
        value = await fn();
      } catch (e) {
        throw new Error(`${what} failed in the page: ${e instanceof Error ? e.message : String(e)}${report()}`);
      }
      if (problems.length) expect.fail(`${what}: the page reported errors:${report()}`);
      return value;
    };
    try {
      await run("loading test/browser/index.html", async () => {
        await page.goto(`${origin}/test/browser/index.html`, { waitUntil: "load", timeout: 10_000 });
        await page.waitForFunction(() => window.bnPage !== undefined, undefined, { timeout: 5_000 });
      });
      await body({ page, problems, requested, run });
      // Let queued tasks (timers, rejected promises) run, then look at the reports once more.
      await run("the page after the test", () => page.evaluate(() => new Promise<void>((r) => setTimeout(r, 20))));
    } finally {
      await page.close();
    }
  }

  it("serves the project root with the right MIME types and refuses paths outside it", async () => {
    expect((await rawGet(origin, "/dist/index.js")).type).toMatch(/^text\/javascript/);
    expect((await rawGet(origin, "/build/bn.simd.wasm")).type).toBe("application/wasm");
    expect((await rawGet(origin, "/test/browser/index.html")).type).toMatch(/^text\/html/);
    expect((await rawGet(origin, "/no/such/file.js")).status).toBe(404);
    for (const p of ["/../package.json", "/..%2f..%2fetc%2fpasswd", "/%2e%2e/%2e%2e/etc/passwd", "/dist/../../etc/passwd"]) {
      expect((await rawGet(origin, p)).status, p).toBe(403);
    }
  });

  it("throws an error mentioning init() when used before init()", async () => {
    await withPage(async (t) => {
      const got = await t.run("before init", () => t.page.evaluate(() => window.bnPage!.beforeInit()));
      expect(got.layer, "new BatchNorm2d(3) before init() should throw").not.toBeNull();
      expect(got.layer).toMatch(/init\(\)/);
      expect(got.tensor, "tensor(...) before init() should throw").not.toBeNull();
      expect(got.tensor).toMatch(/init\(\)/);
      expect(got.backendInfo, "backendInfo() before init() should throw").not.toBeNull();
      expect(got.backendInfo).toMatch(/init\(\)/);
    });
  });

  it("init() fetches the relaxed-SIMD build next to dist/ (Chromium runs relaxed SIMD) and BatchNorm2d trains like the float64 reference (NCHW and NHWC)", async () => {
    await withPage(async (t) => {
      const init = await t.run("init()", () => t.page.evaluate(() => window.bnPage!.initDefault()));
      expect(init.returned.build).toBe("relaxed");
      expect(init.info.build).toBe("relaxed");
      expect(init.info.simdSupported).toBe(true);
      expect(t.requested, "init() should fetch build/bn.relaxed.wasm relative to dist/backend.js").toContain("/build/bn.relaxed.wasm");
      expect(t.requested).not.toContain("/build/bn.scalar.wasm");
      expect(t.requested).not.toContain("/build/bn.simd.wasm");

      for (const [shape, dataFormat, seed] of [
        [NCHW, "channelsFirst", 11],
        [NHWC, "channelsLast", 12],
      ] as const) {
        const c = makeCase([...shape], dataFormat, seed);
        const args = { x: Array.from(c.x), shape: [...shape], dataFormat, gamma: Array.from(c.gamma), beta: Array.from(c.beta) };
        const got = await t.run(`forward ${dataFormat}`, () => t.page.evaluate((a) => window.bnPage!.forwardTrain(a), args));
        expect(got.info.build).toBe("relaxed");
        checkForward(got, c, [...shape], dataFormat, `relaxed ${dataFormat} [${shape.join(", ")}]`);
      }
    });
  });

  it("init({ wasm: URL of build/bn.scalar.wasm }) loads the scalar build, which matches too", async () => {
    await withPage(async (t) => {
      const href = `${origin}/build/bn.scalar.wasm`;
      const init = await t.run("init({ wasm })", () => t.page.evaluate((h) => window.bnPage!.initFromUrl(h), href));
      expect(init.returned.build).toBe("scalar");
      expect(init.info.build).toBe("scalar");
      expect(t.requested).toContain("/build/bn.scalar.wasm");
      expect(t.requested, "init({ wasm }) should not load the default build").not.toContain("/build/bn.relaxed.wasm");

      const c = makeCase([...NCHW], "channelsFirst", 13);
      const args = { x: Array.from(c.x), shape: [...NCHW], dataFormat: "channelsFirst", gamma: Array.from(c.gamma), beta: Array.from(c.beta) };
      const got = await t.run("forward (scalar)", () => t.page.evaluate((a) => window.bnPage!.forwardTrain(a), args));
      expect(got.info.build).toBe("scalar");
      checkForward(got, c, [...NCHW], "channelsFirst", "scalar channelsFirst [3, 5, 7, 9]");
    });
  });
});
