// A suite's main: its command line (node:util parseArgs), the header line, the checker and
// the peers, the results file with the run's machine and load, and the exit code: 2 when a
// kernel was refused (nothing is written), 1 on any other error.
//
// Every suite takes --quick (shorter budgets), --only=<part of a case label>, --no-tfjs-cpu
// and --no-torch, so that `npm run bench -- <flag>` can pass any of them to all suites;
// a suite declares its own string flags in `flags`. An option no suite knows is reported
// and ignored.
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { Checker, Refusal } from "./check.js";
import { Peers } from "./peers.js";
import { fmtLoad, machine, writeResults } from "./report.js";

export interface Context {
  quick: boolean;
  /** --only: a part of a case label. */
  only?: string;
  /** One of the suite's own flags. */
  arg(name: string): string | undefined;
  log(line?: string): void;
  check: Checker;
  peers: Peers;
  /** The cases whose label contains --only (all without it); none is an error. */
  select<T extends { label: string }>(cases: readonly T[]): T[];
}

export interface SuiteDef {
  /** What `npm run bench -- <name>` runs: bench/<name>.bench.ts. */
  name: string;
  /** Printed first, with the machine. */
  title: string;
  /** The results file, bench/results/<results>.json. */
  results: string | ((ctx: Context) => string);
  /** The float64 reference the checks compare with, and the tests to run when one fails. */
  reference: string;
  fix: string;
  /** The suite's own string flags, with what they do. */
  flags?: Record<string, string>;
  /** Runs the suite; returns what goes into the results file besides the run's facts. */
  run(ctx: Context): Promise<Record<string, unknown>>;
}

const COMMON = {
  quick: { type: "boolean", default: false },
  only: { type: "string" },
  "no-tfjs-cpu": { type: "boolean", default: false },
  "no-torch": { type: "boolean", default: false },
} as const;

export async function runSuite(def: SuiteDef): Promise<void> {
  const started = performance.now();
  const argv = process.argv.slice(2);
  const own = Object.fromEntries(Object.keys(def.flags ?? {}).map((k) => [k, { type: "string" as const }]));
  const { values } = parseArgs({ args: argv, options: { ...COMMON, ...own }, strict: false, allowPositionals: true });
  const log = (line = "") => void process.stdout.write(line + "\n");
  const known = new Set([...Object.keys(COMMON), ...Object.keys(own)]);
  const unknown = Object.keys(values).filter((k) => !known.has(k));
  const quick = values.quick === true;
  const only = typeof values.only === "string" ? values.only : undefined;
  const peers = new Peers({ noTfjsCpu: values["no-tfjs-cpu"] === true, noTorch: values["no-torch"] === true, log });
  const check = new Checker({ reference: def.reference, fix: def.fix, log });
  const ctx: Context = {
    quick,
    only,
    arg: (name) => (typeof values[name] === "string" ? (values[name] as string) : undefined),
    log,
    check,
    peers,
    select(cases) {
      const out = cases.filter((c) => !only || c.label.includes(only));
      if (out.length === 0) throw new Error(`bench: --only=${only} matches none of ${cases.map((c) => c.label).join(", ")}`);
      return out;
    },
  };
  const m = machine();
  try {
    log(`${def.title}: ${m.cpu} x${m.cores}, node ${m.node}${quick ? " (quick)" : ""}, load ${fmtLoad(m.loadavgStart)}`);
    if (unknown.length) log(`note: ignoring ${unknown.map((k) => `--${k}`).join(", ")} (this suite takes ${[...known].map((k) => `--${k}`).join(", ")})`);
    const payload = await def.run(ctx);
    m.loadavgEnd = loadavg();
    const seconds = (performance.now() - started) / 1000;
    log(`\nload average at start ${fmtLoad(m.loadavgStart)}, at end ${fmtLoad(m.loadavgEnd)} (${m.cores} cores)`);
    const file = await writeResults(typeof def.results === "string" ? def.results : def.results(ctx), {
      bench: def.name,
      date: new Date().toISOString(),
      machine: m,
      quick,
      args: argv,
      seconds,
      peers: peers.summary(),
      skipped: [...peers.skipped, ...check.skipped],
      ...payload,
    });
    log(`wrote ${file.pathname} (${seconds.toFixed(0)} s)`);
  } catch (e) {
    if (e instanceof Refusal) {
      process.stderr.write(`\n${e.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`\n${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  }
}
