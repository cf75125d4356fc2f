/**
 * The real TinyStories data: the all-data JSON shards (spec/tinystories.md §1).
 *   TinyStories_all_data.tar.gz -> data00.json ... data49.json, each a JSON array of
 *   { story, instruction: { "prompt:", words, features }, summary, source }
 * (the key really is "prompt:" with the colon). data00 is the authors' test split.
 *
 * loadTinyStoriesShard / loadTinyStoriesDir validate every record and convert it to a TinyStory;
 * writeFixtureShard writes procedural stories in the same schema so the loader can be tested
 * offline; downloadTinyStories fetches the real archive (never used by tests or CI).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { Rng } from '../../engine/rng';
import { FEATURES, Feature, TinyStory, isFeature, splitSentences } from './types';
import { featureText } from './format';
import { WraplabError } from '../../engine/errors';

export const TINYSTORIES_URL =
  'https://huggingface.co/datasets/roneneldan/TinyStories/resolve/main/TinyStories_all_data.tar.gz';
export const SHARD_PATTERN = /^data\d\d\.json$/;

export interface TinyStoriesRecord {
  story: string;
  instruction: { 'prompt:'?: string; words: string[]; features: string[] };
  summary: string;
  source?: string;
}

export class TinyStoriesSchemaError extends WraplabError {
  constructor(where: string, problem: string) {
    super(`${where}: ${problem} (expected a TinyStories all-data record: {story: string, `
      + `instruction: {words: string[], features: (${FEATURES.join('|')})[]}, summary: string})`);
    this.name = 'TinyStoriesSchemaError';
  }
}

function isStringArray(x: unknown): x is string[] {
  return Array.isArray(x) && x.every((v) => typeof v === 'string');
}

/** Throws TinyStoriesSchemaError naming the record and the field that is wrong. */
export function validateRecord(raw: unknown, where: string): TinyStoriesRecord {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new TinyStoriesSchemaError(where, 'record is not an object');
  const r = raw as Record<string, unknown>;
  if (typeof r.story !== 'string') throw new TinyStoriesSchemaError(where, 'story must be a string');
  if (r.story.trim().length === 0) throw new TinyStoriesSchemaError(where, 'story is empty');
  const ins = r.instruction;
  if (typeof ins !== 'object' || ins === null) throw new TinyStoriesSchemaError(where, 'instruction must be an object');
  const i = ins as Record<string, unknown>;
  if (!isStringArray(i.words)) throw new TinyStoriesSchemaError(where, 'instruction.words must be an array of strings');
  if (!isStringArray(i.features)) throw new TinyStoriesSchemaError(where, 'instruction.features must be an array of strings');
  const bad = i.features.filter((f) => !isFeature(f));
  if (bad.length > 0) throw new TinyStoriesSchemaError(where, `unknown feature(s) ${JSON.stringify(bad)}`);
  if (typeof r.summary !== 'string') throw new TinyStoriesSchemaError(where, 'summary must be a string');
  if (r.source !== undefined && typeof r.source !== 'string') throw new TinyStoriesSchemaError(where, 'source must be a string');
  return raw as TinyStoriesRecord;
}

/**
 * A record as a TinyStory. The "Sentence:" line is one sentence without '"', drawn from `rng`
 * (the authors redraw it at each pretokenisation; we draw it once per record). A story whose every
 * sentence has a quote gets an empty sentence, as the authors' code would give nothing better.
 */
export function recordToStory(record: TinyStoriesRecord, rng: Rng): TinyStory {
  const story = record.story.trim();
  const plain = splitSentences(story).filter((s) => !s.includes('"'));
  return {
    story,
    words: record.instruction.words.slice(),
    features: record.instruction.features.filter(isFeature),
    summary: record.summary,
    sentence: plain.length > 0 ? rng.pick(plain) : '',
    source: record.source,
  };
}

export interface LoadOptions {
  /** Seeds the "Sentence:" draw; story i of shard s uses Rng.derive(seed, 'sentence', file, i). */
  seed?: number;
  /** Keep at most this many records per shard. */
  limit?: number;
  /** 'throw' (default): the first bad record is an error. 'skip': bad records are dropped and counted. */
  onInvalid?: 'throw' | 'skip';
}

