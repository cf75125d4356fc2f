/**
 * The TinyStories pipeline as stages (lib/experiments/stage.ts; paper §5, spec/tinystories.md §4-9):
 *
 *   pretrain "present" (every story) ─┬─ eval ─┐
 *                                     └────────┴─ delete (F | F+R | F+MM) x (LR S | M) ── reFT
 *   pretrain "absent" (no Twist) ─────── eval ──── reFT (the control, "Not in PT")
 *
 * plus a probe stage on any of these models. Each config holds exactly what its stage needs and its parents'
 * configs, so changing how models are judged never retrains them, and each stage is one node the scheduler can
 * place: the two pretrainings side by side, then the six deletions, then the reFTs and probes.
 * Evaluations during a stage are written to its metrics.jsonl with the metric keys of evaluation.ts.
 */
import { info } from '../../notebook';
import type { MetricRow } from '../../engine/metrics';
import { Rng } from '../../engine/rng';
import { trainCached, type TrainConfigInput } from '../../engine/train';
import { saveModel } from '../../engine/checkpoint';
import { defineStage, stageNode, type StageNode, type StageResult } from '../stage';
import type { DeletionLr, DeletionProtocol, TinyStoriesConfig } from './config';
import { contextReport, requireTwistLabels, saveTokenizer, storySampler, tinyStoriesData, tinyStoriesModel, type TinyStoriesData } from './data';
import { type EvaluationEnv, type TwistEvaluation, makeTwistEvaluator, twistEvaluationOf } from './evaluation';

export type PretrainVariant = 'present' | 'absent';

/** A row of a deletion or reFT curve: the step and the evaluation there. */
export type CurveRow = { step: number } & TwistEvaluation;

export interface PretrainConfig {
  corpus: TinyStoriesConfig['corpus'];
  model: TinyStoriesConfig['model'];
  contextLength: number;
  train: TinyStoriesConfig['pretrain'];
  variant: PretrainVariant;
}

export interface DeleteConfig {
  pretrain: PretrainConfig;
  evaluation: TinyStoriesConfig['evaluation'];
  protocol: DeletionProtocol;
  lr: DeletionLr;
  train: TrainConfigInput;
  evalSteps: number[];
}

export type ReftSource = { kind: 'deleted'; protocol: DeletionProtocol; lr: DeletionLr } | { kind: 'control' };

export interface ReftConfig {
  /** The control's pretraining, or the deletion it reverses. */
  from: { kind: 'control'; pretrain: PretrainConfig } | { kind: 'deleted'; delete: DeleteConfig };
  evaluation: TinyStoriesConfig['evaluation'];
  train: TrainConfigInput;
  evalSteps: number[];
}

/** A model of the pipeline, by the stage that trained it. */
export type ModelRef =
  | { stage: 'pretrain'; config: PretrainConfig }
  | { stage: 'delete'; config: DeleteConfig }
  | { stage: 'reft'; config: ReftConfig }
  /** The pretraining's model before its first step: the probes' control (what a probe reads from architecture alone). */
  | { stage: 'init'; config: PretrainConfig };

export interface EvalConfig extends EvaluationEnv {
  of: ModelRef;
}

export interface StorySummary {
  /** Evaluated steps (deletion, reFT); empty for pretraining. */
  curve: CurveRow[];
  params: number;
}

function adamw(lr: number): TrainConfigInput['optimizer'] {
  return { kind: 'adamw', lr, beta1: 0.9, beta2: 0.95, weightDecay: 0.1, clipNorm: 1 };
}

/** Evaluates only at the listed steps (the trainer asks every step when evalEvery is 1); step 0 = the parent. */
function atSteps(steps: readonly number[], evaluate: (m: Parameters<ReturnType<typeof makeTwistEvaluator>>[0]) => TwistEvaluation, atStart: () => TwistEvaluation) {
  const want = new Set(steps);
  return (m: Parameters<typeof evaluate>[0], step: number): Partial<TwistEvaluation> => (want.has(step) ? (step === 0 ? atStart() : evaluate(m)) : {});
}

