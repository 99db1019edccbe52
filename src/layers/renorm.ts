// Batch Renormalization's options (Ioffe 2017) and their schedules. rMax and dMax may change
// with the training step (the paper keeps rMax = 1, dMax = 0, plain BN, for the first 5,000
// steps, then relaxes them to rMax = 3 by step 40,000 and dMax = 5 by step 25,000): a number,
// a function of the step, or a linear ramp { from, to, start, end }. The step is the layer's
// num_batches_tracked before the batch (0 for the first), so a loaded state dict resumes the
// schedule where it stopped.
import { checkOptions, describe } from "../options.js";

/** A linear ramp: `from` until step `start`, `to` from step `end` on, linear in between. */
export interface RampSchedule {
  from: number;
  to: number;
  /** Default 0. */
  start?: number;
  end: number;
}

/** A clipping bound: a number, a function of the step (0-based), or a ramp. */
export type Schedule = number | ((step: number) => number) | RampSchedule;

export interface RenormOptions {
  /** r is clipped to [1 / rMax, rMax]; >= 1 (Infinity: no clipping). 1 with dMax 0 is plain BN. */
  rMax: Schedule;
  /** d is clipped to [-dMax, dMax]; >= 0 (Infinity: no clipping). */
  dMax: Schedule;
  /** Weight of the new batch in the renorm mean and stddev (Keras's 1 - renorm_momentum). Default 0.01 (Keras's renorm_momentum 0.99). */
  momentum?: number;
}

/** Checked renorm settings: schedules as functions of the step. */
export interface RenormSettings {
  rMax: (step: number) => number;
  dMax: (step: number) => number;
  momentum: number;
  /** The options as given (numbers and ramps; functions shown as "function"), for messages and copies. */
  options: RenormOptions;
}

function checkBound(where: string, key: "rMax" | "dMax", v: unknown, at: string): number {
  const lo = key === "rMax" ? 1 : 0;
  if (typeof v !== "number" || !(v >= lo)) {
    throw new Error(`${where}: renorm.${key} must be a number >= ${lo} (Infinity: no clipping)${at}, got ${describe(v)}`);
  }
  return v;
}

function scheduleOf(where: string, key: "rMax" | "dMax", s: unknown): (step: number) => number {
  if (typeof s === "number") {
    const v = checkBound(where, key, s, "");
    return () => v;
  }
  if (typeof s === "function") {
    return (step) => checkBound(where, key, (s as (step: number) => number)(step), ` (the schedule's value at step ${step})`);
  }
  if (s !== null && typeof s === "object" && !Array.isArray(s)) {
    const ramp = checkOptions(`${where}: renorm.${key}`, s as RampSchedule, ["from", "to", "start", "end"]);
    const from = checkBound(where, key, ramp.from, " (ramp.from)");
    const to = checkBound(where, key, ramp.to, " (ramp.to)");
    if (!Number.isFinite(from) || !Number.isFinite(to)) throw new Error(`${where}: renorm.${key} ramp ends must be finite, got from ${from}, to ${to}`);
    const start = ramp.start ?? 0, end = ramp.end;
    if (typeof start !== "number" || !Number.isInteger(start) || start < 0) throw new Error(`${where}: renorm.${key}.start must be a non-negative integer step, got ${describe(start)}`);
    if (typeof end !== "number" || !Number.isInteger(end) || end <= start) throw new Error(`${where}: renorm.${key}.end must be an integer step after start (${start}), got ${describe(end)}`);
    return (step) => (step <= start ? from : step >= end ? to : from + ((to - from) * (step - start)) / (end - start));
  }
  throw new Error(`${where}: renorm.${key} must be a number, a function of the step or { from, to, start, end }, got ${describe(s)}`);
}

/** Checks `renorm` (undefined: no renorm). Throws naming the option on anything invalid. */
export function renormSettings(where: string, renorm: unknown): RenormSettings | null {
  if (renorm === undefined || renorm === null || renorm === false) return null;
  if (typeof renorm !== "object" || Array.isArray(renorm)) throw new Error(`${where}: renorm must be an object { rMax, dMax, momentum? }, got ${describe(renorm)}`);
  const o = checkOptions(`${where}: renorm`, renorm as RenormOptions, ["rMax", "dMax", "momentum"]);
  if (o.rMax === undefined) throw new Error(`${where}: renorm.rMax is required (1 with dMax 0 is plain BN; the paper relaxes it to 3)`);
  if (o.dMax === undefined) throw new Error(`${where}: renorm.dMax is required (0 with rMax 1 is plain BN; the paper relaxes it to 5)`);
  const momentum = o.momentum ?? 0.01;
  if (typeof momentum !== "number" || !(momentum >= 0 && momentum <= 1)) {
    throw new Error(`${where}: renorm.momentum must be a number in [0, 1] (the new batch's weight; Keras's renorm_momentum 0.99 is 0.01), got ${describe(momentum)}`);
  }
  return { rMax: scheduleOf(where, "rMax", o.rMax), dMax: scheduleOf(where, "dMax", o.dMax), momentum, options: { ...o } };
}
