/**
 * tracr-prune: grad x weight pruning of a fine-tuned compiled model (paper App. D Alg. 3, Figs 55–59).
 * The gradient is that of the *pretraining* task's loss (count a / the rankPT-th letter, read at the readout
 * index) on plain data; the top-scoring units (single weights, or rows = neurons) are zeroed one-shot, and
 * Acc O_PT / Acc O_FT on C_Te = 0 and 1 is measured after each. Fig. 59's sanity check: the histogram of
 * predicted classes after pruning one unit (many classes, not a collapse onto one).
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { allMatrices, mlpOutputs, pruneSweep, unitName } from '../../analysis/prune';
import { batchLoss } from '../../engine/evaluate';
import type { Transformer } from '../../engine/model';
import { Rng } from '../../engine/rng';
import { defineExperiment } from '../define';
import { makeTracrTask, tracrSamples, tracrTestSets } from './data';
import { finetuneStageOf, TRACR_CELL, TRACR_EVAL_SIZE, TRACR_LR_ROLES, TRACR_TASKS, TRACR_TRAIN } from './finetune';
import { finetuneNode, ptFtAccuracy, readoutClasses, TracrAccuracy } from './stages';

export const TracrPruneSchema = z
  .object({
    ...TRACR_CELL,
    prune: z
      .object({
        /** 'weight': single weights (the paper's Tracr pruning); 'row': neurons (rows, App. G). */
        granularity: z.enum(['weight', 'row']),
        /** Which matrices: 'mlp' = MLP output rows (hidden neurons), 'blocks' = every block matrix, 'all' = + embeddings/unembedding. */
        params: z.enum(['mlp', 'blocks', 'all']),
        maxUnits: z.number().int().min(0),
        /** Samples (one batch) of the pretraining task for the gradient. */
        scoringSize: z.number().int().positive(),
        iterative: z.boolean(),
        /**
         * 'gradxweight': the paper's first-order score. 'exact': the measured loss drop of zeroing each unit, re-scored
         * after every unit (greedy); finds the few weights holding a per-count wrapper that grad x weight misses.
         */
        scoring: z.enum(['gradxweight', 'exact']).default('gradxweight'),
      })
      .strict(),
  })
  .strict();
export type TracrPruneConfig = z.output<typeof TracrPruneSchema>;

export interface TracrPruneStep {
  k: number;
  unit: string | null;
  score: number | null;
  acc: TracrAccuracy;
  /** Pretraining-task loss on the scoring batch with the first k units pruned. */
  ptLoss: number;
}

export interface TracrPruneResults {
  program: string;
  lr: number;
  cTr: number;
  granularity: 'weight' | 'row';
  steps: TracrPruneStep[];
  /** Largest rise of Acc O_PT over k = 1..maxUnits (percentage points / 100), and where. */
  bestGain: { cTe0: number; cTe1: number; kAtBestCTe0: number; kAtBestCTe1: number };
  /** First-order check for k = 1: loss change predicted (-score) and observed. */
  firstOrder: { predicted: number; actual: number };
  /** Fig. 59: predicted-class counts on C_Te = 0 before and after pruning one unit, and the true O_PT classes. */
  histogram: { classes: string[]; before: number[]; afterOne: number[]; truePT: number[] };
}

export function pruneParams(model: Transformer, which: 'mlp' | 'blocks' | 'all'): string[] {
  if (which === 'mlp') return mlpOutputs(model);
  const all = allMatrices(model);
  return which === 'all' ? all : all.filter((n) => n.startsWith('blocks.'));
}

function counts(pred: Int32Array, nClasses: number): number[] {
  const c = new Array(nClasses).fill(0);
  for (const p of pred) if (p >= 0) c[p]++;
  return c;
}

const PRUNE_DEFAULT = { granularity: 'weight' as const, params: 'blocks' as const, maxUnits: 20, iterative: false };

