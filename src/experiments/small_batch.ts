// The small-batch experiment: Batch Normalization depends on the mini-batch, and Batch
// Renormalization (Ioffe 2017, section 4.3: small and non-i.i.d. mini-batches), Ghost Batch
// Norm and the per-sample normalizations (LayerNorm, Ba et al. 2016; GroupNorm, Wu & He 2018)
// answer that. The paper's MNIST network of Ioffe & Szegedy 2015 section 4.1 (784-100-100-
// 100-10, sigmoid, a normalization layer before each sigmoid; buildPaperNetwork) is trained
// with mini-batches of 2, 4, 8 and 60 drawn i.i.d., and with batches of 60 drawn from only
// 2 classes each, once per normalization method. Within a setting every method starts from
// the same weights and sees the same batches for the same number of steps; test accuracy is
// measured in eval mode (running estimates for the batch methods) on the whole test set.
import { getBackend } from "../backend.js";
import type { MnistData } from "../data/mnist.js";
import { gatherSamples, type Samples, toSamples } from "../data/dataset.js";
import { BatchNorm1d } from "../layers/batchnorm.js";
import { GroupNorm } from "../layers/group_norm.js";
import { LayerNorm } from "../layers/layer_norm.js";
import { CrossEntropyLoss } from "../loss.js";
import type { Module } from "../module.js";
import { SGD } from "../optim/sgd.js";
import { barChart } from "../plot/bars.js";
import { lineChart } from "../plot/svg.js";
import { Rng } from "../random.js";
import { zeros } from "../tensor.js";
import { Evaluator } from "../training/evaluate.js";
import { TrainStep } from "../training/step.js";
import { type DataOptions, loadData, type Log, round, secondsSince } from "./common.js";
import { buildPaperNetwork } from "./mnist_paper.js";

/** A batch setting: its size and whether each batch holds only 2 classes. */
export interface BatchSetting {
  name: string;
  batchSize: number;
  nonIid: boolean;
}

export const SMALL_BATCH_SETTINGS: readonly BatchSetting[] = [
  { name: "batch 2", batchSize: 2, nonIid: false },
  { name: "batch 4", batchSize: 4, nonIid: false },
  { name: "batch 8", batchSize: 8, nonIid: false },
  { name: "batch 60", batchSize: 60, nonIid: false },
  { name: "batch 60, 2 classes", batchSize: 60, nonIid: true },
];

export const SMALL_BATCH_METHODS = ["bn", "renorm", "ghost", "layernorm", "groupnorm", "none"] as const;
export type SmallBatchMethod = (typeof SMALL_BATCH_METHODS)[number];

/** Training steps of the default run: about 20 minutes for all settings and methods on this project's 2-core machine. */
export const SMALL_BATCH_DEFAULT_STEPS = 25000;

export interface SmallBatchOptions extends DataOptions {
  /** Training steps of every run. Default SMALL_BATCH_DEFAULT_STEPS. */
  steps?: number;
  /** SGD learning rate of every run. Default 0.5 (the paper's MNIST setting). */
  lr?: number;
  /** Settings by name (SMALL_BATCH_SETTINGS), or their keys "2", "4", "8", "60", "60-2c". Default: all. */
  settings?: readonly string[];
  /** Methods. Default: all. */
  methods?: readonly SmallBatchMethod[];
  /** Evaluate every this many steps (and after the last). Default steps / 20. */
  evalEvery?: number;
  /** Seed of the weights, the batches and the embedded data's split. Default 0. */
  seed?: number;
  /** GroupNorm's groups over the 100 features. Default 10. */
  groups?: number;
}

export interface MethodRun {
  /** null when the method cannot run at this batch size (see `note`). */
  steps: number[] | null;
  testAccuracy: number[] | null;
  /** Mean training loss over each evaluation interval. */
  trainLoss: number[] | null;
  finalTestAccuracy: number | null;
  note?: string;
  secondsPerStep?: number;
}

export interface SmallBatchResult {
  config: Record<string, unknown>;
  settings: { name: string; batchSize: number; nonIid: boolean; methods: Partial<Record<SmallBatchMethod, MethodRun>> }[];
  wallTimeSeconds: number;
}

const SETTING_KEYS: Record<string, string> = { "2": "batch 2", "4": "batch 4", "8": "batch 8", "60": "batch 60", "60-2c": "batch 60, 2 classes" };

