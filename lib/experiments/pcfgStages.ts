/**
 * The PCFG training stages, each cached on its own under data/runs/<hash>/ so that every experiment, figure
 * and notebook that needs "the P^L model fine-tuned with eta_S at C_Tr = 1" trains it once:
 *
 *   pretrain(stage)                      next-token loss (answer token weighted), all enabled families
 *   finetune(pretrain, ft)               O_FT question, answer-only loss, C_Tr correlated texts (+ PT mixing)
 *   reft(pretrain, ft, reft)             the fine-tuned model trained back on the O_PT question
 *   scratchFinetune(pretrain, reft)      Scr.+FT: a model pretrained with a and b swapped, trained on O_PT
 *
 * A child's cache key contains its parents' configs, so changing the pretraining changes every descendant.
 * Metrics (Acc O_PT / Acc O_FT on C_Te = 0 and 1) are logged through training into the stage's metrics.jsonl.
 */
import { Run, type MetricRow } from '../engine/runs';
import { Transformer } from '../engine/model';
import { deriveSeed } from '../engine/rng';
import { trainCached } from '../engine/train';
import { logSpacedSteps } from '../analysis/curves';
import { VOCAB_SIZE, contextLength, finetuneSampler, pretrainSampler } from '../tasks/pcfg';
import type { FinetuneStage, PretrainStage, ReftStage } from './pcfgConfig';
import { evaluateAt, evaluateSets, finetuneEvalSets, linearSteps, pcfgConfig, pretrainEvalSets, pretrainQuestionSampler } from './pcfgEval';

/** Bump when stage code changes what a stage computes (invalidates every cached stage). */
export const PCFG_STAGE_VERSION = 1;

export interface StageOutput {
  /** The trained model; the caller disposes it. */
  model: Transformer;
  run: Run;
  metrics: MetricRow[];
  /** Evaluation rows only (rows with at least one accuracy). */
  evals: MetricRow[];
  /** Accuracies of the final model. */
  final: Record<string, number>;
  cached: boolean;
}

export interface StageOptions {
  /** Where stage runs are cached (default data/runs). */
  runsRoot?: string;
}

const evalRows = (metrics: MetricRow[], key: string) => metrics.filter((r) => typeof r[key] === 'number');

function finalOf(evals: MetricRow[]): Record<string, number> {
  const last = evals[evals.length - 1] ?? { step: 0 };
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(last)) if (k !== 'step' && k !== 'loss' && k !== 'lr' && typeof v === 'number') out[k] = v;
  return out;
}

export function pretrainKey(stage: PretrainStage, seed: number) {
  return { stage: 'pcfg-pretrain', version: PCFG_STAGE_VERSION, seed, pretrain: stage };
}

export function finetuneKey(pre: PretrainStage, ft: FinetuneStage, seed: number) {
  return { stage: 'pcfg-finetune', version: PCFG_STAGE_VERSION, seed, pretrain: pre, finetune: ft };
}

export function newPcfgModel(stage: PretrainStage, seed: number): Transformer {
  const cfg = pcfgConfig(stage.data);
  return new Transformer({ vocabSize: VOCAB_SIZE, contextLength: contextLength(cfg), causal: true, bias: true, initStd: 0.02, ...stage.model }, deriveSeed(seed, 'pcfg-init'));
}

/** Pretraining: fresh samples every step; Acc of count a / count b (and index a / b) on C_Te = 0 through training. */
export async function pretrainStage(stage: PretrainStage, seed: number, opts: StageOptions = {}): Promise<StageOutput> {
  const cfg = pcfgConfig(stage.data);
  const run = Run.open(pretrainKey(stage, seed), { root: opts.runsRoot });
  const model = newPcfgModel(stage, seed);
  const sets = pretrainEvalSets(cfg, seed, stage.evalSize);
  const { metrics, cached } = await trainCached({
    model,
    run,
    seed,
    label: `pcfg pretrain (prior ${JSON.stringify(stage.data.prior)})`,
    config: stage.train,
    sampler: pretrainSampler(cfg, deriveSeed(seed, 'pcfg-pretrain-data'), stage.answerWeight === 1 ? 'next-token' : { answerWeight: stage.answerWeight }),
    evaluate: (m) => evaluateSets(m, sets),
  });
  const evals = evalRows(metrics, 'count_a');
  return { model, run, metrics, evals, final: finalOf(evals), cached };
}

