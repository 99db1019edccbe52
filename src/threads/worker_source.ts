// The body of a pool worker, as source text shared by Node (a worker_threads Worker started
// with `eval: true`) and browsers (a Web Worker started from a Blob URL): it runs whatever way
// this package is loaded (dist, the TypeScript sources under vitest, a bundle), with no
// separate file to locate. Plain ES2020 that no compiler rewrites. spawn_node.ts and
// spawn_browser.ts each put a head before it that calls poolWorker(workerData, ready).
//
// The worker instantiates the kernels on the shared memory (its own globals, its own GEMM
// scratch at workerData.gemmScratch), calls ready() once, then loops: wait for the generation
// counter to move (a short spin, then Atomics.wait), then take the call's parts one at a time
// (compareExchange on the claim word, which carries the call's tag) and run each with its
// arguments, its own scratch put in the scratch argument; count each finished part and wake
// the caller after the last one. It returns only when the stop flag is set. The layout of the
// control block is CTL_* in pool.ts.
export const WORKER_BODY = String.raw`
function poolWorker(d, ready) {
const ctl = new Int32Array(d.ctl);
const args = new Float64Array(d.args);
const errText = new Uint8Array(d.err);
const exports_ = new WebAssembly.Instance(d.module, { env: { memory: d.memory } }).exports;
exports_.gemm_set_scratch(d.gemmScratch);
const fns = d.names.map((n) => exports_[n]);
ready();
let seen = 0;
for (;;) {
  let g = Atomics.load(ctl, d.gen);
  for (let i = 0; g === seen && i < d.spin; i++) g = Atomics.load(ctl, d.gen);
  while (g === seen) {
    Atomics.wait(ctl, d.gen, seen);
    g = Atomics.load(ctl, d.gen);
  }
  seen = g;
  if (Atomics.load(ctl, d.stop) !== 0) break;
  const tag = g & 0xffff;
  for (;;) {
    const w = Atomics.load(ctl, d.claim);
    const p = w & 0xffff;
    if (w >>> 16 !== tag) break;
    const n = Atomics.load(ctl, d.nparts);
    if (p >= n) break;
    if (Atomics.compareExchange(ctl, d.claim, w, w + 1) !== w) continue;
    const k = ctl[d.kernel];
    const a = args;
    const i = p * d.maxArgs;
    const sa = ctl[d.scratchArg];
    if (sa >= 0) a[i + sa] = ctl[d.scratch + d.id] >>> 0;
    try {
      fns[k](a[i], a[i + 1], a[i + 2], a[i + 3], a[i + 4], a[i + 5], a[i + 6], a[i + 7],
        a[i + 8], a[i + 9], a[i + 10], a[i + 11], a[i + 12], a[i + 13], a[i + 14], a[i + 15],
        a[i + 16], a[i + 17], a[i + 18], a[i + 19]);
    } catch (e) {
      if (Atomics.add(ctl, d.failed, 1) === 0) {
        const msg = new TextEncoder().encode("worker " + d.id + ", " + d.names[k] + ", part " + p + " of " + n + ": " + (e && e.message ? e.message : String(e)));
        const len = Math.min(msg.length, errText.length);
        errText.set(msg.subarray(0, len));
        Atomics.store(ctl, d.errLen, len);
      }
    }
    if (Atomics.add(ctl, d.done, 1) + 1 === n) Atomics.notify(ctl, d.done);
  }
}
}
`;
