/**
 * The TinyStories pipeline as cached stages (paper §5, spec/tinystories.md §4-9):
 *
 *   corpus + tokenizer ─┬─ pretrain "present" (every story)  ── delete (F | F+R | F+MM) x (LR S | M) ── reFT
 *                       └─ pretrain "absent"  (no Twist)      ── reFT  (the control, "Not in PT")
 *
 * Each stage is a Run under data/runs/<hash of its config>/ whose config names its parent's hash, so
 * the reFT experiment, the probe experiment, figures and notebooks all share the same trained models.
 * Evaluation during a stage (losses on Twist / no-Twist / adversarial test stories and the share of
 * sampled stories with a Twist when the prompt asks for one) is written to the stage's metrics.jsonl.
 */
import * as fs from 'node:fs';
import { z } from 'zod';
import { Batch, BatchSampler } from '../engine/data';
import { batchLoss } from '../engine/evaluate';
import { generate } from '../engine/generate';
import { Transformer } from '../engine/model';
import { Rng } from '../engine/rng';
import { MetricRow, Run, cachedRun } from '../engine/runs';
import { TrainConfigInput, trainCached } from '../engine/train';
import { readJson, writeJsonAtomic } from '../engine/fsutil';
import * as ts from '../tasks/tinystories';
import { ModelShapeSchema, TrainingSchema } from './schemas';

export const DELETION_PROTOCOLS = ['F', 'F+R', 'F+MM'] as const;
export type DeletionProtocol = (typeof DELETION_PROTOCOLS)[number];
export const DELETION_LRS = ['S', 'M'] as const;
export type DeletionLr = (typeof DELETION_LRS)[number];

const int = () => z.number().int();

export const TinyStoriesSchema = z
  .object({
    corpus: z
      .object({
        /** Procedural stories generated (split 2% test / 80% pretrain / 20% fine-tune, like the authors' shards). */
        stories: int().positive(),
        minWords: int().positive(),
        maxWords: int().positive(),
        maxFeatures: int().min(1).max(6),
        vocabSize: int().positive(),
      })
      .strict(),
    model: ModelShapeSchema,
    /** Longest training row; longer examples are cut (smoke only: the laptop context fits every story). */
    contextLength: int().positive(),
    pretrain: TrainingSchema,
    deletion: z
      .object({
        steps: int().positive(),
        batchSize: int().positive(),
        /** The paper's LR S and LR M (constant, no warmup). */
        lrS: z.number().positive(),
        lrM: z.number().positive(),
        evalSteps: z.array(int().min(0)),
      })
      .strict(),
    reft: z
      .object({
        steps: int().positive(),
        batchSize: int().positive(),
        lr: z.number().positive(),
        /** Where loss and Twist rate are measured (the paper's Table 1: 0 / 30 / 300 / 3000 of 4000). */
        evalSteps: z.array(int().min(0)),
        /** The Table 1 columns (a subset of evalSteps). */
        tableSteps: z.array(int().min(0)),
      })
      .strict(),
    evaluation: z
      .object({
        /** Held-out stories per loss set (Twist, no-Twist, adversarial). */
        lossStories: int().positive(),
        /** Sampled stories per Twist-rate point (the paper: apparently 16). */
        prompts: int().positive(),
        maxNewTokens: int().positive(),
        temperature: z.number().min(0),
        /**
         * Whose prompts the Twist rate samples from: 'adversarial' (the authors': held-out no-Twist stories whose
         * Features line asks for a Twist, spec §10) or 'twist' (held-out Twist stories: the summary describes the
         * twist too). Small models follow the summary far more than the Features line (laptop, measured), so
         * only 'twist' prompts show a Twist rate worth deleting.
         */
        promptSet: z.enum(['adversarial', 'twist']).default('adversarial'),
        /**
         * The judge behind twistRate (both rates are recorded): 'exact' = the generator's twist structure,
         * 'classifier' = a bag-of-words classifier trained on the labelled pretraining corpus (as one would for
         * real data). The exact recogniser needs word-exact coherence across the story, which a sub-million-
         * parameter model rarely reaches even when it writes a twist.
         */
        judge: z.enum(['exact', 'classifier']).default('exact'),
      })
      .strict(),
    probe: z
      .object({
        trainStories: int().positive(),
        testStories: int().positive(),
        steps: int().positive(),
        lr: z.number().positive(),
        batchSize: int().positive(),
      })
      .strict(),
  })
  .strict();
