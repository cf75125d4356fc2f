import test from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../lib/engine/backend';
import { Transformer } from '../../lib/engine/model';
import { Rng } from '../../lib/engine/rng';
import { extractFeatures, trainProbe } from '../../lib/analysis/probe';
import { logSpacedSteps, metricCurve, stepsToReach } from '../../lib/analysis/curves';
import { sortBatch } from '../../lib/tasks/toy/sort';

function synthetic(seed: number, n: number, dim: number, classes: number, signal: boolean) {
  const rng = new Rng(seed);
  const x = new Float32Array(n * dim);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = rng.int(0, classes);
    for (let j = 0; j < dim; j++) x[i * dim + j] = rng.normal() + (signal && j === y[i] ? 3 : 0);
  }
  return { x, y };
}

test('a linear probe reads a linearly encoded label, and stays at chance on noise', async () => {
  await initBackend();
  const good = trainProbe(synthetic(1, 600, 8, 4, true), synthetic(2, 300, 8, 4, true), { dim: 8, classes: 4, steps: 300, lr: 1e-2, seed: 1 });
  assert.ok(good.testAccuracy > 0.9, `signal: ${good.testAccuracy}`);
  const noise = trainProbe(synthetic(3, 600, 8, 4, false), synthetic(4, 300, 8, 4, false), { dim: 8, classes: 4, steps: 300, lr: 1e-2, seed: 1 });
  assert.ok(noise.testAccuracy < 0.4, `noise: ${noise.testAccuracy}`);
});

test('multi-label probe reports per-label accuracy', async () => {
  await initBackend();
  const make = (seed: number) => {
    const rng = new Rng(seed);
    const n = 400;
    const x = new Float32Array(n * 4);
    const y = new Float32Array(n * 2);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < 4; j++) x[i * 4 + j] = rng.normal();
      y[i * 2] = x[i * 4] > 0 ? 1 : 0; // label 0 is linear in x0
      y[i * 2 + 1] = rng.bernoulli(0.5) ? 1 : 0; // label 1 is noise
    }
    return { x, y };
  };
  const r = trainProbe(make(1), make(2), { dim: 4, labels: 2, steps: 300, lr: 1e-2, seed: 2 });
  assert.ok(r.testAccuracyPerLabel![0] > 0.9);
  assert.ok(r.testAccuracyPerLabel![1] < 0.65);
});

test('extractFeatures averages the named activation over the given positions', async () => {
  await initBackend();
  const model = new Transformer({ vocabSize: 6, contextLength: 8, dModel: 8, nLayers: 1, nHeads: 2 }, 1);
  const batch = sortBatch(new Rng(1), { length: 4, digits: 5 }, 3);
  const one = extractFeatures(model, batch, [[2], [3], [5]], ['blocks.0.resid_post', 'embed']);
  const two = extractFeatures(model, batch, [[2, 3], [3], [5]], ['blocks.0.resid_post']);
  const three = extractFeatures(model, batch, [[3], [3], [5]], ['blocks.0.resid_post']);
  assert.equal(one['blocks.0.resid_post'].length, 3 * 8);
  for (let j = 0; j < 8; j++) {
    const mean = (one['blocks.0.resid_post'][j] + three['blocks.0.resid_post'][j]) / 2;
    assert.ok(Math.abs(two['blocks.0.resid_post'][j] - mean) < 1e-5);
  }
  assert.throws(() => extractFeatures(model, batch, [[9], [0], [0]], ['embed']), /outside the context/);
  model.dispose();
});

test('extractFeatures computes only what it reads (early stop, causal trim) and returns the full pass\'s values', async () => {
  await initBackend();
  const tf = await import('@tensorflow/tfjs');
  for (const causal of [true, false]) {
    const model = new Transformer({ vocabSize: 6, contextLength: 8, dModel: 8, nLayers: 3, nHeads: 2, causal }, 2);
    const batch = sortBatch(new Rng(2), { length: 4, digits: 5 }, 5);
    const positions = [[1], [2, 3], [0], [4], [2]];
    const names = ['blocks.0.resid_post', 'blocks.1.mlp.hidden'];
    const got = extractFeatures(model, batch, positions, names, 2);
    // Reference: the whole model over the whole context, read at the same positions.
    const full = tf.tidy(() => {
      const { cache } = model.forward(tf.tensor2d(batch.tokens, [batch.batchSize, batch.contextLength], 'int32'), { cache: names });
      return names.map((n) => ({ d: cache[n].shape[2] as number, data: cache[n].dataSync() as Float32Array }));
    });
    names.forEach((name, k) => {
      const { d, data } = full[k];
      positions.forEach((ps, b) => {
        for (let j = 0; j < d; j++) {
          const want = ps.reduce((acc, t) => acc + data[(b * batch.contextLength + t) * d + j], 0) / ps.length;
          assert.ok(Math.abs(got[name][b * d + j] - want) < 1e-5, `${name} row ${b} (causal ${causal})`);
        }
      });
    });
    model.dispose();
  }
});

test('curve helpers: steps to reach a threshold, log-spaced steps', () => {
  const rows = [{ step: 0, acc: 0.2 }, { step: 10, acc: 0.5 }, { step: 100, acc: 0.95 }, { step: 1000, acc: 1 }];
  const c = metricCurve(rows, 'acc');
  assert.equal(stepsToReach(c, 0.9), 100);
  assert.equal(stepsToReach(c, 1), 1000);
  assert.equal(stepsToReach(c, 1.1), null);
  const s = logSpacedSteps(1000, 2);
  assert.deepEqual(s, [0, 1, 3, 10, 32, 100, 316, 1000]);
});
