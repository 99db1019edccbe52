// Row-major float32 matrix products. One general export and the Dense layer's three:
//   gemm_f32(c, ldc, a, lda, transA, b, ldb, transB, bias, M, N, K, accumulate, act):
//       C[M,N] = act((accumulate ? C : 0) + op(A)[M,K] op(B)[K,N] (+ bias[N] when bias != 0))
//       op(A) = A[M,K] (row stride lda) or, transA = 1, A^T with A stored [K,M] (row stride lda);
//       op(B) = B[K,N] (row stride ldb) or, transB = 1, B^T with B stored [N,K] (row stride ldb);
//       C's rows are ldc floats apart (ldc >= N): only the M x N block is written, the gaps
//       between rows are not touched. Writes C (accumulate 0) or accumulates into it (1).
//   gemm_nt:           Y[M,N]  = act(X[M,K] W[N,K]^T + b[N])   writes Y (b == 0: no bias;
//                      act 0 none, 1 ReLU, 2 sigmoid 1/(1+exp(-v)), 3 tanh, fused per tile)
//   gemm_nn:           dX[M,K] = dY[M,N] W[N,K]                writes dX
//   gemm_tn_acc:       dW[N,K] += dY[M,N]^T X[M,K]              accumulates into dW
//   bias_backward_acc: db[N]   += sum_m dY[m,N]                 accumulates into db
// Every product is one driver, C[R,Q] (+)= A[R,P] B[P,Q] with C's rows ldc apart, blocked
// after Goto & van de Geijn, "Anatomy of high-performance matrix multiplication" (2008): P
// in even blocks of at most KC (784 -> 4 x 196); R in blocks of MC rows, each packed into
// MR-row micro-panels p-major (MC x KC x 4 = 128 KiB: stays in L2); Q in NR-column
// micro-panels of B packed p-major (KC x NR x 4 = 8 KiB: stays in L1 while every row tile
// of the A block streams past it). Packing A costs one pass over each A block, reused by
// every B panel; the register tile reading A in place through four row pointers measured
// ~10% slower in L1: V8 spends the loop's issue slots on the pointer increments (the loop
// below is bound by instruction issue, not by the vector units: 6 loads, 16 arithmetic
// ops, and the pointer and loop overhead, about 85% of the f32x4 mul+add peak on its own
// in L1). An
// operand that many products share, such as a convolution's weights, can be packed once
// (packOperandA/B) and passed as A_PACKED/B_PACKED.
// The register tile is MR x NR = 4 x 8: per p, 4 splat loads of A, 2 vector loads of B,
// 8 f32x4.mul + 8 f32x4.add into 8 accumulator locals (wasm SIMD has no FMA; the
// relaxed-SIMD build fuses each pair with relaxed_madd, see madd4). The p loop is not
// unrolled: V8's TurboFan emits every load of a loop body first and the arithmetic after
// it, so an unrolled body keeps 12 or 24 loaded vectors live next to the 8 accumulators
// and spills them (measured: ~25% slower); one p per iteration is 8 accumulators + 6
// loads + 1 product = 15 xmm registers, no spills. Larger tiles (5 x 8, 6 x 8, 3 x 12,
// 2 x 16) were measured slower for the same reason.
// Operands: A row-major or read transposed (A(i,p) = a[p*ld + i]) is packed with 4 x 4
// shuffle transposes resp. vector copies; B read transposed (W in gemm_nt) likewise, B
// row-major copied; partial panels are padded with zeros. Edge tiles run the full 4 x 8
// kernel on a scratch tile and copy the valid part. The scratch (~136 KiB) is memory this
// module reserves by default, so callers pass none; a threaded build gives each worker's
// instance its own with gemm_set_scratch. Every C element is a sum in p order (starting
// from the bias, zero or the accumulated C), the same in both kernels and builds: SIMD and
// scalar agree bit for bit (the relaxed build fuses the multiply-adds and agrees to
// rounding).
// sigmoid and tanh are applied per tile by the activation kernels' own SIMD functions
// (assembly/activations.ts), so a fused epilogue gives the same values as an activation layer.
import { act_forward_rows } from "./activations";
import { f32At, f32Put, madd4 } from "./common";

