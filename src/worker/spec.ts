// Models and optimizers described as plain data, so that a page can hand them to a Web Worker
// (class instances do not survive postMessage): a layer is its class name and its
// constructor's arguments, exactly as they would be written in code, so
// { layer: "Dense", args: [784, 100, { init: { normal: 0.1 }, seed: 1 }] } is
// new Dense(784, 100, { init: { normal: 0.1 }, seed: 1 }). The constructors check the
// arguments. Models that need containers or custom layers come from a module instead
// (TrainInWorkerOptions.model = { module }).
import { ReLU, Sigmoid, Tanh } from "../layers/activations.js";
import { BatchNorm1d, BatchNorm2d } from "../layers/batchnorm.js";
import { Conv2d } from "../layers/conv2d.js";
import { Dense } from "../layers/dense.js";
import { Dropout } from "../layers/dropout.js";
import { Flatten } from "../layers/flatten.js";
import { AvgPool2d, GlobalAvgPool2d, MaxPool2d } from "../layers/pool.js";
import { Sequential } from "../layers/sequential.js";
import type { Module } from "../module.js";
import { Adam, AdamW } from "../optim/adam.js";
import { type Optimizer, SGD } from "../optim/sgd.js";
import type { Parameter } from "../module.js";
import { describe } from "../options.js";

type Ctor = new (...args: never[]) => Module;

const LAYERS: Record<string, Ctor> = {
  Dense, BatchNorm1d, BatchNorm2d, Conv2d, Sigmoid, ReLU, Tanh, Dropout, Flatten, MaxPool2d, AvgPool2d, GlobalAvgPool2d,
};

/** One layer of a Sequential: its class name and constructor arguments (structured-cloneable values). */
export interface LayerSpec {
  layer: "Dense" | "BatchNorm1d" | "BatchNorm2d" | "Conv2d" | "Sigmoid" | "ReLU" | "Tanh" | "Dropout" | "Flatten" | "MaxPool2d" | "AvgPool2d" | "GlobalAvgPool2d";
  args?: unknown[];
}

/** An optimizer: its class name and its options, with the same names as in code. */
export type OptimizerSpec =
  | ({ name: "SGD" } & ConstructorParameters<typeof SGD>[1])
  | ({ name: "Adam" } & NonNullable<ConstructorParameters<typeof Adam>[1]>)
  | ({ name: "AdamW" } & NonNullable<ConstructorParameters<typeof AdamW>[1]>);

/** new Sequential([...]) from layer specs. */
export function buildModel(layers: readonly LayerSpec[]): Sequential {
  if (!Array.isArray(layers) || layers.length === 0) throw new Error(`buildModel: expected a non-empty array of { layer, args }, got ${describe(layers)}`);
  const built: Module[] = [];
  try {
    layers.forEach((s, i) => {
      const C = s && typeof s === "object" && Object.hasOwn(LAYERS, s.layer) ? LAYERS[s.layer] : undefined;
      if (!C) throw new Error(`buildModel: layer ${i}: expected { layer: ${Object.keys(LAYERS).join(" | ")}, args: [...] }, got ${describe(s)}`);
      if (s.args !== undefined && !Array.isArray(s.args)) throw new Error(`buildModel: layer ${i} (${s.layer}): args must be an array of constructor arguments, got ${describe(s.args)}`);
      built.push(new C!(...((s.args ?? []) as never[])));
    });
    return new Sequential(built);
  } catch (e) {
    for (const m of built) m.dispose?.();
    throw e;
  }
}

/** The optimizer a spec names, over `params`. */
export function buildOptimizer(params: Iterable<Parameter>, spec: OptimizerSpec): Optimizer {
  if (!spec || typeof spec !== "object") throw new Error(`optimizer: expected { name: 'SGD' | 'Adam' | 'AdamW', ...options }, got ${describe(spec)}`);
  const { name, ...options } = spec;
  if (name === "SGD") return new SGD(params, options as ConstructorParameters<typeof SGD>[1]);
  if (name === "Adam") return new Adam(params, options);
  if (name === "AdamW") return new AdamW(params, options);
  throw new Error(`optimizer: name must be 'SGD', 'Adam' or 'AdamW', got ${describe(name)}`);
}
