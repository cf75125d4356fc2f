/**
 * Samplers and evaluation sets in the shared `Batch` format (lib/engine/data.ts). Every sequence
 * is exactly contextLength = textLength + 9 tokens, so a row is the whole sequence: tokens[t] =
 * seq[t], targets[t] = seq[t + 1] (PAD with weight 0 at the last position, EOS). The answer is the
 * target at the ART position. Samplers are pure functions of (seed, step, batchSize).
 */
import { Batch, BatchSampler, makeBatch } from '../../engine/data';
import { Rng } from '../../engine/rng';
import {
  CorrelationMethod,
  FinetuneConfig,
  FinetuneTask,
  operandAnswers,
  sampleFinetuneExample,
  sampleFinetuneText,
} from './finetune';
import {
  Operand,
  PcfgConfig,
  PcfgExample,
  TaskFamily,
  contextLength,
  layout,
  makeExample,
  sampleExample,
  validateConfig,
  writeSequence,
} from './tasks';
import { TOK } from './vocab';

/**
 * Loss weighting: 'next-token' = every real target weight 1; 'answer-only' = weight 1 only where
 * the target is the answer; {answerWeight: w} = every target 1, the answer target w (calibration: 20).
 */
export type LossMode = 'next-token' | 'answer-only' | { answerWeight: number };

/** Writes an example into row `row` of a batch with the loss weights of `loss`. */
export function writeRow(batch: Batch, row: number, ex: PcfgExample, loss: LossMode): void {
  const T = batch.contextLength;
  const L = layout(ex.text.length);
  if (L.length !== T) throw new Error(`example needs context ${L.length}, batch has ${T}`);
  const o = row * T;
  writeSequence(ex, batch.tokens, o);
  batch.targets.set(batch.tokens.subarray(o + 1, o + T), o);
  batch.targets[o + T - 1] = TOK.PAD;
  const other = loss === 'answer-only' ? 0 : 1;
  const answer = loss === 'answer-only' ? 1 : loss === 'next-token' ? 1 : loss.answerWeight;
  batch.weights.fill(other, o, o + T - 1);
  batch.weights[o + T - 1] = 0;
  batch.weights[o + L.art] = answer;
}

function checkLoss(loss: LossMode): void {
  if (typeof loss === 'object' && !(loss.answerWeight >= 0)) {
    throw new Error(`answerWeight must be >= 0, got ${loss.answerWeight}`);
  }
}

/** Pretraining batches: fresh questions and grammar windows every step (online data, as in the paper). */
export function pretrainSampler(cfg: PcfgConfig, seed: number, loss: LossMode = 'next-token'): BatchSampler {
  validateConfig(cfg);
  checkLoss(loss);
  const T = contextLength(cfg);
  return (step, batchSize) => {
    const rng = Rng.derive(seed, 'pcfg', 'pretrain', step);
    const batch = makeBatch(batchSize, T);
    for (let r = 0; r < batchSize; r++) writeRow(batch, r, sampleExample(cfg, rng), loss);
    return batch;
  };
}

export interface FinetuneSamplerOptions {
  /** App. E.1: each row is a pretraining example with this probability (e.g. 0.5, 0.1, 0.001). */
  pretrainFraction?: number;
  /** Config of those pretraining rows (default: the fine-tuning config); same textLength required. */
  pretrainConfig?: PcfgConfig;
}

