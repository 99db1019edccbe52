// The small-batch experiment (src/experiments/small_batch.ts): a tiny run on the embedded
// digits returns every method of every setting on the same steps, with Ghost BN left out
// where the batch allows no ghost batch; the 2-class batches hold two classes; the figures
// are well-formed; and the `small-batch` command writes its JSON and SVGs, rejecting bad
// arguments with exit code 2 before anything runs.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { init } from "../src/backend.js";
import { loadEmbeddedMnist } from "../src/data/mnist_embedded.js";
import type { MnistData } from "../src/data/mnist.js";
import { ghostBatchFor, pickSettings, renormScheduleFor, runSmallBatch, SMALL_BATCH_METHODS, smallBatchFigures, type SmallBatchResult, smallBatchTable } from "../src/experiments/small_batch.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(ROOT, "src", "cli.ts");
const TSX = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
const tmp = mkdtempSync(join(tmpdir(), "bnw-small-batch-"));

function run(args: string[], timeout = 120_000) {
  const r = spawnSync(process.execPath, ["--import", TSX, CLI, ...args], { encoding: "utf8", timeout, cwd: tmp });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let data: MnistData;
let result: SmallBatchResult;
const logs: string[] = [];

beforeAll(async () => {
  await init();
  data = await loadEmbeddedMnist({ seed: 0 });
  result = await runSmallBatch({ data, steps: 12, evalEvery: 6, seed: 1 }, (s) => logs.push(s));
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe("runSmallBatch", () => {
  it("runs every method in every setting for the same steps; Ghost BN only where the batch allows", () => {
    expect(result.settings.map((s) => s.name)).toEqual(["batch 2", "batch 4", "batch 8", "batch 60", "batch 60, 2 classes"]);
    for (const s of result.settings) {
      for (const m of SMALL_BATCH_METHODS) {
        const r = s.methods[m]!;
        if (m === "ghost" && s.batchSize === 2) {
          expect(r.steps).toBeNull();
          expect(r.note).toMatch(/no ghost batch size/);
          continue;
        }
        expect(r.steps, `${s.name} ${m}`).toEqual([6, 12]);
        expect(r.testAccuracy!.every((a) => a >= 0 && a <= 1)).toBe(true);
        expect(r.finalTestAccuracy).toBe(r.testAccuracy![1]);
        expect(r.trainLoss!.every(Number.isFinite)).toBe(true);
      }
    }
    expect(logs.filter((l) => /: step /.test(l))).toHaveLength(10);
  });

  it("the batch rules: ghost batches of 4 from 8 up, 2 at 4, none at 2; renorm's ramps scale with the steps", () => {
    expect([2, 4, 8, 60].map(ghostBatchFor)).toEqual([null, 2, 4, 4]);
    expect(renormScheduleFor(1000)).toEqual({ rMax: { from: 1, to: 3, start: 50, end: 400 }, dMax: { from: 0, to: 5, start: 50, end: 250 } });
    expect(pickSettings(["60-2c", "2"]).map((s) => s.name)).toEqual(["batch 2", "batch 60, 2 classes"]);
    expect(() => pickSettings(["16"])).toThrow('small-batch: unknown setting "16"');
  });

  it("the same seed gives the same results; BN learns at batch 60 within a few hundred steps", async () => {
    const a = await runSmallBatch({ data, steps: 150, evalEvery: 75, settings: ["60"], methods: ["bn", "none"], seed: 2 });
    const b = await runSmallBatch({ data, steps: 150, evalEvery: 75, settings: ["60"], methods: ["bn", "none"], seed: 2 });
    expect(a.settings[0].methods.bn!.testAccuracy).toEqual(b.settings[0].methods.bn!.testAccuracy);
    expect(a.settings[0].methods.bn!.finalTestAccuracy).toBeGreaterThan(0.6);
  });

  it("rejects bad options", async () => {
    await expect(runSmallBatch({ data, steps: 0 })).rejects.toThrow("small-batch: steps must be a positive integer, got 0");
    await expect(runSmallBatch({ data, methods: ["batchnorm" as never] })).rejects.toThrow('small-batch: unknown method "batchnorm"');
    await expect(runSmallBatch({ data, groups: 7 })).rejects.toThrow("small-batch: groups must divide the 100 hidden features, got 7");
  });

  it("figures: a grouped bar chart of the final accuracies (n/a where not run) and one curve chart per setting", () => {
    const files = smallBatchFigures(result);
    expect(Object.keys(files).sort()).toEqual(["small-batch-curves-1.svg", "small-batch-curves-2.svg", "small-batch-curves-3.svg", "small-batch-curves-4.svg", "small-batch-curves-5.svg", "small-batch-final.svg"]);
    const bars = files["small-batch-final.svg"];
    expect(bars.match(/<rect class="bar"/g)).toHaveLength(29);
    expect(bars).toContain(">n/a<");
    expect(bars).not.toMatch(/NaN|undefined/);
    expect(files["small-batch-curves-1.svg"].match(/<path class="series"/g)).toHaveLength(5);
    expect(files["small-batch-curves-4.svg"].match(/<path class="series"/g)).toHaveLength(6);
    expect(smallBatchTable(result).split("\n")).toHaveLength(8);
  });
});

describe("the small-batch command", () => {
  it("a tiny run on the embedded digits writes small-batch.json and the figures, and prints the table", () => {
    const out = join(tmp, "run");
    const r = run(["small-batch", "--steps", "4", "--eval-every", "2", "--settings", "4,60-2c", "--methods", "bn,renorm,ghost,layernorm", "--out", out]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\| method \| batch 4 \| batch 60, 2 classes \|$/m);
    expect(r.stdout).toMatch(/^\| Batch Renorm \| [\d.]+% \| [\d.]+% \|$/m);
    expect(readdirSync(out).sort()).toEqual(["small-batch-curves-1.svg", "small-batch-curves-2.svg", "small-batch-final.svg", "small-batch.json"]);
    const json = JSON.parse(readFileSync(join(out, "small-batch.json"), "utf8")) as SmallBatchResult;
    expect(json.config.steps).toBe(4);
    expect(json.settings[1].methods.ghost!.steps).toEqual([2, 4]);
  });

  for (const [args, message] of [
    [["small-batch", "--methods", "bn,bn"], /--methods names a method twice/],
    [["small-batch", "--methods", "batchnorm"], /--methods expects names out of bn, renorm, ghost, layernorm, groupnorm, none/],
    [["small-batch", "--settings", "16"], /--settings: unknown setting "16" \(settings: 2, 4, 8, 60, 60-2c\)/],
    [["small-batch", "--steps", "0"], /--steps must be at least 1/],
  ] as [string[], RegExp][]) {
    it(`exits with 2 on: ${args.join(" ")}`, () => {
      const r = run([...args, "--out", join(tmp, "never")]);
      expect(r.stderr).toMatch(message);
      expect(r.code).toBe(2);
      expect(readdirSync(tmp)).not.toContain("never");
    });
  }
});
