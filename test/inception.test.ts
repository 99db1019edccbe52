// inceptionCifar: the seed's network as the slides describe it (counts, keys, shapes, the
// same initial kernels with and without BN) and its options.
import { beforeAll, describe, expect, it } from "vitest";
import { BatchNorm2d, Concat, Conv2d, init, inceptionCifar, inceptionCifarCost, zeros } from "../src/index.js";

beforeAll(async () => {
  await init();
});

describe("inceptionCifar", () => {
  it("has the seed's size at full width: 5.82 M trainable parameters (5.83 M with Keras's moving statistics), 2.80 GFLOP per image", () => {
    const cost = inceptionCifarCost();
    const m = inceptionCifar();
    try {
      const params = m.parameters().reduce((a, p) => a + p.value.size, 0);
      expect(params).toBe(cost.parameters);
      expect(params).toBe(5_820_074);
      // Keras's model.summary() counts moving mean and variance too.
      const bnChannels = m.parameters().filter((p) => p.name === "bias" && p.value.shape.length === 1).length;
      expect(bnChannels).toBeGreaterThan(0);
      const moving = Object.entries(m.stateDict()).filter(([k]) => k.endsWith("running_mean")).reduce((a, [, v]) => a + v.length, 0);
      expect((params + 2 * moving) / 1e6).toBeCloseTo(5.83, 2);
      expect(cost.forwardFlopsPerImage / 1e9).toBeCloseTo(2.80, 2);
    } finally {
      m.dispose();
    }
  });

  it("nests state keys as PyTorch's Sequential of Concats of Sequentials; every conv has no bias with BN and a bias without", () => {
    const bn = inceptionCifar({ width: 0.125 });
    const plain = inceptionCifar({ width: 0.125, bn: false });
    try {
      const kb = Object.keys(bn.stateDict());
      expect(kb).toContain("0.0.0.weight"); // module 3a, branch 1x1, its conv
      expect(kb).toContain("0.0.1.running_mean");
      expect(kb).not.toContain("0.0.0.bias");
      expect(kb).not.toContain("0.0.1.weight"); // BN scale=False: no gamma
      expect(kb).toContain("0.3.1.weight"); // pool branch: MaxPool2d, then the 1x1 conv at index 1
      const kp = Object.keys(plain.stateDict());
      expect(kp).toContain("0.0.0.bias");
      expect(kp).toContain("0.1.2.weight"); // 1x1 reduce, ReLU, 3x3 conv at index 2
      expect(bn.layers[0]).toBeInstanceOf(Concat);
      const bnLayer = (bn.layers[0] as Concat).branches[0] as unknown as { layers: unknown[] };
      const b = bnLayer.layers[1] as BatchNorm2d;
      expect(b).toBeInstanceOf(BatchNorm2d);
      expect([b.momentum, b.eps, b.weight]).toEqual([0.01, 1e-3, null]);
    } finally {
      bn.dispose();
      plain.dispose();
    }
  });

  it("starts both variants from the same convolution kernels (Glorot uniform), zero biases", () => {
    const bn = inceptionCifar({ width: 0.125, seed: 5 });
    const plain = inceptionCifar({ width: 0.125, bn: false, seed: 5 });
    const other = inceptionCifar({ width: 0.125, seed: 6 });
    try {
      const convs = (m: typeof bn) => {
        const out: Conv2d[] = [];
        const walk = (x: unknown) => {
          if (x instanceof Conv2d) out.push(x);
          for (const k of ["layers", "branches"]) for (const c of ((x as Record<string, unknown[]>)[k] ?? [])) walk(c);
        };
        walk(m);
        return out;
      };
      const a = convs(bn), p = convs(plain), o = convs(other);
      expect(a.length).toBe(54); // 9 modules x 6 convolutions
      for (let i = 0; i < a.length; i++) {
        expect(a[i].weight.value.toArray()).toEqual(p[i].weight.value.toArray());
        expect(p[i].bias!.value.toArray().every((v) => v === 0)).toBe(true);
      }
      expect(a[0].weight.value.toArray()).not.toEqual(o[0].weight.value.toArray());
    } finally {
      bn.dispose();
      plain.dispose();
      other.dispose();
    }
  });

  it("maps [N, 32, 32, 3] (or [N, 3, 32, 32]) to logits [N, 10]; width scales every channel count", () => {
    for (const dataFormat of ["channelsLast", "channelsFirst"] as const) {
      const m = inceptionCifar({ width: 0.0625, dataFormat, dropout: 0.5 });
      const x = zeros(dataFormat === "channelsLast" ? [2, 32, 32, 3] : [2, 3, 32, 32]);
      try {
        expect(m.forward(x).shape).toEqual([2, 10]);
      } finally {
        m.dispose();
        x.dispose();
      }
    }
    expect(inceptionCifarCost({ width: 0.5 }).parameters).toBeLessThan(inceptionCifarCost().parameters / 3);
    expect(inceptionCifarCost({ width: 0.001 }).parameters).toBeGreaterThan(0); // every count rounds up to at least 1
  });

  it("rejects bad options, naming them", () => {
    expect(() => inceptionCifar({ width: 0 })).toThrow(/width must be a number > 0, got 0/);
    expect(() => inceptionCifar({ dropout: 1 })).toThrow(/dropout must be a number in \[0, 1\)/);
    expect(() => inceptionCifar({ dataFormat: "nhwc" as never })).toThrow(/dataFormat must be 'channelsLast' or 'channelsFirst'/);
    expect(() => inceptionCifar({ widht: 2 } as never)).toThrow(/did you mean "width"/);
  });
});