export const prune = defineExperiment({
  id: 'tracr-prune',
  title: 'Tracr: grad x weight pruning of a fine-tuned compiled model (Figs 55–59)',
  description: 'One-shot pruning of the top-K units by grad x weight of the pretraining-task loss; Acc O_PT / O_FT after each unit; predicted-class histogram after one.',
  version: 2,
  schema: TracrPruneSchema,
  presets: {
    smoke: { program: 'counter', tasks: TRACR_TASKS.smoke, cTr: 1, ft: TRACR_TRAIN.smoke, evalSize: TRACR_EVAL_SIZE.smoke, prune: { ...PRUNE_DEFAULT, maxUnits: 5, scoringSize: 64 } },
    // The pruned model: fine-tuned at the preset's η_S (laptop 1e-4, paper 1e-3; see TRACR_LR_ROLES) on C_Tr = 1.
    laptop: { program: 'counter', tasks: TRACR_TASKS.laptop, cTr: 1, ft: { ...TRACR_TRAIN.laptop, lr: TRACR_LR_ROLES.laptop.S }, evalSize: TRACR_EVAL_SIZE.laptop, prune: { ...PRUNE_DEFAULT, scoringSize: 256 } },
    paper: { program: 'counter', tasks: TRACR_TASKS.paper, cTr: 1, ft: { ...TRACR_TRAIN.paper, lr: TRACR_LR_ROLES.paper.S }, evalSize: TRACR_EVAL_SIZE.paper, prune: { ...PRUNE_DEFAULT, scoringSize: 512 } },
  },
  stages: (cfg, seed) => [finetuneNode(finetuneStageOf(cfg), seed)],
  cost: (cfg) => cfg.prune.maxUnits * (cfg.prune.scoring === 'exact' ? 3e10 : 1e9),
  async run(cfg, ctx): Promise<TracrPruneResults> {
    const task = makeTracrTask(cfg.program, cfg.tasks);
    const stage = await ctx.stage(finetuneNode(finetuneStageOf(cfg), ctx.seed));
    const model = stage.loadModel();
    try {
      const tests = tracrTestSets(task, ctx.seed, cfg.evalSize);
      // The pretraining task: plain data, O_PT labels (its own stream, not the test sets).
      const scoring = tracrSamples(task, Rng.derive(ctx.seed, 'tracr', task.name, 'prune-scoring'), cfg.prune.scoringSize, 0, 'pt').batch;
      const spec = { granularity: cfg.prune.granularity, params: pruneParams(model, cfg.prune.params) };
      const preds: Int32Array[] = [];
      const sweep = pruneSweep(model, {
        spec,
        maxUnits: cfg.prune.maxUnits,
        scoringBatches: [scoring],
        iterative: cfg.prune.iterative || cfg.prune.scoring === 'exact',
        scoring: cfg.prune.scoring,
        evaluate: (masks: Record<string, tf.Tensor>) => {
          const p0 = readoutClasses(model, task, tests.cTe0.batch, masks);
          preds.push(p0);
          return {
            acc: { cTe0: ptFtAccuracy(p0, tests.cTe0), cTe1: ptFtAccuracy(readoutClasses(model, task, tests.cTe1.batch, masks), tests.cTe1) },
            ptLoss: batchLoss(model, scoring, { masks }),
          };
        },
      });
      const steps: TracrPruneStep[] = sweep.map((s) => ({
        k: s.k,
        unit: s.unit ? unitName(s.unit, cfg.prune.granularity) : null,
        score: s.unit?.score ?? null,
        acc: s.metrics.acc,
        ptLoss: s.metrics.ptLoss,
      }));
      const base = steps[0].acc;
      let g0 = 0;
      let g1 = 0;
      let k0 = 0;
      let k1 = 0;
      for (const s of steps.slice(1)) {
        if (s.acc.cTe0.pt - base.cTe0.pt > g0) [g0, k0] = [s.acc.cTe0.pt - base.cTe0.pt, s.k];
        if (s.acc.cTe1.pt - base.cTe1.pt > g1) [g1, k1] = [s.acc.cTe1.pt - base.cTe1.pt, s.k];
      }
      const classes = (task.compiled.outputValues ?? []).map(String);
      return {
        program: cfg.program,
        lr: cfg.ft.lr,
        cTr: cfg.cTr,
        granularity: cfg.prune.granularity,
        steps,
        bestGain: { cTe0: g0, cTe1: g1, kAtBestCTe0: k0, kAtBestCTe1: k1 },
        firstOrder: steps.length > 1 ? { predicted: -(steps[1].score ?? 0), actual: steps[1].ptLoss - steps[0].ptLoss } : { predicted: 0, actual: 0 },
        histogram: {
          classes,
          before: counts(preds[0], classes.length),
          afterOne: preds.length > 1 ? counts(preds[1], classes.length) : counts(preds[0], classes.length),
          truePT: counts(tests.cTe0.ptClass, classes.length),
        },
      };
    } finally {
      model.dispose();
    }
  },
});
