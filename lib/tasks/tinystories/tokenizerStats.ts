/**
 * How well a tokenizer fits a corpus: tokens per word, how often it falls back to spelling a word letter by letter
 * (the word tokenizer's out-of-vocabulary case, which real text hits and models then imitate with invented words),
 * and the share of training examples that fit the context.
 */
import { Rng } from '../../engine/rng';
import { encodeExample } from './batches';
import type { StoryTokenizer } from './bpe';
import { pretokenize } from './tokenizer';
import type { TinyStory } from './types';

export interface TokenizerStats {
  tokenizer: StoryTokenizer['kind'];
  vocabSize: number;
  stories: number;
  /** Tokens of the story text per whitespace-separated word. */
  tokensPerWord: number;
  /** Words of two or more letters counted for spelledRate. */
  words: number;
  /** Share of those words encoded with no token covering two letters (spelled out in characters). */
  spelledRate: number;
  contextLength: number;
  /** Examples (instruction lines + story + EOS) longer than the context, which training cuts. */
  truncated: number;
  /** 1 - truncated / stories. */
  fitsContext: number;
}

const LETTERS = /\p{L}/gu;

/** Statistics of `tokenizer` on `stories` (held-out ones, for a fair picture); `seed` draws the instruction order. */
export function tokenizerStats(tokenizer: StoryTokenizer, stories: readonly TinyStory[], contextLength: number, seed: number): TokenizerStats {
  let tokens = 0;
  let whitespaceWords = 0;
  let words = 0;
  let spelled = 0;
  let truncated = 0;
  const spelledMemo = new Map<string, boolean>();
  stories.forEach((s, i) => {
    if (encodeExample(s, tokenizer, Rng.derive(seed, 'context-report', i), 'full', true).length > contextLength + 1) truncated++;
    tokens += tokenizer.encode(s.story).length;
    whitespaceWords += s.story.split(/\s+/).filter(Boolean).length;
    for (const piece of pretokenize(s.story)) {
      const letters = piece.match(LETTERS)?.length ?? 0;
      if (letters < 2) continue;
      let isSpelled = spelledMemo.get(piece);
      if (isSpelled === undefined) {
        isSpelled = tokenizer.encode(piece).length >= letters;
        spelledMemo.set(piece, isSpelled);
      }
      words++;
      if (isSpelled) spelled++;
    }
  });
  const n = stories.length;
  return {
    tokenizer: tokenizer.kind,
    vocabSize: tokenizer.vocabSize,
    stories: n,
    tokensPerWord: whitespaceWords ? tokens / whitespaceWords : 0,
    words,
    spelledRate: words ? spelled / words : 0,
    contextLength,
    truncated,
    fitsContext: n ? 1 - truncated / n : 1,
  };
}
