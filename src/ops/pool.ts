// Pooling ops: the only code that calls the maxpool2d_*, avgpool2d_* and global_avgpool_*
// kernels. Inputs and outputs may be channel slices (NHWC by pixel stride, NCHW by image
// stride); max pooling's indices are dense int32 in the output's layout.
import type { DataFormat } from "./bn.js";
import { type ConvGeometry, pixelOrImageStride } from "./conv.js";
import { fmt } from "../shape.js";
import type { Tensor } from "../tensor.js";

/** y = window maximum, idx = its position h*W + w in the input plane. Writes y and idx. */
export function maxPoolForward(y: Tensor, idx: Tensor, x: Tensor, g: ConvGeometry, f: DataFormat): void {
  const k = x.backend.kernels;
  const ys = pixelOrImageStride(y, f, "maxPool y"), xs = pixelOrImageStride(x, f, "maxPool x");
  if (f === "channelsLast") k.maxpool2d_forward_nhwc(y.ptr, ys, idx.ptr, x.ptr, xs, g.N, g.H, g.W, g.C, g.OH, g.OW, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL);
  else k.maxpool2d_forward_nchw(y.ptr, ys, idx.ptr, x.ptr, xs, g.N, g.C, g.H, g.W, g.OH, g.OW, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL);
}

/** dx[idx] (+)= dy. Writes dx (zeroed first), or accumulates. */
export function maxPoolBackward(dx: Tensor, dy: Tensor, idx: Tensor, g: ConvGeometry, f: DataFormat, accumulate: boolean): void {
  const k = dy.backend.kernels;
  const dxs = pixelOrImageStride(dx, f, "maxPool dx"), dys = pixelOrImageStride(dy, f, "maxPool dy");
  if (f === "channelsLast") k.maxpool2d_backward_nhwc(dx.ptr, dxs, dy.ptr, dys, idx.ptr, g.N, g.H, g.W, g.C, g.OH, g.OW, accumulate ? 1 : 0);
  else k.maxpool2d_backward_nchw(dx.ptr, dxs, dy.ptr, dys, idx.ptr, g.N, g.C, g.H, g.W, g.OH, g.OW, accumulate ? 1 : 0);
}

/** y = window mean (divided by KH*KW with countIncludePad, else by the in-bounds taps). Writes y. */
export function avgPoolForward(y: Tensor, x: Tensor, g: ConvGeometry, f: DataFormat, countIncludePad: boolean): void {
  const k = x.backend.kernels;
  const ys = pixelOrImageStride(y, f, "avgPool y"), xs = pixelOrImageStride(x, f, "avgPool x");
  const cip = countIncludePad ? 1 : 0;
  if (f === "channelsLast") k.avgpool2d_forward_nhwc(y.ptr, ys, x.ptr, xs, g.N, g.H, g.W, g.C, g.OH, g.OW, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL, cip);
  else k.avgpool2d_forward_nchw(y.ptr, ys, x.ptr, xs, g.N, g.C, g.H, g.W, g.OH, g.OW, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL, cip);
}

/** dx (+)= dy / count spread over each window. Writes dx (zeroed first), or accumulates. */
export function avgPoolBackward(dx: Tensor, dy: Tensor, g: ConvGeometry, f: DataFormat, countIncludePad: boolean, accumulate: boolean): void {
  const k = dy.backend.kernels;
  const dxs = pixelOrImageStride(dx, f, "avgPool dx"), dys = pixelOrImageStride(dy, f, "avgPool dy");
  const cip = countIncludePad ? 1 : 0, acc = accumulate ? 1 : 0;
  if (f === "channelsLast") k.avgpool2d_backward_nhwc(dx.ptr, dxs, dy.ptr, dys, g.N, g.H, g.W, g.C, g.OH, g.OW, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL, cip, acc);
  else k.avgpool2d_backward_nchw(dx.ptr, dxs, dy.ptr, dys, g.N, g.C, g.H, g.W, g.OH, g.OW, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL, cip, acc);
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
  if (f === "channelsLast") k.global_avgpool_forward_nhwc(y.ptr, ys, x.ptr, xs, N, H, W, C);
  else k.global_avgpool_forward_nchw(y.ptr, ys, x.ptr, xs, N, C, H, W);
}

/** dx[n, ., ., c] (+)= dy[n, c] / (H*W). Writes dx, or accumulates. */
export function globalAvgPoolBackward(dx: Tensor, dy: Tensor, N: number, H: number, W: number, C: number, f: DataFormat, accumulate: boolean): void {
  const k = dy.backend.kernels;
  const dxs = pixelOrImageStride(dx, f, "globalAvgPool dx"), dys = rowStride(dy, "globalAvgPool dy");
  if (f === "channelsLast") k.global_avgpool_backward_nhwc(dx.ptr, dxs, dy.ptr, dys, N, H, W, C, accumulate ? 1 : 0);
  else k.global_avgpool_backward_nchw(dx.ptr, dxs, dy.ptr, dys, N, C, H, W, accumulate ? 1 : 0);
}
