// The demo's training worker: both networks of Ioffe & Szegedy's Figure 1 (784-100-100-100-10
// sigmoid, with and without BatchNorm1d, the same initial weights, the same mini-batches),
// trained in lockstep with the library's TrainStep, evaluated every EVAL_EVERY steps on a
// fixed subset of held-out digits (test accuracy and the 15/50/85th percentiles of one
// last-hidden-layer sigmoid input), and eval-mode predictions for drawn digits from the
// BN-folded networks. Training runs in slices of SLICE_MS and yields to the event loop
// between them, so control messages (stop, learning rate, predict) are answered at once.
import {
  init, backendInfo, buildPaperNetworks, CrossEntropyLoss, Evaluator, foldBatchNorm, percentilesOf,
  Rng, SGD, splitMnistBytes, tensor, TrainStep, yieldToEventLoop, zeros,
} from "../dist/index.js";

const SEED = 0;
const EVAL_EVERY = 50;
const TEST_SUBSET = 1000;
const PROBE_UNIT = 0;
const SLICE_MS = 30;
const NAMES = ["bn", "plain"];

let data = null; // { train, test } (MnistSplit)
let nets = null; // { models, steppers, optimizers, losses, probeLayer, x, labels, rng, perm, pos }
let evaluator = null;
let probed = null;
let lr = 0.5;
let batchSize = 60;
let running = false;
let steps = 0;
let trainSeconds = 0;
let folded = null; // { step, bn, plain }

const post = (m) => postMessage(m);

async function loadData() {
  const res = await fetch(new URL("./data/mnist-embedded.bin", import.meta.url));
  if (!res.ok) throw new Error(`demo data: HTTP ${res.status} for data/mnist-embedded.bin (npm run demo writes it)`);
  const buf = new Uint8Array(await res.arrayBuffer());
  const magic = String.fromCharCode(...buf.subarray(0, 4));
  const view = new DataView(buf.buffer);
  const count = view.getUint32(4, true), rows = view.getUint32(8, true), cols = view.getUint32(12, true);
  if (magic !== "BNMN" || rows !== 28 || cols !== 28 || buf.length !== 16 + count * (1 + rows * cols)) throw new Error("demo data: data/mnist-embedded.bin is not a digits file of this demo's format");
  const labels = buf.subarray(16, 16 + count);
  const bytes = buf.subarray(16 + count);
  // The same 8,000 / 2,000 split as loadEmbeddedMnist({ seed: 0 }) in Node.
  return splitMnistBytes(bytes, labels, { seed: SEED });
}

function disposeNets() {
  if (!nets) return;
  for (const n of NAMES) {
    nets.models[n].dispose();
    nets.optimizers[n].dispose();
    nets.losses[n].dispose();
  }
  nets.x.dispose();
  nets = null;
  disposeFolded();
}

function disposeFolded() {
  if (!folded) return;
  folded.bn.dispose();
  folded.plain.dispose();
  folded = null;
}

function reset() {
  disposeNets();
  const built = buildPaperNetworks([100, 100, 100], 0.1, SEED);
  const models = { bn: built.bn, plain: built.plain };
  const losses = { bn: new CrossEntropyLoss(), plain: new CrossEntropyLoss() };
  const optimizers = { bn: new SGD(models.bn.parameters(), { lr }), plain: new SGD(models.plain.parameters(), { lr }) };
  const steppers = { bn: new TrainStep(models.bn, losses.bn, optimizers.bn), plain: new TrainStep(models.plain, losses.plain, optimizers.plain) };
  const rng = new Rng(SEED);
  nets = { models, losses, optimizers, steppers, probeLayer: built.probeLayer, x: zeros([batchSize, 784]), labels: new Int32Array(batchSize), rng, perm: rng.permutation(data.train.count), pos: 0 };
  steps = 0;
  trainSeconds = 0;
}

/** One step of both networks on the same mini-batch (a fresh shuffle per epoch, as the paper's experiment). */
function step() {
  const { train } = data;
  if (nets.x.shape[0] !== batchSize) {
    nets.x.dispose();
    nets.x = zeros([batchSize, 784]);
    nets.labels = new Int32Array(batchSize);
  }
  if (nets.pos + batchSize > train.count) {
    nets.perm = nets.rng.permutation(train.count);
    nets.pos = 0;
  }
  const xd = nets.x.data;
  for (let r = 0; r < batchSize; r++) {
    const j = nets.perm[nets.pos + r];
    xd.set(train.images.subarray(j * 784, (j + 1) * 784), r * 784);
    nets.labels[r] = train.labels[j];
  }
  nets.pos += batchSize;
  const loss = {};
  for (const n of NAMES) loss[n] = nets.steppers[n].run(nets.x, nets.labels);
  steps++;
  return loss;
}

