/**
 * Configs of the PCFG experiments (paper §2, §4): the data scale, the pretraining stage, the fine-tuning
 * stage and the stages trained back on the pretraining task (reFT, Scr.+FT). Every experiment config is
 * built from these pieces, so a stage's config (and therefore its cache key) is the same wherever it is used.
 *
 * Three scales, one per preset (numbers and the reasons in docs/pcfg-experiments.md):
 *   smoke  — seconds: proves the pipeline, not the science.
 *   laptop — the README's calibration (text 32, count window 16, Counting + Index of occurrence, d_model 64,
 *            3 layers, 4 heads, answer token weighted 20x), shortened to fit the 2-core machine.
 *   paper  — the paper's hyper-parameters (250-token text, 6 layers x 6 heads x 192, 200K / 10K iterations,
 *            batch 96, warmup 20%, min LR = max / 100).
 */
import { z } from 'zod';
import { PCFG_PRESETS, PRIORS, TASK_FAMILIES, jailbreakPretrainConfig, type FinetuneTask, type PcfgConfig, type PriorName, type TaskFamily } from '../../tasks/pcfg';
import type { DeepPartial, Preset } from '../define';
import { ModelShapeSchema, TrainingSchema } from '../schemas';

const priorNames = Object.keys(PRIORS) as [PriorName, ...PriorName[]];

export const PcfgDataSchema = z
  .object({
    textLength: z.number().int().min(2).max(250),
    countWindow: z.number().int().positive(),
    occurrence: z.number().int().positive(),
    families: z.array(z.enum(TASK_FAMILIES as [TaskFamily, ...TaskFamily[]])).min(1),
    /** A named prior (L, M, H, ...) or [P(a), P(b), P(c)] (Scr.+FT pretrains with b dominant). */
    prior: z.union([z.enum(priorNames), z.tuple([z.number().min(0), z.number().min(0), z.number().min(0)])]),
  })
  .strict();
export type PcfgData = z.output<typeof PcfgDataSchema>;

export const PretrainStageSchema = z
  .object({
    data: PcfgDataSchema,
    model: ModelShapeSchema,
    train: TrainingSchema,
    /** Loss weight of the answer token (all other tokens weigh 1); 1 = the paper's plain next-token loss. */
    answerWeight: z.number().min(0),
    /** Size of each fixed evaluation set (count a, count b, ... on C_Te = 0). */
    evalSize: z.number().int().positive(),
  })
  .strict();
export type PretrainStage = z.output<typeof PretrainStageSchema>;

/** A fine-tuning run: O_FT = b (Counter: count b; Indexer: index of the k-th b), answer-only loss. */
export const FinetuneStageSchema = z
  .object({
    task: z.enum(['counter', 'indexer']),
    lr: z.number().positive(),
    /** C_Tr: fraction of training texts carrying the spurious correlation. */
    cTrain: z.number().min(0).max(1),
    /** App. E.1: fraction of rows drawn from the pretraining distribution instead (0 = none). */
    pretrainFraction: z.number().min(0).max(1).default(0),
    steps: z.number().int().positive(),
    batchSize: z.number().int().positive(),
    warmupFrac: z.number().min(0).max(1),
    minLrRatio: z.number().min(0).max(1),
    /** Evaluate Acc O_PT / Acc O_FT on C_Te = 0 and 1 every this many steps (and at 0 and the end). */
    evalEvery: z.number().int().positive(),
    evalSize: z.number().int().positive(),
  })
  .strict();
export type FinetuneStage = z.output<typeof FinetuneStageSchema>;

/** Training back on the pretraining task (count a on plain texts, answer-only): reFT and Scr.+FT. */
export const ReftStageSchema = z
  .object({
    lr: z.number().positive(),
    steps: z.number().int().positive(),
    batchSize: z.number().int().positive(),
    warmupFrac: z.number().min(0).max(1),
    minLrRatio: z.number().min(0).max(1),
    /** Evaluations at log-spaced steps (this many per decade), for the paper's log-x curves. */
    evalPerDecade: z.number().int().positive(),
    evalSize: z.number().int().positive(),
  })
  .strict();
export type ReftStage = z.output<typeof ReftStageSchema>;

