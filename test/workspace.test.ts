// The workspace's planned arena: planLayout never lets two requests alive at the same time
// overlap and spans no more than needed on simple cases; a repeated sequence of requests is
// served from one arena without allocating, and a different one falls back to heap blocks
// without ever handing out memory still taken.
import { beforeAll, describe, expect, it } from "vitest";
import { backendInfo, getBackend, init } from "../src/backend.js";
import { type Interval, planLayout, Workspace } from "../src/workspace.js";
import { rng } from "./check.js";

function peakOf(reqs: readonly Interval[]): number {
  let peak = 0;
  const times = reqs.map((r) => r.start);
  for (const t of times) peak = Math.max(peak, reqs.filter((r) => r.start <= t && t < r.end).reduce((s, r) => s + Math.ceil(r.bytes / 16) * 16, 0));
  return peak;
}

/** Random well-nested request sequences: a stack of takes and releases, as layers make them. */
function randomSegment(seed: number, n: number): Interval[] {
  const r = rng(seed);
  const out: Interval[] = [];
  const open: number[] = [];
  let clock = 0;
  while (out.length < n || open.length > 0) {
    if (out.length < n && (open.length === 0 || r.uniform() < 0.55)) {
      open.push(out.length);
      out.push({ bytes: 4 * (1 + Math.floor(r.uniform() * 1000)), start: clock++, end: -1 });
    } else {
      const k = Math.floor(r.uniform() * open.length);
      out[open.splice(k, 1)[0]].end = clock++;
    }
  }
  return out;
}

describe("planLayout", () => {
  it("places requests alive at the same time apart, within the span, and spans at least the peak", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const reqs = randomSegment(seed, 60);
      const l = planLayout(reqs);
      expect(l.sizes).toEqual(reqs.map((q) => q.bytes));
      for (let i = 0; i < reqs.length; i++) {
        expect(l.offsets[i] % 16).toBe(0);
        expect(l.offsets[i] + reqs[i].bytes).toBeLessThanOrEqual(l.bytes);
        for (let j = 0; j < i; j++) {
          const live = reqs[i].start < reqs[j].end && reqs[j].start < reqs[i].end;
          const apart = l.offsets[i] + reqs[i].bytes <= l.offsets[j] || l.offsets[j] + reqs[j].bytes <= l.offsets[i];
          if (live) expect(apart, `seed ${seed}: requests ${i} and ${j}`).toBe(true);
        }
      }
      const peak = peakOf(reqs);
      expect(l.bytes).toBeGreaterThanOrEqual(peak);
      expect(l.bytes, `seed ${seed}`).toBeLessThanOrEqual(1.5 * peak);
    }
  });

  it("packs a chain of gradients (each alive with the next) into the two largest neighbours", () => {
    const sizes = [64, 160, 96, 320, 32];
    const reqs = sizes.map((bytes, i) => ({ bytes, start: i, end: i + 2 }));
    expect(planLayout(reqs).bytes).toBe(peakOf(reqs));
  });
});

describe("Workspace", () => {
  beforeAll(async () => {
    await init();
  });

  /** One "step": a forward-like then a backward-like segment; values written are checked on release. */
  function step(ws: Workspace, scale: number): void {
    const fill = (t: ReturnType<Workspace["acquire"]>, v: number) => t.data.fill(v);
    const check = (t: ReturnType<Workspace["acquire"]>, v: number) => expect(t.data.every((e) => e === v)).toBe(true);
    const a = ws.acquire([scale, 10]);
    fill(a, 1);
    const b = ws.acquire([scale, 30]);
    fill(b, 2);
    check(a, 1);
    ws.release(a);
    const c = ws.acquire([scale, 5]);
    fill(c, 3);
    check(b, 2);
    ws.release(b);
    ws.release(c);
    const d = ws.acquire([scale, 40]);
    const e = ws.acquire([scale, 20]);
    fill(d, 4);
    fill(e, 5);
    check(d, 4);
    ws.release(e);
    ws.release(d);
  }

  it("serves a repeated sequence from one arena: no heap allocation after the first time", () => {
    const ws = new Workspace(getBackend());
    step(ws, 8);
    const held = ws.bytes;
    const used = backendInfo().heapBytesInUse;
    for (let i = 0; i < 3; i++) step(ws, 8);
    expect(backendInfo().heapBytesInUse).toBe(used);
    expect(ws.bytes).toBe(held);
    // The span of the first segment (10 + 30 alive, then 30 + 5) and of the second (40 + 20).
    expect(held).toBe(60 * 8 * 4);
    ws.trim();
    expect(ws.bytes).toBe(0);
  });

  it("falls back to heap blocks for a new sequence, then grows the arena to hold every layout", () => {
    const ws = new Workspace(getBackend());
    step(ws, 2);
    expect(ws.bytes).toBe(60 * 2 * 4);
    step(ws, 8);
    expect(ws.bytes).toBe(60 * 8 * 4);
    const used = backendInfo().heapBytesInUse;
    step(ws, 2);
    step(ws, 8);
    expect(backendInfo().heapBytesInUse).toBe(used);
    ws.trim();
  });

  it("never hands out arena memory that is still taken when requests come in another order", () => {
    const ws = new Workspace(getBackend());
    step(ws, 4);
    // Same first sizes, then tensors kept longer than the layout planned.
    const a = ws.acquire([4, 10]);
    const b = ws.acquire([4, 30]);
    a.data.fill(1);
    b.data.fill(2);
    const c = ws.acquire([4, 5]);
    c.data.fill(3);
    expect(a.data.every((v) => v === 1)).toBe(true);
    expect(b.data.every((v) => v === 2)).toBe(true);
    for (const t of [a, b, c]) ws.release(t);
    expect(() => ws.release(a)).toThrow(/not yet released/);
    const d = ws.acquire([1]);
    expect(() => ws.trim()).toThrow(/still taken/);
    ws.release(d);
    ws.trim();
  });
});
