// Optimizer, scheduler and generator state, and checkpoints on disk: a run stopped after K
// steps and resumed from its checkpoint in a fresh model and optimizer ends bit for bit where
// the uninterrupted run does; bad state is refused before anything changes; a save that did
// not finish is reported as incomplete.
import { mkdtemp, readdir, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { init } from "../src/backend.js";
import { ReLU } from "../src/layers/activations.js";
import { BatchNorm1d } from "../src/layers/batchnorm.js";
import { Dense } from "../src/layers/dense.js";
import { Dropout } from "../src/layers/dropout.js";
import { Sequential } from "../src/layers/sequential.js";
import { CrossEntropyLoss } from "../src/loss.js";
import type { Parameter, StateDict } from "../src/module.js";
import { Adam, AdamW } from "../src/optim/adam.js";
import { LearningRateScheduler, type Scheduler, StepLR, stepDecay } from "../src/optim/schedule.js";
import { type OptimizerBase, SGD } from "../src/optim/sgd.js";
import { manualSeed, Rng } from "../src/random.js";
import { fromSafetensors, toSafetensors } from "../src/serialize/safetensors.js";
import { tensor } from "../src/tensor.js";
import { loadCheckpoint, restoreCheckpoint, saveCheckpoint } from "../src/training/checkpoint.js";
import { TrainStep } from "../src/training/step.js";
import { blobs } from "./check.js";

let dirs: string[] = [];
beforeAll(async () => {
  await init();
});
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "bnw-ckpt-"));
  dirs.push(d);
  return d;
}

/** Every entry of a state dict as its bytes, for bit-for-bit comparison. */
const bits = (sd: StateDict) => Object.fromEntries(Object.entries(sd).map(([k, v]) => [k, Array.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength))]));

const DATA = blobs(96, 6, 3, 7);
const BATCH = 12;
const STEPS_PER_EPOCH = 2;

/**
 * An MLP with BatchNorm and Dropout trained on batches drawn by its own generator; the
 * schedule steps every STEPS_PER_EPOCH steps. `seed` sets the initial weights, the dropout
 * masks and the batches, so a resumed run is made with another seed to show that the
 * checkpoint, not the seed, decides what comes next.
 */
function makeRun(seed: number, makeOptimizer: (p: Parameter[]) => OptimizerBase, makeScheduler?: (o: OptimizerBase) => Scheduler) {
  manualSeed(seed);
  const model = new Sequential([new Dense(6, 16), new BatchNorm1d(16), new ReLU(), new Dropout(0.3), new Dense(16, 3)]);
  const optimizer = makeOptimizer(model.parameters());
  const scheduler = makeScheduler?.(optimizer);
  const step = new TrainStep(model, new CrossEntropyLoss(), optimizer);
  const data = new Rng(seed + 1);
  let steps = 0;
  return {
    model,
    optimizer,
    scheduler,
    data,
    get steps() {
      return steps;
    },
    set steps(v: number) {
      steps = v;
    },
    train(k: number) {
      for (let s = 0; s < k; s++) {
        const x = new Float32Array(BATCH * 6), y = new Uint8Array(BATCH);
        for (let i = 0; i < BATCH; i++) {
          const j = data.int(96);
          x.set(DATA.x.subarray(j * 6, j * 6 + 6), i * 6);
          y[i] = DATA.y[j];
        }
        const xt = tensor(x, [BATCH, 6]);
        expect(Number.isFinite(step.run(xt, y))).toBe(true);
        xt.dispose();
        steps++;
        if (steps % STEPS_PER_EPOCH === 0) scheduler?.step();
      }
    },
  };
}

type Run = ReturnType<typeof makeRun>;

function expectSameState(a: Run, b: Run) {
  expect(bits(b.model.stateDict())).toEqual(bits(a.model.stateDict()));
  expect(bits(b.optimizer.stateDict())).toEqual(bits(a.optimizer.stateDict()));
  expect(b.model.rngStates()).toEqual(a.model.rngStates());
  expect(b.data.state).toBe(a.data.state);
  expect(b.scheduler?.stateDict?.()).toEqual(a.scheduler?.stateDict?.());
  expect(b.optimizer.lr).toBe(a.optimizer.lr);
}

