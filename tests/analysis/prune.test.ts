import test from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '../../lib/engine/backend';
import { Transformer } from '../../lib/engine/model';
import { Rng } from '../../lib/engine/rng';
import { batchLoss } from '../../lib/engine/evaluate';
import { PruneMasks, exactScores, mlpOutputs, pruneSweep, scoreUnits } from '../../lib/analysis/prune';
import { sortBatch } from '../../lib/tasks/toy/sort';

const task = { length: 4, digits: 5 };
const cfg = { vocabSize: 6, contextLength: 8, dModel: 16, nLayers: 2, nHeads: 2, dMlp: 24, initStd: 0.2 };

test('pruning a neuron really zeroes it: its hidden activation contributes nothing downstream', async () => {
  await initBackend();
  const model = new Transformer(cfg, 1);
  const pm = new PruneMasks(model, 'row');
  pm.add({ param: 'blocks.1.mlp.W_out', index: 7 });
  const masks = pm.toMasks();
  const tokens = tf.tensor2d(sortBatch(new Rng(1), task, 2).tokens, [2, 8], 'int32');
  tf.tidy(() => {
    const viaMask = m(model.forward(tokens, { masks }).logits);
    const viaHidden = m(model.forward(tokens, { masks: { 'blocks.1.mlp.hidden': tf.tensor1d(Array.from({ length: 24 }, (_, i) => (i === 7 ? 0 : 1))) } }).logits);
    const plain = m(model.forward(tokens).logits);
    assert.ok(viaMask.every((x, i) => Math.abs(x - viaHidden[i]) < 1e-6), 'row mask of W_out == zeroing hidden neuron 7');
    assert.ok(viaMask.some((x, i) => Math.abs(x - plain[i]) > 1e-6), 'and it changes the output');
  });
  tf.dispose([tokens, ...Object.values(masks)]);
  model.dispose();
});

const m = (t: tf.Tensor) => Array.from(t.dataSync());

test('grad x weight scores predict the first-order loss change of removing each unit', async () => {
  await initBackend();
  const model = new Transformer(cfg, 2);
  const batch = sortBatch(new Rng(2), task, 64);
  const spec = { granularity: 'row' as const, params: mlpOutputs(model) };
  const scored = scoreUnits(model, [batch], spec);
  assert.equal(scored.length, 2 * 24);
  for (let i = 1; i < scored.length; i++) assert.ok(scored[i - 1].score >= scored[i].score, 'sorted by score');
  const base = batchLoss(model, batch);
  // Linearisation: L(without unit) - L ≈ -score, for the largest-magnitude scores.
  const top = [...scored].sort((a, b) => Math.abs(b.score) - Math.abs(a.score)).slice(0, 4);
  for (const u of top) {
    const pm = new PruneMasks(model, 'row');
    pm.add(u);
    const masks = pm.toMasks();
    const delta = batchLoss(model, batch, { masks }) - base;
    tf.dispose(Object.values(masks));
    assert.ok(Math.abs(delta + u.score) < 0.35 * Math.abs(u.score) + 1e-4, `unit ${u.param}[${u.index}]: delta ${delta} vs -score ${-u.score}`);
  }
  model.dispose();
});

test('a prune sweep removes distinct units, evaluates after each, and the top unit lowers the loss', async () => {
  await initBackend();
  const model = new Transformer(cfg, 3);
  const batch = sortBatch(new Rng(3), task, 64);
  for (const iterative of [false, true]) {
    const steps = pruneSweep(model, {
      spec: { granularity: 'row', params: mlpOutputs(model) },
      maxUnits: 5,
      scoringBatches: [batch],
      evaluate: (masks) => batchLoss(model, batch, { masks }),
      iterative,
    });
    assert.equal(steps.length, 6);
    const names = new Set(steps.slice(1).map((s) => `${s.unit!.param}/${s.unit!.index}`));
    assert.equal(names.size, 5);
    assert.ok(steps[1].metrics < steps[0].metrics, `removing the top unit lowers the loss (${steps[0].metrics} -> ${steps[1].metrics})`);
  }
  // single weights
  const w = pruneSweep(model, {
    spec: { granularity: 'weight', params: ['blocks.0.attn.W_Q'] },
    maxUnits: 2,
    scoringBatches: [batch],
    evaluate: (masks) => Array.from(masks['blocks.0.attn.W_Q']?.dataSync() ?? []).filter((x) => x === 0).length,
  });
  assert.deepEqual(w.map((s) => s.metrics), [0, 1, 2]);
  model.dispose();
});

test('exact scores are the measured loss drops; an exact sweep is greedy and each unit lowers the scoring loss', async () => {
  await initBackend();
  const model = new Transformer(cfg, 4);
  const batch = sortBatch(new Rng(4), task, 32);
  const spec = { granularity: 'weight' as const, params: ['blocks.1.mlp.W_out'] };
  const pruned = new PruneMasks(model, 'weight');
  pruned.add({ param: 'blocks.1.mlp.W_out', index: 3 });
  const lossWith = (pm: PruneMasks) => {
    const masks = pm.toMasks();
    const l = batchLoss(model, batch, { masks });
    tf.dispose(Object.values(masks));
    return l;
  };
  const base = lossWith(pruned);
  const scored = exactScores(model, [batch], spec, pruned, 0);
  assert.equal(scored.length, 24 * 16 - 1, 'every weight but the pruned one');
  for (let i = 1; i < scored.length; i++) assert.ok(scored[i - 1].score >= scored[i].score, 'sorted by score');
  for (const u of [scored[0], scored[100], scored.at(-1)!]) {
    const trial = pruned.copy();
    trial.add(u);
    assert.ok(Math.abs(u.score - (base - lossWith(trial))) < 1e-6, 'score = measured loss drop');
  }
  assert.ok(!pruned.has(scored[0]) && pruned.size === 1, 'scoring leaves the pruning state alone');
  assert.ok(exactScores(model, [batch], spec, pruned, 0.1).every((u) => Math.abs(model.param(u.param).dataSync()[u.index]) >= 0.1), 'minAbs skips small weights');

  const losses: number[] = [];
  const steps = pruneSweep(model, { spec, maxUnits: 3, scoringBatches: [batch], scoring: 'exact', iterative: true, evaluate: (masks) => losses.push(batchLoss(model, batch, { masks })) });
  assert.equal(steps.length, 4);
  for (let k = 1; k < losses.length; k++) assert.ok(losses[k] < losses[k - 1], `unit ${k} lowers the loss`);
  model.dispose();
});
