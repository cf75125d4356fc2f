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
import { promisify } from 'node:util';
import { StringDecoder } from 'node:string_decoder';
import { Rng } from '../../engine/rng';
import { FEATURES, Feature, TinyStory, isFeature, splitSentences } from './types';
import { featureText } from './format';
import { WraplabError } from '../../engine/errors';

export const TINYSTORIES_URL =
  'https://huggingface.co/datasets/roneneldan/TinyStories/resolve/main/TinyStories_all_data.tar.gz';
export const SHARD_PATTERN = /^data\d\d\.json$/;

/** A record of the all-data shards. Summaries, words and features are missing from some derived dumps. */
export interface TinyStoriesRecord {
  story: string;
  instruction?: { 'prompt:'?: string; words?: string[]; features?: string[] };
  summary?: string;
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
  // instruction, its words and features, and the summary may be missing (then: no words, unlabelled, no
  // summary); present, they must have their types.
  const ins = r.instruction;
  if (ins !== undefined && (typeof ins !== 'object' || ins === null || Array.isArray(ins))) throw new TinyStoriesSchemaError(where, 'instruction must be an object');
  const i = (ins ?? {}) as Record<string, unknown>;
  if (i.words !== undefined && !isStringArray(i.words)) throw new TinyStoriesSchemaError(where, 'instruction.words must be an array of strings');
  if (i.features !== undefined && !isStringArray(i.features)) throw new TinyStoriesSchemaError(where, 'instruction.features must be an array of strings');
  const bad = ((i.features as string[] | undefined) ?? []).filter((f) => !isFeature(f));
  if (bad.length > 0) throw new TinyStoriesSchemaError(where, `unknown feature(s) ${JSON.stringify(bad)}; known: ${FEATURES.join(', ')}`);
  if (r.summary !== undefined && typeof r.summary !== 'string') throw new TinyStoriesSchemaError(where, 'summary must be a string');
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
  const features = record.instruction?.features;
  return {
    story,
    words: (record.instruction?.words ?? []).slice(),
    features: (features ?? []).filter(isFeature),
    summary: record.summary ?? '',
    sentence: sentenceLine(story, rng),
    source: record.source,
    ...(features === undefined ? { labelled: false } : {}),
  };
}

/** A plain-text story (no metadata): unlabelled, no words, no summary. */
export function textToStory(text: string, rng: Rng): TinyStory {
  const story = text.trim();
  return { story, words: [], features: [], summary: '', sentence: sentenceLine(story, rng), labelled: false };
}

/** The instruct "Sentence:" line: one sentence of the story without '"' (empty when every sentence has one). */
function sentenceLine(story: string, rng: Rng): string {
  const plain = splitSentences(story).filter((s) => !s.includes('"'));
  return plain.length > 0 ? rng.pick(plain) : '';
}

