import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UsageError, deepMerge, getExperiment, parseSets, resolveConfig, run, type Overrides } from '../../lib/experiments';
import { demoSort } from '../../lib/experiments/demo';
import { finetune } from '../../lib/experiments/pcfg/experiments';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-exp-'));

test('presets resolve and validate; typed overrides merge into the preset key by key', () => {
  for (const p of ['smoke', 'laptop', 'paper'] as const) assert.ok(resolveConfig(demoSort, p).train.steps > 0);
  const cfg = resolveConfig(demoSort, 'smoke', { train: { steps: 7, optimizer: { lr: 0.5 } }, model: { norm: 'rmsnorm' } });
  assert.equal(cfg.train.steps, 7);
  assert.equal(cfg.model.norm, 'rmsnorm');
  assert.equal(cfg.train.optimizer.lr, 0.5);
  assert.equal(cfg.train.optimizer.kind, 'adamw', 'keys the overrides leave alone keep the preset value');
  assert.equal(cfg.train.batchSize, resolveConfig(demoSort, 'smoke').train.batchSize);
  assert.throws(() => resolveConfig(demoSort, 'smoke', { train: { steps: -3 } }), (e: Error) => e instanceof UsageError && /train\.steps: Number must be greater than or equal to 0/.test(e.message));
  // A key the schema does not know is caught even when the overrides come untyped (from a file, the CLI).
  assert.throws(() => resolveConfig(demoSort, 'smoke', { model: { bogus: 1 } } as Overrides<typeof demoSort>), /model: Unrecognized key\(s\) in object: 'bogus'/);
  assert.throws(() => getExperiment('nope'), /unknown experiment "nope"/);
  // A nullable part of a config takes a whole object (the probe's fine-tuning is null in its preset).
  const ft = resolveConfig(finetune, 'smoke', { finetune: { task: 'indexer', cTrain: 0.5 } });
  assert.deepEqual([ft.finetune.task, ft.finetune.cTrain, ft.finetune.steps], ['indexer', 0.5, resolveConfig(finetune, 'smoke').finetune.steps]);
});

test('--set strings parse into the same overrides object, keys checked against the schema', () => {
  const parsed = parseSets(['train.steps=7', 'model.norm=rmsnorm', 'train.optimizer.lr=0.5', 'evalSize=64'], demoSort.schema);
  assert.deepEqual(parsed, { train: { steps: 7, optimizer: { lr: 0.5 } }, model: { norm: 'rmsnorm' }, evalSize: 64 });
  assert.deepEqual(resolveConfig(demoSort, 'smoke', parsed), resolveConfig(demoSort, 'smoke', { train: { steps: 7, optimizer: { lr: 0.5 } }, model: { norm: 'rmsnorm' }, evalSize: 64 }));
  assert.throws(() => parseSets(['model.bogus=1'], demoSort.schema), (e: Error) => e instanceof UsageError && /unknown config key "model.bogus" \(at "bogus"; keys here: dModel, nLayers/.test(e.message));
  assert.throws(() => parseSets(['novalue'], demoSort.schema), /key=value/);
  assert.deepEqual(parseSets(['pretrain.data.prior=[0.1,0.9,0]', 'finetune.task=indexer'], finetune.schema), { pretrain: { data: { prior: [0.1, 0.9, 0] } }, finetune: { task: 'indexer' } });
});

test('deepMerge: objects merge, arrays and values replace, nothing is mutated', () => {
  const base = { a: { b: 1, c: [1, 2] }, d: null as null | { e: number } };
  const out = deepMerge(base, { a: { c: [3] }, d: { e: 2 } });
  assert.deepEqual(out, { a: { b: 1, c: [3] }, d: { e: 2 } });
  assert.deepEqual(base, { a: { b: 1, c: [1, 2] }, d: null });
});

test('same seed -> byte-identical results file; a finished run is reused; bad seeds are refused', async () => {
  process.env.WRAPLAB_QUIET = '1';
  const overrides = { train: { steps: 30, evalEvery: 10 }, evalSize: 64 };
  const a = await run(demoSort, { preset: 'smoke', seed: 3, overrides, out: tmp() });
  const b = await run(demoSort, { preset: 'smoke', seed: 3, overrides, out: tmp() });
  assert.equal(fs.readFileSync(a.resultsPath, 'utf8'), fs.readFileSync(b.resultsPath, 'utf8'));
  const c = await run(demoSort, { preset: 'smoke', seed: 4, overrides, out: tmp() });
  assert.notEqual(fs.readFileSync(c.resultsPath, 'utf8'), fs.readFileSync(a.resultsPath, 'utf8'));
  const again = await run(demoSort, { preset: 'smoke', seed: 3, overrides, out: path.dirname(a.resultsPath) });
  assert.equal(again.cached, true);
  assert.deepEqual(again.results, a.results);
  // The outcome is typed: results are DemoResults, config the resolved demo config.
  const acc: number = a.results.tokenAccuracy;
  assert.ok(acc >= 0 && acc <= 1);
  assert.equal(a.config.train.steps, 30);
  assert.ok(fs.existsSync(path.join(a.runDir, 'model.safetensors')));
  const rows = fs.readFileSync(path.join(a.runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(rows.some((r) => typeof r['acc.token'] === 'number' && typeof r['loss.eval'] === 'number'), 'evaluations are logged under the metric vocabulary');
  await assert.rejects(run(demoSort, { preset: 'smoke', seed: 2 ** 32 }), /--seed must be an integer in 0\.\.4294967295/);
  await assert.rejects(run(demoSort, { preset: 'huge' }), /unknown preset "huge"/);
});
