// What a suite prints and writes: markdown tables (aligned, so that they read in a terminal
// and paste into the README as they are), number formats, and the JSON results file
// bench/results/<name>.json.
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";

export interface TableOptions {
  /** Right-aligned columns; by default the columns whose cells are all numbers. */
  right?: readonly boolean[];
  /** Leaves the first cell empty where it repeats the row above (the README's style). */
  group?: boolean;
}

const NUMERIC = /^([-+]?(\d[\d,]*\.?\d*|\.\d+)(e[-+]?\d+)?(x|%| ms)?( \(.*\))?|-|)$/i;

export function table(head: readonly string[], rows: readonly (readonly string[])[], o: TableOptions = {}): string {
  const body = rows.map((r, i) => (o.group && i > 0 && r[0] === rows[i - 1][0] ? ["", ...r.slice(1)] : [...r]));
  const right = head.map((_, i) => o.right?.[i] ?? (body.length > 0 && body.every((r) => NUMERIC.test(r[i]))));
  const w = head.map((h, i) => Math.max(3, h.length, ...body.map((r) => r[i].length)));
  const line = (r: readonly string[]) => `| ${r.map((c, i) => (right[i] ? c.padStart(w[i]) : c.padEnd(w[i]))).join(" | ")} |`;
  const rule = `|${w.map((n, i) => (right[i] ? `${"-".repeat(n + 1)}:` : "-".repeat(n + 2))).join("|")}|`;
  return [line(head), rule, ...body.map(line)].join("\n");
}

/** x with d decimals; "-" for a missing or non-finite value. */
export function fmt(x: number | null | undefined, d = 3): string {
  return x !== null && x !== undefined && Number.isFinite(x) ? x.toFixed(d) : "-";
}

/** Milliseconds with about four significant digits. */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return "-";
  if (ms >= 100) return ms.toFixed(1);
  if (ms >= 1) return ms.toFixed(3);
  if (ms >= 0.01) return ms.toFixed(4);
  return ms.toExponential(3);
}

/** A ratio as "12.3x"; empty for null. */
export function fmtX(x: number | null | undefined, digits = 2): string {
  if (x === null || x === undefined) return "";
  if (!Number.isFinite(x)) return "-";
  if (x >= 100) return `${x.toFixed(0)}x`;
  if (x >= 10) return `${x.toFixed(1)}x`;
  return `${x.toFixed(digits)}x`;
}

export interface Machine {
  cpu: string;
  cores: number;
  node: string;
  loadavgStart: number[];
  loadavgEnd?: number[];
}

export function machine(): Machine {
  return { cpu: cpus()[0]?.model ?? "?", cores: cpus().length, node: process.version, loadavgStart: loadavg() };
}

export function fmtLoad(l: readonly number[]): string {
  return l.map((x) => x.toFixed(1)).join(" ");
}

/** Writes bench/results/<name>.json; returns its path. */
export async function writeResults(name: string, payload: unknown): Promise<URL> {
  const url = new URL(`../results/${name}.json`, import.meta.url);
  await mkdir(new URL(".", url), { recursive: true });
  await writeFile(url, JSON.stringify(payload, null, 2) + "\n");
  return url;
}