/** Rows of the register tile: packed A comes in micro-panels of this many rows. */
export const MR: i32 = 4;
/** Columns of the register tile (two f32x4): packed B comes in micro-panels of this many columns. */
export const NR: i32 = 8;
/** A multiple of both sides of the register tile: blocks of this many rows or columns have no edge tiles. */
export const PACK_UNIT: i32 = 8;
/** Max depth of a block: the packed B micro-panel is KC * NR * 4 = 8 KiB. */
export const KC: i32 = 256;
const MC: i32 = 128; // rows of a packed A block: MC * KC * 4 = 128 KiB (L2)

// Scratch: one B micro-panel, one packed block of A, and for edge tiles a full-size C tile
// and a zero-padded bias row.
const PACK_B_BYTES: i32 = KC * NR * 4;
const PACK_A_BYTES: i32 = MC * KC * 4;
const TILE_BYTES: i32 = MR * NR * 4;
const SCRATCH_BYTES: i32 = PACK_B_BYTES + PACK_A_BYTES + TILE_BYTES + NR * 4;
// The default scratch is the memory just past the module's static data, reserved (heap_base()
// in assembly/index.ts starts the heap after it; asconfig.json's initialMemory covers it),
// not a memory.data block: that would ship SCRATCH_BYTES of zeros in every binary.
const STATIC_SCRATCH: usize = (__heap_base + 15) & ~15;
/** First byte past the default GEMM scratch: where the caller's heap may start. */
export const STATIC_END: usize = STATIC_SCRATCH + SCRATCH_BYTES;
// Where the scratch is: module globals, so that each instance (each worker of a threaded
// build sharing one memory) can point its own at a region of its own.
let PACK_B: usize = 0, PACK_A: usize = 0, TILE: usize = 0, BIAS: usize = 0;
// The imported memory must hold the reserved scratch from the start (initialMemory).
if (STATIC_END > (<usize>memory.size() << 16)) unreachable();
gemm_set_scratch(0);

/** Bytes of scratch the GEMM kernels use. */
export function gemm_scratch_bytes(): i32 {
  return SCRATCH_BYTES;
}

/** Points this instance's GEMM scratch at `ptr` (16-byte aligned, gemm_scratch_bytes() long); 0: the module's static area. */
export function gemm_set_scratch(ptr: usize): void {
  const base = ptr ? ptr : STATIC_SCRATCH;
  PACK_B = base;
  PACK_A = PACK_B + PACK_B_BYTES;
  TILE = PACK_A + PACK_A_BYTES;
  BIAS = TILE + TILE_BYTES;
}

// How the register tile starts: from zero, from C (accumulate), from the bias row.
export const INIT_ZERO: i32 = 0;
export const INIT_LOAD: i32 = 1;
export const INIT_BIAS: i32 = 2;

// Operand layouts. A(i, p), B(p, q); ld in elements.
export const A_ROWS: i32 = 0; // A(i, p) = a[i * ld + p]  (X in gemm_nt, dY in gemm_nn)
export const A_COLS: i32 = 1; // A(i, p) = a[p * ld + i]  (dY read transposed in gemm_tn_acc)
export const B_ROWS: i32 = 0; // B(p, q) = b[p * ld + q]  (W in gemm_nn, X in gemm_tn_acc)
export const B_COLS: i32 = 1; // B(p, q) = b[q * ld + p]  (W read transposed in gemm_nt)
// Already packed (packOperandA / packOperandB below, for the same R or Q and P): an operand
// used by many products, such as a convolution's weights over its tiles, is packed once.
export const A_PACKED: i32 = 2;
export const B_PACKED: i32 = 2;

export const ACT_NONE: i32 = 0;
const ACT_RELU: i32 = 1;
const ACT_SIGMOID: i32 = 2; // 3 is tanh

/** The 4 x 4 transpose of the rows r0..r3, its row j stored to dst + j * stride. */
@inline export function transpose4Store(dst: usize, stride: usize, r0: v128, r1: v128, r2: v128, r3: v128): void {
  const t0 = f32x4.shuffle(r0, r1, 0, 4, 1, 5);
  const t1 = f32x4.shuffle(r0, r1, 2, 6, 3, 7);
  const t2 = f32x4.shuffle(r2, r3, 0, 4, 1, 5);
  const t3 = f32x4.shuffle(r2, r3, 2, 6, 3, 7);
  v128.store(dst, f32x4.shuffle(t0, t2, 0, 1, 4, 5));
  v128.store(dst + stride, f32x4.shuffle(t0, t2, 2, 3, 6, 7));
  v128.store(dst + 2 * stride, f32x4.shuffle(t1, t3, 0, 1, 4, 5));
  v128.store(dst + 3 * stride, f32x4.shuffle(t1, t3, 2, 3, 6, 7));
}