/** The settings named by `names` (names or keys), in SMALL_BATCH_SETTINGS's order; throws naming an unknown one. */
export function pickSettings(names: readonly string[] | undefined): BatchSetting[] {
  if (!names) return [...SMALL_BATCH_SETTINGS];
  const wanted = names.map((n) => {
    const name = SETTING_KEYS[n] ?? n;
    if (!SMALL_BATCH_SETTINGS.some((s) => s.name === name)) {
      throw new Error(`small-batch: unknown setting "${n}" (settings: ${Object.keys(SETTING_KEYS).join(", ")})`);
    }
    return name;
  });
  return SMALL_BATCH_SETTINGS.filter((s) => wanted.includes(s.name));
}

/** Ghost batch size for a batch: 4 from batch 8 up, 2 at batch 4, none at 2 (one sample per ghost batch has no statistics). */
export function ghostBatchFor(batchSize: number): number | null {
  if (batchSize >= 8 && batchSize % 4 === 0) return 4;
  if (batchSize >= 4 && batchSize % 2 === 0) return 2;
  return null;
}

/**
 * Renorm's schedule scaled to the run: rMax 1 and dMax 0 (plain BN) for the first 5% of the
 * steps, then relaxed linearly to rMax 3 at 40% and dMax 5 at 25% (the paper: 5k, 40k and 25k
 * steps of a much longer run).
 */
export function renormScheduleFor(steps: number) {
  const start = Math.round(0.05 * steps);
  return {
    rMax: { from: 1, to: 3, start, end: Math.max(start + 1, Math.round(0.4 * steps)) },
    dMax: { from: 0, to: 5, start, end: Math.max(start + 1, Math.round(0.25 * steps)) },
  };
}

/** The normalization layer of `method` for `batchSize`, or a reason it cannot run. */
function normFor(method: SmallBatchMethod, batchSize: number, steps: number, groups: number): ((h: number) => Module) | null | string {
  switch (method) {
    case "bn":
      return (h) => new BatchNorm1d(h);
    case "renorm":
      return (h) => new BatchNorm1d(h, { renorm: renormScheduleFor(steps) });
    case "ghost": {
      const v = ghostBatchFor(batchSize);
      if (v === null) return `no ghost batch size below ${batchSize} keeps 2 samples per ghost batch`;
      return (h) => new BatchNorm1d(h, { virtualBatchSize: v });
    }
    case "layernorm":
      return (h) => new LayerNorm(h);
    case "groupnorm":
      return (h) => new GroupNorm(groups, h);
    case "none":
      return null;
  }
}

/** Per-class queues of training indices, each reshuffled when used up: batches of 2 classes. */
class TwoClassBatches {
  private readonly byClass: Int32Array[];
  private readonly pos: number[];
  constructor(s: Samples, private readonly rng: Rng) {
    const lists: number[][] = Array.from({ length: 10 }, () => []);
    for (let i = 0; i < s.count; i++) lists[s.y[i]].push(i);
    this.byClass = lists.map((l) => this.shuffled(Int32Array.from(l)));
    this.pos = this.byClass.map(() => 0);
  }
  private shuffled(a: Int32Array): Int32Array {
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.rng.uniform() * (i + 1));
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  }
  /** Fills `into` with half its samples from each of two distinct random classes, in shuffled order. */
  next(into: Int32Array): void {
    const a = Math.floor(this.rng.uniform() * 10);
    let b = Math.floor(this.rng.uniform() * 9);
    if (b >= a) b++;
    for (let k = 0; k < into.length; k++) {
      const c = k < into.length / 2 ? a : b;
      const list = this.byClass[c];
      if (this.pos[c] >= list.length) {
        this.shuffled(list);
        this.pos[c] = 0;
      }
      into[k] = list[this.pos[c]++];
    }
    this.shuffled(into);
  }
}

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new Error(`small-batch: ${name} must be a positive integer, got ${v}`);
  return v;
}

