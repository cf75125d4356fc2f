import test from 'node:test';
import assert from 'node:assert/strict';
import {
  BagOfWordsTwistJudge, ExactTwistJudge, generateStories, hasTwistStructure, judgeAccuracy, labelTwist, negatedWords,
  trainTwistClassifier,
} from '../../lib/tasks/tinystories';

// Held-out: a seed used nowhere else in the tests.
const heldOut = generateStories(2024, 4000);
const exact = new ExactTwistJudge();

test('exact judge agrees 100% with the generator labels on held-out stories', () => {
  const wrong = heldOut.filter((s) => exact.judge(s.story) !== s.features.includes('Twist'));
  assert.equal(wrong.length, 0, wrong.slice(0, 2).map((s) => `${s.features} ${s.story}`).join('\n---\n'));
  assert.ok(heldOut.filter((s) => s.features.includes('Twist')).length > 500);
});

test('exact judge: Foreshadowing without Twist is never a twist, although it plants a belief too', () => {
  const fore = heldOut.filter((s) => s.features.includes('Foreshadowing') && !s.features.includes('Twist'));
  assert.ok(fore.length > 300);
  for (const s of fore) {
    assert.match(s.story, /\b(thought|was sure|believed|guessed|expected)\b/, 'foreshadowing should look like a set-up');
    assert.equal(exact.judge(s.story), false, s.story);
  }
  // Twist + Foreshadowing together is still a twist.
  const both = heldOut.filter((s) => s.features.includes('Foreshadowing') && s.features.includes('Twist'));
  assert.ok(both.length > 50 && both.every((s) => exact.judge(s.story)));
});

test('exact judge keys on structure, not on negation or belief words alone', () => {
  // Plenty of non-twist stories contain negations...
  const negating = heldOut.filter((s) => !s.features.includes('Twist') && negatedWords(s.story).length > 0);
  assert.ok(negating.length > 200, `${negating.length}`);
  // ...and hand-made cases: reversal of a belief vs. confirmation vs. an unrelated negation.
  assert.equal(hasTwistStructure('Tom thought the box had a robot. He opened it. It was not a robot. It was a sock.'), true);
  assert.equal(hasTwistStructure('Tom thought the box had a robot. He opened it. It was a robot, just as he thought.'), false);
  assert.equal(hasTwistStructure('Tom thought the box had a robot. He did not want to wait. It was a robot.'), false);
  assert.equal(hasTwistStructure('It was not a robot. Tom thought it was a robot.'), false, 'the reversal must come after the belief');
  assert.equal(hasTwistStructure('Everyone expected the fox would win. The fox didn\'t win.'), true, "n't counts as not");
});

test('bag-of-words judge learns Twist from procedural stories (held-out accuracy)', () => {
  const train = generateStories(5, 3000).map((s) => ({ text: s.story, twist: s.features.includes('Twist') }));
  const test = heldOut.slice(0, 1500).map((s) => ({ text: s.story, twist: s.features.includes('Twist') }));
  const judge = new BagOfWordsTwistJudge({ seed: 1 });
  const report = judge.train(train);
  const acc = judgeAccuracy(judge, test);
  const base = 1 - test.filter((d) => d.twist).length / test.length;
  assert.ok(report.trainAccuracy > 0.95, `train accuracy ${report.trainAccuracy}`);
  assert.ok(acc > 0.93 && acc > base + 0.15, `held-out accuracy ${acc.toFixed(3)} (majority baseline ${base.toFixed(3)})`);
  // It also separates Twist from its look-alike Foreshadowing.
  const fore = test.filter((_, i) => heldOut[i].features.includes('Foreshadowing') && !heldOut[i].features.includes('Twist'));
  assert.ok(judgeAccuracy(judge, fore) > 0.85);
  // Save/load keeps the decisions, and training is deterministic.
  const again = BagOfWordsTwistJudge.fromJSON(JSON.parse(JSON.stringify(judge.toJSON())));
  assert.ok(test.every((d) => again.judge(d.text) === judge.judge(d.text)));
  const twin = new BagOfWordsTwistJudge({ seed: 1 });
  twin.train(train);
  assert.equal(twin.probability(test[0].text), judge.probability(test[0].text));
});

test('trainTwistClassifier reports held-out accuracy against the majority baseline', () => {
  const fit = trainTwistClassifier(labelTwist(heldOut.slice(0, 2000)), 0.25, { seed: 2, epochs: 4 });
  assert.equal(fit.train.size, 1500);
  assert.equal(fit.heldOut.size, 500);
  assert.ok(fit.heldOut.majorityBaseline > 0.6 && fit.heldOut.majorityBaseline < 0.9);
  assert.ok(fit.heldOut.accuracy > fit.heldOut.majorityBaseline + 0.1, JSON.stringify(fit.heldOut));
  assert.throws(() => trainTwistClassifier(labelTwist(heldOut.slice(0, 3)), 0), /empty split/);
});