// Pack rows i0 .. i0+rows (rows <= MR) of A over p0 .. p0+kc into one micro-panel: p-major,
// MR values per p, rows past `rows` zero: the layout the register tile reads.
function packA(dst: usize, a: usize, ld: i32, layout: i32, i0: i32, rows: i32, p0: i32, kc: i32): void {
  let p = 0;
  if (ASC_FEATURE_SIMD) {
    if (rows == MR) {
      const lb = <usize>ld << 2;
      if (layout == A_COLS) {
        let s = a + (<usize>(p0 * ld + i0) << 2);
        for (; p < kc; p++, s += lb, dst += 16) v128.store(dst, v128.load(s));
        return;
      }
      // Four rows, four p at a time: a 4 x 4 transpose.
      const s = a + (<usize>(i0 * ld + p0) << 2);
      for (; p + 4 <= kc; p += 4, dst += 64) {
        const q = s + (<usize>p << 2);
        transpose4Store(dst, 16, v128.load(q), v128.load(q + lb), v128.load(q + 2 * lb), v128.load(q + 3 * lb));
      }
    }
  }
  for (; p < kc; p++, dst += 16) {
    for (let r = 0; r < MR; r++) {
      let v: f32 = 0;
      if (r < rows) v = layout == A_ROWS ? f32At(a, (i0 + r) * ld + p0 + p) : f32At(a, (p0 + p) * ld + i0 + r);
      f32Put(dst, r, v);
    }
  }
}

// Pack B[p0 .. p0+kc, q0 .. q0+cols] (cols <= NR) p-major, NR values per p, columns past
// `cols` zero.
function packB(dst: usize, b: usize, ld: i32, layout: i32, p0: i32, kc: i32, q0: i32, cols: i32): void {
  const lb = <usize>ld << 2;
  if (layout == B_ROWS) {
    let s = b + (<usize>(p0 * ld + q0) << 2);
    let p = 0;
    if (ASC_FEATURE_SIMD) {
      if (cols == NR) {
        for (; p < kc; p++, s += lb, dst += 32) {
          v128.store(dst, v128.load(s));
          v128.store(dst, v128.load(s, 16), 16);
        }
      }
    }
    for (; p < kc; p++, s += lb, dst += 32) {
      for (let c = 0; c < NR; c++) f32Put(dst, c, c < cols ? f32At(s, c) : 0);
    }
  } else {
    // B(p, q) = b[q * ld + p]: four source rows (columns of B) at a time, 4 x 4 transposes.
    for (let g = 0; g < NR; g += 4) {
      const src = b + (<usize>((q0 + g) * ld + p0) << 2);
      const d = dst + (<usize>g << 2);
      let p = 0;
      if (ASC_FEATURE_SIMD) {
        if (g + 4 <= cols) {
          for (; p + 4 <= kc; p += 4) {
            const s = src + (<usize>p << 2);
            transpose4Store(d + (<usize>p << 5), 32, v128.load(s), v128.load(s + lb), v128.load(s + 2 * lb), v128.load(s + 3 * lb));
          }
        }
      }
      for (; p < kc; p++) {
        const s = src + (<usize>p << 2);
        const t = d + (<usize>p << 5);
        for (let c = 0; c < 4; c++) f32Put(t, c, g + c < cols ? load<f32>(s + <usize>c * lb) : 0);
      }
    }
  }
}

