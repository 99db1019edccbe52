// Elementwise activations of the MLP and the dropout product, over n contiguous floats or over
// the rows of a strided tensor (a channel slice of a concatenation).
//   act_forward(y, x, n, act):       y = act(x); act 0 identity, 1 ReLU max(x, 0),
//                                    2 sigmoid 1 / (1 + e^-x), 3 tanh. Writes y (may alias x).
//   act_backward(dx, dy, y, n, act): dx = dy * act'(.) from the saved OUTPUT y, as PyTorch's
//                                    threshold_backward (y <= 0 ? 0 : dy), sigmoid_backward
//                                    dy * (1 - y) * y and tanh_backward dy * (1 - y^2), the
//                                    latter as dy * ((1 - y) * (1 + y)): 1 - y is exact for
//                                    y near 1, where 1 - y * y loses digits. Writes dx (may
//                                    alias dy or y: element i is read before it is written).
//   act_forward_rows(y, ys, x, xs, rows, cols, act): act_forward on `rows` rows of `cols` floats,
//                                    row r of x at x + r*xs, of y at y + r*ys (strides in floats,
//                                    >= cols): an NHWC channel slice is rows = N*H*W, cols = C,
//                                    stride = the whole tensor's channels; an NCHW one is rows = N,
//                                    cols = C*H*W, stride = the image stride. Writes y.
//   act_backward_rows(dx, dxs, dy, dys, y, ys, rows, cols, act, accumulate): act_backward over
//                                    rows likewise; accumulate != 0 adds into dx (gradient fan-in)
//                                    instead of writing it.
//   mul(y, x, mask, n):              y = x * mask (inverted dropout). Writes y.
//   exp_forward(y, x, n):            y = exp(x), the exp behind sigmoid, tanh and softmax,
//                                    exported so that its accuracy can be measured. Writes y.
// An unknown act code traps (unreachable).
//
// exp (expf4 on f32x4, expf its scalar twin; same operations in the same order, so both builds
// give the same bits; expf4Tail/expfTail take the argument as hi + lo): see Cephes Math
// Library, S. L. Moshier, expf.c. x is clamped to [-104, 89] (NaN passes through min/max),
// k = nearest(x / ln2), r = x - k ln2 with ln2 split in two (Cody-Waite: k * LN2_HI is
// exact), |r| <= ln2 / 2, exp(r) = 1 + r + r^2 P(r) with Cephes' degree-5 P, and 2^k made
// from exponent bits ((k + 127) << 23) in two halves, 2^(k >> 1) * 2^(k - (k >> 1)), so that
// overflow gives +Inf and underflow goes gradually to 0 with IEEE rounding. Max relative
// error measured on [-87, 88]: 8e-8 (test/activations.test.ts; sigmoid 1.8e-7, tanh 1.4e-7).
// sigmoid: e = exp(-|x|), (x < 0 ? e : 1) / (1 + e): no overflow, 0 and 1 at the ends.
// tanh (see Cephes tanhf.c): |x| < 0.625: x + x^3 P(x^2) (Cephes' degree-4 P); otherwise
// sign(x) (1 - 2 / (exp(2|x|) + 1)), which is +-1 once exp overflows.

const EXP_LO: f32 = -104.0; // exp(-104) < 2^-150: rounds to 0
const EXP_HI: f32 = 89.0; // exp(89) > FLT_MAX: +Inf
const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375; // 355/512: k * LN2_HI is exact for |k| < 2^15
const LN2_LO: f32 = -2.12194440e-4; // ln2 - LN2_HI
const E5: f32 = 1.9875691500e-4;
const E4: f32 = 1.3981999507e-3;
const E3: f32 = 8.3334519073e-3;
const E2: f32 = 4.1665795894e-2;
const E1: f32 = 1.6666665459e-1;
const E0: f32 = 5.0000001201e-1;

const TANH_SMALL: f32 = 0.625;
const T4: f32 = -5.70498872745e-3;
const T3: f32 = 2.06390887954e-2;
const T2: f32 = -5.37397155531e-2;
const T1: f32 = 1.33314422036e-1;
const T0: f32 = -3.33332819422e-1;