/** Reads a file in chunks as text, UTF-8 safe across chunk edges. */
function* textChunks(file: string, chunkBytes: number): Generator<string> {
  const fd = fs.openSync(file, 'r');
  try {
    const decoder = new StringDecoder('utf8');
    const buf = Buffer.alloc(chunkBytes);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, chunkBytes, null);
      if (n === 0) {
        const rest = decoder.end();
        if (rest) yield rest;
        return;
      }
      yield decoder.write(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The elements of a file holding one JSON array of objects, one at a time: a real shard is ~250 MB, and parsing it
 * whole holds the text and every object at once. Synchronous, because the experiments build their data
 * synchronously (the npm streaming JSON parsers are stream-based). Each element is cut out by tracking strings and
 * nesting, then parsed with JSON.parse, so the JSON grammar itself stays JSON.parse's.
 */
export function* readJsonArrayRecords(file: string, chunkBytes = 1 << 20): Generator<unknown> {
  const name = path.basename(file);
  let text = '';
  let pos = 0;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let start = -1;
  let index = 0;
  let closed = false;
  let literal = false; // inside a bare element at depth 1 (a number, true, false, null): the record check rejects it
  const element = (end: number): unknown => {
    try {
      return JSON.parse(text.slice(start, end));
    } catch (e) {
      throw new TinyStoriesSchemaError(`${name}[${index}]`, `not valid JSON (${(e as Error).message})`);
    }
  };
  for (const chunk of textChunks(file, chunkBytes)) {
    text += chunk;
    for (; pos < text.length; pos++) {
      const c = text.charCodeAt(pos);
      if (inString) {
        if (escaped) escaped = false;
        else if (c === 92) escaped = true;
        else if (c === 34) {
          inString = false;
          if (depth === 1) {
            // A bare string element.
            const value = element(pos + 1);
            index++;
            start = -1;
            yield value;
          }
        }
        continue;
      }
      const space = c === 32 || c === 10 || c === 13 || c === 9;
      if (literal) {
        if (!space && c !== 44 && c !== 93) continue;
        const value = element(pos);
        literal = false;
        index++;
        start = -1;
        yield value;
      }
      if (space) continue;
      if (closed) throw new TinyStoriesSchemaError(name, 'not valid JSON (text after the closing bracket)');
      if (depth === 0) {
        if (c !== 91) throw new TinyStoriesSchemaError(name, 'a shard must be a JSON array of records');
        depth = 1;
        continue;
      }
      if (depth === 1) {
        if (c === 44) continue;
        if (c === 93) {
          closed = true;
          continue;
        }
        start = pos;
        if (c === 123 || c === 91) depth = 2;
        else if (c === 34) inString = true;
        else literal = true;
        continue;
      }
      if (c === 34) inString = true;
      else if (c === 123 || c === 91) depth++;
      else if (c === 125 || c === 93) {
        depth--;
        if (depth === 1) {
          const value = element(pos + 1);
          index++;
          start = -1;
          yield value;
        }
      }
    }
    // Keep only the unfinished element.
    const keep = start >= 0 ? start : pos;
    text = text.slice(keep);
    pos -= keep;
    if (start >= 0) start = 0;
  }
  if (!closed) throw new TinyStoriesSchemaError(name, `not valid JSON (the file ends inside ${depth <= 1 ? 'the array' : `record ${index}`}: cut short?)`);
}

/** Stories of a plain-text file, separated by <|endoftext|> (TinyStories-train.txt), read in chunks. */
export function* readTextStories(file: string, chunkBytes = 1 << 20): Generator<string> {
  const SEP = '<|endoftext|>';
  let text = '';
  for (const chunk of textChunks(file, chunkBytes)) {
    text += chunk;
    let cut: number;
    while ((cut = text.indexOf(SEP)) >= 0) {
      const story = text.slice(0, cut).trim();
      text = text.slice(cut + SEP.length);
      if (story) yield story;
    }
  }
  if (text.trim()) yield text.trim();
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
  const limit = options.limit ?? Infinity;
  const stories: TinyStory[] = [];
  let skipped = 0;
  let i = 0;
  for (const raw of readJsonArrayRecords(file)) {
    if (i >= limit) break;
    let record: TinyStoriesRecord;
    try {
      record = validateRecord(raw, `${name}[${i}]`);
    } catch (e) {
      if (options.onInvalid === 'skip' && e instanceof TinyStoriesSchemaError) {
        skipped++;
        i++;
        continue;
      }
      throw e;
    }
    stories.push(recordToStory(record, Rng.derive(options.seed ?? 0, 'sentence', name, i)));
    i++;
  }
  return { stories, skipped };
}

/** A plain-text file of stories separated by <|endoftext|>, as unlabelled stories. */
export function loadTinyStoriesText(file: string, options: Pick<LoadOptions, 'seed' | 'limit'> = {}): TinyStory[] {
  const name = path.basename(file);
  const out: TinyStory[] = [];
  for (const text of readTextStories(file)) {
    if (out.length >= (options.limit ?? Infinity)) break;
    out.push(textToStory(text, Rng.derive(options.seed ?? 0, 'sentence', name, out.length)));
  }
  return out;
}

export interface CorpusSummary {
  source: string;
  /** Stories read (before the cap). */
  read: number;
  /** Stories kept (a seeded uniform sample when the source holds more than the cap). */
  stories: number;
  /** Kept stories with feature labels, and of them with Twist. */
  labelled: number;
  twist: number;
  skipped: number;
}

/** The files a real-data source reads: the dataNN.json shards of a directory, or the file itself. */
export function sourceFiles(source: string): string[] {
  if (!fs.existsSync(source)) {
    throw new WraplabError(`corpus.source: ${source} does not exist; give a directory of TinyStories dataNN.json shards, one .json shard or a .txt file of stories separated by <|endoftext|> (or 'procedural')`);
  }
  const files = fs.statSync(source).isDirectory() ? listShards(source) : [source];
  if (files.length === 0) throw new WraplabError(`corpus.source: no dataNN.json shards in ${source}; put TinyStories_all_data's data00.json ... data49.json there`);
  return files;
}

/**
 * What identifies a source's contents for the run cache (which keys runs by the path): each file's name, size and
 * modification time. Cheap: nothing is read.
 */
export function sourceFingerprint(source: string): string[] {
  return sourceFiles(source).map((f) => {
    const st = fs.statSync(f);
    return `${path.basename(f)}:${st.size}:${Math.round(st.mtimeMs)}`;
  });
}

/**
 * The stories of a real-data source, in a seeded random order: a directory of dataNN.json shards (all of them,
 * pooled: no shard is taken as the test split as it stands), one .json shard, or a .txt file of stories separated
 * by <|endoftext|>. With `cap`, a uniform sample of that many (reservoir sampling: memory stays bounded).
 */
export function loadTinyStoriesSource(source: string, options: { seed: number; cap?: number; onInvalid?: 'throw' | 'skip' }): { stories: TinyStory[]; summary: CorpusSummary } {
  const files = sourceFiles(source);
  const rng = Rng.derive(options.seed, 'tinystories', 'corpus-sample');
  const cap = options.cap ?? Infinity;
  const kept: TinyStory[] = [];
  let read = 0;
  let skipped = 0;
  const offer = (s: TinyStory) => {
    if (kept.length < cap) kept.push(s);
    else {
      const j = rng.int(0, read + 1);
      if (j < cap) kept[j] = s;
    }
    read++;
  };
  for (const file of files) {
    if (file.endsWith('.txt')) for (const s of loadTinyStoriesText(file, { seed: options.seed })) offer(s);
    else if (file.endsWith('.json')) {
      const r = loadTinyStoriesShard(file, { seed: options.seed, onInvalid: options.onInvalid });
      r.stories.forEach(offer);
      skipped += r.skipped;
    } else throw new WraplabError(`corpus.source: ${file} is neither a .json shard nor a .txt file of stories`);
  }
  Rng.derive(options.seed, 'tinystories', 'corpus-shuffle').shuffle(kept);
  const labelled = kept.filter((s) => s.labelled !== false);
  return {
    stories: kept,
    summary: { source, read, stories: kept.length, labelled: labelled.length, twist: labelled.filter((s) => s.features.includes('Twist')).length, skipped },
  };
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

export interface DownloadTinyStoriesOptions {
  url?: string;
  /** Called as bytes arrive (at most every MiB) with the bytes so far and the total (0 when unknown). */
  onProgress?: (done: number, total: number) => void;
  fetch?: typeof fetch;
}

/** What to do by hand when the archive cannot be downloaded here. */
export function tinyStoriesManualSteps(dir: string, url = TINYSTORIES_URL): string {
  return `on a machine with internet run \`npx wraplab data tinystories --dir ${dir}\`, or download ${url} (about 1.5 GB) ` +
    `and put it at ${path.join(dir, 'TinyStories_all_data.tar.gz')} (it is unpacked on the next run), or put its unpacked ` +
    `data00.json ... data49.json into ${dir}`;
}

/**
 * Download and unpack TinyStories_all_data.tar.gz into `dir` (about 1.5 GB packed) with Node's fetch and the system
 * `tar`. Skips everything when shards are there and the download when the archive is. A download that breaks off
 * leaves `<archive>.partial`; the next call continues it with a Range request (or starts over if the server ignores
 * the range). Not used by CI against the real URL.
 */
export async function downloadTinyStories(dir: string, options: DownloadTinyStoriesOptions | string = {}): Promise<string[]> {
  const opts = typeof options === 'string' ? { url: options } : options;
  const url = opts.url ?? TINYSTORIES_URL;
  const doFetch = opts.fetch ?? fetch;
  fs.mkdirSync(dir, { recursive: true });
  if (listShards(dir).length > 0) return listShards(dir);
  const archive = path.join(dir, 'TinyStories_all_data.tar.gz');
  if (!fs.existsSync(archive)) {
    const partial = `${archive}.partial`;
    const have = fs.existsSync(partial) ? fs.statSync(partial).size : 0;
    let res: Response;
    try {
      res = await doFetch(url, have > 0 ? { headers: { Range: `bytes=${have}-` } } : {});
    } catch (e) {
      throw new WraplabError(`cannot download ${url} (${(e as Error).cause ?? (e as Error).message}): ${tinyStoriesManualSteps(dir, url)}`);
    }
    if (!res.ok || res.body === null) throw new WraplabError(`download failed: ${res.status} ${res.statusText} (${url}): ${tinyStoriesManualSteps(dir, url)}`);
    const resumed = res.status === 206;
    const start = resumed ? have : 0;
    const total = Number(res.headers.get('content-length') ?? 0) + start;
    let done = start;
    let reported = 0;
    // Each chunk is written synchronously as it arrives, so a download that breaks off keeps every byte it got.
    const fd = fs.openSync(partial, resumed ? 'a' : 'w');
    try {
      for await (const chunk of Readable.fromWeb(res.body as import('node:stream/web').ReadableStream)) {
        fs.writeSync(fd, chunk as Uint8Array);
        done += (chunk as Uint8Array).length;
        if (done - reported >= 1 << 20) {
          reported = done;
          opts.onProgress?.(done, total);
        }
      }
    } catch (e) {
      throw new WraplabError(`the download of ${url} broke off at ${done} of ${total || '?'} bytes (${(e as Error).message}); run it again to continue from there`);
    } finally {
      fs.closeSync(fd);
    }
    if (total > 0 && fs.statSync(partial).size !== total) {
      throw new WraplabError(`the download of ${url} ended at ${fs.statSync(partial).size} of ${total} bytes; run it again to continue from there`);
    }
    opts.onProgress?.(done, total);
    fs.renameSync(partial, archive);
  }
  await promisify(execFile)('tar', ['-xzf', archive, '-C', dir]);
  const shards = listShards(dir);
  if (shards.length === 0) throw new WraplabError(`unpacked ${archive} but found no dataNN.json shards in ${dir}`);
  return shards;
}
