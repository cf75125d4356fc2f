import test from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../lib/engine/rng';
import {
  PROBE_FEATURES, WordTokenizer, encodePrompt, featureLabels, generateStories, makeInstructSampler,
  makeProbeBatch, makeProbeSampler, parseInstruct, renderInstruct,
} from '../../lib/tasks/tinystories';

const stories = generateStories(41, 400);
const tok = WordTokenizer.train(stories.map((s) => renderInstruct(s, new Rng(0))), { vocabSize: 2500 });

test('LM batches: BOS-first rows, shifted targets, padding has weight 0, text decodes to instruct format', () => {
  const T = 400;
  const sample = makeInstructSampler(stories, tok, { seed: 3, contextLength: T });
  const batch = sample(0, 4);
  assert.equal(batch.tokens.length, 4 * T);
  for (let b = 0; b < 4; b++) {
    const row = batch.tokens.subarray(b * T, (b + 1) * T);
    assert.equal(row[0], tok.bosId);
    const eos = row.indexOf(tok.eosId);
    assert.ok(eos > 0, 'stories fit and end with EOS');
    for (let t = 0; t < T - 1; t++) if (t + 1 <= eos) assert.equal(batch.targets[b * T + t], row[t + 1]);
    for (let t = 0; t < T; t++) assert.equal(batch.weights[b * T + t], t < eos ? 1 : 0, `weight at ${t}`);
    const parsed = parseInstruct(tok.decode(row));
    assert.ok(parsed.story !== null && parsed.story.length > 100);
    assert.equal(parsed.words.length, 3);
  }
});

test('LM batches are a pure function of (seed, step)', () => {
  const a = makeInstructSampler(stories, tok, { seed: 3, contextLength: 128 });
  const b = makeInstructSampler(stories, tok, { seed: 3, contextLength: 128 });
  assert.deepEqual(a(7, 8), b(7, 8));
  assert.deepEqual(a(7, 8).tokens.subarray(0, 4 * 128), a(7, 4).tokens, 'row b does not depend on batch size');
  assert.notDeepEqual(a(7, 8).tokens, a(8, 8).tokens);
  assert.notDeepEqual(a(7, 8).tokens, makeInstructSampler(stories, tok, { seed: 4, contextLength: 128 })(7, 8).tokens);
  // Short contexts truncate (all weights 1, no padding needed).
  assert.ok(a(0, 2).weights.every((w) => w === 1));
});

test('appendEos: false matches the authors (BOS, no EOS)', () => {
  const batch = makeInstructSampler(stories, tok, { seed: 1, contextLength: 400, appendEos: false })(0, 3);
  assert.ok(!batch.tokens.includes(tok.eosId));
});

test('prompt encoding ends at "Story:" and is a prefix of the full example', () => {
  const ids = encodePrompt(stories[0], tok, new Rng(5));
  const text = tok.decode(ids);
  assert.ok(text.endsWith('\nStory:'));
  assert.ok(renderInstruct(stories[0], new Rng(5)).startsWith(text));
});

test('probe batch: story-only text, 6-way labels in probe order, last-10 positions', () => {
  const T = 64; // shorter than most stories: exercises the keep-the-ending truncation
  const chosen = stories.slice(0, 6);
  const pb = makeProbeBatch(chosen, tok, T);
  assert.deepEqual(PROBE_FEATURES, ['Twist', 'Foreshadowing', 'Dialogue', 'BadEnding', 'MoralValue', 'Conflict']);
  for (let b = 0; b < chosen.length; b++) {
    const len = pb.lengths[b];
    const row = Array.from(pb.tokens.subarray(b * T, b * T + len));
    assert.equal(row[0], tok.bosId);
    assert.ok(pb.tokens.subarray(b * T + len, (b + 1) * T).every((x) => x === tok.padId));
    const text = tok.decode(row);
    assert.ok(!/Words:|Features:|Summary:|Sentence:/.test(text), 'no instruction lines');
    assert.ok(chosen[b].story.endsWith(text.slice(-40)), 'keeps the story ending');
    const labels = Array.from(pb.labels.subarray(b * 6, b * 6 + 6));
    assert.deepEqual(labels, PROBE_FEATURES.map((f) => (chosen[b].features.includes(f) ? 1 : 0)));
    const pos = Array.from(pb.lastPositions.subarray(b * 10, b * 10 + 10));
    assert.deepEqual(pos, Array.from({ length: 10 }, (_, k) => len - 10 + k));
    assert.equal(tok.decode(pos.map((p) => pb.tokens[b * T + p])), text.slice(-tok.decode(row.slice(-10)).length));
  }
  assert.deepEqual(Array.from(featureLabels(['Conflict', 'Twist'])), [1, 0, 0, 0, 0, 1]);
});

test('probe sampler is deterministic by (seed, step)', () => {
  const s = makeProbeSampler(stories, tok, { seed: 2, contextLength: 300 });
  assert.deepEqual(s(5, 4), s(5, 4));
  assert.notDeepEqual(s(5, 4).tokens, s(6, 4).tokens);
  const full = s(0, 8);
  assert.ok(full.labels.some((x) => x === 1));
  // With a long context the whole story is there: "Story: " text decodes exactly.
  const one = makeProbeBatch([stories[0]], tok, 400);
  assert.equal(tok.decode(one.tokens.subarray(0, one.lengths[0])), `Story: ${stories[0].story}`);
});
