// Pooling ops: the only code that calls the maxpool2d_*, avgpool2d_* and global_avgpool_*
// kernels. Inputs and outputs may be channel slices (NHWC by pixel stride, NCHW by image
// stride); max pooling's indices are dense int32 in the output's layout.
import type { DataFormat } from "./bn.js";
import { type ConvGeometry, pixelOrImageStride } from "./conv.js";
import { fmt } from "../shape.js";
import type { Tensor } from "../tensor.js";
import { splitCall } from "./split.js";

/** y = window maximum, idx = its position h*W + w in the input plane. Writes y and idx. */
export function maxPoolForward(y: Tensor, idx: Tensor, x: Tensor, g: ConvGeometry, f: DataFormat): void {
  const k = x.backend.kernels;
  const ys = pixelOrImageStride(y, f, "maxPool y"), xs = pixelOrImageStride(x, f, "maxPool x");
  const S = images(g, f, xs, ys);
  if (splitCall(x.backend, f === "channelsLast" ? "maxpool2d_forward_nhwc" : "maxpool2d_forward_nchw", x.size + y.size, g.N, 1, (a, b) => f === "channelsLast"
    ? [y.ptr + 4 * a * S.y, ys, idx.ptr + 4 * a * S.idx, x.ptr + 4 * a * S.x, xs, b - a, g.H, g.W, g.C, g.OH, g.OW, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL]
    : [y.ptr + 4 * a * S.y, ys, idx.ptr + 4 * a * S.idx, x.ptr + 4 * a * S.x, xs, b - a, g.C, g.H, g.W, g.OH, g.OW, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL])) return;
  if (f === "channelsLast") k.maxpool2d_forward_nhwc(y.ptr, ys, idx.ptr, x.ptr, xs, g.N, g.H, g.W, g.C, g.OH, g.OW, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL);
  else k.maxpool2d_forward_nchw(y.ptr, ys, idx.ptr, x.ptr, xs, g.N, g.C, g.H, g.W, g.OH, g.OW, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL);
}

/** dx[idx] (+)= dy. Writes dx (zeroed first), or accumulates. */
export function maxPoolBackward(dx: Tensor, dy: Tensor, idx: Tensor, g: ConvGeometry, f: DataFormat, accumulate: boolean): void {
  const k = dy.backend.kernels;
  const dxs = pixelOrImageStride(dx, f, "maxPool dx"), dys = pixelOrImageStride(dy, f, "maxPool dy");
  const S = images(g, f, dxs, dys), acc = accumulate ? 1 : 0;
  if (splitCall(dy.backend, f === "channelsLast" ? "maxpool2d_backward_nhwc" : "maxpool2d_backward_nchw", dx.size + dy.size, g.N, 1, (a, b) => f === "channelsLast"
    ? [dx.ptr + 4 * a * S.x, dxs, dy.ptr + 4 * a * S.y, dys, idx.ptr + 4 * a * S.idx, b - a, g.H, g.W, g.C, g.OH, g.OW, acc]
    : [dx.ptr + 4 * a * S.x, dxs, dy.ptr + 4 * a * S.y, dys, idx.ptr + 4 * a * S.idx, b - a, g.C, g.H, g.W, g.OH, g.OW, acc])) return;
  if (f === "channelsLast") k.maxpool2d_backward_nhwc(dx.ptr, dxs, dy.ptr, dys, idx.ptr, g.N, g.H, g.W, g.C, g.OH, g.OW, accumulate ? 1 : 0);
  else k.maxpool2d_backward_nchw(dx.ptr, dxs, dy.ptr, dys, idx.ptr, g.N, g.C, g.H, g.W, g.OH, g.OW, accumulate ? 1 : 0);
}

/** y = window mean (divided by KH*KW with countIncludePad, else by the in-bounds taps). Writes y. */
export function avgPoolForward(y: Tensor, x: Tensor, g: ConvGeometry, f: DataFormat, countIncludePad: boolean): void {
  const k = x.backend.kernels;
  const ys = pixelOrImageStride(y, f, "avgPool y"), xs = pixelOrImageStride(x, f, "avgPool x");
  const cip = countIncludePad ? 1 : 0;
  const S = images(g, f, xs, ys);
  if (splitCall(x.backend, f === "channelsLast" ? "avgpool2d_forward_nhwc" : "avgpool2d_forward_nchw", x.size + y.size, g.N, 1, (a, b) => f === "channelsLast"
    ? [y.ptr + 4 * a * S.y, ys, x.ptr + 4 * a * S.x, xs, b - a, g.H, g.W, g.C, g.OH, g.OW, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL, cip]
    : [y.ptr + 4 * a * S.y, ys, x.ptr + 4 * a * S.x, xs, b - a, g.C, g.H, g.W, g.OH, g.OW, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL, cip])) return;
  if (f === "channelsLast") k.avgpool2d_forward_nhwc(y.ptr, ys, x.ptr, xs, g.N, g.H, g.W, g.C, g.OH, g.OW, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL, cip);
  else k.avgpool2d_forward_nchw(y.ptr, ys, x.ptr, xs, g.N, g.C, g.H, g.W, g.OH, g.OW, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL, cip);
}

