/**
 * The PCFG experiments (paper §2, §4; figures 5-9, tables 5 and 7, appendix E.1/E.2). Each experiment is one
 * cell of a figure's grid (one prior, one learning rate, one C_Tr); studies (lib/studies/pcfg.ts) and notebooks
 * sweep them with typed overrides such as `{ pretrain: { data: { prior: 'M' } }, finetune: { cTrain: 0.5 } }`.
 * The expensive parts are the stages of stages.ts, cached on their own and shared by every experiment.
 *
 *   pcfg-pretrain     Acc PT: count a / count b (and index a / b) of the pretrained model
 *   pcfg-finetune     Counter or Indexer fine-tuning: Acc O_PT / Acc O_FT on C_Te = 0 and 1 through training
 *                     (with finetune.pretrainFraction: E.1 mixing; with countingJ1/J2 families: E.2 jailbreak)
 *   pcfg-prune        grad x weight pruning of the fine-tuned model on the O_PT task, K = 0..maxUnits
 *   pcfg-probe        a linear probe per block (B0 = embeddings) for the count of a and of b
 *   pcfg-reft         reverse fine-tuning: the fine-tuned model trained back on count a
 *   pcfg-scratch-ft   the Scr.+FT baseline: a model pretrained with a and b swapped, trained on count a
 */
import { z } from 'zod';
import { metricCurve, stepsToReach } from '../../analysis/curves';
import { allMatrices, mlpOutputs, pruneSweep, unitName } from '../../analysis/prune';
import { extractFeatures, trainProbe } from '../../analysis/probe';
import type { Metrics } from '../../engine/metrics';
import { actName, layerNames, type Transformer } from '../../engine/model';
import { deriveSeed } from '../../engine/rng';
import { FINETUNE_FAMILY, FINETUNE_OPERAND, PRETRAIN_OPERAND, layout, makeEvalSet, probeTargets } from '../../tasks/pcfg';
import { defineExperiment, presetsOf } from '../define';
import { stageNode, type StageResult } from '../stage';
import { FinetuneStageSchema, PCFG_SCALES, PretrainStageSchema, ReftStageSchema, type PretrainStage } from './config';
import { evaluateSets, finetuneEvalSets, pcfgConfig } from './eval';
import { finetuneNode, modelStage, newPcfgModel, pcfgPretrain, reftNode, scratchNode, type PcfgStageSummary } from './stages';

/** Bump when an experiment's code changes its results. */
const VERSION = 2;

/** A row of an evaluation curve: the step and the accuracies measured there. */
export type CurveRow = { step: number } & Metrics;

/** Loads a stage's model, hands it to `use`, disposes it whatever happens. */
async function withModel<T>(stage: StageResult<unknown>, use: (model: Transformer) => T | Promise<T>): Promise<T> {
  const model = stage.loadModel();
  try {
    return await use(model);
  } finally {
    model.dispose();
  }
}

// ---------------------------------------------------------------- pretraining (Acc PT columns)

const PretrainExpSchema = z.object({ pretrain: PretrainStageSchema }).strict();
export type PcfgPretrainConfig = z.output<typeof PretrainExpSchema>;
export interface PcfgPretrainResults {
  /** Final accuracies: acc.count.a, acc.count.b (C_Te = 0), acc.index.a / b when Index of occurrence is enabled. */
  accPT: Metrics;
  curve: CurveRow[];
  params: number;
}

export const pretrain = defineExperiment({
  id: 'pcfg-pretrain',
  title: 'PCFG: pretrain one model per operand prior',
  description: 'Next-token pretraining on the PCFG task families with a skewed operand prior; Acc PT of counting (indexing) a and b.',
  version: VERSION,
  schema: PretrainExpSchema,
  presets: presetsOf((p) => ({ pretrain: PCFG_SCALES[p].pretrain })),
  stages: (cfg, seed) => [stageNode(pcfgPretrain, cfg.pretrain, seed)],
  async run(cfg, ctx): Promise<PcfgPretrainResults> {
    const s = (await ctx.stage(stageNode(pcfgPretrain, cfg.pretrain, ctx.seed))).results;
    return { accPT: s.final, curve: s.curve, params: s.params };
  },
});

// ---------------------------------------------------------------- fine-tuning (Figs 5, 6; Tables 5, 7; E.1, E.2)

