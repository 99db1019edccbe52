// Float32 training batches from uint8 channel-major image records (CIFAR-10's layout: per record
// the R, G, B planes of H x W bytes), scaled to [0, 1] as x/255 and laid out NHWC or NCHW, each
// image augmented with Keras ImageDataGenerator semantics (augment.ts) when augmentation is on.
// The draws come from one seeded generator, image after image, so a batch depends on the seed
// and on how many images came before it; rngState() saves that position for checkpoints.
import type { DataFormat } from "../ops/bn.js";
import { checkOptions, describe } from "../options.js";
import { Rng } from "../random.js";
import { type AffineDraw, type Augment, type AugmentOptions, augmentImage, BYTE_TO_UNIT, checkAugmentOptions, convertImage, drawAffine } from "./augment.js";

export interface ImageBatcherOptions {
  /** Image size (default 3 x 32 x 32, CIFAR-10). */
  channels?: number;
  height?: number;
  width?: number;
  /** 'channelsLast' (NHWC, the default) or 'channelsFirst' (NCHW). */
  dataFormat?: DataFormat;
  /** Augmentation settings (e.g. KERAS_CIFAR10_AUGMENT and a seed); none for a straight conversion. */
  augment?: AugmentOptions | null;
}

const NAME = "ImageBatcher";

function sizeOption(key: string, v: unknown, fallback: number): number {
  const n = v === undefined ? fallback : v;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 1) throw new Error(`${NAME}: ${key} must be a positive integer, got ${describe(n)}`);
  return n;
}

export class ImageBatcher {
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  readonly dataFormat: DataFormat;
  /** The checked augmentation settings, or null for a straight conversion. */
  readonly augment: Augment | null;
  private readonly rng: Rng;
  private readonly draw: AffineDraw = { shear: 0, zx: 1, zy: 1, flip: false };
  private readonly matrix = new Float64Array(6);

  constructor(options: ImageBatcherOptions = {}) {
    const o = checkOptions(NAME, options, ["channels", "height", "width", "dataFormat", "augment"]);
    this.channels = sizeOption("channels", o.channels, 3);
    this.height = sizeOption("height", o.height, 32);
    this.width = sizeOption("width", o.width, 32);
    const df = o.dataFormat ?? "channelsLast";
    if (df !== "channelsLast" && df !== "channelsFirst") throw new Error(`${NAME}: dataFormat must be 'channelsLast' or 'channelsFirst', got ${describe(df)}`);
    this.dataFormat = df;
    this.augment = o.augment === undefined || o.augment === null ? null : checkAugmentOptions(`${NAME}: augment`, o.augment);
    this.rng = new Rng(this.augment?.seed ?? 0);
  }

  /** Bytes of one image record, and floats of one image in a batch: channels * height * width. */
  get imageSize(): number {
    return this.channels * this.height * this.width;
  }

  /** Where the augmentation draws stand (an integer in [0, 2^32)), for checkpoints. */
  rngState(): number {
    return this.rng.state;
  }

  /** Resumes the draws from a value rngState() returned. */
  setRngState(state: number): void {
    this.rng.state = state;
  }

  /**
   * Writes images indices[start .. start+count) of `images` (records of imageSize bytes) into
   * out[0 .. count*imageSize) in dataFormat, as float32 in [0, 1], augmented when configured
   * (one draw per image, in order). Allocates nothing.
   */
  fill(out: Float32Array, images: Uint8Array, indices: ArrayLike<number>, start: number, count: number): void {
    const C = this.channels, H = this.height, W = this.width, size = C * H * W;
    if (!(out instanceof Float32Array)) throw new Error(`${NAME}.fill: out must be a Float32Array, got ${describe(out)}`);
    if (!(images instanceof Uint8Array)) throw new Error(`${NAME}.fill: images must be a Uint8Array, got ${describe(images)}`);
    if (images.length % size !== 0) throw new Error(`${NAME}.fill: images holds ${images.length} bytes, not a whole number of ${C}x${H}x${W} records (${size} bytes each)`);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(count) || start < 0 || count < 0 || start + count > indices.length) {
      throw new Error(`${NAME}.fill: start ${start} and count ${count} must be non-negative integers with start + count <= indices.length (${indices.length})`);
    }
    if (out.length < count * size) throw new Error(`${NAME}.fill: out holds ${out.length} floats, fewer than ${count} images of ${size}`);
    const records = images.length / size;
    // All indices checked before any draw, so a failed call leaves the generator where it was.
    for (let i = start; i < start + count; i++) {
      const k = indices[i];
      if (!(Number.isInteger(k) && k >= 0 && k < records)) throw new Error(`${NAME}.fill: indices[${i}] = ${k} is not a record index in [0, ${records})`);
    }
    const last = this.dataFormat === "channelsLast";
    const strideC = last ? 1 : H * W, strideY = last ? W * C : W, strideX = last ? C : 1;
    for (let i = 0; i < count; i++) {
      const k = indices[start + i];
      if (this.augment === null) {
        convertImage(out, i * size, strideC, strideY, strideX, images, k * size, BYTE_TO_UNIT, false, C, H, W);
      } else {
        drawAffine(this.draw, this.rng, this.augment);
        augmentImage(out, i * size, strideC, strideY, strideX, images, k * size, this.draw, this.matrix, C, H, W);
      }
    }
  }
}
