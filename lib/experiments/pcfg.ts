/**
 * The PCFG experiments (paper §2, §4; figures 5-9, tables 5 and 7, appendix E.1/E.2). Each experiment is one
 * cell of a figure's grid (one prior, one learning rate, one C_Tr); figures and notebooks sweep them with
 * `runGrid` and `--set` keys such as `pretrain.data.prior=M`, `finetune.lr=4e-6`, `finetune.cTrain=0.5`.
 * The expensive parts are the stages of pcfgStages.ts, cached on their own and shared by every experiment.
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
import { stepsToReach, metricCurve } from '../analysis/curves';
import { allMatrices, mlpOutputs, pruneSweep, unitName } from '../analysis/prune';
import { extractFeatures, trainProbe } from '../analysis/probe';
import { deriveSeed } from '../engine/rng';
import type { MetricRow } from '../engine/runs';
import { FINETUNE_FAMILY, FINETUNE_OPERAND, PRETRAIN_OPERAND, layout, makeEvalSet, probeTargets } from '../tasks/pcfg';
import { FinetuneStageSchema, PCFG_SCALES, PretrainStageSchema, ReftStageSchema, type FinetuneStage, type PretrainStage } from './pcfgConfig';
import { evaluateSets, finetuneEvalSets, pcfgConfig } from './pcfgEval';
import { finetuneStage, pretrainStage, reftStage, scratchFinetuneStage, type StageOutput } from './pcfgStages';
import { registerExperiment, type Preset } from './registry';

/** Bump when an experiment's code changes its results. */
const VERSION = 1;

const presetsOf = <T>(make: (p: Preset) => T): Record<Preset, T> => ({ smoke: make('smoke'), laptop: make('laptop'), paper: make('paper') });

/** Eval rows as plain {step, metric...} objects (no loss/lr), for results files and figures. */
export function evalCurve(evals: MetricRow[]): Record<string, number>[] {
  return evals.map((r) => {
    const out: Record<string, number> = { step: r.step };
    for (const [k, v] of Object.entries(r)) if (k !== 'loss' && k !== 'lr' && typeof v === 'number') out[k] = v;
    return out;
  });
}

/** Runs a stage and disposes its model, whatever happens. */
async function withStage<T>(stage: Promise<StageOutput>, use: (s: StageOutput) => T | Promise<T>): Promise<T> {
  const s = await stage;
  try {
    return await use(s);
  } finally {
    s.model.dispose();
  }
}

// ---------------------------------------------------------------- pretraining (Acc PT columns)

const PretrainExpSchema = z.object({ pretrain: PretrainStageSchema }).strict();
export type PcfgPretrainConfig = z.output<typeof PretrainExpSchema>;
export interface PcfgPretrainResults {
  /** Final accuracies: count_a, count_b (C_Te = 0), index_a, index_b when Index of occurrence is enabled. */
  accPT: Record<string, number>;
  curve: Record<string, number>[];
  params: number;
}

registerExperiment({
  id: 'pcfg-pretrain',
  title: 'PCFG: pretrain one model per operand prior',
  description: 'Next-token pretraining on the PCFG task families with a skewed operand prior; Acc PT of counting (indexing) a and b.',
  version: VERSION,
  schema: PretrainExpSchema,
  presets: presetsOf((p) => ({ pretrain: PCFG_SCALES[p].pretrain })),
  async run(cfg, ctx): Promise<PcfgPretrainResults> {
    return withStage(pretrainStage(cfg.pretrain, ctx.seed, { runsRoot: ctx.runsRoot }), (s) => ({
      accPT: s.final,
      curve: evalCurve(s.evals),
      params: s.model.numParams(),
    }));
  },
});

// ---------------------------------------------------------------- fine-tuning (Figs 5, 6; Tables 5, 7; E.1, E.2)

const FinetuneExpSchema = z.object({ pretrain: PretrainStageSchema, finetune: FinetuneStageSchema }).strict();
export type PcfgFinetuneConfig = z.output<typeof FinetuneExpSchema>;
export interface PcfgFinetuneResults {
  /** The pretrained model's accuracies on the fine-tuning test sets (step 0 of fine-tuning). */
  accPT: Record<string, number>;
  /** At the first evaluation at or after 10% of fine-tuning (the paper's "1K of 10K"). */
  early: Record<string, number>;
  earlyStep: number;
  final: Record<string, number>;
  curve: Record<string, number>[];
}

