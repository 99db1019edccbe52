// The demo page (demo/) in headless Chromium, served by `node demo/serve.mjs` exactly as
// `npm run demo` runs it: cross-origin isolated, the relaxed build in the training worker;
// after 500 steps both networks pass 80% test accuracy with BN ahead; a digit drawn with
// mouse events gets both networks' predictions; no console errors. Writes a screenshot to
// test-output/demo/ (the full page, and the small one the README shows); with
// BNWASM_UPDATE_DOCS=1 the small one also replaces docs/demo.png.
import { copyFileSync, mkdirSync, statSync } from "node:fs";
import path from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, requireBuilt, ROOT, SKIP, SKIP_MESSAGE, startDemoServer, watchPage } from "./browser/harness.js";

interface Evaluations {
  steps: number[];
  bn: number[];
  plain: number[];
}
interface DemoState {
  steps: number;
  testAccuracy: { bn: number | null; plain: number | null };
  build: string | null;
  threads: number | null;
  threadsFallback: string | null;
  crossOriginIsolated: boolean;
  stepsPerSecond: number;
  elapsedSeconds: number;
  evaluations: Evaluations;
  prediction: { steps: number; bn: number; plain: number } | null;
  error: string | null;
}
declare global {
  interface Window {
    demoState?: DemoState;
  }
}

const OUT = path.join(ROOT, "test-output", "demo");

