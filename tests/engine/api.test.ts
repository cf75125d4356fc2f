/** The public API: namespaces only, and importing it does nothing (no backend, no kernels, no files). */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const lib = path.join(__dirname, '..', '..', 'lib', 'index.js');

test('importing wraplab does no work: no backend chosen, no kernel registered, nothing written', () => {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-import-'));
  const script = `
    const tf = require('@tensorflow/tfjs');
    const wl = require(${JSON.stringify(lib)});
    const kinds = Object.fromEntries(Object.entries(wl).map(([k, v]) => [k, typeof v]));
    console.log(JSON.stringify({
      kinds,
      backend: tf.engine().backendInstance ?? null,
      wasmKernel: !!tf.getKernel('WraplabAdamW', 'wasm'),
      experiments: wl.experiments.EXPERIMENTS.length,
    }));`;
  const r = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, WRAPLAB_DATA: data }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.deepEqual(Object.keys(out.kinds).sort(), ['analysis', 'audit', 'engine', 'experiments', 'figures', 'notebook', 'pcfg', 'pretrained', 'studies', 'sweep', 'tinystories', 'toy', 'tracr']);
  assert.ok(Object.values(out.kinds).every((k) => k === 'object'), 'every top-level export is a namespace');
  assert.equal(out.backend, null, 'no backend initialised at import');
  assert.equal(out.wasmKernel, false, 'no kernel registered at import');
  assert.ok(out.experiments >= 12, 'the catalog lists the experiments without running anything');
  assert.deepEqual(fs.readdirSync(data), [], 'nothing written at import');
  assert.equal(r.stderr, '', 'nothing printed at import');
});

test('namespaces hold the public names, not the internals', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const wl = require(lib);
  for (const internal of ['writeFileAtomic', 'writeJsonAtomic', 'canonicalJson', 'heartbeatLocks', 'fusedAdamW', 'registerWasmTrainingKernels']) {
    assert.ok(!(internal in wl.engine), `engine does not export ${internal}`);
  }
  for (const name of ['Transformer', 'ActivationCache', 'KVCache', 'actName', 'paramName', 'generate', 'train', 'initBackend']) assert.ok(name in wl.engine, name);
  for (const name of ['run', 'resolveConfig', 'defineExperiment', 'defineStage', 'spec']) assert.ok(name in wl.experiments, name);
  for (const name of ['load', 'finetune', 'pretrain', 'reft', 'prune', 'probe', 'makeExample']) assert.ok(name in wl.pcfg, name);
  for (const name of ['load', 'task', 'compile', 'finetune', 'prune', 'reft']) assert.ok(name in wl.tracr, name);
  for (const name of ['load', 'reft', 'probe', 'tinyStoriesData']) assert.ok(name in wl.tinystories, name);
  for (const name of ['runStudy', 'runStudies', 'pcfg', 'tracr', 'tinystories', 'engine']) assert.ok(name in wl.studies, name);
  for (const name of ['showFigure', 'generateFigures', 'pcfg', 'tracr']) assert.ok(name in wl.figures, name);
  for (const name of ['loadPretrained', 'savePretrained', 'loadCheckpointDir', 'loadTokenizer', 'downloadModel', 'FAMILIES']) assert.ok(name in wl.pretrained, name);
  for (const name of ['audit', 'readCapabilityFile', 'decide', 'AUDIT_THRESHOLDS', 'weightChange']) assert.ok(name in wl.audit, name);
});
