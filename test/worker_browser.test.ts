// trainInWorker() in headless Chromium, on the page served as `npm run demo` serves it
// (cross-origin isolated): progress events in order, stop(), errors from the worker, the
// threads option passed to init() inside the worker, and weights (state dict and safetensors
// bytes) equal byte for byte to what fit() gives in Node with the same seed and the same
// build (simd: IEEE arithmetic, no relaxed-SIMD choices left to the engine).
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { init } from "../src/backend.js";
import { toSafetensors } from "../src/serialize/safetensors.js";
import { fit } from "../src/training/fit.js";
import { buildModel, buildOptimizer, type LayerSpec, type OptimizerSpec } from "../src/worker/spec.js";
import { blobs } from "./check.js";
import { launchChromium, requireBuilt, SKIP, SKIP_MESSAGE, startDemoServer, watchPage } from "./browser/harness.js";

interface PageResult {
  events: { type: string; step?: number; loss?: number; valAccuracy?: number; threads?: number; threadsRequested?: number; threadsFallback?: string | null; build?: string }[];
  stopped?: boolean;
  steps?: number;
  loss?: number[];
  backend?: { build: string; threads: number; threadsRequested: number; threadsFallback: string | null };
  stateDict?: Record<string, number[]> | null;
  safetensors?: number[] | null;
  error: string | null;
}
declare global {
  interface Window {
    bnWorker?: { train(args: unknown): Promise<PageResult> };
  }
}

/** Four classes (the models' four outputs) of Gaussian blobs. */
const data = (n: number, features: number, seed: number) => blobs(n, features, 4, seed);

const SPEC: LayerSpec[] = [
  { layer: "Dense", args: [12, 32, { init: { normal: 0.3 }, seed: 1 }] },
  { layer: "BatchNorm1d", args: [32] },
  { layer: "Sigmoid" },
  { layer: "Dense", args: [32, 16, { seed: 2 }] },
  { layer: "BatchNorm1d", args: [16] },
  { layer: "ReLU" },
  { layer: "Dense", args: [16, 4, { seed: 3 }] },
];
const OPTIMIZER: OptimizerSpec = { name: "SGD", lr: 0.2, momentum: 0.9 };
const FIT = { epochs: 3, batchSize: 32, seed: 7, evalEvery: 10 } as const;
const train = data(400, 12, 1), val = data(100, 12, 2);

function bytesOf(v: ArrayBufferView): number[] {
  return Array.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
}

describe.skipIf(SKIP)(SKIP ? `trainInWorker in Chromium (${SKIP_MESSAGE})` : "trainInWorker in headless Chromium", () => {
  let server: Awaited<ReturnType<typeof startDemoServer>> | null = null;
  let browser: Browser | null = null;
  let node: { stateDict: Record<string, number[]>; safetensors: number[]; loss: number[]; valAccuracy: number[] };

  beforeAll(async () => {
    requireBuilt();
    // The reference: the same training in Node, on the same build.
    await init({ build: "simd" });
    const model = buildModel(SPEC);
    const h = fit(model, train, { ...FIT, validation: val, optimizer: buildOptimizer(model.parameters(), OPTIMIZER), verbose: false });
    const sd = model.stateDict();
    node = {
      stateDict: Object.fromEntries(Object.entries(sd).map(([k, v]) => [k, bytesOf(v)])),
      safetensors: bytesOf(toSafetensors(sd, model.stateShapes())),
      loss: h.loss,
      valAccuracy: h.valAccuracy,
    };
    model.dispose();
    server = await startDemoServer();
    browser = await launchChromium();
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function onPage(args: Record<string, unknown>): Promise<PageResult> {
    const page: Page = await browser!.newPage();
    const watch = watchPage(page);
    try {
      await page.goto(`${server!.origin}/test/browser/worker.html`, { waitUntil: "load", timeout: 10_000 });
      await page.waitForFunction(() => window.bnWorker !== undefined, undefined, { timeout: 5_000 });
      expect(await page.evaluate(() => crossOriginIsolated), "the demo server's headers make the page cross-origin isolated").toBe(true);
      const got = await page.evaluate((a) => window.bnWorker!.train(a), {
        ...args,
        x: Array.from(train.x),
        y: Array.from(train.y),
        valX: Array.from(val.x),
        valY: Array.from(val.y),
      });
      expect(watch.problems, watch.report()).toEqual([]);
      return got;
    } finally {
      await page.close();
    }
  }

  it("posts ready, then progress and eval events in step order, and returns the state dict Node's fit() gives, byte for byte", async () => {
    const got = await onPage({ options: { model: SPEC, optimizer: OPTIMIZER, ...FIT, build: "simd", progressEvery: 5 } });
    expect(got.error).toBeNull();
    expect(got.events[0]).toMatchObject({ type: "ready", build: "simd" });
    const progress = got.events.filter((e) => e.type === "progress").map((e) => e.step);
    // 400 samples / 32 = 12.5 -> 13 batches an epoch, 39 steps: every 5th, then the last.
    expect(progress).toEqual([5, 10, 15, 20, 25, 30, 35, 39]);
    const evals = got.events.filter((e) => e.type === "eval").map((e) => e.step);
    expect(evals).toEqual([10, 20, 30, 39]);
    const order = got.events.slice(1).map((e) => e.step!);
    expect(order, "events arrive in step order").toEqual([...order].sort((a, b) => a - b));
    expect(got.stopped).toBe(false);
    expect(got.steps).toBe(39);
    expect(got.loss).toEqual(node.loss);
    expect(got.events.filter((e) => e.type === "eval").map((e) => e.valAccuracy)).toEqual(node.valAccuracy);
    expect(Object.keys(got.stateDict!).sort()).toEqual(Object.keys(node.stateDict).sort());
    for (const k of Object.keys(node.stateDict)) expect(got.stateDict![k], k).toEqual(node.stateDict[k]);
  });

  it("weights: 'safetensors' returns the bytes of Node's toSafetensors() of the same training", async () => {
    const got = await onPage({ options: { model: SPEC, optimizer: OPTIMIZER, ...FIT, build: "simd", weights: "safetensors" } });
    expect(got.error).toBeNull();
    expect(got.stateDict).toBeNull();
    expect(got.safetensors).toEqual(node.safetensors);
  });

  it("stop() ends training after the current step with the weights so far; threads reach init() inside the worker", async () => {
    const got = await onPage({ options: { model: SPEC, optimizer: OPTIMIZER, steps: 1_000_000, batchSize: 32, progressEvery: 1, yieldEvery: 0, threads: 2 }, stopAt: 3 });
    expect(got.error).toBeNull();
    expect(got.stopped).toBe(true);
    expect(got.steps).toBeGreaterThanOrEqual(3);
    expect(got.steps).toBeLessThan(1_000_000);
    const progress = got.events.filter((e) => e.type === "progress").map((e) => e.step);
    expect(progress).toEqual(Array.from({ length: got.steps! }, (_, i) => i + 1));
    expect(got.backend!.threadsRequested).toBe(2);
    // Until the worker pool runs in browser workers, init() falls back to one thread and says why.
    if (got.backend!.threads === 1) expect(got.backend!.threadsFallback).toMatch(/\w/);
    else expect(got.backend!.threads).toBe(2);
  });

  it("rejects run.done with the worker's error, naming the bad layer", async () => {
    const got = await onPage({ options: { model: [{ layer: "Dense", args: [12, 4, { epsilon: 1 }] }], optimizer: OPTIMIZER, epochs: 1 } });
    expect(got.error).toMatch(/^trainInWorker: .*unknown option "epsilon"/);
  });
});
