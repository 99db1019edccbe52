// The CIFAR-10 experiment end to end on generated images (a tiny width): training both
// networks, the JSON and figures, and resuming a stopped run bit for bit.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { init } from "../src/index.js";
import type { Cifar10Data } from "../src/data/cifar10.js";
import { cifarFigures, cifarLearningRate, planCifarMemory, runCifar } from "../src/experiments/cifar.js";
import { Rng } from "../src/random.js";
import { BUILDS } from "./check.js";

/** Images whose class shows in their colour (so a network can learn something), with noise. */
function fakeCifar(nTrain: number, nTest: number, seed: number): Cifar10Data {
  const rng = new Rng(seed);
  const split = (n: number) => {
    const images = new Uint8Array(n * 3072);
    const labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const c = rng.int(10);
      labels[i] = c;
      for (let p = 0; p < 3072; p++) images[i * 3072 + p] = Math.min(255, Math.floor(((c * 37 * (1 + Math.floor(p / 1024))) % 200) + 55 * rng.uniform()));
    }
    return { images, labels };
  };
  return { train: split(nTrain), test: split(nTest), source: "generated" };
}

const TINY = { width: 0.0625, subset: 0, batchSize: 8, testSubset: 24, seed: 3 } as const;
let dir = "";
let data: Cifar10Data;

beforeAll(async () => {
  await init({ build: BUILDS[0] });
  dir = mkdtempSync(join(tmpdir(), "bnwasm-cifar-"));
  data = fakeCifar(48, 24, 1);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function modelBytes(checkpoint: string, network: string): Buffer {
  const d = join(checkpoint, network);
  return readFileSync(join(d, readdirSync(d).find((f) => f.startsWith("model."))!));
}

describe("the CIFAR-10 experiment", () => {
  it("follows the seed's schedule: lr x0.1 at epochs 10, 20, 30 (counted from 1: floor((1 + epoch0) / 10))", () => {
    expect([0, 8, 9, 18, 19, 29].map((e) => cifarLearningRate(0.01, e))).toEqual([0.01, 0.01, 0.01 * 0.1, 0.01 * 0.1, 0.01 * 0.1 ** 2, 0.01 * 0.1 ** 3]);
  });

  it("trains both networks, writes per-epoch curves and the figures", async () => {
    const r = await runCifar({ data, ...TINY, epochs: 2 });
    for (const n of ["bn", "plain"] as const) {
      const c = r.networks[n]!;
      expect(c.epochs).toEqual([1, 2]);
      for (const k of ["valAccuracy", "valLoss", "trainLoss", "trainAccuracy"] as const) {
        expect(c[k]).toHaveLength(2);
        for (const v of c[k]) expect(Number.isFinite(v)).toBe(true);
      }
      expect(c.secondsPerStep).toBeGreaterThan(0);
    }
    // The two networks differ (BN or not) but saw the same batches from the same kernels: their losses are not equal.
    expect(r.networks.bn!.trainLoss).not.toEqual(r.networks.plain!.trainLoss);
    const figs = cifarFigures(r);
    expect(Object.keys(figs).sort()).toEqual(["cifar-accuracy.svg", "cifar-loss.svg"]);
    expect(figs["cifar-accuracy.svg"]).toContain("with BN");
  });

  it("resumes a run stopped after epoch 1 bit for bit", async () => {
    const whole = join(dir, "whole"), parts = join(dir, "parts");
    const a = await runCifar({ data, ...TINY, epochs: 3, dropout: 0.3, checkpointDir: whole });
    const stopped = await runCifar({ data, ...TINY, epochs: 3, dropout: 0.3, checkpointDir: parts, stopAfterEpoch: 1 });
    expect(stopped.networks.bn!.epochs).toEqual([1]);
    const b = await runCifar({ data, ...TINY, epochs: 3, dropout: 0.3, checkpointDir: parts, resume: true });
    for (const n of ["bn", "plain"] as const) {
      const ca = a.networks[n]!, cb = b.networks[n]!;
      expect(cb.epochs).toEqual([1, 2, 3]);
      expect(cb.valLoss).toEqual(ca.valLoss);
      expect(cb.trainLoss).toEqual(ca.trainLoss);
      expect(cb.valAccuracy).toEqual(ca.valAccuracy);
      expect(modelBytes(parts, n).equals(modelBytes(whole, n))).toBe(true);
    }
  });

  it("trains one network at a time when two do not fit, memory-lean: the same results as together, and resumes the same way", async () => {
    const plan = planCifarMemory({ width: TINY.width, batchSize: TINY.batchSize, networks: 2, budget: 1 });
    expect(plan).toMatchObject({ lean: true, together: false });
    const together = await runCifar({ data, ...TINY, epochs: 2, memory: "lean" });
    const d = join(dir, "apart");
    await runCifar({ data, ...TINY, epochs: 2, activationBudget: 1, checkpointDir: d, stopAfterEpoch: 1 });
    const apart = await runCifar({ data, ...TINY, epochs: 2, activationBudget: 1, checkpointDir: d, resume: true });
    expect(apart.config).toMatchObject({ memory: "lean", schedule: "one network at a time" });
    for (const n of ["bn", "plain"] as const) {
      expect(apart.networks[n]!.valLoss).toEqual(together.networks[n]!.valLoss);
      expect(apart.networks[n]!.trainLoss).toEqual(together.networks[n]!.trainLoss);
    }
  });

  it("keeps every activation when it fits, and says how much it plans for", () => {
    expect(planCifarMemory({ width: 0.125, batchSize: 64, networks: 2 })).toMatchObject({ lean: false, together: true });
    // The seed's setting: memory-lean, and only one network fits 4 GiB at a time.
    const seed = planCifarMemory({ width: 1, batchSize: 250, networks: 2 });
    expect(seed).toMatchObject({ lean: true, together: false });
    expect(seed.estimateBytes / 2 ** 30).toBeGreaterThan(3);
    expect(seed.estimateBytes / 2 ** 30).toBeLessThan(3.3);
  });

  it("refuses to resume a checkpoint of another configuration, naming what differs", async () => {
    const d = join(dir, "other");
    await runCifar({ data, ...TINY, epochs: 1, checkpointDir: d });
    await expect(runCifar({ data, ...TINY, epochs: 2, lr: 0.05, checkpointDir: d, resume: true })).rejects.toThrow(/another run configuration \(lr: 0.01 in the checkpoint, 0.05 now\)/);
  });

  it("rejects bad options before reading any data", async () => {
    await expect(runCifar({ data, ...TINY, networks: ["bn", "bn"] })).rejects.toThrow(/networks must list distinct names/);
    await expect(runCifar({ data, ...TINY, batchSize: 1 })).rejects.toThrow(/batchSize must be an integer >= 2/);
    await expect(runCifar({ data, ...TINY, width: 0 })).rejects.toThrow(/width must be a number > 0/);
    await expect(runCifar({ data, ...TINY, resume: true })).rejects.toThrow(/resume needs checkpointDir/);
  });
});
