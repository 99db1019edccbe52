// npm run bench [-- <suite>...] [-- --quick] [-- <flags>]: the benchmark suites, each in its
// own Node process. A suite is a file bench/<name>.bench.ts; `npm run bench -- <name>` runs
// that one (several names: those), no name runs them all in alphabetical order. Flags go to
// every suite (see bench/harness/suite.ts). Node 20 validates relaxed-SIMD modules only
// behind a flag; pass it so the relaxed build is measured too (Node 22+ runs it by default).
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";

const major = Number(process.versions.node.split(".")[0]);
const flags = major < 22 ? ["--experimental-wasm-relaxed-simd"] : [];
const dir = new URL(".", import.meta.url);
const suites = readdirSync(dir).filter((f) => f.endsWith(".bench.ts")).map((f) => f.slice(0, -".bench.ts".length)).sort();
const args = process.argv.slice(2);
const names = args.filter((a) => !a.startsWith("-"));
const rest = args.filter((a) => a.startsWith("-"));
const unknown = names.filter((n) => !suites.includes(n));
if (unknown.length) {
  console.error(`bench: no suite ${unknown.join(", ")} (suites: ${suites.join(", ")})`);
  process.exit(1);
}
for (const name of suites) {
  if (names.length && !names.includes(name)) continue;
  const file = `bench/${name}.bench.ts`;
  console.log(`\n=== ${name}: ${file} ===\n`);
  const r = spawnSync(process.execPath, [...flags, "--import", "tsx", file, ...rest], { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
