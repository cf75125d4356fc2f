/** The training loss: weighted next-token cross-entropy, optionally over a span of positions only. */
import * as tf from '@tensorflow/tfjs';
import { activeKernels } from './kernels';
import type { PositionSpan } from './transformer';

/** sum_t w_t * CE(logits_t, target_t) / sum_t w_t. */
export function weightedCrossEntropy(logits: tf.Tensor3D, targets: tf.Tensor2D, weights: tf.Tensor2D): tf.Scalar {
  return activeKernels().crossEntropy(logits, targets, weights);
}

/** weightedCrossEntropy of logits computed over `span` only (forward's logitSpan) against full-length targets and weights. */
export function spanCrossEntropy(logits: tf.Tensor3D, targets: tf.Tensor2D, weights: tf.Tensor2D, span?: PositionSpan): tf.Scalar {
  if (!span || logits.shape[1] === targets.shape[1]) return weightedCrossEntropy(logits, targets, weights);
  const [B, n] = [targets.shape[0], span.end - span.start];
  return weightedCrossEntropy(logits, tf.slice(targets, [0, span.start], [B, n]), tf.slice(weights, [0, span.start], [B, n]));
}
