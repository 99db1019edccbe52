// downloadMnist against a local HTTP server serving tiny valid MNIST files made here, checked
// by SHA-256 (the library's WebCrypto digests against node:crypto's).
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  downloadMnist,
  fetchMnistBytes,
  loadMnist,
  loadMnistFromBytes,
  MNIST_BASE_URL,
  MNIST_SHA256,
  type MnistFileKey,
} from "../src/data/index.js";
import { loopbackServer } from "./fixtures.js";

function idx(magic: number, dims: number[], data: Uint8Array): Uint8Array {
  const b = new Uint8Array(4 + 4 * dims.length + data.length);
  const v = new DataView(b.buffer);
  v.setUint32(0, magic);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d));
  b.set(data, 4 + 4 * dims.length);
  return b;
}

const images = (n: number, salt: number) => idx(2051, [n, 28, 28], Uint8Array.from({ length: n * 784 }, (_, i) => (i * salt) & 255));
const labels = (l: number[]) => idx(2049, [l.length], Uint8Array.from(l));

// The four files the server offers, gzip-compressed like the real ones.
const FILES: Record<string, Uint8Array> = {
  "train-images-idx3-ubyte.gz": gzipSync(images(4, 3)),
  "train-labels-idx1-ubyte.gz": gzipSync(labels([5, 0, 4, 1])),
  "t10k-images-idx3-ubyte.gz": gzipSync(images(2, 5)),
  "t10k-labels-idx1-ubyte.gz": gzipSync(labels([7, 2])),
};
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const SUMS: Record<MnistFileKey, string> = {
  trainImages: sha256(FILES["train-images-idx3-ubyte.gz"]),
  trainLabels: sha256(FILES["train-labels-idx1-ubyte.gz"]),
  testImages: sha256(FILES["t10k-images-idx3-ubyte.gz"]),
  testLabels: sha256(FILES["t10k-labels-idx1-ubyte.gz"]),
};

/** A well-formed SHA-256 that none of the files has. */
const WRONG = "0123456789abcdef".repeat(4);

let server: Awaited<ReturnType<typeof loopbackServer>>;
let base = "";
let hits: string[] = [];
let tmp = "";

beforeAll(async () => {
  server = await loopbackServer((path, res) => {
    const m = /^\/(good|broken)\/(.+)$/.exec(path);
    let body = m ? FILES[m[2]] : undefined;
    if (body && m?.[1] === "broken" && m[2].startsWith("t10k-labels")) {
      body = body.slice(0, body.length - 3); // truncated in transit
    }
    if (!body) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not here");
      return;
    }
    res.writeHead(200, { "content-type": "application/gzip", "content-length": String(body.length) }).end(body);
  });
  base = server.base;
  hits = server.hits;
  tmp = await mkdtemp(join(tmpdir(), "bn-mnist-dl-"));
});

afterAll(async () => {
  await server.close();
  await rm(tmp, { recursive: true, force: true });
});

/** Runs f and returns its result with the number of requests the server saw meanwhile. */
const withHits = <T>(f: () => Promise<T>) => server.withHits(f);

