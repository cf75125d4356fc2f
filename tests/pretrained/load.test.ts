import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Rng } from '../../lib/engine/rng';
import { actName } from '../../lib/engine/model';
import { probeTokenLabels } from '../../lib/analysis/probe';
import { loadPretrained, writeRandomCheckpoint, PretrainedLoadError, FAMILIES } from '../../lib/pretrained';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-load-'));

test('loadPretrained on a local folder: model, tokenizer and config for every family; a missing path is named', async () => {
  for (const f of FAMILIES) {
    const dir = writeRandomCheckpoint(path.join(tmp(), f.modelType), { family: f.modelType as never, seed: 1 });
    const { model, tokenizer, config, family } = await loadPretrained(dir);
    assert.equal(family, f.modelType);
    assert.equal(config.model_type, f.modelType);
    const text = 'Once upon a time, "Lily" said: héllo 🙂';
    assert.equal(tokenizer!.decode(tokenizer!.encode(text)), text);
    assert.equal(tokenizer!.eosTokenId, 256);
    assert.ok(tokenizer!.encode(text).every((t) => t < model.config.vocabSize));
    model.dispose();
  }
  await assert.rejects(loadPretrained('./no/such/model'), (e: Error) => e instanceof PretrainedLoadError && /does not exist: give a local model directory or a Hub id/.test(e.message));
});

test('writeRandomCheckpoint reuses an existing demo folder for the same seed and rewrites it for another', () => {
  const dir = path.join(tmp(), 'demo');
  writeRandomCheckpoint(dir, { seed: 1 });
  const first = fs.readFileSync(path.join(dir, 'model.safetensors'));
  const mtime = fs.statSync(path.join(dir, 'model.safetensors')).mtimeMs;
  writeRandomCheckpoint(dir, { seed: 1 });
  assert.equal(fs.statSync(path.join(dir, 'model.safetensors')).mtimeMs, mtime);
  writeRandomCheckpoint(dir, { seed: 2 });
  assert.notDeepEqual(fs.readFileSync(path.join(dir, 'model.safetensors')), first);
});

test('probeTokenLabels finds a planted token feature and not a coin flip, each beside its majority baseline', async () => {
  const { model } = await loadPretrained(writeRandomCheckpoint(path.join(tmp(), 'p'), { seed: 0 }));
  const rng = new Rng(3);
  const seqs = Array.from({ length: 40 }, () => Array.from({ length: 24 }, () => (rng.next() < 0.3 ? 32 : rng.int(97, 123))));
  const space = seqs.map((s) => s.map((t) => (t === 32 ? 1 : 0)));
  const coin = seqs.map((s) => s.map(() => (rng.next() < 0.5 ? 1 : 0)));
  const names = [actName('resid_post', 0), actName('resid_post', 1)];
  const planted = probeTokenLabels(model, seqs, space, { names, classes: 2, seed: 0, steps: 400 });
  const nullRows = probeTokenLabels(model, seqs, coin, { names, classes: 2, seed: 0, steps: 400 });
  for (const r of planted) {
    assert.ok(r.testAccuracy > 0.97 && r.testAccuracy > r.majority + 0.2, JSON.stringify(r));
    assert.equal(r.n, 10 * 24);
  }
  for (const r of nullRows) assert.ok(r.testAccuracy < 0.62, `a coin flip is not readable: ${JSON.stringify(r)}`);
  model.dispose();
});
