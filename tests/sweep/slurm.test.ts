import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cli } from './inProcessCli';
import { parseSets, run } from '../../lib/experiments';
import { demoSort } from '../../lib/experiments/demo';
import { collectSweep, loadSweepSpec, submitSweep, sweepStatus } from '../../lib/sweep';
import { readSubmissions } from '../../lib/sweep/slurm';
import { startLocalSlurm } from './localSlurm';

process.env.WRAPLAB_QUIET = '1';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


test('Slurm: a smoke sweep submitted as an array job to a real single-node cluster, collected, failures resubmitted', { timeout: 300_000, skip: process.env.WRAPLAB_SKIP_SLURM === '1' && 'WRAPLAB_SKIP_SLURM=1' }, async () => {
  // Fails (not skips) where slurm-wlm/munge are missing, naming the fix; WRAPLAB_SKIP_SLURM=1 (install.sh did not
  // install them) skips it.
  const cluster = await startLocalSlurm();
  const previousConf = process.env.SLURM_CONF;
  process.env.SLURM_CONF = cluster.conf;
  try {
    const data = (process.env.WRAPLAB_DATA = fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-sweep-slurm-')));
    // 2 seeds x 2 head counts; nHeads=64 > dModel=32 fails at model construction (dHead = 0).
    const specFile = path.join(data, 'heads.json');
    fs.writeFileSync(
      specFile,
      JSON.stringify({ experiment: 'demo-sort', preset: 'smoke', seeds: [0, 1], grid: { 'model.nHeads': [2, 64] }, sets: ['train.steps=20', 'evalSize=16'] }),
    );
    const spec = loadSweepSpec(specFile);
    const waitForQueue = async () => {
      for (let i = 0; ; i++) {
        const s = sweepStatus(spec);
        if (s.counts.queued + s.counts.running === 0) return s;
        if (i > 240) assert.fail(`Slurm jobs did not finish: ${JSON.stringify(s.counts)}`);
        await sleep(500);
      }
    };

    // One run made locally beforehand: the sweep reuses it (local and Slurm runs mix in one run cache).
    const local = await run(demoSort, { preset: 'smoke', seed: 0, overrides: parseSets([...spec.sets, 'model.nHeads=2'], demoSort.schema) });

    const first = submitSweep(spec);
    assert.ok(first.submission, 'submitted');
    assert.equal(first.finished, 1);
    assert.deepEqual(first.submitted.map((t) => [t.seed, t.varying['model.nHeads']]), [[1, 2], [0, 64], [1, 64]]);
    assert.match(fs.readFileSync(first.script!, 'utf8'), /#SBATCH --array=0-2\n/);
    // Submitting again while they are queued or running submits nothing twice.
    const again = submitSweep(spec);
    assert.equal(again.submission, null);
    assert.equal(again.inFlight, 3);

    const done = await waitForQueue();
    assert.deepEqual(done.tasks.map((t) => t.state), ['done', 'done', 'failed', 'failed']);

    const collected = collectSweep(spec);
    assert.deepEqual(collected.rows.map((r) => [r.seed, r['model.nHeads'], r.run]), [
      [0, 2, path.basename(local.runDir)],
      [1, 2, first.submitted[0].hash],
    ]);
    assert.equal(typeof collected.rows[1].tokenAccuracy, 'number');
    assert.equal(collected.failures.length, 2);
    for (const f of collected.failures) {
      assert.match(f.log!, new RegExp(`logs/slurm-${first.submission!.jobId}_[12]\\.log$`));
      assert.match(fs.readFileSync(f.log!, 'utf8'), /leaves no width per head/);
      assert.match(f.detail!, /leaves no width per head/);
    }

    // The CLI: collect prints the CSV path and lists the failures with their logs; resubmitting retries only them.
    const c = await cli('sweep', 'collect', specFile, '--print');
    assert.equal(c.code, 0, c.err);
    const csvPath = c.out.trim().split('\n').pop()!;
    assert.equal(csvPath, path.join(data, 'sweeps', 'heads', 'results.csv'));
    assert.equal(fs.readFileSync(csvPath, 'utf8').trim().split('\n').length, 3);
    assert.match(c.out, /│ task +│ experiment/); // the printed table
    assert.match(c.err, /2 of 4 runs finished, 2 failed/);
    assert.equal((c.err.match(/FAILED .*log: .*slurm-\d+_\d\.log/g) ?? []).length, 2);

    const resubmit = await cli('sweep', 'submit', specFile, '--slurm', '--time', '5');
    assert.equal(resubmit.code, 0, resubmit.err);
    const submissions = readSubmissions(path.join(data, 'sweeps', 'heads'));
    assert.equal(submissions.length, 2);
    assert.equal(resubmit.out.trim(), submissions[1].jobId);
    assert.deepEqual(submissions[1].hashes, collected.failures.map((f) => f.task.hash));
    assert.match(fs.readFileSync(path.join(submissions[1].folder, 'job.sh'), 'utf8'), /#SBATCH --time=5\n/);
    const after = await waitForQueue();
    assert.deepEqual(after.counts, { done: 2, running: 0, queued: 0, failed: 2, interrupted: 0, missing: 0 });
    for (const t of after.tasks.filter((x) => x.state === 'failed')) assert.match(t.log!, new RegExp(`slurm-${submissions[1].jobId}_`));
  } finally {
    if (previousConf === undefined) delete process.env.SLURM_CONF;
    else process.env.SLURM_CONF = previousConf;
    await cluster.stop();
  }
});
