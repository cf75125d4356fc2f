/** Attention patterns from the activation cache, as plain arrays for plotting and comparing. */
import { actName, type Transformer } from '../engine/model';

/** Attention of `layer` for one token sequence: [head][query][key]. */
export function attentionPattern(model: Transformer, tokens: readonly number[], layer: number): number[][][] {
  if (layer < 0 || layer >= model.config.nLayers) throw new Error(`attentionPattern: layer ${layer} outside 0..${model.config.nLayers - 1}`);
  const name = actName('pattern', layer);
  const { logits, cache } = model.runWithCache([tokens], { names: [name] });
  const pattern = (cache.toArray(name) as number[][][][])[0];
  cache.dispose();
  logits.dispose();
  return pattern;
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
