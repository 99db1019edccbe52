// The BN suite's tables: median ms, GB/s, ratio to the memory floor and speedup over
// tfjs-wasm per case, op and variant; the forward+backward comparison; the target verdicts.
import { fmtMs, fmtX, table, type Timing } from "../harness/index.js";

export type Op = "forward" | "backward" | "inference";
export const OPS: readonly Op[] = ["forward", "backward", "inference"];

/**
 * Library builds through the layers, the SIMD kernels called directly on pointers (no layer:
 * the difference is the layers' JavaScript overhead), the plain JavaScript baseline and the
 * tfjs backends.
 */
export type Variant = "wasm-simd" | "simd-kernels" | "wasm-scalar" | "plain-js" | "tfjs-wasm" | "tfjs-cpu";
export const VARIANTS: readonly Variant[] = ["wasm-simd", "simd-kernels", "wasm-scalar", "plain-js", "tfjs-wasm", "tfjs-cpu"];

/** A harness timing; sharedWith is set when it was taken on another case with the same tfjs shape. */
export type BnTiming = Timing & { sharedWith?: string };

export interface CaseResult {
  label: string;
  shape: number[];
  dataFormat: string;
  /** Elements of x. */
  n: number;
  floors: {
    sum: BnTiming;
    copy: BnTiming;
    /**
     * Diagnostic, not one of the floors: the backward's traffic on the backward's own
     * buffers (sum x, sum dy, then dx = x + dy), i.e. with its real working set of three arrays.
     */
    bwdTwin?: BnTiming;
  };
  times: Partial<Record<Variant, Partial<Record<Op, BnTiming>>>>;
  /** Largest normwise relative error against test/reference.ts, per variant and output. */
  errors: Partial<Record<Variant, Record<string, number>>>;
  /** Shape tfjs ran on (channels-last). */
  tfjsShape: number[];
}

/** Bytes the ideal algorithm moves, in units of x's size: forward 2 reads + 1 write, backward 4 + 1, inference 1 + 1. */
export const TRAFFIC: Record<Op, number> = { forward: 3, backward: 5, inference: 2 };

/** The floor of each op: its passes over memory at the speed of the f32x4 sum and copy passes. */
export function floorMs(op: Op, f: CaseResult["floors"]): number {
  if (op === "forward") return f.sum.ms + f.copy.ms;
  if (op === "backward") return 3 * f.sum.ms + f.copy.ms;
  return f.copy.ms;
}

export const FLOOR_FORMULA: Record<Op, string> = { forward: "sum+copy", backward: "3*sum+copy", inference: "copy" };

/** The targets for the library (SIMD build). */
export const TARGETS = {
  forward: 1.2,
  backward: 1.3,
  inference: 1.1,
  /** Minimum speedup of forward+backward over tfjs-wasm. */
  fwdBwdVsTfjsWasm: 50,
} as const;

export interface Row {
  case: string;
  op: Op | "floor";
  variant: string;
  ms: number;
  gbps: number;
  /** ms / floor ms (floors rows: null). */
  xFloor: number | null;
  /** tfjs-wasm ms / ms (> 1: faster than tfjs-wasm). */
  vsTfjsWasm: number | null;
  note?: string;
}

export interface FwdBwdRow {
  case: string;
  variant: string;
  fwdMs: number;
  bwdMs: number;
  /** fwd + bwd; tfjs: its backward alone, which already runs a forward under the tape. */
  totalMs: number;
  vsTfjsWasm: number | null;
}

export interface Verdict {
  case: string;
  /** wasm-simd (through the layers, the targets) or simd-kernels (the kernels alone, for diagnosis). */
  variant: string;
  what: string;
  value: number;
  target: string;
  /** null: a diagnostic ratio, no target. */
  pass: boolean | null;
}

export interface Report {
  rows: Row[];
  fwdBwd: FwdBwdRow[];
  verdicts: Verdict[];
}

const gbps = (bytes: number, ms: number) => bytes / (ms * 1e-3) / 1e9;

