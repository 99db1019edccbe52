// Fixed partitions of an op's work over threads: they depend only on the sizes and the
// thread count, so a given thread count gives the same results run after run.

/**
 * [start, end) ranges covering [0, total) in at most `parts` pieces of whole units (`unit`
 * long; the last piece ends at total), as even as whole units allow, larger pieces first;
 * fewer pieces when total is small (never an empty one).
 */
export function splitRange(total: number, parts: number, unit: number): [number, number][] {
  const units = Math.ceil(total / unit);
  const n = Math.max(1, Math.min(parts, units));
  const base = Math.floor(units / n), extra = units % n;
  const out: [number, number][] = [];
  for (let i = 0, s = 0; i < n && s < total; i++) {
    const e = Math.min(total, s + (base + (i < extra ? 1 : 0)) * unit);
    out.push([s, e]);
    s = e;
  }
  return out;
}
