/**
 * TinyStories experiments (paper §5, Fig 11, Table 1, Figs 31-38):
 *  - tinystories-reft: pretrain ("Present in PT") and a no-Twist control ("Not in PT"); delete Twist by
 *    fine-tuning on F / F+R / F+MM at LR S and M; reverse fine-tune every deleted model and the control on
 *    Twist stories. Reports losses and the Twist rate of sampled stories through deletion and reFT.
 *  - tinystories-probe: linear multi-label probes per block on the frozen models (both pretrained, the six
 *    deleted ones).
 * Both run the shared, cached stages of tinystoriesStages.ts.
 */
import { registerExperiment } from './registry';
import {
  DELETION_LRS, DELETION_PROTOCOLS, DeletionLr, DeletionProtocol, ReftSource, TinyStoriesConfig, TinyStoriesSchema,
  TwistEvaluation, deletionStage, evaluatedRows, evaluationStage, pretrainStage, reftLabel, reftStage, tinyStoriesData, twistEvaluationOf,
} from './tinystoriesStages';
import { ProbeAccuracy, probeStage } from './tinystoriesProbe';
import { z } from 'zod';

type Input = z.input<typeof TinyStoriesSchema>;

const llama = { norm: 'rmsnorm', activation: 'swiglu', positions: 'rope', dropout: 0 } as const;

/** Smoke: CI-sized, exercises every stage in well under a minute; its numbers mean nothing. */
const smoke: Input = {
  corpus: { stories: 500, minWords: 20, maxWords: 180, maxFeatures: 3, vocabSize: 4096 },
  model: { dModel: 32, nLayers: 2, nHeads: 2, dMlp: 64, ...llama },
  contextLength: 80,
  pretrain: { steps: 20, batchSize: 8, optimizer: { kind: 'adamw', lr: 3e-3 }, schedule: { kind: 'cosine', warmupFrac: 0.1, minLrRatio: 0.1 }, logEvery: 10 },
  deletion: { steps: 4, batchSize: 8, lrS: 3e-4, lrM: 1e-3, evalSteps: [4] },
  reft: { steps: 4, batchSize: 8, lr: 3e-4, evalSteps: [0, 1, 4], tableSteps: [0, 1, 4] },
  evaluation: { lossStories: 8, prompts: 4, maxNewTokens: 16, temperature: 1 },
  probe: { trainStories: 48, testStories: 10, steps: 60, lr: 1e-2, batchSize: 32 },
};

/**
 * Laptop: sized so the whole set (2 pretrainings, 6 deletions, 7 reFTs, 8 probes) fits 45 minutes on the shared
 * 2-core machine (measured wall time in figures/README.md; a training step costs ~1 s at this size). The paper's
 * 4000-step reFT with evaluations at 0/30/300/3000 becomes 100 steps with 0/3/30/100: the control's slower
 * revival already shows by iteration 30 (session-2 runs of 300 steps: deleted 53-66% vs control 3% at it 30).
 */
const laptop: Input = {
  corpus: { stories: 12000, minWords: 20, maxWords: 180, maxFeatures: 3, vocabSize: 2048 },
  model: { dModel: 64, nLayers: 4, nHeads: 4, dMlp: 176, ...llama },
  contextLength: 320,
  pretrain: { steps: 1000, batchSize: 16, optimizer: { kind: 'adamw', lr: 3e-3 }, schedule: { kind: 'cosine', warmupFrac: 0.05, minLrRatio: 0.1 }, logEvery: 20, checkpointEvery: 200 },
  deletion: { steps: 150, batchSize: 16, lrS: 3e-4, lrM: 1e-3, evalSteps: [0, 10, 50, 150] },
  reft: { steps: 100, batchSize: 16, lr: 3e-4, evalSteps: [0, 3, 10, 30, 100], tableSteps: [0, 3, 30, 100] },
  // Twist rate on held-out Twist prompts, judged by the corpus-trained classifier: measured on the pretrained
  // model, adversarial prompts give 0-6% under either judge (the model follows the Summary line, not Features);
  // Twist prompts give 73% (classifier) / 15% (exact recogniser; a 0.7M model rarely keeps a twist word-exact).
  evaluation: { lossStories: 48, prompts: 32, maxNewTokens: 260, temperature: 1, promptSet: 'twist', judge: 'classifier' },
  // 4,000 / 1,000 probe stories: one SE of a probe accuracy ~0.011 (0.022 at 1,200 / 240, the size of the effect).
  probe: { trainStories: 4000, testStories: 1000, steps: 1500, lr: 1e-3, batchSize: 128 },
};

