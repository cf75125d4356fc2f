import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  TinyStoriesSchemaError, generateStories, listShards, loadTinyStoriesDir, loadTinyStoriesShard, loadTinyStoriesSource,
  loadTinyStoriesText, readJsonArrayRecords, readTextStories, storyToRecord, writeFixtureShard, downloadTinyStories,
} from '../../lib/tasks/tinystories';
import * as http from 'node:http';
import { execFileSync } from 'node:child_process';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-tinystories-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

const stories = generateStories(51, 60);

test('fixture shards use the real schema, including the "prompt:" key', () => {
  const rec = storyToRecord(stories[0]) as unknown as Record<string, Record<string, unknown>>;
  assert.deepEqual(Object.keys(rec).sort(), ['instruction', 'source', 'story', 'summary']);
  assert.deepEqual(Object.keys(rec.instruction).sort(), ['features', 'prompt:', 'words']);
});

test('loader reads fixture shards back: data00 is test, the rest train, in order', () => {
  writeFixtureShard(path.join(dir, 'data00.json'), stories.slice(0, 20));
  writeFixtureShard(path.join(dir, 'data01.json'), stories.slice(20, 40));
  writeFixtureShard(path.join(dir, 'data02.json'), stories.slice(40));
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'not a shard');
  assert.deepEqual(listShards(dir).map((f) => path.basename(f)), ['data00.json', 'data01.json', 'data02.json']);
  const split = loadTinyStoriesDir(dir, { seed: 1 });
  assert.equal(split.test.length, 20);
  assert.equal(split.train.length, 40);
  const all = [...split.test, ...split.train];
  all.forEach((s, i) => {
    assert.equal(s.story, stories[i].story);
    assert.deepEqual(s.features, stories[i].features);
    assert.deepEqual(s.words, stories[i].words);
    assert.equal(s.summary, stories[i].summary);
    assert.ok(s.story.includes(s.sentence) && !s.sentence.includes('"'));
  });
  // Sentence draws are seeded.
  assert.deepEqual(loadTinyStoriesDir(dir, { seed: 1 }), split);
  assert.equal(loadTinyStoriesDir(dir, { trainShards: 1 }).train.length, 20);
  assert.equal(loadTinyStoriesShard(path.join(dir, 'data01.json'), { limit: 5 }).stories.length, 5);
});

test('schema errors name the shard, the record and the field', () => {
  const file = path.join(dir, 'bad', 'data07.json');
  const good = storyToRecord(stories[0]);
  const cases: [unknown, RegExp][] = [
    [{ ...good, story: 3 }, /data07\.json\[1\]: story must be a string/],
    [{ ...good, instruction: { ...good.instruction, words: 'a, b' } }, /instruction\.words must be an array of strings/],
    [{ ...good, instruction: { ...good.instruction, features: ['Twist', 'Surprise'] } }, /unknown feature\(s\) \["Surprise"\]/],
    [{ ...good, summary: 3 }, /summary must be a string/],
    [{ story: 'x', instruction: 'x' }, /instruction must be an object/],
    [7, /data07\.json\[1\]: record is not an object/],
  ];
  for (const [bad, message] of cases) {
    writeFixtureShard(file, []);
    fs.writeFileSync(file, JSON.stringify([good, bad]));
    assert.throws(() => loadTinyStoriesShard(file), (e: unknown) => e instanceof TinyStoriesSchemaError && message.test((e as Error).message));
    const skipped = loadTinyStoriesShard(file, { onInvalid: 'skip' });
    assert.equal(skipped.stories.length, 1);
    assert.equal(skipped.skipped, 1);
  }
  fs.writeFileSync(file, '{"story": "not an array"}');
  assert.throws(() => loadTinyStoriesShard(file), /a shard must be a JSON array/);
  fs.writeFileSync(file, '[{"story": ');
  assert.throws(() => loadTinyStoriesShard(file), /data07\.json: not valid JSON/);
});

test('a missing directory or one without shards is a clear error', () => {
  assert.throws(() => loadTinyStoriesDir(path.join(dir, 'nope')), /TinyStories directory not found/);
  const empty = fs.mkdtempSync(path.join(dir, 'empty-'));
  assert.throws(() => loadTinyStoriesDir(empty), /run downloadTinyStories/);
});

test('shards are read record by record: any chunk size gives what JSON.parse of the whole file gives', () => {
  const file = path.join(dir, 'stream', 'data00.json');
  const tricky = { story: 'She said "{[}]" and \\ left. Ünïcode ✓ 😀', instruction: { words: ['a'], features: ['Twist'] }, summary: '}' };
  const records = [...stories.slice(0, 5).map(storyToRecord), tricky];
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(records, null, 2));
  for (const chunk of [1, 3, 7, 64, 1 << 20]) assert.deepEqual([...readJsonArrayRecords(file, chunk)], records, `chunk ${chunk}`);
  fs.writeFileSync(file, '[]');
  assert.deepEqual([...readJsonArrayRecords(file)], []);
  fs.writeFileSync(file, '[{"story": "a"}] x');
  assert.throws(() => [...readJsonArrayRecords(file)], /text after the closing bracket/);
});

test('records without summary or labels load as the format allows: no summary, unlabelled', () => {
  const file = path.join(dir, 'partial', 'data00.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify([
    { story: 'Tom ran. He fell.', instruction: { words: ['ran'], features: [] } },
    { story: 'Sue sang.' },
    { story: 'A cat sat.', instruction: { words: ['cat'] }, summary: 'A cat.' },
  ]));
  const [a, b, c] = loadTinyStoriesShard(file).stories;
  assert.equal(a.summary, '');
  assert.equal(a.labelled, undefined, 'features [] is a label: no features');
  assert.deepEqual([b.words, b.features, b.summary, b.labelled], [[], [], '', false]);
  assert.deepEqual([c.words, c.labelled, c.summary], [['cat'], false, 'A cat.']);
});

