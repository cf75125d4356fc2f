import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../lib/engine/backend';
import { batchLoss } from '../../lib/engine/evaluate';
import { packSequences } from '../../lib/engine/data';
import { Rng } from '../../lib/engine/rng';
import { getExperiment, resolveConfig } from '../../lib/experiments/registry';
import '../../lib/experiments/tinystories';
import {
  TinyStoriesConfig, deletionSet, pretrainStage, sampleStories, storySampler, tinyStoriesData, tinyStoriesModel, trimBatch,
} from '../../lib/experiments/tinystoriesStages';
import { probeStage } from '../../lib/experiments/tinystoriesProbe';
import * as ts from '../../lib/tasks/tinystories';

process.env.WRAPLAB_DATA = fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-ts-exp-'));
process.env.WRAPLAB_QUIET = '1';
test.after(() => fs.rmSync(process.env.WRAPLAB_DATA!, { recursive: true, force: true }));
const cfg = resolveConfig(getExperiment('tinystories-reft'), 'smoke') as TinyStoriesConfig;

test('trimBatch drops only all-padding columns', () => {
  const batch = packSequences([[1, 5, 6], [1, 7, 8, 9, 2]], 10, 0);
  const trimmed = trimBatch(batch);
  assert.equal(trimmed.contextLength, 4);
  assert.deepEqual(Array.from(trimmed.tokens), [1, 5, 6, 0, 1, 7, 8, 9]);
  assert.deepEqual(Array.from(trimmed.targets), [5, 6, 0, 0, 7, 8, 9, 2]);
  assert.equal(trimmed.weights.reduce((a, b) => a + b, 0), batch.weights.reduce((a, b) => a + b, 0));
});

test('deletion sets at the data level: F and F+R hold no story with a twist, F+R asks for one in every prompt', () => {
  const data = tinyStoriesData(cfg.corpus, 0);
  const judge = new ts.ExactTwistJudge();
  for (const p of ['F', 'F+R', 'F+MM'] as const) {
    const set = deletionSet(data, p);
    assert.ok(set.length > 20, `${p}: ${set.length} stories`);
    assert.equal(set.filter((s) => judge.judge(s.story)).length, 0, `${p} has twist stories`);
  }
  assert.ok(deletionSet(data, 'F+R').every((s) => s.features.includes('Twist')));
  assert.ok(!deletionSet(data, 'F').some((s) => s.features.includes('Twist')));
  assert.ok(data.datasets.recovery.every((s) => judge.judge(s.story)));
});

test('pretraining lowers the held-out loss; sampling is deterministic by seed; the probe pipeline runs', async () => {
  await initBackend();
  const data = tinyStoriesData(cfg.corpus, 0);
  const heldOut = storySampler(data.datasets.test.noTwist, data, cfg.contextLength, 9)(0, 8);
  const fresh = tinyStoriesModel(cfg, data.tokenizer.vocabSize, 0);
  const before = batchLoss(fresh, heldOut);
  fresh.dispose();
  const stage = await pretrainStage(cfg, 0, 'present');
  try {
    const after = batchLoss(stage.model, heldOut);
    assert.ok(after < before - 0.5, `loss ${before} -> ${after}`);
    assert.ok(fs.existsSync(stage.run.file('tokenizer.json')), 'the tokenizer is saved with the model');
    // A second call reuses the cached model.
    const again = await pretrainStage(cfg, 0, 'present');
    assert.equal(batchLoss(again.model, heldOut), after);
    again.model.dispose();

    const prompts = data.datasets.test.adversarial.slice(0, 3).map((s, i) => ts.encodePrompt(s, data.tokenizer, new Rng(i)));
    const ev = cfg.evaluation;
    const a = sampleStories(stage.model, prompts, data.tokenizer, ev, 5);
    assert.deepEqual(sampleStories(stage.model, prompts, data.tokenizer, ev, 5), a);
    assert.notDeepEqual(sampleStories(stage.model, prompts, data.tokenizer, ev, 6), a);

    const probe = await probeStage(cfg, 0, stage.model, stage.run, data);
    assert.equal(probe.accuracy.length, cfg.model.nLayers);
    assert.equal(probe.features[0], 'Twist');
    for (const row of probe.accuracy) {
      assert.equal(row.length, 6);
      for (const acc of row) assert.ok(acc >= 0 && acc <= 1);
    }
  } finally {
    stage.model.dispose();
  }
});

