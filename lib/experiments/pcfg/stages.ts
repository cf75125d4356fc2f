/**
 * The PCFG training stages (lib/experiments/stage.ts), each cached on its own so that every experiment, study and
 * notebook that needs "the P^L model fine-tuned with eta_S at C_Tr = 1" trains it once:
 *
 *   pcfg-pretrain            next-token loss (answer token weighted), all enabled families
 *   pcfg-finetune   <- pretrain    O_FT question, answer-only loss, C_Tr correlated texts (+ PT mixing)
 *   pcfg-reft       <- finetune    the fine-tuned model trained back on the O_PT question
 *   pcfg-scratch-ft <- pretrain    Scr.+FT: a model pretrained with a and b swapped, trained on O_PT
 *
 * Accuracies (acc.opt.cte0, acc.oft.cte1, ...) are logged through training into each stage's metrics.jsonl; the
 * summary (results.json) holds the evaluation curve.
 */
import { logSpacedSteps } from '../../analysis/curves';
import type { MetricRow, Metrics } from '../../engine/metrics';
import { metricsOf } from '../../engine/metrics';
import { Transformer } from '../../engine/model';
import { deriveSeed } from '../../engine/rng';
import type { Run } from '../../engine/runs';
import { trainCached, type TrainConfigInput } from '../../engine/train';
import { VOCAB_SIZE, contextLength, finetuneSampler, pretrainSampler } from '../../tasks/pcfg';
import { defineStage, stageNode, type StageNode } from '../stage';
import type { FinetuneStage, PretrainStage, ReftStage } from './config';
import { evaluateAt, evaluateSets, finetuneEvalSets, linearSteps, pcfgConfig, pretrainEvalSets, pretrainQuestionSampler } from './eval';

/** What a PCFG training stage leaves in results.json: its evaluations through training. */
export interface PcfgStageSummary {
  /** Evaluated steps only, metrics without loss/lr. */
  curve: ({ step: number } & Metrics)[];
  /** The last evaluation. */
  final: Metrics;
  params: number;
}

function summarise(metrics: MetricRow[], key: keyof Metrics, model: Transformer): PcfgStageSummary {
  const curve = metrics.filter((r) => typeof r[key] === 'number').map((r) => ({ step: r.step, ...metricsOf(r) }));
  const { step: _step, ...final } = curve[curve.length - 1] ?? { step: 0 };
  return { curve, final, params: model.numParams() };
}

export function newPcfgModel(stage: PretrainStage, seed: number): Transformer {
  const cfg = pcfgConfig(stage.data);
  return new Transformer({ vocabSize: VOCAB_SIZE, contextLength: contextLength(cfg), causal: true, bias: true, initStd: 0.02, ...stage.model }, deriveSeed(seed, 'pcfg-init'));
}

/** About 6 x parameters x tokens per step x steps: what a stage costs the scheduler. */
function trainingCost(stage: PretrainStage, steps: number, batchSize: number): number {
  const d = stage.model.dModel;
  const params = 12 * stage.model.nLayers * d * d;
  return 6 * params * batchSize * contextLength(pcfgConfig(stage.data)) * steps;
}

const adamw = (lr: number): TrainConfigInput['optimizer'] => ({ kind: 'adamw', lr, beta1: 0.9, beta2: 0.95, weightDecay: 0.1, clipNorm: 1 });

/** Pretraining: fresh samples every step; Acc of count a / count b (and index a / b) on C_Te = 0 through training. */
export const pcfgPretrain = defineStage<PretrainStage, PcfgStageSummary>({
  name: 'pcfg-pretrain',
  version: 2,
  cost: (stage) => trainingCost(stage, stage.train.steps, stage.train.batchSize),
  async run({ config: stage, seed, run }) {
    const cfg = pcfgConfig(stage.data);
    const model = newPcfgModel(stage, seed);
    try {
      const sets = pretrainEvalSets(cfg, seed, stage.evalSize);
      const { metrics } = await trainCached({
        model,
        run,
        seed,
        label: `pcfg pretrain (prior ${JSON.stringify(stage.data.prior)})`,
        config: stage.train,
        sampler: pretrainSampler(cfg, deriveSeed(seed, 'pcfg-pretrain-data'), stage.answerWeight === 1 ? 'next-token' : { answerWeight: stage.answerWeight }),
        evaluate: (m) => evaluateSets(m, sets),
      });
      return summarise(metrics, 'acc.count.a', model);
    } finally {
      model.dispose();
    }
  },
});

export interface FinetuneStageConfig {
  pretrain: PretrainStage;
  finetune: FinetuneStage;
}

