// The LayerNorm and GroupNorm kernels (InstanceNorm is GroupNorm with G = C) against their
// float64 references over the shape sweep of test/shapes.ts (C and D over the f32x4 tails,
// batch 1 included, both layouts, [N, C] input) and long blocks, in every build; then the
// SIMD and scalar builds against each other.
import { beforeAll, describe, expect, it } from "vitest";
import { createBackend, init } from "../src/backend.js";
import { groupLayout, groupNormBackward, groupNormForward, layerNormBackward, layerNormForward, type NormStats, normScratchBytes } from "../src/ops/norm.js";
import { getBackend } from "../src/backend.js";
import { type Tensor, tensor, zeros } from "../src/tensor.js";
import { BUILDS, expectClose, relErr, rng } from "./check.js";
import { groupIndex, refGroupNormBackward, refGroupNormForward } from "./reference/group_norm.js";
import { refLayerNormBackward, refLayerNormForward } from "./reference/layer_norm.js";
import { groupNormCases, layerNormCases, NORM_LONG_CASES, type NormCase } from "./shapes.js";

const TOL = 1e-5;

function stats(K: number, withVar: boolean): NormStats {
  return { mean: zeros([K]), var: withVar ? zeros([K]) : null, invStd: zeros([K]) };
}

function scratch(C: number): Tensor {
  return zeros([Math.ceil(normScratchBytes(getBackend(), C) / 4)]);
}

/** Inputs with an offset per sample larger than the spread (the statistics must not cancel). */
function data(n: number, C: number, seed: number) {
  const r = rng(seed);
  return { x: r.array(n, 2, 3), dy: r.array(n), gamma: r.array(C, 0.5, 1), beta: r.array(C) };
}

/** dx relative to the size of its terms (|gamma * invStd * dy|); sums relative to the sum of |terms|. */
function scales(dy: Float32Array, x: Float32Array, gammaOf: (i: number) => number, isOf: (i: number) => number, meanOf: (i: number) => number, colOf: (i: number) => number, cols: number) {
  let dxs = 0;
  const sdy = new Float64Array(cols), sdyx = new Float64Array(cols);
  for (let i = 0; i < dy.length; i++) {
    dxs = Math.max(dxs, Math.abs(gammaOf(i) * isOf(i) * dy[i]));
    sdy[colOf(i)] += Math.abs(dy[i]);
    sdyx[colOf(i)] += Math.abs(dy[i] * (x[i] - meanOf(i)) * isOf(i));
  }
  // A group of one value has xhat = 0 everywhere: floor the scales so 0 compares with 0.
  return { dx: Math.max(dxs, 1e-6), dbeta: Math.max(...sdy, 1e-6), dgamma: Math.max(...sdyx, 1e-6) };
}

function checkLayer(rows: number, D: number, seed: number) {
  const { x, dy, gamma, beta } = data(rows * D, D, seed);
  const label = `LayerNorm [${rows}, ${D}]`;
  const [tx, tdy, tg, tb, ty, tdx, tdg, tdb] = [tensor(x, [rows, D]), tensor(dy, [rows, D]), tensor(gamma, [D]), tensor(beta, [D]), zeros([rows, D]), zeros([rows, D]), zeros([D]), zeros([D])];
  const st = stats(rows, false), s = scratch(D);
  layerNormForward(ty, st, tx, tg, tb, 1e-5, rows, D);
  const want = refLayerNormForward(x, D, { gamma, beta });
  expectClose(ty.toArray(), want.y, TOL, `${label} y`);
  expectClose(st.mean.toArray(), want.mean, TOL, `${label} mean`, 1);
  expectClose(st.invStd.toArray(), want.invStd, TOL, `${label} invStd`);
  tdg.data.fill(0.25);
  layerNormBackward(tdx, tdg, tdb, tdy, tx, st, tg, rows, D, s);
  const wb = refLayerNormBackward(dy, x, D, { gamma, beta });
  const sc = scales(dy, x, (i) => gamma[i % D], (i) => want.invStd[Math.floor(i / D)], (i) => want.mean[Math.floor(i / D)], (i) => i % D, D);
  expectClose(tdx.toArray(), wb.dx, TOL, `${label} dx`, sc.dx);
  expectClose(tdg.toArray(), wb.dgamma.map((v) => v + 0.25), TOL, `${label} dgamma (accumulated onto 0.25)`, sc.dgamma);
  expectClose(tdb.toArray(), wb.dbeta, TOL, `${label} dbeta`, sc.dbeta);
  // Without parameter gradients: the same dx.
  const dx2 = zeros([rows, D]);
  layerNormBackward(dx2, null, null, tdy, tx, st, tg, rows, D, s);
  expect(dx2.toArray()).toEqual(tdx.toArray());
  for (const t of [tx, tdy, tg, tb, ty, tdx, tdg, tdb, st.mean, st.invStd, s, dx2]) t.dispose();
}