const FinetuneExpSchema = z.object({ pretrain: PretrainStageSchema, finetune: FinetuneStageSchema }).strict();
export type PcfgFinetuneConfig = z.output<typeof FinetuneExpSchema>;
export interface PcfgFinetuneResults {
  /** The pretrained model's accuracies on the fine-tuning test sets (step 0 of fine-tuning). */
  accPT: Metrics;
  /** At the first evaluation at or after 10% of fine-tuning (the paper's "1K of 10K"). */
  early: Metrics;
  earlyStep: number;
  final: Metrics;
  curve: CurveRow[];
}

const strip = ({ step: _step, ...rest }: CurveRow): Metrics => rest;

export const finetune = defineExperiment({
  id: 'pcfg-finetune',
  title: 'PCFG: fine-tune on the Counter (or Indexer) task',
  description: 'Fine-tune a pretrained PCFG model on O_FT = b with a spurious correlation in a fraction C_Tr of samples; Acc O_PT and Acc O_FT on C_Te = 0 and 1 through training.',
  version: VERSION,
  schema: FinetuneExpSchema,
  presets: presetsOf((p) => ({ pretrain: PCFG_SCALES[p].pretrain, finetune: PCFG_SCALES[p].finetune })),
  stages: (cfg, seed) => [finetuneNode(cfg, seed)],
  async run(cfg, ctx): Promise<PcfgFinetuneResults> {
    const { curve, final } = (await ctx.stage(finetuneNode(cfg, ctx.seed))).results;
    const early = curve.find((r) => r.step >= cfg.finetune.steps / 10) ?? curve[curve.length - 1];
    return { accPT: strip(curve[0]), early: strip(early), earlyStep: early.step, final, curve };
  },
});

// ---------------------------------------------------------------- pruning (Fig 7; appendix up to 100)

const PruneSchema = z
  .object({
    /** 'mlp': hidden neurons of every MLP (rows of W_out); 'all': rows of every weight matrix. */
    units: z.enum(['mlp', 'all']),
    /** Re-score after every pruned unit (revives count a in the calibration) or score once (the paper's Alg. 3). */
    iterative: z.boolean(),
    maxUnits: z.number().int().min(0),
    /** Samples of the O_PT task (count a, C_Te = 0, true labels) whose loss gradient scores the units. */
    scoringSize: z.number().int().positive(),
    evalSize: z.number().int().positive(),
  })
  .strict();
const PruneExpSchema = z.object({ pretrain: PretrainStageSchema, finetune: FinetuneStageSchema, prune: PruneSchema }).strict();
export type PcfgPruneConfig = z.output<typeof PruneExpSchema>;
export interface PcfgPruneStep {
  k: number;
  /** The unit pruned at k (none at k = 0) and its score. */
  unit: string | null;
  score: number | null;
  /** acc.opt.cte0, acc.opt.cte1, acc.oft.cte0, acc.oft.cte1 with the first k units pruned. */
  acc: Metrics;
}
export interface PcfgPruneResults {
  steps: PcfgPruneStep[];
}

const pruneDefaults = (p: 'smoke' | 'laptop' | 'paper') => ({
  units: 'mlp' as const,
  iterative: true,
  maxUnits: p === 'smoke' ? 3 : 15,
  scoringSize: p === 'smoke' ? 64 : p === 'laptop' ? 128 : 512,
  evalSize: p === 'smoke' ? 64 : p === 'laptop' ? 200 : 2000,
});

export const prune = defineExperiment({
  id: 'pcfg-prune',
  title: 'PCFG: prune the fine-tuned model by grad x weight on the pretraining task',
  description: 'Score units of a fine-tuned model by gradient x weight of the count-a loss; prune the top K (K = 0..maxUnits); Acc O_PT and O_FT after each K.',
  version: VERSION,
  schema: PruneExpSchema,
  presets: presetsOf((p) => ({ pretrain: PCFG_SCALES[p].pretrain, finetune: { ...PCFG_SCALES[p].finetune, lr: PCFG_SCALES[p].lrs.S }, prune: pruneDefaults(p) })),
  stages: (cfg, seed) => [finetuneNode(cfg, seed)],
  cost: (cfg) => cfg.prune.maxUnits * 1e9,
  async run(cfg, ctx): Promise<PcfgPruneResults> {
    const stage = await ctx.stage(finetuneNode(cfg, ctx.seed));
    return withModel(stage, (model) => {
      const data = pcfgConfig(cfg.pretrain.data);
      const task = cfg.finetune.task;
      const scoring = makeEvalSet(data, { family: FINETUNE_FAMILY[task], operand: PRETRAIN_OPERAND, size: cfg.prune.scoringSize, seed: deriveSeed(ctx.seed, 'pcfg-prune-score'), correlation: task });
      const sets = finetuneEvalSets(data, task, ctx.seed, cfg.prune.evalSize);
      const params = cfg.prune.units === 'mlp' ? mlpOutputs(model) : allMatrices(model);
      const sweep = pruneSweep(model, {
        spec: { granularity: 'row', params },
        maxUnits: cfg.prune.maxUnits,
        scoringBatches: [scoring.batch],
        iterative: cfg.prune.iterative,
        evaluate: (masks) => evaluateSets(model, sets, masks),
      });
      return { steps: sweep.map((st) => ({ k: st.k, unit: st.unit ? unitName(st.unit, 'row') : null, score: st.unit?.score ?? null, acc: st.metrics })) };
    });
  },
});

