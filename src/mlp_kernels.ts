// Access to the MLP kernels (issue 3) of a loaded backend. The wasm build may predate
// them (Kernels marks them optional), so every layer asks here for the ones it calls and
// gets a clear error, at construction, naming what is missing.
import type { Backend } from "./backend.js";
import type { MlpKernels } from "./kernels.js";
import { Tensor } from "./tensor.js";

export type MlpKernelName = keyof MlpKernels;

export const MLP_KERNEL_NAMES: readonly MlpKernelName[] = [
  "gemm_nt",
  "gemm_nn",
  "gemm_tn_acc",
  "bias_backward_acc",
  "act_forward",
  "act_backward",
  "softmax_xent_forward",
  "softmax_xent_backward",
  "sgd_step",
  "adam_step",
  "mul",
];

/** Activation codes of act_forward / act_backward / gemm_nt. */
export const ACT = { none: 0, relu: 1, sigmoid: 2, tanh: 3 } as const;
export type ActName = Exclude<keyof typeof ACT, "none">;

const checked = new WeakMap<Backend, Set<MlpKernelName>>();

/**
 * The backend's kernels typed as MlpKernels, after checking that `needed` (default: all of
 * them) are exported by the loaded wasm module.
 */
export function mlp(backend: Backend, needed: readonly MlpKernelName[] = MLP_KERNEL_NAMES): MlpKernels {
  let ok = checked.get(backend);
  if (!ok) checked.set(backend, (ok = new Set()));
  const k = backend.kernels as unknown as Record<string, unknown>;
  const missing: string[] = [];
  for (const name of needed) {
    if (ok.has(name)) continue;
    if (typeof k[name] === "function") ok.add(name);
    else missing.push(name);
  }
  if (missing.length > 0) {
    throw new Error(
      `batchnorm-wasm: the loaded wasm module (${backend.build} build) lacks the kernel${missing.length > 1 ? "s" : ""} ${missing.join(", ")}; ` +
        "rebuild it with `npm run build:wasm`, or pass init({ wasm }) a build that exports them",
    );
  }
  return backend.kernels as unknown as MlpKernels;
}

let seedCounter = 0x5eed;

/**
 * Seeds the layers created afterwards without an explicit `seed` (Dense initialisation,
 * Dropout masks), like torch.manual_seed: the same calls after manualSeed(s) give the same
 * model. Without it, a process starts from a fixed seed, so runs repeat anyway.
 */
export function manualSeed(seed: number): void {
  if (!Number.isInteger(seed)) throw new Error(`manualSeed: seed must be an integer, got ${seed}`);
  seedCounter = seed >>> 0;
}

/** The seed of the next layer created without one (each call moves on, so layers differ). */
export function nextSeed(): number {
  const s = seedCounter;
  seedCounter = (seedCounter + 0x9e3779b9) >>> 0;
  return s;
}

/** An Int32Array over all of the backend's memory, re-created when memory grows (for int32 labels). */
const i32Views = new WeakMap<Backend, Int32Array>();
export function heapI32(backend: Backend): Int32Array {
  let v = i32Views.get(backend);
  if (!v || v.buffer !== backend.heap.memory.buffer) {
    v = new Int32Array(backend.heap.memory.buffer);
    i32Views.set(backend, v);
  }
  return v;
}

/**
 * The checks every MLP layer makes on a tensor argument. The error names `owner` (a layer,
 * through its toString(), built only on error) and `what` ("forward", "backward").
 */
export function checkTensorArg(t: unknown, backend: Backend, owner: string | object, what: string): asserts t is Tensor {
  if (t instanceof Tensor && t.backend === backend) {
    t.assertLive();
    return;
  }
  const where = `${String(owner)}.${what}`;
  if (!(t instanceof Tensor)) {
    const got = t === null ? "null" : Array.isArray(t) ? "an array" : typeof t === "object" ? ((t as object).constructor?.name ?? "an object") : typeof t;
    throw new Error(`${where}: expected a Tensor (see tensor()), got ${got}`);
  }
  throw new Error(`${where}: the tensor was created by another backend (init() was called again after this layer was made)`);
}
