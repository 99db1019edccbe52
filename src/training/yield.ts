// Running a step generator (fit()'s loop) either at once or with turns for the event loop.
// A turn is a macrotask: a page paints and handles input, a worker receives its messages.
// MessageChannel (or Node's setImmediate) rather than setTimeout(0), which browsers clamp
// to 4 ms once nested.

/** Runs every step at once and returns the generator's result. */
export function runSteps<T>(steps: Generator<void, T, void>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** Runs the steps, yielding to the event loop whenever `everyMs` milliseconds have passed since the last turn. */
export async function runStepsYielding<T>(steps: Generator<void, T, void>, everyMs: number): Promise<T> {
  let last = performance.now();
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    if (performance.now() - last >= everyMs) {
      await yieldToEventLoop();
      last = performance.now();
    }
  }
}

/** Resolves after the event loop has had a turn (pending messages, input and rendering). */
export function yieldToEventLoop(): Promise<void> {
  const g = globalThis as { setImmediate?: (f: () => void) => unknown; MessageChannel?: typeof MessageChannel };
  if (typeof g.setImmediate === "function") {
    const setImmediate = g.setImmediate;
    return new Promise((resolve) => void setImmediate(resolve));
  }
  if (typeof g.MessageChannel === "function") {
    return new Promise((resolve) => {
      const channel = new g.MessageChannel!();
      channel.port1.onmessage = () => {
        channel.port1.close();
        resolve();
      };
      channel.port2.postMessage(null);
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}
