import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { PRESETS, ensureStage, resolveConfig, resolveRun, run, stageNode } from '../../lib/experiments';
import * as pcfg from '../../lib/experiments/pcfg';
import { mlpOutputs, scoreUnits, PruneMasks } from '../../lib/analysis/prune';
import { initBackend } from '../../lib/engine/backend';
import { PCFG_STUDIES } from '../../lib/studies/pcfg';
import { specsOf, studyParams } from '../../lib/studies/study';
import { criticalPath, planWork } from '../../lib/sweep/schedule';

// Smoke-sized runs, cached in a temp data dir shared by the tests of this file.
process.env.WRAPLAB_DATA = fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-pcfg-exp-'));
process.env.WRAPLAB_QUIET = '1';

const EXPERIMENTS = [pcfg.pretrain, pcfg.finetune, pcfg.prune, pcfg.probe, pcfg.reft, pcfg.scratchFinetune];

test('every PCFG experiment resolves at every preset to its scale; paper preset = the paper hyper-parameters', () => {
  for (const exp of EXPERIMENTS) {
    for (const p of PRESETS) {
      const cfg = resolveConfig(exp, p) as { pretrain: pcfg.PretrainStage };
      const scale = pcfg.PCFG_SCALES[p];
      assert.deepEqual(cfg.pretrain.model, resolveConfig(pcfg.pretrain, p).pretrain.model, `${exp.id} ${p}: one model shape per preset`);
      assert.equal(cfg.pretrain.train.steps, scale.pretrain.train.steps, `${exp.id} ${p}`);
      assert.deepEqual(cfg.pretrain.data.prior, exp === pcfg.scratchFinetune ? scale.scratchPrior : 'L', `${exp.id} ${p}: prior`);
    }
  }
  const paper = resolveConfig(pcfg.finetune, 'paper');
  assert.equal(paper.pretrain.data.textLength, 250);
  assert.deepEqual([paper.pretrain.model.nLayers, paper.pretrain.model.nHeads, paper.pretrain.model.dModel], [6, 6, 192]);
  assert.deepEqual([paper.pretrain.train.steps, paper.finetune.steps, paper.finetune.batchSize], [200_000, 10_000, 96]);
  assert.deepEqual(pcfg.PCFG_SCALES.paper.lrs, { L: 1e-4, M: 1e-5, S: 1e-6 });
  assert.equal(resolveConfig(pcfg.prune, 'laptop').finetune.lr, pcfg.PCFG_SCALES.laptop.lrs.S, 'pruning reads the eta_S model');
  assert.throws(() => resolveConfig(pcfg.finetune, 'smoke', { finetune: { cTrain: 2 } }), /finetune\.cTrain: Number must be less than or equal to 1/);
  assert.throws(() => resolveConfig(pcfg.prune, 'smoke', { prune: { units: 'heads' as 'mlp' } }), /prune\.units: Invalid enum value/);
});

test('a fine-tuning stage hashes its parent: changing pretraining changes the fine-tuning, equal configs share it', () => {
  const cfg = resolveConfig(pcfg.finetune, 'smoke');
  const other = { ...cfg.pretrain, answerWeight: cfg.pretrain.answerWeight + 1 };
  const node = pcfg.finetuneNode(cfg, 0);
  assert.notEqual(node.hash, pcfg.finetuneNode({ pretrain: other, finetune: cfg.finetune }, 0).hash);
  assert.equal(node.hash, pcfg.finetuneNode(structuredClone(cfg), 0).hash);
  assert.equal(node.parents[0].hash, stageNode(pcfg.pcfgPretrain, cfg.pretrain, 0).hash);
  assert.notEqual(node.hash, pcfg.finetuneNode(cfg, 1).hash, 'the seed is part of the key');
  // An experiment config holds more than the stage's (prune settings): the stage is the same.
  const prune = resolveConfig(pcfg.prune, 'smoke', { finetune: cfg.finetune });
  assert.equal(pcfg.finetuneNode(prune, 0).hash, node.hash);
});

test('priorOverrides: P^H pretrains at 3x the LR at laptop (in every grid cell), within the other priors\' 1,000 steps; the other priors keep the preset', () => {
  const train = (prior: 'L' | 'M' | 'H') => resolveConfig(pcfg.pretrain, 'laptop', pcfg.priorOverrides('laptop', prior)).pretrain.train;
  const base = pcfg.PCFG_SCALES.laptop.pretrain.train;
  for (const prior of ['L', 'M', 'H'] as const) assert.equal(train(prior).steps, base.steps, prior);
  assert.equal(train('L').optimizer.lr, base.optimizer.lr);
  assert.equal(train('M').optimizer.lr, base.optimizer.lr);
  assert.equal(train('H').optimizer.lr, 3 * base.optimizer.lr);
  assert.deepEqual({ ...train('H'), optimizer: { ...train('H').optimizer, lr: base.optimizer.lr } }, train('L'), 'only the LR differs');
  assert.equal(pcfg.pretrainSteps('laptop', 'H'), base.steps);
  const ft = resolveConfig(pcfg.finetune, 'laptop', pcfg.cellOverrides('laptop', { prior: 'H', lr: 'M', cTrain: 1 }));
  assert.deepEqual([ft.pretrain.data.prior, ft.pretrain.train.optimizer.lr, ft.finetune.cTrain, ft.finetune.lr], ['H', 3 * base.optimizer.lr, 1, pcfg.PCFG_SCALES.laptop.lrs.M]);
  assert.deepEqual(pcfg.priorOverrides('paper', 'H'), { pretrain: { data: { prior: 'H' } } });
});

