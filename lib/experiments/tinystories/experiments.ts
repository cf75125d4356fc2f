/**
 * TinyStories experiments (paper §5, Fig 11, Table 1, Figs 31-38):
 *  - tinystories-reft: pretrain ("Present in PT") and a no-Twist control ("Not in PT"); delete Twist by
 *    fine-tuning on F / F+R / F+MM at LR S and M; reverse fine-tune every deleted model and the control on
 *    Twist stories. Reports losses and the Twist rate of sampled stories through deletion and reFT.
 *  - tinystories-probe: linear multi-label probes per block on the frozen models (both pretrained, the six
 *    deleted ones).
 * Both read the shared stages of stages.ts; declaring them lets the scheduler train them in parallel first.
 */
import { z } from 'zod';
import { defineExperiment } from '../define';
import { corpusRecord, isRealSource, requireTwistLabels, tinyStoriesData, type CorpusRecord, type TinyStoriesData } from './data';
import { DELETION_LRS, DELETION_PROTOCOLS, TinyStoriesSchema, type DeletionLr, type DeletionProtocol, type TinyStoriesConfig } from './config';
import { judgeRecord, type JudgeRecord, type TwistEvaluation } from './evaluation';
import { probeNode, type ProbeAccuracy } from './probe';
import { structureFolds, structureProbeNode, wordsBaseline, type StructureProbeAccuracy, type WordsBaseline } from './structureProbe';
import { type CurveRow, type ModelRef, type ReftSource, deleteConfig, evalNode, pretrainConfig, reftConfig, reftLabel, tsDelete, tsReft, type StorySummary } from './stages';
import { stageNode, type StageNode } from '../stage';

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
  structureProbe: { stories: 600, steps: 60, lr: 1e-2, batchSize: 32 },
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
  // 12,000 fresh stories: ~2,900 balanced test stories over the three folds (SE of a pooled accuracy ~0.009).
  structureProbe: { stories: 12000, steps: 1500, lr: 1e-3, batchSize: 128 },
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
  structureProbe: { stories: 40000, steps: 2000, lr: 1e-3, batchSize: 128 },
};

export const TINYSTORIES_PRESETS = { smoke, laptop, paper };

export interface TinyStoriesReftResults {
  pretrained: { present: TwistEvaluation; absent: TwistEvaluation };
  /** Losses and Twist rate during deletion, per protocol and LR. */
  deletion: { protocol: DeletionProtocol; lr: DeletionLr; curve: CurveRow[] }[];
  /** During reFT: the six deleted models and the control ("Not in PT"). */
  reft: { label: string; protocol: DeletionProtocol | null; lr: DeletionLr | null; curve: CurveRow[]; trainLoss: { step: number; loss: number }[] }[];
  /**
   * Table 1 analog: % of sampled stories with a Twist at the table's reFT steps, under the configured judge
   * (twistPercent) and the exact recogniser (twistPercentExact).
   */
  table: { label: string; steps: number[]; twistPercent: number[]; twistPercentExact: number[] }[];
  /** Which judge gave twist.rate (and, on real stories, the classifier's held-out accuracy and baseline). */
  judge?: JudgeRecord;
  /** With a real corpus.source: the stories used, their labels, and the tokenizer's fit. */
  corpus?: CorpusRecord;
}

const DELETED: { protocol: DeletionProtocol; lr: DeletionLr }[] = DELETION_LRS.flatMap((lr) => DELETION_PROTOCOLS.map((protocol) => ({ protocol, lr })));
const SOURCES: ReftSource[] = [...DELETED.map((d) => ({ kind: 'deleted' as const, ...d })), { kind: 'control' }];

const pretrainedRef = (cfg: TinyStoriesConfig, variant: 'present' | 'absent'): ModelRef => ({ stage: 'pretrain', config: pretrainConfig(cfg, variant) });
const evaluationOf = (cfg: TinyStoriesConfig, variant: 'present' | 'absent', seed: number) => evalNode(cfg, pretrainedRef(cfg, variant), seed);
const deletionOf = (cfg: TinyStoriesConfig, d: { protocol: DeletionProtocol; lr: DeletionLr }, seed: number) => stageNode(tsDelete, deleteConfig(cfg, d.protocol, d.lr), seed);
const reftOf = (cfg: TinyStoriesConfig, source: ReftSource, seed: number) => stageNode(tsReft, reftConfig(cfg, source), seed);

