// How every suite times: tinybench drives the loop (warm-up, then samples until both the
// time and the iteration budget are spent); each sample records the wall clock and this
// process's CPU time (process.cpuUsage) of the same calls. On a shared machine with more
// runnable processes than cores the wall clock also counts the time this process waits
// descheduled; the CPU time does not, so ratios can be taken on either.
//
// A call shorter than `minSampleMs` is repeated inside one sample (timer resolution and
// per-sample overhead stay below ~1%), and every figure is per call. Tasks of a group run in
// `rounds` interleaved rounds (task 1, task 2, ..., task 1, task 2, ...), so that the tasks
// whose ratio matters see the same machine state; a Timing's median pools the samples of
// all rounds, and the per-round medians are kept to show the spread.
import { Bench, type HookMode } from "tinybench";

export interface Budget {
  /** Milliseconds of samples to take (at least `iterations` of them). */
  time: number;
  warmupTime: number;
  iterations: number;
  warmupIterations: number;
}

/** Wall-clock and CPU milliseconds of one sample (or of one `phase`'s timed part). */
export interface Sample {
  wall: number;
  cpu: number;
}

/** Samples taken outside this process (a PyTorch child), in per-call milliseconds. */
export interface ExternalSamples {
  wall: number[];
  cpu: number[];
}

export type Task =
  /** `fn` is the timed call (awaited when `async`). */
  | { name: string; fn: () => unknown; async?: boolean; budget?: Budget }
  /** `phase` does untimed set-up around a timed part and returns that part's times (see `timed`). */
  | { name: string; phase: () => Sample; budget?: Budget }
  /** Times itself elsewhere, once a round; null drops the task (its reason logged by the caller). */
  | { name: string; external: (round: number) => ExternalSamples | null | Promise<ExternalSamples | null> };

export interface Timing {
  /** Wall-clock median per call, over the samples of every round. */
  ms: number;
  /** Median per call of this process's CPU time over the same samples. */
  cpuMs: number;
  /** Fastest sample, per call. */
  minMs: number;
  samples: number;
  /** Calls per sample. */
  reps: number;
  /** Wall-clock median of each round. */
  rounds: number[];
  /** CPU-time median of each round. */
  cpuRounds: number[];
}

export type Clock = "wall" | "cpu";

export interface GroupOptions {
  budget: Budget;
  rounds?: number;
  /** Repeat a call inside one sample until the sample lasts this long (0: one call a sample). */
  minSampleMs?: number;
  /** Prints a line per task and round. */
  log?: (line: string) => void;
}

export function median(a: readonly number[]): number {
  if (a.length === 0) return NaN;
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The milliseconds of a timing on one clock. */
export function msOf(t: Timing, clock: Clock = "wall"): number {
  return clock === "cpu" ? t.cpuMs : t.ms;
}

/** How many times slower `t` is than `base` (> 1: `base` is faster); both from the same run. */
export function ratio(t: Timing, base: Timing, clock: Clock = "wall"): number {
  return msOf(t, clock) / msOf(base, clock);
}

/** Wall and CPU milliseconds of `fn`, for `phase` tasks. */
export function timed(fn: () => void): Sample {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  fn();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1000 };
}

/** Values the timed calls return go here, so that no engine can drop the calls as dead code. */
export let sink = 0;
export function keep(v: number): void {
  sink += v;
}

/**
 * Calls per sample so that a sample lasts about minSampleMs: 1 when a warm call already does
 * (two calls for a slow function), otherwise the best of three batches of a growing size.
 */
function repsFor(fn: () => unknown, minSampleMs: number): number {
  if (!(minSampleMs > 0)) return 1;
  fn();
  const t0 = performance.now();
  fn();
  if (performance.now() - t0 >= minSampleMs) return 1;
  for (let i = 0; i < 3; i++) fn();
  for (let reps = 1; ; reps *= 4) {
    let best = Infinity;
    for (let k = 0; k < 3; k++) {
      const t1 = performance.now();
      for (let i = 0; i < reps; i++) fn();
      best = Math.min(best, performance.now() - t1);
    }
    if (best >= minSampleMs / 4 || reps >= 1 << 20) return Math.max(1, Math.ceil((reps * minSampleMs) / Math.max(best, 1e-3)));
  }
}

