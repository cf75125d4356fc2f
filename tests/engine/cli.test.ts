import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { projectRoot } from '../../lib/engine/runs';

const bin = path.join(projectRoot(), 'bin', 'wraplab.js');
const cli = (...args: string[]) => {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, WRAPLAB_QUIET: '1', WRAPLAB_DATA: fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-cli-')) } });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

test('wraplab --version prints the package version', () => {
  const r = cli('--version');
  assert.equal(r.code, 0);
  assert.equal(r.out.trim(), JSON.parse(fs.readFileSync(path.join(projectRoot(), 'package.json'), 'utf8')).version);
});

test('npm run jupyter: a front end, the notebooks folder, --allow-root as root, extra arguments appended', async () => {
  const { jupyterLaunchArgs } = await import('../../lib/jupyter');
  const nb = `--notebook-dir=${path.join('/r', 'notebooks')}`;
  assert.deepEqual(jupyterLaunchArgs([], { root: '/r', isRoot: false }), ['notebook', nb]);
  assert.deepEqual(jupyterLaunchArgs(['--port', '9999'], { root: '/r', isRoot: true }), ['notebook', nb, '--allow-root', '--port', '9999']);
  assert.deepEqual(jupyterLaunchArgs(['lab', '--no-browser'], { root: '/r', isRoot: false }), ['lab', nb, '--no-browser']);
  assert.deepEqual(jupyterLaunchArgs(['--notebook-dir=/x', '--allow-root'], { root: '/r', isRoot: true }), ['notebook', '--notebook-dir=/x', '--allow-root']);
});

test('wraplab list shows experiments and presets', () => {
  const r = cli('list');
  assert.equal(r.code, 0);
  assert.match(r.out, /demo-sort/);
  assert.match(r.out, /smoke, laptop, paper/);
});

test('bad input exits non-zero with one clear message', () => {
  const cases: [string[], RegExp][] = [
    [['run', 'nope'], /unknown experiment "nope"/],
    [['run', 'demo-sort', '--preset', 'huge'], /unknown preset "huge"/],
    [['run', 'demo-sort', '--preset', 'smoke', '--set', 'model.bogus=1'], /unknown config key "model.bogus"/],
    [['run', 'demo-sort', '--preset', 'smoke', '--set', 'train.steps=abc'], /train.steps/],
    [["run", "demo-sort", "--seed", "x"], /--seed must be an integer in 0..4294967295/],
    [['figures', '--only', 'no-such-figure', '--no-images'], /no figure set matches/],
    [['frobnicate'], /unknown command/],
  ];
  for (const [args, pattern] of cases) {
    const r = cli(...args);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.match(r.err, pattern, args.join(' '));
    assert.ok(r.err.trim().split('\n').length <= 3, `one clear message for ${args.join(' ')}: ${r.err}`);
  }
});

test('wraplab run prints the results path of a finished run', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-cli-run-'));
  const r = cli('run', 'demo-sort', '--preset', 'smoke', '--set', 'train.steps=5', '--set', 'evalSize=16', '--out', out);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.trim(), path.join(out, 'results.json'));
  const results = JSON.parse(fs.readFileSync(r.out.trim(), 'utf8'));
  assert.equal(results.experiment, 'demo-sort');
  assert.equal(typeof results.results.tokenAccuracy, 'number');
});

test('wraplab models lists the four HuggingFace families and refuses an unknown bench shape', () => {
  const r = cli('models');
  assert.equal(r.code, 0);
  for (const f of ['gpt2', 'gpt_neo', 'gpt_neox', 'llama']) assert.match(r.out, new RegExp(`^  ${f} `, 'm'));
  assert.match(r.out, /pickles are refused/);
  const j = cli('models', '--json');
  assert.deepEqual(JSON.parse(j.out).map((f: { modelType: string }) => f.modelType), ['gpt2', 'gpt_neo', 'gpt_neox', 'llama']);
  const bad = cli('models', '--bench', '--shapes', 'gpt5');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--shapes: unknown gpt5; known: gpt2, pythia-70m, TinyStories-33M, SmolLM-135M/);
  const badMode = cli('models', '--bench', '--memory', 'plain,tiny');
  assert.equal(badMode.code, 2);
  assert.match(badMode.err, /--memory: unknown mode tiny; use a comma-separated list of plain, host, checkpoint, lean/);
});

test('wraplab tokenizers compares the word tokenizer and the BPE on a corpus and refuses a bad --vocab', () => {
  const r = cli('tokenizers', '--preset', 'smoke', '--vocab', '600', '--json');
  assert.equal(r.code, 0, r.err);
  const rows = JSON.parse(r.out) as { corpus: string; tokenizer: string; vocabSize: number; tokensPerWord: number; spelledRate: number }[];
  assert.deepEqual(rows.map((x) => [x.corpus, x.tokenizer]), [['procedural', 'word'], ['procedural', 'bpe']]);
  assert.equal(rows[1].vocabSize, 600);
  assert.ok(rows.every((x) => x.tokensPerWord >= 1 && x.spelledRate >= 0 && x.spelledRate <= 1));
  const bad = cli('tokenizers', '--vocab', 'x');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--vocab must be a positive integer, got "x"/);
});

test('wraplab figures --seeds: a positive count, and not beside --seed (one message each, nothing run)', () => {
  const bad = cli('figures', '--seeds', '0', '--no-images');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--seeds must be a positive integer, got "0"/);
  const both = cli('figures', '--seeds', '2', '--seed', '3', '--no-images');
  assert.equal(both.code, 2);
  assert.match(both.err, /give --seed or --seeds, not both/);
});
