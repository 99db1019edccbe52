// The libraries we are compared with, found (or not) the same way in every suite:
//   - @tensorflow/tfjs on its wasm backend (SIMD, single-threaded in Node) and its cpu
//     backend (plain JavaScript; --no-tfjs-cpu leaves it out, it is slow), in production
//     mode (what a deployed app runs; not IS_TEST, which checks every kernel for leaks);
//   - PyTorch with one thread, run by a suite's Python script under Debian's /usr/bin/python3
//     (TORCH_PYTHON to use another) where `import torch, numpy` works; --no-torch leaves it out.
// A peer that is not there is listed in the results as skipped, with the reason, and the
// reason is printed: a missing column is never silent. tfjs is loaded only when a suite asks
// for it.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import type { Skipped } from "./check.js";

export type TfBackend = "wasm" | "cpu";

export interface TfInfo {
  backend: TfBackend;
  version: string;
  simd: boolean;
  threads: boolean;
}

export interface PeerOptions {
  noTfjsCpu: boolean;
  noTorch: boolean;
  log: (line: string) => void;
}

export class Peers {
  readonly skipped: Skipped[] = [];
  readonly tfjs: Partial<Record<TfBackend, TfInfo>> = {};
  /** The Python that imports torch, or why there is none. */
  private torchProbe?: { python: string } | { why: string };

  constructor(private readonly o: PeerOptions) {}

  /** A peer left out of the comparison, and why (printed and listed in the results). */
  skip(variant: string, reason: string): void {
    this.o.log(`note: ${variant} skipped: ${reason}`);
    this.skipped.push({ variant, reason });
  }

  /** Selects a tfjs backend; null (and a skip) when the run leaves it out. */
  async useTf(backend: TfBackend): Promise<TfInfo | null> {
    if (backend === "cpu" && this.o.noTfjsCpu) {
      if (!this.tfjs.cpu && !this.skipped.some((s) => s.variant === "tfjs-cpu")) this.skip("tfjs-cpu", "--no-tfjs-cpu");
      return null;
    }
    const tf = await import("@tensorflow/tfjs");
    await import("@tensorflow/tfjs-backend-wasm");
    tf.enableProdMode();
    const ok = await tf.setBackend(backend);
    await tf.ready();
    if (!ok || tf.getBackend() !== backend) throw new Error(`bench: could not select the tfjs '${backend}' backend`);
    const info: TfInfo = {
      backend,
      version: tf.version.tfjs,
      simd: backend === "wasm" && tf.env().getBool("WASM_HAS_SIMD_SUPPORT"),
      threads: backend === "wasm" && tf.env().getBool("WASM_HAS_MULTITHREAD_SUPPORT"),
    };
    if (!this.tfjs[backend]) {
      this.o.log(`tfjs ${info.version} ${backend} backend${backend === "wasm" ? `: simd=${info.simd} threads=${info.threads}` : ""}`);
      if (backend === "wasm" && !info.simd) this.o.log("warning: tfjs-wasm runs WITHOUT SIMD here");
    }
    this.tfjs[backend] = info;
    return info;
  }

  /** Live tfjs tensors (a timed function that changes this leaks). */
  async tfTensors(): Promise<number> {
    return (await import("@tensorflow/tfjs")).memory().numTensors;
  }

  /** The Python that runs PyTorch, or null (and a skip, once) when there is none. */
  torch(): string | null {
    if (!this.torchProbe) {
      const python = process.env.TORCH_PYTHON ?? "/usr/bin/python3";
      if (this.o.noTorch) this.torchProbe = { why: "--no-torch" };
      else if (!existsSync(python)) this.torchProbe = { why: `${python} not found` };
      else {
        try {
          execFileSync(python, ["-c", "import torch, numpy"], { stdio: ["ignore", "ignore", "pipe"], timeout: 60_000 });
          this.torchProbe = { python };
        } catch (e) {
          const err = String((e as { stderr?: Buffer }).stderr ?? e).trim().split("\n").pop();
          this.torchProbe = { why: `${python} cannot import torch (${err}); on Debian: apt-get install python3-torch libopenblas0-pthread` };
        }
      }
      if ("why" in this.torchProbe) this.skip("pytorch", this.torchProbe.why);
    }
    return "python" in this.torchProbe ? this.torchProbe.python : null;
  }

  /** Runs a suite's PyTorch script with its BLAS and OpenMP pools at `threads` (default 1) and parses the JSON it prints. */
  runTorch<T>(script: string, args: readonly string[], threads = 1): T {
    const python = this.torch();
    if (!python) throw new Error("bench: runTorch without PyTorch (check torch() first)");
    const n = String(threads);
    const env = { ...process.env, OMP_NUM_THREADS: n, OPENBLAS_NUM_THREADS: n, MKL_NUM_THREADS: n };
    const out = execFileSync(python, [script, ...args], { env, maxBuffer: 64 << 20, stdio: ["ignore", "pipe", "inherit"], timeout: 600_000 });
    return JSON.parse(out.toString()) as T;
  }

  /** What the results file says about the peers. */
  summary(): { tfjs: Partial<Record<TfBackend, TfInfo>>; pytorch: { python: string } | { skipped: string } | null } {
    const p = this.torchProbe;
    return { tfjs: this.tfjs, pytorch: p ? ("python" in p ? { python: p.python } : { skipped: p.why }) : null };
  }
}

/** A row-major [rows, cols] matrix as [cols, rows] (peers take other layouts than ours). */
export function transpose(a: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const t = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j];
  return t;
}
