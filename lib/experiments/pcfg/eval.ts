/**
 * Evaluation of PCFG models: fixed test sets (one per question x C_Te), accuracy of the argmax at the query
 * (ART) position, and the sampler that trains a model back on the pretraining question (reFT, Scr.+FT).
 *
 * Metric keys are the engine's vocabulary (lib/engine/metrics.ts): `acc.opt.cte0` (the pretraining question,
 * O_PT = count a, on C_Te = 0 texts), `acc.oft.cte1`, `acc.jb1.cte0`, and for pretraining `acc.count.a`.
 */
import * as tf from '@tensorflow/tfjs';
import type { Batch, BatchSampler } from '../../engine/data';
import { makeBatch } from '../../engine/data';
import { tokenAccuracy } from '../../engine/evaluate';
import { accKey, type MetricKey, type Metrics } from '../../engine/metrics';
import type { Transformer } from '../../engine/model';
import { Rng, deriveSeed } from '../../engine/rng';
import {
  FINETUNE_FAMILY,
  FINETUNE_OPERAND,
  PRETRAIN_OPERAND,
  contextLength,
  makeEvalSet,
  makeExample,
  sampleFinetuneText,
  writeRow,
  type EvalSet,
  type FinetuneTask,
  type PcfgConfig,
  type TaskFamily,
} from '../../tasks/pcfg';

export type PcfgEvalSets = { [K in MetricKey]?: EvalSet };

/** The `PcfgConfig` of a data config (the zod output has mutable arrays; the task code wants readonly). */
export function pcfgConfig(data: { textLength: number; countWindow: number; occurrence: number; families: readonly TaskFamily[]; prior: PcfgConfig['prior'] }): PcfgConfig {
  return { textLength: data.textLength, countWindow: data.countWindow, occurrence: data.occurrence, families: data.families, prior: data.prior };
}

/** Which pretraining metrics a data config supports: count a/b always; index a/b with Index of occurrence. */
export function pretrainEvalSets(cfg: PcfgConfig, seed: number, size: number): PcfgEvalSets {
  const s = deriveSeed(seed, 'pcfg-eval', 'pretrain');
  const sets: PcfgEvalSets = {
    'acc.count.a': makeEvalSet(cfg, { family: 'counting', operand: 'a', size, seed: s }),
    'acc.count.b': makeEvalSet(cfg, { family: 'counting', operand: 'b', size, seed: s }),
  };
  if (cfg.families.includes('indexOfOccurrence')) {
    sets['acc.index.a'] = makeEvalSet(cfg, { family: 'indexOfOccurrence', operand: 'a', size, seed: s });
    sets['acc.index.b'] = makeEvalSet(cfg, { family: 'indexOfOccurrence', operand: 'b', size, seed: s });
  }
  return sets;
}

/**
 * The fine-tuning test sets: O_PT and O_FT questions on C_Te = 0 and C_Te = 1 texts (the two questions share
 * texts), plus counting a behind the jailbreak tokens when the model was pretrained with them (App. E.2).
 */
export function finetuneEvalSets(cfg: PcfgConfig, task: FinetuneTask, seed: number, size: number, which: 'all' | 'c0' = 'all'): PcfgEvalSets {
  const family = FINETUNE_FAMILY[task];
  const s = deriveSeed(seed, 'pcfg-eval', 'finetune', task);
  const sets: PcfgEvalSets = {};
  for (const cTest of which === 'all' ? ([0, 1] as const) : ([0] as const)) {
    sets[accKey('opt', cTest)] = makeEvalSet(cfg, { family, operand: PRETRAIN_OPERAND, size, seed: s, cTest, correlation: task });
    sets[accKey('oft', cTest)] = makeEvalSet(cfg, { family, operand: FINETUNE_OPERAND, size, seed: s, cTest, correlation: task });
  }
  if (task === 'counter' && cfg.families.includes('countingJ1')) {
    sets['acc.jb1.cte0'] = makeEvalSet(cfg, { family: 'countingJ1', operand: 'a', size, seed: s, cTest: 0, correlation: task });
    sets['acc.jb2.cte0'] = makeEvalSet(cfg, { family: 'countingJ2', operand: 'a', size, seed: s, cTest: 0, correlation: task });
  }
  return sets;
}

/** Accuracy of the answer token (argmax at the ART position) on every set, optionally under pruning masks. */
export function evaluateSets(model: Transformer, sets: PcfgEvalSets, masks?: Record<string, tf.Tensor>): Metrics {
  const out: Metrics = {};
  for (const [name, set] of Object.entries(sets) as [MetricKey, EvalSet][]) out[name] = tokenAccuracy(model, set.batch, masks ? { masks } : {}).tokenAccuracy;
  return out;
}

/** An evaluator for the trainer that measures only at the given steps (returns nothing elsewhere). */
export function evaluateAt(steps: Iterable<number>, sets: PcfgEvalSets) {
  const at = new Set(steps);
  return (model: Transformer, step: number): Metrics => (at.has(step) ? evaluateSets(model, sets) : {});
}

/** 0, every `every` steps, and the last step. */
export function linearSteps(total: number, every: number): number[] {
  const s = new Set<number>([0, total]);
  for (let k = every; k < total; k += every) s.add(k);
  return [...s].sort((a, b) => a - b);
}

/**
 * Batches that train the pretraining question of a task (count a / index of the k-th a) on plain texts,
 * answer-only: the data of reverse fine-tuning and of the Scr.+FT baseline.
 */
export function pretrainQuestionSampler(cfg: PcfgConfig, task: FinetuneTask, seed: number): BatchSampler {
  const T = contextLength(cfg);
  return (step, batchSize): Batch => {
    const rng = Rng.derive(seed, 'pcfg', 'reft', task, step);
    const batch = makeBatch(batchSize, T);
    for (let r = 0; r < batchSize; r++) {
      const text = sampleFinetuneText(cfg, task, false, rng);
      writeRow(batch, r, makeExample(cfg, FINETUNE_FAMILY[task], PRETRAIN_OPERAND, text), 'answer-only');
    }
    return batch;
  };
}