/** Fine-tuning on the O_FT question (Counter: count b; Indexer: index of the k-th b) from the pretrained model. */
export const pcfgFinetune = defineStage<FinetuneStageConfig, PcfgStageSummary>({
  name: 'pcfg-finetune',
  version: 2,
  parents: (c, seed) => [stageNode(pcfgPretrain, c.pretrain, seed)],
  cost: (c) => trainingCost(c.pretrain, c.finetune.steps, c.finetune.batchSize),
  async run({ config: { pretrain: pre, finetune: ft }, seed, run, parents: [parent] }) {
    const cfg = pcfgConfig(pre.data);
    const model = parent.loadModel();
    try {
      const sets = finetuneEvalSets(cfg, ft.task, seed, ft.evalSize);
      const { metrics } = await trainCached({
        model,
        run,
        seed,
        label: `pcfg finetune ${ft.task} lr ${ft.lr} C_Tr ${ft.cTrain}${ft.pretrainFraction ? ` mix ${ft.pretrainFraction}` : ''}`,
        config: {
          steps: ft.steps,
          batchSize: ft.batchSize,
          optimizer: adamw(ft.lr),
          schedule: { kind: 'cosine', warmupFrac: ft.warmupFrac, minLrRatio: ft.minLrRatio },
          evalEvery: 1,
          logEvery: Math.max(1, Math.round(ft.evalEvery / 2)),
        },
        sampler: finetuneSampler(cfg, deriveSeed(seed, 'pcfg-finetune-data'), { task: ft.task, cTrain: ft.cTrain }, { pretrainFraction: ft.pretrainFraction }),
        evaluate: evaluateAt(linearSteps(ft.steps, ft.evalEvery), sets),
      });
      return summarise(metrics, 'acc.opt.cte0', model);
    } finally {
      model.dispose();
    }
  },
});

/** Trains a model on the O_PT question with log-spaced evaluations (reFT and Scr.+FT share this). */
async function trainOnPretrainQuestion(model: Transformer, run: Run, pre: PretrainStage, task: FinetuneStage['task'], r: ReftStage, seed: number, label: string): Promise<PcfgStageSummary> {
  const cfg = pcfgConfig(pre.data);
  const sets = finetuneEvalSets(cfg, task, seed, r.evalSize, 'c0');
  const { metrics } = await trainCached({
    model,
    run,
    seed,
    label,
    config: {
      steps: r.steps,
      batchSize: r.batchSize,
      optimizer: adamw(r.lr),
      schedule: { kind: 'cosine', warmupFrac: r.warmupFrac, minLrRatio: r.minLrRatio },
      evalEvery: 1,
      logEvery: Math.max(1, Math.round(r.steps / 50)),
    },
    sampler: pretrainQuestionSampler(cfg, task, deriveSeed(seed, 'pcfg-reft-data')),
    evaluate: evaluateAt(logSpacedSteps(r.steps, r.evalPerDecade), sets),
  });
  return summarise(metrics, 'acc.opt.cte0', model);
}

export interface ReftStageConfig extends FinetuneStageConfig {
  reft: ReftStage;
}

/** Reverse fine-tuning: the fine-tuned model trained back on the pretraining question. */
export const pcfgReft = defineStage<ReftStageConfig, PcfgStageSummary>({
  name: 'pcfg-reft',
  version: 2,
  parents: (c, seed) => [finetuneNode(c, seed)],
  cost: (c) => trainingCost(c.pretrain, c.reft.steps, c.reft.batchSize),
  async run({ config: c, seed, run, parents: [parent] }) {
    const model = parent.loadModel();
    try {
      return await trainOnPretrainQuestion(model, run, c.pretrain, c.finetune.task, c.reft, seed, `pcfg reFT lr ${c.reft.lr} (after FT lr ${c.finetune.lr}, C_Tr ${c.finetune.cTrain})`);
    } finally {
      model.dispose();
    }
  },
});

export interface ScratchStageConfig {
  /** The pretraining with a and b swapped (count b is the capability). */
  pretrain: PretrainStage;
  task: FinetuneStage['task'];
  reft: ReftStage;
}

/** Scr.+FT: pretrain with the a/b roles swapped (count b is the capability), then train on the O_PT question. */
export const pcfgScratchFinetune = defineStage<ScratchStageConfig, PcfgStageSummary>({
  name: 'pcfg-scratch-ft',
  version: 2,
  parents: (c, seed) => [stageNode(pcfgPretrain, c.pretrain, seed)],
  cost: (c) => trainingCost(c.pretrain, c.reft.steps, c.reft.batchSize),
  async run({ config: c, seed, run, parents: [parent] }) {
    const model = parent.loadModel();
    try {
      return await trainOnPretrainQuestion(model, run, c.pretrain, c.task, c.reft, seed, `pcfg Scr.+FT lr ${c.reft.lr}`);
    } finally {
      model.dispose();
    }
  },
});

export const PCFG_STAGES = [pcfgPretrain, pcfgFinetune, pcfgReft, pcfgScratchFinetune] as const;

// The nodes, built from exactly their config's keys (an experiment config holds more: prune, probe, ...).
export const finetuneNode = (c: FinetuneStageConfig, seed: number) => stageNode(pcfgFinetune, { pretrain: c.pretrain, finetune: c.finetune }, seed);
export const reftNode = (c: ReftStageConfig, seed: number) => stageNode(pcfgReft, { pretrain: c.pretrain, finetune: c.finetune, reft: c.reft }, seed);
export const scratchNode = (c: ScratchStageConfig, seed: number) => stageNode(pcfgScratchFinetune, { pretrain: c.pretrain, task: c.task, reft: c.reft }, seed);

/** The stage of a model: pretrained only (finetune null) or fine-tuned. */
export function modelStage(pretrain: PretrainStage, finetune: FinetuneStage | null, seed: number): StageNode<PcfgStageSummary> {
  return finetune ? finetuneNode({ pretrain, finetune }, seed) : stageNode(pcfgPretrain, pretrain, seed);
}