/** Trains every method in every setting; `log` receives a line per evaluation. */
export async function runSmallBatch(options: SmallBatchOptions = {}, log: Log = () => {}): Promise<SmallBatchResult> {
  const t0 = performance.now();
  const steps = positiveInt("steps", options.steps ?? SMALL_BATCH_DEFAULT_STEPS);
  const evalEvery = positiveInt("evalEvery", options.evalEvery ?? Math.max(1, Math.round(steps / 20)));
  const lr = options.lr ?? 0.5;
  if (!(lr > 0) || !Number.isFinite(lr)) throw new Error(`small-batch: lr must be a positive number, got ${lr}`);
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`small-batch: seed must be a non-negative integer, got ${seed}`);
  const groups = positiveInt("groups", options.groups ?? 10);
  if (100 % groups !== 0) throw new Error(`small-batch: groups must divide the 100 hidden features, got ${groups}`);
  const settings = pickSettings(options.settings);
  const methods = options.methods ?? SMALL_BATCH_METHODS;
  for (const m of methods) if (!SMALL_BATCH_METHODS.includes(m)) throw new Error(`small-batch: unknown method "${m}" (methods: ${SMALL_BATCH_METHODS.join(", ")})`);

  const data: MnistData = await loadData({ ...options, seed });
  const trainSet = toSamples(data.train, "small-batch: training set");
  const testSet = toSamples(data.test, "small-batch: test set");
  if (trainSet.features !== 784) throw new Error(`small-batch: expected 28x28 images, got ${trainSet.features} values per image`);
  log(`data: ${data.source}`);
  log(`small-batch: ${steps} steps per run, SGD lr ${lr}, eval every ${evalEvery}, seed ${seed}; settings: ${settings.map((s) => s.name).join("; ")}; methods: ${methods.join(", ")}`);

  const hidden = [100, 100, 100];
  const evaluator = new Evaluator([784], 500);
  const out: SmallBatchResult["settings"] = [];
  try {
    for (const setting of settings) {
      const B = setting.batchSize;
      const runs: Partial<Record<SmallBatchMethod, MethodRun>> = {};
      const active: { method: SmallBatchMethod; step: TrainStep; dispose(): void; run: MethodRun; lossSum: number; seconds: number }[] = [];
      for (const method of methods) {
        const norm = normFor(method, B, steps, groups);
        if (typeof norm === "string") {
          runs[method] = { steps: null, testAccuracy: null, trainLoss: null, finalTestAccuracy: null, note: norm };
          continue;
        }
        const { model } = buildPaperNetwork(hidden, 0.1, seed, norm);
        const loss = new CrossEntropyLoss();
        const opt = new SGD(model.parameters(), { lr });
        const run: MethodRun = { steps: [], testAccuracy: [], trainLoss: [], finalTestAccuracy: null };
        runs[method] = run;
        active.push({
          method,
          step: new TrainStep(model, loss, opt),
          run,
          lossSum: 0,
          seconds: 0,
          dispose() {
            model.dispose();
            loss.dispose();
            opt.dispose();
          },
        });
      }
      const x = zeros([B, 784]);
      const labels = new Int32Array(B);
      const rng = new Rng(seed);
      const idx = new Int32Array(B);
      const twoClass = setting.nonIid ? new TwoClassBatches(trainSet, rng) : null;
      let perm = rng.permutation(trainSet.count);
      let pos = 0;
      let lastEval = 0;
      try {
        for (let s = 1; s <= steps; s++) {
          if (twoClass) twoClass.next(idx);
          else {
            if (pos + B > trainSet.count) {
              perm = rng.permutation(trainSet.count);
              pos = 0;
            }
            for (let k = 0; k < B; k++) idx[k] = perm[pos + k];
            pos += B;
          }
          gatherSamples(x, labels, trainSet, idx, 0, B);
          for (const a of active) {
            const t = performance.now();
            a.lossSum += a.step.run(x, labels);
            a.seconds += (performance.now() - t) / 1000;
          }
          if (s % evalEvery === 0 || s === steps) {
            const since = s - lastEval;
            lastEval = s;
            const parts: string[] = [];
            for (const a of active) {
              const r = evaluator.run(a.step.model, testSet);
              a.run.steps!.push(s);
              a.run.testAccuracy!.push(round(r.accuracy, 6));
              a.run.trainLoss!.push(round(a.lossSum / since, 6));
              a.lossSum = 0;
              parts.push(`${a.method} ${(100 * r.accuracy).toFixed(2)}%`);
            }
            log(`${setting.name}: step ${String(s).padStart(String(steps).length)}/${steps}  ${parts.join("  ")}  (${secondsSince(t0).toFixed(0)} s)`);
          }
        }
        for (const a of active) {
          a.run.finalTestAccuracy = a.run.testAccuracy!.at(-1) ?? null;
          a.run.secondsPerStep = round(a.seconds / steps, 8);
        }
      } finally {
        x.dispose();
        for (const a of active) a.dispose();
      }
      out.push({ name: setting.name, batchSize: B, nonIid: setting.nonIid, methods: runs });
    }
  } finally {
    evaluator.dispose();
  }
  const config = {
    experiment: "small-batch",
    reference: "Ioffe 2017, Batch Renormalization, section 4.3 (small and non-i.i.d. mini-batches); network of Ioffe & Szegedy 2015, section 4.1",
    data: data.source,
    trainImages: trainSet.count,
    testImages: testSet.count,
    architecture: "784-100-100-100-10, Dense -> normalization -> Sigmoid per hidden layer, weights ~ N(0, 0.1^2), biases 0, the same initial weights for every method",
    methods: {
      bn: "BatchNorm1d(100): eps 1e-5, momentum 0.1",
      renorm: `BatchNorm1d(100, { renorm }): renorm momentum 0.01; rMax ${JSON.stringify(renormScheduleFor(steps).rMax)}, dMax ${JSON.stringify(renormScheduleFor(steps).dMax)} (linear ramps over the step)`,
      ghost: "BatchNorm1d(100, { virtualBatchSize }): ghost batches of 4 from batch 8 up, of 2 at batch 4, not run at batch 2",
      layernorm: "LayerNorm(100)",
      groupnorm: `GroupNorm(${groups}, 100)`,
      none: "no normalization layer",
    },
    batches: "i.i.d.: a fresh shuffle of the training set each epoch; 2 classes: two distinct random classes per batch, half the batch from each (per-class shuffled queues), in shuffled order; every method of a setting sees the same batches",
    optimizer: "SGD, no momentum, no weight decay",
    lr,
    steps,
    evalEvery,
    seed,
    evaluation: "eval mode, the whole test set",
    backend: getBackend().build,
  };
  return { config, settings: out, wallTimeSeconds: round(secondsSince(t0), 4) };
}

