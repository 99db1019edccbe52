// Runs inside headless Chromium (see test/browser.test.ts). Plain ES module, no bundler:
// it imports the BUILT package exactly as published, dist/index.js, which in turn fetches
// build/bn.<build>.wasm relative to its own import.meta.url.
import { init, backendInfo, tensor, BatchNorm2d } from "/dist/index.js";

/** The error message of f(), or null when it does not throw. */
function messageOf(f) {
  try {
    f();
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/** Before init(): what creating a layer, a tensor, or asking for backendInfo() throws. */
export function beforeInit() {
  return {
    layer: messageOf(() => new BatchNorm2d(3)),
    tensor: messageOf(() => tensor([1, 2, 3, 4], [2, 2])),
    backendInfo: messageOf(() => backendInfo()),
  };
}

/** init() with the default loading (fetch ../build/bn.<build>.wasm relative to dist/backend.js). */
export async function initDefault() {
  const returned = await init();
  return { returned, info: backendInfo() };
}

/** init({ wasm: URL }) with an explicit module URL (absolute, resolved against the page). */
export async function initFromUrl(href) {
  const returned = await init({ wasm: new URL(href, location.href) });
  return { returned, info: backendInfo() };
}

/**
 * One BatchNorm2d training forward on x (plain numbers: float32 values), with gamma and
 * beta written through the parameters' live views. Returns plain arrays (copies).
 */
export function forwardTrain({ x, shape, dataFormat, gamma, beta }) {
  const C = dataFormat === "channelsLast" ? shape[shape.length - 1] : shape[1];
  const bn = new BatchNorm2d(C, { dataFormat });
  bn.weight.value.data.set(gamma);
  bn.bias.value.data.set(beta);
  const xt = tensor(x, shape);
  try {
    const y = bn.forward(xt);
    return {
      y: Array.from(y.data),
      yShape: [...y.shape],
      runningMean: Array.from(bn.runningMean.data),
      runningVar: Array.from(bn.runningVar.data),
      numBatchesTracked: bn.numBatchesTracked,
      info: backendInfo(),
    };
  } finally {
    xt.dispose();
    bn.dispose();
  }
}
