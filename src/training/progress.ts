// fit()'s progress output: a carriage-return bar on a TTY (redrawn at most every 100 ms),
// plain lines elsewhere or to a given log function, nothing when quiet.

/** Progress output: a carriage-return bar on a TTY, plain lines elsewhere, nothing when quiet. */
export class Progress {
  private readonly tty: boolean;
  private readonly write: ((s: string) => void) | null;
  private readonly line: ((s: string) => void) | null;
  private lastDraw = 0;
  private drawn = false;

  constructor(verbose: boolean, log: ((line: string) => void) | undefined) {
    const proc = (globalThis as { process?: { stdout?: { isTTY?: boolean; write(s: string): unknown } } }).process;
    const out = proc?.stdout;
    this.tty = verbose && !log && out?.isTTY === true;
    this.write = this.tty && out ? (s) => void out.write(s) : null;
    this.line = !verbose ? null : log ? log : out ? (s) => void out.write(`${s}\n`) : (s) => console.log(s);
  }

  /** Whether the bar should be redrawn now: on a TTY, at most every 100 ms (and on the first step). */
  due(): boolean {
    return this.write !== null && (!this.drawn || performance.now() - this.lastDraw >= 100);
  }

  /** Draws the bar (on a TTY); `text` holds "{bar}" where the bar goes. */
  bar(text: string, done: number, total: number): void {
    if (!this.write) return;
    this.lastDraw = performance.now();
    const width = 30;
    const filled = total > 0 ? Math.min(width, Math.floor((done / total) * width)) : 0;
    const bar = "=".repeat(filled) + (filled < width ? ">" : "") + " ".repeat(Math.max(0, width - filled - 1));
    this.write(`\r${text.replace("{bar}", `[${bar}]`)}\x1b[K`);
    this.drawn = true;
  }

  /** Leaves the line of a bar that is still drawn (when training ends on an error). */
  end(): void {
    if (this.write && this.drawn) this.write("\n");
    this.drawn = false;
  }

  /** A line that stays: ends the bar's line on a TTY. */
  print(text: string): void {
    if (!this.line) return;
    if (this.write && this.drawn) {
      this.write(`\r${text}\x1b[K\n`);
      this.drawn = false;
    } else this.line(text);
  }
}

export function fmtLoss(v: number): string {
  return Number.isFinite(v) ? v.toFixed(4) : String(v);
}

