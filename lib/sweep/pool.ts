/**
 * The local worker pool: runs tasks in separate worker processes, at most `jobs` at a time, each task after the
 * tasks it depends on. One process per task keeps runs isolated (a crash, a leak or a kill takes one run down,
 * not the sweep) and lets every core train its own model. Among the tasks that are ready, the one with the
 * highest priority starts first (the scheduler gives each task the cost of the longest chain of work behind it,
 * so long chains start early and both cores stay busy to the end). Each worker's output is appended to
 * logs/<hash>.log in the pool's folder.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { envInt } from '../engine/env';
import { writeJsonAtomic } from '../engine/fsutil';
import { dataDir, projectRoot } from '../engine/runs';
import { localLogFile, readMarker } from './plan';
import { isDone, type WorkerTask } from './tasks';
import { EXIT_BUSY, TasksFile, workerCommand } from './worker';

export interface TaskResult<T extends WorkerTask = WorkerTask> {
  task: T;
  /** finished: results.json written; failed: the run threw or the worker died; busy: another live process runs it; skipped: a task it depends on failed. */
  status: 'finished' | 'failed' | 'busy' | 'skipped';
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  error?: string;
  log: string;
  wallMs: number;
}

export interface PoolOptions<T extends WorkerTask = WorkerTask> {
  /** Worker processes at once (default: the number of cores). */
  jobs?: number;
  /** Hashes each task waits for (tasks of this pool; others are assumed done). */
  deps?: ReadonlyMap<string, readonly string[]>;
  /** Higher starts first among ready tasks (default: list order). */
  priority?: ReadonlyMap<string, number>;
  /** Called when a worker starts (the tests use it to kill one mid-run). */
  onStart?: (task: T, child: ChildProcess) => void;
  /** Called when a task ends (or is skipped). */
  onFinish?: (result: TaskResult<T>) => void;
  /** Extra environment for the workers. */
  env?: Record<string, string>;
  /**
   * A task this returns a function for runs in this process instead of a worker (for tasks shorter than a
   * worker's start-up). It blocks this process while it runs, so only light tasks should be handed back.
   */
  inProcess?: (task: T) => (() => Promise<void>) | null;
}

/** $WRAPLAB_JOBS, else the number of cores. */
export function defaultJobs(): number {
  const cores = Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
  return envInt('WRAPLAB_JOBS', cores, { min: 1, max: 1024 });
}

/**
 * Cores per worker for the wasm backend's thread pool: N workers x (cores / N) threads fills the cores
 * without oversubscribing them (XNNPACK's threads spin while they wait, so 2 workers x 2 threads on 2 cores
 * run slower than 1 worker). An explicit WRAPLAB_WASM_THREADS wins.
 */
export function wasmThreadsPerWorker(jobs: number): string {
  if (process.env.WRAPLAB_WASM_THREADS) return String(envInt('WRAPLAB_WASM_THREADS', 1, { min: 1, max: 256 })); // checked here, not in N workers
  return String(Math.max(1, Math.floor(os.cpus().length / Math.max(1, jobs))));
}

function runOne<T extends WorkerTask>(tasksFile: string, position: number, task: T, dir: string, jobs: number, opts: PoolOptions<T>): Promise<TaskResult<T>> {
  const log = localLogFile(dir, task.hash);
  fs.mkdirSync(path.dirname(log), { recursive: true });
  const fd = fs.openSync(log, 'a');
  const { command, args } = workerCommand();
  const started = Date.now();
  const child = spawn(command, [...args, tasksFile, String(position), '--log', log], {
    cwd: projectRoot(),
    stdio: ['ignore', fd, fd],
    // Workers must see the same run cache as this process, whatever their cwd.
    // WRAPLAB_SWEEP_WORKER keeps a worker's own work in its process (no workers spawning workers).
    env: { ...process.env, WRAPLAB_DATA: dataDir(), WRAPLAB_SWEEP_WORKER: '1', WRAPLAB_WASM_THREADS: wasmThreadsPerWorker(jobs), ...opts.env },
  });
  fs.closeSync(fd); // the child holds its own copy
  opts.onStart?.(task, child);
  return new Promise((resolve) => {
    const done = (exitCode: number | null, signal: NodeJS.Signals | null, spawnError?: Error) => {
      const marker = readMarker(dir, task.hash);
      const finished = exitCode === 0 && isDone(task);
      const status = finished ? 'finished' : exitCode === EXIT_BUSY ? 'busy' : 'failed';
      let error: string | undefined;
      if (status === 'failed') {
        if (spawnError) error = `could not start the worker: ${spawnError.message}`;
        else if (signal) error = `worker killed by ${signal}`;
        else if (marker?.state === 'failed') error = marker.error;
        else error = `worker exited with code ${exitCode}`;
      }
      resolve({ task, status, exitCode, signal, error, log, wallMs: Date.now() - started });
    };
    child.once('error', (e) => done(null, null, e));
    child.once('exit', (code, signal) => done(code, signal));
  });
}

