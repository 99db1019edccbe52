// CIFAR-10 from generated batch files (3 records each) in a folder, a .tar and a .tar.gz, the
// errors for damaged files and archives, and, when ../shared/data is there, the real files.
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CIFAR10_CLASSES,
  CIFAR10_FILES,
  CIFAR10_SHA256,
  CIFAR10_TRAIN_FILES,
  cifar10FromBytes,
  loadCifar10,
  type Cifar10Data,
} from "../src/index.js";
import { cifarBatch, cifarPixel, SHARED_CIFAR10_DIR, SHARED_CIFAR10_SKIP, tarArchive, tarHeader, type TarMember } from "./fixtures.js";

const R = 3; // records per generated file
/** The six generated files by name; file k (0..5) is made with salt k. */
const FILES: Record<string, Uint8Array> = Object.fromEntries(CIFAR10_FILES.map((f, k) => [f, cifarBatch(R, k)]));
const opts = { recordsPerFile: R };

/** The archive as the official one is laid out (a directory entry, members in a mixed order, two text files). */
function members(files: Record<string, Uint8Array> = FILES): TarMember[] {
  const order = ["data_batch_4.bin", "batches.meta.txt", "data_batch_1.bin", "test_batch.bin", "data_batch_2.bin", "readme.html", "data_batch_5.bin", "data_batch_3.bin"];
  const text = (s: string) => new TextEncoder().encode(s);
  const extra: Record<string, Uint8Array> = { "batches.meta.txt": text(CIFAR10_CLASSES.join("\n") + "\n\n"), "readme.html": text("<meta>") };
  return [{ name: "cifar-10-batches-bin/", type: "5" }, ...order.map((f) => ({ name: `cifar-10-batches-bin/${f}`, data: files[f] ?? extra[f] }))];
}

/** Byte offset of the header block of the member called `name`. */
function headerAt(tar: Uint8Array, name: string): number {
  for (let at = 0; at < tar.length; at += 512) {
    if (String.fromCharCode(...tar.subarray(at, at + name.length)) === name && tar[at + name.length] === 0) return at;
  }
  throw new Error(`no header for ${name}`);
}

let tmp = "";
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "bn-cifar10-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function writeFolder(name: string, files: Record<string, Uint8Array> = FILES): Promise<string> {
  const dir = join(tmp, name);
  await mkdir(dir, { recursive: true });
  for (const [f, b] of Object.entries(files)) await writeFile(join(dir, f), b);
  return dir;
}

async function writeArchive(name: string, bytes: Uint8Array): Promise<string> {
  const p = join(tmp, name);
  await writeFile(p, bytes);
  return p;
}

/** Every label and pixel against the generator: record i of file k is image k*R + i of its split. */
function expectGenerated(d: Cifar10Data): void {
  expect(d.train.images.length).toBe(5 * R * 3072);
  expect(d.train.labels.length).toBe(5 * R);
  expect(d.test.images.length).toBe(R * 3072);
  expect(d.test.labels.length).toBe(R);
  const check = (split: Cifar10Data["train"], n: number, salt: number, i: number) => {
    expect(split.labels[n]).toBe((i * 3 + salt) % 10);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 32; y++) {
        for (let x = 0; x < 32; x++) {
          const got = split.images[n * 3072 + c * 1024 + y * 32 + x];
          if (got !== cifarPixel(i, c, y, x, salt)) throw new Error(`image ${n} pixel (${c}, ${y}, ${x}): ${got}, expected ${cifarPixel(i, c, y, x, salt)}`);
        }
      }
    }
  };
  for (let k = 0; k < 5; k++) for (let i = 0; i < R; i++) check(d.train, k * R + i, k, i);
  for (let i = 0; i < R; i++) check(d.test, i, 5, i);
}

