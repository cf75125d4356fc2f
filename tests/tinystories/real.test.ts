import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  TinyStoriesSchemaError, generateStories, listShards, loadTinyStoriesDir, loadTinyStoriesShard, storyToRecord,
  writeFixtureShard,
} from '../../lib/tasks/tinystories';

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
    [{ ...good, summary: undefined }, /summary must be a string/],
    [{ story: 'x' }, /instruction must be an object/],
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
