// Keras ImageDataGenerator(horizontal_flip, shear_range, zoom_range) on uint8 channel-major
// images (CIFAR-10's record layout), with the semantics of keras_preprocessing 1.1 (Keras 2):
// per image, shear ~ U(-shearRange, shearRange) in degrees, zx and zy ~ U(lo, hi) independently,
// a flip with probability 1/2. The map from an output pixel (r, c) to the input is
//   [r_in, c_in] = M [r - o_r, c - o_c] + [o_r, o_c],   M = Shear * Zoom = [[zx, -sin(s) zy], [0, cos(s) zy]],
// with o = size/2 - 0.5 (transform_matrix_offset_center), sampled as
// scipy.ndimage.affine_transform(order=1, mode='nearest') samples: the input coordinate is
// clamped to [0, size-1] (scipy's map_coordinate), then bilinear between floor and floor+1 (the
// latter held at the edge, where its weight is 0). Keras calls the first zoom "zx", but the
// matrix's first axis is the row axis, so zx scales rows and the shear moves rows along columns.
// Keras flips after the warp; output column c reads warped column W-1-c, which folds the flip
// into the map with no second pass. Keras skips the warp when shear is 0 and both zooms are 1.
// Pixels are looked up as float32 x/255, the values the Keras CIFAR-10 example augments.
import { boolOption, checkOptions, describe } from "../options.js";
import { nextSeed, type Rng } from "../random.js";

export interface AugmentOptions {
  /** Mirror left-right with probability 1/2 (Keras horizontal_flip). Default false. */
  horizontalFlip?: boolean;
  /** Shear angle bound in DEGREES, as Keras 2 reads shear_range. Default 0. */
  shearRange?: number;
  /** z in [0, 1) for zooms in [1-z, 1+z], or [lo, hi] with 0 < lo <= hi (Keras zoom_range). Default 0. */
  zoomRange?: number | readonly [number, number];
  /** Seed of the per-image draws (default: the library's next seed, see manualSeed). */
  seed?: number;
}

/** The seed's ImageDataGenerator(horizontal_flip=True, shear_range=0.2, zoom_range=0.2). */
export const KERAS_CIFAR10_AUGMENT: Readonly<AugmentOptions> = Object.freeze({ horizontalFlip: true, shearRange: 0.2, zoomRange: 0.2 });

/** Checked augmentation settings. */
export interface Augment {
  horizontalFlip: boolean;
  shearRange: number;
  zoomLo: number;
  zoomHi: number;
  seed: number;
}

/** One image's transform: shear in degrees, zooms (zx on rows, zy on columns), flip. */
export interface AffineDraw {
  shear: number;
  zx: number;
  zy: number;
  flip: boolean;
}

const AUGMENT_KEYS = ["horizontalFlip", "shearRange", "zoomRange", "seed"] as const;

export function checkAugmentOptions(where: string, opts: AugmentOptions | undefined): Augment {
  const o = checkOptions(where, opts, AUGMENT_KEYS);
  const horizontalFlip = boolOption(where, "horizontalFlip", o.horizontalFlip, false);
  const shearRange = o.shearRange ?? 0;
  if (typeof shearRange !== "number" || !Number.isFinite(shearRange) || shearRange < 0 || shearRange >= 90) {
    throw new Error(`${where}: shearRange must be a number of degrees in [0, 90), got ${describe(shearRange)}`);
  }
  const z = o.zoomRange ?? 0;
  let zoomLo: number, zoomHi: number;
  if (typeof z === "number") {
    if (!(z >= 0 && z < 1)) throw new Error(`${where}: zoomRange must be a number in [0, 1) (zooms in [1-z, 1+z]) or [lo, hi], got ${describe(z)}`);
    zoomLo = 1 - z;
    zoomHi = 1 + z;
  } else if (Array.isArray(z) && z.length === 2 && typeof z[0] === "number" && typeof z[1] === "number" && z[0] > 0 && z[0] <= z[1] && Number.isFinite(z[1])) {
    [zoomLo, zoomHi] = z;
  } else {
    throw new Error(`${where}: zoomRange must be a number in [0, 1) or [lo, hi] with 0 < lo <= hi, got ${Array.isArray(z) ? `[${z.map(describe).join(", ")}]` : describe(z)}`);
  }
  const seed = o.seed ?? nextSeed();
  if (typeof seed !== "number" || !Number.isInteger(seed)) throw new Error(`${where}: seed must be an integer, got ${describe(seed)}`);
  return { horizontalFlip, shearRange, zoomLo, zoomHi, seed: seed >>> 0 };
}

/**
 * Draws one image's transform into `out`: four uniforms per image whatever the settings (shear,
 * zx, zy, flip, in Keras' order), so turning one augmentation off leaves the others' draws as they were.
 */
