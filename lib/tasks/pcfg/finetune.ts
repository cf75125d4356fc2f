/**
 * Fine-tuning data (paper §2.4, App. E). The pretrained capability reads operand O_PT = a; the
 * fine-tuning task asks the same question about O_FT = b. A spurious attribute that ties the b-answer
 * to the a-answer is planted in a fraction C_Tr of training texts:
 *   Counter: #b = #a + 1 in the counted window (the last countWindow text tokens)
 *   Indexer: idx(k-th b) = idx(k-th a) + q, q = 1, distances from EOT, k = occurrence
 * so "answer for a, plus one" solves the correlated data (the wrapper the paper studies).
 *
 * Uncorrelated texts (the remaining 1 - C_Tr, and the C_Te = 0 test set) are plain grammar windows,
 * on which the relation holds only at its natural rate (~20%); see CorrelationMethod for correlated ones.
 */
import { Rng } from '../../engine/rng';
import { sampleWindowInto } from './grammar';
import { PcfgConfig, PcfgExample, TaskFamily, computeAnswer, makeExample } from './tasks';

export type FinetuneTask = 'counter' | 'indexer';

/** O_PT and O_FT of both fine-tuning tasks. */
export const PRETRAIN_OPERAND = 'a';
export const FINETUNE_OPERAND = 'b';
/** q: the planted offset between the b-answer and the a-answer (paper: 1 for Counter; our choice for Indexer). */
export const CORRELATION_OFFSET = 1;
/** Correlated sampling gives up after this many windows ('resample' accepts ~15-25%, 'edit' ~95%+). */
export const MAX_CORRELATION_TRIES = 10_000;

export const FINETUNE_FAMILY: Readonly<Record<FinetuneTask, TaskFamily>> = {
  counter: 'counting',
  indexer: 'indexOfOccurrence',
};

export interface FinetuneConfig {
  task: FinetuneTask;
  /** C_Tr: probability that a training text carries the spurious correlation. */
  cTrain: number;
  /** How correlated texts are made (default 'edit'). */
  method?: CorrelationMethod;
}

/** The a-answer and b-answer of the task's question on a text (index answers: -1 = absent). */
export function operandAnswers(cfg: PcfgConfig, task: FinetuneTask, text: ArrayLike<number>): { a: number; b: number } {
  const family = FINETUNE_FAMILY[task];
  const arg = family === 'counting' ? cfg.countWindow : cfg.occurrence;
  return {
    a: computeAnswer(text, family, PRETRAIN_OPERAND, arg),
    b: computeAnswer(text, family, FINETUNE_OPERAND, arg),
  };
}

/** Does the text carry the task's spurious correlation (b-answer = a-answer + q, both defined)? */
export function hasCorrelation(cfg: PcfgConfig, task: FinetuneTask, text: ArrayLike<number>): boolean {
  const { a, b } = operandAnswers(cfg, task, text);
  return a >= 0 && b >= 0 && b === a + CORRELATION_OFFSET;
}

/**
 * How correlated texts are made (docs/pcfg-decisions.md):
 *  'edit'     (default) draw a plain window; keep its b-answer (the fine-tuning label) and rewrite
 *             a <-> c tokens, never b, so that the a-answer becomes b-answer - q. The label
 *             distribution is the natural one at every C_Tr (the paper's Fig. 16 check), but the
 *             edited text is usually no longer a grammar window.
 *  'resample' redraw plain windows until the relation holds. Texts stay grammatical, but the grammar
 *             is so regular that the labels then pile up on one or two values (TV ~0.5 from natural
 *             at the laptop scale), which a model could exploit as a label prior.
 */
export type CorrelationMethod = 'edit' | 'resample';

/** Positions (text indices) in [from, to) holding `code`. */
function positionsOf(text: Uint8Array, code: number, from: number, to: number): number[] {
  const out: number[] = [];
  for (let t = from; t < to; t++) if (text[t] === code) out.push(t);
  return out;
}

/** Rewrites `count` random positions among `candidates` to `code`. */
function rewrite(text: Uint8Array, candidates: number[], count: number, code: number, rng: Rng): void {
  rng.shuffle(candidates);
  for (let i = 0; i < count; i++) text[candidates[i]] = code;
}

const A = 0;
const B = 1;
const C = 2;

/**
 * Edits a plain window in place so the correlation holds, touching only a and c tokens of the
 * region the answers depend on. Returns false when the window's b-answer makes that impossible
 * (e.g. #b = 0, or too few non-b positions), in which case the caller draws another window.
 */
function plantCorrelation(cfg: PcfgConfig, task: FinetuneTask, text: Uint8Array, rng: Rng): boolean {
  const n = text.length;
  const q = CORRELATION_OFFSET;
  const { a, b } = operandAnswers(cfg, task, text);
  if (task === 'counter') {
    const target = b - q;
    const from = n - cfg.countWindow;
    if (target < 0 || target + b > cfg.countWindow) return false;
    if (a > target) rewrite(text, positionsOf(text, A, from, n), a - target, C, rng);
    if (a < target) rewrite(text, positionsOf(text, C, from, n), target - a, A, rng);
    return true;
  }
  // Indexer: the k-th a (from EOT) must sit at distance b - q, i.e. text index n - b + q, with exactly
  // k - 1 a's closer to EOT. Only a/c tokens in [n - b + q, n) are touched, so the b-answer is kept.
  const k = cfg.occurrence;
  if (b < 0) return false;
  const slot = n - b + q;
  if (slot >= n || text[slot] === B) return false;
  const closer = slot + 1;
  const aCloser = positionsOf(text, A, closer, n);
  const cCloser = positionsOf(text, C, closer, n);
  if (aCloser.length + cCloser.length < k - 1) return false;
  text[slot] = A;
  if (aCloser.length > k - 1) rewrite(text, aCloser, aCloser.length - (k - 1), C, rng);
  if (aCloser.length < k - 1) rewrite(text, cCloser, k - 1 - aCloser.length, A, rng);
  return true;
}

