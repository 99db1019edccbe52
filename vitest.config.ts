import { defineConfig } from "vitest/config";

// Node 20 validates relaxed-SIMD modules only behind a flag (Node 22+ and Chromium by
// default): pass it so the relaxed build is tested alongside the SIMD and scalar ones.
const major = Number(process.versions.node.split(".")[0]);

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: run test files two at a time, each in its own process (own wasm memory).
    pool: "forks",
    maxWorkers: 2,
    execArgv: major < 22 ? ["--experimental-wasm-relaxed-simd"] : [],
  },
});
