// Fixed partitions of an op's work over threads: they depend only on the sizes and the
// thread count, so a given thread count gives the same results run after run.

/**
 * [start, end) ranges covering [0, total) in at most `parts` pieces, each a multiple of
 * `unit` long except the last; fewer pieces when total is small (never an empty one).
 */
export function splitRange(total: number, parts: number, unit: number): [number, number][] {
  const units = Math.ceil(total / unit);
  const per = Math.ceil(units / Math.max(1, parts)) * unit;
  const out: [number, number][] = [];
  for (let s = 0; s < total; s += per) out.push([s, Math.min(total, s + per)]);
  return out;
}
