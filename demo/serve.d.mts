// Types of demo/serve.mjs for the TypeScript tests that serve pages with it.
import type { Server } from "node:http";

/** Static files under `root` (default: the repository), with the COOP/COEP/CORP headers unless `isolated` is false. */
export function createDemoServer(root?: string, options?: { isolated?: boolean }): Server;
