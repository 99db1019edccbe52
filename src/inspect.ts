// Node's util.inspect hook (what console.log shows), without importing node:util, so that
// the library still loads in browsers.
export const INSPECT = Symbol.for("nodejs.util.inspect.custom");