// exp in pieces shared by expf/expf4 and the tail variants: clamp and k = nearest(x / ln2),
// r = x - k ln2 (Cody-Waite), exp(r) by the polynomial, times 2^k.
@inline function expK(x: f32): f32 {
  return nearest<f32>(x * LOG2E);
}
@inline function expR(x: f32, kf: f32): f32 {
  return (x - kf * LN2_HI) - kf * LN2_LO;
}
@inline function expPoly(r: f32): f32 {
  let p = E5 * r + E4;
  p = p * r + E3;
  p = p * r + E2;
  p = p * r + E1;
  p = p * r + E0;
  return p * (r * r) + r + <f32>1;
}
@inline function expScale(p: f32, kf: f32): f32 {
  const k = <i32>kf; // i32.trunc_sat_f32_s (nontrapping-f2i): NaN gives 0
  const k1 = k >> 1;
  return p * reinterpret<f32>((k1 + 127) << 23) * reinterpret<f32>((k - k1 + 127) << 23);
}

@inline function expK4(x: v128): v128 {
  return f32x4.nearest(f32x4.mul(x, f32x4.splat(LOG2E)));
}
@inline function expR4(x: v128, kf: v128): v128 {
  return f32x4.sub(f32x4.sub(x, f32x4.mul(kf, f32x4.splat(LN2_HI))), f32x4.mul(kf, f32x4.splat(LN2_LO)));
}
@inline function expPoly4(r: v128): v128 {
  let p = f32x4.add(f32x4.mul(f32x4.splat(E5), r), f32x4.splat(E4));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(E3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(E2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(E1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(E0));
  return f32x4.add(f32x4.add(f32x4.mul(p, f32x4.mul(r, r)), r), f32x4.splat(1));
}
@inline function expScale4(p: v128, kf: v128): v128 {
  const k = i32x4.trunc_sat_f32x4_s(kf);
  const k1 = i32x4.shr_s(k, 1);
  const bias = i32x4.splat(127);
  const s1 = i32x4.shl(i32x4.add(k1, bias), 23);
  const s2 = i32x4.shl(i32x4.add(i32x4.sub(k, k1), bias), 23);
  return f32x4.mul(f32x4.mul(p, s1), s2);
}

@inline export function expf(v: f32): f32 {
  const x = min(max(v, EXP_LO), EXP_HI);
  const kf = expK(x);
  return expScale(expPoly(expR(x, kf)), kf);
}

@inline export function expf4(v: v128): v128 {
  const x = f32x4.min(f32x4.max(v, f32x4.splat(EXP_LO)), f32x4.splat(EXP_HI));
  const kf = expK4(x);
  return expScale4(expPoly4(expR4(x, kf)), kf);
}

// exp(v + lo) for a tail |lo| <= ulp(v) (say the rounding error of v = a - b, from TwoSum):
// lo joins the reduced argument r, so an argument that was rounded costs no accuracy.
@inline export function expfTail(v: f32, lo: f32): f32 {
  const x = min(max(v, EXP_LO), EXP_HI);
  const kf = expK(x);
  return expScale(expPoly(expR(x, kf) + lo), kf);
}

@inline export function expf4Tail(v: v128, lo: v128): v128 {
  const x = f32x4.min(f32x4.max(v, f32x4.splat(EXP_LO)), f32x4.splat(EXP_HI));
  const kf = expK4(x);
  return expScale4(expPoly4(f32x4.add(expR4(x, kf), lo)), kf);
}

@inline function sigmoidf(x: f32): f32 {
  const e = expf(-abs(x));
  return (x < 0 ? e : <f32>1) / (<f32>1 + e);
}

@inline function sigmoidf4(x: v128): v128 {
  const one = f32x4.splat(1);
  const e = expf4(f32x4.neg(f32x4.abs(x)));
  return f32x4.div(v128.bitselect(e, one, f32x4.lt(x, f32x4.splat(0))), f32x4.add(one, e));
}

// The final copysign keeps tanh(-0) = -0; elsewhere the sign is already right.
@inline function tanhf(x: f32): f32 {
  const ax = abs(x);
  let t: f32;
  if (ax < TANH_SMALL) {
    const z = x * x;
    let p = T4 * z + T3;
    p = p * z + T2;
    p = p * z + T1;
    p = p * z + T0;
    t = p * z * x + x;
  } else {
    t = <f32>1 - <f32>2 / (expf(ax + ax) + <f32>1);
  }
  return copysign<f32>(t, x);
}

@inline function tanhf4(x: v128): v128 {
  const one = f32x4.splat(1);
  const ax = f32x4.abs(x);
  const z = f32x4.mul(x, x);
  let p = f32x4.add(f32x4.mul(f32x4.splat(T4), z), f32x4.splat(T3));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(T2));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(T1));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(T0));
  const small = f32x4.add(f32x4.mul(f32x4.mul(p, z), x), x);
  const e = expf4(f32x4.add(ax, ax));
  const big = f32x4.sub(one, f32x4.div(f32x4.splat(2), f32x4.add(e, one)));
  const t = v128.bitselect(small, big, f32x4.lt(ax, f32x4.splat(TANH_SMALL)));
  return v128.or(t, v128.and(x, i32x4.splat(0x80000000))); // t is >= 0 or has x's sign: copysign
}

