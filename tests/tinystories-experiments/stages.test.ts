import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../lib/engine/backend';
import { batchLoss } from '../../lib/engine/evaluate';
import { packSequences } from '../../lib/engine/data';
import { Rng } from '../../lib/engine/rng';
import { ensureStage, resolveConfig, resolveRun, run, stageNode } from '../../lib/experiments';
import * as tst from '../../lib/experiments/tinystories';
import * as ts from '../../lib/tasks/tinystories';
import { parseSets } from '../../lib/experiments/overrides';
import { planWork } from '../../lib/sweep/schedule';

process.env.WRAPLAB_DATA = fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-ts-exp-'));
process.env.WRAPLAB_QUIET = '1';
test.after(() => fs.rmSync(process.env.WRAPLAB_DATA!, { recursive: true, force: true }));
const cfg = resolveConfig(tst.reft, 'smoke');

test('trimBatch drops only all-padding columns', () => {
  const batch = packSequences([[1, 5, 6], [1, 7, 8, 9, 2]], 10, 0);
  const trimmed = tst.trimBatch(batch);
  assert.equal(trimmed.contextLength, 4);
  assert.deepEqual(Array.from(trimmed.tokens), [1, 5, 6, 0, 1, 7, 8, 9]);
  assert.deepEqual(Array.from(trimmed.targets), [5, 6, 0, 0, 7, 8, 9, 2]);
  assert.equal(trimmed.weights.reduce((a, b) => a + b, 0), batch.weights.reduce((a, b) => a + b, 0));
});

test('deletion sets at the data level: F and F+R hold no story with a twist, F+R asks for one in every prompt', () => {
  const data = tst.tinyStoriesData(cfg.corpus, 0);
  const judge = new tst.ExactTwistJudge();
  for (const p of ['F', 'F+R', 'F+MM'] as const) {
    const set = tst.deletionSet(data, p);
    assert.ok(set.length > 20, `${p}: ${set.length} stories`);
    assert.equal(set.filter((s) => judge.judge(s.story)).length, 0, `${p} has twist stories`);
  }
  assert.ok(tst.deletionSet(data, 'F+R').every((s) => s.features.includes('Twist')));
  assert.ok(!tst.deletionSet(data, 'F').some((s) => s.features.includes('Twist')));
  assert.ok(data.datasets.recovery.every((s) => judge.judge(s.story)));
});

test('pretraining lowers the held-out loss; sampling is deterministic by seed; the stage is trained once', async () => {
  await initBackend();
  const data = tst.tinyStoriesData(cfg.corpus, 0);
  const heldOut = tst.storySampler(data.datasets.test.noTwist, data, cfg.contextLength, 9)(0, 8);
  const fresh = tst.tinyStoriesModel(cfg, data.tokenizer.vocabSize, 0);
  const before = batchLoss(fresh, heldOut);
  fresh.dispose();
  const stage = await ensureStage(stageNode(tst.tsPretrain, tst.pretrainConfig(cfg, 'present'), 0));
  const model = stage.loadModel();
  try {
    const after = batchLoss(model, heldOut);
    assert.ok(after < before - 0.5, `loss ${before} -> ${after}`);
    assert.ok(fs.existsSync(stage.run.file('tokenizer.json')), 'the tokenizer is saved with the model');
    const { model: again, tokenizer } = await tst.load({ model: 'present', preset: 'smoke' });
    assert.equal(batchLoss(again, heldOut), after, 'tinystories.load reads the same stage');
    assert.deepEqual(tokenizer.toJSON(), data.tokenizer.toJSON());
    again.dispose();

    const prompts = data.datasets.test.adversarial.slice(0, 3).map((s, i) => tst.encodePrompt(s, data.tokenizer, new Rng(i)));
    const ev = cfg.evaluation;
    const a = tst.sampleStories(model, prompts, data.tokenizer, ev, 5);
    assert.deepEqual(tst.sampleStories(model, prompts, data.tokenizer, ev, 5), a);
    assert.notDeepEqual(tst.sampleStories(model, prompts, data.tokenizer, ev, 6), a);
  } finally {
    model.dispose();
  }
});

