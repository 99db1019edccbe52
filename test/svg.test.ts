// The SVG line-chart writer: nice ticks, escaping, well-formed output, one path per series,
// bands as polygons, and no NaN ever written even when the data has gaps.
import { describe, expect, it } from "vitest";
import { barChart } from "../src/plot/bars.js";
import { escapeXml, formatTick, lineChart, niceStep, niceTicks, svgHead } from "../src/plot/svg.js";

/** Checks that tags open and close in order (an XML well-formedness check enough for our output). */
function expectWellFormedSvg(svg: string): void {
  expect(svg.startsWith("<svg ")).toBe(true);
  expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
  expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
  expect(svg).not.toMatch(/="[^"]*(NaN|Infinity|undefined)/); // no bad number in any attribute
  const stack: string[] = [];
  const tag = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  let last = 0;
  for (let m = tag.exec(svg); m; m = tag.exec(svg)) {
    // Text between tags must not hold a raw '<' or an unescaped '&'.
    const text = svg.slice(last, m.index);
    expect(text, `text before offset ${m.index}`).not.toMatch(/<|&(?!amp;|lt;|gt;|quot;|#39;)/);
    last = tag.lastIndex;
    const [, closing, name, , selfClosing] = m;
    if (selfClosing) continue;
    if (closing) expect(stack.pop(), `closing </${name}> at ${m.index}`).toBe(name);
    else stack.push(name);
  }
  expect(svg.slice(last).trim()).toBe("");
  expect(stack).toEqual([]);
}

const paths = (svg: string): string[] => [...(svg.match(/<path class="series"[^>]*>/g) ?? [])];
const pathD = (p: string) => /\sd="([^"]*)"/.exec(p)![1];

describe("ticks", () => {
  it("steps are 1, 2 or 5 times a power of ten", () => {
    expect(niceStep(10, 5)).toBe(2);
    expect(niceStep(1, 5)).toBe(0.2);
    expect(niceStep(50000, 5)).toBe(10000);
    expect(niceStep(0.3, 5)).toBe(0.05);
    expect(niceStep(7, 5)).toBe(1);
    expect(niceStep(8, 5)).toBe(2);
  });

  it("cover the data and sit on multiples of the step, without float noise", () => {
    const t = niceTicks(0.73, 0.981, 5);
    expect(t.lo).toBeLessThanOrEqual(0.73);
    expect(t.hi).toBeGreaterThanOrEqual(0.981);
    expect(t.ticks).toEqual([0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1]);
    expect(niceTicks(-2.3, 1.7).ticks).toEqual([-3, -2, -1, 0, 1, 2]);
    expect(niceTicks(500, 50000, 6).ticks).toEqual([0, 10000, 20000, 30000, 40000, 50000]);
  });

  it("widen a degenerate or non-finite range instead of dividing by zero", () => {
    const t = niceTicks(3, 3);
    expect(t.lo).toBeLessThan(3);
    expect(t.hi).toBeGreaterThan(3);
    expect(niceTicks(0, 0).ticks.length).toBeGreaterThan(1);
    expect(niceTicks(NaN, Infinity).ticks).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
  });

  it("labels: thousands as k, decimals as the step needs", () => {
    expect(formatTick(20000, 10000)).toBe("20k");
    expect(formatTick(0.95, 0.05)).toBe("0.95");
    expect(formatTick(1, 0.2)).toBe("1.0");
    expect(formatTick(-2, 1)).toBe("-2");
    expect(formatTick(0, 0.05)).toBe("0");
  });
});

