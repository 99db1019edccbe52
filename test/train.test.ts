// Training: the optimizers against torch.optim's rules (the float64 RefSgd / RefAdam), the
// learning-rate schedules, fit() and evaluate() (learning, history, callbacks, errors,
// progress output), and memory that stays constant over 5,000 steps once warmed up.
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { backendInfo, getBackend, init } from "../src/backend.js";
import { BatchNorm1d } from "../src/layers/batchnorm.js";
import { loadEmbeddedMnist } from "../src/data/mnist_embedded.js";
import { ReLU, Sigmoid } from "../src/layers/activations.js";
import { Dense } from "../src/layers/dense.js";
import { Dropout } from "../src/layers/dropout.js";
import { Adam, AdamW } from "../src/optim/adam.js";
import { LambdaLR, LearningRateScheduler, StepLR, stepDecay } from "../src/optim/schedule.js";
import { SGD } from "../src/optim/sgd.js";
import { Sequential } from "../src/layers/sequential.js";
import { evaluate } from "../src/training/evaluate.js";
import { fit } from "../src/training/fit.js";
import { expectClose, rng } from "./check.js";
import { RefAdam, RefSgd } from "./reference/optim.js";

beforeAll(async () => {
  await init();
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** A separable problem: class c is a Gaussian blob around a random centre. */
function blobs(n: number, features: number, classes: number, seed: number, noiseSeed = seed + 1000, spread = 0.7) {
  const centres = Array.from({ length: classes }, (_, c) => rng(seed * 31 + c).array(features, 2));
  const r = rng(noiseSeed);
  const x = new Float32Array(n * features);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(r.uniform() * classes);
    y[i] = c;
    for (let j = 0; j < features; j++) x[i * features + j] = centres[c][j] + spread * r.normal();
  }
  return { x, y, shape: [n, features] as [number, number] };
}

function smallModel(seed = 1, features = 10, classes = 4): Sequential {
  return new Sequential([new Dense(features, 32, { seed }), new BatchNorm1d(32), new ReLU(), new Dense(32, classes, { seed: seed + 1 })]);
}

describe("optimizers follow torch.optim", () => {
  const sgdCases = [
    { lr: 0.1 },
    { lr: 0.1, momentum: 0.9 },
    { lr: 0.05, momentum: 0.9, dampening: 0.3, weightDecay: 0.01 },
    { lr: 0.05, momentum: 0.8, nesterov: true, weightDecay: 0.001 },
  ];
  it.each(sgdCases)("SGD %o", (opts) => {
    const layer = new Dense(7, 5, { seed: 2 });
    const params = layer.parameters();
    const refs = params.map((p) => new RefSgd(p.value.toArray(), opts));
    const opt = new SGD(params, opts);
    const r = rng(3);
    for (let step = 0; step < 6; step++) {
      if (step === 4) {
        opt.lr = opts.lr / 2;
        for (const ref of refs) ref.opts.lr = opts.lr / 2;
      }
      params.forEach((p, i) => {
        const g = r.array(p.value.size);
        p.grad.data.set(g);
        refs[i].step(g);
      });
      opt.step();
    }
    params.forEach((p, i) => expectClose(p.value.data, refs[i].param, 1e-6, `${p.name} after 6 steps`));
    opt.zeroGrad();
    expect(params.every((p) => p.grad.data.every((v) => v === 0))).toBe(true);
  });

  const adamCases: [string, (ps: ReturnType<Dense["parameters"]>) => Adam, ConstructorParameters<typeof RefAdam>[1]][] = [
    ["Adam", (ps) => new Adam(ps), { lr: 1e-3 }],
    ["Adam with weight decay", (ps) => new Adam(ps, { lr: 0.01, betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.1 }), { lr: 0.01, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1 }],
    ["AdamW (default weightDecay 0.01)", (ps) => new AdamW(ps, { lr: 0.01 }), { lr: 0.01, weightDecay: 0.01, decoupled: true }],
    ["Adam decoupled", (ps) => new Adam(ps, { lr: 0.01, weightDecay: 0.05, decoupled: true }), { lr: 0.01, weightDecay: 0.05, decoupled: true }],
  ];
  it.each(adamCases)("%s", (_, make, refOpts) => {
    const layer = new Dense(9, 4, { seed: 4 });
    const params = layer.parameters();
    const refs = params.map((p) => new RefAdam(p.value.toArray(), refOpts));
    const opt = make(params);
    const r = rng(5);
    for (let step = 0; step < 8; step++) {
      params.forEach((p, i) => {
        const g = r.array(p.value.size);
        p.grad.data.set(g);
        refs[i].update(g);
      });
      opt.step();
    }
    expect(opt.stepCount).toBe(8);
    params.forEach((p, i) => expectClose(p.value.data, refs[i].param, 1e-5, `${p.name} after 8 steps`));
  });

  it("reject bad settings", () => {
    const ps = new Dense(2, 2).parameters();
    expect(() => new SGD([], { lr: 0.1 })).toThrow("SGD: got an empty parameter list");
    expect(() => new SGD(ps, {} as never)).toThrow(/options.lr is required/);
    expect(() => new SGD(ps, { lr: -1 })).toThrow("SGD: lr must be a finite number >= 0, got -1");
    expect(() => new SGD(ps, { lr: 0.1, nesterov: true })).toThrow(/Nesterov momentum requires a momentum > 0 and zero dampening/);
    expect(() => new SGD([...ps, ps[0]], { lr: 0.1 })).toThrow(/more than once/);
    expect(() => new SGD([{}] as never, { lr: 0.1 })).toThrow(/parameter 0 is not a Parameter/);
    expect(() => new Adam(ps, { betas: [0.9, 1] })).toThrow(/betas must be two numbers in \[0, 1\), got \[0.9,1\]/);
    const opt = new Adam(ps);
    expect(() => {
      opt.lr = Number.NaN;
    }).toThrow(/lr must be a finite number/);
  });
});

describe("learning-rate schedules", () => {
  it("StepLR decays every stepSize epochs, like PyTorch", () => {
    const opt = new SGD(new Dense(2, 2).parameters(), { lr: 1 });
    const sched = new StepLR(opt, { stepSize: 2, gamma: 0.5 });
    const lrs = [opt.lr];
    for (let e = 0; e < 5; e++) {
      sched.step();
      lrs.push(opt.lr);
    }
    expect(lrs).toEqual([1, 1, 0.5, 0.5, 0.25, 0.25]);
    expect(sched.lastEpoch).toBe(5);
  });

  it("stepDecay is lr0 * drop^floor((1 + epoch) / epochsDrop), applied by LearningRateScheduler", () => {
    const f = stepDecay({ lr0: 0.1, drop: 0.5, epochsDrop: 10 });
    expect([0, 8, 9, 18, 19, 29].map(f)).toEqual([0.1, 0.1, 0.05, 0.05, 0.025, 0.0125]);
    const opt = new SGD(new Dense(2, 2).parameters(), { lr: 7 });
    const sched = new LearningRateScheduler(opt, stepDecay({ lr0: 0.1, drop: 0.5, epochsDrop: 2 }));
    expect(opt.lr).toBe(0.1); // epoch 0's rate, set at construction
    sched.step();
    expect(opt.lr).toBe(0.05);
    const lam = new LambdaLR(opt, (e) => 1 / (1 + e));
    expect(opt.lr).toBe(0.05);
    lam.step();
    expect(opt.lr).toBe(0.025);
    expect(() => stepDecay({ lr0: 0.1, drop: 0.5, epochsDrop: 0 })).toThrow(/epochsDrop must be a number > 0/);
  });
});

describe("fit and evaluate", () => {
  it("learns a separable problem: the loss falls, accuracy passes 95%", () => {
    const train = blobs(1000, 10, 4, 1);
    const val = blobs(200, 10, 4, 1, 77); // the same centres, other samples
    const model = smallModel(3);
    const before = evaluate(model, val);
    const h = fit(model, train, { epochs: 5, batchSize: 50, optimizer: new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 }), validation: val, seed: 1, verbose: false });
    expect(h.steps).toBe(100);
    expect(h.epochs).toBe(5);
    expect(h.step).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(h.loss.length).toBe(100);
    expect(h.epoch.slice(18, 22)).toEqual([0, 0, 1, 1]);
    expect(h.epochLoss.length).toBe(5);
    expect(h.valStep).toEqual([20, 40, 60, 80, 100]);
    expect(h.epochLoss[4]).toBeLessThan(0.3 * h.epochLoss[0]);
    expect(h.valAccuracy[4]).toBeGreaterThan(0.95);
    const after = evaluate(model, val, { batchSize: 64 });
    expect(after.loss).toBeLessThan(before.loss / 3);
    expect(after.accuracy).toBeGreaterThan(0.95);
    expect(after.count).toBe(200);
    expect(model.training).toBe(true); // restored
  });

  it("learns the embedded MNIST digits (784-100-100-100-10 with BatchNorm, the paper's MLP)", async () => {
    const d = await loadEmbeddedMnist();
    const model = new Sequential([
      new Dense(784, 100, { seed: 1, bias: false }),
      new BatchNorm1d(100),
      new Sigmoid(),
      new Dense(100, 100, { seed: 2, bias: false }),
      new BatchNorm1d(100),
      new Sigmoid(),
      new Dense(100, 100, { seed: 3, bias: false }),
      new BatchNorm1d(100),
      new Sigmoid(),
      new Dense(100, 10, { seed: 4 }),
    ]);
    const h = fit(model, d.train, { epochs: 2, batchSize: 60, optimizer: new SGD(model.parameters(), { lr: 0.05, momentum: 0.9 }), validation: d.test, verbose: false });
    expect(h.epochLoss[1]).toBeLessThan(h.epochLoss[0]);
    expect(h.valAccuracy[1]).toBeGreaterThan(0.88);
  });

  it("evaluates a padded last batch exactly like whole batches, in eval mode", () => {
    const data = blobs(103, 10, 4, 2);
    const model = smallModel(5);
    fit(model, data, { epochs: 1, batchSize: 16, optimizer: new SGD(model.parameters(), { lr: 0.1 }), verbose: false });
    const whole = evaluate(model, data, { batchSize: 103 });
    const padded = evaluate(model, data, { batchSize: 10 });
    expect(padded.accuracy).toBe(whole.accuracy);
    expect(Math.abs(padded.loss - whole.loss)).toBeLessThan(1e-6 * whole.loss);
    model.eval();
    evaluate(model, data);
    expect(model.training).toBe(false);
  });

  it("stops on a NaN loss, naming the step, unless onNonFinite is 'continue'", () => {
    const data = blobs(160, 10, 4, 3);
    data.x[70 * 10 + 3] = Number.NaN; // sample 70: in the third batch of 32 when not shuffled
    const model = smallModel(6);
    const opt = new SGD(model.parameters(), { lr: 0.1 });
    expect(() => fit(model, data, { epochs: 1, batchSize: 32, shuffle: false, optimizer: opt, verbose: false })).toThrow(/^fit: the loss is NaN at step 3 \(epoch 1, batch 3 of 5\)/);
    // The bad batch did not reach the weights.
    expect(model.parameters().every((p) => p.value.data.every(Number.isFinite))).toBe(true);
    const h = fit(model, data, { epochs: 2, batchSize: 32, shuffle: false, optimizer: opt, onNonFinite: "continue", verbose: false });
    expect(h.steps).toBe(10);
    expect(h.loss.map(Number.isNaN)).toEqual([false, false, true, false, false, false, false, true, false, false]);
    expect(model.parameters().every((p) => p.value.data.every(Number.isFinite))).toBe(true);
  });

  it("rejects bad arguments with clear errors", () => {
    const data = blobs(20, 10, 4, 4);
    const model = smallModel(7);
    const optimizer = new SGD(model.parameters(), { lr: 0.1 });
    expect(() => fit(model, data, { batchSize: 0, optimizer })).toThrow("fit: batchSize must be a positive integer, got 0");
    expect(() => fit(model, data, { epochs: 1, steps: 5, optimizer })).toThrow("fit: give epochs or steps, not both");
    expect(() => fit(model, data, {} as never)).toThrow(/options.optimizer is required/);
    expect(() => fit(model, { ...data, y: data.y.subarray(1) }, { optimizer })).toThrow("fit: 20 samples but 19 labels");
    expect(() => fit(model, { x: data.x, y: data.y.subarray(1) }, { optimizer })).toThrow("fit: 200 values do not split into 19 samples (one per label); pass shape: [N, ...features]");
    expect(() => fit(model, { x: new Float32Array(0), y: new Uint8Array(0) }, { optimizer })).toThrow(/the dataset is empty/);
    expect(() => fit(model, data, { optimizer, validation: { x: new Float32Array(9), y: new Uint8Array(1) } })).toThrow(/validation samples have shape \[9\], but the training samples have \[10\]/);
    expect(() => fit(model, { ...data, shape: [20, 5] }, { optimizer })).toThrow(/shape \[20, 5\] holds 100 values, but the samples array has 200/);
    expect(() => evaluate(model, data, { batchSize: 0 })).toThrow("evaluate: batchSize must be a positive integer, got 0");
    const odd = blobs(21, 10, 4, 4);
    // A last batch of 1 sample is dropped (batch statistics need 2); dropLast drops any partial one.
    expect(fit(model, odd, { batchSize: 4, optimizer, verbose: false }).steps).toBe(5);
    expect(fit(model, blobs(22, 10, 4, 4), { batchSize: 4, optimizer, verbose: false }).steps).toBe(6);
    expect(fit(model, odd, { batchSize: 4, dropLast: true, optimizer, verbose: false }).steps).toBe(5);
    const wrong = new Sequential([new Dense(9, 4)]);
    expect(() => fit(wrong, data, { optimizer: new SGD(wrong.parameters(), { lr: 0.1 }), verbose: false })).toThrow("Sequential: layer 0 (Dense(9 -> 4)) expects input [N, 9], got [20, 10]");
  });

  it("runs for a number of steps, calls the callbacks, evaluates every evalEvery steps, and steps the scheduler per epoch", () => {
    const data = blobs(100, 10, 4, 5);
    const model = smallModel(8);
    const opt = new SGD(model.parameters(), { lr: 0.1 });
    const steps: number[] = [], evals: number[] = [], epochs: number[] = [];
    const h = fit(model, data, {
      steps: 23,
      batchSize: 20,
      optimizer: opt,
      scheduler: new StepLR(opt, { stepSize: 1, gamma: 0.5 }),
      validation: data,
      evalEvery: 10,
      verbose: false,
      callbacks: {
        onStep: (s) => void steps.push(s.step),
        onEval: (e) => void evals.push(e.step),
        onEpochEnd: (e) => void epochs.push(e.epoch),
      },
    });
    expect(steps).toEqual(Array.from({ length: 23 }, (_, i) => i + 1));
    expect(evals).toEqual([10, 20, 23]);
    expect(epochs).toEqual([0, 1, 2, 3]);
    expect(h.epochs).toBe(4);
    expect(h.lr.slice(0, 6)).toEqual([0.1, 0.1, 0.1, 0.1, 0.1, 0.05]);
    expect(opt.lr).toBe(0.1 / 16);
    // A callback returning false stops training.
    const stopped = fit(model, data, { epochs: 10, batchSize: 20, optimizer: opt, verbose: false, callbacks: { onStep: (s) => s.step < 7 } });
    expect(stopped.steps).toBe(7);
    expect(stopped.stopped).toBe(true);
  });

  it("prints plain lines without a TTY, a carriage-return bar on one, and nothing when quiet", () => {
    const data = blobs(60, 10, 4, 6);
    const model = smallModel(9);
    const optimizer = new SGD(model.parameters(), { lr: 0.1 });
    const lines: string[] = [];
    fit(model, data, { epochs: 2, batchSize: 20, optimizer, validation: data, log: (l) => lines.push(l) });
    expect(lines.length).toBe(2);
    expect(lines[0]).toMatch(/^epoch 1\/2 {2}loss \d+\.\d{4} {2}val_loss \d+\.\d{4} {2}val_acc \d+\.\d{2}% {2}\d+\.\ds$/);
    const stdout = process.stdout as { isTTY?: boolean };
    const wasTTY = stdout.isTTY;
    const write = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    try {
      fit(model, data, { epochs: 1, batchSize: 20, optimizer, verbose: false });
      expect(write).not.toHaveBeenCalled();
      stdout.isTTY = true;
      fit(model, data, { epochs: 1, batchSize: 20, optimizer });
      const out = write.mock.calls.map((c) => String(c[0])).join("");
      expect(out).toMatch(/^\repoch 1\/1 1\/3 \[=+>? *\] loss/);
      expect(out).toMatch(/\repoch 1\/1 {2}loss \d+\.\d{4} {2}\d+\.\ds\x1b\[K\n$/);
    } finally {
      stdout.isTTY = wasTTY;
    }
  });

  it("allocates no wasm memory over 5,000 steps after warm-up (training and evaluation)", () => {
    const data = blobs(640, 20, 5, 7);
    const val = blobs(100, 20, 5, 7, 8);
    const model = new Sequential([new Dense(20, 64, { seed: 1 }), new BatchNorm1d(64), new ReLU(), new Dropout(0.2), new Dense(64, 32, { seed: 2 }), new Sigmoid(), new Dense(32, 5, { seed: 3 })]);
    const memory = getBackend().heap.memory;
    let warm: { bytes: number; inUse: number } | null = null;
    let changes = 0;
    const h = fit(model, data, {
      steps: 5100,
      batchSize: 32,
      optimizer: new Adam(model.parameters(), { lr: 1e-3 }),
      validation: val,
      evalEvery: 250,
      verbose: false,
      callbacks: {
        onStep: ({ step }) => {
          const now = { bytes: memory.buffer.byteLength, inUse: backendInfo().heapBytesInUse };
          // Warm: past the first step and the first evaluation (BatchNorm's eval buffers).
          if (step === 300) warm = now;
          else if (warm && (now.bytes !== warm.bytes || now.inUse !== warm.inUse)) changes++;
        },
      },
    });
    expect(h.steps).toBe(5100);
    expect(warm).not.toBeNull();
    expect(changes).toBe(0);
    expect(h.valStep.length).toBe(21); // every 250 steps, and after the last
  });
});
