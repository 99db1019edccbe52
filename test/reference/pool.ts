// The float64 reference twins of the pooling kernels (assembly/pool_max.ts, pool_avg.ts,
// pool_global.ts), written as the naive loops over each output's window, on dense tensors in
// either layout. Max pooling follows PyTorch's CPU kernel (aten/src/ATen/native/cpu/
// MaxPoolKernel.cpp): the running maximum starts at -inf with the index of the first in-bounds
// tap, and a tap replaces it when `v > max || isnan(v)`; average pooling divides by KH*KW
// (count_include_pad=True) or by the in-bounds taps (False), as its AvgPoolKernel.cpp does.

type Arr = ArrayLike<number>;

export type PoolLayout = "nhwc" | "nchw";

/** Sizes of a pooling: input [N, C, H, W] (in either layout), output OH x OW, window, strides, top/left padding. */
export interface PoolGeom {
  N: number; C: number; H: number; W: number;
  OH: number; OW: number; KH: number; KW: number;
  sh: number; sw: number; pt: number; pl: number;
}

/** Output size and leading padding along one axis: 'valid', TensorFlow's 'same' (the odd padding after), or symmetric p. */
export function poolAxis(size: number, k: number, s: number, padding: "valid" | "same" | number): { out: number; pad: number } {
  if (padding === "valid") return { out: Math.floor((size - k) / s) + 1, pad: 0 };
  if (padding === "same") {
    const out = Math.ceil(size / s);
    return { out, pad: Math.floor(Math.max((out - 1) * s + k - size, 0) / 2) };
  }
  return { out: Math.floor((size + 2 * padding - k) / s) + 1, pad: padding };
}

/** Offset of [n, c, h, w] in a dense tensor of C x H x W images in the given layout. */
export function offsetOf(layout: PoolLayout, C: number, H: number, W: number, n: number, c: number, h: number, w: number): number {
  return layout === "nhwc" ? ((n * H + h) * W + w) * C + c : ((n * C + c) * H + h) * W + w;
}

/** Calls f(n, c, o, h0, h1, w0, w1) for every output (o: its dense offset) with its window clipped to the image. */
function eachWindow(g: PoolGeom, layout: PoolLayout, f: (n: number, c: number, o: number, h0: number, h1: number, w0: number, w1: number) => void): void {
  for (let n = 0; n < g.N; n++) {
    for (let c = 0; c < g.C; c++) {
      for (let oh = 0; oh < g.OH; oh++) {
        for (let ow = 0; ow < g.OW; ow++) {
          const h0 = Math.max(oh * g.sh - g.pt, 0), h1 = Math.min(oh * g.sh - g.pt + g.KH, g.H);
          const w0 = Math.max(ow * g.sw - g.pl, 0), w1 = Math.min(ow * g.sw - g.pl + g.KW, g.W);
          f(n, c, offsetOf(layout, g.C, g.OH, g.OW, n, c, oh, ow), h0, h1, w0, w1);
        }
      }
    }
  }
}

/** y = window max, idx = h*W + w of the maximum (dense, the output's layout). */
export function refMaxPool2d(x: Arr, g: PoolGeom, layout: PoolLayout): { y: Float64Array; idx: Int32Array } {
  const size = g.N * g.C * g.OH * g.OW;
  const y = new Float64Array(size), idx = new Int32Array(size);
  eachWindow(g, layout, (n, c, o, h0, h1, w0, w1) => {
    let m = -Infinity, mi = h0 * g.W + w0;
    for (let h = h0; h < h1; h++) {
      for (let w = w0; w < w1; w++) {
        const v = x[offsetOf(layout, g.C, g.H, g.W, n, c, h, w)];
        if (v > m || Number.isNaN(v)) {
          m = v;
          mi = h * g.W + w;
        }
      }
    }
    y[o] = m;
    idx[o] = mi;
  });
  return { y, idx };
}

/** dx = sum of dy over the outputs whose maximum sits at each input (from refMaxPool2d's idx). */
export function refMaxPool2dBackward(dy: Arr, idx: Arr, g: PoolGeom, layout: PoolLayout): Float64Array {
  const dx = new Float64Array(g.N * g.C * g.H * g.W);
  eachWindow(g, layout, (n, c, o) => {
    const i = idx[o];
    dx[offsetOf(layout, g.C, g.H, g.W, n, c, Math.floor(i / g.W), i % g.W)] += dy[o];
  });
  return dx;
}

function divisor(g: PoolGeom, countIncludePad: boolean, h0: number, h1: number, w0: number, w1: number): number {
  return countIncludePad ? g.KH * g.KW : (h1 - h0) * (w1 - w0);
}

/** y = window sum / count. */
export function refAvgPool2d(x: Arr, g: PoolGeom, layout: PoolLayout, countIncludePad: boolean): Float64Array {
  const y = new Float64Array(g.N * g.C * g.OH * g.OW);
  eachWindow(g, layout, (n, c, o, h0, h1, w0, w1) => {
    let s = 0;
    for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) s += x[offsetOf(layout, g.C, g.H, g.W, n, c, h, w)];
    y[o] = s / divisor(g, countIncludePad, h0, h1, w0, w1);
  });
  return y;
}

/** dx = sum over the windows holding each input of dy / count. */
export function refAvgPool2dBackward(dy: Arr, g: PoolGeom, layout: PoolLayout, countIncludePad: boolean): Float64Array {
  const dx = new Float64Array(g.N * g.C * g.H * g.W);
  eachWindow(g, layout, (n, c, o, h0, h1, w0, w1) => {
    const d = dy[o] / divisor(g, countIncludePad, h0, h1, w0, w1);
    for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) dx[offsetOf(layout, g.C, g.H, g.W, n, c, h, w)] += d;
  });
  return dx;
}

/** y[n, c] (dense [N, C]) = mean of x[n, c, :, :]. */
export function refGlobalAvgPool(x: Arr, N: number, C: number, H: number, W: number, layout: PoolLayout): Float64Array {
  const y = new Float64Array(N * C);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) s += x[offsetOf(layout, C, H, W, n, c, h, w)];
      y[n * C + c] = s / (H * W);
    }
  }
  return y;
}

/** dx[n, c, h, w] = dy[n, c] / (H*W). */
export function refGlobalAvgPoolBackward(dy: Arr, N: number, C: number, H: number, W: number, layout: PoolLayout): Float64Array {
  const dx = new Float64Array(N * C * H * W);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) dx[offsetOf(layout, C, H, W, n, c, h, w)] = dy[n * C + c] / (H * W);
    }
  }
  return dx;
}
