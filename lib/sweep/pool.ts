/**
 * The local worker pool: runs tasks in separate worker processes, at most `jobs` at a time. One process per
 * task keeps runs isolated (a crash, a leak or a kill takes one run down, not the sweep) and lets every
 * core train its own model. Each worker's output is appended to logs/<hash>.log in the sweep folder.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeJsonAtomic } from '../engine/fsutil';
import { dataDir, projectRoot } from '../engine/runs';
import { PlannedTask, localLogFile, readMarker } from './plan';
import { EXIT_BUSY, TasksFile, workerCommand } from './worker';

export interface TaskResult {
  task: PlannedTask;
  /** finished: results.json written; failed: the run threw or the worker died; busy: another live process runs it. */
  status: 'finished' | 'failed' | 'busy';
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  error?: string;
  log: string;
  wallMs: number;
}

export interface PoolOptions {
  /** Worker processes at once (default: the number of cores). */
  jobs?: number;
  /** Called when a worker starts (the tests use it to kill one mid-run). */
  onStart?: (task: PlannedTask, child: ChildProcess) => void;
  /** Called when a worker ends. */
  onFinish?: (result: TaskResult) => void;
  /** Extra environment for the workers. */
  env?: Record<string, string>;
}

/** $WRAPLAB_JOBS, else the number of cores. */
export function defaultJobs(): number {
  const env = process.env.WRAPLAB_JOBS;
  if (env !== undefined && env !== '') {
    if (!/^\d+$/.test(env) || Number(env) < 1) throw new Error(`WRAPLAB_JOBS must be a positive integer, got "${env}"`);
    return Number(env);
  }
  return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}

/**
 * Cores per worker for the wasm backend's thread pool: N workers x (cores / N) threads fills the cores
 * without oversubscribing them (XNNPACK's threads spin while they wait, so 2 workers x 2 threads on 2 cores
 * run slower than 1 worker). An explicit WRAPLAB_WASM_THREADS wins.
 */
export function wasmThreadsPerWorker(jobs: number): string {
  return process.env.WRAPLAB_WASM_THREADS || String(Math.max(1, Math.floor(os.cpus().length / Math.max(1, jobs))));
}

function runOne(tasksFile: string, position: number, task: PlannedTask, dir: string, opts: PoolOptions): Promise<TaskResult> {
  const log = localLogFile(dir, task.hash);
  fs.mkdirSync(path.dirname(log), { recursive: true });
  const fd = fs.openSync(log, 'a');
  const { command, args } = workerCommand();
  const started = Date.now();
  const child = spawn(command, [...args, tasksFile, String(position), '--log', log], {
    cwd: projectRoot(),
    stdio: ['ignore', fd, fd],
    // Workers must see the same run cache as this process, whatever their cwd.
    // WRAPLAB_SWEEP_WORKER keeps a worker's own grids sequential (no workers spawning workers).
    env: { ...process.env, WRAPLAB_DATA: dataDir(), WRAPLAB_SWEEP_WORKER: '1', WRAPLAB_WASM_THREADS: wasmThreadsPerWorker(opts.jobs ?? defaultJobs()), ...opts.env },
  });
  fs.closeSync(fd); // the child holds its own copy
  opts.onStart?.(task, child);
  return new Promise((resolve) => {
    const done = (exitCode: number | null, signal: NodeJS.Signals | null, spawnError?: Error) => {
      const marker = readMarker(dir, task.hash);
      const finished = exitCode === 0 && fs.existsSync(path.join(task.runDir, 'results.json'));
      const status = finished ? 'finished' : exitCode === EXIT_BUSY ? 'busy' : 'failed';
      let error: string | undefined;
      if (status === 'failed') {
        if (spawnError) error = `could not start the worker: ${spawnError.message}`;
        else if (signal) error = `worker killed by ${signal}`;
        else if (marker?.state === 'failed') error = marker.error;
        else error = `worker exited with code ${exitCode}`;
      }
      const result: TaskResult = { task, status, exitCode, signal, error, log, wallMs: Date.now() - started };
      opts.onFinish?.(result);
      resolve(result);
    };
    child.once('error', (e) => done(null, null, e));
    child.once('exit', (code, signal) => done(code, signal));
  });
}

/**
 * Runs every task in worker processes and resolves when all have ended (a failure does not stop the others).
 * Results come back in the order of `tasks`.
 */
export async function runPool(dir: string, tasks: PlannedTask[], opts: PoolOptions = {}): Promise<TaskResult[]> {
  if (tasks.length === 0) return [];
  const jobs = Math.max(1, Math.min(opts.jobs ?? defaultJobs(), tasks.length));
  const tasksFile = path.join(dir, 'local', `tasks-${process.pid}-${Date.now()}.json`);
  writeJsonAtomic(tasksFile, { dir, tasks } satisfies TasksFile);
  const results: TaskResult[] = new Array(tasks.length);
  let next = 0;
  const lane = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await runOne(tasksFile, i, tasks[i], dir, { ...opts, jobs });
    }
  };
  try {
    await Promise.all(Array.from({ length: jobs }, lane));
  } finally {
    fs.rmSync(tasksFile, { force: true });
  }
  return results;
}