export interface LoadResult {
  stories: TinyStory[];
  skipped: number;
}

export function loadTinyStoriesShard(file: string, options: LoadOptions = {}): LoadResult {
  const name = path.basename(file);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new TinyStoriesSchemaError(name, `not valid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(raw)) throw new TinyStoriesSchemaError(name, 'a shard must be a JSON array of records');
  const n = Math.min(raw.length, options.limit ?? Infinity);
  const stories: TinyStory[] = [];
  let skipped = 0;
  for (let i = 0; i < n; i++) {
    let record: TinyStoriesRecord;
    try {
      record = validateRecord(raw[i], `${name}[${i}]`);
    } catch (e) {
      if (options.onInvalid === 'skip' && e instanceof TinyStoriesSchemaError) {
        skipped++;
        continue;
      }
      throw e;
    }
    stories.push(recordToStory(record, Rng.derive(options.seed ?? 0, 'sentence', name, i)));
  }
  return { stories, skipped };
}

/** Shard files in a directory, sorted (data00.json first). */
export function listShards(dir: string): string[] {
  if (!fs.existsSync(dir)) throw new Error(`TinyStories directory not found: ${dir}`);
  return fs.readdirSync(dir).filter((f) => SHARD_PATTERN.test(f)).sort().map((f) => path.join(dir, f));
}

export interface TinyStoriesSplit {
  /** data00.json: the authors' test split. */
  test: TinyStory[];
  /** The other shards, in order. */
  train: TinyStory[];
  skipped: number;
}

/** Load shard 0 as test and the next `trainShards` shards (default all) as train. */
export function loadTinyStoriesDir(dir: string, options: LoadOptions & { trainShards?: number } = {}): TinyStoriesSplit {
  const shards = listShards(dir);
  if (shards.length === 0) throw new Error(`no dataNN.json shards in ${dir}; run downloadTinyStories(dir) first`);
  const first = loadTinyStoriesShard(shards[0], options);
  const out: TinyStoriesSplit = { test: first.stories, train: [], skipped: first.skipped };
  for (const file of shards.slice(1, 1 + (options.trainShards ?? shards.length))) {
    const r = loadTinyStoriesShard(file, options);
    out.train.push(...r.stories);
    out.skipped += r.skipped;
  }
  return out;
}

/** A story as a record of the real schema (the prompt text imitates the real one's gist). */
export function storyToRecord(story: TinyStory): TinyStoriesRecord {
  const features: Feature[] = story.features;
  return {
    story: story.story,
    instruction: {
      'prompt:': `Write a short story using the words ${story.words.map((w) => `"${w}"`).join(', ')}`
        + (features.length > 0 ? `. The story should have: ${features.map(featureText).join(', ')}.` : '.'),
      words: story.words.slice(),
      features: features.slice(),
    },
    summary: story.summary,
    source: story.source ?? 'wraplab-procedural',
  };
}

/** Write stories as one shard file (e.g. dir/data00.json) in the real schema. */
export function writeFixtureShard(file: string, stories: readonly TinyStory[]): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(stories.map(storyToRecord)));
}

/**
 * Download and unpack TinyStories_all_data.tar.gz into `dir` (about 1.5 GB packed) with Node's
 * fetch and the system `tar`. Skips the download when shards are already there. Not used in tests.
 */
export async function downloadTinyStories(dir: string, url: string = TINYSTORIES_URL): Promise<string[]> {
  fs.mkdirSync(dir, { recursive: true });
  if (listShards(dir).length > 0) return listShards(dir);
  const archive = path.join(dir, 'TinyStories_all_data.tar.gz');
  if (!fs.existsSync(archive)) {
    const res = await fetch(url);
    if (!res.ok || res.body === null) throw new Error(`download failed: ${res.status} ${res.statusText} (${url})`);
    const partial = `${archive}.partial`;
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), fs.createWriteStream(partial));
    fs.renameSync(partial, archive);
  }
  await promisify(execFile)('tar', ['-xzf', archive, '-C', dir]);
  const shards = listShards(dir);
  if (shards.length === 0) throw new Error(`unpacked ${archive} but found no dataNN.json shards in ${dir}`);
  return shards;
}
