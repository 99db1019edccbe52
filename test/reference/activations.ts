// The float64 reference twins of the element-wise kernels (assembly/activations.ts):
// activations forward and backward, and the product with a dropout mask. Written for
// clarity, not speed.

type Arr = ArrayLike<number>;

/** The `act` codes of the kernels. */
export const ACT = { identity: 0, relu: 1, sigmoid: 2, tanh: 3 } as const;
export type ActCode = (typeof ACT)[keyof typeof ACT];
export const ACT_NAMES: Record<ActCode, string> = { 0: "identity", 1: "relu", 2: "sigmoid", 3: "tanh" };

function act1(v: number, act: ActCode): number {
  switch (act) {
    case ACT.identity:
      return v;
    case ACT.relu:
      return Number.isNaN(v) ? v : Math.max(v, 0);
    case ACT.sigmoid:
      return 1 / (1 + Math.exp(-v));
    case ACT.tanh:
      return Math.tanh(v);
  }
}

/** y = act(x). */
export function refActForward(x: Arr, act: ActCode): Float64Array {
  return Float64Array.from(x, (v) => act1(v, act));
}

/**
 * dx = dy * act'(.) from the saved output y (PyTorch's threshold_backward, sigmoid_backward,
 * tanh_backward): ReLU y <= 0 ? 0 : dy; sigmoid dy * y * (1 - y); tanh dy * (1 - y^2).
 */
export function refActBackward(dy: Arr, y: Arr, act: ActCode): Float64Array {
  const dx = new Float64Array(dy.length);
  for (let i = 0; i < dy.length; i++) {
    const g = dy[i], o = y[i];
    if (act === ACT.identity) dx[i] = g;
    else if (act === ACT.relu) dx[i] = o <= 0 ? 0 : g;
    else if (act === ACT.sigmoid) dx[i] = g * o * (1 - o);
    else dx[i] = g * (1 - o * o);
  }
  return dx;
}

/** y = x * mask (inverted dropout). */
export function refMul(x: Arr, mask: Arr): Float64Array {
  return Float64Array.from(x, (v, i) => v * mask[i]);
}

/** act(v) for one value: the code the fused GEMM epilogue and the activation kernels take. */
export function refAct(v: number, act: number): number {
  if (act !== ACT.identity && act !== ACT.relu && act !== ACT.sigmoid && act !== ACT.tanh) throw new Error(`refAct: unknown act code ${act}`);
  return act1(v, act as ActCode);
}
