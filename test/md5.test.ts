// The pure-TypeScript MD5 against RFC 1321's test suite, node:crypto on generated MNIST-shaped
// files, and the data README's checksums of the real files when ../shared/data has them.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { Md5, md5Hex, MNIST_FILES, MNIST_MD5, type MnistFileKey } from "../src/data/index.js";
import { Rng } from "../src/random.js";
import { mnistFiles, SHARED_MNIST_DIR, SHARED_MNIST_SKIP, syntheticDigits, warnIfNoSharedMnist, withSharedMnist } from "./fixtures.js";

warnIfNoSharedMnist("test/md5.test.ts");

describe("md5", () => {
  it("matches RFC 1321's test suite", () => {
    expect(md5Hex("")).toBe("d41d8cd98f00b204e9800998ecf8427e");
    expect(md5Hex("abc")).toBe("900150983cd24fb0d6963f7d28e17f72");
    expect(md5Hex("a")).toBe("0cc175b9c0f1b6a831c399e269772661");
    expect(md5Hex("message digest")).toBe("f96b697d7cb7938d525a2f31aaf161d0");
    expect(md5Hex("abcdefghijklmnopqrstuvwxyz")).toBe("c3fcd3d76192e4007dfb496cca67e13b");
    expect(md5Hex("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")).toBe("d174ab98d277d9f5a5611c2c9f419d9f");
    expect(md5Hex("1234567890".repeat(8))).toBe("57edf4a22be3c955ac49da2e2107b67a");
  });

  it("agrees with node:crypto at every length around the 64-byte block and in any chunking", () => {
    const rng = new Rng(5);
    const data = Uint8Array.from({ length: 300 }, () => rng.int(256));
    for (let n = 0; n <= 300; n++) {
      const want = createHash("md5").update(data.subarray(0, n)).digest("hex");
      expect(md5Hex(data.subarray(0, n)), `length ${n}`).toBe(want);
      const h = new Md5();
      for (let i = 0; i < n; ) {
        const step = 1 + rng.int(70);
        h.update(data.subarray(i, Math.min(n, i + step)));
        i += step;
      }
      expect(h.digestHex(), `length ${n}, chunked`).toBe(want);
    }
  });

  it("agrees with node:crypto on generated MNIST .gz files, whole and in 64 KiB reads", () => {
    const files = mnistFiles(syntheticDigits(400, 11), syntheticDigits(100, 12), true);
    for (const [name, bytes] of Object.entries(files)) {
      const want = createHash("md5").update(bytes).digest("hex");
      expect(md5Hex(bytes), name).toBe(want);
      const h = new Md5();
      for (let i = 0; i < bytes.length; i += 65536) h.update(bytes.subarray(i, i + 65536));
      expect(h.digestHex(), `${name}, chunked`).toBe(want);
    }
    // A million bytes, a length that is no multiple of the block.
    const big = Uint8Array.from({ length: 1_000_003 }, (_, i) => (i * 2654435761) >>> 24);
    expect(md5Hex(big)).toBe(createHash("md5").update(big).digest("hex"));
  });

  it.skipIf(SHARED_MNIST_SKIP !== null)(withSharedMnist("gives the README's md5 for the real MNIST files"), async () => {
    for (const k of Object.keys(MNIST_FILES) as MnistFileKey[]) {
      const bytes = await readFile(new URL(`${MNIST_FILES[k]}.gz`, SHARED_MNIST_DIR));
      expect(md5Hex(bytes), MNIST_FILES[k]).toBe(MNIST_MD5[k]);
    }
    expect(MNIST_MD5.trainImages).toBe("f68b3c2dcbeaaa9fbdd348bbdeb94873");
  });

  it("refuses to be used after the digest", () => {
    const h = new Md5().update(new Uint8Array([1]));
    h.digestHex();
    expect(() => h.update(new Uint8Array([2]))).toThrow(/after digestHex/);
  });
});
