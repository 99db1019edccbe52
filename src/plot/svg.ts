// A small dependency-free SVG line-chart writer for the experiment figures: axes with
// "nice" ticks (1, 2, 5 x 10^k steps) and labels, a title, a legend, several line series,
// and filled bands between two series (the 15th-85th percentile band of Ioffe & Szegedy's
// Figure 1b/1c). Pure functions returning strings. Non-finite points are skipped: a line
// breaks there and a band splits into separate polygons, so "NaN" never reaches the SVG.

export interface LineSeries {
  /** Legend text. */
  name: string;
  x: readonly number[];
  y: readonly number[];
  /** CSS colour. Default: the next colour of PALETTE. */
  color?: string;
  /** stroke-dasharray, e.g. "6 3". Default: solid. */
  dash?: string;
  /** Stroke width in px. Default 2. */
  width?: number;
}

export interface BandSeries {
  /** Legend text. */
  name: string;
  x: readonly number[];
  lower: readonly number[];
  upper: readonly number[];
  /** CSS colour. Default: the next colour of PALETTE. */
  color?: string;
  /** Fill opacity in [0, 1]. Default 0.2. */
  opacity?: number;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly LineSeries[];
  /** Drawn under the lines. */
  bands?: readonly BandSeries[];
  /** Pixels. Default 640 x 400. */
  width?: number;
  height?: number;
  /** Fixed axis ranges; default: the data's range, widened to nice ticks. */
  xDomain?: readonly [number, number];
  yDomain?: readonly [number, number];
  /** Draw the legend. Default true. */
  legend?: boolean;
  /**
   * Prefix of the chart's element ids (its clip path is `<id>-area`). Ids are per document:
   * charts that share a page need different ones. Default: "plot-" and a hash of the title.
   */
  id?: string;
}

/** The chart's id prefix: options.id (letters, digits, '-', '_'), or "plot-" and an FNV-1a hash of the title. */
function chartId(options: { id?: string; title: string }): string {
  if (options.id !== undefined) {
    if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(options.id)) throw new Error(`lineChart: id must start with a letter and hold only letters, digits, '-' and '_', got ${JSON.stringify(options.id)}`);
    return options.id;
  }
  let h = 0x811c9dc5;
  for (let i = 0; i < options.title.length; i++) h = Math.imul(h ^ options.title.charCodeAt(i), 0x01000193);
  return `plot-${(h >>> 0).toString(16)}`;
}

/** Colour-blind-safe defaults (Okabe & Ito). */
export const PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"] as const;

/** Escapes text for SVG element content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/**
 * A tick step of 1, 2 or 5 x 10^k giving about `target` intervals over `span` (the raw step
 * rounded to the nearest of 1, 2, 5, 10 on a log scale, as d3's ticks do).
 */
export function niceStep(span: number, target = 5): number {
  if (!(span > 0) || !Number.isFinite(span)) return 1;
  const raw = span / Math.max(1, target);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const f = raw / mag;
  return (f >= Math.sqrt(50) ? 10 : f >= Math.sqrt(10) ? 5 : f >= Math.SQRT2 ? 2 : 1) * mag;
}

/**
 * Ticks covering [min, max]: the domain widened outwards to multiples of a nice step.
 * A degenerate range (min == max) is widened around its value.
 */
export function niceTicks(min: number, max: number, target = 5): { lo: number; hi: number; step: number; ticks: number[] } {
  if (!Number.isFinite(min) || !Number.isFinite(max)) {
    min = 0;
    max = 1;
  }
  if (min > max) [min, max] = [max, min];
  if (min === max) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  const step = niceStep(max - min, target);
  const lo = Math.floor(min / step + 1e-9) * step;
  const hi = Math.ceil(max / step - 1e-9) * step;
  const ticks: number[] = [];
  const n = Math.round((hi - lo) / step);
  for (let i = 0; i <= n; i++) ticks.push(roundTo(lo + i * step, step));
  return { lo, hi, step, ticks };
}

/** Removes float noise (0.30000000000000004) from a tick value at its step's precision. */
function roundTo(v: number, step: number): number {
  const digits = Math.max(0, -Math.floor(Math.log10(step)) + 1);
  return Number(v.toFixed(Math.min(digits, 15)));
}

/** A tick label: no float noise, thousands as "10k" when every tick is a multiple of 1000. */
export function formatTick(v: number, step: number): string {
  if (v === 0) return "0";
  if (Math.abs(step) >= 1000 && Number.isInteger(step / 1000) && Number.isInteger(v / 1000)) return `${v / 1000}k`;
  const decimals = Math.max(0, Math.min(10, -Math.floor(Math.log10(step) + 1e-9)));
  return v.toFixed(decimals);
}

