// The float64 reference twin of src/data/augment.ts, written as Keras 2 and SciPy spell it:
// keras_preprocessing's apply_affine_transform builds 3x3 matrices (shear with np.deg2rad, then
// zoom, multiplied in that order), transform_matrix_offset_center conjugates them with a shift
// by size/2 - 0.5, each channel goes through scipy.ndimage.affine_transform(matrix[:2, :2],
// matrix[:2, 2], order=1, mode='nearest') (ni_interpolation.c: the coordinate clamped by
// map_coordinate, linear spline weights at floor(cc), taps past the edge mirrored), and
// flip_axis reverses the columns afterwards. Input pixels are float32 x/255 as in the example.

export interface RefTransform {
  /** Degrees. */
  shear: number;
  zx: number;
  zy: number;
  flip: boolean;
}

type Mat3 = number[][];

function matmul(p: Mat3, q: Mat3): Mat3 {
  const r: Mat3 = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) r[i][j] += p[i][k] * q[k][j];
  return r;
}

/** Keras' 3x3 output-to-input matrix (rows, cols, 1) for an h x w image, or null when it applies none. */
export function refTransformMatrix(t: RefTransform, h: number, w: number): Mat3 | null {
  let m: Mat3 | null = null;
  if (t.shear !== 0) {
    const s = (t.shear * Math.PI) / 180;
    m = [[1, -Math.sin(s), 0], [0, Math.cos(s), 0], [0, 0, 1]];
  }
  if (t.zx !== 1 || t.zy !== 1) {
    const z = [[t.zx, 0, 0], [0, t.zy, 0], [0, 0, 1]];
    m = m === null ? z : matmul(m, z);
  }
  if (m === null) return null;
  const ox = h / 2 - 0.5, oy = w / 2 - 0.5;
  return matmul(matmul([[1, 0, ox], [0, 1, oy], [0, 0, 1]], m), [[1, 0, -ox], [0, 1, -oy], [0, 0, 1]]);
}

/** scipy's border handling for one tap index past the edge (mirror, as NI_GeometricTransform does for the taps). */
function tapIndex(idx: number, len: number): number {
  if (len <= 1) return 0;
  const s2 = 2 * len - 2;
  if (idx < 0) {
    idx = s2 * Math.trunc(-idx / s2) + idx;
    return idx <= 1 - len ? idx + s2 : -idx;
  }
  if (idx >= len) {
    idx -= s2 * Math.trunc(idx / s2);
    return idx >= len ? s2 - idx : idx;
  }
  return idx;
}

/** scipy.ndimage.affine_transform of one h x w plane, order=1, mode='nearest'. */
export function refAffineTransform(plane: Float64Array, h: number, w: number, m: Mat3): Float64Array {
  const out = new Float64Array(h * w);
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      const coord = [m[0][0] * i + m[0][1] * j + m[0][2], m[1][0] * i + m[1][1] * j + m[1][2]];
      const lens = [h, w];
      const starts = [0, 0];
      const weights = [[0, 0], [0, 0]];
      for (let axis = 0; axis < 2; axis++) {
        let cc = coord[axis];
        if (cc < 0) cc = 0;
        else if (cc > lens[axis] - 1) cc = lens[axis] - 1;
        starts[axis] = Math.floor(cc);
        const t = cc - starts[axis];
        weights[axis] = [1 - t, t];
      }
      let v = 0;
      for (let a = 0; a < 2; a++) {
        for (let b = 0; b < 2; b++) {
          const r = tapIndex(starts[0] + a, h), c = tapIndex(starts[1] + b, w);
          v += weights[0][a] * weights[1][b] * plane[r * w + c];
        }
      }
      out[i * w + j] = v;
    }
  }
  return out;
}

/** One channel-major uint8 image (C x h x w at src[offset..]) through `t`: float64, channel-major. */
export function refAugment(src: ArrayLike<number>, offset: number, C: number, h: number, w: number, t: RefTransform): Float64Array {
  const m = refTransformMatrix(t, h, w);
  const out = new Float64Array(C * h * w);
  for (let c = 0; c < C; c++) {
    let plane: Float64Array = new Float64Array(h * w);
    for (let p = 0; p < h * w; p++) plane[p] = Math.fround(src[offset + c * h * w + p] / 255);
    if (m !== null) plane = refAffineTransform(plane, h, w, m);
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) out[(c * h + i) * w + j] = plane[i * w + (t.flip ? w - 1 - j : j)];
    }
  }
  return out;
}

/** A channel-major C x h x w image as channels-last (h x w x C). */
export function chwToHwc(x: ArrayLike<number>, C: number, h: number, w: number): Float64Array {
  const out = new Float64Array(C * h * w);
  for (let c = 0; c < C; c++) for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) out[(i * w + j) * C + c] = x[(c * h + i) * w + j];
  return out;
}
