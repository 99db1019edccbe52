// The demo page: starts demo/worker.js (training off the page's thread), draws Figure 1 with
// the library's own SVG line charts as evaluations arrive, and sends drawn digits to the
// worker for both networks' predictions. Progress for tests: window.demoState.
// URL parameters: ?threads=N|auto (default auto), ?lr=0.5, ?batch=60.
import { lineChart } from "../dist/index.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const threadsParam = params.get("threads") ?? "auto";
const threads = threadsParam === "auto" ? "auto" : Math.max(1, Number.parseInt(threadsParam, 10) || 1);
if (params.has("lr")) $("lr").value = params.get("lr");
if (params.has("batch")) $("batch").value = params.get("batch");

const history = { steps: [], bn: [], plain: [], pct: { bn: { p15: [], p50: [], p85: [] }, plain: { p15: [], p50: [], p85: [] } } };
const state = {
  steps: 0,
  testAccuracy: { bn: null, plain: null },
  build: null,
  threads: null,
  threadsRequested: null,
  threadsFallback: null,
  crossOriginIsolated: globalThis.crossOriginIsolated === true,
  running: false,
  stepsPerSecond: 0,
  elapsedSeconds: 0,
  evaluations: history,
  prediction: null,
  error: null,
};
window.demoState = state;

const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module", name: "demo training" });
worker.onerror = (e) => {
  state.error = e.message || "the training worker failed to load";
  $("status").textContent = `error: ${state.error}`;
  console.error(`demo worker: ${state.error}`);
};

function settings() {
  const lr = Number($("lr").value);
  const batchSize = Number($("batch").value);
  return { lr: lr > 0 && Number.isFinite(lr) ? lr : 0.5, batchSize };
}

worker.postMessage({ type: "init", threads, ...settings() });

const pct = (v) => (v == null ? "–" : `${(100 * v).toFixed(2)}%`);

function renderStats() {
  $("steps").textContent = state.steps.toLocaleString("en");
  $("rate").textContent = state.running ? Math.round(state.stepsPerSecond).toLocaleString("en") : "–";
  $("elapsed").textContent = `${state.elapsedSeconds.toFixed(1)} s`;
  $("acc-bn").textContent = pct(state.testAccuracy.bn);
  $("acc-plain").textContent = pct(state.testAccuracy.plain);
}

function padDomain(lo, hi) {
  if (!(hi > lo)) return [lo - 1, hi + 1];
  const pad = 0.05 * (hi - lo);
  return [lo - pad, hi + pad];
}

let chartTimer = null;
function scheduleCharts() {
  chartTimer ??= setTimeout(() => {
    chartTimer = null;
    renderCharts();
  }, 250);
}

/** Puts a chart into its figure (each chart is drawn with its figure's id: ids are per document). */
function place(figure, svg) {
  $(figure).querySelector(".chart").innerHTML = svg;
}

function renderCharts() {
  const size = { width: 560, height: 300 };
  const xs = history.steps;
  place("fig-acc", lineChart({
    ...size,
    id: "fig-acc",
    title: "Test accuracy",
    xLabel: "training steps",
    yLabel: "test accuracy",
    series: [
      { name: "with BatchNorm", x: xs, y: history.bn, color: "#0072B2" },
      { name: "without BatchNorm", x: xs, y: history.plain, color: "#000000", dash: "6 4" },
    ],
  }));
  const all = ["bn", "plain"].flatMap((n) => [...history.pct[n].p15, ...history.pct[n].p85]).filter(Number.isFinite);
  const yDomain = all.length ? padDomain(Math.min(...all), Math.max(...all)) : undefined;
  for (const [n, label, color] of [["plain", "without BatchNorm", "#000000"], ["bn", "with BatchNorm", "#0072B2"]]) {
    const p = history.pct[n];
    place(`fig-${n}`, lineChart({
      ...size,
      id: `fig-${n}`,
      title: `Sigmoid input, ${label}`,
      xLabel: "training steps",
      yLabel: "15th, 50th, 85th percentiles",
      yDomain,
      legend: false,
      bands: [{ name: "15th to 85th percentile", x: xs, lower: p.p15, upper: p.p85, color, opacity: 0.18 }],
      series: [
        { name: "85th", x: xs, y: p.p85, color, width: 1.5 },
        { name: "median", x: xs, y: p.p50, color, width: 2.5 },
        { name: "15th", x: xs, y: p.p15, color, width: 1.5 },
      ],
    }));
  }
}