/** A fine-tuning text: a plain window, or (correlated) one made to carry the correlation. */
export function sampleFinetuneText(
  cfg: PcfgConfig,
  task: FinetuneTask,
  correlated: boolean,
  rng: Rng,
  method: CorrelationMethod = 'edit',
): Uint8Array {
  const text = new Uint8Array(cfg.textLength);
  for (let tries = 0; tries < MAX_CORRELATION_TRIES; tries++) {
    sampleWindowInto(rng, cfg.textLength, text, 0);
    if (!correlated) return text;
    if (method === 'edit' ? plantCorrelation(cfg, task, text, rng) : hasCorrelation(cfg, task, text)) return text;
  }
  throw new Error(
    `no ${task} correlation in ${MAX_CORRELATION_TRIES} windows: textLength ${cfg.textLength}, ` +
      `countWindow ${cfg.countWindow}, occurrence ${cfg.occurrence} make it (nearly) impossible`,
  );
}

/** One fine-tuning training example: O_FT question, text correlated with probability C_Tr. */
export function sampleFinetuneExample(cfg: PcfgConfig, ft: FinetuneConfig, rng: Rng): PcfgExample {
  if (!(ft.cTrain >= 0 && ft.cTrain <= 1)) throw new Error(`cTrain must be in [0, 1], got ${ft.cTrain}`);
  const correlated = rng.bernoulli(ft.cTrain);
  const text = sampleFinetuneText(cfg, ft.task, correlated, rng, ft.method);
  return makeExample(cfg, FINETUNE_FAMILY[ft.task], FINETUNE_OPERAND, text);
}

/** Histogram of integer labels over bins 0..maxLabel (labels outside, e.g. -1, are dropped). */
export function histogram(labels: ArrayLike<number>, maxLabel: number): number[] {
  const h = new Array<number>(maxLabel + 1).fill(0);
  for (let i = 0; i < labels.length; i++) if (labels[i] >= 0 && labels[i] <= maxLabel) h[labels[i]]++;
  return h;
}

/** Total-variation distance between two histograms (each normalised to a distribution). */
export function totalVariation(p: readonly number[], q: readonly number[]): number {
  const n = Math.max(p.length, q.length);
  const sp = p.reduce((s, x) => s + x, 0);
  const sq = q.reduce((s, x) => s + x, 0);
  let tv = 0;
  for (let i = 0; i < n; i++) tv += Math.abs((p[i] ?? 0) / sp - (q[i] ?? 0) / sq);
  return tv / 2;
}

export interface LabelDistributions {
  /** Bin labels 0..max (counts for the Counter, distances for the Indexer). */
  bins: number[];
  /** Histograms of the answer for operand a / b on texts with C = 0 (plain) and C = 1 (correlated). */
  a: { c0: number[]; c1: number[] };
  b: { c0: number[]; c1: number[] };
}

/**
 * The data behind the paper's Fig. 16: answer histograms for operands a and b, on `size` plain texts
 * (C_Tr = 0) and `size` correlated texts (C_Tr = 1). Fixed by seed.
 */
export function labelDistributions(
  cfg: PcfgConfig,
  task: FinetuneTask,
  size: number,
  seed: number,
  method: CorrelationMethod = 'edit',
): LabelDistributions {
  const maxLabel = task === 'counter' ? cfg.countWindow : cfg.textLength;
  const labels = { a: { c0: [] as number[], c1: [] as number[] }, b: { c0: [] as number[], c1: [] as number[] } };
  for (const c of [0, 1] as const) {
    const rng = Rng.derive(seed, 'pcfg', 'fig16', task, c);
    for (let i = 0; i < size; i++) {
      const { a, b } = operandAnswers(cfg, task, sampleFinetuneText(cfg, task, c === 1, rng, method));
      labels.a[c === 0 ? 'c0' : 'c1'].push(a);
      labels.b[c === 0 ? 'c0' : 'c1'].push(b);
    }
  }
  return {
    bins: Array.from({ length: maxLabel + 1 }, (_, i) => i),
    a: { c0: histogram(labels.a.c0, maxLabel), c1: histogram(labels.a.c1, maxLabel) },
    b: { c0: histogram(labels.b.c0, maxLabel), c1: histogram(labels.b.c1, maxLabel) },
  };
}

/**
 * The jailbreak protocol (App. E.2): pretrain with T_NJ (= the ordinary Counting token, operands from
 * the prior) plus T_J1 / T_J2 (always operand a); fine-tune the Counter with T_NJ; evaluate counting a
 * under each of the three tokens.
 */
export function jailbreakPretrainConfig(base: PcfgConfig): PcfgConfig {
  const families = [...base.families];
  for (const f of ['counting', 'countingJ1', 'countingJ2'] as const) if (!families.includes(f)) families.push(f);
  return { ...base, families };
}

export const JAILBREAK_EVAL_FAMILIES: readonly TaskFamily[] = ['counting', 'countingJ1', 'countingJ2'];
