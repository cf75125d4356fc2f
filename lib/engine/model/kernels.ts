/**
 * The model's numerical building blocks behind one interface, chosen once per forward pass: the fused wasm
 * kernels where they run (lib/engine/fused.ts: one kernel call where tf.js takes 5-30 small ops), plain tf.js ops
 * everywhere else. The model's maths calls `k.layerNorm(...)` and never asks which backend it is on; both
 * implementations compute the same function (to float32 rounding), which tests/engine/kernels.test.ts checks.
 */
import * as tf from '@tensorflow/tfjs';
import { fusedLayerNorm, fusedOpsActive, fusedRmsNorm, fusedRope, fusedSwiGlu, fusedWeightedCrossEntropy, nativeGelu, nativeGeluActive } from '../fused';

export interface Kernels {
  readonly kind: 'fused' | 'plain';
  /** Layernorm over the last axis with weight w and bias b ([D] each). */
  layerNorm(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor;
  /** x / sqrt(mean(x^2) + eps) * w over the last axis. */
  rmsNorm(x: tf.Tensor, w: tf.Tensor, eps: number): tf.Tensor;
  /** Rotate-half rotary embedding of x [B, H, T, d] with cos/sin tables [1 or B, 1, T, d]. */
  rope(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor;
  /** silu(gate) * up. */
  swiGlu(gate: tf.Tensor, up: tf.Tensor): tf.Tensor;
  /** GELU, tanh approximation. */
  gelu(x: tf.Tensor): tf.Tensor;
  /** sum_r w_r CE(logits_r, t_r) / max(sum_r w_r, 1e-9) for logits [..., V]; differentiable in logits. */
  crossEntropy(logits: tf.Tensor, targets: tf.Tensor, weights: tf.Tensor): tf.Scalar;
}

export const plainKernels: Kernels = {
  kind: 'plain',
  layerNorm(x, w, b, eps) {
    const { mean, variance } = tf.moments(x, -1, true);
    const xhat = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
    return tf.add(tf.mul(xhat, w), b);
  },
  rmsNorm(x, w, eps) {
    const ms = tf.mean(tf.square(x), -1, true);
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), w);
  },
  rope(x, cos, sin) {
    const half = (x.shape[3] as number) / 2;
    const x1 = tf.slice(x, [0, 0, 0, 0], [-1, -1, -1, half]);
    const x2 = tf.slice(x, [0, 0, 0, half], [-1, -1, -1, half]);
    const rotated = tf.concat([tf.neg(x2), x1], -1);
    return tf.add(tf.mul(x, cos), tf.mul(rotated, sin));
  },
  swiGlu(gate, up) {
    return tf.mul(tf.mul(gate, tf.sigmoid(gate)), up);
  },
  gelu: (x) => gelu(x),
  crossEntropy(logits, targets, weights) {
    return tf.tidy(() => {
      const V = logits.shape[logits.rank - 1] as number;
      const rows = logits.size / V;
      const logp = tf.logSoftmax(tf.reshape(logits, [rows, V]));
      const picked = tf.sum(tf.mul(logp, tf.oneHot(tf.reshape(targets, [rows]), V)), -1);
      const w = tf.reshape(weights, [rows]);
      return tf.div(tf.neg(tf.sum(tf.mul(picked, w))), tf.maximum(tf.sum(w), 1e-9)) as tf.Scalar;
    });
  },
};

export const fusedKernels: Kernels = {
  kind: 'fused',
  layerNorm: fusedLayerNorm,
  rmsNorm: fusedRmsNorm,
  rope: fusedRope,
  swiGlu: fusedSwiGlu,
  // One native kernel pair where the C kernels loaded; the plain six-op formulation otherwise (stock numerics).
  gelu: (x) => (nativeGeluActive() ? nativeGelu(x) : gelu(x)),
  crossEntropy: fusedWeightedCrossEntropy,
};

/** The kernels for the current backend: fused on wasm (unless switched off for a comparison), plain elsewhere. */
export function activeKernels(): Kernels {
  return fusedOpsActive() ? fusedKernels : plainKernels;
}

const GELU_A = 0.044715;
const GELU_S = Math.sqrt(2 / Math.PI);

/**
 * GELU, tanh approximation (minGPT's NewGELU, GPT-2's gelu_new, PyTorch's approximate='tanh'):
 * 0.5 x (1 + tanh(u)), u = s (x + a x^3). Computed as the identical x * sigmoid(2u), because
 * 1 + tanh(u) = 2 sigmoid(2u), and on wasm sigmoid is a vectorised XNNPACK kernel while tanh and pow are
 * scalar loops 20-50x slower. The gradient is written out and reuses sigmoid from the forward pass:
 * d/dx = g + x g (1 - g) 2s (1 + 3a x^2), g = sigmoid(2u).
 */
export const gelu = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  const g = tf.sigmoid(tf.mul(x, tf.add(tf.mul(tf.square(x), 2 * GELU_S * GELU_A), 2 * GELU_S)));
  save([x, g]);
  const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
    const [xs, gs] = saved;
    const du = tf.add(tf.mul(tf.square(xs), 6 * GELU_S * GELU_A), 2 * GELU_S); // d(2u)/dx
    const slope = tf.mul(tf.mul(xs, tf.mul(gs, tf.sub(1, gs))), du);
    return tf.mul(dy, tf.add(gs, slope));
  };
  return { value: tf.mul(x, g), gradFunc };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;

/**
 * GELU with the exact erf (HF's "gelu", PyTorch's default): 0.5 x (1 + erf(x / sqrt 2)); gradient
 * 0.5 (1 + erf(x / sqrt 2)) + x phi(x), phi the standard normal density.
 */
export const geluErf = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  const cdf = tf.mul(tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1), 0.5);
  save([x, cdf]);
  const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
    const [xs, cdfs] = saved;
    const pdf = tf.mul(tf.exp(tf.mul(tf.square(xs), -0.5)), 1 / Math.sqrt(2 * Math.PI));
    return tf.mul(dy, tf.add(cdfs, tf.mul(xs, pdf)));
  };
  return { value: tf.mul(x, cdf), gradFunc };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;
