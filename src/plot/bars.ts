// A grouped bar chart for the experiment figures (one group per setting, one bar per series
// within it), in the same style as svg.ts's line chart. Missing values (null or non-finite)
// leave a gap marked "n/a". A pure function returning an SVG document.
import { escapeXml, formatTick, n2, niceTicks, PALETTE, svgHead } from "./svg.js";

export interface BarSeries {
  name: string;
  /** One value per group; null: not run there. */
  values: readonly (number | null)[];
  color?: string;
}

export interface BarChartOptions {
  title: string;
  yLabel: string;
  groups: readonly string[];
  series: readonly BarSeries[];
  /** Default [0, the largest value widened to a nice tick]. */
  yDomain?: readonly [number, number];
  width?: number;
  height?: number;
}

export function barChart(o: BarChartOptions): string {
  const W = o.width ?? 760, H = o.height ?? 420;
  for (const s of o.series) {
    if (s.values.length !== o.groups.length) throw new Error(`barChart: series "${s.name}" has ${s.values.length} values for ${o.groups.length} groups`);
  }
  const finite = o.series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)));
  const yt = niceTicks(o.yDomain?.[0] ?? 0, o.yDomain?.[1] ?? (finite.length ? Math.max(...finite) : 1), 5);
  const rows = Math.ceil(o.series.length / 4);
  const m = { left: 64, right: 16, top: 40, bottom: 44 + 22 * rows };
  const pw = W - m.left - m.right, ph = H - m.top - m.bottom;
  if (pw <= 0 || ph <= 0) throw new Error(`barChart: ${W}x${H} px leaves no room for the plot`);
  const py = (v: number) => m.top + ph - ((Math.min(Math.max(v, yt.lo), yt.hi) - yt.lo) / (yt.hi - yt.lo)) * ph;
  const gw = pw / Math.max(1, o.groups.length), bw = (gw * 0.8) / Math.max(1, o.series.length);
  const colours = o.series.map((s, k) => s.color ?? PALETTE[k % PALETTE.length]);
  const out = svgHead(W, H, o.title);
  out.push(`<g class="grid" stroke="#e5e5e5" stroke-width="1">`);
  for (const t of yt.ticks) out.push(`<line x1="${m.left}" y1="${n2(py(t))}" x2="${m.left + pw}" y2="${n2(py(t))}"/>`);
  out.push(`</g>`);
  o.groups.forEach((g, gi) => {
    const x0 = m.left + gi * gw + gw * 0.1;
    o.series.forEach((s, k) => {
      const v = s.values[gi], x = x0 + k * bw;
      if (v === null || !Number.isFinite(v)) {
        out.push(`<text x="${n2(x + bw / 2)}" y="${n2(m.top + ph - 4)}" text-anchor="middle" font-size="9" fill="#777777">n/a</text>`);
        return;
      }
      const y = py(v);
      out.push(`<rect class="bar" data-name="${escapeXml(s.name)}" data-group="${escapeXml(g)}" x="${n2(x)}" y="${n2(y)}" width="${n2(bw * 0.92)}" height="${n2(m.top + ph - y)}" fill="${escapeXml(colours[k])}"><title>${escapeXml(`${s.name}, ${g}: ${v}`)}</title></rect>`);
    });
    out.push(`<text x="${n2(m.left + (gi + 0.5) * gw)}" y="${n2(m.top + ph + 18)}" text-anchor="middle">${escapeXml(g)}</text>`);
  });
  out.push(`<g class="axes" stroke="#333333" stroke-width="1">`);
  out.push(`<line x1="${m.left}" y1="${m.top + ph}" x2="${m.left + pw}" y2="${m.top + ph}"/>`);
  out.push(`<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${m.top + ph}"/>`);
  out.push(`</g>`);
  out.push(`<g class="tick-labels" fill="#333333">`);
  for (const t of yt.ticks) out.push(`<text x="${m.left - 8}" y="${n2(py(t) + 4)}" text-anchor="end">${escapeXml(formatTick(t, yt.step))}</text>`);
  out.push(`</g>`);
  out.push(`<text x="16" y="${n2(m.top + ph / 2)}" text-anchor="middle" transform="rotate(-90 16 ${n2(m.top + ph / 2)})">${escapeXml(o.yLabel)}</text>`);
  out.push(`<g class="legend">`);
  o.series.forEach((s, i) => {
    const x = m.left + (i % 4) * (pw / 4), y = m.top + ph + 44 + 22 * Math.floor(i / 4);
    out.push(`<g transform="translate(${n2(x)} ${n2(y)})"><rect width="14" height="10" y="-9" fill="${escapeXml(colours[i])}"/><text x="20" y="0">${escapeXml(s.name)}</text></g>`);
  });
  out.push(`</g>`);
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}
