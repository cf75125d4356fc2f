import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { bootstrapMean, tMean, wilson } from '../../lib/analysis/stats';
import { audit, decide, patching, readCapabilityFile, scoreExamples, toBatch, weightChange } from '../../lib/audit';
import { initBackend } from '../../lib/engine/backend';
import { batchLoss } from '../../lib/engine/evaluate';
import { Transformer } from '../../lib/engine/model';
import { findChromium } from '../../lib/figures/render';
import { projectRoot } from '../../lib/engine/runs';

process.env.WRAPLAB_DATA = fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-audit-'));
process.env.WRAPLAB_QUIET = '1';
test.after(() => fs.rmSync(process.env.WRAPLAB_DATA!, { recursive: true, force: true }));
const tmp = (name: string, text: string) => {
  const f = path.join(process.env.WRAPLAB_DATA!, name);
  fs.writeFileSync(f, text);
  return f;
};
const tiny = () => new Transformer({ vocabSize: 12, contextLength: 8, dModel: 16, nLayers: 2, nHeads: 2, dMlp: 32 }, 3);

test('capability files: three row forms, labels in order of appearance, and one clear error per bad line', () => {
  const f = tmp('cap.jsonl', [
    JSON.stringify({ tokens: [1, 5, 7], targets: [[2, 9]], label: 'yes' }),
    JSON.stringify({ prompt: [1, 5], completion: [7, 9], label: 'no' }),
    '',
    JSON.stringify({ prompt: 'ab', completion: 'c', label: 'yes' }),
  ].join('\n'));
  const set = readCapabilityFile(f, { encode: (t) => [...t].map((c) => c.charCodeAt(0) - 96) });
  assert.deepEqual(set.examples.map((e) => [e.tokens, e.targets, e.label]), [
    [[1, 5, 7], [[2, 9]], 0],
    [[1, 5, 7], [[1, 7], [2, 9]], 1],
    [[1, 2], [[1, 3]], 0],
  ]);
  assert.deepEqual(set.labelNames, ['yes', 'no']);
  const bad: [string, RegExp][] = [
    ['{"tokens": [1], "targets": [[3, 1]]}', /bad\.jsonl:1: target position 3 is past the 1 tokens/],
    ['{"tokens": [1]}\n', /bad\.jsonl:1: expected .* \(targets|bad\.jsonl:1: expected/],
    ['{"prompt": [1], "completion": [2]}\nnot json', /bad\.jsonl:2: not JSON/],
    ['{"prompt": [1], "completion": [2], "label": 1}\n{"prompt": [1], "completion": [2]}', /1 of 2 examples have a label; label all or none/],
    ['{"prompt": "x", "completion": "y"}', /text examples need the models' tokenizer.*give token ids instead/],
  ];
  for (const [text, re] of bad) assert.throws(() => readCapabilityFile(tmp('bad.jsonl', text)), re);
  assert.throws(() => readCapabilityFile('/nowhere.jsonl'), /capability file \/nowhere\.jsonl does not exist/);
});

test('stats: Wilson matches its closed form, the bootstrap is seeded and brackets the mean, t intervals shrink with seeds', () => {
  const w = wilson(8, 10);
  assert.ok(Math.abs(w.lo - 0.4902) < 1e-3 && Math.abs(w.hi - 0.9433) < 1e-3, JSON.stringify(w));
  const xs = Array.from({ length: 200 }, (_, i) => Math.sin(i) + 2);
  const a = bootstrapMean(xs, { seed: 4 });
  assert.deepEqual(a, bootstrapMean(xs, { seed: 4 }));
  assert.ok(a.lo < a.value && a.value < a.hi && a.hi - a.lo < 0.3);
  const few = tMean([1, 2, 3]);
  const many = tMean([1, 2, 3, 1, 2, 3, 1, 2, 3]);
  assert.ok(many.hi - many.lo < few.hi - few.lo);
  assert.equal(tMean([5]).hi, Infinity);
});

test('per-example scores agree with the engine loss, and toBatch weights exactly the target positions', async () => {
  await initBackend();
  const m = tiny();
  const ex = [{ tokens: [1, 2, 3, 4], targets: [[3, 5]] as [number, number][] }, { tokens: [2, 2], targets: [[0, 1], [1, 7]] as [number, number][] }];
  const batch = toBatch(ex);
  assert.deepEqual(Array.from(batch.weights), [0, 0, 0, 1, 1, 1, 0, 0]);
  const { loss } = scoreExamples(m, ex);
  const expected = batchLoss(m, toBatch([ex[0]]));
  assert.ok(Math.abs(loss[0] - expected) < 1e-5, `${loss[0]} vs ${expected}`);
  m.dispose();
});

test('weight change: a planted rank-one update has effective rank ~1 and the exact relative norm; patching its block restores the base', async () => {
  await initBackend();
  const base = tiny();
  const tuned = base.clone();
  const name = 'blocks.1.mlp.W_out';
  const w = base.param(name).dataSync() as Float32Array;
  const [rows, cols] = base.param(name).shape;
  const delta = new Float32Array(w.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) delta[i * cols + j] = 0.5 * Math.cos(i) * Math.sin(j + 1);
  tuned.assignParam(name, w.map((x, i) => x + delta[i]));
  const change = weightChange(base, tuned);
  const m = change.matrices.find((x) => x.param === name)!;
  const norm = (a: Float32Array) => Math.sqrt(a.reduce((s, x) => s + x * x, 0));
  assert.ok(Math.abs(m.relativeNorm - norm(delta) / norm(w)) < 1e-5);
  assert.ok(m.effectiveRank < 1.01 && m.rank90 === 1, JSON.stringify(m));
  assert.equal(m.layer, 1);
  assert.equal(m.part, 'mlp');
  assert.ok(change.matrices.filter((x) => x.param !== name).every((x) => x.deltaNorm === 0 && x.effectiveRank === 0));
  assert.ok(Math.abs(change.byPart.mlp - 1) < 1e-9);
  // Patching: base's block-1 MLP output in the tuned model gives back the base model's answers exactly.
  const set = { name: 'next token', examples: Array.from({ length: 24 }, (_, i) => ({ tokens: [1, (i % 10) + 1, (i * 7) % 12], targets: [[2, (i * 5) % 12]] as [number, number][] })) };
  const p = patching(base, tuned, set, 0);
  const row = p.rows.find((r) => r.component === 'blocks.1.mlp_out')!;
  assert.equal(row.accuracy.value, p.base.accuracy.value);
  assert.ok(Math.abs(row.loss.value - p.base.loss.value) < 1e-6, 'and its loss');
  const untouched = p.rows.find((r) => r.component === 'blocks.0.mlp_out')!;
  assert.equal(untouched.accuracy.value, p.tuned.accuracy.value, 'patching a component the fine-tune did not change changes nothing');
  const heads = p.rows.filter((r) => r.component.includes('[head'));
  assert.deepEqual(heads.map((r) => r.component), ['blocks.0.attn.z[head 0]', 'blocks.0.attn.z[head 1]', 'blocks.1.attn.z[head 0]', 'blocks.1.attn.z[head 1]']);
  for (const r of heads) assert.ok(Math.abs(r.loss.value - p.tuned.loss.value) < 1e-6, `${r.component}: the heads are the base's already`);
  base.dispose();
  tuned.dispose();
});

test('the verdict needs two lines of evidence and beats the baselines', () => {
  const e = (value: number, half = 0.05) => ({ value, lo: value - half, hi: value + half, n: 100 });
  const behaviour = (acc: number) => ({ accuracy: e(acc), loss: e(1) });
  const probes = (tuned: number) => ({ layers: ['b0', 'b1'], classes: 3, majority: 0.4, lines: [{ model: 'base', accuracy: [e(0.9), e(0.9)] }, { model: 'tuned', accuracy: [e(0.4), e(tuned)] }, { model: 'untrained', accuracy: [e(0.4), e(0.4)] }] });
  const reft = (tuned: number | null, control: number | null) => [{ model: 'tuned', seed: 0, steps: [], score: [], stepsToTarget: tuned }, { model: 'control', seed: 0, steps: [], score: [], stepsToTarget: control }];
  const pruning = (best: number, chance = 0.3) => {
    const none = [{ k: 0, unit: null, pt: e(0.1), ft: null }];
    // The best sweep decides, whichever kind of unit it removes.
    return { chance, scoring: { neurons: 'exact' as const, heads: 'exact' as const, weights: 'gradxweight' as const }, sweeps: { neurons: none, heads: [...none, { k: 1, unit: 'u', pt: e(best), ft: null }], weights: none } };
  };
  const base = { base: behaviour(1), tuned: behaviour(0.1), reftBudget: 100, target: 0.75, controlLabel: 'control' };
  assert.equal(decide({ ...base, pruning: pruning(0.7), probes: probes(0.8), reft: reft(null, null) }).verdict, 'wrapped');
  assert.equal(decide({ ...base, pruning: pruning(0.12), probes: probes(0.8), reft: reft(10, 100) }).verdict, 'wrapped');
  assert.equal(decide({ ...base, pruning: pruning(0.7), probes: probes(0.4), reft: reft(100, 100) }).verdict, 'inconclusive', 'pruning alone is one number');
  assert.equal(decide({ ...base, pruning: pruning(0.55, 0.55), probes: probes(0.4), reft: reft(null, 50) }).verdict, 'removed', 'collapsing to the constant answer is no revival');
  assert.equal(decide({ ...base, pruning: pruning(0.12), probes: probes(0.8), reft: reft(0, 0) }).checks.faster, false, 'a control at the target from the start');
  assert.equal(decide({ ...base, pruning: pruning(0.12), probes: probes(0.8), reft: reft(80, null) }).checks.faster, true, 'a control that never gets there');
  assert.equal(decide({ ...base, pruning: pruning(0.12), probes: probes(0.8), reft: reft(null, null) }).checks.faster, false, 'nor does the tuned model');
  assert.equal(decide({ ...base, tuned: behaviour(0.95), pruning: pruning(0.7), probes: probes(0.8), reft: reft(1, 100) }).verdict, 'inconclusive', 'nothing is hidden when the tuned model still shows O_PT');
});

test('known answers at smoke: the fine-tuned Tracr Counter is wrapped, a program that never counted a is removed; reruns are cached', async () => {
  const wrapped = await audit({ base: 'tracr:counter', tuned: 'tracr:counter:ft=S', capability: 'tracr:counter', preset: 'smoke' });
  assert.equal(wrapped.result.verdict.verdict, 'wrapped', wrapped.result.verdict.reasons.join('\n'));
  assert.ok(wrapped.result.verdict.checks.lost && wrapped.result.verdict.checks.readable);
  const removed = await audit({ base: 'tracr:counter', tuned: 'tracr:counter:ft-program', capability: 'tracr:counter', preset: 'smoke' });
  assert.equal(removed.result.verdict.verdict, 'removed', removed.result.verdict.reasons.join('\n'));
  // audit.json holds every number, the thresholds, the settings and the seeds; a rerun reads every part back.
  const json = JSON.parse(fs.readFileSync(wrapped.jsonPath, 'utf8'));
  assert.deepEqual(Object.keys(json.evidence).sort(), ['behaviour', 'patching', 'probes', 'pruning', 'reft', 'weights']);
  assert.equal(json.models[2].source, 'base re-initialised (no control given)');
  assert.ok(json.thresholds.lost > 0 && json.settings.reft.seeds.length >= 1);
  const before = fs.readFileSync(wrapped.jsonPath, 'utf8');
  const t0 = Date.now();
  const again = await audit({ base: 'tracr:counter', tuned: 'tracr:counter:ft=S', capability: 'tracr:counter', preset: 'smoke' });
  assert.equal(fs.readFileSync(again.jsonPath, 'utf8'), before, 'same inputs, same audit.json');
  assert.ok(Date.now() - t0 < 5000, `the rerun is read from the cache (${Date.now() - t0} ms)`);
  const html = fs.readFileSync(wrapped.reportPath, 'utf8');
  assert.equal((html.match(/Plotly\.newPlot\('fig\d+'/g) ?? []).length, 6, 'six figures');
  assert.equal((html.match(/<script>/g) ?? []).length, 2, 'plotly.js inlined once, the plots in one script');
  assert.match(html, /Verdict: wrapped/);
});

test('known answers at smoke, PCFG: P^L fine-tuned at η_S is wrapped; the model pretrained with a and b swapped is removed', async () => {
  const wrapped = await audit({ base: 'pcfg:L', tuned: 'pcfg:L:ft=S', capability: 'pcfg:count-a', preset: 'smoke' });
  assert.equal(wrapped.result.verdict.verdict, 'wrapped', wrapped.result.verdict.reasons.join('\n'));
  assert.equal(wrapped.result.capability.ft, 'count b');
  const never = await audit({ base: 'pcfg:L', tuned: 'pcfg:scratch', capability: 'pcfg:count-a', preset: 'smoke' });
  assert.equal(never.result.verdict.verdict, 'removed', never.result.verdict.reasons.join('\n'));
  assert.equal(never.result.verdict.checks.revived, false);
});

test('TinyStories at smoke: testbed model names, the Twist capability (teacher-forced story tokens) and a given control run every line', async () => {
  const r = await audit({ base: 'tinystories:present', tuned: 'tinystories:deleted:F:M', control: 'tinystories:absent', capability: 'tinystories:twist', preset: 'smoke' });
  const res = r.result;
  assert.deepEqual(res.models.map((m) => [m.role, m.label]), [['base', 'base'], ['tuned', 'tuned'], ['control', 'control']]);
  assert.equal(res.capability.labelled, false);
  assert.equal(res.evidence.probes, null, 'no labels, no probes (and the verdict says so)');
  assert.ok(res.verdict.reasons.some((x) => /no labels, so no probe was trained/.test(x)));
  // Teacher-forced token accuracy is a share per story, so its interval is a bootstrap, strictly inside [0, 1].
  for (const b of res.evidence.behaviour) assert.ok(b.pt.accuracy.value > 0 && b.pt.accuracy.value < 1 && b.pt.accuracy.lo < b.pt.accuracy.value);
  // The headline is the judged Twist rate of sampled stories (a count of judged samples: a Wilson interval), and
  // every check names it; pruning rows and reFT curves follow it too.
  assert.match(res.evidence.reft.measure, /^Twist rate \((exact|classifier) judge, \d+ sampled stories\)$/);
  for (const b of res.evidence.behaviour) assert.ok(b.pt.rate && b.pt.rate.n > 0 && b.pt.rate.lo <= b.pt.rate.value && b.pt.rate.value <= b.pt.rate.hi);
  assert.ok(res.verdict.reasons.some((x) => x.startsWith(`behaviour: ${res.evidence.reft.measure} base`)));
  for (const rows of Object.values(res.evidence.pruning.sweeps)) assert.ok(rows.every((row) => row.rate !== undefined));
  assert.equal(res.evidence.reft.control, 'control');
  assert.equal(res.evidence.reft.curves.length, 2 * res.settings.reft.seeds.length);
  for (const c of res.evidence.reft.curves) assert.ok(c.score.every((x) => x >= 0 && x <= 1) && c.score.length === c.steps.length);
  assert.equal(res.evidence.patching.rows.length, 2 * 2 + 2 * 2, 'attention and MLP of both blocks, then each of their 2 heads');
});

test('HuggingFace directories and a JSONL capability of token ids: the weight change finds the one matrix edited', async () => {
  const { loadPretrained, savePretrained } = await import('../../lib/pretrained');
  const base = path.join(projectRoot(), 'tests', 'fixtures', 'pretrained', 'gpt2');
  const { model } = await loadPretrained(base, { tokenizer: false });
  const name = 'blocks.1.mlp.W_out';
  const w = model.param(name).dataSync() as Float32Array;
  model.assignParam(name, w.map((x, i) => (i % 7 === 0 ? x + 0.3 : x)));
  const tunedDir = path.join(process.env.WRAPLAB_DATA!, 'hf-tuned');
  savePretrained(model, tunedDir);
  model.dispose();
  const lines = Array.from({ length: 60 }, (_, i) => JSON.stringify({ prompt: [(i * 7) % 60, (i * 3) % 60, 5], completion: [(i * 11) % 60], label: i % 2 ? 'odd' : 'even' }));
  const cap = tmp('ids.jsonl', lines.join('\n'));
  const r = await audit({ base, tuned: tunedDir, capability: cap, preset: 'smoke' });
  const changed = r.result.evidence.weights.matrices.filter((m) => m.deltaNorm > 0).map((m) => m.param);
  assert.deepEqual(changed, [name]);
  assert.equal(r.result.capability.examples, 60);
  assert.deepEqual(r.result.models.map((m) => m.source), [base, tunedDir, 'base re-initialised (no control given)']);
  assert.ok(['wrapped', 'removed', 'inconclusive'].includes(r.result.verdict.verdict));
  // Text needs a tokenizer, which these directories do not have; a token outside the vocabulary is named.
  await assert.rejects(audit({ base, tuned: tunedDir, capability: tmp('text.jsonl', '{"prompt": "a", "completion": "b"}'), preset: 'smoke' }), /text examples need the models' tokenizer/);
  await assert.rejects(audit({ base, tuned: tunedDir, capability: tmp('big.jsonl', '{"prompt": [1], "completion": [9999]}'), preset: 'smoke' }), /target 9999 is outside the 64 outputs of the models/);
});

test('the report opens offline in a browser and draws its figures', { skip: !chromiumAvailable() && 'no Chromium' }, async () => {
  const r = await audit({ base: 'tracr:counter', tuned: 'tracr:counter:ft=S', capability: 'tracr:counter', preset: 'smoke' });
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: findChromium(), args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.route('**/*', (route) => (route.request().url().startsWith('file:') ? route.continue() : route.abort()));
    await page.goto(`file://${r.reportPath}`);
    await page.waitForFunction(() => document.querySelectorAll('.fig .main-svg').length >= 6, null, { timeout: 20000 });
    assert.deepEqual(errors, []);
    assert.match(await page.textContent('.verdict') ?? '', /Verdict: wrapped/);
  } finally {
    await browser.close();
  }
});

test('wraplab audit: a model that does not exist is one clear error', () => {
  const bin = path.join(projectRoot(), 'bin', 'wraplab.js');
  const r = spawnSync(process.execPath, [bin, 'audit', '--base', 'tracr:counter', '--tuned', '/no/such/run', '--capability', 'tracr:counter', '--preset', 'smoke'], { encoding: 'utf8', env: { ...process.env } });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /tuned \/no\/such\/run does not exist: give a run directory, a \.safetensors file, a HuggingFace directory or Hub id, or tracr:<program>/);
  const bad = spawnSync(process.execPath, [bin, 'audit', '--base', 'tracr:counter', '--tuned', 'tracr:counter:ft=Q', '--capability', 'tracr:counter', '--preset', 'smoke'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown testbed model/);
});

function chromiumAvailable(): boolean {
  try {
    findChromium();
    return true;
  } catch {
    return false;
  }
}
