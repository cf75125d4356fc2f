/**
 * The word tokenizer beside the BPE on a corpus: each trained on the pretraining split at the preset's vocabulary,
 * measured on the stories neither saw (the fine-tune and test splits). `wraplab tokenizers` prints it.
 */
import { parsePreset, type Preset } from '../define';
import { checkSeed, resolveConfig } from '../run';
import * as ts from '../../tasks/tinystories';
import { corpusStories, trainStoryTokenizer } from './data';
import { reft } from './experiments';

export interface TokenizerComparisonRow extends ts.TokenizerStats {
  /** 'procedural' or the source path. */
  corpus: string;
}

export interface CompareTokenizersOptions {
  preset?: Preset | string;
  /** A real source (directory of shards, a shard, or a .txt); absent: the preset's procedural corpus. */
  source?: string;
  seed?: number;
  /** Default: the preset's corpus.vocabSize. */
  vocabSize?: number;
  /** Default: the preset's contextLength. */
  contextLength?: number;
}

export function compareTokenizers(opts: CompareTokenizersOptions = {}): TokenizerComparisonRow[] {
  const cfg = resolveConfig(reft, parsePreset(opts.preset));
  const seed = checkSeed(opts.seed ?? 0);
  const corpus = { ...cfg.corpus, ...(opts.source ? { source: opts.source } : {}) };
  const vocabSize = opts.vocabSize ?? corpus.vocabSize;
  const contextLength = opts.contextLength ?? cfg.contextLength;
  const split = ts.splitStories(corpusStories(corpus, seed).stories);
  const unseen = [...split.finetune, ...split.test];
  return (['word', 'bpe'] as const).map((kind) => ({
    corpus: opts.source ?? 'procedural',
    ...ts.tokenizerStats(trainStoryTokenizer(kind, split.pretrain, vocabSize, seed), unseen, contextLength, seed),
  }));
}
