/**
 * Tracr stages on smoke-sized runs: the compiled model solves O_PT, fine-tuning on C_Tr = 1 teaches the
 * correlated O_FT answer, the stage cache returns the same model, and grad x weight predicts loss changes.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/engine/backend';
import { batchLoss } from '../../lib/engine/evaluate';
import { Rng } from '../../lib/engine/rng';
import { scoreUnits } from '../../lib/analysis/prune';
import { ensureStage } from '../../lib/experiments/stage';
import { makeTracrTask, taskConfigOf, tracrSamples, tracrTestSets, TracrTasksConfig } from '../../lib/experiments/tracr/data';
import { addWeightNoise, capabilityAttention, compiledModel, finetuneNode, tracrAccuracy, TracrTrainConfig } from '../../lib/experiments/tracr/stages';

const tasks: TracrTasksConfig = {
  counter: { compile: 'tracr', letters: 9, maxSeqLen: 8, minLen: 5, maxLen: 8, q: 1 },
  maxIdentifier: { compile: 'tracr', letters: 16, maxSeqLen: 8, nTokens: 7, rankPT: 4, rankFT: 5, q: 1 },
};
const hp: TracrTrainConfig = { lr: 1e-2, steps: 60, batchSize: 32, warmupFrac: 0.2, minLrRatio: 0.01, momentum: 0.9, clipNorm: 1, noiseStd: 1e-4, evalEvery: 30 };
process.env.WRAPLAB_DATA = fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-tracr-'));
process.env.WRAPLAB_QUIET = '1';
test.after(() => fs.rmSync(process.env.WRAPLAB_DATA!, { recursive: true, force: true }));

test('compiled models: 100% Acc O_PT on both test sets; Counter never answers #b on correlated data', async () => {
  await initBackend();
  for (const program of ['counter', 'max-identifier'] as const) {
    const task = makeTracrTask(program, tasks);
    const model = compiledModel(task.compiled);
    const acc = tracrAccuracy(model, task, tracrTestSets(task, 0, 128));
    assert.equal(acc.cTe0.pt, 1, program);
    assert.equal(acc.cTe1.pt, 1, program);
    assert.equal(acc.cTe1.ft, 0, program); // #b = #a + 1 != #a; the 6th smallest != the 5th
    model.dispose();
  }
});

test('compiled Counter attends from the readout query to the a keys only: mass #a/(#a+1)', async () => {
  await initBackend();
  const task = makeTracrTask('counter', tasks);
  const model = compiledModel(task.compiled);
  const s = tracrTestSets(task, 1, 64).cTe0;
  const { ptMass, ftMass } = capabilityAttention(model, task, s);
  const expected = s.inputs.reduce((acc, xs) => {
    const n = xs.filter((x) => x === 'a').length;
    return acc + n / (n + 1);
  }, 0) / s.inputs.length;
  assert.ok(Math.abs(ptMass - expected) < 1e-3, `${ptMass} vs ${expected}`);
  assert.ok(ftMass < 1e-3);
  model.dispose();
});

test('fine-tuning the Counter on C_Tr = 1 raises C_Te = 1 accuracy of count b; the stage is trained once', async () => {
  await initBackend();
  const node = finetuneNode({ task: taskConfigOf('counter', tasks), cTr: 1, hp, evalSize: 128 }, 0);
  const first = await ensureStage(node);
  const { curve } = first.results;
  const start = curve.find((r) => r.step === 0)!;
  const end = curve[curve.length - 1];
  assert.equal(end.step, hp.steps);
  assert.equal(start['acc.oft.cte1'], 0);
  assert.ok(end['acc.oft.cte1']! >= 0.5, `Acc O_FT (C_Te=1) after fine-tuning: ${end['acc.oft.cte1']}`);
  assert.ok(end['acc.opt.cte1']! < 0.5, 'count a is no longer the answer');
  const trained = fs.statSync(first.run.resultsFile).mtimeMs;
  const again = await ensureStage(node);
  assert.equal(fs.statSync(again.run.resultsFile).mtimeMs, trained, 'the finished stage is read, not retrained');
  const [a, b] = [first.loadModel(), again.loadModel()];
  assert.deepEqual(b.getWeights()['blocks.1.attn.W_K'], a.getWeights()['blocks.1.attn.W_K']);
  // The model a child loads is the one the stage evaluated last: its accuracies are the curve's last row.
  const task = makeTracrTask('counter', tasks);
  assert.equal(tracrAccuracy(a, task, tracrTestSets(task, 0, 128)).cTe1.ft, end['acc.oft.cte1']);
  a.dispose();
  b.dispose();
});

test('grad x weight scores predict the pretraining-loss change of shrinking a weight (first order)', async () => {
  await initBackend();
  const task = makeTracrTask('counter', tasks);
  const model = compiledModel(task.compiled);
  addWeightNoise(model, 1e-3, new Rng(5));
  const batch = tracrSamples(task, new Rng(6), 64, 0, 'pt').batch;
  const spec = { granularity: 'weight' as const, params: ['blocks.2.attn.W_V', 'unembed.W_U'] };
  const top = scoreUnits(model, [batch], spec)[0];
  const eps = 1e-3;
  const base = batchLoss(model, batch);
  const shape = model.param(top.param).shape;
  const m = new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(1);
  m[top.index] = 1 - eps;
  const mask = tf.tensor(m, shape);
  const shrunk = batchLoss(model, batch, { masks: { [top.param]: mask } });
  mask.dispose();
  // d loss / d(scale) at 1 is g . w = score, so scaling by (1 - eps) changes the loss by about -eps * score.
  const predicted = -eps * top.score;
  assert.ok(Math.abs(top.score) > 1e-4, 'the top unit matters');
  assert.ok(Math.abs(shrunk - base - predicted) < 0.05 * Math.abs(predicted) + 1e-6, `actual ${shrunk - base} vs predicted ${predicted}`);
  model.dispose();
});