// `count` register tiles down one B micro-panel: C[0..MR, 0..NR] (row stride ldc bytes) =
// init + sum_p A(., p) B(p, .), then max(., 0) if relu, from packed micro-panels (MR resp.
// NR values per p), then the next MR rows of C with the next A micro-panel (aStep bytes on).
// One call per B micro-panel, not per tile: measured 1-17% faster than a call per tile over
// the GEMM and convolution shapes of the benchmarks. The p loop ends on B's pointer: one
// pointer add less per iteration than a counter.
function tiles(c: usize, ldc: usize, a: usize, aStep: usize, b0: usize, kc: i32, init: i32, bias: usize, relu: bool, count: i32): void {
  if (!ASC_FEATURE_SIMD) {
    for (let t = 0; t < count; t++, c += ldc << 2, a += aStep) tileScalar(c, ldc, a, b0, kc, init, bias, relu);
    return;
  }
  const end = b0 + (<usize>kc << 5);
  for (let t = 0; t < count; t++, c += ldc << 2, a += aStep) {
    let b = b0;
    let c00: v128, c01: v128, c10: v128, c11: v128, c20: v128, c21: v128, c30: v128, c31: v128;
    if (init == INIT_LOAD) {
      c00 = v128.load(c); c01 = v128.load(c, 16);
      c10 = v128.load(c + ldc); c11 = v128.load(c + ldc, 16);
      c20 = v128.load(c + 2 * ldc); c21 = v128.load(c + 2 * ldc, 16);
      c30 = v128.load(c + 3 * ldc); c31 = v128.load(c + 3 * ldc, 16);
    } else if (init == INIT_BIAS) {
      c00 = v128.load(bias); c01 = v128.load(bias, 16);
      c10 = c00; c11 = c01; c20 = c00; c21 = c01; c30 = c00; c31 = c01;
    } else {
      c00 = f32x4.splat(0); c01 = c00; c10 = c00; c11 = c00; c20 = c00; c21 = c00; c30 = c00; c31 = c00;
    }
    let ap = a;
    while (b < end) {
      const v0 = v128.load(b), v1 = v128.load(b, 16);
      let av = v128.load32_splat(ap);
      c00 = madd4(av, v0, c00); c01 = madd4(av, v1, c01);
      av = v128.load32_splat(ap, 4);
      c10 = madd4(av, v0, c10); c11 = madd4(av, v1, c11);
      av = v128.load32_splat(ap, 8);
      c20 = madd4(av, v0, c20); c21 = madd4(av, v1, c21);
      av = v128.load32_splat(ap, 12);
      c30 = madd4(av, v0, c30); c31 = madd4(av, v1, c31);
      ap += 16; b += 32;
    }
    if (relu) {
      const z = f32x4.splat(0);
      c00 = f32x4.max(c00, z); c01 = f32x4.max(c01, z); c10 = f32x4.max(c10, z); c11 = f32x4.max(c11, z);
      c20 = f32x4.max(c20, z); c21 = f32x4.max(c21, z); c30 = f32x4.max(c30, z); c31 = f32x4.max(c31, z);
    }
    v128.store(c, c00); v128.store(c, c01, 16);
    v128.store(c + ldc, c10); v128.store(c + ldc, c11, 16);
    v128.store(c + 2 * ldc, c20); v128.store(c + 2 * ldc, c21, 16);
    v128.store(c + 3 * ldc, c30); v128.store(c + 3 * ldc, c31, 16);
  }
}

// Scalar build: the tile as four 2 x 4 quarters, eight accumulators each.
function tileScalar(c: usize, ldc: usize, a: usize, b: usize, kc: i32, init: i32, bias: usize, relu: bool): void {
  for (let i = 0; i < MR; i += 2) {
    for (let j = 0; j < NR; j += 4) {
      const r0 = c + <usize>i * ldc + (<usize>j << 2), r1 = r0 + ldc;
      let s00: f32, s01: f32, s02: f32, s03: f32, s10: f32, s11: f32, s12: f32, s13: f32;
      if (init == INIT_LOAD) {
        s00 = f32At(r0, 0); s01 = f32At(r0, 1); s02 = f32At(r0, 2); s03 = f32At(r0, 3);
        s10 = f32At(r1, 0); s11 = f32At(r1, 1); s12 = f32At(r1, 2); s13 = f32At(r1, 3);
      } else if (init == INIT_BIAS) {
        s00 = f32At(bias, j); s01 = f32At(bias, j + 1); s02 = f32At(bias, j + 2); s03 = f32At(bias, j + 3);
        s10 = s00; s11 = s01; s12 = s02; s13 = s03;
      } else {
        s00 = 0; s01 = 0; s02 = 0; s03 = 0; s10 = 0; s11 = 0; s12 = 0; s13 = 0;
      }
      let pa = a + (<usize>i << 2), pb = b + (<usize>j << 2);
      for (let k = 0; k < kc; k++, pa += 16, pb += 32) {
        const a0 = load<f32>(pa), a1 = load<f32>(pa, 4);
        const b0 = load<f32>(pb), b1 = load<f32>(pb, 4), b2 = load<f32>(pb, 8), b3 = load<f32>(pb, 12);
        s00 += a0 * b0; s01 += a0 * b1; s02 += a0 * b2; s03 += a0 * b3;
        s10 += a1 * b0; s11 += a1 * b1; s12 += a1 * b2; s13 += a1 * b3;
      }
      if (relu) {
        s00 = max(s00, 0); s01 = max(s01, 0); s02 = max(s02, 0); s03 = max(s03, 0);
        s10 = max(s10, 0); s11 = max(s11, 0); s12 = max(s12, 0); s13 = max(s13, 0);
      }
      f32Put(r0, 0, s00); f32Put(r0, 1, s01); f32Put(r0, 2, s02); f32Put(r0, 3, s03);
      f32Put(r1, 0, s10); f32Put(r1, 1, s11); f32Put(r1, 2, s12); f32Put(r1, 3, s13);
    }
  }
}