test('the PCFG studies share six pretrainings; the scheduler starts the pretraining with the longest chain behind it first', () => {
  const params = studyParams({ preset: 'laptop' });
  const runs = PCFG_STUDIES.flatMap((s) => specsOf(s.plan(params))).map((s) => ({ resolved: resolveRun(s.experiment, { preset: 'laptop', ...s }), overrides: (s.overrides ?? {}) as Record<string, unknown> }));
  const items = planWork(runs);
  const pretrainings = items.filter((i) => i.task.kind === 'stage' && i.task.stage === 'pcfg-pretrain');
  const prior = (i: (typeof items)[number]) => ((i.task as { config: pcfg.PretrainStage }).config.data.prior);
  const families = (i: (typeof items)[number]) => (i.task as { config: pcfg.PretrainStage }).config.data.families.length;
  assert.equal(pretrainings.length, 6, 'P^L, P^M, P^H, two jailbreak models, the Scr.+FT model — each once');
  assert.deepEqual(pretrainings.map((i) => `${JSON.stringify(prior(i))}/${families(i)}`).sort(), ['"H"/2', '"L"/2', '"L"/4', '"M"/2', '"M"/4', '[0.001,0.999,0]/2']);
  const priority = criticalPath(items);
  // The three priors' pretrainings carry the fine-tuning, pruning and reFT chains: they start before the Scr.+FT and
  // jailbreak models (all pretrain 1,000 steps at laptop, so the chains behind them decide).
  const byPriority = [...pretrainings].sort((a, b) => priority.get(b.task.hash)! - priority.get(a.task.hash)!);
  assert.deepEqual(byPriority.slice(0, 3).map((i) => `${JSON.stringify(prior(i))}/${families(i)}`).sort(), ['"H"/2', '"L"/2', '"M"/2']);
  assert.ok(priority.get(byPriority[2].task.hash)! > priority.get(byPriority[3].task.hash)!);
  // Every fine-tuning waits for its pretraining; runs wait for their stages.
  for (const it of items) if (it.task.kind === 'stage' && it.task.stage === 'pcfg-finetune') assert.equal(it.deps.length, 1);
  // ... except the probe's untrained control, which trains nothing.
  const control = items.filter((i) => i.task.kind === 'run' && i.deps.length === 0);
  assert.deepEqual(control.map((i) => [(i.task as { experiment?: string }).experiment, (i.task as { overrides?: { untrained?: boolean } }).overrides?.untrained]), [['pcfg-probe', true]]);
  assert.ok(items.filter((i) => i.task.kind === 'run' && !control.includes(i)).every((i) => i.deps.length >= 1));
});

test('the paper tables are transcribed whole (36 rows each) and looked up by name', () => {
  assert.equal(pcfg.PAPER_TABLE5.length, 36);
  assert.equal(pcfg.PAPER_TABLE7.length, 36);
  assert.equal(pcfg.paperRow(pcfg.PAPER_TABLE5, 'M', 'L', 1)?.oft_c1, '99.9/100');
  assert.equal(pcfg.paperRow(pcfg.PAPER_TABLE7, 'S', 'H', 0)?.opt_c0, '97.8/97.9');
});

test('smoke: pretraining learns count a; C_Tr = 1 fine-tuning learns the shortcut (C_Te = 1 >> C_Te = 0)', async () => {
  const out = await run(pcfg.finetune, { preset: 'smoke', seed: 0 });
  const r = out.results;
  assert.equal(r.curve[0].step, 0);
  assert.equal(r.curve[r.curve.length - 1].step, out.config.finetune.steps);
  const pt = r.accPT['acc.opt.cte0']!;
  const [c0, c1] = [r.final['acc.oft.cte0']!, r.final['acc.oft.cte1']!];
  assert.ok(pt > 0.5, `pretrained count a ${pt}`);
  assert.ok(c1 > c0 + 0.15, `shortcut: C_Te=1 ${c1} vs C_Te=0 ${c0}`);
  assert.ok(c1 > r.accPT['acc.oft.cte1']! + 0.3, `fine-tuning learned count b on correlated texts: ${r.accPT['acc.oft.cte1']} -> ${c1}`);
});