export function exp_forward(y: usize, x: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 8 <= n; i += 8) {
      const o = <usize>i << 2;
      const a = expf4(v128.load(x + o)), b = expf4(v128.load(x + o, 16));
      v128.store(y + o, a);
      v128.store(y + o, b, 16);
    }
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, expf4(v128.load(x + o)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, expf(load<f32>(x + o)));
  }
}

function reluForward(y: usize, x: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const zero = f32x4.splat(0);
    for (; i + 8 <= n; i += 8) {
      const o = <usize>i << 2;
      const a = f32x4.max(v128.load(x + o), zero), b = f32x4.max(v128.load(x + o, 16), zero);
      v128.store(y + o, a);
      v128.store(y + o, b, 16);
    }
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, f32x4.max(v128.load(x + o), zero));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, max(load<f32>(x + o), <f32>0));
  }
}

function sigmoidForward(y: usize, x: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 8 <= n; i += 8) {
      const o = <usize>i << 2;
      const a = sigmoidf4(v128.load(x + o)), b = sigmoidf4(v128.load(x + o, 16));
      v128.store(y + o, a);
      v128.store(y + o, b, 16);
    }
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, sigmoidf4(v128.load(x + o)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, sigmoidf(load<f32>(x + o)));
  }
}

function tanhForward(y: usize, x: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 8 <= n; i += 8) {
      const o = <usize>i << 2;
      const a = tanhf4(v128.load(x + o)), b = tanhf4(v128.load(x + o, 16));
      v128.store(y + o, a);
      v128.store(y + o, b, 16);
    }
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, tanhf4(v128.load(x + o)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, tanhf(load<f32>(x + o)));
  }
}

export function act_forward(y: usize, x: usize, n: i32, act: i32): void {
  if (n <= 0) return;
  forwardRun(y, x, n, act);
}

// The derivatives, per vector and per float (the SIMD and scalar loops do the same operations):
// ReLU dy where y > 0, else 0 (PyTorch's threshold_backward: 0 even for a NaN dy);
// sigmoid dy * (1 - y) * y; tanh dy * ((1 - y) * (1 + y)).
@inline function reluGrad4(dy: v128, y: v128): v128 {
  return v128.andnot(dy, f32x4.le(y, f32x4.splat(0)));
}
@inline function reluGrad(dy: f32, y: f32): f32 {
  return y <= 0 ? <f32>0 : dy;
}
@inline function sigmoidGrad4(dy: v128, y: v128): v128 {
  return f32x4.mul(f32x4.mul(dy, f32x4.sub(f32x4.splat(1), y)), y);
}
@inline function sigmoidGrad(dy: f32, y: f32): f32 {
  return dy * (<f32>1 - y) * y;
}
@inline function tanhGrad4(dy: v128, y: v128): v128 {
  const one = f32x4.splat(1);
  return f32x4.mul(dy, f32x4.mul(f32x4.sub(one, y), f32x4.add(one, y)));
}
@inline function tanhGrad(dy: f32, y: f32): f32 {
  return dy * ((<f32>1 - y) * (<f32>1 + y));
}

