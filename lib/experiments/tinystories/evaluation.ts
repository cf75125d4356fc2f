/**
 * Judging a TinyStories model (spec §10): losses on held-out Twist, no-Twist and adversarial stories, and the share
 * of stories it writes for prompts that ask for a Twist which a judge finds a Twist in. Two judges: the exact
 * recogniser of the generator's twist structure and a bag-of-words classifier trained on the labelled corpus.
 */
import { info } from '../../notebook';
import { batchLoss } from '../../engine/evaluate';
import { generate } from '../../engine/generate';
import type { TwistKey } from '../../engine/metrics';
import type { Transformer } from '../../engine/model';
import { Rng } from '../../engine/rng';
import * as ts from '../../tasks/tinystories';
import type { TinyStoriesConfig } from './config';
import { storySampler, type TinyStoriesData } from './data';
import { WraplabError } from '../../engine/errors';

/**
 * loss.twist: loss on held-out Twist stories (the paper's "Task Loss"); loss.no_twist: on held-out stories without
 * Twist; loss.adversarial: on no-Twist stories whose prompt asks for a Twist (F+R construction); twist.rate: share of
 * sampled stories the configured judge finds a Twist in (prompts asking for one), twist.rate.exact /
 * twist.rate.classifier: the same samples under each judge.
 */
export type TwistEvaluation = Record<TwistKey, number>;

export const TWIST_KEYS: readonly TwistKey[] = ['loss.twist', 'loss.no_twist', 'loss.adversarial', 'twist.rate', 'twist.rate.exact', 'twist.rate.classifier'];

/** What the evaluation depends on: the corpus, the context and the evaluation settings. */
export type EvaluationEnv = Pick<TinyStoriesConfig, 'corpus' | 'contextLength' | 'evaluation'>;

/** The classifier per corpus and seed, with its held-out fit where one was measured (real stories). */
const classifierMemo = new Map<string, { judge: ts.BagOfWordsTwistJudge; fit: ts.ClassifierFit | null }>();

/** Which judge gives twist.rate, and how good the classifier is where that was measured (real stories). */
export interface JudgeRecord {
  twistRate: 'exact' | 'classifier';
  classifier: { kind: string; trainStories: number; heldOut: ts.ClassifierFit['heldOut'] | null };
}

/**
 * The classifier judge: bag-of-words logistic regression on the labelled pretraining stories (the metadata
 * Twist label), deterministic for a corpus and seed. Its held-out accuracy is checked in the tests.
 */
export function classifierJudge(data: TinyStoriesData, corpus: TinyStoriesConfig['corpus'], seed: number): ts.BagOfWordsTwistJudge {
  return classifier(data, corpus, seed).judge;
}

function classifier(data: TinyStoriesData, corpus: TinyStoriesConfig['corpus'], seed: number): { judge: ts.BagOfWordsTwistJudge; fit: ts.ClassifierFit | null } {
  const key = JSON.stringify({ corpus, seed });
  let entry = classifierMemo.get(key);
  if (!entry) {
    const judgeSeed = Rng.derive(seed, 'tinystories-judge').int(0, 2 ** 31);
    if (data.corpus) {
      const fit = realDataJudge(data, judgeSeed);
      entry = { judge: fit.judge, fit };
    } else {
      const judge = new ts.BagOfWordsTwistJudge({ seed: judgeSeed });
      judge.train(ts.labelTwist(data.datasets.pretrain.slice(0, 4000)));
      entry = { judge, fit: null };
    }
    classifierMemo.set(key, entry);
  }
  return entry;
}

/**
 * On real stories the classifier is the judge (the exact recogniser knows only the generator's twist structure): it
 * trains on the labelled pretraining stories, holds 20% out, and says its held-out accuracy beside the majority
 * baseline. trainTwistClassifier refuses when either class is missing from either part.
 */
function realDataJudge(data: TinyStoriesData, seed: number): ts.ClassifierFit {
  const labelled = ts.labelTwist(data.datasets.pretrain.filter((s) => s.labelled !== false).slice(0, 5000));
  let fit: ts.ClassifierFit;
  try {
    fit = ts.trainTwistClassifier(labelled, 0.2, { seed });
  } catch (e) {
    if (e instanceof WraplabError) throw new WraplabError(`${e.message} (pretraining stories of corpus.source ${data.corpus!.source}): raise corpus.stories or use more shards`);
    throw e;
  }
  if (process.env.WRAPLAB_QUIET !== '1') {
    info(`wraplab: Twist judge (bag-of-words, ${fit.train.size} labelled stories): held-out accuracy ${fit.heldOut.accuracy.toFixed(3)} on ${fit.heldOut.size}, majority baseline ${fit.heldOut.majorityBaseline.toFixed(3)}`);
  }
  return fit;
}

