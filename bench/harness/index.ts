// The benchmark harness every suite imports. A suite is one file, bench/<name>.bench.ts,
// that `npm run bench -- <name>` finds by its name; it holds only its cases, its float64
// reference and its peers. The harness does the rest, the same way for every suite:
//   check.ts    the reference check: our kernel must agree or the run stops (REFUSING, exit 2);
//               a peer that disagrees is listed as skipped and not timed
//   timing.ts   tinybench runs with warm-up, wall and CPU clocks, interleaved rounds, medians, ratio
//   roofline.ts the f32x4 memory floors and multiply-add peak, timed in the same run
//   peers.ts    tfjs (wasm, cpu) and PyTorch: found or skipped with the reason printed
//   memory.ts   arrays in a backend's wasm memory, for kernels called on pointers
//   report.ts   markdown tables, number formats, bench/results/<name>.json
//   suite.ts    the command line (--quick, --only, --no-tfjs-cpu, --no-torch, the suite's own flags)
//
// Adding a suite (conv, pooling, CIFAR, threads, norms, ...) is one short file: bench/README.md
// shows a whole one. Budgets, cases, tolerances and tables are the suite's; the rest is here.
export { Checker, Refusal, relErr, type Skipped } from "./check.js";
export { threadedFloors, type ThreadedFloors } from "./floors_threads.js";
export { type Buffer, checkFloors, type Floors, floorsFor, floorTasks, gflops, peakOf, type PeakTask, peakTasks } from "./roofline.js";
export { type Budget, type Clock, type ExternalSamples, keep, median, msOf, ratio, type Sample, sink, type Task, timed, timeGroup, type Timing } from "./timing.js";
export { type Heap, WasmArrays } from "./memory.js";
export { Peers, type TfBackend, type TfInfo, transpose } from "./peers.js";
export { fmt, fmtLoad, fmtMs, fmtX, machine, table, writeResults } from "./report.js";
export { type Context, runSuite, type SuiteDef } from "./suite.js";
export { rng } from "../../test/check.js";