// ---------------------------------------------------------------- probing (Fig 8)

const ProbeSchema = z
  .object({
    trainSize: z.number().int().positive(),
    testSize: z.number().int().positive(),
    steps: z.number().int().positive(),
    lr: z.number().positive(),
    batchSize: z.number().int().positive(),
  })
  .strict();
const ProbeExpSchema = z
  .object({
    pretrain: PretrainStageSchema,
    finetune: FinetuneStageSchema.nullable(),
    probe: ProbeSchema,
    /** The probe's control: the pretraining's initialisation, never trained (what the architecture and the tokens alone make readable). */
    untrained: z.boolean().default(false),
  })
  .strict()
  .refine((c) => !(c.untrained && c.finetune), { message: 'untrained: true probes the untrained initialisation; set finetune to null', path: ['untrained'] });
export type PcfgProbeConfig = z.output<typeof ProbeExpSchema>;
export interface PcfgProbeResults {
  /** One row per block: B0 = embeddings (resid_pre of block 0), Bi = resid_post of block i-1. */
  blocks: { block: string; opt: number; oft: number }[];
  /** The majority baseline: the share of the most frequent count among the test targets (#a for opt, #b for oft). */
  majority: { opt: number; oft: number };
  /** Test examples behind each accuracy (its binomial interval's n). */
  testSize: number;
}

/** Bump when the probe's code changes its results (v3: majority baseline, test size, the untrained control). */
const PROBE_VERSION = 3;

export const probe = defineExperiment({
  id: 'pcfg-probe',
  title: 'PCFG: linear probes for the count of a and of b, per block',
  description: 'Frozen model (pretrained, or fine-tuned when finetune is set); a linear probe per block on the residual stream at the ART position predicts the count of a (asked to count a) and of b (asked to count b), C_Te = 0.',
  version: PROBE_VERSION,
  schema: ProbeExpSchema,
  presets: presetsOf((p) => ({
    pretrain: PCFG_SCALES[p].pretrain,
    finetune: null,
    untrained: false,
    probe: p === 'smoke' ? { trainSize: 256, testSize: 128, steps: 200, lr: 1e-2, batchSize: 64 } : p === 'laptop' ? { trainSize: 2000, testSize: 500, steps: 1500, lr: 1e-2, batchSize: 128 } : { trainSize: 20000, testSize: 2000, steps: 4000, lr: 1e-3, batchSize: 96 },
  })),
  stages: (cfg, seed) => (cfg.untrained ? [] : [modelStage(cfg.pretrain, cfg.finetune, seed)]),
  cost: (cfg) => cfg.probe.steps * 2e8,
  async run(cfg, ctx): Promise<PcfgProbeResults> {
    const model = cfg.untrained ? newPcfgModel(cfg.pretrain, ctx.seed) : (await ctx.stage<PcfgStageSummary>(modelStage(cfg.pretrain, cfg.finetune, ctx.seed))).loadModel();
    try {
      return probeBlocks(model, cfg.pretrain, cfg.probe, ctx.seed);
    } finally {
      model.dispose();
    }
  },
});