export type TinyStoriesConfig = z.output<typeof TinyStoriesSchema>;

// ------------------------------------------------------------------------------------------ data

export interface TinyStoriesData {
  datasets: ts.TinyStoriesDatasets;
  /** The held-out split with its real labels (probe test set). */
  heldOut: ts.TinyStory[];
  tokenizer: ts.WordTokenizer;
}

const dataMemo = new Map<string, TinyStoriesData>();

/**
 * The corpus, its datasets and the tokenizer (trained on the instruct-formatted pretraining text, spec §3).
 * The tokenizer is a stage of its own (tokenizer.json in its run) and is copied next to every model.
 */
export function tinyStoriesData(corpus: TinyStoriesConfig['corpus'], seed: number): TinyStoriesData {
  const key = JSON.stringify({ corpus, seed });
  const hit = dataMemo.get(key);
  if (hit) return hit;
  const generator = { ...ts.DEFAULT_GENERATOR_CONFIG, minWords: corpus.minWords, maxWords: corpus.maxWords, maxFeatures: corpus.maxFeatures };
  const stories = ts.generateStories(seed, corpus.stories, generator);
  const datasets = ts.buildDatasets(stories);
  const run = Run.open({ stage: 'tinystories-tokenizer', corpus, seed });
  const file = run.file('tokenizer.json');
  let tokenizer: ts.WordTokenizer;
  if (fs.existsSync(file)) tokenizer = ts.WordTokenizer.fromJSON(readJson(file));
  else {
    const rng = Rng.derive(seed, 'tinystories', 'tokenizer');
    tokenizer = ts.WordTokenizer.train(datasets.pretrain.map((s) => ts.renderInstruct(s, rng)), { vocabSize: corpus.vocabSize });
    writeJsonAtomic(file, tokenizer.toJSON());
  }
  const data = { datasets, heldOut: ts.splitStories(stories).test, tokenizer };
  dataMemo.set(key, data);
  return data;
}

/** Drops the trailing columns where every row is padding: a batch costs its longest row, not the context. */
export function trimBatch(batch: Batch): Batch {
  const { batchSize: B, contextLength: T } = batch;
  let used = 1;
  for (let b = 0; b < B; b++) for (let t = T - 1; t >= used; t--) if (batch.weights[b * T + t] > 0) { used = t + 1; break; }
  if (used === T) return batch;
  const cut = <A extends Int32Array | Float32Array>(a: A, make: (n: number) => A): A => {
    const out = make(B * used);
    for (let b = 0; b < B; b++) out.set(a.subarray(b * T, b * T + used), b * used);
    return out;
  };
  return {
    batchSize: B,
    contextLength: used,
    tokens: cut(batch.tokens, (n) => new Int32Array(n)),
    targets: cut(batch.targets, (n) => new Int32Array(n)),
    weights: cut(batch.weights, (n) => new Float32Array(n)),
  };
}

export function storySampler(stories: readonly ts.TinyStory[], data: TinyStoriesData, contextLength: number, seed: number): BatchSampler {
  const inner = ts.makeInstructSampler(stories, data.tokenizer, { seed, contextLength, appendEos: true });
  return (step, batchSize) => trimBatch(inner(step, batchSize));
}

export function tinyStoriesModel(cfg: TinyStoriesConfig, vocabSize: number, seed: number): Transformer {
  return new Transformer({ vocabSize, contextLength: cfg.contextLength, causal: true, bias: false, initStd: 0.02, ...cfg.model }, seed);
}

// ------------------------------------------------------------------------------------ evaluation

