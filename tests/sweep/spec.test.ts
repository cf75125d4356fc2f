import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { run } from '../../lib/experiments';
import { demoSort } from '../../lib/experiments/demo';
import { expandSweep, loadSweepSpec, parseGridFlag, parseSeeds, parseSweepSpec, planSweep, planTasks, specFromCli } from '../../lib/sweep';
import { wasmThreadsPerWorker } from '../../lib/sweep/pool';
import { jobScript } from '../../lib/sweep/slurm';

process.env.WRAPLAB_DATA = fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-sweep-spec-'));
process.env.WRAPLAB_QUIET = '1';

test('a spec expands to list x grid x seeds, one overrides object per task (fixed sets, list, grid), seed innermost', () => {
  const spec = parseSweepSpec(
    { experiment: 'demo-sort', preset: 'smoke', seeds: [3, 4], grid: { 'train.optimizer.lr': [0.001, 0.003], 'model.norm': ['rmsnorm'] }, list: [['evalSize=16'], ['evalSize=32']], sets: ['train.steps=5'] },
    'lr',
  );
  assert.equal(spec.name, 'lr');
  const tasks = expandSweep(spec);
  assert.equal(tasks.length, 2 * 2 * 2);
  const cell = (evalSize: number, lr: number) => ({ train: { steps: 5, optimizer: { lr } }, evalSize, model: { norm: 'rmsnorm' } });
  assert.deepEqual(
    tasks.map((t) => [t.index, t.seed, t.overrides]),
    [
      [0, 3, cell(16, 0.001)],
      [1, 4, cell(16, 0.001)],
      [2, 3, cell(16, 0.003)],
      [3, 4, cell(16, 0.003)],
      [4, 3, cell(32, 0.001)],
      [5, 4, cell(32, 0.001)],
      [6, 3, cell(32, 0.003)],
      [7, 4, cell(32, 0.003)],
    ],
  );
  assert.deepEqual(tasks[7].varying, { evalSize: 32, 'train.optimizer.lr': 0.003, 'model.norm': 'rmsnorm' });
  // A grid value may be an object or an array: it goes into the overrides as a value, never as text.
  const objects = expandSweep(parseSweepSpec({ experiment: 'pcfg-finetune', preset: 'smoke', grid: { 'pretrain.data.prior': [[0.5, 0.5, 0], 'M'] } }));
  assert.deepEqual(objects.map((t) => t.overrides), [{ pretrain: { data: { prior: [0.5, 0.5, 0] } } }, { pretrain: { data: { prior: 'M' } } }]);
});

test('defaults: seed 0, no grid, name from the experiment', () => {
  const spec = parseSweepSpec({ experiment: 'demo-sort', preset: 'smoke' });
  assert.equal(spec.name, 'demo-sort');
  assert.deepEqual(expandSweep(spec).map((t) => [t.seed, t.overrides]), [[0, {}]]);
});

test('bad specs fail with a message naming the problem', () => {
  const cases: [unknown, RegExp][] = [
    [{ experiment: 'nope', preset: 'smoke' }, /unknown experiment "nope"/],
    [{ experiment: 'demo-sort', preset: 'huge' }, /preset/],
    [{ experiment: 'demo-sort', preset: 'smoke', seeds: [-1] }, /seeds\.0/],
    [{ experiment: 'demo-sort', preset: 'smoke', seeds: [] }, /seeds/],
    [{ experiment: 'demo-sort', preset: 'smoke', grid: { 'train.steps': [] } }, /grid\.train\.steps: a grid key needs at least one value/],
    [{ experiment: 'demo-sort', preset: 'smoke', sets: ['noequals'] }, /sets\.0: an override is "key\.path=value"/],
    [{ experiment: 'demo-sort', preset: 'smoke', seed: 1 }, /Unrecognized key.*seed/],
    [{ experiment: 'demo-sort', preset: 'smoke', name: '../x' }, /name/],
  ];
  for (const [raw, pattern] of cases) assert.throws(() => parseSweepSpec(raw), pattern, JSON.stringify(raw));
});

test('a bad override is caught when planning, naming the task, before anything runs', () => {
  const spec = parseSweepSpec({ experiment: 'demo-sort', preset: 'smoke', grid: { 'model.bogus': [1] } });
  assert.throws(() => planSweep(spec), /unknown config key "model\.bogus"/);
  const wrongType = parseSweepSpec({ experiment: 'demo-sort', preset: 'smoke', grid: { 'train.steps': ['abc'] } });
  assert.throws(() => planSweep(wrongType), /train\.steps/);
});

