import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cli } from './inProcessCli';
import { parseSets, run } from '../../lib/experiments';
import { demoSort } from '../../lib/experiments/demo';
import { collectSweep, parseSweepSpec, runSweep, sweepStatus } from '../../lib/sweep';
import { localLogFile } from '../../lib/sweep/plan';

process.env.WRAPLAB_QUIET = '1';

const freshData = (label: string) => (process.env.WRAPLAB_DATA = fs.mkdtempSync(path.join(os.tmpdir(), `wraplab-sweep-${label}-`)));
const readJson = (f: string) => JSON.parse(fs.readFileSync(f, 'utf8'));
const attempts = (log: string) => (fs.readFileSync(log, 'utf8').match(/wraplab sweep worker: demo-sort/g) ?? []).length;


test('local pool: a killed worker does not stop the sweep; the rerun resumes it and loses nothing', async () => {
  freshData('pool');
  const spec = parseSweepSpec({
    name: 'kill',
    experiment: 'demo-sort',
    preset: 'smoke',
    seeds: [0, 1],
    grid: { 'model.nHeads': [2] },
    sets: ['train.steps=60', 'train.checkpointEvery=10', 'train.evalEvery=0', 'evalSize=32'],
  });
  let killed: string | null = null;
  const first = await runSweep(spec, {
    jobs: 2,
    onStart: (task, child) => {
      if (task.kind !== 'run' || task.seed !== 1) return;
      // Kill the worker (no chance to clean up) once it has written a checkpoint.
      const poll = setInterval(() => {
        if (fs.existsSync(path.join(task.runDir, 'checkpoint', 'state.json'))) {
          clearInterval(poll);
          killed = task.runDir;
          child.kill('SIGKILL');
        }
      }, 20);
      child.once('exit', () => clearInterval(poll));
    },
  });
  assert.ok(killed, 'the seed-1 worker was killed mid-run');
  const killedDir: string = killed;
  assert.equal(first.total, 2);
  assert.equal(first.finished, 1, 'the other run went on to finish');
  assert.equal(first.failed.length, 1);
  assert.equal((first.failed[0].task as { seed: number }).seed, 1);
  assert.match(first.failed[0].error!, /SIGKILL/);
  assert.ok(!fs.existsSync(path.join(killedDir, 'results.json')));
  assert.deepEqual(sweepStatus(spec).tasks.map((t) => t.state), ['done', 'interrupted']);

  const finishedFirst = path.join(sweepStatus(spec).tasks[0].task.runDir, 'results.json');
  const mtime = fs.statSync(finishedFirst).mtimeMs;

  // Rerun: only the killed run runs again, and resumes from its checkpoint.
  const second = await runSweep(spec, { jobs: 2 });
  assert.deepEqual([second.cached, second.finished, second.failed.length], [1, 1, 0]);
  assert.equal(fs.statSync(finishedFirst).mtimeMs, mtime, 'the finished run was not redone');
  const logOf = (runDir: string) => localLogFile(first.dir, path.basename(runDir));
  assert.equal(attempts(logOf(killedDir)), 2);
  assert.equal(attempts(logOf(path.dirname(finishedFirst))), 1);

  // Nothing lost: the resumed run equals an unbroken one, results and every metric row.
  const resumed = readJson(path.join(killedDir, 'results.json'));
  const unbroken = await run(demoSort, { preset: 'smoke', seed: 1, overrides: parseSets([...spec.sets, 'model.nHeads=2'], demoSort.schema), out: fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-unbroken-')) });
  assert.deepEqual(resumed.results, unbroken.results);
  const metrics = (dir: string) => fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(metrics(killedDir), metrics(unbroken.runDir));

  // The CLI (flags instead of a file) sees the same sweep; collect reads the run cache.
  const status = await cli('sweep', 'status', '--experiment', 'demo-sort', '--preset', 'smoke', '--name', 'kill', '--seeds', '0-1', '--grid', 'model.nHeads=2', ...spec.sets.flatMap((s) => ['--set', s]));
  assert.equal(status.code, 0, status.err);
  assert.match(status.out, /2 runs — 2 done/);
  const collected = collectSweep(spec);
  assert.deepEqual(collected.rows.map((r) => [r.seed, r['model.nHeads'], r.tokenAccuracy]), [
    [0, 2, readJson(finishedFirst).results.tokenAccuracy],
    [1, 2, resumed.results.tokenAccuracy],
  ]);
  assert.equal(collected.failures.length, 0);
  const csv = fs.readFileSync(collected.csv!, 'utf8').trim().split('\n');
  assert.equal(csv.length, 3);
  assert.match(csv[0], /^task,experiment,preset,seed,model\.nHeads,run,tokenAccuracy,/);
});