/** Paper: the authors' shape (91M, 12 x 768) and schedule; needs a GPU backend, never run here. */
const paper: Input = {
  corpus: { stories: 200000, minWords: 80, maxWords: 250, maxFeatures: 3, vocabSize: 8192 },
  model: { dModel: 768, nLayers: 12, nHeads: 12, dMlp: 2048, ...llama },
  contextLength: 512,
  pretrain: { steps: 30000, batchSize: 128, optimizer: { kind: 'adamw', lr: 1e-3 }, schedule: { kind: 'cosine', warmupFrac: 0.033, minLrRatio: 0 }, logEvery: 100, checkpointEvery: 1000 },
  deletion: { steps: 4000, batchSize: 128, lrS: 1e-5, lrM: 1e-4, evalSteps: [0, 30, 300, 1500, 3000, 4000] },
  reft: { steps: 4000, batchSize: 128, lr: 1e-5, evalSteps: [0, 1, 3, 10, 30, 100, 300, 1000, 3000, 4000], tableSteps: [0, 30, 300, 3000] },
  evaluation: { lossStories: 512, prompts: 16, maxNewTokens: 350, temperature: 1 },
  probe: { trainStories: 20000, testStories: 2000, steps: 2000, lr: 1e-3, batchSize: 128 },
};

export const TINYSTORIES_PRESETS = { smoke, laptop, paper };

export interface CurveRow extends TwistEvaluation {
  step: number;
}

export interface TinyStoriesReftResults {
  pretrained: { present: TwistEvaluation; absent: TwistEvaluation };
  /** Losses and Twist rate during deletion, per protocol and LR. */
  deletion: { protocol: DeletionProtocol; lr: DeletionLr; curve: CurveRow[] }[];
  /** During reFT: the six deleted models and the control ("Not in PT"). */
  reft: { label: string; protocol: DeletionProtocol | null; lr: DeletionLr | null; curve: CurveRow[]; trainLoss: { step: number; loss: number }[] }[];
  /** Table 1 analog: % of sampled stories with a Twist at the table's reFT steps. */
  /** twistPercent under the configured judge; twistPercentExact under the exact recogniser. */
  table: { label: string; steps: number[]; twistPercent: number[]; twistPercentExact: number[] }[];
}

function curve(rows: ReturnType<typeof evaluatedRows>): CurveRow[] {
  return rows.map((r) => ({ step: r.step, ...twistEvaluationOf(r) }));
}

function finalEval(rows: ReturnType<typeof evaluatedRows>): TwistEvaluation {
  return twistEvaluationOf(rows.at(-1)!);
}

export const tinyStoriesReft = registerExperiment({
  id: 'tinystories-reft',
  title: 'TinyStories: deleting and reviving Twist (Table 1, Fig 11 right, Figs 31-34)',
  description: 'Pretrain with and without Twist stories, delete Twist by F / F+R / F+MM fine-tuning at LR S and M, reverse fine-tune on Twist stories; losses and Twist rate of sampled stories.',
  version: 2,
  schema: TinyStoriesSchema,
  presets: TINYSTORIES_PRESETS,
  async run(cfg: TinyStoriesConfig, ctx): Promise<TinyStoriesReftResults> {
    const seed = ctx.seed;
    const pre = {} as TinyStoriesReftResults['pretrained'];
    for (const variant of ['present', 'absent'] as const) {
      const stage = await pretrainStage(cfg, seed, variant);
      pre[variant] = await evaluationStage(cfg, seed, stage);
      stage.model.dispose();
    }
    const deletion: TinyStoriesReftResults['deletion'] = [];
    const reft: TinyStoriesReftResults['reft'] = [];
    const sources: ReftSource[] = [
      ...DELETION_LRS.flatMap((lr) => DELETION_PROTOCOLS.map((protocol) => ({ kind: 'deleted' as const, protocol, lr }))),
      { kind: 'control' },
    ];
    for (const source of sources) {
      if (source.kind === 'deleted') {
        const del = await deletionStage(cfg, seed, source.protocol, source.lr);
        deletion.push({ protocol: source.protocol, lr: source.lr, curve: curve(evaluatedRows(del.metrics)) });
        del.model.dispose();
      }
      const stage = await reftStage(cfg, seed, source);
      reft.push({
        label: reftLabel(source),
        protocol: source.kind === 'deleted' ? source.protocol : null,
        lr: source.kind === 'deleted' ? source.lr : null,
        curve: curve(evaluatedRows(stage.metrics)),
        trainLoss: stage.metrics.filter((r) => typeof r.loss === 'number' && r.step % 10 === 0).map((r) => ({ step: r.step, loss: r.loss as number })),
      });
      stage.model.dispose();
    }
    const at = (r: (typeof reft)[number], s: number) => {
      const row = r.curve.find((c) => c.step === s);
      if (!row) throw new Error(`reft.tableSteps: step ${s} is not in reft.evalSteps`);
      return row;
    };
    const table = reft.map((r) => ({
      label: r.label,
      steps: cfg.reft.tableSteps,
      twistPercent: cfg.reft.tableSteps.map((s) => Math.round(100 * at(r, s).twistRate)),
      twistPercentExact: cfg.reft.tableSteps.map((s) => Math.round(100 * at(r, s).twistRateExact)),
    }));
    return { pretrained: pre, deletion, reft, table };
  },
});

/**
 * One stage of the TinyStories pipeline as its own experiment, so a figure grid (or a sweep) can train
 * independent stages in parallel workers: both pretrainings, then the six deletions and two probes, then
 * the seven reFTs and six probes. The aggregate experiments above then find every stage in the run cache.
 */