const OPTIMIZERS: [string, (p: Parameter[]) => OptimizerBase, ((o: OptimizerBase) => Scheduler)?][] = [
  ["SGD with Nesterov momentum and weight decay, StepLR", (p) => new SGD(p, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-3 }), (o) => new StepLR(o, { stepSize: 2, gamma: 0.5 })],
  ["SGD with momentum and dampening, the CIFAR step decay", (p) => new SGD(p, { lr: 0.05, momentum: 0.9, dampening: 0.1 }), (o) => new LearningRateScheduler(o, stepDecay({ lr0: 0.05, drop: 0.1, epochsDrop: 2 }))],
  ["plain SGD", (p) => new SGD(p, { lr: 0.1 })],
  ["Adam", (p) => new Adam(p, { lr: 3e-3, weightDecay: 1e-4 })],
  ["AdamW with StepLR", (p) => new AdamW(p, { lr: 3e-3 }), (o) => new StepLR(o, { stepSize: 1, gamma: 0.7 })],
];

describe("resume from a checkpoint", () => {
  const K = 5;
  for (const [name, makeOptimizer, makeScheduler] of OPTIMIZERS) {
    it(`${name}: K steps, save, K more equals K steps, restore into a fresh model, K more, bit for bit`, async () => {
      const dir = await tempDir();
      const a = makeRun(11, makeOptimizer, makeScheduler);
      a.train(K);
      await saveCheckpoint(dir, { model: a.model, optimizer: a.optimizer, scheduler: a.scheduler, rng: { data: a.data.state }, meta: { steps: a.steps, note: name } });
      a.train(K);

      const b = makeRun(99, makeOptimizer, makeScheduler);
      expect(bits(b.model.stateDict())).not.toEqual(bits(a.model.stateDict()));
      const { meta, rng } = await restoreCheckpoint(dir, { model: b.model, optimizer: b.optimizer, scheduler: b.scheduler });
      expect(meta).toEqual({ steps: K, note: name });
      b.data.state = rng.data;
      b.steps = meta.steps as number;
      b.train(K);
      expectSameState(a, b);
      a.model.dispose();
      b.model.dispose();
    });
  }

  it("the optimizer state before the first step round-trips (momentum buffers not yet started)", () => {
    const make = (p: Parameter[]) => new SGD(p, { lr: 0.1, momentum: 0.9 });
    const a = makeRun(3, make), b = makeRun(3, make);
    b.optimizer.loadStateDict(a.optimizer.stateDict());
    expect(b.optimizer.stepCount).toBe(0);
    a.train(3);
    b.train(3);
    expectSameState(a, b);
  });

  it("optimizer state dicts go through safetensors: F64 hyper-parameters, I64 step, buffers shaped like their parameters", () => {
    const a = makeRun(5, (p) => new Adam(p, { lr: 0.1 / 3, betas: [0.8, 0.99] }));
    a.train(2);
    const sd = a.optimizer.stateDict();
    expect(Object.keys(sd).sort()).toEqual(
      ["betas", "decoupled", "eps", "lr", "step", "weight_decay", ...[0, 1, 2, 3, 4, 5].flatMap((i) => [`state.${i}.exp_avg`, `state.${i}.exp_avg_sq`])].sort(),
    );
    expect(sd.lr).toEqual(Float64Array.of(0.1 / 3));
    expect(sd.step).toEqual(BigInt64Array.of(2n));
    const back = fromSafetensors(toSafetensors(sd, a.optimizer.stateShapes()));
    expect(back.shapes["state.0.exp_avg"]).toEqual([16, 6]);
    expect(back.shapes.lr).toEqual([]);
    expect(back.shapes.betas).toEqual([2]);
    expect(bits({ ...back.stateDict })).toEqual(bits(sd));
  });
});

