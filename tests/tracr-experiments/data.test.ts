/** Tracr fine-tuning data: planted correlations, labels at the readout position, determinism. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../lib/engine/rng';
import { counterTask, maxIdentifierTask, tracrSamples, tracrTestSets } from '../../lib/experiments/tracr/data';

const counterCfg = { compile: 'tracr' as const, letters: 9, maxSeqLen: 10, minLen: 5, maxLen: 10, q: 1 };
const maxIdCfg = { compile: 'tracr' as const, letters: 16, maxSeqLen: 9, nTokens: 8, rankPT: 4, rankFT: 5, q: 1 };

test('counter: correlated samples carry #b = #a + q; plain ones only at their natural rate', () => {
  const task = counterTask(counterCfg);
  const rng = new Rng(1);
  let natural = 0;
  for (let i = 0; i < 400; i++) {
    const xs = task.sample(rng, true);
    assert.ok(xs.length >= 5 && xs.length <= 10);
    assert.equal(xs.filter((x) => x === 'b').length, xs.filter((x) => x === 'a').length + 1, xs.join(''));
    if (task.hasCorrelation(task.sample(rng, false))) natural++;
  }
  assert.ok(natural > 20 && natural < 200, `natural rate ${natural}/400`);
});

test('max-identifier: correlated samples have adjacent 5th and 6th smallest letters; labels are ranks', () => {
  const task = maxIdentifierTask(maxIdCfg);
  const rng = new Rng(2);
  for (let i = 0; i < 200; i++) {
    const xs = task.sample(rng, true);
    assert.equal(new Set(xs).size, 8);
    const s = [...xs].map(String).sort();
    assert.equal(task.labelPT(xs), s[4]);
    assert.equal(task.labelFT(xs), s[5]);
    assert.equal(s[5].charCodeAt(0) - s[4].charCodeAt(0), 1);
  }
});

test('samples: loss weight 1 only at the readout position (model position 2), target = the chosen label', () => {
  const task = counterTask(counterCfg);
  const s = tracrSamples(task, new Rng(3), 32, 0.5, 'ft');
  const T = s.batch.contextLength;
  assert.equal(T, counterCfg.maxSeqLen + 1);
  for (let b = 0; b < 32; b++) {
    for (let t = 0; t < T; t++) assert.equal(s.batch.weights[b * T + t], t === 2 ? 1 : 0);
    assert.equal(s.batch.targets[b * T + 2], s.ftClass[b]);
    assert.equal(task.compiled.outputValues![s.ftClass[b]], s.inputs[b].filter((x) => x === 'b').length);
    assert.equal(task.compiled.outputValues![s.ptClass[b]], s.inputs[b].filter((x) => x === 'a').length);
  }
});

test('test sets are deterministic in the seed and differ across seeds', () => {
  const task = counterTask(counterCfg);
  const a = tracrTestSets(task, 7, 16);
  const b = tracrTestSets(task, 7, 16);
  const c = tracrTestSets(task, 8, 16);
  assert.deepEqual(a.cTe0.batch.tokens, b.cTe0.batch.tokens);
  assert.deepEqual(a.cTe1.batch.tokens, b.cTe1.batch.tokens);
  assert.notDeepEqual(a.cTe0.batch.tokens, c.cTe0.batch.tokens);
  assert.ok(a.cTe1.inputs.every((xs) => task.hasCorrelation(xs)));
});