/** The evaluated rows of a stage's metrics (steps where the Twist rate was measured). */
export function evaluatedRows(metrics: readonly MetricRow[]): CurveRow[] {
  return metrics.filter((r) => typeof r['twist.rate'] === 'number').map((r) => ({ step: r.step, ...twistEvaluationOf(r) }));
}

/** About 6 x parameters x tokens x steps (rows average ~200 tokens), for scheduling. */
function trainCost(model: TinyStoriesConfig['model'], vocab: number, train: { steps: number; batchSize: number }): number {
  const params = 12 * model.nLayers * model.dModel * model.dModel + 2 * vocab * model.dModel;
  return 6 * params * train.batchSize * 200 * train.steps;
}
const evalCost = (env: EvaluationEnv, pre: PretrainConfig) => 2 * trainCost(pre.model, pre.corpus.vocabSize, { steps: 1, batchSize: env.evaluation.prompts }) * env.evaluation.maxNewTokens / 200;

/** Pretraining: "present" on every story ("Present in PT"), "absent" on stories without Twist ("Not in PT"). */
export const tsPretrain = defineStage<PretrainConfig, StorySummary>({
  name: 'tinystories-pretrain',
  version: 2,
  cost: (c) => trainCost(c.model, c.corpus.vocabSize, c.train),
  async run({ config: c, seed, run }) {
    const data = tinyStoriesData(c.corpus, seed);
    if (c.variant !== 'present') requireTwistLabels(data, 'pretraining the "absent" (Not in PT) control');
    const model = tinyStoriesModel(c, data.tokenizer.vocabSize, seed);
    try {
      const stories = c.variant === 'present' ? data.datasets.pretrain : data.datasets.pretrainNoTwist;
      if (data.corpus && process.env.WRAPLAB_QUIET !== '1') {
        const r = contextReport(stories, data, c.contextLength, seed);
        info(`wraplab: tinystories pretraining (${c.variant}) on ${r.stories} real stories: ${r.truncated} (${((100 * r.truncated) / r.stories).toFixed(1)}%) longer than the context of ${c.contextLength} tokens and cut; ${r.tokensPerWord.toFixed(2)} tokens per word, ${(100 * r.spelledRate).toFixed(1)}% of words spelled out in characters (${r.tokenizer} tokenizer, ${r.vocabSize} entries)`);
      }
      // No evaluation here: tsEvaluation judges the model (its config holds the evaluation settings).
      await trainCached({
        model,
        run,
        seed,
        label: `tinystories pretrain (${c.variant})`,
        config: c.train,
        sampler: storySampler(stories, data, c.contextLength, Rng.derive(seed, 'tinystories-pretrain', c.variant).int(0, 2 ** 31)),
      });
      saveTokenizer(run, data);
      return { curve: [], params: model.numParams() };
    } finally {
      model.dispose();
    }
  },
});

/** The pretraining's initialisation, saved untrained (same shape, same seed): a control for the probes. */
export const tsInit = defineStage<PretrainConfig, StorySummary>({
  name: 'tinystories-init',
  version: 1,
  cost: () => 1e6,
  async run({ config: c, seed, run }) {
    const data = tinyStoriesData(c.corpus, seed);
    const model = tinyStoriesModel(c, data.tokenizer.vocabSize, seed);
    try {
      saveModel(model, run.file('model.safetensors'));
      saveTokenizer(run, data);
      return { curve: [], params: model.numParams() };
    } finally {
      model.dispose();
    }
  },
});

/** The evaluation of a finished model, its own stage: judging again never retrains. */
export const tsEvaluation = defineStage<EvalConfig, TwistEvaluation>({
  name: 'tinystories-eval',
  version: 2,
  parents: (c, seed) => [modelNode(c.of, seed)],
  cost: (c) => evalCost(c, pretrainOf(c.of)),
  async run({ config: c, seed, parents: [parent] }) {
    const model = parent.loadModel();
    try {
      const data = tinyStoriesData(c.corpus, seed);
      requireTwistLabels(data, 'the Twist evaluation');
      return makeTwistEvaluator(c, data, seed)(model);
    } finally {
      model.dispose();
    }
  },
});