// sigmoid or tanh over rows x cols of C (row stride ldc bytes), in place.
function actTile(c: usize, ldc: usize, rows: i32, cols: i32, act: i32): void {
  const ld = <i32>(ldc >> 2);
  act_forward_rows(c, ld, c, ld, rows, cols, act);
}

// C[R, Q] (row stride ldcElems) = init + A[R, P] B[P, Q], then act. init0 is how the first P
// block starts (zero, C itself, or the bias b[Q]); later blocks continue from C.
export function gemm(c: usize, ldcElems: i32, a: usize, lda: i32, aLayout: i32, b: usize, ldb: i32, bLayout: i32,
  R: i32, Q: i32, P: i32, init0: i32, bias: usize, act: i32): void {
  if (R <= 0 || Q <= 0) return;
  const ldc = <usize>ldcElems << 2;
  // Even P blocks of at most KC (784 -> 4 x 196, not 3 x 256 + 16); one empty block when
  // P == 0 so that the bias and activation are still applied.
  const nkb = kBlocks(P), kstep = kStep(P);
  for (let kb = 0, p0 = 0; kb < nkb; kb++, p0 += kstep) {
    const kc = min(kstep, P - p0);
    const init = kb == 0 ? init0 : INIT_LOAD;
    const last = kb == nkb - 1;
    const relu = last && act == ACT_RELU;
    const slowAct = last && act >= ACT_SIGMOID;
    const panelBytes = <usize>kc << 4; // one packed A micro-panel: kc x MR floats
    for (let i0 = 0; i0 < R; i0 += MC) {
      const mc = min(MC, R - i0);
      let ablock = PACK_A;
      if (aLayout == A_PACKED) ablock = a + ((<usize>p0 * roundUp(R, MR) + <usize>i0 * kc) << 2);
      else for (let ir = 0; ir < mc; ir += MR) packA(PACK_A + <usize>(ir / MR) * panelBytes, a, lda, aLayout, i0 + ir, min(MR, mc - ir), p0, kc);
      for (let q0 = 0; q0 < Q; q0 += NR) {
        const cols = min(NR, Q - q0);
        let bp = PACK_B;
        if (bLayout == B_PACKED) bp = b + ((<usize>p0 * roundUp(Q, NR) + <usize>q0 * kc) << 2);
        else packB(PACK_B, b, ldb, bLayout, p0, kc, q0, cols);
        let bb = bias + (<usize>q0 << 2);
        if (init == INIT_BIAS && cols < NR) {
          for (let j = 0; j < NR; j++) f32Put(BIAS, j, j < cols ? f32At(bb, j) : 0);
          bb = BIAS;
        }
        const cblock = c + <usize>i0 * ldc + (<usize>q0 << 2);
        // Full tiles in place; edge tiles compute a full tile into TILE and copy the valid part.
        const full = cols == NR ? mc / MR : 0;
        tiles(cblock, ldc, ablock, panelBytes, bp, kc, init, bb, relu, full);
        let cp = cblock + <usize>full * (ldc << 2);
        let ap = ablock + <usize>full * panelBytes;
        for (let ir = full * MR; ir < mc; ir += MR, cp += ldc << 2, ap += panelBytes) {
          const rows = min(MR, mc - ir);
          if (init == INIT_LOAD) copyTileIn(cp, ldc, rows, cols);
          tiles(TILE, NR * 4, ap, 0, bp, kc, init, bb, relu, 1);
          copyTileOut(cp, ldc, rows, cols);
        }
        if (slowAct) actTile(cblock, ldc, mc, cols, act);
      }
    }
  }
}

