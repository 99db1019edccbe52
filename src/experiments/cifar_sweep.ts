// The slides' comparisons at a reduced size, each a set of runCifar runs on the same data,
// seed and epochs:
//   lr       initial rates {0.001, 0.01, 0.05, 0.1}, with and without BN: does BN train at
//            rates where the plain network stalls or diverges?
//   batch    batch sizes {8, 32, 128, 250}, with BN (the same epochs, so smaller batches take
//            more steps)
//   dropout  dropout 0.5 before the classifier without BN, BN without dropout, and both
import type { Cifar10Data } from "../data/cifar10.js";
import { lineChart, PALETTE } from "../plot/svg.js";
import { type CifarCurves, type CifarNetwork, runCifar } from "./cifar.js";
import { type Log, round, secondsSince } from "./common.js";

export type CifarSweepKind = "lr" | "batch" | "dropout";
export const CIFAR_SWEEPS: readonly CifarSweepKind[] = ["lr", "batch", "dropout"];

export const CIFAR_SWEEP_DEFAULTS = { width: 0.125, epochs: 3, batchSize: 64, lr: 0.01, subset: 5000, testSubset: 2000 } as const;

export interface CifarSweepOptions {
  data: Cifar10Data;
  sweep: CifarSweepKind;
  width?: number;
  epochs?: number;
  /** Batch size of the lr and dropout sweeps. */
  batchSize?: number;
  /** Learning rate of the batch and dropout sweeps. */
  lr?: number;
  subset?: number;
  testSubset?: number;
  seed?: number;
}

export interface CifarSweepRun {
  label: string;
  network: CifarNetwork;
  lr: number;
  batchSize: number;
  dropout: number;
  curves: CifarCurves;
}

export interface CifarSweepResult {
  sweep: CifarSweepKind;
  config: Record<string, unknown>;
  runs: CifarSweepRun[];
  wallTimeSeconds: number;
}

interface Plan {
  label: string;
  networks: CifarNetwork[];
  lr: number;
  batchSize: number;
  dropout: number;
}

function plans(kind: CifarSweepKind, batchSize: number, lr: number): Plan[] {
  if (kind === "lr") return [0.001, 0.01, 0.05, 0.1].map((r) => ({ label: `lr ${r}`, networks: ["bn", "plain"], lr: r, batchSize, dropout: 0 }));
  if (kind === "batch") return [8, 32, 128, 250].map((b) => ({ label: `batch ${b}`, networks: ["bn"], lr, batchSize: b, dropout: 0 }));
  return [
    { label: "dropout 0.5, no BN", networks: ["plain"], lr, batchSize, dropout: 0.5 },
    { label: "BN, no dropout", networks: ["bn"], lr, batchSize, dropout: 0 },
    { label: "BN + dropout 0.5", networks: ["bn"], lr, batchSize, dropout: 0.5 },
  ];
}

export async function runCifarSweep(options: CifarSweepOptions, log: Log = () => {}): Promise<CifarSweepResult> {
  const t0 = performance.now();
  if (!CIFAR_SWEEPS.includes(options.sweep)) throw new Error(`runCifarSweep: sweep must be one of ${CIFAR_SWEEPS.join(", ")}, got ${JSON.stringify(options.sweep)}`);
  const d = CIFAR_SWEEP_DEFAULTS;
  const width = options.width ?? d.width;
  const epochs = options.epochs ?? d.epochs;
  const batchSize = options.batchSize ?? d.batchSize;
  const lr = options.lr ?? d.lr;
  const subset = options.subset ?? d.subset;
  const testSubset = options.testSubset ?? d.testSubset;
  const seed = options.seed ?? 0;
  const runs: CifarSweepRun[] = [];
  const list = plans(options.sweep, batchSize, lr);
  let backend = "";
  for (const [i, p] of list.entries()) {
    log(`sweep ${options.sweep}: run ${i + 1}/${list.length}: ${p.label} (${p.networks.join(", ")})`);
    const r = await runCifar(
      { data: options.data, width, epochs, batchSize: p.batchSize, lr: p.lr, subset, testSubset, networks: p.networks, dropout: p.dropout, seed },
      log,
    );
    backend = String(r.config.backend);
    for (const n of p.networks) runs.push({ label: p.label, network: n, lr: p.lr, batchSize: p.batchSize, dropout: p.dropout, curves: r.networks[n]! });
  }
  return {
    sweep: options.sweep,
    config: { experiment: "cifar-sweep", sweep: options.sweep, width, epochs, batchSize, lr, trainImages: subset, testImages: testSubset, seed, augment: true, backend },
    runs,
    wallTimeSeconds: round(secondsSince(t0), 4),
  };
}

const NAMES: Record<CifarNetwork, string> = { bn: "BN", plain: "no BN" };

function runName(r: CifarSweepRun, kind: CifarSweepKind): string {
  return kind === "lr" ? `${NAMES[r.network]}, lr ${r.lr}` : r.label;
}

/** Validation accuracy per epoch of every run of the sweep. */
export function cifarSweepFigures(result: CifarSweepResult): Record<string, string> {
  const kind = result.sweep;
  return {
    [`cifar-sweep-${kind}.svg`]: lineChart({
      title: `CIFAR-10 Inception (width ${result.config.width}, ${result.config.trainImages} images): ${kind === "lr" ? "learning rates" : kind === "batch" ? "batch sizes, with BN" : "dropout vs BN"}`,
      xLabel: "epoch",
      yLabel: "test-set accuracy",
      series: result.runs.map((r, i) => ({
        name: runName(r, kind),
        x: r.curves.epochs,
        y: r.curves.valAccuracy,
        color: PALETTE[(kind === "lr" ? Math.floor(i / 2) : i) % PALETTE.length],
        ...(kind === "lr" && r.network === "plain" ? { dash: "6 4" } : {}),
      })),
    }),
  };
}

export function summarizeCifarSweep(result: CifarSweepResult): string {
  const lines = result.runs.map((r) => {
    const c = r.curves;
    const i = c.epochs.length - 1;
    return `${runName(r, result.sweep).padEnd(22)} val_acc ${(100 * c.valAccuracy[i]).toFixed(2)}%  val_loss ${c.valLoss[i].toFixed(4)}  loss ${c.trainLoss[i].toFixed(4)}  ${(1000 * c.secondsPerStep).toFixed(0)} ms/step`;
  });
  lines.push(`wall time ${result.wallTimeSeconds.toFixed(1)} s`);
  return lines.join("\n");
}
