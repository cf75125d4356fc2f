import test from 'node:test';
import assert from 'node:assert/strict';
import * as ts from '../../lib/tasks/tinystories';
import { freshStories } from '../../lib/experiments/tinystories/data';
import { wordsBaseline } from '../../lib/experiments/tinystories/structureProbe';

const corpus = { stories: 300, minWords: 20, maxWords: 180, maxFeatures: 3, vocabSize: 4096 };
const pool = freshStories(corpus, 7, 1200);
const folds = ts.realiserFolds(pool);
const twist = (s: ts.GeneratedStory) => s.features.includes('Twist');

test('fresh stories are the generator stories after the corpus, none of them in it', () => {
  const generator = { ...ts.DEFAULT_GENERATOR_CONFIG, minWords: 20, maxWords: 180, maxFeatures: 3 };
  const long = ts.generateStories(7, 310, generator);
  assert.deepEqual(pool.slice(0, 10).map((s) => s.story), long.slice(300).map((s) => s.story));
  const seen = new Set(long.slice(0, 300).map((s) => s.story));
  assert.ok(pool.every((s) => !seen.has(s.story)));
});

test('held-out-realiser folds: test twists only from held-out realisers, training twists never, balanced, disjoint', () => {
  const tested = new Map<string, number>();
  const testNegatives = new Set<ts.GeneratedStory>();
  for (const f of folds) {
    const held = new Set(f.heldOut);
    const trainSet = new Set(f.train);
    assert.ok(f.test.every((s) => !trainSet.has(s)), 'no story on both sides');
    for (const s of f.train.filter(twist)) assert.ok(!held.has(s.realisations.Twist!), `${s.realisations.Twist} trained in the fold holding it out`);
    for (const s of f.test.filter(twist)) {
      assert.ok(held.has(s.realisations.Twist!));
      tested.set(s.realisations.Twist!, (tested.get(s.realisations.Twist!) ?? 0) + 1);
    }
    assert.equal(f.train.filter(twist).length * 2, f.train.length, 'training set balanced');
    assert.equal(f.test.filter(twist).length * 2, f.test.length, 'test set balanced');
    for (const s of f.test.filter((x) => !twist(x))) {
      assert.ok(!testNegatives.has(s), 'test negatives are not shared between folds');
      testNegatives.add(s);
    }
  }
  assert.deepEqual([...tested.keys()].sort(), ts.TWIST_REALISER_FOLDS.flat().slice().sort(), 'every realiser tested, in one fold');
});

test('realiserFolds refuses a pool too small for a fold, naming the fold', () => {
  assert.throws(() => ts.realiserFolds(pool.slice(0, 12)), /too few for the fold holding out .*give the probe more stories/);
});

test('the words baseline is a pooled accuracy over the folds\' test stories', () => {
  const w = wordsBaseline(folds, 0);
  assert.equal(w.testSize, folds.reduce((a, f) => a + f.test.length, 0));
  const pooled = w.folds.reduce((a, f, i) => a + f.accuracy * folds[i].test.length, 0) / w.testSize;
  assert.ok(Math.abs(pooled - w.accuracy) < 1e-12);
  assert.ok(w.accuracy >= 0 && w.accuracy <= 1);
});
