// Nothing is timed before its output has been compared with the float64 reference. Our own
// kernels must agree or the run stops (a Refusal: exit code 2, nothing written); a peer that
// disagrees (tfjs, PyTorch) is reported, listed in the results as skipped, and not timed.
// The error is test/check.ts's relErr (the measure the tests use): max |got - want| over
// max |want|, unless a suite passes an error of its own measure.
import { relErr } from "../../test/check.js";

export { relErr };

export class Refusal extends Error {}

export interface Skipped {
  variant: string;
  case?: string;
  reason: string;
}

export interface CheckerOptions {
  /** The reference the suite checks against, as a reader finds it ("test/reference/gemm.ts"). */
  reference: string;
  /** What to run to find the bug ("npx vitest run test/gemm.test.ts"). */
  fix: string;
  log: (line: string) => void;
}

export class Checker {
  /** Every error measured, by case, variant and output. */
  readonly errors: Record<string, Record<string, Record<string, number>>> = {};
  readonly skipped: Skipped[] = [];

  constructor(private readonly o: CheckerOptions) {}

  private record(label: string, variant: string, what: string, e: number): void {
    ((this.errors[label] ??= {})[variant] ??= {})[what] = e;
  }

  /** Our kernel: returns the error, or stops the run when it exceeds tol. */
  require(variant: string, label: string, what: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: number): number {
    return this.requireError(variant, label, what, relErr(got, want), tol);
  }

  /** `require` for an error already measured; `detail` says where it is worst. */
  requireError(variant: string, label: string, what: string, e: number, tol: number, detail?: string): number {
    this.record(label, variant, what, e);
    if (!(e <= tol)) this.refuse(variant, label, `its ${what} disagrees with ${this.o.reference} (${detail ?? `normwise relative error ${e.toExponential(2)}`} > ${tol})`);
    return e;
  }

  /** Stops the run: our `variant` failed a check on `label` for `reason`. */
  refuse(variant: string, label: string, reason: string): never {
    throw new Refusal(`bench: REFUSING to time ${variant} on ${label}: ${reason}. Fix it first (${this.o.fix}).`);
  }

  /** A peer: true when it agrees; otherwise it is logged and listed as skipped, and must not be timed. */
  accept(variant: string, label: string, what: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: number): boolean {
    return this.acceptError(variant, label, what, relErr(got, want), tol);
  }

  acceptError(variant: string, label: string, what: string, e: number, tol: number, detail?: string): boolean {
    this.record(label, variant, what, e);
    if (e <= tol) return true;
    const reason = `its ${what} disagrees with ${this.o.reference} (${detail ?? `normwise relative error ${e.toExponential(2)}`} > ${tol})`;
    this.o.log(`  NOT timing ${variant} on ${label}: ${reason}`);
    this.skipped.push({ variant, case: label, reason });
    return false;
  }

  /** The largest error recorded for a case (over variants and outputs). */
  worst(label: string): number {
    return Math.max(0, ...Object.values(this.errors[label] ?? {}).flatMap((v) => Object.values(v)));
  }
}
