/**
 * The TinyStories data of a config: the procedural corpus, its deletion/recovery datasets and the word tokenizer
 * (trained once per corpus and seed, kept as tokenizer.json in its own run directory), and the batches models
 * train on.
 */
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
  tokenizer: ts.WordTokenizer;
}

const dataMemo = new Map<string, TinyStoriesData>();

/**
 * The corpus, its datasets and the tokenizer (trained on the instruct-formatted pretraining text, spec §3).
 * The tokenizer is a stage of its own (tokenizer.json in its run) and is copied next to every model.
 */
export function tinyStoriesData(corpus: TinyStoriesConfig['corpus'], seed: number): TinyStoriesData {
  const real = corpus.source !== undefined && corpus.source !== 'procedural';
  const fingerprint = real ? ts.sourceFingerprint(corpus.source!) : null;
  const key = JSON.stringify({ corpus, seed, fingerprint });
  const hit = dataMemo.get(key);
  if (hit) return hit;
  let stories: ts.TinyStory[];
  let summary: ts.CorpusSummary | null = null;
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
    ({ stories, summary } = ts.loadTinyStoriesSource(corpus.source!, { seed, cap: corpus.stories }));
  } else {
    const generator = { ...ts.DEFAULT_GENERATOR_CONFIG, minWords: corpus.minWords, maxWords: corpus.maxWords, maxFeatures: corpus.maxFeatures };
    stories = ts.generateStories(seed, corpus.stories, generator);
  }
  const split = ts.splitStories(stories);
  if (summary) {
    if (split.test.length === 0 || split.pretrain.length === 0 || split.finetune.length === 0) {
      throw new WraplabError(`corpus.source ${corpus.source}: ${stories.length} stories leave an empty split (test ${split.test.length}, pretrain ${split.pretrain.length}, fine-tune ${split.finetune.length}); the 2% test split needs at least 50 stories`);
    }
    if (process.env.WRAPLAB_QUIET !== '1') {
      console.error(`wraplab: tinystories corpus ${corpus.source}: ${summary.stories} of ${summary.read} stories, ${summary.labelled} with feature labels (${summary.twist} Twist)${summary.skipped ? `, ${summary.skipped} invalid records skipped` : ''}`);
    }
  }
  let datasets = ts.buildDatasets(stories);
  if (real) datasets = labelledOnly(datasets);
  const file = run.file('tokenizer.json');
  let tokenizer: ts.WordTokenizer;
  if (fs.existsSync(file)) tokenizer = ts.WordTokenizer.fromJSON(readJson(file));
  else {
    const rng = Rng.derive(seed, 'tinystories', 'tokenizer');
    tokenizer = ts.WordTokenizer.train(datasets.pretrain.map((s) => ts.renderInstruct(s, rng)), { vocabSize: corpus.vocabSize });
    writeJsonAtomic(file, tokenizer.toJSON());
  }
  const data = { corpus: summary, datasets, heldOut: split.test, tokenizer };
  dataMemo.set(key, data);
  return data;
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

export interface ContextReport {
  stories: number;
  /** Stories whose training example (instruction lines + story) is longer than the context, and so is cut. */
  truncated: number;
  /** Tokens per whitespace-separated word of the story text. */
  tokensPerWord: number;
}

/** How the stories fit the model's context under this tokenizer (printed for real corpora before pretraining). */
export function contextReport(stories: readonly ts.TinyStory[], data: TinyStoriesData, contextLength: number, seed: number): ContextReport {
  let truncated = 0;
  let tokens = 0;
  let words = 0;
  stories.forEach((s, i) => {
    if (ts.encodeExample(s, data.tokenizer, Rng.derive(seed, 'context-report', i), 'full', true).length > contextLength + 1) truncated++;
    tokens += data.tokenizer.encode(s.story).length;
    words += s.story.split(/\s+/).filter(Boolean).length;
  });
  return { stories: stories.length, truncated, tokensPerWord: words ? tokens / words : 0 };
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
