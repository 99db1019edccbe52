// The fixed partitions the split ops use (src/threads/partition.ts): pieces that cover the
// range exactly, in whole units, as even as whole units allow, larger ones first.
import { describe, expect, it } from "vitest";
import { splitRange } from "../src/threads/partition.js";

describe("splitRange", () => {
  it("covers [0, total) with at most `parts` pieces of whole units, at most one unit apart in size, larger first", () => {
    for (const total of [1, 2, 3, 7, 8, 9, 60, 100, 101, 512, 1000]) {
      for (const parts of [1, 2, 3, 4, 8, 12]) {
        for (const unit of [1, 4, 8]) {
          const r = splitRange(total, parts, unit);
          const what = `total ${total}, parts ${parts}, unit ${unit}: ${JSON.stringify(r)}`;
          expect(r.length, what).toBeGreaterThan(0);
          expect(r.length, what).toBeLessThanOrEqual(Math.min(parts, Math.ceil(total / unit)));
          expect(r[0][0], what).toBe(0);
          expect(r[r.length - 1][1], what).toBe(total);
          const units = r.map(([s, e], i) => {
            expect(e, what).toBeGreaterThan(s);
            if (i > 0) expect(s, what).toBe(r[i - 1][1]);
            if (i < r.length - 1) expect((e - s) % unit, what).toBe(0);
            return Math.ceil((e - s) / unit);
          });
          expect(Math.max(...units) - Math.min(...units), what).toBeLessThanOrEqual(1);
          for (let i = 1; i < units.length; i++) expect(units[i], what).toBeLessThanOrEqual(units[i - 1]);
        }
      }
    }
  });

  it("splits the MNIST layer's 100 columns 56/44 in two and 40/32/28 in three (units of 8)", () => {
    expect(splitRange(100, 2, 8)).toEqual([[0, 56], [56, 100]]);
    expect(splitRange(100, 3, 8)).toEqual([[0, 40], [40, 72], [72, 100]]);
  });
});
