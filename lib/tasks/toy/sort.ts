/**
 * A toy sequence task to prove the engine end to end: sort a list of digits.
 * Sequence: d_1 .. d_n SEP s_1 .. s_n, where s = sorted(d). Loss only on the sorted half (the answer).
 */
import { Batch, makeBatch } from '../../engine/data';
import { Rng } from '../../engine/rng';

export interface SortTaskConfig {
  length: number;
  digits: number;
}

export function sortVocab(cfg: SortTaskConfig): { size: number; sep: number; names: string[] } {
  const names = [...Array.from({ length: cfg.digits }, (_, i) => String(i)), '|'];
  return { size: names.length, sep: cfg.digits, names };
}

/** Model input length: n digits + SEP + n - 1 sorted digits (the last sorted digit is only a target). */
export function sortContextLength(cfg: SortTaskConfig): number {
  return 2 * cfg.length;
}

export function sortSequence(rng: Rng, cfg: SortTaskConfig): number[] {
  const xs = Array.from({ length: cfg.length }, () => rng.int(0, cfg.digits));
  return [...xs, cfg.digits, ...[...xs].sort((a, b) => a - b)];
}

/** A batch of sort sequences; weights are 1 exactly where the target is a sorted digit. */
export function sortBatch(rng: Rng, cfg: SortTaskConfig, batchSize: number): Batch {
  const T = sortContextLength(cfg);
  const batch = makeBatch(batchSize, T);
  for (let b = 0; b < batchSize; b++) {
    const seq = sortSequence(rng, cfg);
    for (let t = 0; t < T; t++) {
      batch.tokens[b * T + t] = seq[t];
      batch.targets[b * T + t] = seq[t + 1];
      batch.weights[b * T + t] = t >= cfg.length ? 1 : 0;
    }
  }
  return batch;
}
