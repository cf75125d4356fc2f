/**
 * The TinyStories data of a config: the corpus (procedural or a real source), its deletion/recovery datasets and the
 * tokenizer (word or BPE, trained once per corpus and seed, kept as tokenizer.json in its own run directory), and the
 * batches models train on.
 */
import { info } from '../../notebook';
import * as fs from 'node:fs';
import { Batch, BatchSampler } from '../../engine/data';
import { readJson, writeJsonAtomic } from '../../engine/fsutil';
import { Transformer } from '../../engine/model';
import { Rng } from '../../engine/rng';
import { Run } from '../../engine/runs';
import * as ts from '../../tasks/tinystories';
import type { TinyStoriesConfig } from './config';
import { WraplabError } from '../../engine/errors';

export interface TinyStoriesData {
  /** Where the stories came from, and how many have labels (a real source; null for the procedural corpus). */
  corpus: ts.CorpusSummary | null;
  datasets: ts.TinyStoriesDatasets;
  /** The held-out split with its real labels (probe test set). */
  heldOut: ts.TinyStory[];
  tokenizer: ts.StoryTokenizer;
}

const dataMemo = new Map<string, TinyStoriesData>();

/**
 * The corpus, its datasets and the tokenizer (trained on the instruct-formatted pretraining text, spec §3).
 * The tokenizer is a stage of its own (tokenizer.json in its run) and is copied next to every model.
 */
export function tinyStoriesData(corpus: TinyStoriesConfig['corpus'], seed: number): TinyStoriesData {
  const real = isRealSource(corpus);
  const fingerprint = real ? ts.sourceFingerprint(corpus.source!) : null;
  const key = JSON.stringify({ corpus, seed, fingerprint });
  const hit = dataMemo.get(key);
  if (hit) return hit;
  const run = Run.open({ stage: 'tinystories-tokenizer', corpus, seed });
  if (fingerprint) {
    // Runs are keyed by the path: refuse files that changed under runs cached from them.
    const seen = run.file('corpus.json');
    if (fs.existsSync(seen)) {
      const before = (readJson(seen) as { fingerprint: string[] }).fingerprint;
      if (JSON.stringify(before) !== JSON.stringify(fingerprint)) {
        throw new WraplabError(`corpus.source ${corpus.source}: its files changed since runs were cached from them (${before.join(', ')} -> ${fingerprint.join(', ')}); put the new stories at a new path, or delete ${run.dir} and the runs made from it`);
      }
    } else writeJsonAtomic(seen, { source: corpus.source, fingerprint });
  }
  const { stories, summary } = corpusStories(corpus, seed);
  const split = ts.splitStories(stories);
  if (summary) {
    if (split.test.length === 0 || split.pretrain.length === 0 || split.finetune.length === 0) {
      throw new WraplabError(`corpus.source ${corpus.source}: ${stories.length} stories leave an empty split (test ${split.test.length}, pretrain ${split.pretrain.length}, fine-tune ${split.finetune.length}); the 2% test split needs at least 50 stories`);
    }
    if (process.env.WRAPLAB_QUIET !== '1') {
      info(`wraplab: tinystories corpus ${corpus.source}: ${summary.stories} of ${summary.read} stories, ${summary.labelled} with feature labels (${summary.twist} Twist)${summary.skipped ? `, ${summary.skipped} invalid records skipped` : ''}`);
    }
  }
  let datasets = ts.buildDatasets(stories);
  if (real) datasets = labelledOnly(datasets);
  const file = run.file('tokenizer.json');
  const kind = tokenizerKind(corpus);
  let tokenizer: ts.StoryTokenizer;
  if (fs.existsSync(file)) {
    tokenizer = ts.storyTokenizerFromJSON(readJson(file));
    if (tokenizer.kind !== kind) throw new WraplabError(`${file} holds a ${tokenizer.kind} tokenizer but corpus.tokenizer is ${kind}; delete ${run.dir} and the runs made from it`);
  } else {
    tokenizer = trainStoryTokenizer(kind, datasets.pretrain, corpus.vocabSize, seed);
    writeJsonAtomic(file, tokenizer.toJSON());
  }
  const data = { corpus: summary, datasets, heldOut: split.test, tokenizer };
  dataMemo.set(key, data);
  return data;
}

/** Does the corpus come from a real source (files) rather than the procedural generator? */
export function isRealSource(corpus: TinyStoriesConfig['corpus']): boolean {
  return corpus.source !== undefined && corpus.source !== 'procedural';
}

/** The stories of a corpus config: generated, or read from its source (a seeded sample of corpus.stories). */
export function corpusStories(corpus: TinyStoriesConfig['corpus'], seed: number): { stories: ts.TinyStory[]; summary: ts.CorpusSummary | null } {
  if (isRealSource(corpus)) return ts.loadTinyStoriesSource(corpus.source!, { seed, cap: corpus.stories });
  return { stories: ts.generateStories(seed, corpus.stories, generatorConfig(corpus)), summary: null };
}