function setRunning(on) {
  state.running = on;
  $("start").textContent = on ? "Stop" : "Start";
  renderStats();
}

worker.onmessage = (e) => {
  const m = e.data;
  switch (m.type) {
    case "ready": {
      const b = m.backend;
      state.build = b.build;
      state.threads = b.threads;
      state.threadsRequested = b.threadsRequested;
      state.threadsFallback = b.threadsFallback;
      $("build").textContent = b.build;
      $("threads").textContent = b.threadsFallback ? `${b.threads} (asked ${b.threadsRequested})` : String(b.threads);
      $("threads").title = b.threadsFallback ?? "";
      $("isolation").textContent =
        `crossOriginIsolated: ${state.crossOriginIsolated}. ` +
        (b.threadsFallback ? `Threads: ${b.threads} of ${b.threadsRequested} asked for, because ${b.threadsFallback}.` : `Threads: ${b.threads}.`);
      $("status").textContent = `ready: ${m.trainCount.toLocaleString("en")} training digits, evaluated every ${m.evalEvery} steps`;
      $("start").disabled = false;
      $("reset").disabled = false;
      renderCharts();
      predictSoon();
      break;
    }
    case "progress":
      state.steps = m.steps;
      state.stepsPerSecond = m.stepsPerSecond;
      state.elapsedSeconds = m.trainSeconds;
      if (state.running) predictSoon();
      renderStats();
      break;
    case "eval":
      history.steps.push(m.step);
      for (const n of ["bn", "plain"]) {
        history[n].push(m[n].accuracy);
        for (const k of ["p15", "p50", "p85"]) history.pct[n][k].push(m[n][k]);
      }
      state.testAccuracy = { bn: m.bn.accuracy, plain: m.plain.accuracy };
      state.steps = Math.max(state.steps, m.step);
      renderStats();
      scheduleCharts();
      break;
    case "stopped":
      $("status").textContent = `stopped at step ${m.steps}`;
      break;
    case "reset":
      history.steps.length = history.bn.length = history.plain.length = 0;
      for (const n of ["bn", "plain"]) for (const k of ["p15", "p50", "p85"]) history.pct[n][k].length = 0;
      Object.assign(state, { steps: 0, testAccuracy: { bn: null, plain: null }, stepsPerSecond: 0, elapsedSeconds: 0 });
      $("status").textContent = "reset: the same initial weights again";
      renderStats();
      renderCharts();
      predictSoon();
      break;
    case "settings":
      $("status").textContent = `learning rate ${m.lr}, batch size ${m.batchSize}`;
      break;
    case "prediction":
      inFlight = false;
      showPrediction(m);
      if (pending) predictSoon();
      break;
    case "error":
      state.error = m.message;
      setRunning(false);
      $("status").textContent = `error: ${m.message.split("\n")[0]}`;
      console.error(`demo worker: ${m.message}`);
      break;
  }
};

$("start").onclick = () => {
  const on = !state.running;
  worker.postMessage({ type: on ? "start" : "stop" });
  setRunning(on);
  $("status").textContent = on ? "training…" : "stopping…";
};
$("reset").onclick = () => {
  worker.postMessage({ type: "reset" });
  setRunning(false);
};
for (const id of ["lr", "batch"]) $(id).onchange = () => worker.postMessage({ type: "set", ...settings() });

// --- Drawing ------------------------------------------------------------------------------

