// The streaming tar reader: archives written by GNU tar in its gnu, ustar and pax formats
// (long names, directories, symlinks), any chunking of the input, and its errors.
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readTar, TarReader, type TarEntry } from "../src/data/tar.js";
import { tarArchive, tarHeader } from "./fixtures.js";

/** Every regular file of the archive: name -> contents, and the entries in order. */
async function collect(source: Uint8Array | AsyncIterable<Uint8Array>): Promise<{ files: Map<string, Uint8Array>; entries: TarEntry[] }> {
  const files = new Map<string, Uint8Array>();
  const entries: TarEntry[] = [];
  await readTar(source, "t.tar", (e) => {
    entries.push(e);
    const parts: Uint8Array[] = [];
    return {
      write: (c) => parts.push(c.slice()),
      end: () => {
        files.set(e.name, Buffer.concat(parts));
      },
    };
  });
  return { files, entries };
}

async function* chunks(bytes: Uint8Array, size: number): AsyncIterable<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

const bytes = (n: number, salt: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + salt) & 255);
const LONG_DIR = "a-directory-name-long-enough/to-need-the-ustar-prefix-field/or-a-gnu-long-name-entry-to-hold-it";
/** File name -> contents, for GNU tar to pack: sizes around the 512-byte block, a long path. */
const TREE: Record<string, Uint8Array> = {
  "empty.bin": new Uint8Array(0),
  "one.bin": bytes(1, 1),
  "block.bin": bytes(512, 2),
  "block-plus-one.bin": bytes(513, 3),
  [`${LONG_DIR}/data_batch_1.bin`]: bytes(3073 * 2, 4),
};

let tmp = "";
let hasTar = true;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "bn-tar-"));
  const src = join(tmp, "src");
  for (const [name, data] of Object.entries(TREE)) {
    await mkdir(join(src, name, ".."), { recursive: true });
    await writeFile(join(src, name), data);
  }
  await symlink("one.bin", join(src, "link.bin"));
  try {
    execFileSync("tar", ["--version"], { stdio: "ignore" });
  } catch {
    hasTar = false;
  }
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe("readTar", () => {
  for (const format of ["gnu", "ustar", "pax"]) {
    it(`reads GNU tar's ${format} format: regular files only, long names, every size`, async (ctx) => {
      if (!hasTar) ctx.skip("skipped: no tar program on this machine");
      const out = join(tmp, `${format}.tar`);
      execFileSync("tar", [`--format=${format}`, "-cf", out, "-C", join(tmp, "src"), "."]);
      const archive = await readFile(out);
      const { files, entries } = await collect(archive);
      expect([...files.keys()].sort()).toEqual(Object.keys(TREE).map((n) => `./${n}`).sort());
      for (const [name, data] of Object.entries(TREE)) expect(Buffer.from(files.get(`./${name}`)!).equals(data), name).toBe(true);
      expect(entries.every((e) => e.offset % 512 === 0)).toBe(true);
      // Any chunking gives the same result.
      for (const size of [1, 7, 512, 1000]) {
        const again = await collect(chunks(archive, size));
        expect([...again.files.entries()].map(([k, v]) => [k, Buffer.from(v).toString("hex")])).toEqual(
          [...files.entries()].map(([k, v]) => [k, Buffer.from(v).toString("hex")]),
        );
      }
    });
  }

  it("skips members the visitor declines, and ignores what follows the end-of-archive blocks", async () => {
    const tar = tarArchive([
      { name: "dir/", type: "5" },
      { name: "dir/skip.bin", data: bytes(700, 5) },
      { name: "dir/link", type: "2" },
      { name: "dir/keep.bin", data: bytes(600, 6) },
    ]);
    const padded = new Uint8Array(tar.length + 9000).fill(0xee, tar.length); // garbage after the end blocks
    padded.set(tar);
    const seen: string[] = [];
    let kept = new Uint8Array(0);
    await readTar(padded, "t.tar", (e) => {
      seen.push(e.name);
      if (e.name !== "dir/keep.bin") return null;
      return { write: (c) => (kept = Buffer.concat([kept, c])), end: () => {} };
    });
    expect(seen).toEqual(["dir/skip.bin", "dir/keep.bin"]);
    expect(Buffer.from(kept).equals(bytes(600, 6))).toBe(true);
  });

  it("rejects a header whose checksum does not match, at its offset", async () => {
    const tar = tarArchive([{ name: "a.bin", data: bytes(10, 1) }, { name: "b.bin", data: bytes(10, 2) }]);
    tar[1024] = "c".charCodeAt(0); // b.bin -> c.bin without a new checksum
    await expect(collect(tar)).rejects.toThrow(/^batchnorm-wasm: t\.tar: corrupt tar header at byte 1024 \(after member "a\.bin"\): the header says checksum \d+, its bytes sum to \d+; not a tar archive/);
  });

  it("rejects an archive that ends inside a member, a header or the padding", async () => {
    const tar = tarArchive([{ name: "a.bin", data: bytes(1000, 1) }]);
    await expect(collect(tar.subarray(0, 512 + 999))).rejects.toThrow('t.tar: truncated: member "a.bin" (header at byte 0) is short: its header declares 1000 bytes, the archive ends after 999');
    await expect(collect(tar.subarray(0, 512 + 1010))).rejects.toThrow('t.tar: truncated: the archive ends inside the padding after member "a.bin" (header at byte 0)');
    await expect(collect(tar.subarray(0, 300))).rejects.toThrow("t.tar: truncated: the archive ends inside a header block at byte 0 (300 of 512 bytes) (the first header)");
    // Declined members are checked the same way.
    await expect(readTar(tar.subarray(0, 600), "t.tar", () => null)).rejects.toThrow('member "a.bin" (header at byte 0) is short: its header declares 1000 bytes, the archive ends after 88');
  });

  it("reads a GNU base-256 size and rejects an unreadable one", async () => {
    const h = tarHeader("big.bin", 0);
    h.fill(0, 124, 136);
    h[124] = 0x80;
    h[135] = 5; // size 5 in base 256
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.set(new TextEncoder().encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
    const tar = Buffer.concat([h, bytes(5, 9), new Uint8Array(507), new Uint8Array(1024)]);
    const { files } = await collect(tar);
    expect(Array.from(files.get("big.bin")!)).toEqual(Array.from(bytes(5, 9)));

    const bad = tarHeader("x.bin", 0);
    bad.set(new TextEncoder().encode("9z"), 124);
    let s2 = 0;
    bad.fill(0x20, 148, 156);
    for (const b of bad) s2 += b;
    bad.set(new TextEncoder().encode(s2.toString(8).padStart(6, "0") + "\0 "), 148);
    await expect(collect(Buffer.concat([bad, new Uint8Array(1024)]))).rejects.toThrow("t.tar: corrupt tar header at byte 0 (the first header): unreadable size field");
  });

  it("can be fed by hand and says when it has reached the end", async () => {
    const r = new TarReader("t.tar", () => null);
    const tar = tarArchive([{ name: "a.bin", data: bytes(3, 1) }]);
    await r.push(tar.subarray(0, 1024));
    expect(r.ended).toBe(false);
    await r.push(tar.subarray(1024));
    expect(r.ended).toBe(true);
    r.finish();
  });
});
