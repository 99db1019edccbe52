// downloadCifar10 against a local HTTP server serving a small generated cifar-10-binary.tar.gz
// (3 records per file), checked per extracted file by SHA-256 (injected here; the pinned ones
// reject the small files, which the last tests use).
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CIFAR10_FILES, CIFAR10_SHA256, CIFAR10_URL, cifar10FromBytes, downloadCifar10, loadCifar10, type Cifar10FileName } from "../src/index.js";
import { cifarBatch, loopbackServer, tarArchive } from "./fixtures.js";

const R = 3;
const FILES = Object.fromEntries(CIFAR10_FILES.map((f, k) => [f, cifarBatch(R, k)])) as Record<Cifar10FileName, Uint8Array>;
const ARCHIVE = gzipSync(tarArchive([{ name: "cifar-10-batches-bin/", type: "5" }, ...CIFAR10_FILES.map((f) => ({ name: `cifar-10-batches-bin/${f}`, data: FILES[f] }))]));
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const SUMS = Object.fromEntries(CIFAR10_FILES.map((f) => [f, sha256(FILES[f])])) as Record<Cifar10FileName, string>;
const WRONG = "0123456789abcdef".repeat(4);
const opts = { recordsPerFile: R };

let server: Awaited<ReturnType<typeof loopbackServer>>;
let base = "";
let tmp = "";

beforeAll(async () => {
  server = await loopbackServer((path, res) => {
    if (path === "/good/cifar-10-binary.tar.gz") {
      res.writeHead(200, { "content-type": "application/gzip", "content-length": String(ARCHIVE.length) });
      // In two writes, so the client sees more than one chunk.
      res.write(ARCHIVE.subarray(0, 1000));
      setTimeout(() => res.end(ARCHIVE.subarray(1000)), 5);
    } else if (path === "/cut/cifar-10-binary.tar.gz") {
      res.writeHead(200, { "content-type": "application/gzip" }).end(ARCHIVE.subarray(0, ARCHIVE.length - 200));
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not here");
    }
  });
  base = server.base;
  tmp = await mkdtemp(join(tmpdir(), "bn-cifar10-dl-"));
});

afterAll(async () => {
  await server.close();
  await rm(tmp, { recursive: true, force: true });
});

const withHits = <T>(f: () => Promise<T>) => server.withHits(f);