describe.skipIf(SKIP)(SKIP ? `demo page (${SKIP_MESSAGE})` : "demo page in headless Chromium", () => {
  let server: Awaited<ReturnType<typeof startDemoServer>> | null = null;
  let browser: Browser | null = null;

  beforeAll(async () => {
    requireBuilt();
    server = await startDemoServer();
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("trains both networks in a worker past 500 steps (both > 80%, BN ahead), predicts a drawn digit, and reports no errors", async () => {
    const page = await browser!.newPage({ viewport: { width: 1180, height: 900 } });
    const watch = watchPage(page);
    try {
      await page.goto(server!.url, { waitUntil: "load", timeout: 15_000 });
      await page.waitForFunction(() => window.demoState?.build != null || window.demoState?.error != null, undefined, { timeout: 60_000 });
      const ready = (await page.evaluate(() => ({ ...window.demoState! })))!;
      expect(ready.error, watch.report()).toBeNull();
      expect(ready.crossOriginIsolated, "npm run demo's COOP/COEP headers").toBe(true);
      expect(ready.build).toBe("relaxed");
      // The page asks for every core; cross-origin isolated, its training Worker gets them.
      const cores = await page.evaluate(() => navigator.hardwareConcurrency);
      expect(ready.threads, `threads (fallback: ${ready.threadsFallback})`).toBe(cores);
      expect(await page.locator("#build").textContent()).toBe("relaxed");

      await page.click("#start");
      // Evaluations come every 50 steps on a fixed set of 1,000 held-out digits; training is
      // seeded, so which evaluation first satisfies this does not depend on the machine.
      await page.waitForFunction(
        () => {
          const s = window.demoState!;
          if (s.error) return true;
          const e = s.evaluations;
          return s.steps >= 500 && e.steps.some((step, i) => step >= 500 && e.bn[i] > 0.8 && e.plain[i] > 0.8 && e.bn[i] > e.plain[i]);
        },
        undefined,
        { timeout: 180_000, polling: 100 },
      );
      const trained = await page.evaluate(() => JSON.parse(JSON.stringify(window.demoState)) as DemoState);
      expect(trained.error, watch.report()).toBeNull();
      const e = trained.evaluations;
      const at500 = e.steps.indexOf(500);
      expect(at500, "an evaluation at step 500").toBeGreaterThanOrEqual(0);
      expect(e.bn[at500], "BN ahead at step 500").toBeGreaterThan(e.plain[at500]);
      expect(e.bn[at500]).toBeGreaterThan(0.8);
      expect(trained.testAccuracy.bn).toBeGreaterThan(0.8);
      expect(trained.testAccuracy.plain).toBeGreaterThan(0.8);
      expect(trained.steps).toBeGreaterThanOrEqual(500);
      expect(trained.stepsPerSecond).toBeGreaterThan(0);
      expect(trained.elapsedSeconds).toBeGreaterThan(0);
      console.log(`demo: ${ready.build} build, ${ready.threads} thread(s); ${trained.steps} steps, ${trained.stepsPerSecond.toFixed(0)} steps/s (both networks), ${trained.elapsedSeconds.toFixed(1)} s of training; at step 500: BN ${e.bn[at500]}, plain ${e.plain[at500]}`);

      await page.click("#start"); // stop
      await page.waitForFunction(() => document.querySelector("#status")?.textContent?.startsWith("stopped"), undefined, { timeout: 10_000 });

      // A 7, drawn with mouse events.
      const box = (await page.locator("#canvas").boundingBox())!;
      await page.mouse.move(box.x + 70, box.y + 45);
      await page.mouse.down();
      for (const [x, y] of [[150, 45], [150, 60], [120, 120], [95, 190]]) await page.mouse.move(box.x + x, box.y + y, { steps: 6 });
      await page.mouse.up();
      await page.waitForFunction(() => window.demoState!.prediction !== null, undefined, { timeout: 10_000 });
      const prediction = await page.evaluate(() => window.demoState!.prediction!);
      for (const n of ["bn", "plain"] as const) {
        expect(prediction[n]).toBeGreaterThanOrEqual(0);
        expect(prediction[n]).toBeLessThan(10);
        expect(await page.locator(`#pred-${n} .top`).textContent()).toBe(String(prediction[n]));
      }
      console.log(`demo: the drawn 7 is read as ${prediction.bn} with BN, ${prediction.plain} without`);

      // The charts redraw at most every 250 ms: wait for the last one, then take the pictures.
      await page.waitForTimeout(400);
      mkdirSync(OUT, { recursive: true });
      await page.screenshot({ path: path.join(OUT, "demo.png"), fullPage: true });
      const small = path.join(OUT, "demo-small.png");
      await page.screenshot({ path: small, clip: { x: 0, y: 0, width: 1180, height: 880 } });
      expect(statSync(small).size, "the README's screenshot stays small").toBeLessThan(150 * 1024);
      if (process.env.BNWASM_UPDATE_DOCS === "1") {
        mkdirSync(path.join(ROOT, "docs"), { recursive: true });
        copyFileSync(small, path.join(ROOT, "docs", "demo.png"));
      }

      expect(watch.problems, watch.report()).toEqual([]);
    } finally {
      await page.close();
    }
  }, 240_000);

  it("serves the page with the isolation headers and refuses paths outside the repository", async () => {
    const res = await fetch(server!.url);
    expect(res.status).toBe(200);
    expect(res.headers.get("cross-origin-opener-policy")).toBe("same-origin");
    expect(res.headers.get("cross-origin-embedder-policy")).toBe("require-corp");
    expect((await fetch(`${server!.origin}/demo/data/mnist-embedded.bin`, { method: "HEAD" })).status).toBe(200);
    expect((await fetch(`${server!.origin}/build/bn.relaxed.wasm`)).headers.get("content-type")).toBe("application/wasm");
    expect((await fetch(`${server!.origin}/`, { redirect: "manual" })).headers.get("location")).toBe("/demo/");
    expect((await fetch(`${server!.origin}/no/such/file`)).status).toBe(404);
    // fetch() normalizes "..": a raw request line is needed to send one.
    const { request } = await import("node:http");
    const { hostname, port } = new URL(server!.origin);
    for (const p of ["/../package.json", "/%2e%2e/%2e%2e/etc/passwd", "/demo/..%2f..%2fetc%2fpasswd"]) {
      const status = await new Promise<number>((resolve, reject) => {
        const req = request({ hostname, port, path: p, agent: false }, (r) => {
          r.resume();
          resolve(r.statusCode ?? 0);
        });
        req.on("error", reject);
        req.end();
      });
      expect(status, p).toBe(403);
    }
  });
});
