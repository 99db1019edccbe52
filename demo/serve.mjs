// `npm run demo`: serves the repository root on localhost so that /demo/ can import
// ../dist/index.js and the wasm in ../build/ by relative URL, with the headers that make the
// page cross-origin isolated (SharedArrayBuffer, so the threaded builds can run):
// Cross-Origin-Opener-Policy: same-origin, Cross-Origin-Embedder-Policy: require-corp.
// Writes the demo's data file first when it is missing. Options: --port N (default 8080,
// 0 = any free port), --host H (default 127.0.0.1). Prints the page's URL.
import { existsSync } from "node:fs";
import { readFile, realpath, stat } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureDemoData } from "./data.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const MIME = {
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".bin": "application/octet-stream",
  ".ts": "text/plain; charset=utf-8",
};

const ISOLATION = {
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-embedder-policy": "require-corp",
  "cross-origin-resource-policy": "same-origin",
};

function inside(root, p) {
  return p === root || p.startsWith(root + path.sep);
}

/**
 * The server (not yet listening): static files under `root`, never outside it (the raw path is
 * decoded here, not normalized: "..", "%2e%2e" and "%2f" all reach path.resolve, and whatever
 * lands outside the root is refused). `isolated: false` leaves out the COOP/COEP/CORP headers
 * (the browser tests serve pages both ways).
 */
export function createDemoServer(root = ROOT, { isolated = true } = {}) {
  const headers = isolated ? ISOLATION : {};
  return http.createServer(async (req, res) => {
    const send = (status, body, extra = {}) => {
      res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store", ...headers, ...extra });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    try {
      if (req.method !== "GET" && req.method !== "HEAD") return send(405, "method not allowed");
      const rawPath = (req.url ?? "/").split(/[?#]/, 1)[0];
      if (rawPath === "/" || rawPath === "/demo") return send(302, "see /demo/", { location: "/demo/" });
      let pathname;
      try {
        pathname = decodeURIComponent(rawPath);
      } catch {
        return send(400, "bad request");
      }
      if (pathname.includes("\0") || !pathname.startsWith("/")) return send(400, "bad request");
      let file = path.resolve(root, "." + pathname);
      if (!inside(root, file)) return send(403, "forbidden: outside the project root");
      if (pathname.endsWith("/")) file = path.join(file, "index.html");
      let real;
      try {
        real = await realpath(file);
      } catch {
        return send(404, "not found");
      }
      if (!inside(root, real)) return send(403, "forbidden: outside the project root");
      if (!(await stat(real)).isFile()) return send(404, "not found");
      const body = await readFile(real);
      res.writeHead(200, {
        "content-type": MIME[path.extname(real).toLowerCase()] ?? "application/octet-stream",
        "content-length": body.byteLength,
        "cache-control": "no-store",
        ...headers,
      });
      res.end(req.method === "HEAD" ? undefined : body);
    } catch (e) {
      if (!res.headersSent) send(500, String(e));
      else res.destroy();
    }
  });
}

function option(args, name, fallback) {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const v = args[i + 1];
  if (v === undefined || v.startsWith("--")) throw new Error(`${name} needs a value`);
  return v;
}

async function main(args) {
  const port = Number(option(args, "--port", process.env.PORT ?? "8080"));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be an integer in [0, 65535], got ${option(args, "--port", "")}`);
  const host = option(args, "--host", "127.0.0.1");
  for (const f of ["dist/index.js", "dist/worker/train_worker.js", "build/bn.simd.wasm"]) {
    if (!existsSync(path.join(ROOT, f))) throw new Error(`${f} is missing: run \`npm run build\` first`);
  }
  await ensureDemoData();
  const server = createDemoServer();
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  const actual = server.address().port;
  const shown = host.includes(":") ? `[${host}]` : host;
  console.log(`batchnorm-wasm demo: http://${shown}:${actual}/demo/`);
  console.log("(Ctrl-C to stop)");
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(`npm run demo: ${e instanceof Error ? e.message : e}`);
    process.exit(2);
  });
}