/** The paper's fine-tuning learning rates (App. C.2); `laptop` rescales them (docs/pcfg-experiments.md). */
export type LrName = 'L' | 'M' | 'S';

export interface PcfgScale {
  pretrain: z.input<typeof PretrainStageSchema>;
  finetune: z.input<typeof FinetuneStageSchema>;
  reft: z.input<typeof ReftStageSchema>;
  /** eta_L / eta_M / eta_S of this scale. */
  lrs: Record<LrName, number>;
  /** The Scr.+FT model's pretraining prior: a and b roles swapped. */
  scratchPrior: [number, number, number];
  /**
   * Pretraining settings of the priors that need other than `pretrain.train` (docs/pcfg-experiments.md): P^H has
   * three operands to tell apart and, at the preset's LR, leaves its plateau late; at laptop a 3x LR gets it there
   * within the same 1,000 steps. Only the grids apply it (through `priorOverrides`), so the other priors' cached
   * runs keep their keys.
   */
  pretrainByPrior: Partial<Record<PriorName, { steps?: number; lr?: number }>>;
}

const adamw = (lr: number) => ({ kind: 'adamw' as const, lr, beta1: 0.9, beta2: 0.95, weightDecay: 0.1, clipNorm: 1 });

const dataOf = (p: PcfgConfig) => ({ ...p, families: [...p.families], prior: p.prior as PriorName });

export const PCFG_SCALES: Record<Preset, PcfgScale> = {
  smoke: {
    pretrain: {
      data: dataOf(PCFG_PRESETS.smoke),
      model: { dModel: 32, nLayers: 2, nHeads: 2 },
      train: { steps: 300, batchSize: 32, optimizer: adamw(3e-3), schedule: { kind: 'cosine', warmupFrac: 0.1, minLrRatio: 0.1 }, evalEvery: 150, logEvery: 25, checkpointEvery: 0 },
      answerWeight: 20,
      evalSize: 96,
    },
    finetune: { task: 'counter', lr: 1e-3, cTrain: 1, steps: 40, batchSize: 32, warmupFrac: 0.1, minLrRatio: 0.1, evalEvery: 20, evalSize: 96 },
    reft: { lr: 1e-3, steps: 60, batchSize: 32, warmupFrac: 0, minLrRatio: 0.1, evalPerDecade: 3, evalSize: 96 },
    lrs: { L: 3e-3, M: 1e-3, S: 1e-4 },
    scratchPrior: [0.001, 0.999, 0],
    pretrainByPrior: {},
  },
  laptop: {
    pretrain: {
      data: dataOf(PCFG_PRESETS.laptop),
      model: { dModel: 64, nLayers: 3, nHeads: 4 },
      train: { steps: 1000, batchSize: 64, optimizer: adamw(1e-3), schedule: { kind: 'cosine', warmupFrac: 0.1, minLrRatio: 0.01 }, evalEvery: 250, logEvery: 25, checkpointEvery: 100 },
      answerWeight: 20,
      evalSize: 200,
    },
    finetune: { task: 'counter', lr: 5e-5, cTrain: 1, steps: 200, batchSize: 32, warmupFrac: 0.2, minLrRatio: 0.01, evalEvery: 25, evalSize: 150 },
    reft: { lr: 5e-5, steps: 200, batchSize: 32, warmupFrac: 0, minLrRatio: 0.01, evalPerDecade: 6, evalSize: 150 },
    lrs: { L: 5e-4, M: 5e-5, S: 5e-6 },
    scratchPrior: [0.001, 0.999, 0],
    pretrainByPrior: { H: { lr: 3e-3 } },
  },
  paper: {
    pretrain: {
      data: dataOf(PCFG_PRESETS.paper),
      model: { dModel: 192, nLayers: 6, nHeads: 6, dropout: 0.1 },
      train: { steps: 200_000, batchSize: 96, optimizer: adamw(1e-3), schedule: { kind: 'cosine', warmupFrac: 0.2, minLrRatio: 0.01 }, evalEvery: 10_000, logEvery: 100, checkpointEvery: 5_000 },
      answerWeight: 1,
      evalSize: 2000,
    },
    finetune: { task: 'counter', lr: 1e-5, cTrain: 1, steps: 10_000, batchSize: 96, warmupFrac: 0.2, minLrRatio: 0.01, evalEvery: 500, evalSize: 2000 },
    reft: { lr: 1e-5, steps: 10_000, batchSize: 96, warmupFrac: 0.2, minLrRatio: 0.01, evalPerDecade: 8, evalSize: 2000 },
    lrs: { L: 1e-4, M: 1e-5, S: 1e-6 },
    scratchPrior: [0.001, 0.999, 0],
    pretrainByPrior: {},
  },
};