function checkGroup(c: NormCase, seed: number) {
  const ix = groupIndex(c.shape, c.dataFormat, c.G);
  const n = c.shape.reduce((a, b) => a * b, 1);
  const { x, dy, gamma, beta } = data(n, ix.C, seed);
  const label = `GroupNorm G=${c.G} ${c.dataFormat} ${JSON.stringify(c.shape)}`;
  const L = groupLayout(c.shape, c.dataFormat, c.G);
  const [tx, tdy, tg, tb, ty, tdx, tdg, tdb] = [tensor(x, c.shape), tensor(dy, c.shape), tensor(gamma, [ix.C]), tensor(beta, [ix.C]), zeros(c.shape), zeros(c.shape), zeros([ix.C]), zeros([ix.C])];
  const K = ix.N * c.G;
  const st = stats(K, true), s = scratch(ix.C);
  groupNormForward(ty, st, tx, tg, tb, 1e-5, L, s);
  const o = { G: c.G, dataFormat: c.dataFormat, gamma, beta };
  const want = refGroupNormForward(x, c.shape, o);
  expectClose(ty.toArray(), want.y, TOL, `${label} y`);
  expectClose(st.mean.toArray(), want.mean, TOL, `${label} mean`, 1);
  expectClose(st.var!.toArray(), want.var, TOL, `${label} var`);
  expectClose(st.invStd.toArray(), want.invStd, TOL, `${label} invStd`);
  groupNormBackward(tdx, tdg, tdb, tdy, tx, st, tg, L, s);
  const wb = refGroupNormBackward(dy, x, c.shape, o);
  const sc = scales(dy, x, (i) => gamma[ix.chan(i)], (i) => want.invStd[ix.slot(i)], (i) => want.mean[ix.slot(i)], ix.chan, ix.C);
  expectClose(tdx.toArray(), wb.dx, TOL, `${label} dx`, sc.dx);
  expectClose(tdg.toArray(), wb.dgamma, TOL, `${label} dgamma`, sc.dgamma);
  expectClose(tdb.toArray(), wb.dbeta, TOL, `${label} dbeta`, sc.dbeta);
  for (const t of [tx, tdy, tg, tb, ty, tdx, tdg, tdb, st.mean, st.var!, st.invStd, s]) t.dispose();
}

for (const build of BUILDS) {
  describe(`${build} build: norm kernels against the float64 references`, () => {
    beforeAll(async () => {
      const info = await init({ build });
      expect(info.build).toBe(build);
    });

    it(`LayerNorm: D in {1..9, 13, 17, 100, 1030}, rows in {1, 2, 3, 60, 300, 520} (${layerNormCases().length} shapes)`, () => {
      layerNormCases().forEach((c, i) => checkLayer(c.rows, c.D, 300 + i));
    });

    it(`GroupNorm / InstanceNorm: C in {1..9, 13, 17}, G in {1, a divisor, C}, H*W over the tails, N in {1, 2, 3}, both layouts and [N, C] (${groupNormCases().length} shapes)`, () => {
      groupNormCases().forEach((c, i) => checkGroup(c, 2000 + i));
    });

    it("GroupNorm: long blocks and real shapes (the MNIST MLP's [60, 100])", () => {
      NORM_LONG_CASES.forEach((c, i) => checkGroup(c, 90 + i));
    });

    it("statistics stay accurate for values near 1e4 (no E[x^2] - E[x]^2 cancellation)", () => {
      const r = rng(17);
      for (const c of [{ shape: [2, 5000], dataFormat: "channelsFirst", G: 1 }, { shape: [1, 3000, 4], dataFormat: "channelsLast", G: 2 }, { shape: [1, 4, 3000], dataFormat: "channelsFirst", G: 4 }] as NormCase[]) {
        const n = c.shape.reduce((a, b) => a * b, 1), C = groupIndex(c.shape, c.dataFormat, c.G).C;
        const x = r.array(n, 1, 1e4);
        const st = stats(c.shape[0] * c.G, true);
        const [tx, ty, tg, tb, s] = [tensor(x, c.shape), zeros(c.shape), tensor(new Float32Array(C).fill(1), [C]), zeros([C]), scratch(C)];
        groupNormForward(ty, st, tx, tg, tb, 1e-5, groupLayout(c.shape, c.dataFormat, c.G), s);
        const want = refGroupNormForward(x, c.shape, { G: c.G, dataFormat: c.dataFormat });
        expectClose(st.var!.toArray(), want.var, 1e-4, `${c.dataFormat} ${JSON.stringify(c.shape)} var`);
        expectClose(ty.toArray(), want.y, 1e-3, `${c.dataFormat} ${JSON.stringify(c.shape)} y`);
        for (const t of [tx, ty, tg, tb, s, st.mean, st.var!, st.invStd]) t.dispose();
      }
    });
  });
}

