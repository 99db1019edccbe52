// The SHA-256s the library pins for MNIST's four .gz files, checked on the real files when
// ../shared/data has them: their digests (WebCrypto, as the download computes them, and
// node:crypto), and fetchMnistBytes accepting them with its default checksums.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { fetchMnistBytes, MNIST_FILES, MNIST_SHA256, type MnistFileKey } from "../src/data/index.js";
import { SHARED_MNIST_DIR, SHARED_MNIST_SKIP, warnIfNoSharedMnist, withSharedMnist } from "./fixtures.js";

warnIfNoSharedMnist("test/checksums.test.ts");

const KEYS = Object.keys(MNIST_FILES) as MnistFileKey[];
const readReal = (k: MnistFileKey) => readFile(new URL(`${MNIST_FILES[k]}.gz`, SHARED_MNIST_DIR));

async function webCryptoSha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

describe("MNIST_SHA256", () => {
  it("pins the SHA-256 of each of the four original files", () => {
    // The data README's values: a change here must be a change of the files, made on purpose.
    expect(MNIST_SHA256).toEqual({
      trainImages: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
      trainLabels: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
      testImages: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
      testLabels: "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    });
  });

  it.skipIf(SHARED_MNIST_SKIP !== null)(withSharedMnist("matches the real MNIST files (WebCrypto and node:crypto)"), async () => {
    for (const k of KEYS) {
      const bytes = await readReal(k);
      expect(await webCryptoSha256(bytes), MNIST_FILES[k]).toBe(MNIST_SHA256[k]);
      expect(createHash("sha256").update(bytes).digest("hex"), MNIST_FILES[k]).toBe(MNIST_SHA256[k]);
    }
  });

  it.skipIf(SHARED_MNIST_SKIP !== null)(withSharedMnist("lets fetchMnistBytes accept the real files with its default checksums"), async () => {
    const asked: string[] = [];
    const fromDisk = async (url: string) => {
      asked.push(url);
      const key = KEYS.find((k) => url.endsWith(`/${MNIST_FILES[k]}.gz`));
      if (!key) return { ok: false, status: 404, statusText: "Not Found", arrayBuffer: async () => new ArrayBuffer(0) };
      const bytes = await readReal(key);
      return { ok: true, status: 200, statusText: "OK", arrayBuffer: async () => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) };
    };
    const got = await fetchMnistBytes({ baseUrl: "https://mirror.invalid/mnist/", fetch: fromDisk });
    expect(asked).toEqual(KEYS.map((k) => `https://mirror.invalid/mnist/${MNIST_FILES[k]}.gz`));
    expect(got.trainImages.length).toBe(9912422);
    expect(got.testLabels.length).toBe(4542);
  });
});