describe("bad optimizer state is refused before anything changes", () => {
  const fresh = () => {
    const run = makeRun(21, (p) => new SGD(p, { lr: 0.1, momentum: 0.9 }));
    run.train(2);
    return run;
  };
  const cases: [string, (sd: StateDict) => void, RegExp][] = [
    ["a missing buffer", (sd) => delete sd["state.3.momentum_buffer"], /^SGD\.loadStateDict: missing key "state\.3\.momentum_buffer"$/],
    ["an unknown key", (sd) => (sd["state.0.exp_avg"] = new Float32Array(96)), /unexpected key "state\.0\.exp_avg" \(expected step, lr, momentum, dampening, weight_decay, nesterov, state\.<0\.\.5>\.momentum_buffer\)/],
    ["a buffer of the wrong length", (sd) => (sd["state.0.momentum_buffer"] = new Float32Array(95)), /"state\.0\.momentum_buffer" must have length 96 \(shape \[16, 6\]\), got 95/],
    ["a NaN in a buffer", (sd) => ((sd["state.2.momentum_buffer"] as Float32Array)[4] = NaN), /"state\.2\.momentum_buffer" holds NaN at index 4/],
    ["a float32 lr", (sd) => (sd.lr = Float32Array.of(0.1)), /"lr" must be a Float64Array of length 1, got Float32Array/],
    ["a negative lr", (sd) => (sd.lr = Float64Array.of(-1)), /"lr" must be a finite number >= 0, got -1/],
    ["a negative step", (sd) => (sd.step = BigInt64Array.of(-3n)), /"step" must be a non-negative count, got -3/],
    ["another momentum", (sd) => (sd.momentum = Float64Array.of(0.5)), /"momentum" is 0\.5 in the state dict, but this SGD was made with 0\.9; make the optimizer with the options of the saved one/],
    ["another nesterov flag", (sd) => (sd.nesterov = BigInt64Array.of(1n)), /"nesterov" is true in the state dict, but this SGD was made with false/],
  ];
  for (const [what, spoil, message] of cases) {
    it(what, () => {
      const source = fresh();
      const target = fresh();
      target.train(1);
      const before = bits(target.optimizer.stateDict());
      const sd = source.optimizer.stateDict();
      spoil(sd);
      expect(() => target.optimizer.loadStateDict(sd)).toThrow(message);
      expect(bits(target.optimizer.stateDict())).toEqual(before);
    });
  }

  it("an Adam state into an SGD, and a state dict of another model's parameters", () => {
    const sgd = fresh();
    const adam = makeRun(21, (p) => new Adam(p));
    expect(() => sgd.optimizer.loadStateDict(adam.optimizer.stateDict())).toThrow(/^SGD\.loadStateDict: unexpected key "betas"/);
    manualSeed(1);
    const other = new SGD(new Sequential([new Dense(6, 8), new BatchNorm1d(8), new Dense(8, 3)]).parameters(), { lr: 0.1, momentum: 0.9 });
    expect(() => sgd.optimizer.loadStateDict(other.stateDict())).toThrow(/"state\.0\.momentum_buffer" must have length 96 \(shape \[16, 6\]\), got 48/);
  });
});

