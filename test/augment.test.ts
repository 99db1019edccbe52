// Keras-style augmentation (src/data/augment.ts) and the batch filler (src/data/image_batch.ts)
// against the float64 reference of Keras' affine map and SciPy's sampling (test/reference/augment.ts):
// fixed transforms on square and non-square images, values worked out by hand, the random
// draws' ranges, seeded determinism and checkpointed generator state, both layouts, bad input.
import { describe, expect, it } from "vitest";
import { type AffineDraw, augmentImage, checkAugmentOptions, drawAffine, KERAS_CIFAR10_AUGMENT } from "../src/data/augment.js";
import { ImageBatcher } from "../src/data/image_batch.js";
import { Rng } from "../src/random.js";
import { chwToHwc, refAugment } from "./reference/augment.js";

/** n random C x h x w uint8 records, channel-major. */
function records(n: number, C: number, h: number, w: number, seed: number): Uint8Array {
  const r = new Rng(seed);
  return Uint8Array.from({ length: n * C * h * w }, () => r.int(256));
}

/** One image through `t` by the implementation, channel-major (strides of a C x h x w block). */
function implCHW(src: Uint8Array, C: number, h: number, w: number, t: AffineDraw): Float32Array {
  const out = new Float32Array(C * h * w);
  augmentImage(out, 0, h * w, w, 1, src, 0, t, new Float64Array(6), C, h, w);
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const T = (shear: number, zx: number, zy: number, flip: boolean): AffineDraw => ({ shear, zx, zy, flip });

const FIXED: [string, AffineDraw][] = [
  ["identity", T(0, 1, 1, false)],
  ["flip", T(0, 1, 1, true)],
  ["zoom in", T(0, 0.8, 0.85, false)],
  ["zoom out", T(0, 1.2, 1.15, false)],
  ["zoom rows only", T(0, 1.2, 1, false)],
  ["shear 0.2 deg", T(0.2, 1, 1, false)],
  ["shear -0.17 deg", T(-0.17, 1, 1, false)],
  ["shear 20 deg", T(20, 1, 1, false)],
  ["shear + zoom", T(0.15, 0.83, 1.19, false)],
  ["shear + zoom + flip", T(-0.19, 1.17, 0.81, true)],
  ["large shear + zoom out + flip", T(-35, 1.6, 1.3, true)],
];

const SIZES: [number, number, number][] = [[3, 32, 32], [2, 5, 7], [1, 7, 4], [3, 1, 6], [1, 1, 1], [2, 4, 4]];

describe("augmentImage against the Keras/SciPy reference", () => {
  for (const [C, h, w] of SIZES) {
    for (const [name, t] of FIXED) {
      it(`${name}, ${C}x${h}x${w}`, () => {
        const src = records(1, C, h, w, 11 + C * h * w);
        const want = refAugment(src, 0, C, h, w, t);
        const got = implCHW(src, C, h, w, t);
        // Float32 storage of values in [0, 1]: half an ulp of 1 is 6e-8.
        expect(maxAbsDiff(got, want)).toBeLessThanOrEqual(1.2e-7);
      });
    }
  }

  it("the identity is the exact conversion x/255 in float32", () => {
    const src = records(1, 3, 32, 32, 3);
    const got = implCHW(src, 3, 32, 32, T(0, 1, 1, false));
    for (let i = 0; i < src.length; i++) expect(got[i]).toBe(Math.fround(src[i] / 255));
  });

  it("the flip mirrors columns exactly", () => {
    const src = records(1, 3, 5, 7, 4);
    const got = implCHW(src, 3, 5, 7, T(0, 1, 1, true));
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < 5; i++) for (let j = 0; j < 7; j++) expect(got[(c * 5 + i) * 7 + j]).toBe(Math.fround(src[(c * 5 + i) * 7 + 6 - j] / 255));
    }
  });
});