function sameData(a: Cifar10Data, b: Cifar10Data): void {
  expect(Buffer.from(a.train.images).equals(Buffer.from(b.train.images))).toBe(true);
  expect(Buffer.from(a.test.images).equals(Buffer.from(b.test.images))).toBe(true);
  expect(Array.from(a.train.labels)).toEqual(Array.from(b.train.labels));
  expect(Array.from(a.test.labels)).toEqual(Array.from(b.test.labels));
}

describe("loadCifar10 and cifar10FromBytes on generated files", () => {
  it("reads a folder: labels in file order, pixel (c, y, x) of record i at i*3072 + c*1024 + y*32 + x", async () => {
    const dir = await writeFolder("folder");
    const d = await loadCifar10({ dir, ...opts });
    expectGenerated(d);
    expect(d.train.images).toBeInstanceOf(Uint8Array);
    expect(d.source).toBe(`CIFAR-10 batch files in ${dir}`);
    // A folder holding cifar-10-batches-bin/, as the archive unpacks, works too.
    const parent = join(tmp, "parent");
    await writeFolder(join("parent", "cifar-10-batches-bin"));
    sameData(await loadCifar10({ dir: parent, ...opts }), d);
  });

  it("reads the same data from a .tar.gz and a .tar, by path and from bytes", async () => {
    const tar = tarArchive(members());
    const tgz = gzipSync(tar);
    const ref = await cifar10FromBytes({ train: CIFAR10_TRAIN_FILES.map((f) => FILES[f]), test: FILES["test_batch.bin"] }, opts);
    expectGenerated(ref);
    sameData(await loadCifar10({ dir: await writeArchive("c.tar.gz", tgz), ...opts }), ref);
    sameData(await loadCifar10({ dir: await writeArchive("c.tar", tar), ...opts }), ref);
    sameData(await cifar10FromBytes(tgz, opts), ref);
    sameData(await cifar10FromBytes(tar, opts), ref);
  });

  it("expects 10,000 records per file unless told otherwise", async () => {
    const dir = await writeFolder("default-count");
    await expect(loadCifar10({ dir })).rejects.toThrow(
      `${join(dir, "data_batch_1.bin")}: expected 10000 records of 3073 bytes (1 label + 3072 pixels) = 30730000 bytes, got 9219 bytes (3 records)`,
    );
  });

  it("rejects a truncated file, naming it, the size expected and the size found", async () => {
    const dir = await writeFolder("truncated", { ...FILES, "data_batch_3.bin": FILES["data_batch_3.bin"].subarray(0, R * 3073 - 5) });
    await expect(loadCifar10({ dir, ...opts })).rejects.toThrow(
      `${join(dir, "data_batch_3.bin")}: expected 3 records of 3073 bytes (1 label + 3072 pixels) = 9219 bytes, got 9214 bytes (2 whole records and 3068 bytes more: truncated or not a CIFAR-10 file)`,
    );
  });

  it("rejects a file with the wrong record count", async () => {
    const dir = await writeFolder("count", { ...FILES, "test_batch.bin": cifarBatch(R - 1, 5) });
    await expect(loadCifar10({ dir, ...opts })).rejects.toThrow(`${join(dir, "test_batch.bin")}: expected 3 records of 3073 bytes (1 label + 3072 pixels) = 9219 bytes, got 6146 bytes (2 records)`);
    await expect(cifar10FromBytes({ train: CIFAR10_TRAIN_FILES.map((f) => FILES[f]), test: cifarBatch(R + 1, 5) }, opts)).rejects.toThrow(
      "test_batch.bin: expected 3 records of 3073 bytes (1 label + 3072 pixels) = 9219 bytes, got 12292 bytes (4 records)",
    );
  });

  it("rejects a label outside 0..9 with its record and byte", async () => {
    const bad = FILES["data_batch_2.bin"].slice();
    bad[3073] = 10;
    const dir = await writeFolder("label", { ...FILES, "data_batch_2.bin": bad });
    await expect(loadCifar10({ dir, ...opts })).rejects.toThrow(`${join(dir, "data_batch_2.bin")}: record 1 (byte 3073) has label 10; expected 0..9`);
    await expect(cifar10FromBytes(gzipSync(tarArchive(members({ ...FILES, "data_batch_2.bin": bad }))), opts)).rejects.toThrow(
      "cifar-10-binary.tar.gz: cifar-10-batches-bin/data_batch_2.bin: record 1 (byte 3073) has label 10",
    );
  });

  it("names the missing files, and what it found in an unrelated folder", async () => {
    const { "test_batch.bin": _, "data_batch_5.bin": __, ...five } = FILES;
    const dir = await writeFolder("missing", five);
    await expect(loadCifar10({ dir, ...opts })).rejects.toThrow(`${dir}: missing data_batch_5.bin, test_batch.bin; expected the six files`);
    const other = await writeFolder("other", { "notes.txt": new Uint8Array(1) });
    await expect(loadCifar10({ dir: other })).rejects.toThrow(/holds none of the batch files; expected a folder holding data_batch_1\.bin.*; found: notes\.txt/);
    await expect(loadCifar10({ dir: join(tmp, "nowhere") })).rejects.toThrow(/nowhere does not exist; expected a folder holding/);
    const archive = members().filter((m) => !m.name.endsWith("data_batch_4.bin"));
    await expect(cifar10FromBytes(tarArchive(archive), opts)).rejects.toThrow("cifar-10-binary.tar: missing data_batch_4.bin; expected the six files");
  });

  it("rejects a corrupt tar header by its checksum", async () => {
    const tar = tarArchive(members());
    const at = headerAt(tar, "cifar-10-batches-bin/batches.meta.txt"); // the header after data_batch_4.bin
    tar[at + 3] ^= 0x20;
    await expect(cifar10FromBytes(gzipSync(tar), opts)).rejects.toThrow(
      new RegExp(`cifar-10-binary\\.tar\\.gz: corrupt tar header at byte ${at} \\(after member "cifar-10-batches-bin/data_batch_4\\.bin"\\): the header says checksum \\d+, its bytes sum to \\d+`),
    );
  });

  it("rejects a tar whose member is short, and a truncated .tar.gz", async () => {
    const tar = tarArchive(members());
    const cut = tar.subarray(0, 1024 + 4000); // inside data_batch_4.bin
    await expect(loadCifar10({ dir: await writeArchive("short.tar.gz", gzipSync(cut)), ...opts })).rejects.toThrow(
      'short.tar.gz: truncated: member "cifar-10-batches-bin/data_batch_4.bin" (header at byte 512) is short: its header declares 9219 bytes, the archive ends after 4000',
    );
    const tgz = gzipSync(tar);
    await expect(cifar10FromBytes(tgz.subarray(0, tgz.length - 100), opts)).rejects.toThrow(/cifar-10-binary\.tar\.gz: corrupt or truncated gzip data/);
    await expect(loadCifar10({ dir: await writeArchive("not.tar.gz", new Uint8Array([1, 2, 3])), ...opts })).rejects.toThrow(/not\.tar\.gz: truncated: the archive ends inside a header block at byte 0/);
  });

  it("checks a member's size at its header, before reading it", async () => {
    // data_batch_1.bin declares 10,000 records but holds 3: rejected at the header.
    const tar = tarArchive(members());
    const header = tarHeader("cifar-10-batches-bin/data_batch_1.bin", 30730000);
    tar.set(header, headerAt(tar, "cifar-10-batches-bin/data_batch_1.bin"));
    await expect(cifar10FromBytes(tar, opts)).rejects.toThrow(
      "cifar-10-binary.tar: cifar-10-batches-bin/data_batch_1.bin: expected 3 records of 3073 bytes (1 label + 3072 pixels) = 9219 bytes, got 30730000 bytes (10000 records)",
    );
  });

  it("stops a gzip bomb at maxBytes", async () => {
    // 64 MiB of zeros in a member before the batch files compresses to about 64 KB.
    const bomb = gzipSync(tarArchive([{ name: "cifar-10-batches-bin/zeros", data: new Uint8Array(64 << 20) }, ...members()]), { level: 9 });
    expect(bomb.length).toBeLessThan(1 << 17);
    const t0 = performance.now();
    await expect(loadCifar10({ dir: await writeArchive("bomb.tar.gz", bomb), ...opts, maxBytes: 1 << 20 })).rejects.toThrow(
      "bomb.tar.gz: decompresses to more than 1048576 bytes, the limit (stopped there); pass a larger maxBytes if the file is genuine",
    );
    expect(performance.now() - t0).toBeLessThan(2000);
    expectGenerated(await cifar10FromBytes(bomb, opts)); // under the default limit it is just a large archive
  });

  it("checks its options and its input", async () => {
    await expect(loadCifar10({ dir: tmp, recordsPerFile: 0 })).rejects.toThrow("loadCifar10: recordsPerFile must be a positive integer");
    await expect(loadCifar10({ dir: tmp, maxBytes: -1 })).rejects.toThrow("loadCifar10: maxBytes must be a positive integer, got -1");
    await expect(loadCifar10(undefined as never)).rejects.toThrow("loadCifar10({ dir }) needs the folder");
    await expect(cifar10FromBytes({ train: [FILES["data_batch_1.bin"]], test: FILES["test_batch.bin"] }, opts)).rejects.toThrow(
      "cifar10FromBytes: expected { train: [5 Uint8Arrays: data_batch_1.bin",
    );
    const train = CIFAR10_TRAIN_FILES.map((f) => FILES[f]);
    await expect(cifar10FromBytes({ train, test: undefined as never }, opts)).rejects.toThrow("cifar10FromBytes: expected test_batch.bin as a Uint8Array, got nothing");
  });
});