/** A number for an SVG attribute: two decimals, never NaN (callers filter non-finite). */
/** The opening of a chart: the svg element, its title, a white background and the heading. */
export function svgHead(W: number, H: number, title: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${n2(W / 2)}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
  ];
}

/** A coordinate with at most two decimals. */
export function n2(v: number): string {
  return (Math.round(v * 100) / 100).toString();
}

function extent(values: Iterable<number>): [number, number] | null {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : null;
}

function* finitePairs(x: readonly number[], ...ys: (readonly number[])[]): Generator<number> {
  const n = Math.min(x.length, ...ys.map((y) => y.length));
  for (let i = 0; i < n; i++) if (Number.isFinite(x[i]) && ys.every((y) => Number.isFinite(y[i]))) yield i;
}

/** Runs of consecutive indices whose x and every y are finite. */
function finiteRuns(x: readonly number[], ...ys: (readonly number[])[]): number[][] {
  const runs: number[][] = [];
  let run: number[] = [];
  const n = Math.min(x.length, ...ys.map((y) => y.length));
  for (let i = 0; i < n; i++) {
    if (Number.isFinite(x[i]) && ys.every((y) => Number.isFinite(y[i]))) run.push(i);
    else if (run.length > 0) {
      runs.push(run);
      run = [];
    }
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

function checkSeries(s: { name: string; x: readonly number[] }, ys: Record<string, readonly number[]>): void {
  for (const [k, y] of Object.entries(ys)) {
    if (y.length !== s.x.length) {
      throw new Error(`lineChart: series "${s.name}" has ${s.x.length} x values but ${y.length} ${k} values`);
    }
  }
}

/** An SVG document (a string starting with "<svg") holding a line chart. */
export function lineChart(options: LineChartOptions): string {
  const W = options.width ?? 640;
  const H = options.height ?? 400;
  const series = options.series;
  const bands = options.bands ?? [];
  for (const s of series) checkSeries(s, { y: s.y });
  for (const b of bands) checkSeries(b, { lower: b.lower, upper: b.upper });

  // Colours: explicit ones stay; the rest take palette entries in order of appearance.
  let next = 0;
  const colour = (c: string | undefined) => c ?? PALETTE[next++ % PALETTE.length];
  const bandColours = bands.map((b) => colour(b.color));
  const seriesColours = series.map((s) => colour(s.color));

  const xs: number[] = [], ysAll: number[] = [];
  for (const s of series) for (const i of finitePairs(s.x, s.y)) {
    xs.push(s.x[i]);
    ysAll.push(s.y[i]);
  }
  for (const b of bands) for (const i of finitePairs(b.x, b.lower, b.upper)) {
    xs.push(b.x[i]);
    ysAll.push(b.lower[i], b.upper[i]);
  }
  const xt = options.xDomain ? ticksFor(options.xDomain) : niceTicks(...(extent(xs) ?? [0, 1]), 6);
  const yt = options.yDomain ? ticksFor(options.yDomain) : niceTicks(...(extent(ysAll) ?? [0, 1]), 5);

  const legendItems = options.legend === false ? 0 : series.length + bands.length;
  const m = { left: 64, right: 16, top: 40, bottom: 52 + (legendItems > 0 ? 22 * Math.ceil(legendItems / 3) : 0) };
  const pw = W - m.left - m.right, ph = H - m.top - m.bottom;
  if (pw <= 0 || ph <= 0) throw new Error(`lineChart: ${W}x${H} px leaves no room for the plot`);
  const px = (v: number) => m.left + ((v - xt.lo) / (xt.hi - xt.lo)) * pw;
  const py = (v: number) => m.top + ph - ((v - yt.lo) / (yt.hi - yt.lo)) * ph;

  const out = svgHead(W, H, options.title);

  // Grid and ticks.
  out.push(`<g class="grid" stroke="#e5e5e5" stroke-width="1">`);
  for (const t of xt.ticks) out.push(`<line x1="${n2(px(t))}" y1="${n2(m.top)}" x2="${n2(px(t))}" y2="${n2(m.top + ph)}"/>`);
  for (const t of yt.ticks) out.push(`<line x1="${n2(m.left)}" y1="${n2(py(t))}" x2="${n2(m.left + pw)}" y2="${n2(py(t))}"/>`);
  out.push(`</g>`);

  // Clip the data to the plot area (a fixed domain may cut some of it off).
  const clip = `${chartId(options)}-area`;
  out.push(`<defs><clipPath id="${clip}"><rect x="${n2(m.left)}" y="${n2(m.top)}" width="${n2(pw)}" height="${n2(ph)}"/></clipPath></defs>`);
  out.push(`<g clip-path="url(#${clip})">`);
  bands.forEach((b, k) => {
    const op = b.opacity ?? 0.2;
    for (const run of finiteRuns(b.x, b.lower, b.upper)) {
      const upper = run.map((i) => `${n2(px(b.x[i]))},${n2(py(b.upper[i]))}`);
      const lower = run.slice().reverse().map((i) => `${n2(px(b.x[i]))},${n2(py(b.lower[i]))}`);
      out.push(`<polygon class="band" data-name="${escapeXml(b.name)}" points="${[...upper, ...lower].join(" ")}" fill="${escapeXml(bandColours[k])}" fill-opacity="${op}" stroke="none"/>`);
    }
  });
  series.forEach((s, k) => {
    const runs = finiteRuns(s.x, s.y);
    const d = runs.map((run) => run.map((i, j) => `${j === 0 ? "M" : "L"}${n2(px(s.x[i]))},${n2(py(s.y[i]))}`).join(" ")).join(" ");
    const dash = s.dash ? ` stroke-dasharray="${escapeXml(s.dash)}"` : "";
    if (d !== "") {
      out.push(`<path class="series" data-name="${escapeXml(s.name)}" d="${d}" fill="none" stroke="${escapeXml(seriesColours[k])}" stroke-width="${s.width ?? 2}"${dash} stroke-linejoin="round"/>`);
    }
    // A lone point would be an invisible zero-length path: mark it.
    for (const run of runs) {
      if (run.length === 1) {
        const i = run[0];
        out.push(`<circle cx="${n2(px(s.x[i]))}" cy="${n2(py(s.y[i]))}" r="3" fill="${escapeXml(seriesColours[k])}"/>`);
      }
    }
  });
  out.push(`</g>`);

  // Axes, tick labels, axis labels.
  out.push(`<g class="axes" stroke="#333333" stroke-width="1">`);
  out.push(`<line x1="${n2(m.left)}" y1="${n2(m.top + ph)}" x2="${n2(m.left + pw)}" y2="${n2(m.top + ph)}"/>`);
  out.push(`<line x1="${n2(m.left)}" y1="${n2(m.top)}" x2="${n2(m.left)}" y2="${n2(m.top + ph)}"/>`);
  for (const t of xt.ticks) out.push(`<line x1="${n2(px(t))}" y1="${n2(m.top + ph)}" x2="${n2(px(t))}" y2="${n2(m.top + ph + 5)}"/>`);
  for (const t of yt.ticks) out.push(`<line x1="${n2(m.left - 5)}" y1="${n2(py(t))}" x2="${n2(m.left)}" y2="${n2(py(t))}"/>`);
  out.push(`</g>`);
  out.push(`<g class="tick-labels" fill="#333333">`);
  for (const t of xt.ticks) out.push(`<text x="${n2(px(t))}" y="${n2(m.top + ph + 18)}" text-anchor="middle">${escapeXml(formatTick(t, xt.step))}</text>`);
  for (const t of yt.ticks) out.push(`<text x="${n2(m.left - 8)}" y="${n2(py(t) + 4)}" text-anchor="end">${escapeXml(formatTick(t, yt.step))}</text>`);
  out.push(`</g>`);
  out.push(`<text x="${n2(m.left + pw / 2)}" y="${n2(m.top + ph + 38)}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`);
  out.push(`<text x="16" y="${n2(m.top + ph / 2)}" text-anchor="middle" transform="rotate(-90 16 ${n2(m.top + ph / 2)})">${escapeXml(options.yLabel)}</text>`);

  // Legend: up to three entries per row under the x label.
  if (legendItems > 0) {
    out.push(`<g class="legend">`);
    const entries = [
      ...bands.map((b, k) => ({ name: b.name, swatch: `<rect width="22" height="10" y="-8" fill="${escapeXml(bandColours[k])}" fill-opacity="${b.opacity ?? 0.2}"/>` })),
      ...series.map((s, k) => ({
        name: s.name,
        swatch: `<line x1="0" y1="-3" x2="22" y2="-3" stroke="${escapeXml(seriesColours[k])}" stroke-width="${s.width ?? 2}"${s.dash ? ` stroke-dasharray="${escapeXml(s.dash)}"` : ""}/>`,
      })),
    ];
    const colW = pw / 3;
    entries.forEach((e, i) => {
      const x = m.left + (i % 3) * colW, y = m.top + ph + 62 + 22 * Math.floor(i / 3);
      out.push(`<g transform="translate(${n2(x)} ${n2(y)})">${e.swatch}<text x="28" y="0">${escapeXml(e.name)}</text></g>`);
    });
    out.push(`</g>`);
  }
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}

function ticksFor(domain: readonly [number, number]): { lo: number; hi: number; step: number; ticks: number[] } {
  const [lo, hi] = domain;
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || !(hi > lo)) {
    throw new Error(`lineChart: a domain must be two finite numbers, low < high, got [${lo}, ${hi}]`);
  }
  const step = niceStep(hi - lo, 5);
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) ticks.push(roundTo(t, step));
  return { lo, hi, step, ticks };
}
