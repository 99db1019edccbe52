// The training side of test/browser_threads.test.ts: a dedicated module Worker that imports
// the built package (dist/, no bundler), calls init({ threads }) and runs ops and training
// steps. It answers one request ({ task, ... }) with { result } or { error }.
import { init, backendInfo, shutdown, manualSeed, inceptionCifar, Sequential, Conv2d, BatchNorm2d, ReLU, Flatten, Dense, CrossEntropyLoss, SGD, Adam, TrainStep, tensor } from "/dist/index.js";
import { getBackend } from "/dist/backend.js";
import { Tensor } from "/dist/tensor.js";
import { linearBackwardInput, linearBackwardParams, linearForward } from "/dist/ops/matmul.js";
import { conv2dBackwardFilter, conv2dBackwardInput, conv2dForward, convScratchBytes, windowGeometry } from "/dist/ops/conv.js";
import { CONV2D_FIELDS } from "/dist/kernels.js";

/** Seeded values in [-1, 1) (a 32-bit LCG): the same inputs for every thread count. */
function values(n, seed) {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

function filled(b, shape, seed) {
  const t = new Tensor(b, shape);
  t.data.set(values(t.data.length, seed));
  return t;
}

/** A tensor's float32 bit patterns as plain numbers (equal arrays: bit-identical values). */
const bits = (data) => Array.from(new Uint32Array(Float32Array.from(data).buffer));

// Products (M, N, K): the MNIST MLP's first layer, tails smaller than the thread count, odd sizes.
const GEMMS = [[60, 100, 784], [1, 1, 1], [3, 5, 7], [17, 1, 8], [33, 65, 130]];
// Convolutions: [N, H, W, C], OC, kernel, stride, padding.
const CONVS = [
  [[2, 8, 8, 24], 20, 3, 1, "same"],
  [[3, 6, 6, 20], 8, 1, 1, 0],
  [[1, 9, 7, 5], 24, 3, 1, 1],
  [[2, 9, 8, 4], 17, 5, 2, 2],
];

/** Every GEMM and convolution output and gradient, on the current backend. */
function runOps() {
  const b = getBackend();
  const out = {};
  for (const [M, N, K] of GEMMS) {
    const x = filled(b, [M, K], 1), w = filled(b, [N, K], 2), bias = filled(b, [N], 3), y = new Tensor(b, [M, N]);
    linearForward(y, x, w, bias, "relu");
    const dy = filled(b, [M, N], 4), dx = new Tensor(b, [M, K]), dw = filled(b, [N, K], 6), db = filled(b, [N], 7);
    linearBackwardInput(dx, dy, w);
    linearBackwardParams(dw, db, dy, x);
    out[`gemm ${M}x${N}x${K}`] = [y, dx, dw, db].map((t) => bits(t.data));
    for (const t of [x, w, bias, y, dy, dx, dw, db]) t.dispose();
  }
  for (const dataFormat of ["channelsLast", "channelsFirst"]) {
    for (const [[N, H, W, C], OC, k, s, p] of CONVS) {
      const shape = dataFormat === "channelsLast" ? [N, H, W, C] : [N, C, H, W];
      const g = windowGeometry({ toString: () => "conv" }, shape, dataFormat, { kernel: [k, k], stride: [s, s], dilation: [1, 1], padding: [p, p] }, OC, null);
      const ys = dataFormat === "channelsLast" ? [N, g.OH, g.OW, OC] : [N, OC, g.OH, g.OW];
      const ws = dataFormat === "channelsLast" ? [OC, k, k, C] : [OC, C, k, k];
      const desc = new Tensor(b, [CONV2D_FIELDS.length]);
      const scratch = new Tensor(b, [Math.max(4, Math.ceil(convScratchBytes(b, desc, g, dataFormat) / 4))]);
      const x = filled(b, shape, 1), w = filled(b, ws, 2), bias = filled(b, [OC], 3), y = new Tensor(b, ys);
      conv2dForward(y, x, w, bias, g, dataFormat, desc, scratch);
      const dy = filled(b, ys, 4), dx = new Tensor(b, shape), dw = filled(b, ws, 6), db = filled(b, [OC], 7);
      conv2dBackwardInput(dx, dy, w, g, dataFormat, false, desc, scratch);
      conv2dBackwardFilter(dw, db, dy, x, g, dataFormat, desc, scratch);
      out[`conv ${dataFormat} ${shape.join("x")} -> ${OC} k${k} s${s}`] = [y, dx, dw, db].map((t) => bits(t.data));
      for (const t of [desc, scratch, x, w, bias, y, dy, dx, dw, db]) t.dispose();
    }
  }
  return out;
}

/** Losses of `steps` training steps and every parameter's final bits. */
function train(model, optimizer, x, labels, steps) {
  const step = new TrainStep(model, new CrossEntropyLoss(), optimizer);
  const losses = [];
  for (let i = 0; i < steps; i++) losses.push(step.run(x, labels));
  const params = model.parameters().map((p) => bits(p.value.data));
  x.dispose();
  model.dispose();
  return { losses, params };
}

/** A small Inception net (channels-last) and a conv + BN + dense net (channels-first). */
function runTraining() {
  const inception = inceptionCifar({ width: 0.125, dataFormat: "channelsLast", seed: 3 });
  const a = train(inception, new SGD(inception.parameters(), { lr: 0.01, momentum: 0.9 }),
    tensor(values(4 * 32 * 32 * 3, 11), [4, 32, 32, 3]), Int32Array.from([1, 7, 3, 9]), 3);
  manualSeed(5);
  const small = new Sequential([new Conv2d(3, 16, 3, { padding: "same" }), new BatchNorm2d(16), new ReLU(), new Flatten(), new Dense(16 * 8 * 8, 10)]);
  const b = train(small, new Adam(small.parameters(), { lr: 0.01 }),
    tensor(values(8 * 3 * 8 * 8, 12), [8, 3, 8, 8]), Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7]), 4);
  return { inception: a, small: b };
}

const TASKS = {
  /** init({ threads }) and what backendInfo() says, before and after shutdown(). */
  async info({ threads }) {
    await init({ threads });
    const info = backendInfo();
    shutdown();
    return { info, afterShutdown: backendInfo(), crossOriginIsolated: globalThis.crossOriginIsolated === true, hardwareConcurrency: navigator.hardwareConcurrency };
  },

  /** The ops and the training runs with each thread count; every op splits (minMacs 0). */
  async compare({ threadCounts }) {
    const runs = [];
    for (const threads of threadCounts) {
      await init({ threads });
      const pool = getBackend().pool;
      if (pool) pool.minMacs = 0;
      const info = backendInfo();
      const ops = runOps();
      const training = runTraining();
      // Calls handed to the pool, and their parts that a worker (not this thread) ran.
      const splitCalls = pool ? pool.stats.runs : 0;
      const workerParts = pool ? pool.stats.parts - pool.stats.byCaller : 0;
      shutdown();
      runs.push({ threads, info, splitCalls, workerParts, ops, training });
    }
    return runs;
  },
};

self.onmessage = async (e) => {
  try {
    self.postMessage({ result: await TASKS[e.data.task](e.data) });
  } catch (err) {
    self.postMessage({ error: err instanceof Error ? `${err.message}\n${err.stack}` : String(err) });
  }
};