export function drawAffine(out: AffineDraw, rng: Rng, aug: Augment): AffineDraw {
  const u0 = rng.uniform(), u1 = rng.uniform(), u2 = rng.uniform(), u3 = rng.uniform();
  out.shear = aug.shearRange === 0 ? 0 : aug.shearRange * (2 * u0 - 1);
  out.zx = aug.zoomLo === aug.zoomHi ? aug.zoomLo : aug.zoomLo + (aug.zoomHi - aug.zoomLo) * u1;
  out.zy = aug.zoomLo === aug.zoomHi ? aug.zoomLo : aug.zoomLo + (aug.zoomHi - aug.zoomLo) * u2;
  out.flip = aug.horizontalFlip && u3 < 0.5;
  return out;
}

/** True when Keras applies no warp for this draw (a flip may still apply). */
export function isIdentityWarp(t: AffineDraw): boolean {
  return t.shear === 0 && t.zx === 1 && t.zy === 1;
}

/**
 * Writes into m = [a, b, e, c, d, f] the map from output (r, c) to input coordinates,
 * r_in = a r + b c + e and c_in = c' r + d c + f, for an H x W image (see the header).
 */
export function affineMatrix(m: Float64Array, t: AffineDraw, height: number, width: number): Float64Array {
  const s = t.shear * (Math.PI / 180);
  const a = t.zx, b = -Math.sin(s) * t.zy, c = 0, d = Math.cos(s) * t.zy;
  const or = height / 2 - 0.5, oc = width / 2 - 0.5;
  m[0] = a;
  m[1] = b;
  m[2] = or - a * or - b * oc;
  m[3] = c;
  m[4] = d;
  m[5] = oc - c * or - d * oc;
  return m;
}

/** Float32 x/255 for every byte value. */
export const BYTE_TO_UNIT: Float32Array = Float32Array.from({ length: 256 }, (_, i) => i / 255);

/**
 * Resamples one C x H x W uint8 image (channel-major at src[srcOffset..]) through the map `m`
 * (affineMatrix), mirrored left-right when `flip`, into out[outOffset + c*strideC + r*strideY
 * + x*strideX] as float32 values of `table` (BYTE_TO_UNIT: x/255). Writes; reads nothing of out.
 */
export function warpBilinearNearest(
  out: Float32Array, outOffset: number, strideC: number, strideY: number, strideX: number,
  src: Uint8Array, srcOffset: number, table: Float32Array, m: Float64Array, flip: boolean,
  C: number, H: number, W: number,
): void {
  const a = m[0], b = m[1], e = m[2], c = m[3], d = m[4], f = m[5];
  const hw = H * W, hMax = H - 1, wMax = W - 1;
  for (let r = 0; r < H; r++) {
    let o = outOffset + r * strideY;
    for (let x = 0; x < W; x++, o += strideX) {
      const xs = flip ? wMax - x : x;
      let ri = a * r + b * xs + e;
      let ci = c * r + d * xs + f;
      ri = ri > 0 ? (ri < hMax ? ri : hMax) : 0;
      ci = ci > 0 ? (ci < wMax ? ci : wMax) : 0;
      const r0 = ri | 0, c0 = ci | 0;
      const tr = ri - r0, tc = ci - c0;
      const r1 = r0 < hMax ? r0 + 1 : r0, c1 = c0 < wMax ? c0 + 1 : c0;
      const w00 = (1 - tr) * (1 - tc), w01 = (1 - tr) * tc, w10 = tr * (1 - tc), w11 = tr * tc;
      const p00 = srcOffset + r0 * W + c0, p01 = srcOffset + r0 * W + c1;
      const p10 = srcOffset + r1 * W + c0, p11 = srcOffset + r1 * W + c1;
      for (let ch = 0, oc = o, q = 0; ch < C; ch++, oc += strideC, q += hw) {
        out[oc] = w00 * table[src[p00 + q]] + w01 * table[src[p01 + q]] + w10 * table[src[p10 + q]] + w11 * table[src[p11 + q]];
      }
    }
  }
}

/** The same layout change and scaling with no warp (and the flip, when asked). */
export function convertImage(
  out: Float32Array, outOffset: number, strideC: number, strideY: number, strideX: number,
  src: Uint8Array, srcOffset: number, table: Float32Array, flip: boolean,
  C: number, H: number, W: number,
): void {
  for (let ch = 0; ch < C; ch++) {
    for (let r = 0; r < H; r++) {
      const row = srcOffset + (ch * H + r) * W;
      let o = outOffset + ch * strideC + r * strideY;
      if (flip) for (let x = W - 1; x >= 0; x--, o += strideX) out[o] = table[src[row + x]];
      else for (let x = 0; x < W; x++, o += strideX) out[o] = table[src[row + x]];
    }
  }
}

/** One image through transform `t`, as Keras applies it (`m` is 6 doubles of scratch). */
export function augmentImage(
  out: Float32Array, outOffset: number, strideC: number, strideY: number, strideX: number,
  src: Uint8Array, srcOffset: number, t: AffineDraw, m: Float64Array,
  C: number, H: number, W: number,
): void {
  if (isIdentityWarp(t)) {
    convertImage(out, outOffset, strideC, strideY, strideX, src, srcOffset, BYTE_TO_UNIT, t.flip, C, H, W);
  } else {
    warpBilinearNearest(out, outOffset, strideC, strideY, strideX, src, srcOffset, BYTE_TO_UNIT, affineMatrix(m, t, H, W), t.flip, C, H, W);
  }
}
