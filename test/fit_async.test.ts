// fit(..., { yieldEvery }) (a Promise, turns for the event loop between steps, the same steps
// and weights as the synchronous fit) and the plain-data model and optimizer specs that
// trainInWorker() sends to its worker.
import { beforeAll, describe, expect, it } from "vitest";
import { init } from "../src/backend.js";
import { BatchNorm1d } from "../src/layers/batchnorm.js";
import { Sigmoid } from "../src/layers/activations.js";
import { Dense } from "../src/layers/dense.js";
import { Sequential } from "../src/layers/sequential.js";
import type { StateDict } from "../src/module.js";
import { Adam } from "../src/optim/adam.js";
import { SGD } from "../src/optim/sgd.js";
import { fit } from "../src/training/fit.js";
import { buildModel, buildOptimizer, type LayerSpec } from "../src/worker/spec.js";
import { blobs } from "./check.js";

beforeAll(async () => {
  await init();
});

/** Four classes (the models' four outputs) of Gaussian blobs. */
const data = (n: number, features: number, seed: number) => blobs(n, features, 4, seed);

const SPEC: LayerSpec[] = [
  { layer: "Dense", args: [8, 16, { init: { normal: 0.3 }, seed: 1 }] },
  { layer: "BatchNorm1d", args: [16] },
  { layer: "Sigmoid" },
  { layer: "Dense", args: [16, 4, { seed: 2 }] },
];

function bytesOf(sd: StateDict): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [k, v] of Object.entries(sd)) out[k] = Array.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  return out;
}

describe("fit with yieldEvery", () => {
  it("returns a Promise, lets the event loop run between steps, and trains exactly as the synchronous fit", async () => {
    const train = data(300, 8, 1), val = data(100, 8, 2);
    const options = { epochs: 3, batchSize: 32, seed: 5, validation: val, evalEvery: 7, verbose: false } as const;
    const a = buildModel(SPEC);
    const sync = fit(a, train, { ...options, optimizer: new SGD(a.parameters(), { lr: 0.2, momentum: 0.9 }) });
    const b = buildModel(SPEC);
    let turns = 0, running = true;
    const tick = () => {
      turns++;
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    const steps: number[] = [];
    const pending = fit(b, train, { ...options, optimizer: new SGD(b.parameters(), { lr: 0.2, momentum: 0.9 }), yieldEvery: 0, callbacks: { onStep: (i) => void steps.push(i.step) } });
    expect(pending).toBeInstanceOf(Promise);
    const turnsAtStart = turns;
    const history = await pending;
    running = false;
    expect(turns - turnsAtStart, "the event loop should have had turns while fit ran").toBeGreaterThanOrEqual(history.steps - 1);
    expect(steps).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(history.loss).toEqual(sync.loss);
    expect(history.valAccuracy).toEqual(sync.valAccuracy);
    expect(bytesOf(b.stateDict())).toEqual(bytesOf(a.stateDict()));
    a.dispose();
    b.dispose();
  });

  it("stops when a callback returns false, and rejects (does not throw) on bad options", async () => {
    const train = data(200, 8, 3);
    const m = buildModel(SPEC);
    const opt = new SGD(m.parameters(), { lr: 0.1 });
    const h = await fit(m, train, { steps: 50, batchSize: 20, optimizer: opt, verbose: false, yieldEvery: 1, callbacks: { onStep: (i) => i.step < 12 } });
    expect(h.steps).toBe(12);
    expect(h.stopped).toBe(true);
    await expect(fit(m, train, { optimizer: opt, yieldEvery: -1 })).rejects.toThrow(/yieldEvery must be a non-negative number of milliseconds, got -1/);
    await expect(fit(m, train, { optimizer: opt, batchSize: 0, yieldEvery: 5 })).rejects.toThrow(/batchSize must be a positive integer/);
    m.dispose();
  });
});

describe("model and optimizer specs", () => {
  it("buildModel gives the network the same constructor calls give, and buildOptimizer the optimizer", () => {
    const spec = buildModel(SPEC);
    const code = new Sequential([new Dense(8, 16, { init: { normal: 0.3 }, seed: 1 }), new BatchNorm1d(16), new Sigmoid(), new Dense(16, 4, { seed: 2 })]);
    expect(String(spec)).toBe(String(code));
    expect(bytesOf(spec.stateDict())).toEqual(bytesOf(code.stateDict()));
    expect(buildOptimizer(spec.parameters(), { name: "SGD", lr: 0.3, momentum: 0.9 })).toBeInstanceOf(SGD);
    const adam = buildOptimizer(spec.parameters(), { name: "Adam", lr: 1e-3 });
    expect(adam).toBeInstanceOf(Adam);
    expect(adam.lr).toBe(1e-3);
    spec.dispose();
    code.dispose();
  });

  it("names what is wrong with a spec", () => {
    expect(() => buildModel([{ layer: "Conv3d" } as unknown as LayerSpec])).toThrow(/layer 0: expected \{ layer: Dense \| BatchNorm1d/);
    expect(() => buildModel([])).toThrow(/non-empty array/);
    expect(() => buildModel([{ layer: "Dense", args: [8, 4, { epsilon: 1 }] }])).toThrow(/unknown option "epsilon"/);
    expect(() => buildModel([{ layer: "Dense", args: 8 as unknown as unknown[] }])).toThrow(/args must be an array/);
    const m = buildModel(SPEC);
    expect(() => buildOptimizer(m.parameters(), { name: "RMSprop" } as never)).toThrow(/name must be 'SGD', 'Adam' or 'AdamW', got the string "RMSprop"/);
    m.dispose();
  });
});

describe("trainInWorker outside a browser", () => {
  it("checks its options before it starts a worker, and says where it cannot run", async () => {
    const { trainInWorker } = await import("../src/worker/train_in_worker.js");
    const base = { model: SPEC, optimizer: { name: "SGD", lr: 0.1 } as const, train: data(10, 8, 1) };
    expect(() => trainInWorker({ ...base, callbacks: {} } as never)).toThrow(/trainInWorker: unknown option "callbacks"/);
    expect(() => trainInWorker({ ...base, progressEvery: 0 })).toThrow(/progressEvery must be a positive integer, got 0/);
    expect(() => trainInWorker({ ...base, weights: "onnx" as never })).toThrow(/weights must be 'stateDict' or 'safetensors'/);
    if (typeof (globalThis as { Worker?: unknown }).Worker !== "function") {
      expect(() => trainInWorker(base)).toThrow(/this engine has no Web Worker \(in Node, call fit\(\) directly\)/);
    }
  });
});