describe("values worked out by hand", () => {
  // A 4x4 ramp: value 10*col in every row (or 10*row in every column); the centre is 1.5.
  const colRamp = Uint8Array.from({ length: 16 }, (_, p) => 10 * (p % 4));
  const rowRamp = Uint8Array.from({ length: 16 }, (_, p) => 10 * Math.floor(p / 4));
  const row = (x: Float32Array, i: number) => Array.from(x.subarray(4 * i, 4 * i + 4), (v) => +(v * 255).toFixed(4));

  it("zoom 2 about the centre: input col = 2 (c - 1.5) + 1.5, clamped to the edge", () => {
    // c = 0, 1, 2, 3 -> -1.5 (edge 0), 0.5, 2.5, 4.5 (edge 3)
    const got = implCHW(colRamp, 1, 4, 4, T(0, 2, 2, false));
    for (let i = 0; i < 4; i++) expect(row(got, i)).toEqual([0, 5, 25, 30]);
  });

  it("zoom 0.5 magnifies: input col = 0.75, 1.25, 1.75, 2.25", () => {
    const got = implCHW(colRamp, 1, 4, 4, T(0, 0.5, 0.5, false));
    for (let i = 0; i < 4; i++) expect(row(got, i)).toEqual([7.5, 12.5, 17.5, 22.5]);
  });

  it("zx scales rows, zy columns (Keras' first matrix axis is the row axis)", () => {
    const rowsOnly = implCHW(rowRamp, 1, 4, 4, T(0, 2, 1, false));
    expect([0, 1, 2, 3].map((i) => row(rowsOnly, i)[0])).toEqual([0, 5, 25, 30]);
    const colsUntouched = implCHW(colRamp, 1, 4, 4, T(0, 2, 1, false));
    expect(row(colsUntouched, 0)).toEqual([0, 10, 20, 30]);
  });

  it("shear 30 deg moves rows along columns: r_in = r - sin(30) (c - 1.5), c_in = cos(30) (c - 1.5) + 1.5", () => {
    // Output (1, 3): r_in = 1 - 0.75 = 0.25 on the row ramp -> 2.5; on the col ramp c_in = 1.5 + 1.5 cos 30 = 2.799 -> 27.99.
    const onRows = implCHW(rowRamp, 1, 4, 4, T(30, 1, 1, false));
    expect(onRows[1 * 4 + 3] * 255).toBeCloseTo(2.5, 5);
    const onCols = implCHW(colRamp, 1, 4, 4, T(30, 1, 1, false));
    expect(onCols[1 * 4 + 3] * 255).toBeCloseTo(10 * (1.5 + 1.5 * Math.cos(Math.PI / 6)), 4);
    // Output (0, 0): r_in = 0 + 0.75 = 0.75 -> 7.5.
    expect(onRows[0] * 255).toBeCloseTo(7.5, 5);
  });

  it("the flip comes after the warp: zoom 2 then mirror", () => {
    const got = implCHW(colRamp, 1, 4, 4, T(0, 2, 2, true));
    expect(row(got, 0)).toEqual([30, 25, 5, 0]);
  });
});

describe("random draws", () => {
  const aug = checkAugmentOptions("test", { ...KERAS_CIFAR10_AUGMENT, seed: 1 });
  const rng = new Rng(aug.seed);
  const n = 20000;
  const draws = Array.from({ length: n }, () => drawAffine({ shear: 0, zx: 1, zy: 1, flip: false }, rng, aug));

  it("shear within +-0.2 degrees, both signs, mean near 0", () => {
    const s = draws.map((d) => d.shear);
    expect(Math.min(...s)).toBeGreaterThanOrEqual(-0.2);
    expect(Math.max(...s)).toBeLessThanOrEqual(0.2);
    expect(Math.min(...s)).toBeLessThan(-0.19);
    expect(Math.max(...s)).toBeGreaterThan(0.19);
    expect(Math.abs(s.reduce((a, b) => a + b, 0) / n)).toBeLessThan(0.005);
  });

  it("zx and zy within [0.8, 1.2], drawn independently", () => {
    for (const key of ["zx", "zy"] as const) {
      const z = draws.map((d) => d[key]);
      expect(Math.min(...z)).toBeGreaterThanOrEqual(0.8);
      expect(Math.max(...z)).toBeLessThanOrEqual(1.2);
      expect(Math.min(...z)).toBeLessThan(0.81);
      expect(Math.max(...z)).toBeGreaterThan(1.19);
    }
    let cov = 0;
    for (const d of draws) cov += (d.zx - 1) * (d.zy - 1);
    // Var of U(0.8, 1.2) is 0.4^2/12 = 0.0133: a correlation under 0.03 in size.
    expect(Math.abs(cov / n / (0.16 / 12))).toBeLessThan(0.03);
  });

  it("flips about half the images", () => {
    const f = draws.filter((d) => d.flip).length / n;
    expect(f).toBeGreaterThan(0.48);
    expect(f).toBeLessThan(0.52);
  });

  it("zoomRange [lo, hi], defaults off, and a switched-off flip keeps the other draws", () => {
    const a = checkAugmentOptions("test", { zoomRange: [0.9, 1.3], seed: 5 });
    expect([a.horizontalFlip, a.shearRange, a.zoomLo, a.zoomHi]).toEqual([false, 0, 0.9, 1.3]);
    const off = checkAugmentOptions("test", { seed: 5 });
    const d = drawAffine({ shear: 1, zx: 2, zy: 2, flip: true }, new Rng(5), off);
    expect(d).toEqual({ shear: 0, zx: 1, zy: 1, flip: false });
    const withFlip = checkAugmentOptions("test", { ...KERAS_CIFAR10_AUGMENT, seed: 9 });
    const noFlip = checkAugmentOptions("test", { ...KERAS_CIFAR10_AUGMENT, horizontalFlip: false, seed: 9 });
    const r1 = new Rng(9), r2 = new Rng(9);
    for (let i = 0; i < 50; i++) {
      const p = drawAffine({ shear: 0, zx: 1, zy: 1, flip: false }, r1, withFlip);
      const q = drawAffine({ shear: 0, zx: 1, zy: 1, flip: false }, r2, noFlip);
      expect([q.shear, q.zx, q.zy, q.flip]).toEqual([p.shear, p.zx, p.zy, false]);
    }
  });
});