@inline export function roundUp(n: i32, m: i32): usize {
  return <usize>((n + m - 1) / m * m);
}

/** The P blocks of the driver: how many, and how deep (all but the last; a convolution packs its patches block by block). */
@inline function kBlocks(P: i32): i32 {
  return P > 0 ? (P + KC - 1) / KC : 1;
}
@inline export function kStep(P: i32): i32 {
  return P > 0 ? (P + kBlocks(P) - 1) / kBlocks(P) : 0;
}

/** Floats of B[P, Q] packed for gemm (B_PACKED): Q rounded up to whole micro-panels, times P. Also bounds A[Q, P] packed (A_PACKED; MR divides NR). */
export function packedSize(P: i32, Q: i32): i32 {
  return <i32>roundUp(Q, NR) * P;
}

/** A[R, P] (layout A_ROWS or A_COLS, row stride lda) packed into dst as gemm reads it: per P block, MR-row micro-panels. */
export function packOperandA(dst: usize, a: usize, lda: i32, layout: i32, R: i32, P: i32): void {
  const nkb = kBlocks(P), kstep = kStep(P);
  const rpad = roundUp(R, MR);
  for (let kb = 0, p0 = 0; kb < nkb; kb++, p0 += kstep) {
    const kc = min(kstep, P - p0);
    const block = dst + ((<usize>p0 * rpad) << 2);
    for (let i = 0; i < R; i += MR) packA(block + ((<usize>i * kc) << 2), a, lda, layout, i, min(MR, R - i), p0, kc);
  }
}

/** B[P, Q] (layout B_ROWS or B_COLS, row stride ldb) packed into dst as gemm reads it: per P block, NR-column micro-panels. */
export function packOperandB(dst: usize, b: usize, ldb: i32, layout: i32, P: i32, Q: i32): void {
  const nkb = kBlocks(P), kstep = kStep(P);
  const qpad = roundUp(Q, NR);
  for (let kb = 0, p0 = 0; kb < nkb; kb++, p0 += kstep) {
    const kc = min(kstep, P - p0);
    const block = dst + ((<usize>p0 * qpad) << 2);
    for (let q = 0; q < Q; q += NR) packB(block + ((<usize>q * kc) << 2), b, ldb, layout, p0, kc, q, min(NR, Q - q));
  }
}

@inline function copyTileIn(c: usize, ldc: usize, rows: i32, cols: i32): void {
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) f32Put(TILE + (<usize>i << 5), j, f32At(c + <usize>i * ldc, j));
  }
}

@inline function copyTileOut(c: usize, ldc: usize, rows: i32, cols: i32): void {
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) f32Put(c + <usize>i * ldc, j, f32At(TILE + (<usize>i << 5), j));
  }
}

/** Y[M,N] = act(X[M,K] W[N,K]^T + b[N]); b == 0: no bias; act 0 none, 1 ReLU, 2 sigmoid, 3 tanh. Writes Y. */
export function gemm_nt(y: usize, x: usize, w: usize, b: usize, M: i32, N: i32, K: i32, act: i32): void {
  if (<u32>act > 3) unreachable(); // an unknown act code traps instead of being ignored
  gemm(y, N, x, K, A_ROWS, w, K, B_COLS, M, N, K, b ? INIT_BIAS : INIT_ZERO, b, act);
}

/** dX[M,K] = dY[M,N] W[N,K]. Writes dX. */
export function gemm_nn(dx: usize, dy: usize, w: usize, M: i32, N: i32, K: i32): void {
  gemm(dx, K, dy, N, A_ROWS, w, K, B_ROWS, M, K, N, INIT_ZERO, 0, ACT_NONE);
}

/** dW[N,K] += dY[M,N]^T X[M,K]. Accumulates into dW. */
export function gemm_tn_acc(dw: usize, dy: usize, x: usize, M: i32, N: i32, K: i32): void {
  gemm(dw, K, dy, N, A_COLS, x, K, B_ROWS, N, K, M, INIT_LOAD, 0, ACT_NONE);
}