describe("lineChart", () => {
  const x = [100, 200, 300, 400];
  it("draws a well-formed SVG with title, axis labels, a legend entry and a path per series", () => {
    const svg = lineChart({
      title: "Accuracy <BN & plain>",
      xLabel: "steps",
      yLabel: "accuracy",
      series: [
        { name: "with BN", x, y: [0.9, 0.95, 0.97, 0.98] },
        { name: "without", x, y: [0.8, 0.9, 0.93, 0.95], dash: "6 4" },
      ],
    });
    expectWellFormedSvg(svg);
    expect(svg).toContain("Accuracy &lt;BN &amp; plain&gt;");
    expect(svg).toContain(">steps</text>");
    expect(svg).toContain(">accuracy</text>");
    expect(svg).toContain(">with BN</text>");
    expect(svg).toContain(">without</text>");
    const ps = paths(svg);
    expect(ps).toHaveLength(2);
    expect(ps[1]).toContain('stroke-dasharray="6 4"');
    // Four points each: one M then three L.
    for (const p of ps) expect(pathD(p).match(/[ML]/g)).toEqual(["M", "L", "L", "L"]);
    // Higher values are drawn higher (smaller y).
    const ys = pathD(ps[0]).split(/[ML ]+/).filter(Boolean).map((pt) => Number(pt.split(",")[1]));
    expect(ys[3]).toBeLessThan(ys[0]);
  });

  it("breaks lines at non-finite values and never writes NaN", () => {
    const svg = lineChart({
      title: "gaps",
      xLabel: "x",
      yLabel: "y",
      series: [
        { name: "a", x: [1, 2, 3, 4, 5], y: [1, NaN, 3, 4, Infinity] },
        { name: "all missing", x: [1, 2], y: [NaN, NaN] },
      ],
    });
    expectWellFormedSvg(svg);
    const ps = paths(svg);
    expect(ps).toHaveLength(1); // the all-NaN series draws nothing (but keeps its legend entry)
    expect(pathD(ps[0]).match(/[ML]/g)).toEqual(["M", "M", "L"]);
    expect(svg.match(/<circle /g)).toHaveLength(1); // the lone first point is marked
    expect(svg).toContain(">all missing</text>");
  });

  it("fills bands between lower and upper, split at gaps, under the lines", () => {
    const svg = lineChart({
      title: "percentiles",
      xLabel: "steps",
      yLabel: "input",
      bands: [{ name: "15th-85th", x, lower: [-1, -1.2, NaN, -1.1], upper: [1, 1.1, 1.3, 1.2] }],
      series: [{ name: "median", x, y: [0, 0.1, 0.05, 0] }],
    });
    expectWellFormedSvg(svg);
    const polys: string[] = [...(svg.match(/<polygon class="band"[^>]*>/g) ?? [])];
    expect(polys).toHaveLength(2);
    expect(/points="([^"]*)"/.exec(polys[0])![1].split(" ")).toHaveLength(4); // x[0..1] along upper, back along lower
    expect(svg.indexOf("<polygon")).toBeLessThan(svg.indexOf('<path class="series"'));
    expect(svg).toContain(">15th-85th</text>");
  });

  it("keeps a fixed domain and clips what falls outside", () => {
    const svg = lineChart({ title: "t", xLabel: "x", yLabel: "y", yDomain: [0, 1], series: [{ name: "s", x: [0, 1], y: [0.5, 7] }] });
    expectWellFormedSvg(svg);
    expect(svg).toMatch(/<clipPath id="(plot-[0-9a-f]+-area)">.*clip-path="url\(#\1\)"/s);
    expect(svg).toMatch(/>1\.0<\/text>/);
    expect(svg).not.toMatch(/>7<\/text>/);
  });

  it("gives each chart a clip path id of its own (charts sharing a page), or the id asked for", () => {
    const a = lineChart({ title: "a", xLabel: "x", yLabel: "y", series: [] }), b = lineChart({ title: "b", xLabel: "x", yLabel: "y", series: [] });
    const idOf = (svg: string) => /<clipPath id="([^"]+)"/.exec(svg)![1];
    expect(idOf(a)).not.toBe(idOf(b));
    expect(idOf(lineChart({ title: "a", xLabel: "x", yLabel: "y", series: [] }))).toBe(idOf(a));
    expect(idOf(lineChart({ title: "a", xLabel: "x", yLabel: "y", series: [], id: "fig-acc" }))).toBe("fig-acc-area");
    expect(() => lineChart({ title: "a", xLabel: "x", yLabel: "y", series: [], id: "1 bad" })).toThrow(/id must start with a letter/);
  });

  it("handles empty data and rejects mismatched lengths and bad domains", () => {
    expectWellFormedSvg(lineChart({ title: "empty", xLabel: "x", yLabel: "y", series: [] }));
    expect(() => lineChart({ title: "t", xLabel: "x", yLabel: "y", series: [{ name: "s", x: [1, 2], y: [1] }] })).toThrow(/"s" has 2 x values but 1 y values/);
    expect(() => lineChart({ title: "t", xLabel: "x", yLabel: "y", yDomain: [1, 1], series: [] })).toThrow(/low < high/);
  });

  it("escapes every text and attribute", () => {
    expect(escapeXml(`a<b>&"c'`)).toBe("a&lt;b&gt;&amp;&quot;c&#39;");
    const svg = lineChart({ title: "t", xLabel: "x", yLabel: "y", series: [{ name: 'say "hi" & <go>', x: [0, 1], y: [0, 1], color: 'red" onload="x' }] });
    expectWellFormedSvg(svg);
    expect(svg).not.toContain('onload="x"');
  });
});

describe("barChart", () => {
  it("writes one bar per group and series under the same head as lineChart, escaped and well formed", () => {
    const o = { title: "acc <%>", yLabel: "y", groups: ["batch 2", "batch 4", "batch 8"], series: [{ name: "BN", values: [48, 92, 96] }, { name: "LN & co", values: [93, 95.7, 96.5] }] };
    const svg = barChart(o);
    expectWellFormedSvg(svg);
    expect(svg.match(/class="bar"/g)?.length).toBe(6);
    expect(svg).toContain("<title>acc &lt;%&gt;</title>");
    expect(svg).toContain("LN &amp; co");
    const head = svgHead(760, 420, o.title).join("\n");
    expect(svg.startsWith(head)).toBe(true);
    expect(lineChart({ title: o.title, xLabel: "x", yLabel: "y", width: 760, height: 420, series: [{ name: "a", x: [0, 1], y: [0, 1] }] }).startsWith(head)).toBe(true);
  });
});