export interface TwistEvaluation {
  /** Loss on held-out Twist stories (the paper's "Task Loss"). */
  lossTwist: number;
  /** Loss on held-out stories without Twist. */
  lossNoTwist: number;
  /** Loss on held-out no-Twist stories whose prompt asks for a Twist (F+R construction). */
  lossAdversarial: number;
  /** Share of sampled stories the configured judge finds a Twist in, prompts asking for one. */
  twistRate: number;
  /** The same samples under each judge. */
  twistRateExact: number;
  twistRateClassifier: number;
}

const classifierMemo = new Map<string, ts.BagOfWordsTwistJudge>();

/**
 * The classifier judge: bag-of-words logistic regression on the labelled pretraining stories (the metadata
 * Twist label), deterministic for a corpus and seed. Its held-out accuracy is checked in the tests.
 */
export function classifierJudge(data: TinyStoriesData, corpus: TinyStoriesConfig['corpus'], seed: number): ts.BagOfWordsTwistJudge {
  const key = JSON.stringify({ corpus, seed });
  let judge = classifierMemo.get(key);
  if (!judge) {
    judge = new ts.BagOfWordsTwistJudge({ seed: Rng.derive(seed, 'tinystories-judge').int(0, 2 ** 31) });
    judge.train(ts.labelTwist(data.datasets.pretrain.slice(0, 4000)));
    classifierMemo.set(key, judge);
  }
  return judge;
}

/**
 * Builds the evaluator of a stage: fixed loss batches and fixed prompts (adversarial: every prompt asks
 * for a Twist, spec §10), sampled with the same seed at every evaluation so that changes between steps
 * come from the model, not the dice. The judge is pluggable (default: the exact procedural judge).
 */
export function makeTwistEvaluator(cfg: TinyStoriesConfig, data: TinyStoriesData, seed: number) {
  const ev = cfg.evaluation;
  const { test } = data.datasets;
  const lossBatch = (stories: ts.TinyStory[], label: string) =>
    storySampler(stories.slice(0, ev.lossStories), data, cfg.contextLength, Rng.derive(seed, 'tinystories-eval', label).int(0, 2 ** 31))(0, Math.min(ev.lossStories, stories.length));
  const batches = { twist: lossBatch(test.twist, 'twist'), noTwist: lossBatch(test.noTwist, 'noTwist'), adversarial: lossBatch(test.adversarial, 'adversarial') };
  // Loss stories come from the front of test.twist, prompts from its far end (both held out; they overlap only
  // when the test split is small).
  const pool = ev.promptSet === 'twist' ? [...test.twist].reverse() : test.adversarial;
  const promptStories = pool.slice(0, ev.prompts);
  if (promptStories.length < ev.prompts) throw new Error(`only ${promptStories.length} ${ev.promptSet} test prompts; raise corpus.stories`);
  const prompts = promptStories.map((s, i) => ts.encodePrompt(s, data.tokenizer, Rng.derive(seed, 'tinystories-prompt', i)));
  const exact = new ts.ExactTwistJudge();
  const classifier = classifierJudge(data, cfg.corpus, seed);
  return (model: Transformer): TwistEvaluation => {
    const stories = sampleStories(model, prompts, data.tokenizer, ev, Rng.derive(seed, 'tinystories-sample').int(0, 2 ** 31));
    const rate = (judge: ts.TwistJudge) => stories.filter((s) => judge.judge(s)).length / stories.length;
    const twistRateExact = rate(exact);
    const twistRateClassifier = rate(classifier);
    return {
      lossTwist: batchLoss(model, batches.twist),
      lossNoTwist: batchLoss(model, batches.noTwist),
      lossAdversarial: batchLoss(model, batches.adversarial),
      twistRate: ev.judge === 'exact' ? twistRateExact : twistRateClassifier,
      twistRateExact,
      twistRateClassifier,
    };
  };
}

/**
 * The evaluation of a finished model, cached on its own (keyed by the model's run and the evaluation config),
 * so changing how models are judged never retrains them.
 */