test('plain-text stories split on <|endoftext|>, whatever the chunk edges', () => {
  const file = path.join(dir, 'train.txt');
  const texts = stories.slice(0, 4).map((s) => s.story);
  fs.writeFileSync(file, `${texts.join('\n<|endoftext|>\n')}\n<|endoftext|>\n\n`);
  for (const chunk of [2, 5, 13, 1 << 20]) assert.deepEqual([...readTextStories(file, chunk)], texts, `chunk ${chunk}`);
  const loaded = loadTinyStoriesText(file, { seed: 3 });
  assert.deepEqual(loaded.map((s) => s.story), texts);
  assert.ok(loaded.every((s) => s.labelled === false && s.summary === '' && s.story.includes(s.sentence)));
});

test('a real source is pooled and shuffled with the seed: one shard is not the test split, a cap samples uniformly', () => {
  const one = fs.mkdtempSync(path.join(dir, 'one-'));
  writeFixtureShard(path.join(one, 'data00.json'), stories);
  const a = loadTinyStoriesSource(one, { seed: 1 });
  assert.equal(a.stories.length, stories.length, 'a directory with only data00.json still gives every story');
  assert.deepEqual(a.stories.map((s) => s.story).sort(), stories.map((s) => s.story).sort());
  assert.notDeepEqual(a.stories.map((s) => s.story), stories.map((s) => s.story), 'shuffled');
  assert.deepEqual(loadTinyStoriesSource(one, { seed: 1 }), a, 'same seed, same order');
  assert.notDeepEqual(loadTinyStoriesSource(one, { seed: 2 }).stories.map((s) => s.story), a.stories.map((s) => s.story));
  const capped = loadTinyStoriesSource(one, { seed: 1, cap: 10 });
  assert.equal(capped.stories.length, 10);
  assert.equal(capped.summary.read, stories.length);
  assert.equal(a.summary.twist, stories.filter((s) => s.features.includes('Twist')).length);
  assert.equal(a.summary.labelled, stories.length);
  const txt = loadTinyStoriesSource(path.join(dir, 'train.txt'), { seed: 1 });
  assert.equal(txt.summary.labelled, 0);
  assert.throws(() => loadTinyStoriesSource(path.join(dir, 'missing'), { seed: 1 }), /corpus\.source: .*missing does not exist/);
  assert.throws(() => loadTinyStoriesSource(fs.mkdtempSync(path.join(dir, 'none-')), { seed: 1 }), /no dataNN\.json shards/);
});

test('downloadTinyStories: progress, a broken-off download continues by Range request, then unpacks; offline names the files', async () => {
  const src = fs.mkdtempSync(path.join(dir, 'src-'));
  writeFixtureShard(path.join(src, 'data00.json'), stories.slice(0, 30));
  writeFixtureShard(path.join(src, 'data01.json'), stories.slice(30));
  const archive = path.join(dir, 'archive.tar.gz');
  execFileSync('tar', ['-czf', archive, '-C', src, 'data00.json', 'data01.json']);
  const bytes = fs.readFileSync(archive);
  const half = Math.floor(bytes.length / 2);
  const ranges: (string | undefined)[] = [];
  const server = http.createServer((req, res) => {
    ranges.push(req.headers.range);
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m) {
      const from = Number(m[1]);
      res.writeHead(206, { 'content-length': bytes.length - from, 'content-range': `bytes ${from}-${bytes.length - 1}/${bytes.length}` });
      res.end(bytes.subarray(from));
    } else {
      res.writeHead(200, { 'content-length': bytes.length });
      res.write(bytes.subarray(0, half), () => res.destroy()); // the connection drops halfway
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/TinyStories_all_data.tar.gz`;
  try {
    const target = fs.mkdtempSync(path.join(dir, 'dl-'));
    await assert.rejects(downloadTinyStories(target, { url }), /broke off|ended at/);
    const partial = path.join(target, 'TinyStories_all_data.tar.gz.partial');
    assert.equal(fs.statSync(partial).size, half, 'the partial download is kept');
    const progress: [number, number][] = [];
    const shards = await downloadTinyStories(target, { url, onProgress: (d, t) => progress.push([d, t]) });
    assert.deepEqual(ranges, [undefined, `bytes=${half}-`], 'the second call asked only for the rest');
    assert.deepEqual(shards.map((f) => path.basename(f)), ['data00.json', 'data01.json']);
    assert.deepEqual(fs.readFileSync(path.join(target, 'TinyStories_all_data.tar.gz')), bytes);
    assert.deepEqual(progress[progress.length - 1], [bytes.length, bytes.length]);
    assert.deepEqual(loadTinyStoriesSource(target, { seed: 1 }).summary.read, stories.length);
    assert.deepEqual(await downloadTinyStories(target, { url: 'http://127.0.0.1:1/never' }), shards, 'shards present: nothing fetched');
    const offline = fs.mkdtempSync(path.join(dir, 'offline-'));
    await assert.rejects(downloadTinyStories(offline, { url: 'http://127.0.0.1:1/TinyStories_all_data.tar.gz' }), (e: Error) => {
      assert.match(e.message, /cannot download http:\/\/127\.0\.0\.1:1/);
      assert.ok(e.message.includes(path.join(offline, 'TinyStories_all_data.tar.gz')) && /data00\.json \.\.\. data49\.json/.test(e.message));
      return true;
    });
  } finally {
    server.close();
  }
});