export function buildReport(cases: CaseResult[]): Report {
  const rows: Row[] = [];
  const fwdBwd: FwdBwdRow[] = [];
  const verdicts: Verdict[] = [];
  for (const r of cases) {
    const bytes = 4 * r.n;
    rows.push({ case: r.label, op: "floor", variant: "f32x4 sum", ms: r.floors.sum.ms, gbps: gbps(bytes, r.floors.sum.ms), xFloor: null, vsTfjsWasm: null });
    rows.push({ case: r.label, op: "floor", variant: "f32x4 copy", ms: r.floors.copy.ms, gbps: gbps(2 * bytes, r.floors.copy.ms), xFloor: null, vsTfjsWasm: null });
    const twin = r.floors.bwdTwin;
    if (twin) {
      rows.push({
        case: r.label,
        op: "floor",
        variant: "bwd twin",
        ms: twin.ms,
        gbps: gbps(5 * bytes, twin.ms),
        xFloor: null,
        vsTfjsWasm: null,
        note: "diagnostic: sum x + sum dy + (dx = x + dy), backward's 3 buffers",
      });
    }
    const tw = r.times["tfjs-wasm"];
    for (const op of OPS) {
      const fl = floorMs(op, r.floors);
      for (const v of VARIANTS) {
        const t = r.times[v]?.[op];
        if (!t) continue;
        const base = tw?.[op]?.ms;
        rows.push({
          case: r.label,
          op,
          variant: v,
          ms: t.ms,
          gbps: gbps(TRAFFIC[op] * bytes, t.ms),
          xFloor: t.ms / fl,
          vsTfjsWasm: base === undefined ? null : base / t.ms,
          note: t.sharedWith
            ? `timed on ${t.sharedWith}`
            : v.startsWith("tfjs") && r.tfjsShape.join() !== r.shape.join()
              ? `as [${r.tfjsShape}]`
              : v === "simd-kernels"
                ? "kernels on pointers, no layer"
                : undefined,
        });
      }
    }
    const tfTotal = (v: Variant) => r.times[v]?.backward?.ms;
    const wasmTotal = tfTotal("tfjs-wasm");
    for (const v of VARIANTS) {
      const f = r.times[v]?.forward, b = r.times[v]?.backward;
      if (!f || !b) continue;
      const total = v.startsWith("tfjs") ? b.ms : f.ms + b.ms;
      fwdBwd.push({ case: r.label, variant: v, fwdMs: f.ms, bwdMs: b.ms, totalMs: total, vsTfjsWasm: wasmTotal === undefined ? null : wasmTotal / total });
    }
    for (const v of ["wasm-simd", "simd-kernels"] as const) {
      const lib = r.times[v];
      if (!lib) continue;
      for (const op of OPS) {
        const t = lib[op];
        if (!t) continue;
        const x = t.ms / floorMs(op, r.floors);
        verdicts.push({ case: r.label, variant: v, what: `${op} / (${FLOOR_FORMULA[op]})`, value: x, target: `<= ${TARGETS[op]}`, pass: x <= TARGETS[op] });
      }
      if (lib.backward && r.floors.bwdTwin) {
        verdicts.push({ case: r.label, variant: v, what: "backward / (bwd twin)", value: lib.backward.ms / r.floors.bwdTwin.ms, target: "diagnostic", pass: null });
      }
      const row = fwdBwd.find((q) => q.case === r.label && q.variant === v);
      if (row && row.vsTfjsWasm !== null) {
        verdicts.push({
          case: r.label,
          variant: v,
          what: "fwd+bwd speedup over tfjs-wasm",
          value: row.vsTfjsWasm,
          target: `>= ${TARGETS.fwdBwdVsTfjsWasm}`,
          pass: row.vsTfjsWasm >= TARGETS.fwdBwdVsTfjsWasm,
        });
      }
    }
  }
  return { rows, fwdBwd, verdicts };
}

export function formatReport(rep: Report): string {
  const out: string[] = [];
  out.push(
    table(
      ["case", "op", "variant", "median ms", "GB/s", "x floor", "tfjs-wasm/this", "note"],
      rep.rows.map((r) => [
        r.case,
        r.op === "floor" ? "floor" : r.op,
        r.variant,
        fmtMs(r.ms),
        r.gbps.toFixed(1),
        r.xFloor === null ? "" : `${r.xFloor.toFixed(2)} (${FLOOR_FORMULA[r.op as Op]})`,
        fmtX(r.vsTfjsWasm),
        r.note ?? "",
      ]),
      { group: true },
    ),
  );
  out.push("");
  out.push("forward+backward (tfjs: its backward alone, which re-runs the forward under the tape)");
  out.push(
    table(
      ["case", "variant", "fwd ms", "bwd ms", "fwd+bwd ms", "tfjs-wasm/this"],
      rep.fwdBwd.map((r) => [r.case, r.variant, fmtMs(r.fwdMs), fmtMs(r.bwdMs), fmtMs(r.totalMs), fmtX(r.vsTfjsWasm)]),
      { group: true },
    ),
  );
  out.push("");
  out.push("targets (wasm-simd through the layers; simd-kernels, the kernels alone, for diagnosis; floors from the same run, same buffers)");
  out.push(
    table(
      ["case", "variant", "measure", "value", "target", ""],
      rep.verdicts.map((v) => [v.case, v.variant, v.what, v.what.startsWith("fwd+bwd") ? fmtX(v.value, 1) : v.value.toFixed(3), v.target, v.pass === null ? "" : v.pass ? "PASS" : "MISS"]),
      { group: true },
    ),
  );
  return out.join("\n");
}