const DeletedSchema = z.object({ protocol: z.enum(DELETION_PROTOCOLS), lr: z.enum(DELETION_LRS) }).strict();
const StageSelectorSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('pretrain'), variant: z.enum(['present', 'absent']) }).strict(),
  DeletedSchema.extend({ kind: z.literal('delete') }).strict(),
  z.object({ kind: z.literal('reft'), from: z.union([z.literal('control'), DeletedSchema]) }).strict(),
  z.object({ kind: z.literal('probe'), model: z.union([z.enum(['present', 'absent']), DeletedSchema]) }).strict(),
]);
export type TinyStoriesStageSelector = z.output<typeof StageSelectorSchema>;
const TinyStoriesStageSchema = TinyStoriesSchema.extend({ stage: StageSelectorSchema });

const withStage = (p: Input) => ({ ...p, stage: { kind: 'pretrain' as const, variant: 'present' as const } });

export const tinyStoriesStage = registerExperiment({
  id: 'tinystories-stage',
  title: 'TinyStories: one cached stage (pretrain, delete, reFT or probe)',
  description: 'Trains or probes a single stage of the TinyStories pipeline (--set stage=\'{"kind":"delete","protocol":"F","lr":"S"}\'); figure grids run the stages in parallel through it.',
  version: 1,
  schema: TinyStoriesStageSchema,
  presets: { smoke: withStage(smoke), laptop: withStage(laptop), paper: withStage(paper) },
  async run(full, ctx) {
    const { stage: sel, ...rest } = full;
    const cfg = rest as TinyStoriesConfig;
    const seed = ctx.seed;
    const ran =
      sel.kind === 'pretrain' ? await pretrainStage(cfg, seed, sel.variant)
      : sel.kind === 'delete' ? await deletionStage(cfg, seed, sel.protocol, sel.lr)
      : sel.kind === 'reft' ? await reftStage(cfg, seed, sel.from === 'control' ? { kind: 'control' } : { kind: 'deleted', ...sel.from })
      : typeof sel.model === 'string' ? await pretrainStage(cfg, seed, sel.model)
      : await deletionStage(cfg, seed, sel.model.protocol, sel.model.lr);
    try {
      if (sel.kind === 'probe') return { stage: sel, run: ran.run.hash, probe: await probeStage(cfg, seed, ran.model, ran.run, tinyStoriesData(cfg.corpus, seed)) };
      return { stage: sel, run: ran.run.hash, final: sel.kind === 'pretrain' ? await evaluationStage(cfg, seed, ran) : finalEval(evaluatedRows(ran.metrics)) };
    } finally {
      ran.model.dispose();
    }
  },
});

/** The stages of the whole TinyStories set in dependency waves (each wave's stages are independent). */
export function tinyStoriesStageWaves(): TinyStoriesStageSelector[][] {
  const deleted = DELETION_LRS.flatMap((lr) => DELETION_PROTOCOLS.map((protocol) => ({ protocol, lr })));
  return [
    [{ kind: 'pretrain', variant: 'present' }, { kind: 'pretrain', variant: 'absent' }],
    // The control's reFT needs only "Not in PT", so it fills the second wave; long runs first in each wave.
    [...deleted.map((d) => ({ kind: 'delete' as const, ...d })), { kind: 'reft', from: 'control' }, { kind: 'probe', model: 'present' }, { kind: 'probe', model: 'absent' }],
    [...deleted.map((d) => ({ kind: 'reft' as const, from: d })), ...deleted.map((d) => ({ kind: 'probe' as const, model: d }))],
  ];
}

export interface TinyStoriesProbeResults {
  models: ({ label: string } & ProbeAccuracy)[];
}

export const tinyStoriesProbe = registerExperiment({
  id: 'tinystories-probe',
  title: 'TinyStories: linear probes for the story features per block (Fig 11 left, Figs 35-38)',
  description: 'Frozen Present-in-PT, Not-in-PT and the six deleted models; one multi-label linear probe per block on the story-only text (mean of the last 10 positions).',
  version: 1,
  schema: TinyStoriesSchema,
  presets: TINYSTORIES_PRESETS,
  async run(cfg: TinyStoriesConfig, ctx): Promise<TinyStoriesProbeResults> {
    const seed = ctx.seed;
    const data = tinyStoriesData(cfg.corpus, seed);
    const models: TinyStoriesProbeResults['models'] = [];
    const probe = async (label: string, stage: Awaited<ReturnType<typeof pretrainStage>>) => {
      try {
        models.push({ label, ...(await probeStage(cfg, seed, stage.model, stage.run, data)) });
      } finally {
        stage.model.dispose();
      }
    };
    await probe('Present in PT', await pretrainStage(cfg, seed, 'present'));
    await probe('Not in PT', await pretrainStage(cfg, seed, 'absent'));
    for (const lr of DELETION_LRS) for (const protocol of DELETION_PROTOCOLS) await probe(`${protocol} (LR ${lr})`, await deletionStage(cfg, seed, protocol, lr));
    return { models };
  },
});