/** Fine-tuning batches, answer-only loss (the paper's supervised fine-tuning). */
export function finetuneSampler(
  cfg: PcfgConfig,
  seed: number,
  ft: FinetuneConfig,
  options: FinetuneSamplerOptions = {},
): BatchSampler {
  validateConfig(cfg);
  const ptCfg = options.pretrainConfig ?? cfg;
  const ptFraction = options.pretrainFraction ?? 0;
  validateConfig(ptCfg);
  if (ptCfg.textLength !== cfg.textLength) throw new Error('pretrainConfig must have the same textLength');
  if (!(ptFraction >= 0 && ptFraction <= 1)) throw new Error(`pretrainFraction must be in [0, 1], got ${ptFraction}`);
  if (!(ft.cTrain >= 0 && ft.cTrain <= 1)) throw new Error(`cTrain must be in [0, 1], got ${ft.cTrain}`);
  const T = contextLength(cfg);
  return (step, batchSize) => {
    const rng = Rng.derive(seed, 'pcfg', 'finetune', step);
    const batch = makeBatch(batchSize, T);
    for (let r = 0; r < batchSize; r++) {
      const ex = ptFraction > 0 && rng.bernoulli(ptFraction) ? sampleExample(ptCfg, rng) : sampleFinetuneExample(cfg, ft, rng);
      writeRow(batch, r, ex, 'answer-only');
    }
    return batch;
  };
}

export interface EvalSpec {
  family: TaskFamily;
  operand: Operand;
  size: number;
  seed: number;
  /** C_Te: probability that a text carries the correlation (0 = plain texts, 1 = all correlated). */
  cTest?: number;
  /** Which correlation C_Te refers to (default: 'indexer' for index families, else 'counter'). */
  correlation?: FinetuneTask;
  /** How correlated texts are made (default 'edit'). */
  method?: CorrelationMethod;
}

export interface EvalSet {
  /** Answer-only weights: 1 at the ART position of each row. */
  batch: Batch;
  /** Flat index b*T + t of each row's ART position (the logits that predict the answer). */
  queryIndex: Int32Array;
  /** Answer token ids. */
  answers: Int32Array;
  /** Numeric answers (see computeAnswer; -1 = no such occurrence). */
  labels: number[];
  examples: PcfgExample[];
}

/**
 * A fixed evaluation set. Texts depend only on (seed, cTest, correlation, i), not on the question,
 * so sets that differ only in family/operand (count a vs count b) share their texts.
 */
export function makeEvalSet(cfg: PcfgConfig, spec: EvalSpec): EvalSet {
  validateConfig(cfg);
  const cTest = spec.cTest ?? 0;
  if (!(cTest >= 0 && cTest <= 1)) throw new Error(`cTest must be in [0, 1], got ${cTest}`);
  const correlation = spec.correlation ?? (spec.family.startsWith('index') ? 'indexer' : 'counter');
  const T = contextLength(cfg);
  const art = layout(cfg.textLength).art;
  const batch = makeBatch(spec.size, T);
  const queryIndex = new Int32Array(spec.size);
  const answers = new Int32Array(spec.size);
  const labels: number[] = [];
  const examples: PcfgExample[] = [];
  for (let i = 0; i < spec.size; i++) {
    const correlated = Rng.derive(spec.seed, 'pcfg', 'eval', 'correlated', i).bernoulli(cTest);
    const textRng = Rng.derive(spec.seed, 'pcfg', 'eval', correlated ? correlation : 'plain', i);
    const ex = makeExample(cfg, spec.family, spec.operand, sampleFinetuneText(cfg, correlation, correlated, textRng, spec.method));
    writeRow(batch, i, ex, 'answer-only');
    queryIndex[i] = i * T + art;
    answers[i] = ex.answerId;
    labels.push(ex.answer);
    examples.push(ex);
  }
  return { batch, queryIndex, answers, labels, examples };
}

/**
 * Probe targets for each example: the a-answer and b-answer of the task's question on its text
 * (Counter: counts of a and b in the counted window; Indexer: distances of the k-th a and b).
 */
export function probeTargets(
  cfg: PcfgConfig,
  examples: readonly PcfgExample[],
  task: FinetuneTask = 'counter',
): { a: Int32Array; b: Int32Array } {
  const a = new Int32Array(examples.length);
  const b = new Int32Array(examples.length);
  examples.forEach((ex, i) => {
    const r = operandAnswers(cfg, task, ex.text);
    a[i] = r.a;
    b[i] = r.b;
  });
  return { a, b };
}
