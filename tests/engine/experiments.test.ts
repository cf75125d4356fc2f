import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { applyOverrides, getExperiment, resolveConfig, runExperiment, UsageError } from '../../lib/experiments';
import { DemoResults } from '../../lib/experiments/demo';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-exp-'));

test('presets resolve and validate; overrides are checked against the schema', () => {
  const exp = getExperiment('demo-sort');
  for (const p of ['smoke', 'laptop', 'paper'] as const) assert.ok(resolveConfig(exp, p).train.steps > 0);
  const cfg = resolveConfig(exp, 'smoke', ['train.steps=7', 'model.norm=rmsnorm', 'train.optimizer.lr=0.5']);
  assert.equal(cfg.train.steps, 7);
  assert.equal(cfg.model.norm, 'rmsnorm');
  assert.equal(cfg.train.optimizer.lr, 0.5);
  assert.throws(() => resolveConfig(exp, 'smoke', ['model.bogus=1']), (e: Error) => e instanceof UsageError && /unknown config key "model.bogus"/.test(e.message));
  assert.throws(() => resolveConfig(exp, 'smoke', ['train.steps=-3']), /train.steps/);
  assert.throws(() => resolveConfig(exp, 'smoke', ['model.norm=batch']), /model.norm/);
  assert.throws(() => applyOverrides({}, ['novalue']), /key=value/);
  assert.throws(() => getExperiment('nope'), /unknown experiment "nope"/);
});

test('same seed -> byte-identical results file; a finished run is reused', async () => {
  process.env.WRAPLAB_QUIET = '1';
  const sets = ['train.steps=30', 'train.evalEvery=10', 'evalSize=64'];
  const a = await runExperiment<DemoResults>('demo-sort', { preset: 'smoke', seed: 3, sets, out: tmp() });
  const b = await runExperiment<DemoResults>('demo-sort', { preset: 'smoke', seed: 3, sets, out: tmp() });
  assert.equal(fs.readFileSync(a.resultsPath, 'utf8'), fs.readFileSync(b.resultsPath, 'utf8'));
  const c = await runExperiment<DemoResults>('demo-sort', { preset: 'smoke', seed: 4, sets, out: tmp() });
  assert.notEqual(fs.readFileSync(c.resultsPath, 'utf8'), fs.readFileSync(a.resultsPath, 'utf8'));
  const again = await runExperiment<DemoResults>('demo-sort', { preset: 'smoke', seed: 3, sets, out: path.dirname(a.resultsPath) });
  assert.equal(again.cached, true);
  assert.deepEqual(again.results, a.results);
  assert.ok(fs.existsSync(path.join(a.runDir, 'model.safetensors')));
  assert.ok(fs.readFileSync(path.join(a.runDir, 'metrics.jsonl'), 'utf8').split('\n').length > 3);
});
