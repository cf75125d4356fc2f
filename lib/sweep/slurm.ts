/**
 * The Slurm engine: `wraplab sweep submit SPEC --slurm` writes one `sbatch --array` job whose array tasks
 * each run one sweep task (the same worker the local pool uses) into the shared run cache ($WRAPLAB_DATA,
 * which must be on a filesystem every node sees). Only runs that are neither finished nor already queued
 * are submitted, so resubmitting a sweep retries exactly its failed and missing runs.
 *
 *   data/sweeps/<name>/slurm/<n>/job.sh, tasks.json   submission n (its own task list: later edits of the
 *                                                     spec cannot reshuffle the array indices of queued jobs)
 *   data/sweeps/<name>/slurm/submissions.json          [{jobId, folder, hashes, submittedAt}]
 *   data/sweeps/<name>/logs/slurm-<job>_<task>.log     each array task's output
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readJson, writeFileAtomic, writeJsonAtomic } from '../engine/fsutil';
import { dataDir, projectRoot } from '../engine/runs';
import { UsageError } from '../experiments/define';
import { PlannedTask, SweepPlan, planSweep, readMarker } from './plan';
import { isDone as isFinished } from './tasks';
import { SweepSpec } from './spec';
import { TasksFile, markerIsLive, workerCommand } from './worker';

export interface SlurmOptions {
  partition?: string;
  /** Slurm time limit per array task, e.g. `30`, `2:00:00`, `1-00:00:00`. */
  time?: string;
  cpusPerTask?: number;
  /** GPUs per array task (`1`, `a100:1`); with GPUs the tasks use the tensorflow backend (tfjs-node-gpu). */
  gpus?: string;
  mem?: string;
  /** At most this many array tasks at once (sbatch --array=…%N). */
  maxParallel?: number;
  /** WRAPLAB_BACKEND for the tasks (default: tensorflow when --gpus is given, else the worker's own choice). */
  backend?: string;
  /** Node binary on the compute nodes (default: this process's). */
  node?: string;
  /** More `#SBATCH` options, verbatim (e.g. `--account=lab`). */
  extra?: string[];
  /** Write the job script but do not call sbatch. */
  dryRun?: boolean;
}

export interface Submission {
  jobId: string;
  folder: string;
  /** Run hash of each array task, by array index. */
  hashes: string[];
  submittedAt: string;
}

export const jobName = (sweepName: string) => `wraplab-${sweepName}`;

function submissionsFile(dir: string): string {
  return path.join(dir, 'slurm', 'submissions.json');
}

export function readSubmissions(dir: string): Submission[] {
  const f = submissionsFile(dir);
  return fs.existsSync(f) ? readJson<Submission[]>(f) : [];
}