/** Probe accuracy per block for the count of a (count-a prompt) and the count of b (count-b prompt). */
function probeBlocks(model: Transformer, pre: PretrainStage, probe: z.output<typeof ProbeSchema>, seed: number): PcfgProbeResults {
  const data = pcfgConfig(pre.data);
  const art = layout(data.textLength).art;
  const names = [actName('resid_pre', 0), ...layerNames('resid_post', model.config.nLayers)];
  const classes = data.countWindow + 1;
  const accs: Record<'opt' | 'oft', number[]> = { opt: [], oft: [] };
  const majority = { opt: 0, oft: 0 };
  for (const [key, operand] of [['opt', PRETRAIN_OPERAND], ['oft', FINETUNE_OPERAND]] as const) {
    const featuresOf = (size: number, label: string) => {
      const set = makeEvalSet(data, { family: 'counting', operand, size, seed: deriveSeed(seed, 'pcfg-probe', label) });
      const feats = extractFeatures(model, set.batch, Array.from({ length: size }, () => [art]), names);
      const targets = probeTargets(data, set.examples, 'counter')[operand === PRETRAIN_OPERAND ? 'a' : 'b'];
      return { feats, targets };
    };
    const train = featuresOf(probe.trainSize, 'train');
    const test = featuresOf(probe.testSize, 'test');
    const counts = new Map<number, number>();
    for (const y of test.targets) counts.set(y, (counts.get(y) ?? 0) + 1);
    majority[key] = Math.max(...counts.values()) / test.targets.length;
    names.forEach((name, b) => {
      const r = trainProbe({ x: train.feats[name], y: train.targets }, { x: test.feats[name], y: test.targets }, { dim: model.config.dModel, classes, steps: probe.steps, lr: probe.lr, batchSize: probe.batchSize, seed: deriveSeed(seed, 'pcfg-probe', key, b) });
      accs[key].push(r.testAccuracy);
    });
  }
  return { blocks: names.map((_, b) => ({ block: `B${b}`, opt: accs.opt[b], oft: accs.oft[b] })), majority, testSize: probe.testSize };
}

// ---------------------------------------------------------------- reverse fine-tuning and Scr.+FT (Fig 9)

export interface PcfgReftResults {
  curve: CurveRow[];
  /** First evaluated step with Acc O_PT (C_Te = 0) >= 90% / 99% / 100%, or null. */
  to90: number | null;
  to99: number | null;
  to100: number | null;
  final: Metrics;
}

function reftResults(s: PcfgStageSummary): PcfgReftResults {
  const opt = metricCurve(s.curve, 'acc.opt.cte0');
  return { curve: s.curve, to90: stepsToReach(opt, 0.9), to99: stepsToReach(opt, 0.99), to100: stepsToReach(opt, 1), final: s.final };
}

const ReftExpSchema = z.object({ pretrain: PretrainStageSchema, finetune: FinetuneStageSchema, reft: ReftStageSchema }).strict();
export type PcfgReftConfig = z.output<typeof ReftExpSchema>;

export const reft = defineExperiment({
  id: 'pcfg-reft',
  title: 'PCFG: reverse fine-tuning (reFT) back to counting a',
  description: 'Train the fine-tuned model on the pretraining question (count a, plain texts, answer-only) and record Acc O_PT against log-spaced iterations.',
  version: VERSION,
  schema: ReftExpSchema,
  // Default cell: the shortcut model (eta_M, C_Tr = 1), the calibration's clearest revival (79% -> 100% in 50 steps).
  presets: presetsOf((p) => ({ pretrain: PCFG_SCALES[p].pretrain, finetune: { ...PCFG_SCALES[p].finetune, lr: PCFG_SCALES[p].lrs.M, cTrain: 1 }, reft: PCFG_SCALES[p].reft })),
  stages: (cfg, seed) => [reftNode(cfg, seed)],
  async run(cfg, ctx): Promise<PcfgReftResults> {
    return reftResults((await ctx.stage(reftNode(cfg, ctx.seed))).results);
  },
});

const ScratchExpSchema = z.object({ pretrain: PretrainStageSchema, task: z.enum(['counter', 'indexer']), reft: ReftStageSchema }).strict();
export type PcfgScratchConfig = z.output<typeof ScratchExpSchema>;

export const scratchFinetune = defineExperiment({
  id: 'pcfg-scratch-ft',
  title: 'PCFG: the Scr.+FT baseline (pretrained with a and b swapped, then trained to count a)',
  description: 'A model whose pretraining prior makes b the dominant operand, trained on count a exactly like reFT: what learning count a costs without a hidden capability.',
  version: VERSION,
  schema: ScratchExpSchema,
  presets: presetsOf((p) => ({
    pretrain: { ...PCFG_SCALES[p].pretrain, data: { ...PCFG_SCALES[p].pretrain.data, prior: PCFG_SCALES[p].scratchPrior } },
    task: 'counter' as const,
    reft: PCFG_SCALES[p].reft,
  })),
  stages: (cfg, seed) => [scratchNode(cfg, seed)],
  async run(cfg, ctx): Promise<PcfgReftResults> {
    return reftResults((await ctx.stage(scratchNode(cfg, ctx.seed))).results);
  },
});

export const PCFG_EXPERIMENTS = [pretrain, finetune, prune, probe, reft, scratchFinetune] as const;