registerExperiment({
  id: 'pcfg-finetune',
  title: 'PCFG: fine-tune on the Counter (or Indexer) task',
  description: 'Fine-tune a pretrained PCFG model on O_FT = b with a spurious correlation in a fraction C_Tr of samples; Acc O_PT and Acc O_FT on C_Te = 0 and 1 through training.',
  version: VERSION,
  schema: FinetuneExpSchema,
  presets: presetsOf((p) => ({ pretrain: PCFG_SCALES[p].pretrain, finetune: PCFG_SCALES[p].finetune })),
  async run(cfg, ctx): Promise<PcfgFinetuneResults> {
    return withStage(finetuneStage(cfg.pretrain, cfg.finetune, ctx.seed, { runsRoot: ctx.runsRoot }), (s) => {
      const curve = evalCurve(s.evals);
      const early = curve.find((r) => r.step >= cfg.finetune.steps / 10) ?? curve[curve.length - 1];
      const strip = (r: Record<string, number>) => Object.fromEntries(Object.entries(r).filter(([k]) => k !== 'step'));
      return { accPT: strip(curve[0]), early: strip(early), earlyStep: early.step, final: s.final, curve };
    });
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
export interface PcfgPruneResults {
  /** One row per K: the unit pruned at K (none at K = 0), its score, and opt_c0, opt_c1, oft_c0, oft_c1. */
  steps: { k: number; unit: string | null; score: number | null; [metric: string]: number | string | null }[];
}

const pruneDefaults = (p: Preset) => ({
  units: 'mlp' as const,
  iterative: true,
  maxUnits: p === 'smoke' ? 3 : 15,
  scoringSize: p === 'smoke' ? 64 : p === 'laptop' ? 128 : 512,
  evalSize: p === 'smoke' ? 64 : p === 'laptop' ? 200 : 2000,
});

registerExperiment({
  id: 'pcfg-prune',
  title: 'PCFG: prune the fine-tuned model by grad x weight on the pretraining task',
  description: 'Score units of a fine-tuned model by gradient x weight of the count-a loss; prune the top K (K = 0..maxUnits); Acc O_PT and O_FT after each K.',
  version: VERSION,
  schema: PruneExpSchema,
  presets: presetsOf((p) => ({ pretrain: PCFG_SCALES[p].pretrain, finetune: { ...PCFG_SCALES[p].finetune, lr: PCFG_SCALES[p].lrs.S }, prune: pruneDefaults(p) })),
  async run(cfg, ctx): Promise<PcfgPruneResults> {
    return withStage(finetuneStage(cfg.pretrain, cfg.finetune, ctx.seed, { runsRoot: ctx.runsRoot }), (s) => {
      const data = pcfgConfig(cfg.pretrain.data);
      const task = cfg.finetune.task;
      const scoring = makeEvalSet(data, { family: FINETUNE_FAMILY[task], operand: PRETRAIN_OPERAND, size: cfg.prune.scoringSize, seed: deriveSeed(ctx.seed, 'pcfg-prune-score'), correlation: task });
      const sets = finetuneEvalSets(data, task, ctx.seed, cfg.prune.evalSize);
      const params = cfg.prune.units === 'mlp' ? mlpOutputs(s.model) : allMatrices(s.model);
      const sweep = pruneSweep(s.model, {
        spec: { granularity: 'row', params },
        maxUnits: cfg.prune.maxUnits,
        scoringBatches: [scoring.batch],
        iterative: cfg.prune.iterative,
        evaluate: (masks) => evaluateSets(s.model, sets, masks),
      });
      return { steps: sweep.map((st) => ({ k: st.k, unit: st.unit ? unitName(st.unit, 'row') : null, score: st.unit?.score ?? null, ...st.metrics })) };
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
const ProbeExpSchema = z.object({ pretrain: PretrainStageSchema, finetune: FinetuneStageSchema.nullable(), probe: ProbeSchema }).strict();
export type PcfgProbeConfig = z.output<typeof ProbeExpSchema>;
export interface PcfgProbeResults {
  /** One row per block: B0 = embeddings (resid_pre of block 0), Bi = resid_post of block i-1. */
  blocks: { block: string; opt: number; oft: number }[];
}

registerExperiment({
  id: 'pcfg-probe',
  title: 'PCFG: linear probes for the count of a and of b, per block',
  description: 'Frozen model (pretrained, or fine-tuned when finetune is set); a linear probe per block on the residual stream at the ART position predicts the count of a (asked to count a) and of b (asked to count b), C_Te = 0.',
  version: VERSION,
  schema: ProbeExpSchema,
  presets: presetsOf((p) => ({
    pretrain: PCFG_SCALES[p].pretrain,
    finetune: null,
    probe: p === 'smoke' ? { trainSize: 256, testSize: 128, steps: 200, lr: 1e-2, batchSize: 64 } : p === 'laptop' ? { trainSize: 2000, testSize: 500, steps: 1500, lr: 1e-2, batchSize: 128 } : { trainSize: 20000, testSize: 2000, steps: 4000, lr: 1e-3, batchSize: 96 },
  })),
  async run(cfg, ctx): Promise<PcfgProbeResults> {
    const stage = cfg.finetune ? finetuneStage(cfg.pretrain, cfg.finetune, ctx.seed, { runsRoot: ctx.runsRoot }) : pretrainStage(cfg.pretrain, ctx.seed, { runsRoot: ctx.runsRoot });
    return withStage(stage, (s) => probeBlocks(s.model, cfg.pretrain, cfg.probe, ctx.seed));
  },
});

/** Probe accuracy per block for the count of a (count-a prompt) and the count of b (count-b prompt). */
function probeBlocks(model: StageOutput['model'], pre: PretrainStage, probe: z.output<typeof ProbeSchema>, seed: number): PcfgProbeResults {
  const data = pcfgConfig(pre.data);
  const art = layout(data.textLength).art;
  const nLayers = model.config.nLayers;
  const names = ['blocks.0.resid_pre', ...Array.from({ length: nLayers }, (_, i) => `blocks.${i}.resid_post`)];
  const classes = data.countWindow + 1;
  const accs: Record<'opt' | 'oft', number[]> = { opt: [], oft: [] };
  for (const [key, operand] of [['opt', PRETRAIN_OPERAND], ['oft', FINETUNE_OPERAND]] as const) {
    const featuresOf = (size: number, label: string) => {
      const set = makeEvalSet(data, { family: 'counting', operand, size, seed: deriveSeed(seed, 'pcfg-probe', label) });
      const feats = extractFeatures(model, set.batch, Array.from({ length: size }, () => [art]), names);
      const targets = probeTargets(data, set.examples, 'counter')[operand === PRETRAIN_OPERAND ? 'a' : 'b'];
      return { feats, targets };
    };
    const train = featuresOf(probe.trainSize, 'train');
    const test = featuresOf(probe.testSize, 'test');
    names.forEach((name, b) => {
      const r = trainProbe({ x: train.feats[name], y: train.targets }, { x: test.feats[name], y: test.targets }, { dim: model.config.dModel, classes, steps: probe.steps, lr: probe.lr, batchSize: probe.batchSize, seed: deriveSeed(seed, 'pcfg-probe', key, b) });
      accs[key].push(r.testAccuracy);
    });
  }
  return { blocks: names.map((_, b) => ({ block: `B${b}`, opt: accs.opt[b], oft: accs.oft[b] })) };
}

// ---------------------------------------------------------------- reverse fine-tuning and Scr.+FT (Fig 9)

export interface PcfgReftResults {
  curve: Record<string, number>[];
  /** First evaluated step with Acc O_PT (C_Te = 0) >= 90% / 99% / 100%, or null. */
  to90: number | null;
  to99: number | null;
  to100: number | null;
  final: Record<string, number>;
}

function reftResults(s: StageOutput): PcfgReftResults {
  const opt = metricCurve(s.evals, 'opt_c0');
  return { curve: evalCurve(s.evals), to90: stepsToReach(opt, 0.9), to99: stepsToReach(opt, 0.99), to100: stepsToReach(opt, 1), final: s.final };
}

const ReftExpSchema = z.object({ pretrain: PretrainStageSchema, finetune: FinetuneStageSchema, reft: ReftStageSchema }).strict();
export type PcfgReftConfig = z.output<typeof ReftExpSchema>;

registerExperiment({
  id: 'pcfg-reft',
  title: 'PCFG: reverse fine-tuning (reFT) back to counting a',
  description: 'Train the fine-tuned model on the pretraining question (count a, plain texts, answer-only) and record Acc O_PT against log-spaced iterations.',
  version: VERSION,
  schema: ReftExpSchema,
  // Default cell: the shortcut model (eta_M, C_Tr = 1), the calibration's clearest revival (79% -> 100% in 50 steps).
  presets: presetsOf((p) => ({ pretrain: PCFG_SCALES[p].pretrain, finetune: { ...PCFG_SCALES[p].finetune, lr: PCFG_SCALES[p].lrs.M, cTrain: 1 }, reft: PCFG_SCALES[p].reft })),
  async run(cfg, ctx): Promise<PcfgReftResults> {
    return withStage(reftStage(cfg.pretrain, cfg.finetune, cfg.reft, ctx.seed, { runsRoot: ctx.runsRoot }), reftResults);
  },
});

const ScratchExpSchema = z.object({ pretrain: PretrainStageSchema, task: z.enum(['counter', 'indexer']), reft: ReftStageSchema }).strict();
export type PcfgScratchConfig = z.output<typeof ScratchExpSchema>;

registerExperiment({
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
  async run(cfg, ctx): Promise<PcfgReftResults> {
    return withStage(scratchFinetuneStage(cfg.pretrain, cfg.task, cfg.reft, ctx.seed, { runsRoot: ctx.runsRoot }), reftResults);
  },
});

export * from './pcfgConfig';
export * from './pcfgEval';
export * from './pcfgStages';
export * from './pcfgPaper';
