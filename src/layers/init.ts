// Weight initialisation shared by Dense and Conv2d: the fan-in is in_features for Dense and
// in_channels * kh * kw for Conv2d (PyTorch's _calculate_fan_in_and_fan_out).
import type { Rng } from "../random.js";

/**
 * Weight initialisation:
 * - 'torch' (default): PyTorch's nn.Linear / nn.Conv2d, weight and bias ~ U(-1/sqrt(fanIn), 1/sqrt(fanIn));
 * - 'glorotUniform': Keras' default, weight ~ U(-l, l), l = sqrt(6 / (in + out)), bias 0;
 * - 'heNormal': weight ~ N(0, 2 / in) (PyTorch's kaiming_normal_), bias 0;
 * - { normal: std }: weight ~ N(0, std^2), bias 0 (Ioffe & Szegedy's "small random Gaussian").
 */
export type WeightInit = "torch" | "glorotUniform" | "heNormal" | { normal: number };

export function checkInit(where: string, init: unknown): asserts init is WeightInit {
  if (init === "torch" || init === "glorotUniform" || init === "heNormal") return;
  if (init !== null && typeof init === "object" && "normal" in init) {
    const std = (init as { normal: unknown }).normal;
    if (typeof std === "number" && std >= 0 && Number.isFinite(std)) return;
    throw new Error(`${where}: init { normal: std } needs a finite std >= 0, got ${String(std)}`);
  }
  throw new Error(`${where}: init must be 'torch', 'glorotUniform', 'heNormal' or { normal: std }, got ${JSON.stringify(init)}`);
}

export function initialise(w: Float32Array, b: Float32Array | null, fanIn: number, fanOut: number, init: WeightInit, rng: Rng): void {
  const uniform = (a: Float32Array, bound: number) => {
    for (let i = 0; i < a.length; i++) a[i] = (2 * rng.uniform() - 1) * bound;
  };
  if (init === "torch") {
    // kaiming_uniform_(a=sqrt(5)) gives bound sqrt(6 / ((1 + 5) fanIn)) = 1 / sqrt(fanIn).
    const bound = 1 / Math.sqrt(fanIn);
    uniform(w, bound);
    if (b) uniform(b, bound);
    return;
  }
  if (init === "glorotUniform") uniform(w, Math.sqrt(6 / (fanIn + fanOut)));
  else {
    const std = init === "heNormal" ? Math.sqrt(2 / fanIn) : init.normal;
    for (let i = 0; i < w.length; i++) w[i] = std * rng.normal();
  }
  b?.fill(0);
}

/** Dense's name for the initialisations (the same set). */
export type DenseInit = WeightInit;