/** Fine-tuning on the O_FT question (Counter: count b; Indexer: index of the k-th b) from the pretrained model. */
export async function finetuneStage(pre: PretrainStage, ft: FinetuneStage, seed: number, opts: StageOptions = {}): Promise<StageOutput> {
  const parent = await pretrainStage(pre, seed, opts);
  const cfg = pcfgConfig(pre.data);
  const run = Run.open(finetuneKey(pre, ft, seed), { root: opts.runsRoot });
  const model = parent.model; // trained in place (or overwritten by the cached weights)
  const sets = finetuneEvalSets(cfg, ft.task, seed, ft.evalSize);
  const { metrics, cached } = await trainCached({
    model,
    run,
    seed,
    label: `pcfg finetune ${ft.task} lr ${ft.lr} C_Tr ${ft.cTrain}${ft.pretrainFraction ? ` mix ${ft.pretrainFraction}` : ''}`,
    config: {
      steps: ft.steps,
      batchSize: ft.batchSize,
      optimizer: { kind: 'adamw', lr: ft.lr, beta1: 0.9, beta2: 0.95, weightDecay: 0.1, clipNorm: 1 },
      schedule: { kind: 'cosine', warmupFrac: ft.warmupFrac, minLrRatio: ft.minLrRatio },
      evalEvery: 1,
      logEvery: Math.max(1, Math.round(ft.evalEvery / 2)),
    },
    sampler: finetuneSampler(cfg, deriveSeed(seed, 'pcfg-finetune-data'), { task: ft.task, cTrain: ft.cTrain }, { pretrainFraction: ft.pretrainFraction }),
    evaluate: evaluateAt(linearSteps(ft.steps, ft.evalEvery), sets),
  });
  const evals = evalRows(metrics, 'opt_c0');
  return { model, run, metrics, evals, final: finalOf(evals), cached };
}

/** Trains `model` on the O_PT question with log-spaced evaluations (reFT and Scr.+FT share this). */
async function trainOnPretrainQuestion(model: Transformer, run: Run, pre: PretrainStage, task: FinetuneStage['task'], r: ReftStage, seed: number, label: string) {
  const cfg = pcfgConfig(pre.data);
  const sets = finetuneEvalSets(cfg, task, seed, r.evalSize, 'c0');
  const { metrics, cached } = await trainCached({
    model,
    run,
    seed,
    label,
    config: {
      steps: r.steps,
      batchSize: r.batchSize,
      optimizer: { kind: 'adamw', lr: r.lr, beta1: 0.9, beta2: 0.95, weightDecay: 0.1, clipNorm: 1 },
      schedule: { kind: 'cosine', warmupFrac: r.warmupFrac, minLrRatio: r.minLrRatio },
      evalEvery: 1,
      logEvery: Math.max(1, Math.round(r.steps / 50)),
    },
    sampler: pretrainQuestionSampler(cfg, task, deriveSeed(seed, 'pcfg-reft-data')),
    evaluate: evaluateAt(logSpacedSteps(r.steps, r.evalPerDecade), sets),
  });
  const evals = evalRows(metrics, 'opt_c0');
  return { metrics, evals, final: finalOf(evals), cached };
}

/** Reverse fine-tuning: the fine-tuned model trained back on the pretraining question. */
export async function reftStage(pre: PretrainStage, ft: FinetuneStage, r: ReftStage, seed: number, opts: StageOptions = {}): Promise<StageOutput> {
  const parent = await finetuneStage(pre, ft, seed, opts);
  const run = Run.open({ stage: 'pcfg-reft', version: PCFG_STAGE_VERSION, seed, pretrain: pre, finetune: ft, reft: r }, { root: opts.runsRoot });
  const out = await trainOnPretrainQuestion(parent.model, run, pre, ft.task, r, seed, `pcfg reFT lr ${r.lr} (after FT lr ${ft.lr}, C_Tr ${ft.cTrain})`);
  return { model: parent.model, run, ...out };
}

/** Scr.+FT: pretrain with the a/b roles swapped (count b is the capability), then train on the O_PT question. */
export async function scratchFinetuneStage(pre: PretrainStage, task: FinetuneStage['task'], r: ReftStage, seed: number, opts: StageOptions = {}): Promise<StageOutput> {
  const parent = await pretrainStage(pre, seed, opts);
  const run = Run.open({ stage: 'pcfg-scratch-ft', version: PCFG_STAGE_VERSION, seed, pretrain: pre, task, reft: r }, { root: opts.runsRoot });
  const out = await trainOnPretrainQuestion(parent.model, run, pre, task, r, seed, `pcfg Scr.+FT lr ${r.lr}`);
  return { model: parent.model, run, ...out };
}