/** Slurm's array-task log for array index `position` of a submission. */
export function slurmLogFile(dir: string, jobId: string, position: number): string {
  return path.join(dir, 'logs', `slurm-${jobId}_${position}.log`);
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The array job script for `tasks` (array index i runs tasks[i]). */
export function jobScript(plan: SweepPlan, tasksFile: string, count: number, opts: SlurmOptions): string {
  const logs = path.join(plan.dir, 'logs');
  const { args } = workerCommand();
  const node = opts.node ?? process.execPath;
  const directives = [
    `--job-name=${jobName(plan.spec.name)}`,
    `--array=0-${count - 1}${opts.maxParallel ? `%${opts.maxParallel}` : ''}`,
    `--output=${path.join(logs, 'slurm-%A_%a.log')}`,
    '--open-mode=append',
    ...(opts.partition ? [`--partition=${opts.partition}`] : []),
    ...(opts.time ? [`--time=${opts.time}`] : []),
    ...(opts.cpusPerTask ? [`--cpus-per-task=${opts.cpusPerTask}`] : []),
    ...(opts.gpus ? [`--gpus=${opts.gpus}`] : []),
    ...(opts.mem ? [`--mem=${opts.mem}`] : []),
    ...(opts.extra ?? []),
  ];
  const backend = opts.backend ?? (opts.gpus ? 'tensorflow' : undefined);
  return [
    '#!/bin/bash',
    ...directives.map((d) => `#SBATCH ${d}`),
    `# Written by \`wraplab sweep submit\` for sweep ${plan.spec.name}: array task i runs task i of`,
    `# ${tasksFile} into the shared run cache; rerunning a finished run is a no-op.`,
    'set -euo pipefail',
    `export WRAPLAB_DATA=${quote(dataDir())} WRAPLAB_SWEEP_WORKER=1`,
    ...(backend ? [`export WRAPLAB_BACKEND=${quote(backend)}`] : []),
    // The wasm backend's thread pool gets the task's CPUs, not the whole node's.
    'export WRAPLAB_WASM_THREADS="${WRAPLAB_WASM_THREADS:-${SLURM_CPUS_PER_TASK:-1}}"',
    `cd ${quote(projectRoot())}`,
    `exec ${[node, ...args, tasksFile].map(quote).join(' ')} "$SLURM_ARRAY_TASK_ID" --log ${quote(logs)}"/slurm-\${SLURM_ARRAY_JOB_ID}_\${SLURM_ARRAY_TASK_ID}.log"`,
    '',
  ].join('\n');
}

/** Runs a Slurm client command; a missing binary becomes an error that says what to install. */
function slurmCommand(cmd: string, args: string[]): { ok: boolean; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new UsageError(`${cmd} not found: this machine has no Slurm client (Debian: apt-get install slurm-client, or slurm-wlm for a whole single-node cluster); run the sweep locally with \`wraplab sweep run\``);
  }
  return { ok: r.status === 0, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

/**
 * Array tasks of this sweep that Slurm still knows (pending, running, completing), by `jobId_index`.
 * Null when squeue cannot answer (no controller): then nothing is assumed queued.
 */
export function slurmQueue(sweepName: string): Map<string, string> | null {
  const r = slurmCommand('squeue', ['-h', '-r', '-n', jobName(sweepName), '-o', '%F|%K|%T']);
  if (!r.ok) return null;
  const queue = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const [job, task, state] = line.trim().split('|');
    if (job && task && state) queue.set(`${job}_${task}`, state);
  }
  return queue;
}

/** For each run hash, the latest Slurm array task that ran it: jobId, array index. */
export function latestSlurmTasks(dir: string): Map<string, { jobId: string; position: number }> {
  const latest = new Map<string, { jobId: string; position: number }>();
  for (const s of readSubmissions(dir)) s.hashes.forEach((h, position) => latest.set(h, { jobId: s.jobId, position }));
  return latest;
}

export interface SubmitResult {
  plan: SweepPlan;
  /** Null when nothing needed submitting. */
  submission: Submission | null;
  script: string | null;
  submitted: PlannedTask[];
  finished: number;
  /** Already queued or running (in Slurm or in a live local worker): not submitted twice. */
  inFlight: number;
}

/**
 * Checks every option that lands in the job script before anything is written: a newline or a stray character in a
 * `#SBATCH` line would silently become a shell command or a different directive.
 */
export function checkSlurmOptions(opts: SlurmOptions): void {
  const bad = (flag: string, value: string, wants: string) => {
    throw new UsageError(`${flag} ${JSON.stringify(value)} is not ${wants}`);
  };
  // Slurm's time formats: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S.
  if (opts.time !== undefined && !/^(\d+(:\d{1,2}){0,2}|\d+-\d{1,2}(:\d{1,2}){0,2})$/.test(opts.time)) bad('--time', opts.time, 'a Slurm time limit (30, 2:00:00, 1-00:00:00)');
  if (opts.mem !== undefined && !/^\d+[KMGT]?$/i.test(opts.mem)) bad('--mem', opts.mem, 'a Slurm memory size (8G, 16000M)');
  if (opts.partition !== undefined && !/^[A-Za-z0-9_.,-]+$/.test(opts.partition)) bad('--partition', opts.partition, 'a partition name (letters, digits, _ . , -)');
  if (opts.gpus !== undefined && !/^([A-Za-z0-9_.-]+:)?\d+$/.test(opts.gpus)) bad('--gpus', opts.gpus, 'a GPU count (1, a100:2)');
  if (opts.backend !== undefined && !['tensorflow', 'wasm', 'cpu'].includes(opts.backend)) bad('--backend', opts.backend, 'one of tensorflow, wasm, cpu');
  for (const x of opts.extra ?? []) if (!/^--?[A-Za-z][A-Za-z0-9-]*(=[^\n\r]*)?$/.test(x) || /[\n\r]/.test(x)) bad('--sbatch', x, 'one sbatch option such as --account=lab (on one line)');
  if (opts.node !== undefined && /[\n\r]/.test(opts.node)) bad('node', opts.node, 'a path on one line');
}

export function submitSweep(spec: SweepSpec, opts: SlurmOptions = {}): SubmitResult {
  checkSlurmOptions(opts);
  const plan = planSweep(spec);
  const seen = new Set<string>();
  const unique = plan.tasks.filter((t) => (seen.has(t.hash) ? false : (seen.add(t.hash), true)));
  const queue = opts.dryRun ? new Map<string, string>() : (slurmQueue(spec.name) ?? new Map<string, string>());
  const latest = latestSlurmTasks(plan.dir);
  const inSlurm = (t: PlannedTask) => {
    const at = latest.get(t.hash);
    return !!at && queue.has(`${at.jobId}_${at.position}`);
  };
  const finished = unique.filter(isFinished);
  const inFlight = unique.filter((t) => !isFinished(t) && (inSlurm(t) || markerIsLive(readMarker(plan.dir, t.hash))));
  const todo = unique.filter((t) => !isFinished(t) && !inFlight.includes(t));
  const base = { plan, finished: finished.length, inFlight: inFlight.length, submitted: todo };
  if (todo.length === 0) return { ...base, submission: null, script: null };

  const folder = path.join(plan.dir, 'slurm', String(readSubmissions(plan.dir).length));
  fs.mkdirSync(path.join(plan.dir, 'logs'), { recursive: true });
  const tasksFile = path.join(folder, 'tasks.json');
  writeJsonAtomic(tasksFile, { dir: plan.dir, tasks: todo } satisfies TasksFile);
  const script = jobScript(plan, tasksFile, todo.length, opts);
  const scriptFile = path.join(folder, 'job.sh');
  writeFileAtomic(scriptFile, script);
  fs.chmodSync(scriptFile, 0o755);
  if (opts.dryRun) return { ...base, submission: null, script: scriptFile };

  const r = slurmCommand('sbatch', ['--parsable', scriptFile]);
  if (!r.ok) throw new UsageError(`sbatch refused ${scriptFile}: ${r.stderr.trim() || r.stdout.trim()}`);
  const jobId = r.stdout.trim().split(';')[0];
  if (!/^\d+$/.test(jobId)) throw new Error(`sbatch printed no job id: ${r.stdout}`);
  const submission: Submission = { jobId, folder, hashes: todo.map((t) => t.hash), submittedAt: new Date().toISOString() };
  writeJsonAtomic(submissionsFile(plan.dir), [...readSubmissions(plan.dir), submission]);
  return { ...base, submission, script: scriptFile };
}
