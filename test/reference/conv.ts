// Float64 references of the 2-D convolution kernels (assembly/conv_nhwc.ts, conv_nchw.ts):
// direct loops over every output pixel, channel and tap, written for clarity, not speed.
// Tensors are dense: NHWC x [N, H, W, C], y [N, OH, OW, OC], w [OC, KH, KW, C]; NCHW
// x [N, C, H, W], y [N, OC, OH, OW], w [OC, C, KH, KW]. The output pixel (oh, ow) reads the
// input at ih = oh*SH - PT + kh*DH, iw = ow*SW - PL + kw*DW; taps outside the input are zeros.

type Arr = ArrayLike<number>;

export type ConvLayout = "nhwc" | "nchw";

/** The geometry the kernels' descriptor holds, without the strides of strided tensors. */
export interface ConvGeom {
  N: number;
  H: number;
  W: number;
  C: number;
  OH: number;
  OW: number;
  OC: number;
  KH: number;
  KW: number;
  SH: number;
  SW: number;
  DH: number;
  DW: number;
  PT: number;
  PL: number;
}

/** Padding as the layers take it: one number, [top/bottom, left/right], or TensorFlow's 'valid' / 'same'. */
export type ConvPadding = number | [number, number] | "valid" | "same";

/**
 * Output size and top/left padding along one axis: 'same' is TensorFlow's (out = ceil(in /
 * stride), the odd one of an odd total padding at the end), 'valid' none, a number p on both sides.
 */
export function convAxis(size: number, k: number, stride: number, dilation: number, padding: number | "valid" | "same"): { out: number; padBefore: number } {
  const span = (k - 1) * dilation + 1;
  if (padding === "same") {
    const out = Math.ceil(size / stride);
    const total = Math.max((out - 1) * stride + span - size, 0);
    return { out, padBefore: Math.floor(total / 2) };
  }
  const p = padding === "valid" ? 0 : padding;
  return { out: Math.floor((size + 2 * p - span) / stride) + 1, padBefore: p };
}

export function convGeom(
  [N, H, W, C]: [number, number, number, number], OC: number, [KH, KW]: [number, number],
  { stride = [1, 1], dilation = [1, 1], padding = 0 }: { stride?: [number, number]; dilation?: [number, number]; padding?: ConvPadding } = {},
): ConvGeom {
  const [ph, pw] = Array.isArray(padding) ? padding : [padding, padding];
  const h = convAxis(H, KH, stride[0], dilation[0], ph);
  const w = convAxis(W, KW, stride[1], dilation[1], pw);
  return { N, H, W, C, OH: h.out, OW: w.out, OC, KH, KW, SH: stride[0], SW: stride[1], DH: dilation[0], DW: dilation[1], PT: h.padBefore, PL: w.padBefore };
}

/** Dense index of x[n, c, h, w] (also dx). */
export function xAt(g: ConvGeom, layout: ConvLayout, n: number, c: number, h: number, w: number): number {
  return layout === "nhwc" ? ((n * g.H + h) * g.W + w) * g.C + c : ((n * g.C + c) * g.H + h) * g.W + w;
}

/** Dense index of y[n, oc, oh, ow] (also dy). */
export function yAt(g: ConvGeom, layout: ConvLayout, n: number, oc: number, oh: number, ow: number): number {
  return layout === "nhwc" ? ((n * g.OH + oh) * g.OW + ow) * g.OC + oc : ((n * g.OC + oc) * g.OH + oh) * g.OW + ow;
}

/** Dense index of w[oc, c, kh, kw] (also dw): [OC, KH, KW, C] in NHWC, [OC, C, KH, KW] in NCHW. */
export function wAt(g: ConvGeom, layout: ConvLayout, oc: number, c: number, kh: number, kw: number): number {
  return layout === "nhwc" ? ((oc * g.KH + kh) * g.KW + kw) * g.C + c : ((oc * g.C + c) * g.KH + kh) * g.KW + kw;
}

/** Calls f(n, oc, oh, ow, c, kh, kw, ih, iw) for every product term of the convolution (taps inside the input). */
function forEachTerm(g: ConvGeom, f: (n: number, oc: number, oh: number, ow: number, c: number, kh: number, kw: number, ih: number, iw: number) => void): void {
  for (let n = 0; n < g.N; n++) {
    for (let oc = 0; oc < g.OC; oc++) {
      for (let oh = 0; oh < g.OH; oh++) {
        for (let ow = 0; ow < g.OW; ow++) {
          for (let kh = 0; kh < g.KH; kh++) {
            const ih = oh * g.SH - g.PT + kh * g.DH;
            if (ih < 0 || ih >= g.H) continue;
            for (let kw = 0; kw < g.KW; kw++) {
              const iw = ow * g.SW - g.PL + kw * g.DW;
              if (iw < 0 || iw >= g.W) continue;
              for (let c = 0; c < g.C; c++) f(n, oc, oh, ow, c, kh, kw, ih, iw);
            }
          }
        }
      }
    }
  }
}

