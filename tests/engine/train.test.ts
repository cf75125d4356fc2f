import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend, tf } from '../../lib/engine/backend';
import { Transformer } from '../../lib/engine/model';
import { Run } from '../../lib/engine/runs';
import { TrainConfigInput, TrainingHalted, train, trainCached } from '../../lib/engine/train';
import { Rng } from '../../lib/engine/rng';
import { tokenAccuracy } from '../../lib/engine/evaluate';
import { sortBatch } from '../../lib/tasks/toy/sort';

const task = { length: 4, digits: 5 };
const modelCfg = { vocabSize: 6, contextLength: 8, dModel: 16, nLayers: 1, nHeads: 2, dropout: 0.1 };
const sampler = (seed: number) => (step: number, B: number) => sortBatch(Rng.derive(seed, 'train', step), task, B);
const trainCfg = (steps: number): TrainConfigInput => ({
  steps,
  batchSize: 16,
  optimizer: { kind: 'adamw', lr: 3e-3 },
  schedule: { kind: 'cosine', warmupFrac: 0.1 },
  evalEvery: 10,
  logEvery: 5,
  checkpointEvery: 10,
});
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-train-'));

test('training lowers the loss and raises accuracy on the toy task', async () => {
  await initBackend();
  const model = new Transformer(modelCfg, 1);
  const evalSet = sortBatch(Rng.derive(1, 'eval'), task, 128);
  const before = tokenAccuracy(model, evalSet);
  const result = await train({ model, sampler: sampler(1), config: { ...trainCfg(150), optimizer: { kind: 'adamw', lr: 1e-2 } }, seed: 1 });
  const after = tokenAccuracy(model, evalSet);
  assert.ok(after.loss < before.loss * 0.7, `eval loss ${before.loss} -> ${after.loss}`);
  assert.ok(after.tokenAccuracy > before.tokenAccuracy + 0.2, `accuracy ${before.tokenAccuracy} -> ${after.tokenAccuracy}`);
  assert.ok(result.metrics.length > 0);
  model.dispose();
});

test('a killed run resumes from its checkpoint to the same final weights and metrics as an unbroken run', async () => {
  await initBackend();
  const evalSet = sortBatch(Rng.derive(2, 'eval'), task, 64);
  const evaluate = (m: Transformer) => ({ 'acc.token': tokenAccuracy(m, evalSet).tokenAccuracy });
  const config = { name: 'resume-test' };

  const unbroken = new Transformer(modelCfg, 2);
  const runA = Run.open(config, { dir: tmp() });
  await trainCached({ model: unbroken, run: runA, sampler: sampler(2), config: trainCfg(40), seed: 2, evaluate });

  const killed = new Transformer(modelCfg, 2);
  const runB = Run.open(config, { dir: tmp() });
  await assert.rejects(trainCached({ model: killed, run: runB, sampler: sampler(2), config: trainCfg(40), seed: 2, evaluate, haltAfter: 27 }), TrainingHalted);
  killed.dispose();
  assert.equal(runB.checkpointStep(), 20);
  const resumed = new Transformer(modelCfg, 999); // different init: everything must come from the checkpoint
  await trainCached({ model: resumed, run: runB, sampler: sampler(2), config: trainCfg(40), seed: 2, evaluate });

  const wa = unbroken.getWeights();
  const wb = resumed.getWeights();
  for (const k of Object.keys(wa)) assert.deepEqual(wb[k], wa[k], k);
  assert.deepEqual(runB.metrics(), runA.metrics());
  assert.ok(!fs.existsSync(runB.file('checkpoint')), 'checkpoint removed once the run finished');

  // A finished run is reused: no training, same weights.
  const again = new Transformer(modelCfg, 5);
  const cached = await trainCached({ model: again, run: runA, sampler: () => assert.fail('must not train'), config: trainCfg(40), seed: 2 });
  assert.equal(cached.cached, true);
  assert.deepEqual(again.getWeights()['embed.W_E'], wa['embed.W_E']);
  [unbroken, resumed, again].forEach((m) => m.dispose());
});

test('tf.memory().numTensors stays flat across 200 training steps', async () => {
  await initBackend();
  const model = new Transformer(modelCfg, 3);
  const counts: number[] = [];
  await train({
    model,
    sampler: sampler(3),
    config: { ...trainCfg(200), evalEvery: 50 },
    seed: 3,
    evaluate: (m) => ({ 'acc.token': tokenAccuracy(m, sortBatch(Rng.derive(3, 'e'), task, 16)).tokenAccuracy }),
    onStep: (step) => {
      if (step === 10 || step === 200) counts.push(tf.memory().numTensors);
    },
  });
  assert.equal(counts.length, 2);
  assert.equal(counts[1], counts[0], `tensors grew from ${counts[0]} to ${counts[1]}`);
  model.dispose();
});

test('frozen parameters do not move', async () => {
  await initBackend();
  const model = new Transformer(modelCfg, 4);
  const before = model.getWeights();
  await train({ model, sampler: sampler(4), config: trainCfg(5), seed: 4, trainable: (n) => n.startsWith('blocks.0.mlp') });
  const after = model.getWeights();
  assert.deepEqual(after['embed.W_E'], before['embed.W_E']);
  assert.notDeepEqual(after['blocks.0.mlp.W_in'], before['blocks.0.mlp.W_in']);
  model.dispose();
});
