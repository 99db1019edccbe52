// Inference-mode Batch Normalization: with the running estimates fixed, BN is the per-channel
// affine map y = a*x + b (Ioffe & Szegedy 2015, Alg. 2), a = gamma / sqrt(runVar + eps),
// b = beta - a * runMean (XNNPACK's vmulcaddc). One pass: a read and a write. Optional fused
// ReLU (relu != 0). Writes y.
import { f32At, f32Put } from "./common";
import { colAffine } from "./columns";
import { planeScaleShift } from "./planes";

// a[C], b[C] from the parameters and running estimates (float64 arithmetic). Writes a, b.
export function bn_fold(a: usize, b: usize, gamma: usize, beta: usize, runMean: usize, runVar: usize, eps: f32, C: i32): void {
  for (let c = 0; c < C; c++) {
    const ac = <f64>f32At(gamma, c) / Math.sqrt(<f64>f32At(runVar, c) + <f64>eps);
    f32Put(a, c, <f32>ac);
    f32Put(b, c, <f32>(<f64>f32At(beta, c) - ac * <f64>f32At(runMean, c)));
  }
}

export function scale_shift_nc(y: usize, x: usize, a: usize, b: usize, rows: i32, C: i32, relu: i32): void {
  const lo: f32 = relu ? 0 : -Infinity;
  colAffine(y, C, x, 0, a, b, lo, rows, C);
}

export function scale_shift_nchw(y: usize, x: usize, a: usize, b: usize, N: i32, C: i32, HW: i32, relu: i32): void {
  const lo: f32 = relu ? 0 : -Infinity;
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const o = <usize>((n * C + c) * HW) << 2;
      planeScaleShift(y + o, x + o, HW, f32At(a, c), f32At(b, c), lo);
    }
  }
}