const envOf = (pre: PretrainConfig, evaluation: TinyStoriesConfig['evaluation']): EvaluationEnv => ({ corpus: pre.corpus, contextLength: pre.contextLength, evaluation });

/** Trains a parent's model further with evaluations at the listed steps (deletion and reFT share this). */
async function fineTune(o: { run: StageResult<unknown>['run']; seed: number; parent: StageResult<unknown>; pre: PretrainConfig; evaluation: TinyStoriesConfig['evaluation']; train: TrainConfigInput; evalSteps: number[]; stories: (d: TinyStoriesData) => Parameters<typeof storySampler>[0]; stream: (string | number)[]; label: string; atStart: () => TwistEvaluation }): Promise<StorySummary> {
  const data = tinyStoriesData(o.pre.corpus, o.seed);
  requireTwistLabels(data, o.label);
  const model = o.parent.loadModel();
  try {
    const { metrics } = await trainCached({
      model,
      run: o.run,
      seed: o.seed,
      label: o.label,
      config: o.train,
      sampler: storySampler(o.stories(data), data, o.pre.contextLength, Rng.derive(o.seed, ...(o.stream as [string, ...(string | number)[]])).int(0, 2 ** 31)),
      evaluate: atSteps(o.evalSteps, makeTwistEvaluator(envOf(o.pre, o.evaluation), data, o.seed), o.atStart),
    });
    saveTokenizer(o.run, data);
    return { curve: evaluatedRows(metrics), params: model.numParams() };
  } finally {
    model.dispose();
  }
}

export function deletionSet(data: TinyStoriesData, protocol: DeletionProtocol) {
  const d = data.datasets;
  return protocol === 'F' ? d.filter : protocol === 'F+R' ? d.filterRandomise : d.filterMixMatch;
}

/** Deletion fine-tuning of the "present" model on F, F+R or F+MM at LR S or M (constant LR, spec §5-6). */
export const tsDelete = defineStage<DeleteConfig, StorySummary>({
  name: 'tinystories-delete',
  version: 2,
  // Step 0 is the pretrained model under the same evaluator: its cached evaluation, not a fresh round per child.
  parents: (c, seed) => [stageNode(tsPretrain, c.pretrain, seed), evalNode(envOf(c.pretrain, c.evaluation), { stage: 'pretrain', config: c.pretrain }, seed)],
  cost: (c) => trainCost(c.pretrain.model, c.pretrain.corpus.vocabSize, { steps: c.train.steps, batchSize: c.train.batchSize }) + c.evalSteps.length * evalCost(envOf(c.pretrain, c.evaluation), c.pretrain),
  run({ config: c, seed, run, parents: [parent, parentEval] }) {
    return fineTune({
      run, seed, parent, pre: c.pretrain, evaluation: c.evaluation, train: c.train, evalSteps: c.evalSteps,
      stories: (d) => deletionSet(d, c.protocol), stream: ['tinystories-delete', c.protocol, c.lr],
      label: `tinystories delete ${c.protocol} (LR ${c.lr})`,
      atStart: () => (parentEval as StageResult<TwistEvaluation>).results,
    });
  },
});

/** The pretraining a model descends from. */
export function pretrainOf(ref: ModelRef): PretrainConfig {
  if (ref.stage === 'pretrain' || ref.stage === 'init') return ref.config;
  if (ref.stage === 'delete') return ref.config.pretrain;
  return ref.config.from.kind === 'control' ? ref.config.from.pretrain : ref.config.from.delete.pretrain;
}

/** Does a deletion evaluate at its last step (so its last row is the start of a reFT)? */
const endsEvaluated = (d: DeleteConfig) => d.evalSteps.includes(d.train.steps);

