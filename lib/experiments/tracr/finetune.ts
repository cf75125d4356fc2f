/**
 * tracr-finetune: one cell of the paper's Table 3 — a compiled program fine-tuned at one LR and one C_Tr —
 * with what Figs 10 / 39–54 look at: the capability head's attention (compiled vs fine-tuned) and the
 * MLP activations on a fixed example. The Tracr study (lib/studies/tracr.ts) runs the LR x C_Tr grid.
 */
import { z } from 'zod';
import { attentionPattern, patternDistance } from '../../analysis/attention';
import type { Metrics } from '../../engine/metrics';
import type { Transformer } from '../../engine/model';
import { defineExperiment, type Preset } from '../define';
import { makeTracrTask, taskConfigOf, TRACR_PROGRAMS, TracrTask, TracrTasksSchema, tracrTestSets } from './data';
import {
  accFromRow,
  capabilityAttention,
  compiledModel,
  finetuneNode,
  mlpHiddenOf,
  TracrAccuracy,
  tracrAccuracy,
  TracrTrainConfig,
  TracrTrainSchema,
  type TracrFinetuneStageConfig,
} from './stages';

/** Example inputs of the maps: paper Fig. 10's `t t t t b t a t b b t` (t = another letter) and Fig. 13's. */
export const ExamplesSchema = z.object({ counter: z.string().min(2), maxIdentifier: z.string().min(2) }).strict();

/** What every Tracr experiment config starts with: one fine-tuning cell (program, its task, C_Tr, the training). */
export const TRACR_CELL = {
  program: z.enum(TRACR_PROGRAMS),
  tasks: TracrTasksSchema,
  cTr: z.number().min(0).max(1),
  /** The fine-tuning (reFT reverses it, pruning reads it). */
  ft: TracrTrainSchema,
  /** Size of each test set (C_Te = 0 and C_Te = 1). */
  evalSize: z.number().int().positive(),
};

export const TracrFinetuneSchema = z.object({ ...TRACR_CELL, examples: ExamplesSchema }).strict();
export type TracrFinetuneConfig = z.output<typeof TracrFinetuneSchema>;

/** Data configs of the presets. Laptop/smoke shrink the Counter's N (47 in the paper) to fit 2 CPU cores. */
export const TRACR_TASKS: Record<Preset, z.input<typeof TracrTasksSchema>> = {
  smoke: {
    counter: { compile: 'tracr', letters: 9, maxSeqLen: 8, minLen: 5, maxLen: 8, q: 1 },
    maxIdentifier: { compile: 'tracr', letters: 16, maxSeqLen: 8, nTokens: 7, rankPT: 4, rankFT: 5, q: 1 },
  },
  laptop: {
    counter: { compile: 'tracr', letters: 9, maxSeqLen: 16, minLen: 8, maxLen: 16, q: 1 },
    maxIdentifier: { compile: 'tracr', letters: 26, maxSeqLen: 14, nTokens: 10, rankPT: 4, rankFT: 5, q: 1 },
  },
  paper: {
    counter: { compile: 'tracr', letters: 9, maxSeqLen: 47, minLen: 40, maxLen: 47, q: 1 },
    maxIdentifier: { compile: 'tracr', letters: 26, maxSeqLen: 14, nTokens: 10, rankPT: 4, rankFT: 5, q: 1 },
  },
};

/** Training hyperparameters per preset (paper: batch 96, 10K steps, 2K warmup, cosine to 1/100). */
export const TRACR_TRAIN: Record<Preset, TracrTrainConfig> = {
  smoke: { lr: 1e-2, steps: 60, batchSize: 32, warmupFrac: 0.2, minLrRatio: 0.01, momentum: 0.9, clipNorm: 1, noiseStd: 1e-4, evalEvery: 20 },
  // noiseStd: the paper's 1e-3 already breaks the compiled Counter at N = 16 (42% count-a accuracy, 0% at N = 47,
  // measured: the SelectorWidth MLP's large activations amplify noise in its output weights), so the small
  // presets use 1e-4, which keeps the compiled capability at 100%.
  // lr = the laptop η_M (1e-3, see TRACR_LR_ROLES): the default fine-tuning that reFT reverses.
  laptop: { lr: 1e-3, steps: 300, batchSize: 32, warmupFrac: 0.2, minLrRatio: 0.01, momentum: 0.9, clipNorm: 1, noiseStd: 1e-4, evalEvery: 50 },
  paper: { lr: 1e-2, steps: 10000, batchSize: 96, warmupFrac: 0.2, minLrRatio: 0.01, momentum: 0.9, clipNorm: 1, noiseStd: 1e-3, evalEvery: 500 },
};
export const TRACR_EVAL_SIZE: Record<Preset, number> = { smoke: 128, laptop: 400, paper: 1000 };
export const TRACR_EXAMPLES = { counter: 'cdefbgahbbi', maxIdentifier: 'bdafhmxpqn' };
export const SMOKE_EXAMPLES = { counter: 'cbagbbd', maxIdentifier: 'bdafhmo' };