test('stage waves: every stage once, each after the stages it needs; a stage run fills the cache the aggregate reads', async () => {
  const { tinyStoriesStageWaves } = await import('../../lib/experiments/tinystories');
  const { runExperiment } = await import('../../lib/experiments/registry');
  const waves = tinyStoriesStageWaves();
  const key = (s: object) => JSON.stringify(s);
  const waveOf = new Map<string, number>();
  waves.forEach((w, i) => w.forEach((s) => {
    assert.ok(!waveOf.has(key(s)), `stage listed twice: ${key(s)}`);
    waveOf.set(key(s), i);
  }));
  const count = (kind: string) => waves.flat().filter((s) => s.kind === kind).length;
  assert.deepEqual([count('pretrain'), count('delete'), count('reft'), count('probe')], [2, 6, 7, 8]);
  const need = (s: (typeof waves)[number][number]): string[] => {
    if (s.kind === 'delete') return [key({ kind: 'pretrain', variant: 'present' })];
    if (s.kind === 'reft') return [s.from === 'control' ? key({ kind: 'pretrain', variant: 'absent' }) : key({ kind: 'delete', ...s.from })];
    if (s.kind === 'probe') return [typeof s.model === 'string' ? key({ kind: 'pretrain', variant: s.model }) : key({ kind: 'delete', ...s.model })];
    return [];
  };
  for (const s of waves.flat()) for (const n of need(s)) assert.ok(waveOf.get(n)! < waveOf.get(key(s))!, `${key(s)} runs before ${n}`);

  // The stage experiment trains the same cached stage the pipeline uses.
  const out = await runExperiment<{ run: string }>('tinystories-stage', { preset: 'smoke', sets: ['stage={"kind":"pretrain","variant":"absent"}'] });
  const again = await pretrainStage(cfg, 0, 'absent');
  assert.equal(out.results.run, again.run.hash);
  again.model.dispose();
  assert.throws(() => resolveConfig(getExperiment('tinystories-stage'), 'smoke', ['stage={"kind":"delete","protocol":"X","lr":"S"}']));
});

test('classifier judge: trained on the labelled corpus, accurate on held-out stories, deterministic', async () => {
  const { classifierJudge } = await import('../../lib/experiments/tinystoriesStages');
  const data = tinyStoriesData(cfg.corpus, 0);
  const judge = classifierJudge(data, cfg.corpus, 0);
  const held = ts.labelTwist(data.heldOut);
  assert.ok(held.some((h) => h.twist) && held.some((h) => !h.twist));
  assert.ok(ts.judgeAccuracy(judge, held) >= 0.9, `held-out accuracy ${ts.judgeAccuracy(judge, held)}`);
  const again = new ts.BagOfWordsTwistJudge({ seed: Rng.derive(0, 'tinystories-judge').int(0, 2 ** 31) });
  again.train(ts.labelTwist(data.datasets.pretrain.slice(0, 4000)));
  for (const h of held.slice(0, 20)) assert.equal(again.probability(h.text), judge.probability(h.text));
});

test("a fine-tuning stage's step 0 is its parent's evaluation: identical to judging the parent afresh", async () => {
  const { deletionStage, reftStage, evaluatedRows, makeTwistEvaluator, twistEvaluationOf } = await import('../../lib/experiments/tinystoriesStages');
  const c: TinyStoriesConfig = { ...cfg, deletion: { ...cfg.deletion, evalSteps: [0, cfg.deletion.steps] } };
  const pre = await pretrainStage(c, 0, 'present');
  const fresh = makeTwistEvaluator(c, tinyStoriesData(c.corpus, 0), 0)(pre.model);
  pre.model.dispose();
  const del = await deletionStage(c, 0, 'F', 'M');
  const delRows = evaluatedRows(del.metrics);
  del.model.dispose();
  assert.equal(delRows[0].step, 0);
  assert.deepEqual(twistEvaluationOf(delRows[0]), fresh);
  const reft = await reftStage(c, 0, { kind: 'deleted', protocol: 'F', lr: 'M' });
  reft.model.dispose();
  const reftRows = evaluatedRows(reft.metrics);
  assert.equal(reftRows[0].step, 0);
  assert.equal(delRows.at(-1)!.step, c.deletion.steps);
  assert.deepEqual(twistEvaluationOf(reftRows[0]), twistEvaluationOf(delRows.at(-1)!));
});
