// Quick timing of ImageBatcher.fill on CIFAR-10-sized records: milliseconds per batch of 250
// 3x32x32 images, with the seed's Keras augmentation (both layouts) and without. The first
// batch is checked against the float64 reference of the Keras/SciPy map before anything is timed.
//   node --import tsx bench/augment.quick.ts [--batch 250] [--rounds 40]
import { parseArgs } from "node:util";
import { checkAugmentOptions, drawAffine, ImageBatcher, type ImageBatcherOptions, KERAS_CIFAR10_AUGMENT } from "../src/data/index.js";
import { Rng } from "../src/random.js";
import { chwToHwc, refAugment } from "../test/reference/augment.js";

const { values } = parseArgs({ options: { batch: { type: "string", default: "250" }, rounds: { type: "string", default: "40" } } });
const B = Number(values.batch), rounds = Number(values.rounds);
const N = 10000, S = 3072;
const r = new Rng(1);
const images = Uint8Array.from({ length: N * S }, () => r.int(256));
const indices = r.permutation(N);
const augment = { ...KERAS_CIFAR10_AUGMENT, seed: 1 };

function check(out: Float32Array): void {
  const replay = new Rng(augment.seed), aug = checkAugmentOptions("bench", augment);
  for (let i = 0; i < B; i++) {
    const t = drawAffine({ shear: 0, zx: 1, zy: 1, flip: false }, replay, aug);
    const want = chwToHwc(refAugment(images, indices[i] * S, 3, 32, 32, t), 3, 32, 32);
    for (let j = 0; j < S; j++) {
      if (!(Math.abs(out[i * S + j] - want[j]) <= 1.2e-7)) throw new Error(`image ${i} value ${j}: got ${out[i * S + j]}, reference ${want[j]}; not timing`);
    }
  }
}

const cases: [string, ImageBatcherOptions][] = [
  ["augmented, channelsLast", { augment }],
  ["augmented, channelsFirst", { augment, dataFormat: "channelsFirst" }],
  ["plain, channelsLast", {}],
];
for (const [name, opts] of cases) {
  const b = new ImageBatcher(opts);
  const out = new Float32Array(B * S);
  b.fill(out, images, indices, 0, B);
  if (name === cases[0][0]) check(out);
  for (let w = 0; w < 10; w++) b.fill(out, images, indices, (w * B) % (N - B), B);
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    b.fill(out, images, indices, (i * B) % (N - B), B);
    times.push(performance.now() - t0);
  }
  times.sort((p, q) => p - q);
  console.log(`${name}: median ${times[rounds >> 1].toFixed(2)} ms, min ${times[0].toFixed(2)} ms per ${B}-image batch`);
}