/** The procedural generator's settings for a corpus config. */
export function generatorConfig(corpus: TinyStoriesConfig['corpus']): ts.StoryGeneratorConfig {
  return { ...ts.DEFAULT_GENERATOR_CONFIG, minWords: corpus.minWords, maxWords: corpus.maxWords, maxFeatures: corpus.maxFeatures };
}

/**
 * `count` procedural stories no model saw: story i of a corpus depends only on (seed, i), so the stories after the
 * corpus's last index are fresh draws from the same distribution (with their realisations, which a probe can split on).
 */
export function freshStories(corpus: TinyStoriesConfig['corpus'], seed: number, count: number): ts.GeneratedStory[] {
  if (isRealSource(corpus)) throw new WraplabError(`fresh stories come from the procedural generator; corpus.source ${corpus.source} has no generator (leave structureProbe out for a real corpus)`);
  return ts.generateStories(seed, count, generatorConfig(corpus), corpus.stories);
}

/** The tokenizer a corpus trains: as configured, else BPE for a real source and words for the procedural corpus. */
export function tokenizerKind(corpus: TinyStoriesConfig['corpus']): ts.StoryTokenizer['kind'] {
  return corpus.tokenizer ?? (isRealSource(corpus) ? 'bpe' : 'word');
}

/** A tokenizer of `kind` trained on the instruct-formatted stories (spec §3: the pretraining text). */
export function trainStoryTokenizer(kind: ts.StoryTokenizer['kind'], stories: readonly ts.TinyStory[], vocabSize: number, seed: number): ts.StoryTokenizer {
  const rng = Rng.derive(seed, 'tinystories', 'tokenizer');
  const texts = stories.map((s) => ts.renderInstruct(s, rng));
  return kind === 'bpe' ? ts.BpeTokenizer.train(texts, { vocabSize }) : ts.WordTokenizer.train(texts, { vocabSize });
}

/** Every set that depends on a story's labels keeps only labelled stories (an unlabelled one is not "no Twist"). */
function labelledOnly(d: ts.TinyStoriesDatasets): ts.TinyStoriesDatasets {
  const keep = (xs: ts.TinyStory[]) => xs.filter((s) => s.labelled !== false);
  return {
    pretrain: d.pretrain,
    pretrainNoTwist: keep(d.pretrainNoTwist),
    filter: keep(d.filter),
    filterRandomise: keep(d.filterRandomise),
    filterMixMatch: keep(d.filterMixMatch),
    recovery: keep(d.recovery),
    test: { twist: keep(d.test.twist), noTwist: keep(d.test.noTwist), adversarial: keep(d.test.adversarial) },
  };
}

/**
 * Throws unless the corpus has the Twist labels `what` needs: labelled stories with and without Twist (plain text
 * and records without instruction.features have none).
 */
export function requireTwistLabels(data: TinyStoriesData, what: string): void {
  const c = data.corpus;
  if (!c) return;
  if (c.twist > 0 && c.labelled - c.twist > 0) return;
  throw new WraplabError(
    `${what} needs stories labelled with and without Twist (instruction.features), but corpus.source ${c.source} has ` +
      `${c.labelled} labelled stories of ${c.stories}, ${c.twist} with Twist. Use the all-data JSON shards; on unlabelled ` +
      `stories only pretraining the "present" model runs (deletion, reFT, the "absent" control, probes and the Twist ` +
      `evaluation need the labels).`,
  );
}

/** How the stories fit the model's context under this corpus's tokenizer (printed for real corpora before pretraining). */
export function contextReport(stories: readonly ts.TinyStory[], data: TinyStoriesData, contextLength: number, seed: number): ts.TokenizerStats {
  return ts.tokenizerStats(data.tokenizer, stories, contextLength, seed);
}

/** What a real corpus gave a run: its stories and labels, and the tokenizer's fit on the held-out stories. */
export interface CorpusRecord extends ts.CorpusSummary {
  /** Tokenizer statistics on the held-out split (the stories the evaluation and probes read). */
  heldOut: ts.TokenizerStats;
}

/** The record results files carry for a real corpus.source (undefined for the procedural corpus). */
export function corpusRecord(data: TinyStoriesData, contextLength: number, seed: number): CorpusRecord | undefined {
  if (!data.corpus) return undefined;
  return { ...data.corpus, heldOut: ts.tokenizerStats(data.tokenizer, data.heldOut, contextLength, seed) };
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

export function tinyStoriesModel(cfg: Pick<TinyStoriesConfig, 'model' | 'contextLength'>, vocabSize: number, seed: number): Transformer {
  return new Transformer({ vocabSize, contextLength: cfg.contextLength, causal: true, bias: false, initStd: 0.02, ...cfg.model }, seed);
}


/** A copy of the tokenizer next to a model, so a run directory is a complete model. */
export function saveTokenizer(run: Run, data: TinyStoriesData): void {
  writeJsonAtomic(run.file('tokenizer.json'), data.tokenizer.toJSON());
}