/** What every PCFG experiment's config starts with: the pretraining stage. */
export interface WithPretrain {
  pretrain: z.input<typeof PretrainStageSchema>;
}

/**
 * The overrides that select a prior's pretrained model at a preset: the prior, plus its own steps and LR where the
 * scale gives them. Every grid (studies, notebooks, `pcfg.load`) selects priors through this.
 */
export function priorOverrides(preset: Preset, prior: PriorName): DeepPartial<WithPretrain> {
  const own = PCFG_SCALES[preset].pretrainByPrior[prior] ?? {};
  const train = { ...(own.steps === undefined ? {} : { steps: own.steps }), ...(own.lr === undefined ? {} : { optimizer: { lr: own.lr } }) };
  return { pretrain: { data: { prior }, ...(Object.keys(train).length ? { train } : {}) } } as DeepPartial<WithPretrain>;
}

/** How many steps a prior's model pretrains at a preset (its own count, else the scale's). */
export function pretrainSteps(preset: Preset, prior: PriorName): number {
  return PCFG_SCALES[preset].pretrainByPrior[prior]?.steps ?? PCFG_SCALES[preset].pretrain.train.steps;
}

/** The paper's main-text training correlations and test correlations. */
export const C_TRAINS = [0, 0.5, 0.8, 1] as const;
export const C_TESTS = [0, 1] as const;
export const PRIOR_NAMES = ['L', 'M', 'H'] as const;

export const lrOf = (preset: Preset, name: LrName): number => PCFG_SCALES[preset].lrs[name];

/** Overrides merged left to right (objects key by key). */
export function mergeOverrides<T>(...parts: DeepPartial<T>[]): DeepPartial<T> {
  const out: Record<string, unknown> = {};
  const put = (into: Record<string, unknown>, from: Record<string, unknown>) => {
    for (const [k, v] of Object.entries(from)) {
      if (v && typeof v === 'object' && !Array.isArray(v) && into[k] && typeof into[k] === 'object' && !Array.isArray(into[k])) put(into[k] as Record<string, unknown>, v as Record<string, unknown>);
      else into[k] = v;
    }
  };
  for (const p of parts) put(out, p as Record<string, unknown>);
  return out as DeepPartial<T>;
}

/** A fine-tuning cell: prior, fine-tuning LR, C_Tr, task (Counter / Indexer), and what else the cell changes. */
export interface CellSpec {
  prior: PriorName;
  lr: LrName;
  cTrain: number;
  task?: FinetuneTask;
  /** E.1's share of pretraining rows. */
  pretrainFraction?: number;
  /** E.2: pretrain with the jailbreak tokens' families too. */
  jailbreak?: boolean;
}

export const jailbreakFamilies = (preset: Preset) => [...jailbreakPretrainConfig(PCFG_PRESETS[preset]).families];

/** The overrides of a cell for any experiment whose config has `pretrain` and `finetune`. */
export function cellOverrides(preset: Preset, c: CellSpec): DeepPartial<WithPretrain & { finetune: z.input<typeof FinetuneStageSchema> }> {
  type Cell = WithPretrain & { finetune: z.input<typeof FinetuneStageSchema> };
  return mergeOverrides<Cell>(
    priorOverrides(preset, c.prior) as DeepPartial<Cell>,
    c.jailbreak ? { pretrain: { data: { families: jailbreakFamilies(preset) } } } : {},
    { finetune: { lr: lrOf(preset, c.lr), cTrain: c.cTrain, ...(c.task ? { task: c.task } : {}), ...(c.pretrainFraction ? { pretrainFraction: c.pretrainFraction } : {}) } },
  );
}

