/** Attention patterns from the activation cache, as plain arrays for plotting and comparing. */
import * as tf from '@tensorflow/tfjs';
import type { Transformer } from '../engine/model';

/** Attention of `layer` for one token sequence: [head][query][key]. */
export function attentionPattern(model: Transformer, tokens: readonly number[], layer: number): number[][][] {
  if (layer < 0 || layer >= model.config.nLayers) throw new Error(`attentionPattern: layer ${layer} outside 0..${model.config.nLayers - 1}`);
  const name = `blocks.${layer}.attn.pattern`;
  return tf.tidy(() => {
    const { cache } = model.forward(tf.tensor2d(Array.from(tokens), [1, tokens.length], 'int32'), { cache: [name] });
    return (cache[name].arraySync() as number[][][][])[0];
  });
}

/** Mean absolute difference between two patterns of the same shape (how much fine-tuning moved attention). */
export function patternDistance(a: number[][][], b: number[][][]): number {
  let sum = 0;
  let n = 0;
  a.forEach((h, i) => h.forEach((row, q) => row.forEach((x, k) => {
    sum += Math.abs(x - b[i][q][k]);
    n++;
  })));
  return n ? sum / n : 0;
}