/**
 * C[M,N] = act((accumulate ? C : 0) + op(A)[M,K] op(B)[K,N] (+ bias[N])), C's rows ldc floats
 * apart. op(A) = A (row stride lda) or A^T (transA = 1: A stored [K,M]); op(B) = B (row
 * stride ldb) or B^T (transB = 1: B stored [N,K]); bias == 0: no bias; act 0 none, 1 ReLU,
 * 2 sigmoid, 3 tanh. Writes C (accumulate 0) or accumulates into it (1). Traps on a flag out
 * of range or a leading dimension shorter than its row.
 */
export function gemm_f32(c: usize, ldc: i32, a: usize, lda: i32, transA: i32, b: usize, ldb: i32, transB: i32,
  bias: usize, M: i32, N: i32, K: i32, accumulate: i32, act: i32): void {
  if (<u32>act > 3 || <u32>transA > 1 || <u32>transB > 1 || <u32>accumulate > 1) unreachable();
  if (M <= 0 || N <= 0) return;
  const aWidth = transA ? M : K, bWidth = transB ? K : N;
  if (ldc < N || lda < aWidth || ldb < bWidth) unreachable();
  let init = INIT_ZERO;
  if (accumulate) {
    // C + bias first, then the products continue from C: the same p order as without bias.
    if (bias) addRows(c, ldc, bias, M, N);
    init = INIT_LOAD;
  } else if (bias) {
    init = INIT_BIAS;
  }
  gemm(c, ldc, a, lda, transA ? A_COLS : A_ROWS, b, ldb, transB ? B_COLS : B_ROWS, M, N, K, init, bias, act);
}

// C[i, j] += v[j] over M rows of N (row stride ldc).
function addRows(c: usize, ldc: i32, v: usize, M: i32, N: i32): void {
  const lb = <usize>ldc << 2;
  for (let i = 0; i < M; i++, c += lb) {
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      for (; j + 4 <= N; j += 4) {
        const o = <usize>j << 2;
        v128.store(c + o, f32x4.add(v128.load(c + o), v128.load(v + o)));
      }
    }
    for (; j < N; j++) f32Put(c, j, f32At(c, j) + f32At(v, j));
  }
}

/** db[N] += sum over the M rows of dY[M,N]. Accumulates into db. */
export function bias_backward_acc(db: usize, dy: usize, M: i32, N: i32): void {
  sumRowsAcc(db, dy, N, M, N);
}

/** db[N] += sum over the M rows of dY[M,N], dY's rows ldElems floats apart. Accumulates into db. */
export function sumRowsAcc(db: usize, dy: usize, ldElems: i32, M: i32, N: i32): void {
  const ld = <usize>ldElems << 2;
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    for (; j + 16 <= N; j += 16) {
      const o = <usize>j << 2;
      let s0 = f32x4.splat(0), s1 = s0, s2 = s0, s3 = s0;
      let p = dy + o;
      for (let i = 0; i < M; i++, p += ld) {
        s0 = f32x4.add(s0, v128.load(p)); s1 = f32x4.add(s1, v128.load(p, 16));
        s2 = f32x4.add(s2, v128.load(p, 32)); s3 = f32x4.add(s3, v128.load(p, 48));
      }
      const q = db + o;
      v128.store(q, f32x4.add(v128.load(q), s0)); v128.store(q, f32x4.add(v128.load(q, 16), s1), 16);
      v128.store(q, f32x4.add(v128.load(q, 32), s2), 32); v128.store(q, f32x4.add(v128.load(q, 48), s3), 48);
    }
    for (; j + 4 <= N; j += 4) {
      const o = <usize>j << 2;
      let s0 = f32x4.splat(0);
      let p = dy + o;
      for (let i = 0; i < M; i++, p += ld) s0 = f32x4.add(s0, v128.load(p));
      v128.store(db + o, f32x4.add(v128.load(db + o), s0));
    }
  }
  for (; j < N; j++) {
    let s: f32 = 0;
    let p = dy + (<usize>j << 2);
    for (let i = 0; i < M; i++, p += ld) s += load<f32>(p);
    f32Put(db, j, f32At(db, j) + s);
  }
}
