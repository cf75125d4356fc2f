import test from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../lib/engine/rng';
import {
  INSTRUCTION_KEYS, TinyStory, featureText, generateStories, parseInstruct, renderInstruct, renderPrompt,
  renderStoryOnly,
} from '../../lib/tasks/tinystories';

const story: TinyStory = {
  story: '  Once upon a time, Lily found a box.\n\nShe was happy.  ',
  words: ['box', 'find', 'happy'],
  features: ['BadEnding', 'MoralValue', 'Twist'],
  summary: 'Lily finds\na box.',
  sentence: 'She was\nhappy.',
};

test('feature spelling follows Python capitalize(): Badending, Moralvalue', () => {
  assert.equal(featureText('BadEnding'), 'Badending');
  assert.equal(featureText('MoralValue'), 'Moralvalue');
  assert.equal(featureText('Twist'), 'Twist');
});

test('full render: four instruction lines in the given order, then the stripped story', () => {
  const text = renderInstruct(story, null, { order: ['Summary', 'Features', 'Sentence', 'Words'] });
  assert.equal(text, [
    'Summary: Lily finds a box.',
    'Features: Badending, Moralvalue, Twist',
    'Sentence: She was happy.',
    'Words: box, find, happy',
    'Story: Once upon a time, Lily found a box.\n\nShe was happy.',
  ].join('\n'));
});

test('empty feature list keeps the line as "Features: "', () => {
  const text = renderInstruct({ ...story, features: [] }, null, { order: ['Words', 'Features', 'Summary', 'Sentence'] });
  assert.equal(text.split('\n')[1], 'Features: ');
});

test('line order is shuffled by the rng, and all 24 orders occur', () => {
  const rng = new Rng(1);
  const orders = new Set<string>();
  for (let i = 0; i < 400; i++) {
    const lines = renderInstruct(story, rng).split('\n');
    const keys = lines.slice(0, 4).map((l) => l.split(':')[0]);
    assert.deepEqual([...keys].sort(), [...INSTRUCTION_KEYS].sort());
    assert.ok(lines[4].startsWith('Story: '));
    orders.add(keys.join());
  }
  assert.equal(orders.size, 24);
  // Same seed, same text.
  assert.equal(renderInstruct(story, new Rng(5)), renderInstruct(story, new Rng(5)));
});

test('story-only and prompt modes', () => {
  assert.equal(renderStoryOnly(story), 'Story: Once upon a time, Lily found a box.\n\nShe was happy.');
  const prompt = renderPrompt(story, new Rng(2));
  assert.ok(prompt.endsWith('\nStory:'));
  assert.ok(!prompt.includes('Once upon'));
  assert.equal(prompt.split('\n').length, 5);
  const full = renderInstruct(story, new Rng(2));
  assert.ok(full.startsWith(prompt), 'the prompt is a prefix of the full text drawn with the same rng');
});

test('parseInstruct inverts rendering on generated stories', () => {
  const rng = new Rng(9);
  for (const s of generateStories(4, 200)) {
    const parsed = parseInstruct(renderInstruct(s, rng));
    assert.deepEqual(parsed.features, s.features);
    assert.deepEqual(parsed.words, s.words);
    assert.equal(parsed.summary, s.summary);
    assert.equal(parsed.sentence, s.sentence);
    assert.equal(parsed.story, s.story);
    assert.deepEqual(parsed.unknownFeatures, []);
  }
  const p = parseInstruct('Features: Twist, Surprise\nWords: a, b\nSummary: x\nSentence: y\nStory:');
  assert.deepEqual(p.features, ['Twist']);
  assert.deepEqual(p.unknownFeatures, ['Surprise']);
  assert.equal(p.story, '');
});
