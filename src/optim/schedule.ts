// Learning-rate schedules. Like PyTorch's lr_scheduler they wrap an optimizer, set its lr
// when made (epoch 0), and are stepped once per epoch: `sched.step()` after each epoch
// (fit() does it when given `scheduler`). Their state (epochs stepped, the base rate) is a
// small JSON object; the optimizer's own state dict carries its current lr.
import { checkOptions } from "../options.js";
import type { Optimizer } from "./sgd.js";

export interface Scheduler {
  step(): void;
  /** Epochs stepped so far (0 before the first step()). */
  readonly lastEpoch: number;
  getLastLr(): number;
  stateDict?(): SchedulerState;
  loadStateDict?(state: SchedulerState): void;
}

/** What a schedule saves: its class, the epochs stepped and the base rate (JSON-safe). */
export interface SchedulerState {
  name: string;
  lastEpoch: number;
  baseLr: number;
}

function checkOptimizer(name: string, opt: unknown): asserts opt is Optimizer {
  const o = opt as Partial<Optimizer> | null;
  if (o === null || typeof o !== "object" || typeof o.lr !== "number" || typeof o.step !== "function") {
    throw new Error(`${name}: expected an optimizer (SGD, Adam, ...) as the first argument, got ${opt === null ? "null" : typeof opt}`);
  }
}

abstract class EpochScheduler implements Scheduler {
  readonly optimizer: Optimizer;
  lastEpoch = 0;
  private _baseLr: number;
  private readonly name: string;

  constructor(name: string, optimizer: Optimizer) {
    checkOptimizer(name, optimizer);
    this.name = name;
    this.optimizer = optimizer;
    this._baseLr = optimizer.lr;
  }

  /** The optimizer's lr when the schedule was made (or the loaded state's). */
  get baseLr(): number {
    return this._baseLr;
  }

  stateDict(): SchedulerState {
    return { name: this.name, lastEpoch: this.lastEpoch, baseLr: this._baseLr };
  }

  /**
   * Takes the epoch count and base rate of stateDict(), checked first. Leaves the optimizer's
   * lr alone (as PyTorch): load the optimizer's state too, which holds the rate in use.
   */
  loadStateDict(state: SchedulerState): void {
    const where = `${this.name}.loadStateDict`;
    if (state === null || typeof state !== "object" || Array.isArray(state)) throw new Error(`${where}: expected { name, lastEpoch, baseLr } (stateDict() gives it), got ${state === null ? "null" : typeof state}`);
    for (const key of Object.keys(state)) {
      if (!["name", "lastEpoch", "baseLr"].includes(key)) throw new Error(`${where}: unexpected key "${key}" (expected name, lastEpoch, baseLr)`);
    }
    if (state.name !== this.name) throw new Error(`${where}: the state is a ${JSON.stringify(state.name)} schedule's, this is a ${this.name}`);
    const { lastEpoch, baseLr } = state;
    if (!Number.isSafeInteger(lastEpoch) || lastEpoch < 0) throw new Error(`${where}: lastEpoch must be a non-negative integer, got ${JSON.stringify(lastEpoch)}`);
    if (typeof baseLr !== "number" || !(baseLr >= 0) || !Number.isFinite(baseLr)) throw new Error(`${where}: baseLr must be a finite number >= 0, got ${JSON.stringify(baseLr)}`);
    this.lastEpoch = lastEpoch;
    this._baseLr = baseLr;
  }

  protected abstract lrAt(epoch: number): number;

  protected apply(): void {
    this.optimizer.lr = this.lrAt(this.lastEpoch);
  }

  step(): void {
    this.lastEpoch += 1;
    this.apply();
  }

  getLastLr(): number {
    return this.optimizer.lr;
  }
}

export interface StepLROptions {
  /** Epochs between decays. */
  stepSize: number;
  /** Factor of each decay. Default 0.1. */
  gamma?: number;
}

/** lr = baseLr * gamma^floor(epoch / stepSize) (torch.optim.lr_scheduler.StepLR). */
export class StepLR extends EpochScheduler {
  readonly stepSize: number;
  readonly gamma: number;

  constructor(optimizer: Optimizer, options: StepLROptions) {
    super("StepLR", optimizer);
    const { stepSize, gamma = 0.1 } = checkOptions("StepLR", options, ["stepSize", "gamma"]);
    if (!Number.isInteger(stepSize) || stepSize < 1) throw new Error(`StepLR: stepSize must be a positive integer, got ${stepSize}`);
    if (typeof gamma !== "number" || !(gamma >= 0) || !Number.isFinite(gamma)) throw new Error(`StepLR: gamma must be a finite number >= 0, got ${gamma}`);
    this.stepSize = stepSize;
    this.gamma = gamma;
  }

  protected lrAt(epoch: number): number {
    return this.baseLr * Math.pow(this.gamma, Math.floor(epoch / this.stepSize));
  }
}

/** lr = baseLr * lambda(epoch) (torch.optim.lr_scheduler.LambdaLR). */
export class LambdaLR extends EpochScheduler {
  private readonly fn: (epoch: number) => number;

  constructor(optimizer: Optimizer, lrLambda: (epoch: number) => number) {
    super("LambdaLR", optimizer);
    if (typeof lrLambda !== "function") throw new Error(`LambdaLR: expected a function epoch => factor, got ${typeof lrLambda}`);
    this.fn = lrLambda;
    this.apply();
  }

  protected lrAt(epoch: number): number {
    return this.baseLr * this.fn(epoch);
  }
}

/**
 * lr = schedule(epoch), an absolute rate (Keras' LearningRateScheduler), e.g. with
 * stepDecay(): `new LearningRateScheduler(opt, stepDecay({ lr0: 0.1, drop: 0.5, epochsDrop: 10 }))`.
 */
export class LearningRateScheduler extends EpochScheduler {
  private readonly fn: (epoch: number) => number;

  constructor(optimizer: Optimizer, schedule: (epoch: number) => number) {
    super("LearningRateScheduler", optimizer);
    if (typeof schedule !== "function") throw new Error(`LearningRateScheduler: expected a function epoch => lr, got ${typeof schedule}`);
    this.fn = schedule;
    this.apply();
  }

  protected lrAt(epoch: number): number {
    return this.fn(epoch);
  }
}

export interface StepDecayOptions {
  /** Initial rate. */
  lr0: number;
  /** Factor of each drop, e.g. 0.5. */
  drop: number;
  /** Epochs between drops, e.g. 10. */
  epochsDrop: number;
}

/**
 * The step decay of the common Keras CIFAR setups: epoch => lr0 * drop^floor((1 + epoch) / epochsDrop)
 * (epochs counted from 0). Use with LearningRateScheduler.
 */
export function stepDecay(options: StepDecayOptions): (epoch: number) => number {
  const { lr0, drop, epochsDrop } = checkOptions("stepDecay", options, ["lr0", "drop", "epochsDrop"]);
  if (typeof lr0 !== "number" || !(lr0 >= 0) || !Number.isFinite(lr0)) throw new Error(`stepDecay: lr0 must be a finite number >= 0, got ${lr0}`);
  if (typeof drop !== "number" || !(drop >= 0) || !Number.isFinite(drop)) throw new Error(`stepDecay: drop must be a finite number >= 0, got ${drop}`);
  if (typeof epochsDrop !== "number" || !(epochsDrop > 0)) throw new Error(`stepDecay: epochsDrop must be a number > 0, got ${epochsDrop}`);
  return (epoch: number) => lr0 * Math.pow(drop, Math.floor((1 + epoch) / epochsDrop));
}