// dx = grad(dy, y) over n floats (acc: dx += grad), for the act code given as a constant so
// that each inlined copy keeps one derivative and no branch on act in the loop.
@inline function gradVec(act: i32, dy: v128, y: v128): v128 {
  if (act == 1) return reluGrad4(dy, y);
  if (act == 2) return sigmoidGrad4(dy, y);
  return tanhGrad4(dy, y);
}
@inline function gradOne(act: i32, dy: f32, y: f32): f32 {
  if (act == 1) return reluGrad(dy, y);
  if (act == 2) return sigmoidGrad(dy, y);
  return tanhGrad(dy, y);
}
@inline function gradLoop(act: i32, dx: usize, dy: usize, y: usize, n: i32, acc: bool): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    if (acc) {
      for (; i + 4 <= n; i += 4) {
        const o = <usize>i << 2;
        v128.store(dx + o, f32x4.add(v128.load(dx + o), gradVec(act, v128.load(dy + o), v128.load(y + o))));
      }
    } else {
      for (; i + 4 <= n; i += 4) {
        const o = <usize>i << 2;
        v128.store(dx + o, gradVec(act, v128.load(dy + o), v128.load(y + o)));
      }
    }
  }
  if (acc) {
    for (; i < n; i++) {
      const o = <usize>i << 2;
      store<f32>(dx + o, load<f32>(dx + o) + gradOne(act, load<f32>(dy + o), load<f32>(y + o)));
    }
  } else {
    for (; i < n; i++) {
      const o = <usize>i << 2;
      store<f32>(dx + o, gradOne(act, load<f32>(dy + o), load<f32>(y + o)));
    }
  }
}
function reluBackward(dx: usize, dy: usize, y: usize, n: i32, acc: bool): void {
  gradLoop(1, dx, dy, y, n, acc);
}
function sigmoidBackward(dx: usize, dy: usize, y: usize, n: i32, acc: bool): void {
  gradLoop(2, dx, dy, y, n, acc);
}
function tanhBackward(dx: usize, dy: usize, y: usize, n: i32, acc: bool): void {
  gradLoop(3, dx, dy, y, n, acc);
}

// dx = dy (acc: dx += dy) over n floats.
function identityBackward(dx: usize, dy: usize, n: i32, acc: bool): void {
  if (!acc) {
    if (dx != dy) memory.copy(dx, dy, <usize>n << 2);
    return;
  }
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(dx + o, f32x4.add(v128.load(dx + o), v128.load(dy + o)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dx + o, load<f32>(dx + o) + load<f32>(dy + o));
  }
}

@inline function backwardRun(dx: usize, dy: usize, y: usize, n: i32, act: i32, acc: bool): void {
  if (act == 0) identityBackward(dx, dy, n, acc);
  else if (act == 1) reluBackward(dx, dy, y, n, acc);
  else if (act == 2) sigmoidBackward(dx, dy, y, n, acc);
  else if (act == 3) tanhBackward(dx, dy, y, n, acc);
  else unreachable();
}

export function act_backward(dx: usize, dy: usize, y: usize, n: i32, act: i32): void {
  if (n <= 0) return;
  backwardRun(dx, dy, y, n, act, false);
}

@inline function forwardRun(y: usize, x: usize, n: i32, act: i32): void {
  if (act == 0) {
    if (y != x) memory.copy(y, x, <usize>n << 2);
  } else if (act == 1) reluForward(y, x, n);
  else if (act == 2) sigmoidForward(y, x, n);
  else if (act == 3) tanhForward(y, x, n);
  else unreachable();
}

// Rows of a strided tensor: one call of the contiguous loop per row, or one call over all
// of it when both sides are dense (strides == cols).
export function act_forward_rows(y: usize, ys: i32, x: usize, xs: i32, rows: i32, cols: i32, act: i32): void {
  if (rows <= 0 || cols <= 0) return;
  if (ys == cols && xs == cols) {
    forwardRun(y, x, rows * cols, act);
    return;
  }
  for (let r = 0; r < rows; r++) {
    forwardRun(y + (<usize>r * ys << 2), x + (<usize>r * xs << 2), cols, act);
  }
}

export function act_backward_rows(dx: usize, dxs: i32, dy: usize, dys: i32, y: usize, ys: i32, rows: i32, cols: i32, act: i32, accumulate: i32): void {
  if (rows <= 0 || cols <= 0) return;
  const acc = accumulate != 0;
  if (dxs == cols && dys == cols && ys == cols) {
    backwardRun(dx, dy, y, rows * cols, act, acc);
    return;
  }
  for (let r = 0; r < rows; r++) {
    backwardRun(dx + (<usize>r * dxs << 2), dy + (<usize>r * dys << 2), y + (<usize>r * ys << 2), cols, act, acc);
  }
}

export function mul(y: usize, x: usize, mask: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 8 <= n; i += 8) {
      const o = <usize>i << 2;
      const a = f32x4.mul(v128.load(x + o), v128.load(mask + o));
      const b = f32x4.mul(v128.load(x + o, 16), v128.load(mask + o, 16));
      v128.store(y + o, a);
      v128.store(y + o, b, 16);
    }
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, f32x4.mul(v128.load(x + o), v128.load(mask + o)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(x + o) * load<f32>(mask + o));
  }
}
