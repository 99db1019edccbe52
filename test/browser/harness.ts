// What the demo and trainInWorker browser tests share: Debian's Chromium through
// playwright-core (skipped locally without it, a failure under CI=true, as in
// test/browser.test.ts), `npm run demo`'s server started as that script runs it, and a page
// whose console errors, uncaught exceptions and failed requests are recorded.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";

export const ROOT = path.resolve(fileURLToPath(new URL("../..", import.meta.url)));
export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"];
const IS_CI = process.env.CI === "true";
export const SKIP = !existsSync(CHROMIUM) && !IS_CI;
export const SKIP_MESSAGE = `skipped: Chromium not found at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH; under CI=true this fails instead)`;

export function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`CI=true but Chromium is not installed at ${CHROMIUM}: install it (apt-get install -y chromium) or set CHROMIUM_PATH`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS, timeout: 30_000 });
}

export function requireBuilt(): void {
  const missing = ["dist/index.js", "dist/worker/train_worker.js", "build/bn.relaxed.wasm", "build/bn.simd.wasm"].filter((f) => !existsSync(path.join(ROOT, f)));
  if (missing.length) throw new Error(`the package is not built (missing ${missing.join(", ")}): run \`npm run build\` first`);
}

/** `node demo/serve.mjs --port 0` (what `npm run demo` runs), and the URL it prints. */
export async function startDemoServer(): Promise<{ url: string; origin: string; stop(): Promise<void> }> {
  const child: ChildProcess = spawn(process.execPath, [path.join(ROOT, "demo/serve.mjs"), "--port", "0"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo/serve.mjs printed no URL within 60 s:\n${out}`)), 60_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /(http:\/\/\S+\/demo\/)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`demo/serve.mjs exited with code ${code}:\n${out}`));
    });
  });
  return {
    url,
    origin: new URL(url).origin,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill();
      }),
  };
}

/** Records what a page reports that a test should fail on. */
export function watchPage(page: Page): { problems: string[]; report(): string } {
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console.error: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.stack ?? e.message}`));
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`));
  page.on("response", (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()} for ${r.url()}`);
  });
  return { problems, report: () => (problems.length ? `\npage reported:\n  ${problems.join("\n  ")}` : "") };
}