test('probes read a feature the text shows (Dialogue) above its majority baseline, and report that baseline', async () => {
  await initBackend();
  const probe = { trainStories: 400, testStories: 200, steps: 300, lr: 1e-2, batchSize: 64 };
  const of: tst.ModelRef = { stage: 'pretrain', config: tst.pretrainConfig(cfg, 'present') };
  const r = (await ensureStage(tst.probeNode({ ...cfg, probe }, of, 0))).results;
  assert.equal(r.accuracy.length, cfg.model.nLayers);
  assert.deepEqual(r.features, [...tst.PROBE_FEATURES]);
  const data = tst.tinyStoriesData(cfg.corpus, 0);
  const test = data.heldOut.slice(0, probe.testStories);
  assert.equal(r.testSize, test.length, 'testSize counts the held-out stories');
  r.features.forEach((f, j) => {
    const share = test.filter((s) => s.features.includes(f as never)).length / test.length;
    assert.equal(r.positiveRate[j], share, `${f}: the positive rate is the test stories' share`);
    for (const row of r.accuracy) assert.ok(Math.abs(row[j] * probe.testStories - Math.round(row[j] * probe.testStories)) < 1e-6, 'accuracy counts test stories');
  });
  const d = r.features.indexOf('Dialogue');
  const majority = Math.max(r.positiveRate[d], 1 - r.positiveRate[d]);
  const best = Math.max(...r.accuracy.map((row) => row[d]));
  assert.ok(best > majority + 0.1, `Dialogue probe ${best} vs majority ${majority}`);
});

test('the pipeline as a graph: the two experiments declare every stage once, each after its parents', () => {
  const runs = [tst.reft, tst.probe].map((e) => ({ resolved: resolveRun(e, { preset: 'smoke' }), overrides: {} }));
  const items = planWork(runs);
  const stages = items.filter((i) => i.task.kind === 'stage');
  const count = (name: string) => stages.filter((i) => i.task.kind === 'stage' && i.task.stage === name).length;
  // Some stages are already trained by the tests above; the rest are planned, never twice.
  assert.equal(new Set(items.map((i) => i.task.hash)).size, items.length);
  assert.equal(count('tinystories-delete'), 6);
  assert.equal(count('tinystories-reft'), 7);
  assert.ok(count('tinystories-probe') >= 7);
  assert.equal(count('tinystories-structure-probe'), 9, 'the held-out-realiser probe on every probed model');
  const position = new Map(items.map((i, k) => [i.task.hash, k]));
  for (const it of items) for (const d of it.deps) assert.ok(position.get(d)! < position.get(it.task.hash)!, `${it.task.label} listed after ${d}`);
  const reftOfControl = stages.find((i) => i.task.kind === 'stage' && i.task.stage === 'tinystories-reft' && (i.task.config as { from: { kind: string } }).from.kind === 'control')!;
  const parents = reftOfControl.deps.map((h) => items.find((i) => i.task.hash === h)!.task).map((t) => (t.kind === 'stage' ? t.stage : t.experiment));
  assert.deepEqual(parents.sort(), ['tinystories-eval', 'tinystories-pretrain'], 'the control starts from "Not in PT" and its evaluation');
});

test('classifier judge: trained on the labelled corpus, accurate on held-out stories, deterministic', () => {
  const data = tst.tinyStoriesData(cfg.corpus, 0);
  const judge = tst.classifierJudge(data, cfg.corpus, 0);
  const held = tst.labelTwist(data.heldOut);
  assert.ok(held.some((h) => h.twist) && held.some((h) => !h.twist));
  assert.ok(tst.judgeAccuracy(judge, held) >= 0.9, `held-out accuracy ${tst.judgeAccuracy(judge, held)}`);
  const again = new tst.BagOfWordsTwistJudge({ seed: Rng.derive(0, 'tinystories-judge').int(0, 2 ** 31) });
  again.train(tst.labelTwist(data.datasets.pretrain.slice(0, 4000)));
  for (const h of held.slice(0, 20)) assert.equal(again.probability(h.text), judge.probability(h.text));
});

test("a fine-tuning stage's step 0 is its parent's evaluation: identical to judging the parent afresh", async () => {
  const c = { ...cfg, deletion: { ...cfg.deletion, evalSteps: [0, cfg.deletion.steps] } };
  const pre = await ensureStage(stageNode(tst.tsPretrain, tst.pretrainConfig(c, 'present'), 0));
  const preModel = pre.loadModel();
  const fresh = tst.makeTwistEvaluator(c, tst.tinyStoriesData(c.corpus, 0), 0)(preModel);
  preModel.dispose();
  const del = await ensureStage(stageNode(tst.tsDelete, tst.deleteConfig(c, 'F', 'M'), 0));
  const delRows = del.results.curve;
  assert.equal(delRows[0].step, 0);
  assert.deepEqual(tst.twistEvaluationOf(delRows[0]), fresh);
  const reft = await ensureStage(stageNode(tst.tsReft, tst.reftConfig(c, { kind: 'deleted', protocol: 'F', lr: 'M' }), 0));
  const reftRows = reft.results.curve;
  assert.equal(reftRows[0].step, 0);
  assert.equal(delRows.at(-1)!.step, c.deletion.steps);
  assert.deepEqual(tst.twistEvaluationOf(reftRows[0]), tst.twistEvaluationOf(delRows.at(-1)!));
  assert.equal(reft.node.parents.length, 1, 'a deletion that ends on an evaluation is all its reFT needs');
});