async function runHere<T extends WorkerTask>(task: T, execute: () => Promise<void>): Promise<TaskResult<T>> {
  const started = Date.now();
  try {
    await execute();
    return { task, status: 'finished', exitCode: 0, signal: null, log: '', wallMs: Date.now() - started };
  } catch (e) {
    return { task, status: 'failed', exitCode: 1, signal: null, error: (e as Error).message, log: '', wallMs: Date.now() - started };
  }
}

/**
 * Runs every task in worker processes, each after its dependencies, and resolves when all have ended (a failure
 * does not stop the independent ones; its dependents are skipped). Results come back in the order of `tasks`.
 */
export async function runPool<T extends WorkerTask>(dir: string, tasks: T[], opts: PoolOptions<T> = {}): Promise<TaskResult<T>[]> {
  if (tasks.length === 0) return [];
  const jobs = Math.max(1, Math.min(opts.jobs ?? defaultJobs(), tasks.length));
  const tasksFile = path.join(dir, 'local', `tasks-${process.pid}-${Date.now()}.json`);
  writeJsonAtomic(tasksFile, { dir, tasks } satisfies TasksFile);
  const index = new Map(tasks.map((t, i) => [t.hash, i]));
  const results: TaskResult<T>[] = new Array(tasks.length);
  const state = tasks.map(() => 'waiting' as 'waiting' | 'running' | 'ok' | 'bad');
  const depsOf = (i: number) => (opts.deps?.get(tasks[i].hash) ?? []).map((h) => index.get(h)).filter((j): j is number => j !== undefined);
  const priority = (i: number) => opts.priority?.get(tasks[i].hash) ?? -i;
  const waiting: (() => void)[] = [];
  const changed = () => waiting.splice(0).forEach((w) => w());
  const finish = (i: number, r: TaskResult<T>) => {
    results[i] = r;
    state[i] = r.status === 'finished' ? 'ok' : 'bad';
    opts.onFinish?.(r);
    changed();
  };
  /** Skips every waiting task whose dependency failed (transitively). */
  const skipBroken = () => {
    for (let again = true; again; ) {
      again = false;
      state.forEach((s, i) => {
        if (s !== 'waiting') return;
        const bad = depsOf(i).find((j) => state[j] === 'bad');
        if (bad === undefined) return;
        finish(i, { task: tasks[i], status: 'skipped', exitCode: null, signal: null, error: `${tasks[bad].label} failed first`, log: results[bad].log, wallMs: 0 });
        again = true;
      });
    }
  };
  const next = (): number | null => {
    skipBroken();
    let best: number | null = null;
    state.forEach((s, i) => {
      if (s !== 'waiting' || !depsOf(i).every((j) => state[j] === 'ok')) return;
      if (best === null || priority(i) > priority(best)) best = i;
    });
    return best;
  };
  const lane = async () => {
    for (;;) {
      const i = next();
      if (i === null) {
        if (!state.some((s) => s === 'waiting')) return;
        if (!state.some((s) => s === 'running')) throw new Error('worker pool: tasks wait on each other (a dependency cycle)');
        await new Promise<void>((r) => waiting.push(r));
        continue;
      }
      state[i] = 'running';
      const here = opts.inProcess?.(tasks[i]);
      finish(i, here ? await runHere(tasks[i], here) : await runOne(tasksFile, i, tasks[i], dir, jobs, opts));
    }
  };
  try {
    await Promise.all(Array.from({ length: jobs }, lane));
  } finally {
    fs.rmSync(tasksFile, { force: true });
  }
  return results;
}