describe("schedulers and generators", () => {
  it("a StepLR's state round-trips and the continued schedule matches", () => {
    const make = () => {
      const opt = new SGD(new Dense(2, 2).parameters(), { lr: 0.1 });
      return { opt, sched: new StepLR(opt, { stepSize: 2, gamma: 0.3 }) };
    };
    const a = make();
    for (let i = 0; i < 3; i++) a.sched.step();
    const state = a.sched.stateDict();
    expect(state).toEqual({ name: "StepLR", lastEpoch: 3, baseLr: 0.1 });
    const b = make();
    b.opt.lr = 7;
    b.sched.loadStateDict(JSON.parse(JSON.stringify(state)));
    b.opt.loadStateDict(a.opt.stateDict());
    for (let i = 0; i < 4; i++) {
      a.sched.step();
      b.sched.step();
      expect(b.opt.lr).toBe(a.opt.lr);
    }
    expect(() => b.sched.loadStateDict({ ...state, name: "LambdaLR" })).toThrow(/StepLR\.loadStateDict: the state is a "LambdaLR" schedule's, this is a StepLR/);
    expect(() => b.sched.loadStateDict({ ...state, lastEpoch: -1 })).toThrow(/lastEpoch must be a non-negative integer, got -1/);
    expect(b.sched.lastEpoch).toBe(7);
  });

  it("Rng.state sets a generator where another is, and the model's dropout generators are keyed like its state", () => {
    const a = new Rng(5);
    a.uniform();
    const b = new Rng(1);
    b.state = a.state;
    expect([b.uniform(), b.uniform()]).toEqual([a.uniform(), a.uniform()]);
    manualSeed(4);
    const model = new Sequential([new Dense(2, 2), new Dropout(0.5), new Sequential([new Dropout(0.1)])]);
    const states = model.rngStates();
    expect(Object.keys(states)).toEqual(["1.rng", "2.0.rng"]);
    expect(() => model.setRngStates({ "1.rng": 1 })).toThrow(/Sequential\.setRngStates: missing key "2\.0\.rng"/);
    expect(() => model.setRngStates({ ...states, "1.rng": -1 })).toThrow(/"1\.rng" must be a generator state, an integer in \[0, 2\^32\), got -1/);
    expect(() => model.setRngStates({ ...states, "0.rng": 1 })).toThrow(/unexpected key "0\.rng" \(expected 1\.rng, 2\.0\.rng\)/);
    expect(model.rngStates()).toEqual(states);
    model.setRngStates({ "1.rng": 123, "2.0.rng": 0xffffffff });
    expect(model.rngStates()).toEqual({ "1.rng": 123, "2.0.rng": 0xffffffff });
  });
});

describe("checkpoint files", () => {
  const saved = async () => {
    const dir = await tempDir();
    const run = makeRun(8, (p) => new SGD(p, { lr: 0.1, momentum: 0.9 }));
    run.train(2);
    await saveCheckpoint(dir, { model: run.model, optimizer: run.optimizer, meta: { epoch: 1 } });
    return { dir, run };
  };

  it("a second save replaces the first and leaves only its own files", async () => {
    const { dir, run } = await saved();
    run.train(1);
    await saveCheckpoint(dir, { model: run.model, optimizer: run.optimizer, meta: { epoch: 2 } });
    const files = (await readdir(dir)).sort();
    expect(files).toHaveLength(3);
    expect(files[0]).toBe("checkpoint.json");
    expect(files[1]).toMatch(/^model\.[0-9a-z]+\.safetensors$/);
    expect(files[2]).toMatch(/^optimizer\.[0-9a-z]+\.safetensors$/);
    const ck = await loadCheckpoint(dir);
    expect(ck.meta).toEqual({ epoch: 2 });
    expect(ck.optimizer.step).toEqual(BigInt64Array.of(3n));
    expect(ck.optimizerName).toBe("SGD");
  });

  it("a directory without checkpoint.json is an incomplete checkpoint, or none", async () => {
    const { dir } = await saved();
    await rm(join(dir, "checkpoint.json"));
    await expect(loadCheckpoint(dir)).rejects.toThrow(/^loadCheckpoint: the checkpoint in .* is incomplete: .*model\..*\.safetensors.* but no checkpoint\.json \(a save was interrupted before it finished\)/);
    const empty = await tempDir();
    await expect(loadCheckpoint(empty)).rejects.toThrow(/^loadCheckpoint: no checkpoint in .* \(no checkpoint\.json\)$/);
    await expect(loadCheckpoint(join(empty, "nothing"))).rejects.toThrow(/no checkpoint in .*nothing: the directory does not exist/);
  });

  it("a missing, truncated or changed file is reported, naming it", async () => {
    const { dir } = await saved();
    const [model, optimizer] = (await readdir(dir)).filter((f) => f.endsWith(".safetensors")).sort();
    await truncate(join(dir, optimizer), 100);
    await expect(loadCheckpoint(dir)).rejects.toThrow(new RegExp(`${optimizer.replace(/\./g, "\\.")} has 100 bytes, but checkpoint\\.json says \\d+ \\(the file was changed or truncated\\)`));
    const bytes = toSafetensors(new Sequential([new Dense(6, 16)]).stateDict());
    await writeFile(join(dir, optimizer), bytes);
    await rm(join(dir, model));
    await expect(loadCheckpoint(dir)).rejects.toThrow(/is incomplete: checkpoint\.json names model\..*\.safetensors, which is missing/);
  });

  it("restoring into another model, optimizer or without the schedule changes nothing", async () => {
    const { dir } = await saved();
    manualSeed(2);
    const wide = new Sequential([new Dense(6, 32), new BatchNorm1d(32), new ReLU(), new Dropout(0.3), new Dense(32, 3)]);
    const opt = new SGD(wide.parameters(), { lr: 0.1, momentum: 0.9 });
    const before = bits(wide.stateDict());
    await expect(restoreCheckpoint(dir, { model: wide, optimizer: opt })).rejects.toThrow(/^restoreCheckpoint: Sequential\.loadStateDict: "0\.weight" must have length 192/);
    expect(bits(wide.stateDict())).toEqual(before);

    // The model loads, then the optimizer refuses: the model is put back.
    const run = makeRun(30, (p) => new SGD(p, { lr: 0.1, momentum: 0.5 }));
    const modelBefore = bits(run.model.stateDict()), rngBefore = run.model.rngStates();
    await expect(restoreCheckpoint(dir, { model: run.model, optimizer: run.optimizer })).rejects.toThrow(/"momentum" is 0\.9 in the state dict, but this SGD was made with 0\.5/);
    expect(bits(run.model.stateDict())).toEqual(modelBefore);
    expect(run.model.rngStates()).toEqual(rngBefore);

    const adam = makeRun(30, (p) => new Adam(p));
    await expect(restoreCheckpoint(dir, { model: adam.model, optimizer: adam.optimizer })).rejects.toThrow(/holds the state of a SGD optimizer, but a Adam was given/);
    const sched = makeRun(30, (p) => new SGD(p, { lr: 0.1, momentum: 0.9 }), (o) => new StepLR(o, { stepSize: 1 }));
    await expect(restoreCheckpoint(dir, { model: sched.model, optimizer: sched.optimizer, scheduler: sched.scheduler })).rejects.toThrow(/holds no schedule, but a scheduler was given/);
  });
});
