// Numerical robustness: statistics of data far from zero (1e4 + N(0, 1), 1e6 values per
// channel) where E[x^2] - E[x]^2 in float32 would lose every digit, and a constant channel.
import { beforeAll, describe, expect, it } from "vitest";
import { init } from "../src/backend.js";
import { BatchNorm2d } from "../src/layers/batchnorm.js";
import { tensor } from "../src/tensor.js";
import { BUILDS, rng } from "./check.js";
import { channelIndex, refStats } from "./reference/bn.js";

const M = 1_000_000;

for (const build of BUILDS) {
  describe(`${build} build`, () => {
    beforeAll(async () => {
      await init({ build });
    });

    for (const [shape, fmt] of [
      [[10, 2, 100, 1000], "channelsFirst"],
      [[1000, 1000, 1, 4], "channelsLast"],
      [[1000, 1000, 1, 3], "channelsLast"],
    ] as const) {
      it(`1e4 + N(0, 1), ${M} values per channel, ${fmt} ${JSON.stringify(shape)}`, () => {
        const n = (shape as readonly number[]).reduce((a, b) => a * b, 1);
        const xs = rng(9).array(n, 1, 1e4);
        const bn = new BatchNorm2d(fmt === "channelsLast" ? shape[3] : shape[1], { dataFormat: fmt });
        const x = tensor(xs, [...shape]);
        const y = bn.forward(x).toArray();
        const want = refStats(xs, shape, fmt);
        const got = bn.lastBatchStats();
        for (let c = 0; c < want.var.length; c++) {
          expect(Math.abs(got.var[c] - want.var[c]) / want.var[c], `var relative error, channel ${c}`).toBeLessThanOrEqual(1e-3);
          expect(Math.abs(got.mean[c] - want.mean[c]), `mean, channel ${c}`).toBeLessThanOrEqual(1e-3);
        }
        const out = refStats(y, shape, fmt);
        for (let c = 0; c < out.var.length; c++) {
          expect(Math.abs(out.mean[c]), `output mean, channel ${c}`).toBeLessThanOrEqual(1e-3);
          expect(Math.abs(out.var[c] - 1), `output variance, channel ${c}`).toBeLessThanOrEqual(1e-3);
        }
        x.dispose();
        bn.dispose();
      });
    }

    it("a constant channel of 1e7 gives exactly beta, in both layouts", () => {
      for (const fmt of ["channelsFirst", "channelsLast"] as const) {
        const shape = fmt === "channelsFirst" ? [8, 3, 9, 17] : [8, 9, 17, 3];
        const n = shape.reduce((a, b) => a * b, 1);
        const { of } = channelIndex(shape, fmt);
        const xs = Float32Array.from({ length: n }, (_, i) => (of(i) === 1 ? 1e7 : i % 13));
        const bn = new BatchNorm2d(3, { dataFormat: fmt });
        bn.bias!.value.data.set([0.5, -1.25, 2]);
        bn.weight!.value.data.set([3, 7, 11]);
        const y = bn.forward(tensor(xs, shape)).toArray();
        for (let i = 0; i < n; i++) if (of(i) === 1) expect(y[i]).toBe(-1.25);
        expect(bn.lastBatchStats().mean[1]).toBe(1e7);
        expect(bn.lastBatchStats().var[1]).toBe(0);
      }
    });
  });
}
