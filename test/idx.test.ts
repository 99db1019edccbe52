// IDX parsing on small files made here (complete and damaged), gzip files that decompress
// past their header's size, and the real MNIST files when ../shared/data has them.
import { mkdtemp, rm, symlink, writeFile, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  decodeIdxImages,
  decodeIdxLabels,
  gunzipBytes,
  isGzip,
  loadMnist,
  loadMnistFromBytes,
  maybeGunzip,
  parseIdxImages,
  parseIdxLabels,
} from "../src/data/index.js";
import { idxFile, idxImages, idxLabels, mnistFiles, SHARED_MNIST_DIR, SHARED_MNIST_SKIP, syntheticDigits, toBytes, warnIfNoSharedMnist, withSharedMnist, writeMnistDir } from "./fixtures.js";

warnIfNoSharedMnist("test/idx.test.ts");
const real = (name: string) => readFile(new URL(name, SHARED_MNIST_DIR));

/** Element-wise equality without vitest's deep diff, which is far too slow on 47M elements. */
function expectSame(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  expect(a.length, `${what}: length`).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) expect.fail(`${what}: differ at [${i}]: ${a[i]} vs ${b[i]}`);
  }
}

const concat = (a: Uint8Array, b: Uint8Array) => {
  const o = new Uint8Array(a.length + b.length);
  o.set(a);
  o.set(b, a.length);
  return o;
};