describe("SIMD and scalar builds agree on the norm kernels", () => {
  it("LayerNorm: same inputs, raw pointers", async () => {
    const builds = await Promise.all([createBackend({ build: "simd" }), createBackend({ build: "scalar" })]);
    for (const { rows, D } of layerNormCases().filter((_, i) => i % 3 === 0)) {
      const { x, dy, gamma, beta } = data(rows * D, D, 8);
      const outs = builds.map((b) => {
        const k = b.kernels, h = b.heap;
        const p = (src: Float32Array) => {
          const q = h.alloc(src.length * 4);
          h.f32.set(src, q >> 2);
          return q;
        };
        const n = rows * D;
        const px = p(x), pdy = p(dy), pg = p(gamma), pb = p(beta), py = p(new Float32Array(n)), pm = p(new Float32Array(rows)), pi = p(new Float32Array(rows));
        const pdx = p(new Float32Array(n)), pdg = p(new Float32Array(D)), pdb = p(new Float32Array(D)), s = h.alloc(k.norm_scratch_bytes(D));
        k.layer_norm_forward(py, pm, pi, px, pg, pb, 1e-5, rows, D);
        k.layer_norm_backward(pdx, pdg, pdb, pdy, px, pm, pi, pg, rows, D, s);
        const get = (q: number, len: number) => h.f32.slice(q >> 2, (q >> 2) + len);
        return { y: get(py, n), dx: get(pdx, n), dg: get(pdg, D), db: get(pdb, D) };
      });
      const label = `LayerNorm [${rows}, ${D}]`;
      for (const key of ["y", "dx", "dg", "db"] as const) expect(relErr(outs[0][key], outs[1][key], 1), `${label} ${key}`).toBeLessThanOrEqual(1e-5);
    }
  });

  it("GroupNorm: same inputs, raw pointers", async () => {
    const builds = await Promise.all([createBackend({ build: "simd" }), createBackend({ build: "scalar" })]);
    for (const c of [...groupNormCases().filter((_, i) => i % 11 === 0), ...NORM_LONG_CASES]) {
      const ix = groupIndex(c.shape, c.dataFormat, c.G);
      const n = x0(c).length;
      const { x, dy, gamma, beta } = data(n, ix.C, 5);
      const outs = builds.map((b) => {
        const k = b.kernels, h = b.heap;
        const p = (src: Float32Array | number) => {
          const len = typeof src === "number" ? src : src.length;
          const q = h.alloc(len * 4);
          if (typeof src !== "number") h.f32.set(src, q >> 2);
          else h.f32.fill(0, q >> 2, (q >> 2) + len);
          return q;
        };
        const K = ix.N * c.G;
        const px = p(x), pdy = p(dy), pg = p(gamma), pb = p(beta), py = p(n), pm = p(K), pv = p(K), pi = p(K), pdx = p(n), pdg = p(ix.C), pdb = p(ix.C);
        const s = h.alloc(k.norm_scratch_bytes(ix.C));
        if (c.dataFormat === "channelsLast") {
          k.group_norm_forward_nhwc(py, pm, pv, pi, px, pg, pb, 1e-5, ix.N, ix.HW, ix.C, c.G, s);
          k.group_norm_backward_nhwc(pdx, pdg, pdb, pdy, px, pm, pi, pg, ix.N, ix.HW, ix.C, c.G, s);
        } else {
          k.group_norm_forward_nchw(py, pm, pv, pi, px, pg, pb, 1e-5, ix.N, ix.C, ix.HW, c.G);
          k.group_norm_backward_nchw(pdx, pdg, pdb, pdy, px, pm, pi, pg, ix.N, ix.C, ix.HW, c.G, s);
        }
        const get = (q: number, len: number) => h.f32.slice(q >> 2, (q >> 2) + len);
        return { y: get(py, n), dx: get(pdx, n), dg: get(pdg, ix.C), db: get(pdb, ix.C) };
      });
      const label = `G=${c.G} ${c.dataFormat} ${JSON.stringify(c.shape)}`;
      expect(relErr(outs[0].y, outs[1].y), `${label} y`).toBeLessThanOrEqual(1e-5);
      expect(relErr(outs[0].db, outs[1].db, 1), `${label} dbeta`).toBeLessThanOrEqual(1e-5);
      expect(relErr(outs[0].dg, outs[1].dg, 1), `${label} dgamma`).toBeLessThanOrEqual(1e-5);
      expect(relErr(outs[0].dx, outs[1].dx, 1), `${label} dx`).toBeLessThanOrEqual(1e-5);
    }
  });
});

function x0(c: NormCase): Float32Array {
  return new Float32Array(c.shape.reduce((a, b) => a * b, 1));
}
