/**
 * Fault injection (issue 14): SIGKILL sweep workers at seeded random moments — while they start, train, checkpoint
 * and write results — at least 20 times, rerunning the sweep after each round, until it finishes. The collected
 * results must equal an unbroken sweep's, byte for byte, with no temp file left behind.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Rng } from '../../lib/engine/rng';
import { collectSweep, parseSweepSpec, runSweep } from '../../lib/sweep';

process.env.WRAPLAB_QUIET = '1';

const spec = () =>
  parseSweepSpec({
    name: 'faults',
    experiment: 'demo-sort',
    preset: 'smoke',
    seeds: [0, 1],
    grid: { 'train.batchSize': [8, 16] },
    sets: ['train.steps=80', 'train.checkpointEvery=5', 'train.evalEvery=20', 'evalSize=16', 'model.dModel=16'],
  });

function tempFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...tempFiles(p));
    else if (/\.tmp-\d+-\d+$/.test(e.name)) out.push(p);
  }
  return out;
}

const resultsOf = (rows: Record<string, unknown>[]) => rows.map((r) => JSON.stringify(r)).sort();

test('20+ random SIGKILLs across a sweep: the collected results equal an unbroken sweep', async () => {
  process.env.WRAPLAB_DATA = fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-faults-clean-'));
  // The unbroken sweep also measures how long a worker lives on this machine, so the kill timers below fall inside
  // a worker's life on a fast machine as on a loaded one (CI once landed only 19 kills with a fixed 0.2-3 s window).
  const lifetimes: number[] = [];
  const clean = await runSweep(spec(), {
    jobs: 2,
    onStart: (_task, child) => {
      const t0 = Date.now();
      child.once('exit', () => lifetimes.push(Date.now() - t0));
    },
  });
  assert.equal(clean.failed.length, 0);
  const expected = collectSweep(spec());
  const expectedFiles = expected.status.tasks.map((t) => fs.readFileSync(path.join(t.task.runDir, 'results.json'), 'utf8'));

  // Campaigns on fresh caches until 20 kills have landed (how many land per campaign depends on the machine's speed:
  // a worker that finishes before its timer is not killed; on a loaded machine nearly every one is). Each campaign must end equal to the unbroken sweep.
  const life = Math.min(...lifetimes);
  assert.ok(life > 0, 'workers were timed');
  const rng = new Rng(14);
  let kills = 0;
  let rounds = 0;
  for (let campaign = 0; campaign < 20 && kills < 20; campaign++) {
    const data = (process.env.WRAPLAB_DATA = fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-faults-killed-')));
    let done = false;
    for (let round = 0; round < 100 && !done; round++) {
      rounds++;
      const summary = await runSweep(spec(), {
        jobs: 2,
        onStart: (_task, child) => {
          // Anywhere from 5% (still loading) to 100% (writing results) of the shortest unbroken worker's life;
          // once 20 kills have landed the rounds run unbroken, so the sweep finishes however fast or loaded the machine is.
          if (kills >= 20) return;
          const timer = setTimeout(() => {
            if (child.exitCode === null && child.kill('SIGKILL')) kills++;
          }, life * (0.05 + 0.95 * rng.next()));
          child.once('exit', () => clearTimeout(timer));
        },
      });
      done = summary.failed.length === 0;
    }
    assert.ok(done, `campaign ${campaign} finished`);
    const got = collectSweep(spec());
    assert.equal(got.rows.length, expected.rows.length);
    assert.deepEqual(resultsOf(got.rows), resultsOf(expected.rows));
    got.status.tasks.forEach((t, i) => assert.equal(fs.readFileSync(path.join(t.task.runDir, 'results.json'), 'utf8'), expectedFiles[i], t.task.runDir));
    assert.deepEqual(tempFiles(path.join(data, 'runs')), [], 'no temp file survives');
  }
  assert.ok(kills >= 20, `${kills} kills`);
  console.log(`fault injection: ${kills} SIGKILLs over ${rounds} sweep rounds (a worker lives ${life} ms unbroken)`);
});
