/**
 * The sweep worker: a process that runs ONE task of a tasks file and exits. The local pool starts one per
 * task (at most --jobs at a time) and Slurm starts one per array task; both run exactly this file:
 *
 *   node dist/lib/sweep/worker.js TASKS_FILE POSITION [--log LOGFILE]
 *
 * It marks the task running (status/<hash>.json), runs it (an experiment run or a stage) into its run
 * directory (so an interrupted run resumes from its checkpoint and a finished one is reused), then clears
 * the mark, or records the failure with its log path. Exit codes: 0 done, 1 failed, 2 bad arguments,
 * 75 the same run is already running in another live process on this host, 128+n killed by signal n.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readJson } from '../engine/fsutil';
import { WorkerMarker, clearMarker, readMarker, writeMarker } from './plan';
import { executeTask, type WorkerTask } from './tasks';

/** What the pool and the Slurm job hand a worker: the sweep folder and the tasks it may run. */
export interface TasksFile {
  dir: string;
  tasks: WorkerTask[];
}

export const EXIT_BUSY = 75;

/** The command that starts a worker from this build: compiled JS, or TypeScript through tsx (tests, dev). */
export function workerCommand(): { command: string; args: string[] } {
  const ext = path.extname(__filename);
  const file = path.join(__dirname, `worker${ext}`);
  return { command: process.execPath, args: ext === '.ts' ? ['--import', 'tsx', file] : [file] };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A running-mark is live if its process still exists. On another host we cannot tell: the scheduler is the truth there. */
export function markerIsLive(marker: WorkerMarker | null): boolean {
  return !!marker && marker.state === 'running' && marker.host === os.hostname() && pidAlive(marker.pid);
}

export async function runWorker(tasksFile: string, position: number, log?: string): Promise<number> {
  const { dir, tasks } = readJson<TasksFile>(tasksFile);
  const task = tasks[position];
  if (!task) {
    console.error(`wraplab sweep worker: ${tasksFile} has no task at position ${position} (it has ${tasks.length})`);
    return 2;
  }
  const existing = readMarker(dir, task.hash);
  if (markerIsLive(existing) && existing!.state === 'running' && existing!.pid !== process.pid) {
    console.error(`wraplab sweep worker: ${task.label} is already running (pid ${existing!.pid}); leaving it`);
    return EXIT_BUSY;
  }
  const host = os.hostname();
  writeMarker(dir, task.hash, { state: 'running', pid: process.pid, host, log, startedAt: new Date().toISOString() });
  const fail = (error: string, exitCode: number, signal: string | null = null) =>
    writeMarker(dir, task.hash, { state: 'failed', error, host, log, exitCode, signal, finishedAt: new Date().toISOString() });

  // Slurm sends SIGTERM at the time limit and on scancel: record it, so status can say why.
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.once(sig, () => {
      fail(`killed by ${sig}`, 128 + os.constants.signals[sig], sig);
      process.exit(128 + os.constants.signals[sig]);
    });
  }
  console.log(`wraplab sweep worker: ${task.label} run=${task.runDir} host=${host} pid=${process.pid} at ${new Date().toISOString()}`);
  try {
    const before = fs.existsSync(path.join(task.runDir, 'results.json'));
    await executeTask(task);
    clearMarker(dir, task.hash);
    console.log(`wraplab sweep worker: ${before ? 'already finished' : 'finished'} ${path.join(task.runDir, 'results.json')}`);
    return 0;
  } catch (e) {
    const err = e as Error;
    fail(err.message ?? String(e), 1);
    console.error(`wraplab sweep worker: FAILED ${task.label}: ${err.stack ?? err}`);
    return 1;
  }
}

if (require.main === module) {
  const [tasksFile, pos, ...rest] = process.argv.slice(2);
  const logAt = rest.indexOf('--log');
  const log = logAt >= 0 ? rest[logAt + 1] : undefined;
  if (!tasksFile || !fs.existsSync(tasksFile) || !/^\d+$/.test(pos ?? '')) {
    console.error('usage: worker TASKS_FILE POSITION [--log LOGFILE]');
    process.exit(2);
  }
  runWorker(path.resolve(tasksFile), Number(pos), log).then(
    (code) => process.exit(code),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
