// The benchmark harness every suite imports. A suite is one file, bench/<name>.bench.ts,
// that `npm run bench -- <name>` finds by its name; it holds only its cases, its float64
// reference and its peers. The harness does the rest, the same way for every suite:
//   check.ts    the reference check: our kernel must agree or the run stops (REFUSING, exit 2);
//               a peer that disagrees is listed as skipped and not timed
//   timing.ts   tinybench runs with warm-up, wall and CPU clocks, interleaved rounds, medians, ratio
//   roofline.ts the f32x4 memory floors and multiply-add peak, timed in the same run
//   peers.ts    tfjs (wasm, cpu) and PyTorch: found or skipped with the reason printed
//   report.ts   markdown tables, number formats, bench/results/<name>.json
//   suite.ts    the command line (--quick, --only, --no-tfjs-cpu, --no-torch, the suite's own flags)
//
// A new suite, e.g. bench/relu.bench.ts (npm run bench -- relu):
//
//   import { getBackend } from "../src/backend.js";
//   import { init } from "../src/index.js";
//   import { refRelu } from "../test/reference_relu.js";
//   import { rng, runSuite, table, fmtMs, timeGroup } from "./harness/index.js";
//
//   await runSuite({
//     name: "relu", title: "relu bench", results: "relu",
//     reference: "test/reference_relu.ts", fix: "npx vitest run test/relu.test.ts",
//     async run(ctx) {
//       await init({ build: "simd" });
//       const be = getBackend(), k = be.kernels, n = 1 << 20;
//       const x = rng(1).array(n), px = be.heap.alloc(4 * n), py = be.heap.alloc(4 * n);
//       be.heap.f32.set(x, px >> 2);
//       const fn = () => k.relu_forward(py, px, n);
//       fn();
//       ctx.check.require("wasm-simd", "1M", "y", be.heap.f32.subarray(py >> 2, (py >> 2) + n), refRelu(x), 1e-6);
//       const budget = { time: ctx.quick ? 150 : 500, warmupTime: 100, iterations: 10, warmupIterations: 3 };
//       const t = await timeGroup([{ name: "wasm-simd", fn }], { budget, minSampleMs: 0.5 });
//       ctx.log(table(["variant", "median ms"], [["wasm-simd", fmtMs(t.get("wasm-simd")!.ms)]]));
//       return { timings: Object.fromEntries(t) };
//     },
//   });
//
// Peers: `await ctx.peers.useTf("wasm")` selects tfjs's backend (null when left out);
// `ctx.peers.torch()` says whether PyTorch runs here and `ctx.peers.runTorch(script, args)`
// runs a Python script on one thread (time it as an `external` task of timeGroup, so that its
// rounds interleave with ours). Floors and peak: roofline.ts's floorsFor(memory) and
// peakTasks(), timed in the same timeGroup as the kernels they bound.
export { Checker, Refusal, relErr, type Skipped } from "./check.js";
export { type Buffer, checkFloors, type Floors, floorsFor, floorTasks, gflops, peakOf, type PeakTask, peakTasks } from "./roofline.js";
export { type Budget, type Clock, type ExternalSamples, keep, median, msOf, ratio, type Sample, sink, type Task, timed, timeGroup, type Timing } from "./timing.js";
export { Peers, type TfBackend, type TfInfo, transpose } from "./peers.js";
export { fmt, fmtLoad, fmtMs, fmtX, machine, table, writeResults } from "./report.js";
export { type Context, runSuite, type SuiteDef } from "./suite.js";
export { rng } from "../../test/check.js";
