import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { getExperiment, resolveConfig, runExperiment, PRESETS } from '../../lib/experiments';
import {
  PCFG_SCALES,
  finetuneKey,
  finetuneStage,
  type PcfgFinetuneResults,
  type PcfgProbeResults,
  type PcfgPruneResults,
  type PcfgReftResults,
  type PcfgFinetuneConfig,
} from '../../lib/experiments/pcfg';
import { mlpOutputs, scoreUnits, PruneMasks } from '../../lib/analysis/prune';
import { hashConfig } from '../../lib/engine/runs';
import { initBackend } from '../../lib/engine/backend';
import { makeEvalSet, jailbreakPretrainConfig, PCFG_PRESETS } from '../../lib/tasks/pcfg';
import { pcfgConfig } from '../../lib/experiments/pcfgEval';
import { PAPER_TABLE5, PAPER_TABLE7, paperRow } from '../../lib/experiments/pcfgPaper';
import { priorSets, type PcfgPretrainConfig } from '../../lib/experiments/pcfg';
import { finetuneSets, overrideSets, pcfgPretrainings } from '../../lib/plots/pcfgFigures';

// Smoke-sized runs, cached in a temp data dir shared by the tests of this file (the fine-tuning stage is reused).
process.env.WRAPLAB_DATA = fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-pcfg-exp-'));
process.env.WRAPLAB_QUIET = '1';

const IDS = ['pcfg-pretrain', 'pcfg-finetune', 'pcfg-prune', 'pcfg-probe', 'pcfg-reft', 'pcfg-scratch-ft'];

test('every PCFG experiment resolves at every preset; paper preset = the paper hyper-parameters', () => {
  for (const id of IDS) for (const p of PRESETS) assert.ok(resolveConfig(getExperiment(id), p), `${id} ${p}`);
  const paper = resolveConfig(getExperiment('pcfg-finetune'), 'paper') as PcfgFinetuneConfig;
  assert.equal(paper.pretrain.data.textLength, 250);
  assert.deepEqual([paper.pretrain.model.nLayers, paper.pretrain.model.nHeads, paper.pretrain.model.dModel], [6, 6, 192]);
  assert.deepEqual([paper.pretrain.train.steps, paper.finetune.steps, paper.finetune.batchSize], [200_000, 10_000, 96]);
  assert.deepEqual(PCFG_SCALES.paper.lrs, { L: 1e-4, M: 1e-5, S: 1e-6 });
  assert.throws(() => resolveConfig(getExperiment('pcfg-finetune'), 'smoke', ['finetune.cTrain=2']), /cTrain/);
  assert.throws(() => resolveConfig(getExperiment('pcfg-prune'), 'smoke', ['prune.units=heads']), /units/);
});

test('a fine-tuning stage key contains its parent: changing pretraining changes the fine-tuning cache key', () => {
  const cfg = resolveConfig(getExperiment('pcfg-finetune'), 'smoke') as PcfgFinetuneConfig;
  const other = { ...cfg.pretrain, answerWeight: cfg.pretrain.answerWeight + 1 };
  assert.notEqual(hashConfig(finetuneKey(cfg.pretrain, cfg.finetune, 0)), hashConfig(finetuneKey(other, cfg.finetune, 0)));
  assert.equal(hashConfig(finetuneKey(cfg.pretrain, cfg.finetune, 0)), hashConfig(finetuneKey(structuredClone(cfg.pretrain), cfg.finetune, 0)));
});

test('priorSets: P^H pretrains longer at laptop (in every grid cell), the other priors keep the preset steps', () => {
  const steps = (sets: string[]) => (resolveConfig(getExperiment('pcfg-pretrain'), 'laptop', sets) as PcfgPretrainConfig).pretrain.train.steps;
  const base = PCFG_SCALES.laptop.pretrain.train.steps;
  assert.equal(steps(priorSets('laptop', 'L')), base);
  assert.equal(steps(priorSets('laptop', 'M')), base);
  assert.equal(steps(priorSets('laptop', 'H')), PCFG_SCALES.laptop.pretrainStepsByPrior.H);
  assert.ok(steps(priorSets('laptop', 'H')) > base);
  const ft = resolveConfig(getExperiment('pcfg-finetune'), 'laptop', finetuneSets('laptop', 'H', 'M', 1)) as PcfgFinetuneConfig;
  assert.deepEqual([ft.pretrain.data.prior, ft.pretrain.train.steps, ft.finetune.cTrain], ['H', PCFG_SCALES.laptop.pretrainStepsByPrior.H, 1]);
  assert.deepEqual(priorSets('paper', 'H'), ['pretrain.data.prior=H']);
});