test('spec files: JSON errors and missing files are clear; the file name names the sweep', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-spec-'));
  fs.writeFileSync(path.join(dir, 'bad.json'), '{"experiment": ');
  assert.throws(() => loadSweepSpec(path.join(dir, 'bad.json')), /not valid JSON/);
  assert.throws(() => loadSweepSpec(path.join(dir, 'none.json')), /does not exist/);
  fs.writeFileSync(path.join(dir, 'my-sweep.json'), JSON.stringify({ experiment: 'demo-sort', preset: 'smoke', seeds: [1] }));
  const spec = specFromCli(path.join(dir, 'my-sweep.json'), { seeds: '0-2', grid: ['evalSize=16,32'], set: ['train.steps=3'] });
  assert.equal(spec.name, 'my-sweep');
  assert.deepEqual(spec.seeds, [0, 1, 2]);
  assert.deepEqual(spec.grid, { evalSize: [16, 32] });
  assert.deepEqual(spec.sets, ['train.steps=3']);
  assert.throws(() => specFromCli(undefined, {}), /--experiment/);
});

test('flag parsers', () => {
  assert.deepEqual(parseSeeds('0-2,7'), [0, 1, 2, 7]);
  assert.throws(() => parseSeeds('a'), /--seeds/);
  assert.throws(() => parseSeeds('3-1'), /empty/);
  assert.deepEqual(parseGridFlag('model.norm=rmsnorm,layernorm'), ['model.norm', ['rmsnorm', 'layernorm']]);
  assert.deepEqual(parseGridFlag('train.optimizer.lr=1e-3,0.01'), ['train.optimizer.lr', [0.001, 0.01]]);
  assert.throws(() => parseGridFlag('x'), /--grid/);
});

test('a planned task points at the run directory run() uses', async () => {
  const overrides = { train: { steps: 2 }, evalSize: 8 };
  const [task] = planTasks([{ index: 0, experiment: 'demo-sort', preset: 'smoke', seed: 5, overrides, varying: {} }]);
  const outcome = await run(demoSort, { preset: 'smoke', seed: 5, overrides });
  assert.equal(task.runDir, outcome.runDir);
  const [other] = planTasks([{ index: 0, experiment: 'demo-sort', preset: 'smoke', seed: 6, overrides, varying: {} }]);
  assert.notEqual(other.hash, task.hash);
});

test('the Slurm job script runs one task per array index in the shared run cache', () => {
  const plan = planSweep(parseSweepSpec({ experiment: 'demo-sort', preset: 'smoke', name: 'script-test', seeds: [0, 1, 2] }));
  const script = jobScript(plan, '/x/tasks.json', 3, { partition: 'gpu', time: '1:00:00', gpus: '1', cpusPerTask: 4, maxParallel: 2, extra: ['--account=lab'] });
  assert.match(script, /^#!\/bin\/bash\n/);
  for (const line of ["#SBATCH --job-name=wraplab-script-test", '#SBATCH --array=0-2%2', '#SBATCH --partition=gpu', '#SBATCH --time=1:00:00', '#SBATCH --gpus=1', '#SBATCH --cpus-per-task=4', '#SBATCH --account=lab']) {
    assert.ok(script.includes(line + '\n'), line);
  }
  assert.match(script, new RegExp(`export WRAPLAB_DATA='${process.env.WRAPLAB_DATA}'`));
  assert.match(script, /export WRAPLAB_BACKEND='tensorflow'/); // GPUs -> tfjs-node-gpu
  assert.match(script, /'\/x\/tasks\.json' "\$SLURM_ARRAY_TASK_ID" --log/);
  assert.doesNotMatch(jobScript(plan, '/x/tasks.json', 3, {}), /WRAPLAB_BACKEND/);
  assert.match(script, /export WRAPLAB_WASM_THREADS="\$\{WRAPLAB_WASM_THREADS:-\$\{SLURM_CPUS_PER_TASK:-1\}\}"/);
});

test('workers split the cores between them (wasm threads), unless WRAPLAB_WASM_THREADS says otherwise', () => {
  const saved = process.env.WRAPLAB_WASM_THREADS;
  try {
    delete process.env.WRAPLAB_WASM_THREADS;
    const cores = os.cpus().length;
    assert.equal(wasmThreadsPerWorker(1), String(cores));
    assert.equal(wasmThreadsPerWorker(cores), '1');
    assert.equal(wasmThreadsPerWorker(4 * cores), '1');
    process.env.WRAPLAB_WASM_THREADS = '3';
    assert.equal(wasmThreadsPerWorker(2), '3');
  } finally {
    if (saved === undefined) delete process.env.WRAPLAB_WASM_THREADS;
    else process.env.WRAPLAB_WASM_THREADS = saved;
  }
});
