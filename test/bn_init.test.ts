// Before init(): every entry point says to call init() (this file never calls it).
import { describe, expect, it } from "vitest";
import { backendInfo } from "../src/backend.js";
import { BatchNorm1d, BatchNorm2d } from "../src/layers/batchnorm.js";
import { batchNormTrain } from "../src/functional.js";
import { tensor, zeros } from "../src/tensor.js";

describe("calls before the wasm is loaded", () => {
  it("throw a clear error naming init()", () => {
    const msg = "batchnorm-wasm: the WebAssembly kernels are not loaded; call `await init()` first";
    expect(() => tensor([1, 2], [2])).toThrow(msg);
    expect(() => zeros([2])).toThrow(msg);
    expect(() => new BatchNorm2d(3)).toThrow(msg);
    expect(() => new BatchNorm1d(3)).toThrow(msg);
    expect(() => batchNormTrain(new Float32Array(4), [2, 2])).toThrow(msg);
    expect(() => backendInfo()).toThrow(msg);
  });
});
