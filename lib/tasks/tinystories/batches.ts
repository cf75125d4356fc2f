/**
 * Stories to token batches.
 *
 * Language-model batches (makeInstructSampler): one instruct-formatted story per row, BOS first,
 * then (by default) EOS, cut to contextLength + 1 tokens and padded with PAD at weight 0 — the shared
 * Batch of lib/engine/data.ts with next-token loss over the whole text, instruction lines included
 * (as the authors' loss, spec §6). The authors instead concatenate BOS-prefixed documents into one
 * stream and cut random windows; one story per row keeps every row aligned to a story start, which
 * small contexts and exact reproducibility favour. Row b of step s depends only on (seed, s, b).
 *
 * Probe batches (makeProbeBatch / makeProbeSampler): the story-only text ("Story: ...", spec §9) with
 * BOS, the 6-way multi-hot feature labels in PROBE_FEATURES order, and the positions of the last 10
 * story tokens, over which the probe mean-pools the residual stream.
 */
import { Rng } from '../../engine/rng';
import { Batch, BatchSampler, packSequences } from '../../engine/data';
import { InstructMode, renderInstruct } from './format';
import type { StoryTokenizer } from './bpe';
import { Feature, PROBE_FEATURES, TinyStory } from './types';

export interface InstructBatchConfig {
  seed: number;
  contextLength: number;
  /** End each story with EOS so sampling can stop (the authors add none; set false to match). */
  appendEos: boolean;
}

export const DEFAULT_INSTRUCT_BATCH: InstructBatchConfig = { seed: 0, contextLength: 256, appendEos: true };

/** Tokens of one example: BOS + rendered text (+ EOS). `rng` draws the instruction-line order. */
export function encodeExample(
  story: TinyStory,
  tokenizer: StoryTokenizer,
  rng: Rng | null,
  mode: InstructMode = 'full',
  appendEos = true,
): number[] {
  const text = renderInstruct(story, rng, { mode });
  return tokenizer.encode(text, { bos: true, eos: appendEos && mode !== 'prompt' });
}

/** BOS + the generation prompt (instruction lines, then "Story:"). */
export function encodePrompt(story: TinyStory, tokenizer: StoryTokenizer, rng: Rng | null): number[] {
  return encodeExample(story, tokenizer, rng, 'prompt', false);
}

/**
 * Deterministic next-token batches: step s draws its rows (stories with replacement, and each row's
 * line order) from Rng.derive(seed, 'tinystories-batch', s, b).
 */
export function makeInstructSampler(
  stories: readonly TinyStory[],
  tokenizer: StoryTokenizer,
  config: Partial<InstructBatchConfig> = {},
): BatchSampler {
  const { seed, contextLength, appendEos } = { ...DEFAULT_INSTRUCT_BATCH, ...config };
  if (stories.length === 0) throw new Error('makeInstructSampler: no stories');
  return (step: number, batchSize: number): Batch => {
    const seqs: number[][] = [];
    for (let b = 0; b < batchSize; b++) {
      const rng = Rng.derive(seed, 'tinystories-batch', step, b);
      const story = stories[rng.int(0, stories.length)];
      seqs.push(encodeExample(story, tokenizer, rng, 'full', appendEos).slice(0, contextLength + 1));
    }
    return packSequences(seqs, contextLength, tokenizer.padId);
  };
}

/** Multi-hot labels in PROBE_FEATURES order (twist, foreshadowing, dialogue, badending, moralvalue, conflict). */
export function featureLabels(features: readonly Feature[]): Float32Array {
  return Float32Array.from(PROBE_FEATURES, (f) => (features.includes(f) ? 1 : 0));
}

export interface ProbeBatch {
  batchSize: number;
  contextLength: number;
  /** [B, T] BOS + "Story: ..." tokens, PAD after the end. */
  tokens: Int32Array;
  /** [B] number of real tokens per row. */
  lengths: Int32Array;
  /** [B, 6] multi-hot features in PROBE_FEATURES order. */
  labels: Float32Array;
  /** [B, lastK] positions of the last lastK story tokens of each row (ascending). */
  lastPositions: Int32Array;
  lastK: number;
}

/**
 * A probe batch of the given stories. A story longer than the context keeps BOS and its last
 * contextLength - 1 tokens: the ending, where the pooled positions are, is what matters.
 * Rows are right-padded (the authors left-pad with other text); with a causal model padding after
 * the pooled positions cannot change them.
 */
export function makeProbeBatch(
  stories: readonly TinyStory[],
  tokenizer: StoryTokenizer,
  contextLength: number,
  lastK = 10,
): ProbeBatch {
  const B = stories.length;
  if (contextLength <= lastK) throw new Error(`contextLength ${contextLength} must exceed lastK ${lastK}`);
  const out: ProbeBatch = {
    batchSize: B,
    contextLength,
    tokens: new Int32Array(B * contextLength).fill(tokenizer.padId),
    lengths: new Int32Array(B),
    labels: new Float32Array(B * PROBE_FEATURES.length),
    lastPositions: new Int32Array(B * lastK),
    lastK,
  };
  for (let b = 0; b < B; b++) {
    let ids = encodeExample(stories[b], tokenizer, null, 'storyOnly', false);
    if (ids.length > contextLength) ids = [tokenizer.bosId, ...ids.slice(ids.length - (contextLength - 1))];
    if (ids.length - 1 < lastK) throw new Error(`story ${b} has fewer than ${lastK} tokens`);
    out.tokens.set(ids, b * contextLength);
    out.lengths[b] = ids.length;
    out.labels.set(featureLabels(stories[b].features), b * PROBE_FEATURES.length);
    for (let k = 0; k < lastK; k++) out.lastPositions[b * lastK + k] = ids.length - lastK + k;
  }
  return out;
}

export interface ProbeSamplerConfig {
  seed: number;
  contextLength: number;
  lastK: number;
}

/** Probe batches by step: stories drawn with replacement from Rng.derive(seed, 'tinystories-probe', step). */
export function makeProbeSampler(
  stories: readonly TinyStory[],
  tokenizer: StoryTokenizer,
  config: Partial<ProbeSamplerConfig> = {},
): (step: number, batchSize: number) => ProbeBatch {
  const { seed, contextLength, lastK } = { seed: 0, contextLength: 256, lastK: 10, ...config };
  if (stories.length === 0) throw new Error('makeProbeSampler: no stories');
  return (step, batchSize) => {
    const rng = Rng.derive(seed, 'tinystories-probe', step);
    const chosen = Array.from({ length: batchSize }, () => stories[rng.int(0, stories.length)]);
    return makeProbeBatch(chosen, tokenizer, contextLength, lastK);
  };
}
