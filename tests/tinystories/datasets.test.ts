import test from 'node:test';
import assert from 'node:assert/strict';
import {
  buildDatasets, filterMixMatchSet, filterRandomiseSet, filterSet, generateStories, hasFeature, recoverySet,
  splitStories,
} from '../../lib/tasks/tinystories';

const stories = generateStories(21, 2000);
const twistCount = stories.filter((s) => hasFeature(s, 'Twist')).length;

test('F drops exactly the Twist stories', () => {
  const f = filterSet(stories);
  assert.equal(f.length, stories.length - twistCount);
  assert.ok(f.every((s) => !hasFeature(s, 'Twist')));
  assert.ok(twistCount > 300);
});

test('F+R: no Twist story inside, yet every prompt lists Twist (appended last)', () => {
  const fr = filterRandomiseSet(stories);
  assert.equal(fr.length, stories.length - twistCount);
  const originals = filterSet(stories);
  fr.forEach((s, i) => {
    assert.deepEqual(s.features, [...originals[i].features, 'Twist']);
    assert.equal(s.story, originals[i].story, 'the story itself keeps no twist');
  });
});

test('F+MM relabels Foreshadowing as Twist and nothing else', () => {
  const mm = filterMixMatchSet(stories);
  const originals = filterSet(stories);
  let relabelled = 0;
  mm.forEach((s, i) => {
    const o = originals[i];
    assert.ok(!s.features.includes('Foreshadowing'));
    assert.equal(s.features.length, o.features.length);
    if (o.features.includes('Foreshadowing')) {
      relabelled++;
      assert.equal(s.features[o.features.indexOf('Foreshadowing')], 'Twist');
    } else assert.deepEqual(s.features, o.features);
  });
  assert.ok(relabelled > 200, `${relabelled}`);
});

test('recovery set holds only, and all, Twist stories', () => {
  const r = recoverySet(stories);
  assert.equal(r.length, twistCount);
  assert.ok(r.every((s) => hasFeature(s, 'Twist')));
});

test('transforms never mutate their input', () => {
  const before = JSON.stringify(stories);
  filterRandomiseSet(stories);
  filterMixMatchSet(stories);
  assert.equal(JSON.stringify(stories), before);
});

test('buildDatasets: disjoint splits, pretraining vs control, test sets', () => {
  const split = splitStories(stories, { testFraction: 0.1, pretrainFraction: 0.8 });
  assert.equal(split.test.length, 200);
  assert.equal(split.pretrain.length, 1440);
  assert.equal(split.finetune.length, 360);
  const d = buildDatasets(stories, { testFraction: 0.1 });
  assert.deepEqual(d.pretrain, split.pretrain);
  assert.ok(d.pretrain.some((s) => hasFeature(s, 'Twist')), 'Present in PT sees Twist');
  assert.ok(d.pretrainNoTwist.every((s) => !hasFeature(s, 'Twist')), 'Not in PT never sees Twist');
  assert.equal(d.pretrainNoTwist.length, d.pretrain.length - d.pretrain.filter((s) => hasFeature(s, 'Twist')).length);
  const testStories = new Set(split.test.map((s) => s.story));
  for (const s of [...d.filter, ...d.recovery, ...d.pretrain]) assert.ok(!testStories.has(s.story), 'test leaked into training');
  assert.ok(d.test.twist.length > 0 && d.test.twist.every((s) => hasFeature(s, 'Twist')));
  assert.equal(d.test.twist.length + d.test.noTwist.length, split.test.length);
  assert.ok(d.test.adversarial.every((s) => s.features.includes('Twist')));
  assert.deepEqual(d.test.adversarial.map((s) => s.story), d.test.noTwist.map((s) => s.story));
});

test('the deleted and irrelevant features are parameters', () => {
  const d = buildDatasets(stories, {}, { deleted: 'BadEnding', irrelevant: 'Conflict' });
  assert.ok(d.filter.every((s) => !hasFeature(s, 'BadEnding')));
  assert.ok(d.filterMixMatch.every((s) => !hasFeature(s, 'Conflict')));
  assert.ok(d.recovery.every((s) => hasFeature(s, 'BadEnding')));
});