describe("downloadMnist", () => {
  it("fetches the four files, verifies them, and does not fetch them again", async () => {
    const dir = join(tmp, "ok", "nested");
    const logs: string[] = [];
    const [result, n1] = await withHits(() =>
      downloadMnist({ cacheDir: dir, baseUrl: `${base}/good/`, checksums: SUMS, log: (m) => logs.push(m) }),
    );
    expect(n1).toBe(4);
    expect(result.dir).toBe(dir);
    for (const [name, body] of Object.entries(FILES)) {
      expect(sha256(await readFile(join(dir, name)))).toBe(sha256(body));
    }
    expect(Object.values(result.files).map((f) => f.fetched)).toEqual([true, true, true, true]);
    expect(Object.fromEntries(Object.entries(result.files).map(([k, f]) => [k, f.sha256]))).toEqual(SUMS);
    expect(result.files.trainImages.url).toBe(`${base}/good/train-images-idx3-ubyte.gz`);
    expect((await readdir(dir)).sort()).toEqual(Object.keys(FILES).sort()); // no temp files left
    expect(logs.some((m) => m.includes("saved"))).toBe(true);

    // Second call: everything is cached with the right checksum; no request at all.
    // (baseUrl without the trailing slash works the same.)
    const [again, n2] = await withHits(() => downloadMnist({ cacheDir: dir, baseUrl: `${base}/good`, checksums: SUMS }));
    expect(n2).toBe(0);
    expect(Object.values(again.files).map((f) => f.fetched)).toEqual([false, false, false, false]);
    expect(again.files.testLabels.sha256).toBe(SUMS.testLabels);

    const m = await loadMnist({ dir });
    expect([m.train.count, m.test.count]).toEqual([4, 2]);
    expect(Array.from(m.train.labels)).toEqual([5, 0, 4, 1]);
    expect(Array.from(m.test.labels)).toEqual([7, 2]);
  });

  it("replaces a damaged cached file and keeps the good ones", async () => {
    const dir = join(tmp, "repair");
    await downloadMnist({ cacheDir: dir, baseUrl: `${base}/good/`, checksums: SUMS });
    await writeFile(join(dir, "t10k-images-idx3-ubyte.gz"), "garbage");
    const before = hits.length;
    const r = await downloadMnist({ cacheDir: dir, baseUrl: `${base}/good/`, checksums: SUMS });
    expect(hits.slice(before)).toEqual(["/good/t10k-images-idx3-ubyte.gz"]);
    expect(r.files.testImages.fetched).toBe(true);
    expect(sha256(await readFile(join(dir, "t10k-images-idx3-ubyte.gz")))).toBe(SUMS.testImages);
  });

  it("throws on a checksum mismatch and leaves no file behind", async () => {
    const dir = join(tmp, "mismatch");
    const wrong = { ...SUMS, testLabels: WRONG };
    await expect(downloadMnist({ cacheDir: dir, baseUrl: `${base}/good/`, checksums: wrong })).rejects.toThrow(
      new RegExp(
        `checksum mismatch for t10k-labels-idx1-ubyte\\.gz from ${base}/good/t10k-labels-idx1-ubyte\\.gz: ` +
          `expected SHA-256 ${WRONG}, got ${SUMS.testLabels} \\(${FILES["t10k-labels-idx1-ubyte.gz"].length} bytes\\)`,
      ),
    );
    const left = await readdir(dir);
    expect(left).not.toContain("t10k-labels-idx1-ubyte.gz");
    expect(left.filter((f) => f.endsWith(".part"))).toEqual([]);
    expect(left.sort()).toEqual(["t10k-images-idx3-ubyte.gz", "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]);
  });

  it("removes a cached file that no longer matches when the new download fails too", async () => {
    const dir = join(tmp, "bad-both");
    await downloadMnist({ cacheDir: dir, baseUrl: `${base}/good/`, checksums: SUMS });
    await writeFile(join(dir, "t10k-labels-idx1-ubyte.gz"), "stale");
    // The mirror now serves a truncated copy of that file.
    await expect(downloadMnist({ cacheDir: dir, baseUrl: `${base}/broken/`, checksums: SUMS })).rejects.toThrow(/checksum mismatch for t10k-labels-idx1-ubyte\.gz/);
    expect(await readdir(dir)).not.toContain("t10k-labels-idx1-ubyte.gz");
  });

  it("reports an HTTP error with the file and the URL", async () => {
    const dir = join(tmp, "404");
    await expect(downloadMnist({ cacheDir: dir, baseUrl: `${base}/missing/`, checksums: SUMS })).rejects.toThrow(
      new RegExp(`could not download train-images-idx3-ubyte\\.gz from ${base}/missing/train-images-idx3-ubyte\\.gz: HTTP 404 Not Found`),
    );
    expect(await readdir(dir)).toEqual([]);
  });

  it("reports a connection failure", async () => {
    const failing = async (): Promise<Response> => {
      throw new Error("connect ECONNREFUSED");
    };
    await expect(downloadMnist({ cacheDir: join(tmp, "refused"), baseUrl: "http://127.0.0.1:9/", fetch: failing, checksums: SUMS })).rejects.toThrow(
      /could not download train-images-idx3-ubyte\.gz from http:\/\/127\.0\.0\.1:9\/train-images-idx3-ubyte\.gz: connect ECONNREFUSED/,
    );
  });

  it("uses the given fetch, and the published checksums by default", async () => {
    const asked: string[] = [];
    const counting = (url: string) => {
      asked.push(url);
      return fetch(url);
    };
    // The tiny files are not the real MNIST, so the default checksums reject them.
    await expect(downloadMnist({ cacheDir: join(tmp, "defaults"), baseUrl: `${base}/good/`, fetch: counting })).rejects.toThrow(
      new RegExp(`checksum mismatch for train-images-idx3-ubyte\\.gz .*expected SHA-256 ${MNIST_SHA256.trainImages}, got ${SUMS.trainImages}`),
    );
    expect(asked).toEqual([`${base}/good/train-images-idx3-ubyte.gz`]);
    expect(MNIST_BASE_URL).toBe("https://ossci-datasets.s3.amazonaws.com/mnist/");
    await expect(downloadMnist({ cacheDir: join(tmp, "x"), baseUrl: `${base}/good/`, checksums: { trainImages: "abc" } })).rejects.toThrow(
      /checksums\.trainImages must be a SHA-256 of 64 hex digits, got "abc"/,
    );
  });
});

describe("fetchMnistBytes", () => {
  it("returns verified bytes for loadMnistFromBytes", async () => {
    const bytes = await fetchMnistBytes({ baseUrl: `${base}/good/`, checksums: SUMS });
    const m = await loadMnistFromBytes(bytes, { source: "local server" });
    expect([m.train.count, m.test.count, m.source]).toEqual([4, 2, "local server"]);
    // The mirror truncates one file: the message names it, the SHA-256 expected and the one received.
    const truncated = FILES["t10k-labels-idx1-ubyte.gz"].slice(0, -3);
    await expect(fetchMnistBytes({ baseUrl: `${base}/broken/`, checksums: SUMS })).rejects.toThrow(
      new RegExp(
        `checksum mismatch for t10k-labels-idx1-ubyte\\.gz from ${base}/broken/t10k-labels-idx1-ubyte\\.gz: ` +
          `expected SHA-256 ${SUMS.testLabels}, got ${sha256(truncated)} \\(${truncated.length} bytes\\); .*not kept`,
      ),
    );
  });

  it("takes checksums in either case, and refuses an md5 or anything but 64 hex digits", async () => {
    const upper = { ...SUMS, trainImages: SUMS.trainImages.toUpperCase() };
    expect(sha256((await fetchMnistBytes({ baseUrl: `${base}/good/`, checksums: upper })).trainImages)).toBe(SUMS.trainImages);
    const before = hits.length;
    for (const bad of ["f68b3c2dcbeaaa9fbdd348bbdeb94873", `${WRONG}0`, WRONG.replace("0", "g"), ""]) {
      await expect(fetchMnistBytes({ baseUrl: `${base}/good/`, checksums: { testImages: bad } })).rejects.toThrow(
        `checksums.testImages must be a SHA-256 of 64 hex digits, got ${JSON.stringify(bad)}`,
      );
    }
    expect(hits.length).toBe(before); // rejected before any request
  });

  it("says so when the engine has no WebCrypto, before any request", async () => {
    const before = hits.length;
    vi.stubGlobal("crypto", undefined);
    try {
      await expect(fetchMnistBytes({ baseUrl: `${base}/good/`, checksums: SUMS })).rejects.toThrow(/no WebCrypto \(crypto\.subtle\) in this engine.*secure contexts/);
    } finally {
      vi.unstubAllGlobals();
    }
    expect(hits.length).toBe(before);
    expect(typeof globalThis.crypto.subtle.digest).toBe("function");
  });
});