export async function evaluationStage(cfg: TinyStoriesConfig, seed: number, stage: Stage): Promise<TwistEvaluation> {
  const key = { stage: 'tinystories-eval', model: stage.run.hash, evaluation: cfg.evaluation, corpus: cfg.corpus, seed };
  const { results } = await cachedRun(key, async () => makeTwistEvaluator(cfg, tinyStoriesData(cfg.corpus, seed), seed)(stage.model));
  return results as TwistEvaluation;
}

/** Samples one story per prompt (temperature ev.temperature, stops at EOS) and decodes it. */
export function sampleStories(model: Transformer, prompts: number[][], tokenizer: ts.WordTokenizer, ev: TinyStoriesConfig['evaluation'], seed: number): string[] {
  const out = generate(model, prompts, { maxNewTokens: ev.maxNewTokens, temperature: ev.temperature, seed, stopId: tokenizer.eosId });
  return out.map((ids) => tokenizer.decode(ids).trim());
}

// ---------------------------------------------------------------------------------------- stages

export type PretrainVariant = 'present' | 'absent';

export interface Stage {
  run: Run;
  model: Transformer;
  metrics: MetricRow[];
}

function adamw(lr: number): TrainConfigInput['optimizer'] {
  return { kind: 'adamw', lr, beta1: 0.9, beta2: 0.95, weightDecay: 0.1, clipNorm: 1 };
}

/** Evaluates only at the listed steps (the trainer asks every step when evalEvery is 1). */
function atSteps(steps: readonly number[], evaluate: (m: Transformer) => TwistEvaluation, atStart: () => Promise<TwistEvaluation>) {
  const want = new Set(steps);
  return async (m: Transformer, step: number): Promise<Record<string, number>> => {
    if (!want.has(step)) return {};
    return { ...(step === 0 ? await atStart() : evaluate(m)) };
  };
}

/** The evaluation fields of a metrics row (without step, loss, lr). */
export function twistEvaluationOf(row: TwistEvaluation): TwistEvaluation {
  const { lossTwist, lossNoTwist, lossAdversarial, twistRate, twistRateExact, twistRateClassifier } = row;
  return { lossTwist, lossNoTwist, lossAdversarial, twistRate, twistRateExact, twistRateClassifier };
}

/**
 * A fine-tuning stage's step 0 is its parent model as it finished, under the same evaluator (same prompts and
 * sampling seed): the parent's own row at its last step when it has one, else the parent's cached evaluation
 * stage — not a fresh round of sampling per child.
 */
async function parentEvaluation(cfg: TinyStoriesConfig, seed: number, parent: Stage, parentSteps: number | null): Promise<TwistEvaluation> {
  const last = evaluatedRows(parent.metrics).at(-1);
  if (parentSteps !== null && last?.step === parentSteps) return twistEvaluationOf(last);
  return evaluationStage(cfg, seed, parent);
}

function saveTokenizer(run: Run, data: TinyStoriesData): void {
  writeJsonAtomic(run.file('tokenizer.json'), data.tokenizer.toJSON());
}

/** Pretraining: "present" on every story ("Present in PT"), "absent" on stories without Twist ("Not in PT"). */
export async function pretrainStage(cfg: TinyStoriesConfig, seed: number, variant: PretrainVariant): Promise<Stage> {
  const data = tinyStoriesData(cfg.corpus, seed);
  const key = { stage: 'tinystories-pretrain', variant, corpus: cfg.corpus, model: cfg.model, contextLength: cfg.contextLength, train: cfg.pretrain, seed };
  const run = Run.open(key);
  const model = tinyStoriesModel(cfg, data.tokenizer.vocabSize, seed);
  const stories = variant === 'present' ? data.datasets.pretrain : data.datasets.pretrainNoTwist;
  // No evaluation here: the pretraining key does not hold the evaluation config; evaluationStage judges the model.
  const { metrics } = await trainCached({
    model,
    run,
    seed,
    label: `tinystories pretrain (${variant})`,
    config: cfg.pretrain,
    sampler: storySampler(stories, data, cfg.contextLength, Rng.derive(seed, 'tinystories-pretrain', variant).int(0, 2 ** 31)),
  });
  saveTokenizer(run, data);
  return { run, model, metrics };
}