test('smoke: pruning the top-scored MLP neuron changes the model output; the sweep logs every K', async () => {
  await initBackend();
  const cfg = resolveConfig(pcfg.finetune, 'smoke');
  const model = (await ensureStage(pcfg.finetuneNode(cfg, 0))).loadModel();
  try {
    const set = pcfg.makeEvalSet(pcfg.pcfgConfig(cfg.pretrain.data), { family: 'counting', operand: 'a', size: 64, seed: 5 });
    const [top] = scoreUnits(model, [set.batch], { granularity: 'row', params: mlpOutputs(model) });
    const pruned = new PruneMasks(model, 'row');
    pruned.add(top);
    const masks = pruned.toMasks();
    const tokens = tf.tensor2d(set.batch.tokens, [set.batch.batchSize, set.batch.contextLength], 'int32');
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(model.forward(tokens).logits, model.forward(tokens, { masks }).logits))).dataSync()[0]);
    tf.dispose([tokens, ...Object.values(masks)]);
    assert.ok(diff > 1e-3, `logits moved by ${diff}`);
  } finally {
    model.dispose();
  }
  const sweep = await run(pcfg.prune, { preset: 'smoke', seed: 0, overrides: { finetune: { lr: 0.001 }, prune: { maxUnits: 2 } } });
  assert.deepEqual(sweep.results.steps.map((s) => s.k), [0, 1, 2]);
  assert.match(String(sweep.results.steps[1].unit), /^blocks\.\d+\.mlp\.W_out\[\d+\]$/);
  assert.ok(sweep.results.steps[1].score! > 0, 'the first pruned unit lowers the count-a loss to first order');
});

test('smoke: reverse fine-tuning raises Acc O_PT after fine-tuning destroyed it', async () => {
  const out = await run(pcfg.reft, { preset: 'smoke', seed: 0 });
  const start = out.results.curve[0]['acc.opt.cte0']!;
  assert.ok(out.results.final['acc.opt.cte0']! > start + 0.1, `reFT: ${start} -> ${out.results.final['acc.opt.cte0']}`);
  assert.ok(out.results.curve.length >= 4, 'log-spaced evaluations');
});

test('smoke: a linear probe reads the count of a from the last block far better than from the embeddings', async () => {
  const out = await run(pcfg.probe, { preset: 'smoke', seed: 0 });
  const blocks = out.results.blocks;
  assert.equal(blocks.length, out.config.pretrain.model.nLayers + 1);
  assert.ok(blocks[blocks.length - 1].opt > blocks[0].opt + 0.15, `B0 ${blocks[0].opt} vs last ${blocks[blocks.length - 1].opt}`);
});

test('smoke: the probe beside its baselines: the untrained control (no training stage) reads #a worse than the pretrained model; the majority share is the commonest count', async () => {
  const trained = await run(pcfg.probe, { preset: 'smoke', seed: 0 });
  const control = await run(pcfg.probe, { preset: 'smoke', seed: 0, overrides: { untrained: true } });
  assert.deepEqual(pcfg.probe.stages!(control.config, 0), [], 'the control trains nothing');
  const best = (r: typeof trained.results) => Math.max(...r.blocks.map((b) => b.opt));
  assert.ok(best(trained.results) > best(control.results) + 0.1, `pretrained ${best(trained.results)} vs untrained ${best(control.results)}`);
  // Same test set, so the same majority share; a share of the test set, so between 1/classes and 1.
  assert.deepEqual(control.results.majority, trained.results.majority);
  assert.equal(control.results.testSize, control.config.probe.testSize);
  for (const v of Object.values(trained.results.majority)) assert.ok(v > 0 && v < 1, String(v));
  await assert.rejects(run(pcfg.probe, { preset: 'smoke', seed: 0, overrides: { untrained: true, finetune: resolveConfig(pcfg.finetune, 'smoke').finetune } }), /untrained: true probes the untrained initialisation; set finetune to null/);
});

test('pcfg.load: one call gives the trained model of a grid cell (the stage the experiments share)', async () => {
  const { model, stage } = await pcfg.load({ prior: 'L', lr: 'M', cTr: 1, preset: 'smoke' });
  assert.equal(stage.node.def.name, 'pcfg-finetune');
  assert.equal(stage.hash, pcfg.finetuneNode(resolveConfig(pcfg.finetune, 'smoke', pcfg.cellOverrides('smoke', { prior: 'L', lr: 'M', cTrain: 1 })), 0).hash);
  assert.deepEqual(model.getWeights()['blocks.0.mlp.W_out'], stage.loadModel().getWeights()['blocks.0.mlp.W_out']);
  const pre = await pcfg.load({ prior: 'L', preset: 'smoke' });
  assert.equal(pre.stage.node.def.name, 'pcfg-pretrain');
  await assert.rejects(pcfg.load({ prior: 'L', reft: 'M', preset: 'smoke' }), /reft reverses a fine-tuning; give lr too/);
  model.dispose();
  pre.model.dispose();
});
