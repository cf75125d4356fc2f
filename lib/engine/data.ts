/**
 * The one batch format every task hands to the trainer and the analyses.
 * Row-major [batch, context] arrays. `weights[b, t]` is the loss weight for predicting
 * `targets[b, t]` from `tokens[b, 0..t]`: 1 everywhere for next-token loss, 1 only at the answer
 * position for answer-only loss, 0 at padding.
 */
import type { PositionSpan } from './model';

export interface Batch {
  batchSize: number;
  contextLength: number;
  tokens: Int32Array;
  targets: Int32Array;
  weights: Float32Array;
}

/**
 * The smallest range of positions [start, end) holding every non-zero weight of the batch, or undefined when it is
 * the whole context (or there is none). The loss and accuracy need logits only there (`ForwardOptions.logitSpan`).
 */
export function weightedSpan(batch: Batch): PositionSpan | undefined {
  const T = batch.contextLength;
  let start = T;
  let end = 0;
  for (let i = 0; i < batch.weights.length; i++) {
    if (batch.weights[i] === 0) continue;
    const t = i % T;
    if (t < start) start = t;
    if (t + 1 > end) end = t + 1;
  }
  return start < end && !(start === 0 && end === T) ? { start, end } : undefined;
}

/** A stream of training batches. `step` is passed so a resumed run draws exactly the same data. */
export type BatchSampler = (step: number, batchSize: number) => Batch;

export function makeBatch(batchSize: number, contextLength: number): Batch {
  const n = batchSize * contextLength;
  return {
    batchSize,
    contextLength,
    tokens: new Int32Array(n),
    targets: new Int32Array(n),
    weights: new Float32Array(n),
  };
}

/**
 * Packs token sequences (each at most contextLength + 1 long) into a next-token batch:
 * tokens = seq[0..T-1], targets = seq[1..T], padded with `padId` and weight 0 past the end.
 * `weightAt(i, t)` gives the loss weight of sequence i's target position t (default 1).
 */
export function packSequences(
  seqs: readonly (readonly number[])[],
  contextLength: number,
  padId: number,
  weightAt: (i: number, t: number) => number = () => 1,
): Batch {
  const batch = makeBatch(seqs.length, contextLength);
  for (let i = 0; i < seqs.length; i++) {
    const s = seqs[i];
    if (s.length > contextLength + 1) {
      throw new Error(`sequence ${i} has ${s.length} tokens; the context holds ${contextLength} (+1 target)`);
    }
    for (let t = 0; t < contextLength; t++) {
      const o = i * contextLength + t;
      batch.tokens[o] = t < s.length ? s[t] : padId;
      const hasTarget = t + 1 < s.length;
      batch.targets[o] = hasTarget ? s[t + 1] : padId;
      batch.weights[o] = hasTarget ? weightAt(i, t) : 0;
    }
  }
  return batch;
}