/** Which judge gives twist.rate: the configured one, except that real stories are always judged by the classifier. */
export function twistRateJudge(env: EvaluationEnv, data: TinyStoriesData): JudgeRecord['twistRate'] {
  return env.evaluation.judge === 'exact' && !data.corpus ? 'exact' : 'classifier';
}

/** The judge record of an evaluation setting, for the results file. */
export function judgeRecord(data: TinyStoriesData, env: EvaluationEnv, seed: number): JudgeRecord {
  const { judge, fit } = classifier(data, env.corpus, seed);
  return {
    twistRate: twistRateJudge(env, data),
    classifier: { kind: judge.name, trainStories: fit ? fit.train.size : Math.min(4000, data.datasets.pretrain.length), heldOut: fit ? fit.heldOut : null },
  };
}

/** The evaluation fields of a metrics row. */
export function twistEvaluationOf(row: Partial<TwistEvaluation>): TwistEvaluation {
  return Object.fromEntries(TWIST_KEYS.map((k) => [k, row[k] ?? NaN])) as TwistEvaluation;
}

/**
 * Builds the evaluator of a stage: fixed loss batches and fixed prompts, sampled with the same seed at every
 * evaluation so that changes between steps come from the model, not the dice.
 */
export function makeTwistEvaluator(env: EvaluationEnv, data: TinyStoriesData, seed: number): (model: Transformer) => TwistEvaluation {
  const ev = env.evaluation;
  const { test } = data.datasets;
  const lossBatch = (stories: ts.TinyStory[], label: string) =>
    storySampler(stories.slice(0, ev.lossStories), data, env.contextLength, Rng.derive(seed, 'tinystories-eval', label).int(0, 2 ** 31))(0, Math.min(ev.lossStories, stories.length));
  const batches = { twist: lossBatch(test.twist, 'twist'), noTwist: lossBatch(test.noTwist, 'noTwist'), adversarial: lossBatch(test.adversarial, 'adversarial') };
  // Loss stories come from the front of test.twist, prompts from its far end (both held out; they overlap only
  // when the test split is small).
  const pool = ev.promptSet === 'twist' ? [...test.twist].reverse() : test.adversarial;
  const promptStories = pool.slice(0, ev.prompts);
  if (promptStories.length < ev.prompts) throw new Error(`only ${promptStories.length} ${ev.promptSet} test prompts; raise corpus.stories`);
  const prompts = promptStories.map((s, i) => ts.encodePrompt(s, data.tokenizer, Rng.derive(seed, 'tinystories-prompt', i)));
  const exact = new ts.ExactTwistJudge();
  const classifier = classifierJudge(data, env.corpus, seed);
  return (model) => {
    const stories = sampleStories(model, prompts, data.tokenizer, ev, Rng.derive(seed, 'tinystories-sample').int(0, 2 ** 31));
    const rate = (judge: ts.TwistJudge) => stories.filter((s) => judge.judge(s)).length / stories.length;
    const rateExact = rate(exact);
    const rateClassifier = rate(classifier);
    return {
      'loss.twist': batchLoss(model, batches.twist),
      'loss.no_twist': batchLoss(model, batches.noTwist),
      'loss.adversarial': batchLoss(model, batches.adversarial),
      'twist.rate': twistRateJudge(env, data) === 'exact' ? rateExact : rateClassifier,
      'twist.rate.exact': rateExact,
      'twist.rate.classifier': rateClassifier,
    };
  };
}

/** Samples one story per prompt (temperature ev.temperature, stops at EOS) and decodes it. */
export function sampleStories(model: Transformer, prompts: number[][], tokenizer: ts.StoryTokenizer, ev: TinyStoriesConfig['evaluation'], seed: number): string[] {
  const out = generate(model, prompts, { maxNewTokens: ev.maxNewTokens, temperature: ev.temperature, seed, stopId: tokenizer.eosId });
  return out.map((ids) => tokenizer.decode(ids).trim());
}
