// Checks of option objects for callers without a type checker (plain JavaScript): an
// unknown name is an error that suggests the closest valid one (`epsilon` -> `eps`,
// `validation_split` -> `validation`), and a value of the wrong type is an error rather
// than being read as truthy ('false' is a non-empty string).

/** How a value is named in messages: its type, or its class for objects. */
export function describe(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "undefined";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return (v as object).constructor?.name ?? "an object";
  if (typeof v === "string") return `the string ${JSON.stringify(v)}`;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (typeof v === "bigint") return `${v}n`;
  return typeof v;
}

/**
 * Checks that `options` is undefined or a plain object whose own keys are all in `allowed`,
 * and returns it (as {} when undefined). `where` starts each message ("BatchNorm1d").
 */
export function checkOptions<T extends object>(where: string, options: T | undefined | null, allowed: readonly string[]): T {
  if (options === undefined) return {} as T;
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new Error(`${where}: options must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      const near = closest(key, allowed);
      throw new Error(`${where}: unknown option "${key}"${near ? ` (did you mean "${near}"?)` : ""}; valid options: ${allowed.join(", ")}`);
    }
  }
  return options;
}

/** An optional boolean option: true or false, or undefined for the default. */
export function boolOption(where: string, key: string, v: unknown, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== "boolean") throw new Error(`${where}: ${key} must be true or false, got ${describe(v)}`);
  return v;
}

/**
 * An eps added to a float32 variance: positive and finite, and still positive once rounded
 * to float32 (1e-46 rounds to 0 there, and a constant channel would then divide by zero).
 */
export function epsOption(where: string, v: unknown, fallback: number): number {
  const eps = v === undefined ? fallback : v;
  if (typeof eps !== "number" || !(eps > 0) || !Number.isFinite(eps)) throw new Error(`${where}: eps must be a positive finite number, got ${describe(eps)}`);
  if (!(Math.fround(eps) > 0)) throw new Error(`${where}: eps ${eps} is 0 in float32 (the smallest positive float32 is about 1.4e-45); use a larger eps such as 1e-5`);
  return eps;
}

/** The allowed name nearest to `key` (case, `_` and `-` ignored; then edit distance), or null if none is close. */
export function closest(key: string, allowed: readonly string[]): string | null {
  const norm = (s: string) => s.toLowerCase().replace(/[_\-\s]/g, "");
  const k = norm(key);
  let best: string | null = null;
  let bestScore = Infinity;
  for (const a of allowed) {
    const n = norm(a);
    // One name inside the other (validation_split / validation, epsilon / eps): a strong hint.
    const score = n === k ? 0 : k.startsWith(n) || n.startsWith(k) ? 1 : editDistance(k, n);
    if (score < bestScore) {
      bestScore = score;
      best = a;
    }
  }
  const limit = Math.max(2, Math.floor(k.length / 3));
  return best !== null && (bestScore <= 1 || bestScore <= limit) ? best : null;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}
