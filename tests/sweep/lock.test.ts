import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Run } from '../../lib/engine/runs';

process.env.WRAPLAB_QUIET = '1';

const freshRun = () => Run.open({ test: 'lock' }, { dir: fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-lock-')) });
const writeLock = (run: Run, owner: { pid: number; host: string }) => fs.writeFileSync(run.file('lock'), JSON.stringify(owner));

test('a run lock held by a live process makes others wait until it is released', async () => {
  const run = freshRun();
  writeLock(run, { pid: process.ppid, host: os.hostname() }); // a live process that is not us
  const released = Date.now() + 700;
  setTimeout(() => fs.rmSync(run.file('lock')), 700);
  const ranAt = await run.withLock(async () => {
    assert.equal(JSON.parse(fs.readFileSync(run.file('lock'), 'utf8')).pid, process.pid);
    return Date.now();
  });
  assert.ok(ranAt >= released - 20, 'waited for the holder');
  assert.ok(!fs.existsSync(run.file('lock')), 'released after use');
});

test('stale locks are taken over: a dead process on this host, or a stopped heartbeat anywhere', async () => {
  const dead = spawnSync(process.execPath, ['-e', '']).pid!;
  const run = freshRun();
  writeLock(run, { pid: dead, host: os.hostname() });
  const t0 = Date.now();
  assert.equal(await run.withLock(async () => 'mine'), 'mine');
  writeLock(run, { pid: 1, host: 'some-other-node' });
  const old = new Date(Date.now() - 10 * 60_000);
  fs.utimesSync(run.file('lock'), old, old);
  assert.equal(await run.withLock(async () => 'mine again'), 'mine again');
  assert.ok(Date.now() - t0 < 400, 'no waiting for stale locks');
});

test('the lock is re-entrant within a process and released when fn throws', async () => {
  const run = freshRun();
  const inner = await run.withLock(() => run.withLock(async () => 42));
  assert.equal(inner, 42);
  await assert.rejects(run.withLock(async () => { throw new Error('boom'); }), /boom/);
  assert.ok(!fs.existsSync(run.file('lock')));
});

test('a live holder on this host keeps its lock however old its heartbeat (training steps block timers)', async () => {
  const run = freshRun();
  // What a live wraplab holder writes: its pid with the boot id and its start time, which tell it from a reused pid.
  const stat = fs.readFileSync(`/proc/${process.ppid}/stat`, 'utf8');
  const started = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  const boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  writeLock(run, { pid: process.ppid, host: os.hostname(), boot, started } as never);
  const old = new Date(Date.now() - 10 * 60_000);
  fs.utimesSync(run.file('lock'), old, old);
  setTimeout(() => fs.rmSync(run.file('lock')), 600);
  const t0 = Date.now();
  await run.withLock(async () => 'mine');
  assert.ok(Date.now() - t0 >= 550, 'waited: a live holder is never taken over on its own host');
});

test('heartbeatLocks touches held locks from inside synchronous work', async () => {
  const { heartbeatLocks } = await import('../../lib/engine/runs');
  const run = freshRun();
  await run.withLock(async () => {
    const old = new Date(Date.now() - 10 * 60_000);
    fs.utimesSync(run.file('lock'), old, old);
    heartbeatLocks();
    assert.ok(Date.now() - fs.statSync(run.file('lock')).mtimeMs < 5_000, 'touched');
  });
});