describe.skipIf(SHARED_MNIST_SKIP !== null)(withSharedMnist("the real MNIST files"), () => {
  let mnist: Awaited<ReturnType<typeof loadMnist>>;
  beforeAll(async () => {
    mnist = await loadMnist({ dir: SHARED_MNIST_DIR });
  });

  it("has 60000 train and 10000 test images of 28x28 with the known first labels", () => {
    expect(mnist.train.count).toBe(60000);
    expect(mnist.test.count).toBe(10000);
    expect(mnist.train.images.length).toBe(60000 * 784);
    expect(mnist.test.images.length).toBe(10000 * 784);
    expect(mnist.train.labels.length).toBe(60000);
    expect(mnist.test.labels.length).toBe(10000);
    expect([mnist.train.rows, mnist.train.cols]).toEqual([28, 28]);
    expect(Array.from(mnist.train.labels.subarray(0, 5))).toEqual([5, 0, 4, 1, 9]);
    expect(Array.from(mnist.test.labels.subarray(0, 5))).toEqual([7, 2, 1, 0, 4]);
    expect(mnist.source).toContain("train-images-idx3-ubyte.gz");
  });

  it("scales pixels to [0, 1] as byte/255, with both ends reached", () => {
    for (const s of [mnist.train, mnist.test]) {
      let lo = Infinity, hi = -Infinity, offGrid = 0;
      for (let i = 0; i < s.images.length; i++) {
        const p = s.images[i];
        if (p < lo) lo = p;
        if (p > hi) hi = p;
        if (Math.abs(p * 255 - Math.round(p * 255)) > 1e-4) offGrid++;
      }
      expect(lo).toBe(0);
      expect(hi).toBe(1);
      expect(offGrid).toBe(0);
    }
    // Image 0 of the training set (a 5): its middle row is not blank.
    const row14 = mnist.train.images.subarray(14 * 28, 15 * 28);
    expect(Math.max(...row14)).toBeGreaterThan(0.5);
  });

  it("labels hold all ten classes with MNIST's test counts", () => {
    const counts = new Array(10).fill(0);
    for (const l of mnist.test.labels) counts[l]++;
    expect(counts).toEqual([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
  });

  it("gives the same from raw and gzip-compressed files", async () => {
    const gzImages = await real("t10k-images-idx3-ubyte.gz");
    const gzLabels = await real("t10k-labels-idx1-ubyte.gz");
    expect(isGzip(gzImages)).toBe(true);
    const rawImages = gunzipSync(gzImages);
    const rawLabels = gunzipSync(gzLabels);
    expect(isGzip(rawImages)).toBe(false);
    expectSame(await gunzipBytes(gzImages), rawImages, "gunzipBytes vs node:zlib");

    const a = await decodeIdxImages(gzImages, "t10k-images-idx3-ubyte.gz");
    const b = parseIdxImages(rawImages, "t10k-images-idx3-ubyte");
    expect(b.count).toBe(a.count);
    expectSame(b.pixels, a.pixels, "raw vs gz pixels");
    expectSame(parseIdxLabels(rawLabels), await decodeIdxLabels(gzLabels), "raw vs gz labels");

    // A directory mixing both forms: the loader detects gzip by its magic.
    const dir = await mkdtemp(join(tmpdir(), "bn-mnist-raw-"));
    try {
      await writeFile(join(dir, "t10k-images-idx3-ubyte"), rawImages);
      await writeFile(join(dir, "t10k-labels-idx1-ubyte"), rawLabels);
      await symlink(new URL("train-labels-idx1-ubyte.gz", SHARED_MNIST_DIR).pathname, join(dir, "train-labels-idx1-ubyte.gz"));
      await symlink(new URL("train-images-idx3-ubyte.gz", SHARED_MNIST_DIR).pathname, join(dir, "train-images-idx3-ubyte.gz"));
      const mixed = await loadMnist({ dir });
      expectSame(mixed.test.images, mnist.test.images, "test images");
      expectSame(mixed.test.labels, mnist.test.labels, "test labels");
      expectSame(mixed.train.labels, mnist.train.labels, "train labels");
      expect(mixed.source).toContain(join(dir, "t10k-images-idx3-ubyte,"));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("MNIST-shaped files generated here (the same checks on a clone without ../shared)", () => {
  const train = syntheticDigits(300, 1);
  const test = syntheticDigits(100, 2);
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "bn-mnist-gen-"));
    await writeMnistDir(join(dir, "gz"), train, test, true);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("loads 300 train and 100 test 28x28 images with their labels, pixels exactly byte/255", async () => {
    const m = await loadMnist({ dir: join(dir, "gz") });
    expect([m.train.count, m.test.count, m.train.rows, m.train.cols]).toEqual([300, 100, 28, 28]);
    expect(m.source).toContain(join(dir, "gz", "train-images-idx3-ubyte.gz"));
    for (const [got, want, what] of [[m.train, train, "train"], [m.test, test, "test"]] as const) {
      expectSame(got.labels, want.labels, `${what} labels`);
      expectSame(got.images, Float32Array.from(want.pixels, (b) => b / 255), `${what} pixels`);
      expectSame(toBytes(got.images), want.pixels, `${what} bytes`);
    }
    expect([m.train.images.reduce((a, b) => Math.min(a, b)), m.train.images.reduce((a, b) => Math.max(a, b))]).toEqual([0, 1]);
  });

  it("gives the same from raw and gzip-compressed files, and from a directory mixing both", async () => {
    const gz = mnistFiles(train, test, true);
    const raw = mnistFiles(train, test, false);
    expect(isGzip(gz["t10k-images-idx3-ubyte.gz"])).toBe(true);
    expect(isGzip(raw["t10k-images-idx3-ubyte"])).toBe(false);
    expectSame(await gunzipBytes(gz["t10k-images-idx3-ubyte.gz"]), gunzipSync(gz["t10k-images-idx3-ubyte.gz"]), "gunzipBytes vs node:zlib");
    expectSame(await maybeGunzip(raw["t10k-labels-idx1-ubyte"]), raw["t10k-labels-idx1-ubyte"], "maybeGunzip of raw bytes");

    const a = await decodeIdxImages(gz["t10k-images-idx3-ubyte.gz"], "t10k-images-idx3-ubyte.gz");
    const b = parseIdxImages(raw["t10k-images-idx3-ubyte"], "t10k-images-idx3-ubyte");
    expect([a.count, b.count]).toEqual([100, 100]);
    expectSame(b.pixels, a.pixels, "raw vs gz pixels");
    expectSame(parseIdxLabels(raw["t10k-labels-idx1-ubyte"]), await decodeIdxLabels(gz["t10k-labels-idx1-ubyte.gz"]), "raw vs gz labels");

    // Raw test files beside links to the gzip training files; the loader detects gzip by its magic.
    const mixed = join(dir, "mixed");
    await writeMnistDir(mixed, train, test, false);
    for (const f of ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"]) {
      await rm(join(mixed, f));
      await symlink(join(dir, "gz", `${f}.gz`), join(mixed, `${f}.gz`));
    }
    const fromMixed = await loadMnist({ dir: mixed });
    const fromGz = await loadMnist({ dir: join(dir, "gz") });
    expectSame(fromMixed.test.images, fromGz.test.images, "test images");
    expectSame(fromMixed.train.images, fromGz.train.images, "train images");
    expectSame(fromMixed.train.labels, fromGz.train.labels, "train labels");
    expect(fromMixed.source).toContain(join(mixed, "t10k-images-idx3-ubyte,"));

    const fromBytes = await loadMnistFromBytes({
      trainImages: gz["train-images-idx3-ubyte.gz"],
      trainLabels: raw["train-labels-idx1-ubyte"],
      testImages: raw["t10k-images-idx3-ubyte"],
      testLabels: gz["t10k-labels-idx1-ubyte.gz"],
    });
    expectSame(fromBytes.train.images, fromGz.train.images, "loadMnistFromBytes train images");
    expectSame(fromBytes.test.labels, fromGz.test.labels, "loadMnistFromBytes test labels");
  });

  it("uses the raw file when a directory holds both forms", async () => {
    const both = join(dir, "both");
    await writeMnistDir(both, train, test, true);
    const other = syntheticDigits(100, 9);
    await writeFile(join(both, "t10k-labels-idx1-ubyte"), idxLabels(other.labels));
    const m = await loadMnist({ dir: both });
    expectSame(m.test.labels, other.labels, "labels from the raw file");
  });
});

describe("IDX parsing of small files", () => {
  it("parses a valid images file and labels file", async () => {
    const im = parseIdxImages(idxImages(3, 2, 5));
    expect([im.count, im.rows, im.cols, im.pixels.length]).toEqual([3, 2, 5, 30]);
    expect(im.pixels[1]).toBeCloseTo(7 / 255, 7);
    expect(Array.from(parseIdxLabels(idxLabels([3, 1, 4])))).toEqual([3, 1, 4]);
    const gz = await decodeIdxImages(gzipSync(idxImages(3, 2, 5)));
    expectSame(gz.pixels, im.pixels, "gz vs raw");
    expect(parseIdxImages(idxImages(0)).count).toBe(0);
  });

  it("rejects a wrong magic number, naming the file, what was expected and what came", () => {
    expect(() => parseIdxImages(idxLabels([1, 2]), "x-images")).toThrow(
      /x-images: wrong magic number: expected an IDX images file \(magic 2051 = 0x00000803.*got 2049 = 0x00000801 \(an IDX labels file, not images\)/,
    );
    expect(() => parseIdxLabels(idxImages(1), "x-labels")).toThrow(/x-labels: wrong magic number: expected an IDX labels file \(magic 2049.*got 2051.*not labels/);
    expect(() => parseIdxImages(idxImages(1, 28, 28, 0x0d03), "f")).toThrow(/f: wrong magic number.*got 3331 = 0x00000d03 \(element type float32/);
    expect(() => parseIdxImages(idxImages(1, 28, 28, 0x0804), "f")).toThrow(/wrong magic number.*\(4 dimensions, not 3\)/);
    expect(() => parseIdxImages(new TextEncoder().encode("<html>not found</html>"), "page.html")).toThrow(
      /page\.html: wrong magic number.*not an IDX file/,
    );
  });

  it("rejects truncated files with the expected and actual lengths", () => {
    const full = idxImages(4, 28, 28);
    expect(() => parseIdxImages(full.subarray(0, full.length - 100), "short-images")).toThrow(
      /short-images: truncated: the header declares 4 images x 28 rows x 28 cols, so expected 3152 bytes \(16 header \+ 3136 data\), got 3052 \(100 missing\)/,
    );
    expect(() => parseIdxImages(full.subarray(0, 10), "h")).toThrow(/h: truncated header: expected at least 16 bytes.*got 10/);
    expect(() => parseIdxImages(new Uint8Array(0), "empty")).toThrow(/empty: truncated: .*got only 0 bytes/);
    expect(() => parseIdxLabels(idxLabels([1, 2, 3]).subarray(0, 9), "l")).toThrow(/l: truncated: .*expected 11 bytes.*got 9 \(2 missing\)/);
  });

  it("rejects trailing bytes after the declared data", () => {
    expect(() => parseIdxImages(concat(idxImages(2, 3, 3), new Uint8Array([1, 2, 3])), "long")).toThrow(
      /long: trailing data: .*expected exactly 34 bytes .*got 37 \(3 extra\)/,
    );
    expect(() => parseIdxLabels(concat(idxLabels([1]), new Uint8Array(1)), "ll")).toThrow(/ll: trailing data: .*expected exactly 9 bytes.*got 10 \(1 extra\)/);
  });

  it("rejects impossible dimensions", () => {
    expect(() => parseIdxImages(idxImages(1, 0, 28), "zero")).toThrow(/zero: implausible image size: .*got 0 x 28/);
    // Dimensions that do not fit the data are a length mismatch.
    const im = idxImages(2, 28, 28);
    new DataView(im.buffer).setUint32(8, 29);
    expect(() => parseIdxImages(im, "dims")).toThrow(/dims: truncated: the header declares 2 images x 29 rows x 28 cols/);
  });

  it("rejects corrupt or truncated gzip data", async () => {
    const gz = gzipSync(idxImages(5));
    const flipped = new Uint8Array(gz);
    flipped[Math.floor(gz.length / 2)] ^= 0xff;
    await expect(decodeIdxImages(flipped, "bad.gz")).rejects.toThrow(/bad\.gz: corrupt or truncated gzip data/);
    await expect(decodeIdxImages(gz.subarray(0, gz.length - 20), "cut.gz")).rejects.toThrow(/cut\.gz: corrupt or truncated gzip data/);
    await expect(decodeIdxImages(concat(gz, new Uint8Array([0, 1, 2, 3])), "tail.gz")).rejects.toThrow(/tail\.gz: corrupt gzip data or trailing bytes/);
    await expect(decodeIdxImages(concat(gz, new Uint8Array([7, 8, 9])), "tail2.gz")).rejects.toThrow(/tail2\.gz: corrupt/);
    await expect(gunzipBytes(idxImages(1), "plain")).rejects.toThrow(/plain: not gzip data: expected the gzip magic 1f 8b, got 00 00 08 03/);
    // The synchronous parser does not decompress, and says so.
    expect(() => parseIdxImages(gz, "g.gz")).toThrow(/g\.gz: expected a raw IDX images file.*got gzip-compressed data/);
  });

  it("checks that images and labels agree and look like MNIST", async () => {
    const good = { trainImages: idxImages(3), trainLabels: idxLabels([0, 1, 2]), testImages: idxImages(2), testLabels: idxLabels([9, 8]) };
    const ok = await loadMnistFromBytes(good);
    expect([ok.train.count, ok.test.count]).toEqual([3, 2]);
    await expect(loadMnistFromBytes({ ...good, testLabels: idxLabels([9, 8, 7]) })).rejects.toThrow(
      /t10k-images-idx3-ubyte holds 2 images but t10k-labels-idx1-ubyte holds 3 labels/,
    );
    await expect(loadMnistFromBytes({ ...good, trainImages: idxImages(3, 32, 32) })).rejects.toThrow(
      /train-images-idx3-ubyte: expected 28x28 MNIST images, got 32x32/,
    );
    await expect(loadMnistFromBytes({ ...good, trainLabels: idxLabels([0, 10, 2]) })).rejects.toThrow(
      /train-labels-idx1-ubyte: expected labels 0\.\.9, got 10 at index 1/,
    );
    await expect(loadMnistFromBytes({ ...good, testImages: gzipSync(idxImages(2)) })).resolves.toBeTruthy();
  });
});

describe("loadMnist on a directory", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "bn-mnist-dir-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("lists the expected files and what it found when files are missing", async () => {
    await expect(loadMnist({ dir })).rejects.toThrow(
      /is missing train-images-idx3-ubyte\(\.gz\), train-labels-idx1-ubyte\(\.gz\), t10k-images-idx3-ubyte\(\.gz\), t10k-labels-idx1-ubyte\(\.gz\); expected the four files .*; the directory is empty/,
    );
    await writeFile(join(dir, "train-images-idx3-ubyte.gz"), gzipSync(idxImages(1)));
    await writeFile(join(dir, "README.txt"), "hi");
    await expect(loadMnist({ dir })).rejects.toThrow(
      /is missing train-labels-idx1-ubyte\(\.gz\), t10k-images-idx3-ubyte\(\.gz\), t10k-labels-idx1-ubyte\(\.gz\);.*found: README\.txt, train-images-idx3-ubyte\.gz/,
    );
  });

  it("says when the directory does not exist", async () => {
    await expect(loadMnist({ dir: join(dir, "nope") })).rejects.toThrow(/the MNIST directory .*nope does not exist; expected a directory holding the four files/);
  });

  it("names the damaged file", async () => {
    await writeFile(join(dir, "train-labels-idx1-ubyte.gz"), gzipSync(idxLabels([3])));
    await writeFile(join(dir, "t10k-images-idx3-ubyte"), idxImages(2).subarray(0, 100));
    await writeFile(join(dir, "t10k-labels-idx1-ubyte"), idxLabels([1, 2]));
    await expect(loadMnist({ dir })).rejects.toThrow(new RegExp(`${join(dir, "t10k-images-idx3-ubyte")}: truncated`));
    await writeFile(join(dir, "t10k-images-idx3-ubyte"), idxImages(2));
    const m = await loadMnist({ dir });
    expect([m.train.count, m.test.count, m.train.labels[0]]).toEqual([1, 2, 3]);
  });
});

/** `declared` IDX bytes (header and data) followed by `extra` zero bytes, gzip-compressed. */
function bomb(declared: Uint8Array, extra: number): Uint8Array {
  return gzipSync(concat(declared, new Uint8Array(extra)), { level: 9 });
}

/** The error a promise rejects with; fails the test when it resolves. */
async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  return expect.fail("expected a rejection, but it resolved");
}

/** The "stopped at N bytes" of a decompression that went past the declared size. */
function stoppedAt(message: string): number {
  const m = /stopped at (\d+) bytes/.exec(message);
  if (!m) expect.fail(`no "stopped at" in: ${message}`);
  return Number(m[1]);
}

describe("gzip files are read no further than their header declares", () => {
  const MiB = 1 << 20;

  it("rejects an images file that inflates far past its header, as larger than declared, after reading little more", async () => {
    const gz = bomb(idxImages(10), 16 * MiB);
    expect(gz.length).toBeLessThan(40000);
    const err = await rejection(decodeIdxImages(gz, "train-images-idx3-ubyte.gz"));
    expect(err.message).toMatch(
      /^batchnorm-wasm: train-images-idx3-ubyte\.gz: larger than its header declares: the header declares 10 images x 28 rows x 28 cols, so 7856 bytes \(16 header \+ 7840 data\), but the decompressed data goes on past that \(stopped at \d+ bytes\); trailing data, or a decompression bomb$/,
    );
    expect(err.message).not.toMatch(/corrupt/);
    // Stopped within a few decompressed chunks of the declared size, not after 16 MiB.
    expect(stoppedAt(err.message)).toBeGreaterThan(7856);
    expect(stoppedAt(err.message)).toBeLessThan(7856 + 256 * 1024);
  });

  it("rejects a labels file that inflates past its header", async () => {
    const err = await rejection(decodeIdxLabels(bomb(idxLabels([1, 2, 3]), 4 * MiB), "l.gz"));
    expect(err.message).toMatch(/l\.gz: larger than its header declares: the header declares 3 labels, so 11 bytes \(8 header \+ 3 data\), but the decompressed data goes on past that/);
    expect(stoppedAt(err.message)).toBeLessThan(256 * 1024);
  });

  it("names the file when loadMnist meets one in a directory", async () => {
    const dir = await mkdtemp(join(tmpdir(), "bn-mnist-bomb-"));
    try {
      const small = syntheticDigits(4, 3);
      await writeMnistDir(dir, small, small, true);
      await writeFile(join(dir, "t10k-images-idx3-ubyte.gz"), bomb(idxFile(2051, [4, 28, 28], small.pixels), 8 * MiB));
      await expect(loadMnist({ dir })).rejects.toThrow(
        new RegExp(`^batchnorm-wasm: ${join(dir, "t10k-images-idx3-ubyte.gz")}: larger than its header declares: the header declares 4 images x 28 rows x 28 cols, so 3152 bytes`),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("rejects a header that declares more than maxBytes before decompressing the data", async () => {
    const header = (count: number) => gzipSync(idxFile(2051, [count, 28, 28], new Uint8Array(100)));
    await expect(decodeIdxImages(header(60000), "big.gz", { maxBytes: 1000000 })).rejects.toThrow(
      /^batchnorm-wasm: big\.gz: the header declares 60000 images x 28 rows x 28 cols, so 47040016 bytes \(16 header \+ 47040000 data\), more than the limit of 1000000 decompressed bytes; pass a larger maxBytes if the file is genuine$/,
    );
    // The default limit for IDX files is 1 GiB.
    await expect(decodeIdxImages(header(4294967295), "huge.gz")).rejects.toThrow(/huge\.gz: the header declares 4294967295 images x 28 rows x 28 cols, so \d+ bytes .*more than the limit of 1073741824 decompressed bytes/);
    await expect(loadMnistFromBytes({ trainImages: header(60000), trainLabels: idxLabels([1]), testImages: idxImages(1), testLabels: idxLabels([1]) }, { maxBytes: 5000 })).rejects.toThrow(
      /train-images-idx3-ubyte: the header declares 60000 images .*more than the limit of 5000 decompressed bytes/,
    );
    // A file within the limit loads.
    expect((await decodeIdxImages(gzipSync(idxImages(2)), "ok.gz", { maxBytes: 16 + 2 * 784 })).count).toBe(2);
  });

  it("caps gzip data without an IDX header at maxBytes", async () => {
    const zeros = gzipSync(new Uint8Array(16 * MiB), { level: 9 });
    // (rejection() rather than .rejects: a resolved 16 MiB array would be printed in full.)
    expect((await rejection(gunzipBytes(zeros, "z.gz", { maxBytes: MiB }))).message).toMatch(
      /^batchnorm-wasm: z\.gz: decompresses to more than 1048576 bytes, the limit \(stopped there\); pass a larger maxBytes if the file is genuine$/,
    );
    expect((await rejection(maybeGunzip(zeros, "z.gz", { maxBytes: MiB }))).message).toMatch(/more than 1048576 bytes/);
    expect((await gunzipBytes(zeros, "z.gz", { maxBytes: 16 * MiB })).length).toBe(16 * MiB);
    // The trailer's size field only guides the first allocation: a wrong one is still corrupt.
    const lying = new Uint8Array(gzipSync(new Uint8Array(300000).fill(7)));
    lying.set([1, 0, 0, 0], lying.length - 4);
    await expect(gunzipBytes(lying, "lying.gz")).rejects.toThrow(/lying\.gz: corrupt/);
  });

  it("rejects a maxBytes that is not a positive integer", async () => {
    const gz = gzipSync(idxImages(1));
    expect((await rejection(gunzipBytes(gz, "a.gz", { maxBytes: 0 }))).message).toMatch(/a\.gz: maxBytes must be a positive integer, got 0/);
    expect((await rejection(decodeIdxImages(gz, "b.gz", { maxBytes: Number.NaN }))).message).toMatch(/b\.gz: maxBytes must be a positive integer, got NaN/);
    await expect(loadMnist({ dir: "/nonexistent", maxBytes: -1 })).rejects.toThrow(/loadMnist: maxBytes must be a positive integer \(the most decompressed bytes per file\), got -1/);
  });

  it("stops at the header of gzip data that is not IDX", async () => {
    const page = gzipSync(new TextEncoder().encode("<html>" + "not found ".repeat(100000) + "</html>"));
    await expect(decodeIdxImages(page, "page.gz")).rejects.toThrow(/^batchnorm-wasm: page\.gz: wrong magic number: expected an IDX images file .*not an IDX file/);
    await expect(decodeIdxLabels(gzipSync(idxLabels([1]).subarray(0, 6)), "short.gz")).rejects.toThrow(/short\.gz: truncated header: expected at least 8 bytes .*got 6/);
    await expect(decodeIdxImages(gzipSync(idxImages(3).subarray(0, 100)), "cut.gz")).rejects.toThrow(
      /cut\.gz: truncated: the header declares 3 images x 28 rows x 28 cols, so expected 2368 bytes \(16 header \+ 2352 data\), got 100 \(2268 missing\)/,
    );
  });
});