describe("ImageBatcher", () => {
  const C = 3, H = 32, W = 32, S = C * H * W, N = 24;
  const images = records(N, C, H, W, 77);
  const indices = new Rng(8).permutation(N);

  it("without augmentation: x/255 in NHWC (default) and NCHW", () => {
    const nhwc = new Float32Array(5 * S), nchw = new Float32Array(5 * S);
    new ImageBatcher().fill(nhwc, images, indices, 3, 5);
    new ImageBatcher({ dataFormat: "channelsFirst" }).fill(nchw, images, indices, 3, 5);
    for (let i = 0; i < 5; i++) {
      const k = indices[3 + i];
      const chw = Float64Array.from(images.subarray(k * S, (k + 1) * S), (v) => Math.fround(v / 255));
      expect(Array.from(nchw.subarray(i * S, (i + 1) * S))).toEqual(Array.from(chw));
      expect(Array.from(nhwc.subarray(i * S, (i + 1) * S))).toEqual(Array.from(chwToHwc(chw, C, H, W)));
    }
  });

  it("augmented batches match the reference under the same draws, image after image", () => {
    const opts = { ...KERAS_CIFAR10_AUGMENT, seed: 123 };
    const b = new ImageBatcher({ augment: opts });
    const out = new Float32Array(7 * S);
    const replay = new Rng(123), aug = checkAugmentOptions("test", opts);
    for (const start of [0, 7, 14]) {
      b.fill(out, images, indices, start, 7);
      for (let i = 0; i < 7; i++) {
        const t = drawAffine({ shear: 0, zx: 1, zy: 1, flip: false }, replay, aug);
        const want = chwToHwc(refAugment(images, indices[start + i] * S, C, H, W, t), C, H, W);
        expect(maxAbsDiff(out.subarray(i * S, (i + 1) * S), want)).toBeLessThanOrEqual(1.2e-7);
      }
    }
  });

  it("NCHW and NHWC give the same values transposed", () => {
    const a = new Float32Array(6 * S), b = new Float32Array(6 * S);
    new ImageBatcher({ augment: { ...KERAS_CIFAR10_AUGMENT, seed: 4 } }).fill(a, images, indices, 0, 6);
    new ImageBatcher({ augment: { ...KERAS_CIFAR10_AUGMENT, seed: 4 }, dataFormat: "channelsFirst" }).fill(b, images, indices, 0, 6);
    for (let i = 0; i < 6; i++) {
      expect(Array.from(a.subarray(i * S, (i + 1) * S))).toEqual(Array.from(chwToHwc(b.subarray(i * S, (i + 1) * S), C, H, W)));
    }
  });

  it("is deterministic per seed, differs across seeds, and resumes from rngState()", () => {
    const fillWith = (b: ImageBatcher) => {
      const o = new Float32Array(4 * S);
      b.fill(o, images, indices, 2, 4);
      return o;
    };
    const b1 = new ImageBatcher({ augment: { ...KERAS_CIFAR10_AUGMENT, seed: 42 } });
    const b2 = new ImageBatcher({ augment: { ...KERAS_CIFAR10_AUGMENT, seed: 42 } });
    const b3 = new ImageBatcher({ augment: { ...KERAS_CIFAR10_AUGMENT, seed: 43 } });
    const first = fillWith(b1);
    expect(fillWith(b2)).toEqual(first);
    expect(fillWith(b3)).not.toEqual(first);
    const saved = b1.rngState();
    const second = fillWith(b1);
    expect(second).not.toEqual(first);
    const resumed = new ImageBatcher({ augment: { ...KERAS_CIFAR10_AUGMENT, seed: 0 } });
    resumed.setRngState(saved);
    expect(fillWith(resumed)).toEqual(second);
    expect(b1.rngState()).toBe(resumed.rngState());
  });

  it("non-square images of other channel counts", () => {
    const c = 2, h = 5, w = 9, s = c * h * w;
    const imgs = records(4, c, h, w, 6);
    const opts = { horizontalFlip: true, shearRange: 25, zoomRange: 0.3, seed: 3 };
    const out = new Float32Array(4 * s);
    new ImageBatcher({ channels: c, height: h, width: w, augment: opts, dataFormat: "channelsFirst" }).fill(out, imgs, [3, 0, 2, 1], 0, 4);
    const replay = new Rng(3), aug = checkAugmentOptions("test", opts);
    [3, 0, 2, 1].forEach((k, i) => {
      const want = refAugment(imgs, k * s, c, h, w, drawAffine({ shear: 0, zx: 1, zy: 1, flip: false }, replay, aug));
      expect(maxAbsDiff(out.subarray(i * s, (i + 1) * s), want)).toBeLessThanOrEqual(1.2e-7);
    });
  });

  it("rejects bad options with clear errors", () => {
    expect(() => new ImageBatcher({ augment: { horizontal_flip: true } as never })).toThrow(/unknown option "horizontal_flip" \(did you mean "horizontalFlip"\?\)/);
    expect(() => new ImageBatcher({ augment: { zoom: 0.2 } as never })).toThrow(/did you mean "zoomRange"/);
    expect(() => new ImageBatcher({ data_format: "channelsLast" } as never)).toThrow(/did you mean "dataFormat"/);
    expect(() => new ImageBatcher({ dataFormat: "NHWC" as never })).toThrow(/dataFormat must be 'channelsLast' or 'channelsFirst'/);
    expect(() => new ImageBatcher({ augment: { shearRange: -1 } })).toThrow(/shearRange must be a number of degrees/);
    expect(() => new ImageBatcher({ augment: { shearRange: "0.2" as never } })).toThrow(/shearRange must be/);
    expect(() => new ImageBatcher({ augment: { zoomRange: 1.5 } })).toThrow(/zoomRange must be a number in \[0, 1\)/);
    expect(() => new ImageBatcher({ augment: { zoomRange: [1.2, 0.8] } })).toThrow(/0 < lo <= hi/);
    expect(() => new ImageBatcher({ augment: { zoomRange: [0, 1.2] } })).toThrow(/0 < lo <= hi/);
    expect(() => new ImageBatcher({ augment: { horizontalFlip: "yes" as never } })).toThrow(/horizontalFlip must be true or false/);
    expect(() => new ImageBatcher({ augment: { seed: 1.5 } })).toThrow(/seed must be an integer/);
    expect(() => new ImageBatcher({ height: 0 })).toThrow(/height must be a positive integer/);
    expect(() => new ImageBatcher().setRngState(-1)).toThrow(/Rng state must be an integer in \[0, 2\^32\)/);
  });

  it("rejects bad fill arguments and leaves the generator untouched", () => {
    const b = new ImageBatcher({ augment: { ...KERAS_CIFAR10_AUGMENT, seed: 1 } });
    const out = new Float32Array(4 * S);
    const state = b.rngState();
    expect(() => b.fill(out, images, [0, 1, N], 0, 3)).toThrow(/indices\[2\] = 24 is not a record index in \[0, 24\)/);
    expect(() => b.fill(out, images, [0, 1.5], 0, 2)).toThrow(/indices\[1\] = 1.5/);
    expect(() => b.fill(out, images, indices, 0, 5)).toThrow(/out holds 12288 floats, fewer than 5 images of 3072/);
    expect(() => b.fill(out, images, indices, 22, 3)).toThrow(/start \+ count <= indices.length/);
    expect(() => b.fill(out, images.subarray(1), indices, 0, 1)).toThrow(/not a whole number of 3x32x32 records/);
    expect(() => b.fill(new Float64Array(S) as never, images, indices, 0, 1)).toThrow(/out must be a Float32Array/);
    expect(b.rngState()).toBe(state);
  });
});