/** Reverse fine-tuning on Twist stories only (the recovery set), from a deleted model or the control. */
export const tsReft = defineStage<ReftConfig, StorySummary>({
  name: 'tinystories-reft',
  version: 2,
  parents: (c, seed) => {
    if (c.from.kind === 'control') {
      const pre = c.from.pretrain;
      return [stageNode(tsPretrain, pre, seed), evalNode(envOf(pre, c.evaluation), { stage: 'pretrain', config: pre }, seed)];
    }
    const del = c.from.delete;
    const node = stageNode(tsDelete, del, seed);
    // Step 0 is the deleted model: its last evaluated row, or (when its schedule did not end on one) its evaluation.
    return endsEvaluated(del) ? [node] : [node, evalNode(envOf(del.pretrain, c.evaluation), { stage: 'delete', config: del }, seed)];
  },
  cost: (c) => {
    const pre = pretrainOf({ stage: 'reft', config: c });
    return trainCost(pre.model, pre.corpus.vocabSize, { steps: c.train.steps, batchSize: c.train.batchSize }) + c.evalSteps.length * evalCost(envOf(pre, c.evaluation), pre);
  },
  run({ config: c, seed, run, parents }) {
    const pre = pretrainOf({ stage: 'reft', config: c });
    const parent = parents[0];
    const atStart = (): TwistEvaluation => {
      if (parents[1]) return (parents[1] as StageResult<TwistEvaluation>).results;
      return twistEvaluationOf((parent as StageResult<StorySummary>).results.curve.at(-1)!);
    };
    return fineTune({
      run, seed, parent, pre, evaluation: c.evaluation, train: c.train, evalSteps: c.evalSteps,
      stories: (d) => d.datasets.recovery, stream: ['tinystories-reft'],
      label: `tinystories reFT ${c.from.kind === 'control' ? 'Not in PT' : `${c.from.delete.protocol} (LR ${c.from.delete.lr})`}`,
      atStart,
    });
  },
});

/** The stage node that trained a model. */
export function modelNode(ref: ModelRef, seed: number): StageNode<StorySummary> {
  if (ref.stage === 'pretrain') return stageNode(tsPretrain, ref.config, seed);
  if (ref.stage === 'init') return stageNode(tsInit, ref.config, seed);
  if (ref.stage === 'delete') return stageNode(tsDelete, ref.config, seed);
  return stageNode(tsReft, ref.config, seed);
}

export function evalNode(env: EvaluationEnv, of: ModelRef, seed: number): StageNode<TwistEvaluation> {
  return stageNode(tsEvaluation, { corpus: env.corpus, contextLength: env.contextLength, evaluation: env.evaluation, of }, seed);
}

// ------------------------------------------------------------------------ the stages of an experiment config

export const pretrainConfig = (cfg: TinyStoriesConfig, variant: PretrainVariant): PretrainConfig => ({ corpus: cfg.corpus, model: cfg.model, contextLength: cfg.contextLength, train: cfg.pretrain, variant });

export function deleteConfig(cfg: TinyStoriesConfig, protocol: DeletionProtocol, lr: DeletionLr): DeleteConfig {
  const d = cfg.deletion;
  const rate = lr === 'S' ? d.lrS : d.lrM;
  const train: TrainConfigInput = { steps: d.steps, batchSize: d.batchSize, optimizer: adamw(rate), schedule: { kind: 'constant' }, evalEvery: 1, logEvery: 10 };
  return { pretrain: pretrainConfig(cfg, 'present'), evaluation: cfg.evaluation, protocol, lr, train, evalSteps: d.evalSteps };
}

export function reftConfig(cfg: TinyStoriesConfig, source: ReftSource): ReftConfig {
  const r = cfg.reft;
  const train: TrainConfigInput = { steps: r.steps, batchSize: r.batchSize, optimizer: adamw(r.lr), schedule: { kind: 'constant' }, evalEvery: 1, logEvery: 10 };
  const from = source.kind === 'control' ? { kind: 'control' as const, pretrain: pretrainConfig(cfg, 'absent') } : { kind: 'deleted' as const, delete: deleteConfig(cfg, source.protocol, source.lr) };
  return { from, evaluation: cfg.evaluation, train, evalSteps: r.evalSteps };
}

export function reftLabel(source: ReftSource): string {
  return source.kind === 'control' ? 'Not in PT' : `${source.protocol} (LR ${source.lr})`;
}

export const TS_STAGES = [tsPretrain, tsInit, tsEvaluation, tsDelete, tsReft] as const;