function evaluate() {
  const test = { x: data.test.images.subarray(0, TEST_SUBSET * 784), y: data.test.labels.subarray(0, TEST_SUBSET), count: TEST_SUBSET, featureShape: [784], features: 784 };
  const out = { step: steps };
  for (const n of NAMES) {
    const layer = nets.probeLayer[n];
    const r = evaluator.run(nets.models[n], test, (i, h, from, rows) => {
      if (i !== layer) return;
      const width = h.size / h.shape[0];
      const hd = h.data;
      for (let k = 0; k < rows; k++) probed[from + k] = hd[k * width + PROBE_UNIT];
    });
    const [p15, p50, p85] = percentilesOf(probed, [15, 50, 85]);
    out[n] = { accuracy: r.accuracy, loss: r.loss, p15, p50, p85 };
  }
  post({ type: "eval", ...out });
}

async function loop() {
  let reportSteps = steps, reportTime = performance.now();
  let lastLoss = null;
  while (running) {
    const t0 = performance.now();
    do {
      lastLoss = step();
      if (steps % EVAL_EVERY === 0) evaluate();
    } while (running && performance.now() - t0 < SLICE_MS);
    const now = performance.now();
    trainSeconds += (now - t0) / 1000;
    if (now - reportTime >= 200) {
      post({ type: "progress", steps, stepsPerSecond: ((steps - reportSteps) * 1000) / (now - reportTime), trainSeconds, loss: lastLoss });
      reportSteps = steps;
      reportTime = now;
    }
    await yieldToEventLoop();
  }
  post({ type: "progress", steps, stepsPerSecond: 0, trainSeconds, loss: lastLoss });
  post({ type: "stopped", steps });
}

/** Softmax probabilities of both folded (eval-mode) networks for one 28x28 image. */
function predict(pixels) {
  if (!folded || folded.step !== steps) {
    disposeFolded();
    folded = { step: steps, bn: foldBatchNorm(nets.models.bn.eval()), plain: foldBatchNorm(nets.models.plain.eval()) };
    nets.models.bn.train();
    nets.models.plain.train();
    folded.bn.eval();
    folded.plain.eval();
  }
  const x = tensor(pixels, [1, 784]);
  const out = {};
  try {
    for (const n of NAMES) {
      const z = folded[n].forward(x).toArray();
      const m = Math.max(...z);
      const e = z.map((v) => Math.exp(v - m));
      const s = e.reduce((a, b) => a + b, 0);
      out[n] = Array.from(e, (v) => v / s);
    }
  } finally {
    x.dispose();
  }
  return out;
}

const handlers = {
  start() {
    if (running) return;
    running = true;
    loop().catch(fail);
  },
  stop() {
    running = false;
  },
  reset() {
    running = false;
    // The loop ends at its next turn; the networks are rebuilt after it (same seed: the same run).
    setTimeout(() => {
      reset();
      post({ type: "reset" });
    }, 0);
  },
  set(m) {
    if (typeof m.lr === "number" && m.lr > 0) {
      lr = m.lr;
      if (nets) for (const n of NAMES) nets.optimizers[n].lr = lr;
    }
    if (Number.isInteger(m.batchSize) && m.batchSize >= 2) batchSize = m.batchSize;
    post({ type: "settings", lr, batchSize });
  },
  predict(m) {
    post({ type: "prediction", id: m.id, steps, ...predict(m.pixels) });
  },
};

function fail(e) {
  running = false;
  post({ type: "error", message: e instanceof Error ? `${e.message}\n${e.stack ?? ""}` : String(e) });
}

let ready = null;
onmessage = (e) => {
  const m = e.data;
  if (m.type === "init") {
    ready = (async () => {
      lr = m.lr ?? lr;
      batchSize = m.batchSize ?? batchSize;
      await init({ threads: m.threads ?? 1 });
      data = await loadData();
      evaluator = new Evaluator([784], 500);
      probed = new Float32Array(TEST_SUBSET);
      reset();
      post({ type: "ready", backend: backendInfo(), trainCount: data.train.count, testCount: TEST_SUBSET, evalEvery: EVAL_EVERY, probeUnit: PROBE_UNIT });
    })().catch(fail);
    return;
  }
  if (!ready) return fail(new Error(`message ${m.type} before init`));
  ready.then(() => handlers[m.type]?.(m)).catch(fail);
};