const LABELS: Record<SmallBatchMethod, string> = { bn: "BatchNorm", renorm: "Batch Renorm", ghost: "Ghost BN", layernorm: "LayerNorm", groupnorm: "GroupNorm", none: "no normalization" };
const COLOURS: Record<SmallBatchMethod, string> = { bn: "#0072B2", renorm: "#D55E00", ghost: "#009E73", layernorm: "#CC79A7", groupnorm: "#E69F00", none: "#000000" };

/** The figures: final test accuracy per method and setting (bars), and accuracy curves per setting. */
export function smallBatchFigures(result: SmallBatchResult): Record<string, string> {
  const methods = SMALL_BATCH_METHODS.filter((m) => result.settings.some((s) => s.methods[m] !== undefined));
  const files: Record<string, string> = {};
  files["small-batch-final.svg"] = barChart({
    title: `Final test accuracy after ${result.config.steps} steps (784-100x3-10 sigmoid, MNIST)`,
    yLabel: "test accuracy (eval mode)",
    groups: result.settings.map((s) => s.name),
    series: methods.map((m) => ({ name: LABELS[m], color: COLOURS[m], values: result.settings.map((s) => s.methods[m]?.finalTestAccuracy ?? null) })),
    yDomain: [0, 1],
  });
  result.settings.forEach((s, i) => {
    files[`small-batch-curves-${i + 1}.svg`] = lineChart({
      title: `Test accuracy, ${s.name}`,
      xLabel: "training steps",
      yLabel: "test accuracy (eval mode)",
      yDomain: [0, 1],
      series: methods
        .filter((m) => s.methods[m]?.steps)
        .map((m) => ({ name: LABELS[m], x: s.methods[m]!.steps!, y: s.methods[m]!.testAccuracy!, color: COLOURS[m], dash: m === "none" ? "6 4" : undefined })),
    });
  });
  return files;
}

/** The table of final accuracies (Markdown), one row per method, one column per setting. */
export function smallBatchTable(result: SmallBatchResult): string {
  const methods = SMALL_BATCH_METHODS.filter((m) => result.settings.some((s) => s.methods[m] !== undefined));
  const head = `| method | ${result.settings.map((s) => s.name).join(" | ")} |`;
  const sep = `|---|${result.settings.map(() => "---").join("|")}|`;
  const rows = methods.map((m) => {
    const cells = result.settings.map((s) => {
      const a = s.methods[m]?.finalTestAccuracy;
      return a === null || a === undefined ? "n/a" : `${(100 * a).toFixed(2)}%`;
    });
    return `| ${LABELS[m]} | ${cells.join(" | ")} |`;
  });
  return [head, sep, ...rows].join("\n");
}
