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

export function tinyStoriesModel(cfg: Pick<TinyStoriesConfig, 'model' | 'contextLength'>, vocabSize: number, seed: number): Transformer {
  return new Transformer({ vocabSize, contextLength: cfg.contextLength, causal: true, bias: false, initStd: 0.02, ...cfg.model }, seed);
}


/** A copy of the tokenizer next to a model, so a run directory is a complete model. */
export function saveTokenizer(run: Run, data: TinyStoriesData): void {
  writeJsonAtomic(run.file('tokenizer.json'), data.tokenizer.toJSON());
}