/** dx (+)= dy / count spread over each window. Writes dx (zeroed first), or accumulates. */
export function avgPoolBackward(dx: Tensor, dy: Tensor, g: ConvGeometry, f: DataFormat, countIncludePad: boolean, accumulate: boolean): void {
  const k = dy.backend.kernels;
  const dxs = pixelOrImageStride(dx, f, "avgPool dx"), dys = pixelOrImageStride(dy, f, "avgPool dy");
  const cip = countIncludePad ? 1 : 0, acc = accumulate ? 1 : 0;
  const S = images(g, f, dxs, dys);
  if (splitCall(dy.backend, f === "channelsLast" ? "avgpool2d_backward_nhwc" : "avgpool2d_backward_nchw", dx.size + dy.size, g.N, 1, (a, b) => f === "channelsLast"
    ? [dx.ptr + 4 * a * S.x, dxs, dy.ptr + 4 * a * S.y, dys, b - a, g.H, g.W, g.C, g.OH, g.OW, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL, cip, acc]
    : [dx.ptr + 4 * a * S.x, dxs, dy.ptr + 4 * a * S.y, dys, b - a, g.C, g.H, g.W, g.OH, g.OW, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL, cip, acc])) return;
  if (f === "channelsLast") k.avgpool2d_backward_nhwc(dx.ptr, dxs, dy.ptr, dys, g.N, g.H, g.W, g.C, g.OH, g.OW, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL, cip, acc);
  else k.avgpool2d_backward_nchw(dx.ptr, dxs, dy.ptr, dys, g.N, g.C, g.H, g.W, g.OH, g.OW, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL, cip, acc);
}

/** Floats from one image to the next of the input (x), the output (y) and max pooling's dense indices (idx). */
function images(g: ConvGeometry, f: DataFormat, xs: number, ys: number): { x: number; y: number; idx: number } {
  const idx = g.C * g.OH * g.OW;
  return f === "channelsLast" ? { x: g.H * g.W * xs, y: g.OH * g.OW * ys, idx } : { x: xs, y: ys, idx };
}

/** Row stride of an [N, C] tensor whose rows are dense. */
function rowStride(t: Tensor, what: string): number {
  if (t.shape.length === 2 && (t.strides[1] === 1 || t.shape[1] === 1) && t.strides[0] >= t.shape[1]) return t.strides[0];
  throw new Error(`${what}: a ${fmt(t.shape)} tensor with strides ${fmt(t.strides)} is not rows of channels`);
}

/** y[n, c] = mean of x over H*W. Writes y ([N, C]). */
export function globalAvgPoolForward(y: Tensor, x: Tensor, N: number, H: number, W: number, C: number, f: DataFormat): void {
  const k = x.backend.kernels;
  const ys = rowStride(y, "globalAvgPool y"), xs = pixelOrImageStride(x, f, "globalAvgPool x");
  const xi = f === "channelsLast" ? H * W * xs : xs;
  if (splitCall(x.backend, f === "channelsLast" ? "global_avgpool_forward_nhwc" : "global_avgpool_forward_nchw", x.size, N, 1, (a, b) => f === "channelsLast"
    ? [y.ptr + 4 * a * ys, ys, x.ptr + 4 * a * xi, xs, b - a, H, W, C]
    : [y.ptr + 4 * a * ys, ys, x.ptr + 4 * a * xi, xs, b - a, C, H, W])) return;
  if (f === "channelsLast") k.global_avgpool_forward_nhwc(y.ptr, ys, x.ptr, xs, N, H, W, C);
  else k.global_avgpool_forward_nchw(y.ptr, ys, x.ptr, xs, N, C, H, W);
}

/** dx[n, ., ., c] (+)= dy[n, c] / (H*W). Writes dx, or accumulates. */
export function globalAvgPoolBackward(dx: Tensor, dy: Tensor, N: number, H: number, W: number, C: number, f: DataFormat, accumulate: boolean): void {
  const k = dy.backend.kernels;
  const dxs = pixelOrImageStride(dx, f, "globalAvgPool dx"), dys = rowStride(dy, "globalAvgPool dy");
  const xi = f === "channelsLast" ? H * W * dxs : dxs, acc = accumulate ? 1 : 0;
  if (splitCall(dy.backend, f === "channelsLast" ? "global_avgpool_backward_nhwc" : "global_avgpool_backward_nchw", dx.size, N, 1, (a, b) => f === "channelsLast"
    ? [dx.ptr + 4 * a * xi, dxs, dy.ptr + 4 * a * dys, dys, b - a, H, W, C, acc]
    : [dx.ptr + 4 * a * xi, dxs, dy.ptr + 4 * a * dys, dys, b - a, C, H, W, acc])) return;
  if (f === "channelsLast") k.global_avgpool_backward_nhwc(dx.ptr, dxs, dy.ptr, dys, N, H, W, C, accumulate ? 1 : 0);
  else k.global_avgpool_backward_nchw(dx.ptr, dxs, dy.ptr, dys, N, C, H, W, accumulate ? 1 : 0);
}