const HASHES_SKIP = SHARED_CIFAR10_SKIP;
if (HASHES_SKIP) console.warn(`test/cifar10.test.ts: the real CIFAR-10 test is ${HASHES_SKIP}`);

describe("the real CIFAR-10 files", () => {
  it.skipIf(HASHES_SKIP !== null)(
    HASHES_SKIP ? `50,000 / 10,000 records, 5,000 / 1,000 per class, pinned SHA-256 (${HASHES_SKIP})` : "50,000 / 10,000 records, 5,000 / 1,000 per class, pinned SHA-256, file byte order",
    async () => {
      const d = await loadCifar10({ dir: SHARED_CIFAR10_DIR });
      expect([d.train.labels.length, d.test.labels.length]).toEqual([50000, 10000]);
      expect([d.train.images.length, d.test.images.length]).toEqual([50000 * 3072, 10000 * 3072]);
      const counts = (l: Uint8Array) => Array.from({ length: 10 }, (_, k) => l.filter((v) => v === k).length);
      expect(counts(d.train.labels)).toEqual(Array(10).fill(5000));
      expect(counts(d.test.labels)).toEqual(Array(10).fill(1000));
      // Each file read once: its SHA-256, and every 97th record against the loaded split.
      for (const [k, f] of CIFAR10_FILES.entries()) {
        const bytes = await readFile(join(SHARED_CIFAR10_DIR, f));
        expect(createHash("sha256").update(bytes).digest("hex"), f).toBe(CIFAR10_SHA256[f]);
        const split = k < 5 ? d.train : d.test;
        const first = k < 5 ? k * 10000 : 0;
        for (let i = 0; i < 10000; i += 97) {
          expect(split.labels[first + i]).toBe(bytes[i * 3073]);
          const image = split.images.subarray((first + i) * 3072, (first + i + 1) * 3072);
          expect(Buffer.from(image).equals(bytes.subarray(i * 3073 + 1, (i + 1) * 3073)), `${f} record ${i}`).toBe(true);
        }
      }
      // The first training image is a frog, the first test image a cat (batches.meta.txt order).
      expect([CIFAR10_CLASSES[d.train.labels[0]], CIFAR10_CLASSES[d.test.labels[0]]]).toEqual(["frog", "cat"]);
    },
    30_000,
  );
});