export function deletionSet(data: TinyStoriesData, protocol: DeletionProtocol): ts.TinyStory[] {
  const d = data.datasets;
  return protocol === 'F' ? d.filter : protocol === 'F+R' ? d.filterRandomise : d.filterMixMatch;
}

/** Deletion fine-tuning of the "present" model on F, F+R or F+MM at LR S or M (constant LR, spec §5-6). */
export async function deletionStage(cfg: TinyStoriesConfig, seed: number, protocol: DeletionProtocol, lr: DeletionLr): Promise<Stage> {
  const parent = await pretrainStage(cfg, seed, 'present');
  const data = tinyStoriesData(cfg.corpus, seed);
  const d = cfg.deletion;
  const rate = lr === 'S' ? d.lrS : d.lrM;
  const train: TrainConfigInput = { steps: d.steps, batchSize: d.batchSize, optimizer: adamw(rate), schedule: { kind: 'constant' }, evalEvery: 1, logEvery: 10 };
  const run = Run.open({ stage: 'tinystories-delete', parent: parent.run.hash, protocol, lr: rate, train, evalSteps: d.evalSteps, evaluation: cfg.evaluation, seed });
  const model = parent.model;
  const { metrics } = await trainCached({
    model,
    run,
    seed,
    label: `tinystories delete ${protocol} (LR ${lr})`,
    config: train,
    sampler: storySampler(deletionSet(data, protocol), data, cfg.contextLength, Rng.derive(seed, 'tinystories-delete', protocol, lr).int(0, 2 ** 31)),
    evaluate: atSteps(d.evalSteps, makeTwistEvaluator(cfg, data, seed), () => parentEvaluation(cfg, seed, parent, null)),
  });
  saveTokenizer(run, data);
  return { run, model, metrics };
}

export type ReftSource = { kind: 'deleted'; protocol: DeletionProtocol; lr: DeletionLr } | { kind: 'control' };

export function reftLabel(source: ReftSource): string {
  return source.kind === 'control' ? 'Not in PT' : `${source.protocol} (LR ${source.lr})`;
}

/** Reverse fine-tuning on Twist stories only (the recovery set), from a deleted model or the control. */
export async function reftStage(cfg: TinyStoriesConfig, seed: number, source: ReftSource): Promise<Stage> {
  const parent = source.kind === 'control' ? await pretrainStage(cfg, seed, 'absent') : await deletionStage(cfg, seed, source.protocol, source.lr);
  const data = tinyStoriesData(cfg.corpus, seed);
  const r = cfg.reft;
  const train: TrainConfigInput = { steps: r.steps, batchSize: r.batchSize, optimizer: adamw(r.lr), schedule: { kind: 'constant' }, evalEvery: 1, logEvery: 10 };
  const run = Run.open({ stage: 'tinystories-reft', parent: parent.run.hash, train, evalSteps: r.evalSteps, evaluation: cfg.evaluation, seed });
  const { metrics } = await trainCached({
    model: parent.model,
    run,
    seed,
    label: `tinystories reFT ${reftLabel(source)}`,
    config: train,
    sampler: storySampler(data.datasets.recovery, data, cfg.contextLength, Rng.derive(seed, 'tinystories-reft').int(0, 2 ** 31)),
    evaluate: atSteps(r.evalSteps, makeTwistEvaluator(cfg, data, seed), () => parentEvaluation(cfg, seed, parent, source.kind === 'control' ? null : cfg.deletion.steps)),
  });
  saveTokenizer(run, data);
  return { run, model: parent.model, metrics };
}

/** The evaluated rows of a stage's metrics (steps where the Twist rate was measured). */
export function evaluatedRows(metrics: readonly MetricRow[]): (MetricRow & TwistEvaluation)[] {
  return metrics.filter((r) => typeof r.twistRate === 'number') as (MetricRow & TwistEvaluation)[];
}
