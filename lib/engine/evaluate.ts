/** Evaluation helpers shared by experiments: weighted next-token accuracy and loss on fixed batches. */
import * as tf from '@tensorflow/tfjs';
import { weightedSpan, type Batch } from './data';
import type { ForwardOptions, Transformer } from './model';
import { spanCrossEntropy } from './model';
import { batchTensors, withWeightedSpan } from './train';

export interface TokenAccuracy {
  /** Fraction of weighted positions whose argmax equals the target. */
  tokenAccuracy: number;
  /** Fraction of rows whose every weighted position is right. */
  sequenceAccuracy: number;
  loss: number;
}

/** Teacher-forced accuracy over positions with weight > 0, in chunks of `chunk` rows to bound memory. */
export function tokenAccuracy(model: Transformer, batch: Batch, opts: Omit<ForwardOptions, 'cache'> = {}, chunk = 256): TokenAccuracy {
  const { batchSize: B, contextLength: T } = batch;
  let correct = 0;
  let total = 0;
  let rowsRight = 0;
  let lossSum = 0;
  let weightSum = 0;
  for (let s = 0; s < B; s += chunk) {
    const n = Math.min(chunk, B - s);
    const sub: Batch = {
      batchSize: n,
      contextLength: T,
      tokens: batch.tokens.subarray(s * T, (s + n) * T),
      targets: batch.targets.subarray(s * T, (s + n) * T),
      weights: batch.weights.subarray(s * T, (s + n) * T),
    };
    // Logits only over the weighted span; tensors leave the tidy and are read after it (a tidy walks the
    // values it returns, so returning dataSync() arrays would make it enumerate every element).
    const span = weightedSpan(sub) ?? { start: 0, end: T };
    const width = span.end - span.start;
    const [predT, lossT] = tf.tidy(() => {
      const t = batchTensors(sub);
      const { logits } = model.forward(t.tokens, { ...opts, logitSpan: span });
      return [tf.argMax(logits, -1), spanCrossEntropy(logits, t.targets, t.weights, span)];
    });
    const pred = predT.dataSync() as Int32Array;
    const loss = lossT.dataSync()[0];
    tf.dispose([predT, lossT]);
    let w = 0;
    for (let b = 0; b < n; b++) {
      let rowOk = true;
      for (let t = 0; t < T; t++) {
        const i = b * T + t;
        if (sub.weights[i] <= 0) continue;
        w += sub.weights[i];
        total++;
        if (pred[b * width + t - span.start] === sub.targets[i]) correct++;
        else rowOk = false;
      }
      if (rowOk) rowsRight++;
    }
    lossSum += loss * w;
    weightSum += w;
  }
  return { tokenAccuracy: total ? correct / total : 0, sequenceAccuracy: B ? rowsRight / B : 0, loss: weightSum ? lossSum / weightSum : 0 };
}

/** Weighted mean loss of one batch (no gradients). */
export function batchLoss(model: Transformer, batch: Batch, opts: Omit<ForwardOptions, 'cache'> = {}): number {
  return tf.tidy(() => {
    const t = batchTensors(batch);
    return model.loss(t.tokens, t.targets, t.weights, withWeightedSpan(opts, batch)).dataSync()[0];
  });
}