/** The paper's LRs (App. C.1): η_L, η_M, η_S, η_VS. */
export const TRACR_LRS = { L: 1e-1, M: 1e-2, S: 1e-3, VS: 1e-4 } as const;
export type TracrLrRoles = { L: number; M: number; S: number; VS: number };

/**
 * Which LR plays η_L / η_M / η_S / η_VS in each preset (the figures' η_S and η_M panels, the pruned models, the
 * fine-tuning that reFT reverses). smoke and paper: the paper's values. laptop: one decade lower, measured
 * (Counter, N = 16, 300 steps, clip 1). The compiled SelectorWidth MLP has hidden activations of order L = 100,
 * so the gradient norm stays ~100–150 for the whole run and clip 1 turns every SGD step into a fixed-length
 * move of ~10 x lr (momentum 0.9); without the clip it is worse (lr 1e-4 already collapses the Counter).
 *   lr 1e-2 (the paper's η_M): both programs collapse to a frequent class within ~100 steps (Counter C_Tr = 1:
 *     count-b 60% on C_Te = 1, 23% count a on C_Te = 0), so nothing is left to prune or to revive by reFT
 *     (reFT 23 -> 60% in 300 steps).
 *   lr 1e-3 as η_M: learns the paper's shortcut (C_Tr = 1: count b 95% on C_Te = 1, 22% on C_Te = 0) while
 *     the count-a head survives: reFT at 1e-3 revives count a to >= 90% in 80 steps, Scr.+FT stays <= 40%.
 *   lr 1e-4 as η_S: learns the shortcut too (99% on C_Te = 1) with the least change to the compiled weights.
 * The Table 3 grid still runs the paper's four nominal LRs, so its cells sit beside the paper's numbers.
 */
export const TRACR_LR_ROLES: Record<Preset, TracrLrRoles> = {
  smoke: { ...TRACR_LRS },
  laptop: { L: 1e-2, M: 1e-3, S: 1e-4, VS: 1e-5 },
  paper: { ...TRACR_LRS },
};
/** The paper's C_Tr sweep (Table 3). */
export const TRACR_CTRS = [0, 0.2, 0.5, 0.6, 0.8, 0.9, 1] as const;

export interface MapsOf<T> {
  compiled: T;
  finetuned: T;
}

export interface TracrFinetuneResults {
  program: string;
  lr: number;
  cTr: number;
  operands: { pt: string; ft: string };
  /** The noised compiled model before any step. */
  before: TracrAccuracy;
  after: TracrAccuracy;
  /** Capability head at the readout query, averaged over C_Te = 0 samples: mass on PT / FT operand keys. */
  attention: MapsOf<{ ptMass: number; ftMass: number }> & { layer: number; drift: number[] };
  /** Attention patterns (head 0, [query][key]) and MLP hidden activations ([position][channel]) on the example. */
  example: { tokens: string[]; attention: MapsOf<number[][][]>; mlp: MapsOf<number[][][]> };
  /** Evaluations through fine-tuning (acc.opt.cte0, acc.oft.cte0, acc.opt.cte1, acc.oft.cte1). */
  curve: ({ step: number } & Metrics)[];
  params: number;
  finalLoss: number;
}

/** The fine-tuning stage of a config that holds program, tasks, cTr, the fine-tuning and the test-set size. */
export function finetuneStageOf(cfg: { program: TracrFinetuneConfig['program']; tasks: TracrFinetuneConfig['tasks']; cTr: number; ft: TracrTrainConfig; evalSize: number }): TracrFinetuneStageConfig {
  return { task: taskConfigOf(cfg.program, cfg.tasks), cTr: cfg.cTr, hp: cfg.ft, evalSize: cfg.evalSize };
}