/** y = conv(x, w) + b (b null: no bias). */
export function refConv2dForward(x: Arr, w: Arr, b: Arr | null, g: ConvGeom, layout: ConvLayout): Float64Array {
  const y = new Float64Array(g.N * g.OC * g.OH * g.OW);
  if (b) {
    for (let n = 0; n < g.N; n++) {
      for (let oc = 0; oc < g.OC; oc++) for (let oh = 0; oh < g.OH; oh++) for (let ow = 0; ow < g.OW; ow++) y[yAt(g, layout, n, oc, oh, ow)] = b[oc];
    }
  }
  forEachTerm(g, (n, oc, oh, ow, c, kh, kw, ih, iw) => {
    y[yAt(g, layout, n, oc, oh, ow)] += x[xAt(g, layout, n, c, ih, iw)] * w[wAt(g, layout, oc, c, kh, kw)];
  });
  return y;
}

/** dx = dx0 + the gradient of sum(dy * conv(x, w)) with respect to x (dx0 null: zero). */
export function refConv2dBackwardInput(dx0: Arr | null, dy: Arr, w: Arr, g: ConvGeom, layout: ConvLayout): Float64Array {
  const dx = dx0 ? Float64Array.from(dx0) : new Float64Array(g.N * g.C * g.H * g.W);
  forEachTerm(g, (n, oc, oh, ow, c, kh, kw, ih, iw) => {
    dx[xAt(g, layout, n, c, ih, iw)] += dy[yAt(g, layout, n, oc, oh, ow)] * w[wAt(g, layout, oc, c, kh, kw)];
  });
  return dx;
}

/** dw = dw0 + the gradient with respect to w, db = db0 + the sums of dy per output channel (null: zero). */
export function refConv2dBackwardFilter(dw0: Arr | null, db0: Arr | null, dy: Arr, x: Arr, g: ConvGeom, layout: ConvLayout): { dw: Float64Array; db: Float64Array } {
  const dw = dw0 ? Float64Array.from(dw0) : new Float64Array(g.OC * g.C * g.KH * g.KW);
  const db = db0 ? Float64Array.from(db0) : new Float64Array(g.OC);
  forEachTerm(g, (n, oc, oh, ow, c, kh, kw, ih, iw) => {
    dw[wAt(g, layout, oc, c, kh, kw)] += dy[yAt(g, layout, n, oc, oh, ow)] * x[xAt(g, layout, n, c, ih, iw)];
  });
  for (let n = 0; n < g.N; n++) {
    for (let oc = 0; oc < g.OC; oc++) for (let oh = 0; oh < g.OH; oh++) for (let ow = 0; ow < g.OW; ow++) db[oc] += dy[yAt(g, layout, n, oc, oh, ow)];
  }
  return { dw, db };
}

// Single elements of the three results, for spot checks of large shapes (the benchmark).

/** y[n, oc, oh, ow] of refConv2dForward. */
export function refConv2dForwardAt(x: Arr, w: Arr, b: Arr | null, g: ConvGeom, layout: ConvLayout, n: number, oc: number, oh: number, ow: number): number {
  let s = b ? b[oc] : 0;
  for (let kh = 0; kh < g.KH; kh++) {
    const ih = oh * g.SH - g.PT + kh * g.DH;
    if (ih < 0 || ih >= g.H) continue;
    for (let kw = 0; kw < g.KW; kw++) {
      const iw = ow * g.SW - g.PL + kw * g.DW;
      if (iw < 0 || iw >= g.W) continue;
      for (let c = 0; c < g.C; c++) s += x[xAt(g, layout, n, c, ih, iw)] * w[wAt(g, layout, oc, c, kh, kw)];
    }
  }
  return s;
}

/** dx[n, c, ih, iw] of refConv2dBackwardInput (no dx0): the output pixels whose taps land on (ih, iw). */
export function refConv2dBackwardInputAt(dy: Arr, w: Arr, g: ConvGeom, layout: ConvLayout, n: number, c: number, ih: number, iw: number): number {
  let s = 0;
  for (let kh = 0; kh < g.KH; kh++) {
    const th = ih + g.PT - kh * g.DH; // = oh * SH
    if (th < 0 || th % g.SH !== 0 || th / g.SH >= g.OH) continue;
    for (let kw = 0; kw < g.KW; kw++) {
      const tw = iw + g.PL - kw * g.DW;
      if (tw < 0 || tw % g.SW !== 0 || tw / g.SW >= g.OW) continue;
      for (let oc = 0; oc < g.OC; oc++) s += dy[yAt(g, layout, n, oc, th / g.SH, tw / g.SW)] * w[wAt(g, layout, oc, c, kh, kw)];
    }
  }
  return s;
}

/** dw[oc, c, kh, kw] of refConv2dBackwardFilter (no dw0). */
export function refConv2dBackwardFilterAt(dy: Arr, x: Arr, g: ConvGeom, layout: ConvLayout, oc: number, c: number, kh: number, kw: number): number {
  let s = 0;
  for (let n = 0; n < g.N; n++) {
    for (let oh = 0; oh < g.OH; oh++) {
      const ih = oh * g.SH - g.PT + kh * g.DH;
      if (ih < 0 || ih >= g.H) continue;
      for (let ow = 0; ow < g.OW; ow++) {
        const iw = ow * g.SW - g.PL + kw * g.DW;
        if (iw >= 0 && iw < g.W) s += dy[yAt(g, layout, n, oc, oh, ow)] * x[xAt(g, layout, n, c, ih, iw)];
      }
    }
  }
  return s;
}