describe("downloadCifar10", () => {
  it("streams the archive, checks and caches the six files, and reads them from the cache next time", async () => {
    const dir = join(tmp, "ok", "nested");
    const logs: string[] = [];
    const url = `${base}/good/cifar-10-binary.tar.gz`;
    const [d, n1] = await withHits(() => downloadCifar10({ cacheDir: dir, url, checksums: SUMS, log: (m) => logs.push(m), ...opts }));
    expect(n1).toBe(1);
    const ref = await cifar10FromBytes({ train: CIFAR10_FILES.slice(0, 5).map((f) => FILES[f]), test: FILES["test_batch.bin"] }, opts);
    expect(Buffer.from(d.train.images).equals(Buffer.from(ref.train.images))).toBe(true);
    expect(Array.from(d.test.labels)).toEqual(Array.from(ref.test.labels));
    expect((await readdir(dir)).sort()).toEqual([...CIFAR10_FILES].sort()); // no temp files left
    for (const f of CIFAR10_FILES) expect(sha256(await readFile(join(dir, f)))).toBe(SUMS[f]);
    expect(logs.filter((m) => m.includes("SHA-256 ok")).length).toBe(6);

    const [again, n2] = await withHits(() => downloadCifar10({ cacheDir: dir, url, checksums: SUMS, ...opts }));
    expect(n2).toBe(0);
    expect(Buffer.from(again.train.images).equals(Buffer.from(ref.train.images))).toBe(true);
    expect(again.source).toBe(`CIFAR-10 batch files in ${dir}`);
    const loaded = await loadCifar10({ dir, ...opts });
    expect(Array.from(loaded.train.labels)).toEqual(Array.from(ref.train.labels));
  });

  it("fetches again when a cached file is damaged", async () => {
    const dir = join(tmp, "repair");
    const url = `${base}/good/cifar-10-binary.tar.gz`;
    await downloadCifar10({ cacheDir: dir, url, checksums: SUMS, ...opts });
    await writeFile(join(dir, "data_batch_3.bin"), "garbage");
    const [, n] = await withHits(() => downloadCifar10({ cacheDir: dir, url, checksums: SUMS, ...opts }));
    expect(n).toBe(1);
    expect(sha256(await readFile(join(dir, "data_batch_3.bin")))).toBe(SUMS["data_batch_3.bin"]);
  });

  it("throws on a checksum mismatch, keeps nothing of that file, and removes a stale cached copy", async () => {
    const dir = join(tmp, "mismatch");
    const url = `${base}/good/cifar-10-binary.tar.gz`;
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "data_batch_2.bin"), "stale");
    await expect(downloadCifar10({ cacheDir: dir, url, checksums: { ...SUMS, "data_batch_2.bin": WRONG }, ...opts })).rejects.toThrow(
      `checksum mismatch for data_batch_2.bin in cifar-10-binary.tar.gz from ${url}: expected SHA-256 ${WRONG}, got ${SUMS["data_batch_2.bin"]} (9219 bytes)`,
    );
    const left = await readdir(dir);
    expect(left).not.toContain("data_batch_2.bin");
    expect(left.filter((f) => f.endsWith(".part"))).toEqual([]);
  });

  it("rejects the generated files with the pinned checksums of the real ones", async () => {
    const url = `${base}/good/cifar-10-binary.tar.gz`;
    await expect(downloadCifar10({ cacheDir: join(tmp, "pinned"), url, ...opts })).rejects.toThrow(
      `checksum mismatch for data_batch_1.bin in cifar-10-binary.tar.gz from ${url}: expected SHA-256 ${CIFAR10_SHA256["data_batch_1.bin"]}, got ${SUMS["data_batch_1.bin"]}`,
    );
    expect(CIFAR10_URL).toBe("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz");
  });

  it("reports an HTTP error, a truncated download and a bad checksum option", async () => {
    await expect(downloadCifar10({ cacheDir: join(tmp, "404"), url: `${base}/missing.tar.gz`, checksums: SUMS, ...opts })).rejects.toThrow(
      `could not download cifar-10-binary.tar.gz from ${base}/missing.tar.gz: HTTP 404 Not Found`,
    );
    await expect(downloadCifar10({ cacheDir: join(tmp, "cut"), url: `${base}/cut/cifar-10-binary.tar.gz`, checksums: SUMS, ...opts })).rejects.toThrow(
      /cifar-10-binary\.tar\.gz from .*\/cut\/cifar-10-binary\.tar\.gz: (corrupt or truncated gzip data|truncated)/,
    );
    const before = server.hits.length;
    await expect(downloadCifar10({ cacheDir: join(tmp, "opt"), url: `${base}/good/cifar-10-binary.tar.gz`, checksums: { "test_batch.bin": "abc" } })).rejects.toThrow(
      'downloadCifar10: checksums["test_batch.bin"] must be a SHA-256 of 64 hex digits, got "abc"',
    );
    expect(server.hits.length).toBe(before);
  });

  it("uses the given fetch, whole bytes when there is no body stream", async () => {
    const asked: string[] = [];
    const viaBytes = async (url: string) => {
      asked.push(url);
      const r = await fetch(url);
      return { ok: r.ok, status: r.status, statusText: r.statusText, arrayBuffer: () => r.arrayBuffer() };
    };
    const d = await downloadCifar10({ cacheDir: join(tmp, "bytes"), url: `${base}/good/cifar-10-binary.tar.gz`, fetch: viaBytes, checksums: SUMS, ...opts });
    expect(asked).toEqual([`${base}/good/cifar-10-binary.tar.gz`]);
    expect(d.train.labels.length).toBe(5 * R);
  });
});