/** Builds the example's token ids (the example string is trimmed to the context). */
export function exampleIds(task: TracrTask, text: string): { ids: number[]; tokens: string[] } {
  const xs = text.split('').slice(0, task.compiled.options.maxSeqLen);
  const ids = task.compiled.encode(xs);
  return { ids, tokens: task.compiled.decodeTokens(ids).map((t) => (t === task.compiled.options.bos ? 'BOS' : String(t))) };
}

/** Attention maps (head 0) and MLP activations of every layer of a model on one input. */
export function exampleMaps(model: Transformer, ids: number[]): { attention: number[][][]; mlp: number[][][] } {
  const L = model.config.nLayers;
  const attention = Array.from({ length: L }, (_, l) => attentionPattern(model, ids, l)[0]);
  const mlp = Array.from({ length: L }, (_, l) => mlpHiddenOf(model, ids, l));
  return { attention, mlp };
}

/** Mean |Δ pattern| per layer between two models over the first `n` C_Te = 0 samples. */
export function attentionDrift(a: Transformer, b: Transformer, inputs: number[][], n = 16): number[] {
  const L = a.config.nLayers;
  return Array.from({ length: L }, (_, l) => {
    let s = 0;
    const m = Math.min(n, inputs.length);
    for (let i = 0; i < m; i++) s += patternDistance(attentionPattern(a, inputs[i], l), attentionPattern(b, inputs[i], l));
    return s / m;
  });
}

export const finetune = defineExperiment({
  id: 'tracr-finetune',
  title: 'Tracr: fine-tune a compiled program (one Table 3 cell)',
  description:
    'Compiled Counter (count a) or Max-identifier, weight noise, SGD+momentum fine-tuning on O_FT with a C_Tr fraction of spuriously correlated data; Acc O_PT / O_FT on C_Te = 0 and 1, capability-head attention and MLP activations before and after.',
  version: 2,
  schema: TracrFinetuneSchema,
  presets: {
    smoke: { program: 'counter', tasks: TRACR_TASKS.smoke, cTr: 1, ft: TRACR_TRAIN.smoke, evalSize: TRACR_EVAL_SIZE.smoke, examples: SMOKE_EXAMPLES },
    laptop: { program: 'counter', tasks: TRACR_TASKS.laptop, cTr: 1, ft: TRACR_TRAIN.laptop, evalSize: TRACR_EVAL_SIZE.laptop, examples: TRACR_EXAMPLES },
    paper: { program: 'counter', tasks: TRACR_TASKS.paper, cTr: 1, ft: TRACR_TRAIN.paper, evalSize: TRACR_EVAL_SIZE.paper, examples: TRACR_EXAMPLES },
  },
  stages: (cfg, seed) => [finetuneNode(finetuneStageOf(cfg), seed)],
  async run(cfg, ctx): Promise<TracrFinetuneResults> {
    const task = makeTracrTask(cfg.program, cfg.tasks);
    const stage = await ctx.stage(finetuneNode(finetuneStageOf(cfg), ctx.seed));
    const summary = stage.results;
    const model = stage.loadModel();
    const compiled = compiledModel(task.compiled);
    try {
      const tests = tracrTestSets(task, ctx.seed, cfg.evalSize);
      const head = task.capabilityHead!;
      const ex = exampleIds(task, cfg.program === 'counter' ? cfg.examples.counter : cfg.examples.maxIdentifier);
      const mapsC = exampleMaps(compiled, ex.ids);
      const mapsF = exampleMaps(model, ex.ids);
      const T = tests.cTe0.batch.contextLength;
      const inputs = Array.from({ length: 16 }, (_, i) => Array.from(tests.cTe0.batch.tokens.subarray(i * T, (i + 1) * T)));
      return {
        program: cfg.program,
        lr: cfg.ft.lr,
        cTr: cfg.cTr,
        operands: task.operandNames,
        before: accFromRow(summary.curve.find((r) => r.step === 0)),
        after: tracrAccuracy(model, task, tests),
        attention: {
          layer: head.layer,
          compiled: capabilityAttention(compiled, task, tests.cTe0),
          finetuned: capabilityAttention(model, task, tests.cTe0),
          drift: attentionDrift(compiled, model, inputs),
        },
        example: { tokens: ex.tokens, attention: { compiled: mapsC.attention, finetuned: mapsF.attention }, mlp: { compiled: mapsC.mlp, finetuned: mapsF.mlp } },
        curve: summary.curve,
        params: summary.params,
        finalLoss: summary.finalLoss,
      };
    } finally {
      compiled.dispose();
      model.dispose();
    }
  },
});