const canvas = $("canvas");
const ctx = canvas.getContext("2d", { willReadFrequently: true });
let drawing = false, last = null, inked = false;
function clearCanvas() {
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  inked = false;
  showPrediction(null);
}
clearCanvas();
const point = (e) => {
  const r = canvas.getBoundingClientRect();
  return [((e.clientX - r.left) * canvas.width) / r.width, ((e.clientY - r.top) * canvas.height) / r.height];
};
canvas.addEventListener("pointerdown", (e) => {
  drawing = true;
  last = point(e);
  canvas.setPointerCapture?.(e.pointerId);
  stroke(last, last);
});
canvas.addEventListener("pointermove", (e) => {
  if (!drawing) return;
  const p = point(e);
  stroke(last, p);
  last = p;
});
for (const t of ["pointerup", "pointercancel"]) canvas.addEventListener(t, () => (drawing = false));
$("clear").onclick = clearCanvas;

function stroke(a, b) {
  ctx.strokeStyle = "#fff";
  ctx.lineWidth = 16;
  ctx.lineCap = ctx.lineJoin = "round";
  ctx.beginPath();
  ctx.moveTo(a[0], a[1]);
  ctx.lineTo(b[0], b[1]);
  ctx.stroke();
  inked = true;
  predictSoon();
}

/** The drawing as MNIST prepares its digits: fitted into 20x20, centred by its centre of mass in 28x28, values in [0, 1]. */
function digitPixels() {
  const { width: W, height: H } = canvas;
  const img = ctx.getImageData(0, 0, W, H).data;
  let x0 = W, y0 = H, x1 = -1, y1 = -1;
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    if (img[(y * W + x) * 4] > 20) {
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  if (x1 < 0) return null;
  const bw = x1 - x0 + 1, bh = y1 - y0 + 1;
  const scale = 20 / Math.max(bw, bh);
  const box = document.createElement("canvas");
  box.width = box.height = 28;
  const b = box.getContext("2d", { willReadFrequently: true });
  b.fillStyle = "#000";
  b.fillRect(0, 0, 28, 28);
  b.imageSmoothingQuality = "high";
  const dw = bw * scale, dh = bh * scale;
  b.drawImage(canvas, x0, y0, bw, bh, (28 - dw) / 2, (28 - dh) / 2, dw, dh);
  let px = b.getImageData(0, 0, 28, 28).data;
  let m = 0, mx = 0, my = 0;
  for (let i = 0; i < 784; i++) {
    const v = px[i * 4];
    m += v;
    mx += v * (i % 28);
    my += v * Math.floor(i / 28);
  }
  const sx = Math.round(13.5 - mx / m), sy = Math.round(13.5 - my / m);
  if (sx !== 0 || sy !== 0) {
    const shifted = document.createElement("canvas");
    shifted.width = shifted.height = 28;
    const s = shifted.getContext("2d", { willReadFrequently: true });
    s.fillStyle = "#000";
    s.fillRect(0, 0, 28, 28);
    s.drawImage(box, sx, sy);
    px = s.getImageData(0, 0, 28, 28).data;
  }
  const out = new Float32Array(784);
  for (let i = 0; i < 784; i++) out[i] = px[i * 4] / 255;
  return out;
}

let inFlight = false, pending = false, nextId = 0;
function predictSoon() {
  if (!inked || !state.build) return;
  if (inFlight) {
    pending = true;
    return;
  }
  const pixels = digitPixels();
  if (!pixels) return;
  pending = false;
  inFlight = true;
  worker.postMessage({ type: "predict", id: ++nextId, pixels }, [pixels.buffer]);
}

function showPrediction(m) {
  state.prediction = m && { steps: m.steps, bn: argmax(m.bn), plain: argmax(m.plain), probabilities: { bn: m.bn, plain: m.plain } };
  for (const n of ["bn", "plain"]) {
    const el = $(`pred-${n}`);
    const p = m?.[n];
    el.querySelector(".top").textContent = p ? String(argmax(p)) : "";
    el.querySelector(".bars").innerHTML = p
      ? p.map((v, d) => `<span>${d}</span><div class="bar" style="width:${(90 * v).toFixed(1)}px"></div><span>${(100 * v).toFixed(0)}%</span>`).join("")
      : "";
  }
}

function argmax(a) {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}
renderStats();