/** One tinybench run of one task; the samples of its measured phase (not of its warm-up), whole. */
async function sampleWith(name: string, budget: Budget, isAsync: boolean, take: () => Sample | Promise<Sample>): Promise<Sample[]> {
  const out: Sample[] = [];
  let recording = false;
  const bench = new Bench({ ...budget, throws: true });
  const hooks = { beforeAll: (mode?: HookMode) => void (recording = mode === "run") };
  if (isAsync) {
    bench.add(name, async () => {
      const s = await take();
      if (recording) out.push(s);
      return { overriddenDuration: s.wall };
    }, { ...hooks, async: true });
  } else {
    bench.add(name, () => {
      const s = take() as Sample;
      if (recording) out.push(s);
      return { overriddenDuration: s.wall };
    }, hooks);
  }
  await bench.run();
  const res = bench.tasks[0].result;
  if (res.state !== "completed") throw new Error(`bench: task ${name} did not complete (${res.state}${"error" in res ? `: ${res.error}` : ""})`);
  return out;
}

/** A sampler for a timed call: `reps` calls a sample (times of the whole sample). */
function callSampler(fn: () => unknown, reps: number, isAsync: boolean): () => Sample | Promise<Sample> {
  if (isAsync) {
    return async () => {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) await fn();
      const wall = performance.now() - t0;
      const c = process.cpuUsage(c0);
      return { wall, cpu: (c.user + c.system) / 1000 };
    };
  }
  return () => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    const wall = performance.now() - t0;
    const c = process.cpuUsage(c0);
    return { wall, cpu: (c.user + c.system) / 1000 };
  };
}

/**
 * Times the tasks in interleaved rounds and returns a Timing per task that completed (an
 * external task that returned null is absent).
 */
export async function timeGroup(tasks: readonly Task[], o: GroupOptions): Promise<Map<string, Timing>> {
  const rounds = o.rounds ?? 1;
  const wall = new Map<string, number[]>(), cpu = new Map<string, number[]>();
  const perRound = new Map<string, { wall: number[]; cpu: number[] }>();
  const reps = new Map<string, number>();
  const dropped = new Set<string>();
  for (const t of tasks) {
    wall.set(t.name, []);
    cpu.set(t.name, []);
    perRound.set(t.name, { wall: [], cpu: [] });
    reps.set(t.name, "fn" in t && !t.async ? repsFor(t.fn, o.minSampleMs ?? 0) : 1);
  }
  for (let r = 0; r < rounds; r++) {
    for (const t of tasks) {
      if (dropped.has(t.name)) continue;
      let w: number[], c: number[];
      if ("external" in t) {
        const got = await t.external(r);
        if (!got) {
          dropped.add(t.name);
          continue;
        }
        ({ wall: w, cpu: c } = got);
      } else {
        const budget = t.budget ?? o.budget, k = reps.get(t.name)!;
        const s = "phase" in t
          ? await sampleWith(t.name, budget, false, t.phase)
          : await sampleWith(t.name, budget, t.async ?? false, callSampler(t.fn, k, t.async ?? false));
        w = s.map((x) => x.wall / k);
        c = s.map((x) => x.cpu / k);
      }
      const aw = wall.get(t.name)!, ac = cpu.get(t.name)!;
      for (let i = 0; i < w.length; i++) {
        aw.push(w[i]);
        ac.push(c[i]);
      }
      const pr = perRound.get(t.name)!;
      pr.wall.push(median(w));
      pr.cpu.push(median(c));
      o.log?.(`  ${rounds > 1 ? `round ${r + 1}/${rounds} ` : ""}${t.name.padEnd(24)} wall p50 ${pr.wall[r].toFixed(3)} ms, cpu p50 ${pr.cpu[r].toFixed(3)} ms`);
    }
  }
  const out = new Map<string, Timing>();
  for (const t of tasks) {
    if (dropped.has(t.name)) continue;
    const w = wall.get(t.name)!;
    out.set(t.name, {
      ms: median(w),
      cpuMs: median(cpu.get(t.name)!),
      minMs: w.reduce((a, b) => Math.min(a, b), Infinity),
      samples: w.length,
      reps: reps.get(t.name)!,
      rounds: perRound.get(t.name)!.wall,
      cpuRounds: perRound.get(t.name)!.cpu,
    });
  }
  return out;
}
