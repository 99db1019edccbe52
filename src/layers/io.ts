// How a layer that computes into its own buffers meets the layer interface's destinations:
// an output written into a given tensor (a channel slice of a concatenation), a gradient
// written into or added to a given dx, and a gradient that arrives as a slice. Layers that
// read and write slices in place natively skip these copies.
import type { Buffers } from "../buffers.js";
import type { GradTarget } from "../module.js";
import { addInto, copyInto } from "../ops/rows.js";
import { fmt, sameShape } from "../shape.js";
import type { Tensor } from "../tensor.js";

/** y itself, or y copied into `out` (which must have y's shape). */
export function deliverOutput(owner: object, y: Tensor, out: Tensor | undefined): Tensor {
  if (out === undefined || out === y) return y;
  if (!sameShape(out.shape, y.shape)) throw new Error(`${String(owner)}.forward: expected an output tensor of shape ${fmt(y.shape)}, got ${fmt(out.shape)}`);
  copyInto(out, y);
  return out;
}

/** dx itself, or dx written into or added to `into.dx` (which must have dx's shape). */
export function deliverGrad(owner: object, dx: Tensor, into: GradTarget | undefined): Tensor {
  if (into === undefined) return dx;
  if (!sameShape(into.dx.shape, dx.shape)) throw new Error(`${String(owner)}.backward: expected a dx tensor of shape ${fmt(dx.shape)}, got ${fmt(into.dx.shape)}`);
  if (into.accumulate) addInto(into.dx, dx);
  else copyInto(into.dx, dx);
  return into.dx;
}

/** dy, or a contiguous copy of it (in the layer's buffer "dy") when it is a slice. */
export function contiguousGrad(bufs: Buffers, dy: Tensor): Tensor {
  if (dy.contiguous) return dy;
  const c = bufs.get("dy-contiguous", dy.shape);
  copyInto(c, dy);
  return c;
}
