// rows_fill (assembly/rows.ts) in every build and on a threaded build's shared memory: dense
// and strided slabs of the tail sizes and long runs (the memset path from 256 floats), zero,
// negative zero (its sign bit is kept: only +0 takes the memset path) and other values, with
// canaries around every slab; fillInto on a channel slice; Parameter.zeroGrad; zeros() and full().
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Backend, type BuildName, createBackend, getBackend, init, shutdown } from "../src/backend.js";
import { Parameter } from "../src/module.js";
import { fillInto } from "../src/ops/rows.js";
import { full, Tensor, zeros } from "../src/tensor.js";
import { BUILDS } from "./check.js";
import { TAIL_SIZES } from "./shapes.js";
import { expectCanaries, ptr, read, release, slab } from "./slices.js";

const backends = new Map<string, Backend>();
beforeAll(async () => {
  for (const build of BUILDS) backends.set(build, await createBackend({ build }));
  backends.set("simd, 2 threads", await createBackend({ build: "simd" as BuildName, threads: 2 }));
});
afterAll(() => {
  for (const b of backends.values()) b.shutdown();
});

const VALUES = [0, -0, 1.5, -3e-5, Infinity];
const sameBits = (a: number, b: number) => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));

describe("rows_fill", () => {
  for (const name of [...BUILDS, "simd, 2 threads"]) {
    it(`writes value over exactly the slab, ${name}`, () => {
      const b = backends.get(name)!;
      for (const cols of [...TAIL_SIZES, 255, 256, 257, 1029]) {
        for (const rows of [1, 3]) {
          for (const strided of [false, true]) {
            for (const value of VALUES) {
              const s = slab(b, rows, cols, strided, Array.from({ length: rows * cols }, (_, i) => i + 0.25));
              b.kernels.rows_fill(ptr(s), s.stride, rows, cols, value);
              const what = `${name}, ${rows}x${cols}${strided ? ` stride ${s.stride}` : ""}, value ${Object.is(value, -0) ? "-0" : value}`;
              const got = read(b, s);
              for (let i = 0; i < got.length; i++) if (!sameBits(got[i], Math.fround(value))) expect.fail(`${what}: element ${i} is ${got[i]}`);
              expectCanaries(b, s, what);
              release(b, s);
            }
          }
        }
      }
    });
  }

  it("NaN fills as NaN", () => {
    const b = backends.get("simd")!;
    const s = slab(b, 2, 9, true);
    b.kernels.rows_fill(ptr(s), s.stride, 2, 9, NaN);
    expect(Array.from(read(b, s)).every(Number.isNaN)).toBe(true);
    expectCanaries(b, s, "NaN");
    release(b, s);
  });
});

describe("fillInto, zeroGrad, zeros and full", () => {
  afterAll(() => shutdown());

  it("fillInto writes a channel slice and nothing beside it", () => {
    const b = backends.get("simd, 2 threads")!;
    const t = new Tensor(b, [3, 5, 4]);
    t.data.fill(7);
    fillInto(t.narrow(2, 1, 2), 0);
    const d = t.data;
    for (let i = 0; i < d.length; i++) expect(d[i], `element ${i}`).toBe(i % 4 === 1 || i % 4 === 2 ? 0 : 7);
    t.dispose();
  });

  for (const threads of [1, 2]) {
    it(`zeroGrad, zeros() and full() on ${threads} thread(s)`, async () => {
      await init({ threads, build: "simd" });
      const b = getBackend();
      expect(b.pool ? 2 : 1).toBe(threads);
      const g = new Tensor(b, [300, 7]);
      g.data.fill(-2.5);
      const p = new Parameter("w", new Tensor(b, [300, 7]), g);
      p.zeroGrad();
      expect(g.data.every((v) => Object.is(v, 0))).toBe(true);
      // Fresh heap memory may hold old values: zeros() and full() must write every element.
      const junk = new Tensor(b, [1000]);
      junk.data.fill(9);
      junk.dispose();
      const z = zeros([10, 100]), f = full([1000], -1.25);
      expect(z.data.every((v) => Object.is(v, 0))).toBe(true);
      expect(f.data.every((v) => v === -1.25)).toBe(true);
      for (const t of [p.value, g, z, f]) t.dispose();
      // A disposed gradient's memory may belong to another tensor by now: never written.
      const other = new Tensor(b, [300, 7]);
      other.data.fill(3);
      expect(() => p.zeroGrad()).toThrow(/disposed|released/);
      expect(other.data.every((v) => v === 3)).toBe(true);
      other.dispose();
    });
  }
});