test('the PCFG shared-stage grid lists every pretraining the sets fine-tune from, longest first, with the same configs', () => {
  const specs = pcfgPretrainings('laptop');
  assert.equal(specs[0].name, 'H', 'P^H (3,000 steps) first');
  assert.deepEqual(specs.map((p) => p.steps), [...specs.map((p) => p.steps)].sort((a, b) => b - a));
  const families = jailbreakPretrainConfig(PCFG_PRESETS.laptop).families;
  assert.notDeepEqual(families, PCFG_PRESETS.laptop.families);
  const pretrainOf = (p: (typeof specs)[number]) => (resolveConfig(getExperiment('pcfg-pretrain'), 'laptop', p.sets) as PcfgPretrainConfig).pretrain;
  const byName = new Map(specs.map((p) => [p.name, p]));
  assert.deepEqual([...byName.keys()].sort(), ['H', 'L', 'L (jailbreak)', 'M', 'M (jailbreak)', 'Scr.+FT (a, b swapped)']);
  for (const prior of ['L', 'M'] as const) {
    // The very pretraining its jailbreak fine-tunings use (same config, so the same cached run).
    const ft = resolveConfig(getExperiment('pcfg-finetune'), 'laptop', finetuneSets('laptop', prior, 'S', 0, { 'pretrain.data.families': families })) as PcfgFinetuneConfig;
    assert.deepEqual(pretrainOf(byName.get(`${prior} (jailbreak)`)!), ft.pretrain);
  }
  const plain = resolveConfig(getExperiment('pcfg-finetune'), 'laptop', finetuneSets('laptop', 'H', 'M', 1)) as PcfgFinetuneConfig;
  assert.deepEqual(pretrainOf(specs[0]), plain.pretrain);
  const scratch = resolveConfig(getExperiment('pcfg-scratch-ft'), 'laptop', []) as { pretrain: unknown };
  assert.deepEqual(pretrainOf(byName.get('Scr.+FT (a, b swapped)')!), scratch.pretrain, 'the Scr.+FT baseline pretrains from the shared grid');
});

test('the paper tables are transcribed whole (36 rows each) and looked up by name', () => {
  assert.equal(PAPER_TABLE5.length, 36);
  assert.equal(PAPER_TABLE7.length, 36);
  assert.equal(paperRow(PAPER_TABLE5, 'M', 'L', 1)?.oft_c1, '99.9/100');
  assert.equal(paperRow(PAPER_TABLE7, 'S', 'H', 0)?.opt_c0, '97.8/97.9');
});

test('smoke: pretraining learns count a; C_Tr = 1 fine-tuning learns the shortcut (C_Te = 1 >> C_Te = 0)', async () => {
  const out = await runExperiment<PcfgFinetuneResults>('pcfg-finetune', { preset: 'smoke', seed: 0 });
  const r = out.results;
  assert.equal(r.curve[0].step, 0);
  assert.equal(r.curve[r.curve.length - 1].step, (out.config as PcfgFinetuneConfig).finetune.steps);
  assert.ok(r.accPT.opt_c0 > 0.5, `pretrained count a ${r.accPT.opt_c0}`);
  assert.ok(r.final.oft_c1 > r.final.oft_c0 + 0.15, `shortcut: C_Te=1 ${r.final.oft_c1} vs C_Te=0 ${r.final.oft_c0}`);
  assert.ok(r.final.oft_c1 > r.accPT.oft_c1 + 0.3, `fine-tuning learned count b on correlated texts: ${r.accPT.oft_c1} -> ${r.final.oft_c1}`);
});

test('smoke: pruning the top-scored MLP neuron changes the model output; the sweep logs every K', async () => {
  await initBackend();
  const cfg = resolveConfig(getExperiment('pcfg-finetune'), 'smoke') as PcfgFinetuneConfig;
  const stage = await finetuneStage(cfg.pretrain, cfg.finetune, 0);
  assert.equal(stage.cached, true, 'the fine-tuning stage of the previous test is reused');
  try {
    const set = makeEvalSet(pcfgConfig(cfg.pretrain.data), { family: 'counting', operand: 'a', size: 64, seed: 5 });
    const [top] = scoreUnits(stage.model, [set.batch], { granularity: 'row', params: mlpOutputs(stage.model) });
    const pruned = new PruneMasks(stage.model, 'row');
    pruned.add(top);
    const masks = pruned.toMasks();
    const tokens = tf.tensor2d(set.batch.tokens, [set.batch.batchSize, set.batch.contextLength], 'int32');
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(stage.model.forward(tokens).logits, stage.model.forward(tokens, { masks }).logits))).dataSync()[0]);
    tf.dispose([tokens, ...Object.values(masks)]);
    assert.ok(diff > 1e-3, `logits moved by ${diff}`);
  } finally {
    stage.model.dispose();
  }
  const sweep = await runExperiment<PcfgPruneResults>('pcfg-prune', { preset: 'smoke', seed: 0, sets: ['finetune.lr=0.001', 'prune.maxUnits=2'] });
  assert.deepEqual(sweep.results.steps.map((s) => s.k), [0, 1, 2]);
  assert.match(String(sweep.results.steps[1].unit), /^blocks\.\d+\.mlp\.W_out\[\d+\]$/);
  assert.ok((sweep.results.steps[1].score as number) > 0, 'the first pruned unit lowers the count-a loss to first order');
});

test('smoke: reverse fine-tuning raises Acc O_PT after fine-tuning destroyed it', async () => {
  const out = await runExperiment<PcfgReftResults>('pcfg-reft', { preset: 'smoke', seed: 0 });
  const start = out.results.curve[0].opt_c0;
  assert.ok(out.results.final.opt_c0 > start + 0.1, `reFT: ${start} -> ${out.results.final.opt_c0}`);
  assert.ok(out.results.curve.length >= 4, 'log-spaced evaluations');
});

test('smoke: a linear probe reads the count of a from the last block far better than from the embeddings', async () => {
  const out = await runExperiment<PcfgProbeResults>('pcfg-probe', { preset: 'smoke', seed: 0 });
  const blocks = out.results.blocks;
  assert.equal(blocks.length, (out.config as { pretrain: { model: { nLayers: number } } }).pretrain.model.nLayers + 1);
  assert.ok(blocks[blocks.length - 1].opt > blocks[0].opt + 0.15, `B0 ${blocks[0].opt} vs last ${blocks[blocks.length - 1].opt}`);
});