export const reft = defineExperiment({
  id: 'tinystories-reft',
  title: 'TinyStories: deleting and reviving Twist (Table 1, Fig 11 right, Figs 31-34)',
  description: 'Pretrain with and without Twist stories, delete Twist by F / F+R / F+MM fine-tuning at LR S and M, reverse fine-tune on Twist stories; losses and Twist rate of sampled stories.',
  version: 3,
  schema: TinyStoriesSchema,
  presets: TINYSTORIES_PRESETS,
  stages: (cfg, seed) => [evaluationOf(cfg, 'present', seed), evaluationOf(cfg, 'absent', seed), ...SOURCES.map((s) => reftOf(cfg, s, seed))],
  async run(cfg, ctx): Promise<TinyStoriesReftResults> {
    const seed = ctx.seed;
    // Before any training: every stage past the "present" pretraining needs Twist labels.
    requireTwistLabels(tinyStoriesData(cfg.corpus, seed), 'tinystories-reft');
    const pretrained = {
      present: (await ctx.stage(evaluationOf(cfg, 'present', seed))).results,
      absent: (await ctx.stage(evaluationOf(cfg, 'absent', seed))).results,
    };
    const deletion: TinyStoriesReftResults['deletion'] = [];
    for (const d of DELETED) deletion.push({ ...d, curve: (await ctx.stage(deletionOf(cfg, d, seed))).results.curve });
    const reft: TinyStoriesReftResults['reft'] = [];
    for (const source of SOURCES) {
      const stage = await ctx.stage(reftOf(cfg, source, seed));
      reft.push({
        label: reftLabel(source),
        protocol: source.kind === 'deleted' ? source.protocol : null,
        lr: source.kind === 'deleted' ? source.lr : null,
        curve: stage.results.curve,
        trainLoss: stage.metrics().flatMap((r) => (typeof r.loss === 'number' && r.step % 10 === 0 ? [{ step: r.step, loss: r.loss }] : [])),
      });
    }
    const at = (r: (typeof reft)[number], s: number) => {
      const row = r.curve.find((c) => c.step === s);
      if (!row) throw new Error(`reft.tableSteps: step ${s} is not in reft.evalSteps`);
      return row;
    };
    const table = reft.map((r) => ({
      label: r.label,
      steps: cfg.reft.tableSteps,
      twistPercent: cfg.reft.tableSteps.map((s) => Math.round(100 * at(r, s)['twist.rate'])),
      twistPercentExact: cfg.reft.tableSteps.map((s) => Math.round(100 * at(r, s)['twist.rate.exact'])),
    }));
    const data = tinyStoriesData(cfg.corpus, seed);
    return { pretrained, deletion, reft, table, judge: judgeRecord(data, cfg, seed), ...optionalCorpus(data, cfg, seed) };
  },
});

export interface TinyStoriesProbeResults {
  models: ({ label: string } & ProbeAccuracy)[];
  /**
   * The held-out-realiser Twist probe (structureProbe.ts) on the same models, beside what the words alone give;
   * absent where the config has no structureProbe or the corpus is real (no realisers to hold out).
   */
  structure?: { models: ({ label: string } & StructureProbeAccuracy)[]; words: WordsBaseline };
  /** With a real corpus.source: the stories used, their labels, and the tokenizer's fit. */
  corpus?: CorpusRecord;
}

// Only real corpora add the key, so results of the procedural corpus (and their committed caches) keep their shape.
function optionalCorpus(data: TinyStoriesData, cfg: TinyStoriesConfig, seed: number): { corpus?: CorpusRecord } {
  const corpus = corpusRecord(data, cfg.contextLength, seed);
  return corpus ? { corpus } : {};
}

/** The probe's control model: the pretraining's initialisation, untrained. */
export const UNTRAINED_LABEL = 'untrained (same shape)';

/** The probed models: both pretrained ones, the untrained control, then the six deleted ones. */
function probedModels(cfg: TinyStoriesConfig): { label: string; of: ModelRef }[] {
  return [
    { label: 'Present in PT', of: pretrainedRef(cfg, 'present') },
    { label: 'Not in PT', of: pretrainedRef(cfg, 'absent') },
    // What a probe reads from the architecture and the words alone: the baseline a trained model must beat.
    { label: UNTRAINED_LABEL, of: { stage: 'init', config: pretrainConfig(cfg, 'present') } },
    ...DELETED.map((d) => ({ label: `${d.protocol} (LR ${d.lr})`, of: { stage: 'delete' as const, config: deleteConfig(cfg, d.protocol, d.lr) } })),
  ];
}

export const probe = defineExperiment({
  id: 'tinystories-probe',
  title: 'TinyStories: linear probes for the story features per block (Fig 11 left, Figs 35-38)',
  description: 'Frozen Present-in-PT, Not-in-PT, an untrained model of the same shape (the control) and the six deleted models; one multi-label linear probe per block on the story-only text (mean of the last 10 positions), and a Twist probe per block tested on twist realisers it was not trained on, beside a bag-of-words baseline.',
  version: 4,
  schema: TinyStoriesSchema,
  presets: TINYSTORIES_PRESETS,
  stages: (cfg, seed): StageNode[] => [
    ...probedModels(cfg).map((m) => probeNode(cfg, m.of, seed)),
    ...(hasStructureProbe(cfg) ? probedModels(cfg).map((m) => structureProbeNode(cfg, m.of, seed)) : []),
  ],
  async run(cfg, ctx): Promise<TinyStoriesProbeResults> {
    const data = tinyStoriesData(cfg.corpus, ctx.seed);
    requireTwistLabels(data, 'tinystories-probe');
    const models: TinyStoriesProbeResults['models'] = [];
    for (const m of probedModels(cfg)) models.push({ label: m.label, ...(await ctx.stage(probeNode(cfg, m.of, ctx.seed))).results });
    if (!hasStructureProbe(cfg)) return { models, ...optionalCorpus(data, cfg, ctx.seed) };
    const structure: NonNullable<TinyStoriesProbeResults['structure']> = {
      models: [],
      words: wordsBaseline(structureFolds(cfg.corpus, ctx.seed, cfg.structureProbe!.stories), ctx.seed),
    };
    for (const m of probedModels(cfg)) structure.models.push({ label: m.label, ...(await ctx.stage(structureProbeNode(cfg, m.of, ctx.seed))).results });
    return { models, structure, ...optionalCorpus(data, cfg, ctx.seed) };
  },
});

/** The held-out-realiser probe runs where it is configured and the corpus is procedural (it splits on realisers). */
function hasStructureProbe(cfg: TinyStoriesConfig): boolean {
  return cfg.structureProbe !== undefined && !isRealSource(cfg.corpus);
}

export const TINYSTORIES_EXPERIMENTS = [reft, probe] as const;
export type { StorySummary };
