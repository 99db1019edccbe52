// Spot checks of convolution outputs against the float64 element references of
// test/reference/conv.ts: the shapes are too big for the whole reference (a 3x3 128->192 conv
// at 32x32, batch 32, is 7 GFLOP of float64 JavaScript), so `count` elements of each result are
// compared: the two corners (where 'same' padding cuts the window) and random ones.
import {
  type ConvGeom, type ConvLayout, refConv2dBackwardFilterAt, refConv2dBackwardInputAt, refConv2dForwardAt, wAt, xAt, yAt,
} from "../../test/reference/conv.js";
import { rng } from "../harness/index.js";

export interface SpotError {
  /** max |got - want| over max |want|, over the checked elements. */
  err: number;
  detail: string;
}

const SPOTS = 64;

/** Compares got(i) with want(i) at the corners and `count - 2` random indices of `dims`. */
export function spot(seed: number, dims: readonly number[], got: (i: number[]) => number, want: (i: number[]) => number, count = SPOTS): SpotError {
  const r = rng(seed);
  let num = 0, den = 0, worst: number[] = [];
  for (let t = 0; t < count; t++) {
    const i = t === 0 ? dims.map(() => 0) : t === 1 ? dims.map((d) => d - 1) : dims.map((d) => Math.min(d - 1, Math.floor(r.uniform() * d)));
    const w = want(i), g = got(i);
    const d = Number.isNaN(g) ? Infinity : Math.abs(g - w);
    if (d > num || worst.length === 0) {
      num = d;
      worst = i;
    }
    den = Math.max(den, Math.abs(w));
  }
  const err = num / Math.max(den, 1e-30);
  return { err, detail: `${count} elements: max |error| ${num.toExponential(2)} at [${worst.join(", ")}] over max |reference| ${den.toExponential(2)} = ${err.toExponential(2)}` };
}

/** Where a peer's or our outputs are, as dense arrays in `layout` (dw in wAt's order unless `dwAt` says otherwise). */
export interface ConvOutputs {
  y?: ArrayLike<number>;
  dx?: ArrayLike<number>;
  dw?: ArrayLike<number>;
  /** Index of dw[oc, c, kh, kw] in `dw` (tfjs keeps filters as [KH, KW, C, OC]). */
  dwAt?: (oc: number, c: number, kh: number, kw: number) => number;
}

/**
 * Spot checks of y = conv(x, w), dx and dW (for dy) against the float64 references, for the
 * outputs given; x, w, dy as the reference reads them (w in wAt's order for `layout`).
 */
export function spotConv(
  g: ConvGeom, layout: ConvLayout, x: ArrayLike<number>, w: ArrayLike<number>, dy: ArrayLike<number>, out: ConvOutputs, seed = 11,
): Record<"y" | "dx" | "dw", SpotError | undefined> {
  const dwAt = out.dwAt ?? ((oc: number, c: number, kh: number, kw: number) => wAt(g, layout, oc, c, kh, kw));
  const y = out.y, dx = out.dx, dw = out.dw;
  return {
    y: y && spot(seed, [g.N, g.OC, g.OH, g.OW], ([n, oc, oh, ow]) => y[yAt(g, layout, n, oc, oh, ow)], ([n, oc, oh, ow]) => refConv2dForwardAt(x, w, null, g, layout, n, oc, oh, ow)),
    dx: dx && spot(seed + 1, [g.N, g.C, g.H, g.W], ([n, c, h, ww]) => dx[xAt(g, layout, n, c, h, ww)], ([n, c, h, ww]) => refConv2dBackwardInputAt(dy, w, g, layout, n, c, h, ww)),
    dw: dw && spot(seed + 2, [g.OC, g.C, g.KH, g.KW], ([oc, c, kh, kw]) => dw[dwAt(oc, c, kh, kw)], ([oc, c, kh, kw]) => refConv2dBackwardFilterAt(dy, x, g, layout, oc, c, kh, kw)),
  };
}