test('corpus.source: real shards feed every dataset (labelled sets only from labelled stories); plain text refuses what needs Twist labels', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-ts-source-'));
  try {
    const stories = tst.tinyStoriesData(cfg.corpus, 0).datasets.pretrain.slice(0, 300);
    const shards = path.join(dir, 'shards');
    ts.writeFixtureShard(path.join(shards, 'data00.json'), stories.slice(0, 150));
    ts.writeFixtureShard(path.join(shards, 'data01.json'), stories.slice(150));
    // As `--set corpus.source=<dir>` gives it.
    const real = resolveConfig(tst.reft, 'smoke', parseSets([`corpus.source=${shards}`], tst.reft.schema));
    assert.equal(real.corpus.source, shards);
    const data = tst.tinyStoriesData(real.corpus, 0);
    assert.equal(data.corpus!.stories, Math.min(300, real.corpus.stories));
    assert.ok(data.datasets.recovery.length > 0 && data.datasets.filter.length > 0 && data.heldOut.length > 0);
    assert.ok(data.datasets.recovery.every((s) => s.features.includes('Twist')));
    assert.doesNotThrow(() => tst.requireTwistLabels(data, 'deletion'));
    // Real stories train a BPE unless the config asks for words; the procedural corpus keeps the word tokenizer.
    assert.equal(data.tokenizer.kind, 'bpe');
    assert.ok(data.tokenizer.vocabSize > 1000 && data.tokenizer.vocabSize <= real.corpus.vocabSize, `${data.tokenizer.vocabSize} entries (fewer when the corpus runs out of merges)`);
    assert.equal(tst.tinyStoriesData({ ...real.corpus, tokenizer: 'word' }, 0).tokenizer.kind, 'word');
    assert.equal(tst.tinyStoriesData(cfg.corpus, 0).tokenizer.kind, 'word');
    // Plain text: no labels.
    const txt = path.join(dir, 'train.txt');
    fs.writeFileSync(txt, stories.map((s) => s.story).join('\n<|endoftext|>\n'));
    const plain = tst.tinyStoriesData(resolveConfig(tst.reft, 'smoke', { corpus: { source: txt } }).corpus, 0);
    assert.equal(plain.corpus!.labelled, 0);
    assert.equal(plain.datasets.recovery.length, 0, 'an unlabelled story is never taken for a Twist or a no-Twist story');
    assert.equal(plain.datasets.pretrain.length > 0, true, 'the "present" pretraining set is every story');
    assert.throws(() => tst.requireTwistLabels(plain, 'deletion fine-tuning'), /deletion fine-tuning needs stories labelled with and without Twist .* only pretraining the "present" model runs/);
    // Too few stories for a test split.
    const tiny = path.join(dir, 'tiny', 'data00.json');
    ts.writeFixtureShard(tiny, stories.slice(0, 10));
    assert.throws(() => tst.tinyStoriesData({ ...real.corpus, source: tiny }, 0), /10 stories leave an empty split/);
    // The real-data judge: trained on labelled stories, refuses a part without both classes.
    const judge = tst.classifierJudge(data, real.corpus, 0);
    const held = [...data.datasets.test.twist.map((x) => [x.story, true] as const), ...data.datasets.test.noTwist.map((x) => [x.story, false] as const)];
    const accuracy = held.filter(([text, twist]) => judge.judge(text) === twist).length / held.length;
    const majority = Math.max(data.datasets.test.twist.length, data.datasets.test.noTwist.length) / held.length;
    assert.ok(accuracy > majority, `the judge beats the majority baseline on the test split: ${accuracy} vs ${majority}`);
    const fits = tst.contextReport(data.datasets.pretrain, data, 100000, 0);
    assert.deepEqual([fits.stories, fits.truncated], [data.datasets.pretrain.length, 0]);
    assert.ok(fits.tokensPerWord >= 1, `at least one token per word: ${fits.tokensPerWord}`);
    assert.equal(tst.contextReport(data.datasets.pretrain, data, 5, 0).truncated, data.datasets.pretrain.length);
    const record = tst.judgeRecord(data, real, 0);
    assert.equal(record.twistRate, 'classifier', 'on real stories the classifier judges');
    assert.ok(record.classifier.heldOut && record.classifier.heldOut.accuracy > record.classifier.heldOut.majorityBaseline, JSON.stringify(record));
    const procedural = tst.judgeRecord(tst.tinyStoriesData(cfg.corpus, 0), cfg, 0);
    assert.equal(procedural.twistRate, cfg.evaluation.judge);
    assert.equal(procedural.classifier.heldOut, null);
    const allTwist = path.join(dir, 'twist-only');
    const twists = stories.filter((s) => s.features.includes('Twist'));
    ts.writeFixtureShard(path.join(allTwist, 'data00.json'), [...twists, ...twists, ...twists, ...twists].slice(0, 200));
    const onlyTwist = tst.tinyStoriesData({ ...real.corpus, source: allTwist }, 0);
    assert.throws(() => tst.classifierJudge(onlyTwist, { ...real.corpus, source: allTwist }, 0), /the Twist judge: its train part .* has only Twist stories/);
    assert.throws(() => tst.requireTwistLabels(onlyTwist, 'tinystories-reft'), /0 with Twist|with Twist/);
    // Runs are keyed by the path: changed files under it are refused, not silently mixed with cached runs.
    ts.writeFixtureShard(path.join(shards, 'data01.json'), stories.slice(150, 299));
    assert.throws(() => tst.tinyStoriesData(real.corpus, 0), /its files changed since runs were cached from them/);
    assert.throws(() => tst.tinyStoriesData({ ...real.corpus, source: path.join(dir, 'nowhere') }, 0), /does not exist/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('corpus.source end to end: both TinyStories experiments train, evaluate and probe on real-format shards with the BPE', async () => {
  await initBackend();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-ts-e2e-'));
  try {
    ts.writeFixtureShard(path.join(dir, 'data00.json'), ts.generateStories(7, 400));
    const overrides = { corpus: { source: dir, stories: 400 } };
    const reft = (await run(tst.reft, { preset: 'smoke', overrides })).results;
    assert.equal(reft.corpus!.stories, 400);
    assert.equal(reft.corpus!.heldOut.tokenizer, 'bpe');
    const held = reft.corpus!.heldOut;
    assert.ok(held.stories === 8 && held.fitsContext === 1 - held.truncated / 8 && held.tokensPerWord >= 1, JSON.stringify(reft.corpus));
    assert.equal(reft.judge!.twistRate, 'classifier');
    assert.equal(reft.reft.length, 7);
    for (const r of reft.reft) assert.ok(r.curve.every((c) => Number.isFinite(c['loss.twist']) && c['twist.rate'] >= 0 && c['twist.rate'] <= 1));
    const probe = (await run(tst.probe, { preset: 'smoke', overrides })).results;
    assert.equal(probe.models.length, 9, 'Present, Not in PT, the untrained control, six deleted');
    assert.ok(probe.models.every((m) => m.accuracy.flat().every((a) => a >= 0 && a <= 1)));
    // The control is the pretraining's initialisation, untrained: the same weights as a fresh model of that seed.
    const { loadStageModel } = await import('../../lib/experiments/load');
    const { stageNode } = await import('../../lib/experiments/stage');
    const { resolveConfig } = await import('../../lib/experiments/run');
    const pre = tst.pretrainConfig(resolveConfig(tst.probe, 'smoke', overrides), 'present');
    const init = (await loadStageModel(stageNode(tst.tsInit, pre, 0))).model;
    const trained = (await loadStageModel(stageNode(tst.tsPretrain, pre, 0))).model;
    const fresh = tst.tinyStoriesModel(pre, init.config.vocabSize, 0);
    const w = (m: typeof init) => m.getWeights()['blocks.0.attn.W_Q'];
    assert.deepEqual(w(init), w(fresh), 'init = a fresh model of the seed');
    assert.notDeepEqual(w(init), w(trained), 'and not the trained one');
    [init, trained, fresh].forEach((m) => m.dispose());
    assert.ok(probe.models.some((m) => m.label === tst.UNTRAINED_LABEL));
    assert.equal(probe.corpus!.heldOut.tokenizer, 'bpe');
    // The procedural corpus's results keep their shape (no corpus record).
    assert.equal(tst.corpusRecord(tst.tinyStoriesData(cfg.corpus, 0), cfg.contextLength, 0), undefined);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the held-out-realiser Twist probe: every probed model, accuracies count test stories, the pooled value is the folds\' weighted mean; absent on a real corpus', async () => {
  const r = (await run(tst.probe, { preset: 'smoke' })).results;
  const s = r.structure!;
  assert.equal(s.models.length, r.models.length);
  for (const m of s.models) {
    assert.equal(m.testSize, m.folds.reduce((a, f) => a + f.testSize, 0));
    m.layers.forEach((_, li) => {
      for (const f of m.folds) assert.ok(Math.abs(f.accuracy[li] * f.testSize - Math.round(f.accuracy[li] * f.testSize)) < 1e-4, 'accuracy counts test stories');
      const pooled = m.folds.reduce((a, f) => a + f.accuracy[li] * f.testSize, 0) / m.testSize;
      assert.ok(Math.abs(pooled - m.accuracy[li]) < 1e-9);
    });
  }
  assert.equal(s.words.testSize, s.models[0].testSize);
});
