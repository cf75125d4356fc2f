/**
 * Where a sweep lives on disk, and which run-cache entry each task is. A task's run is found without running
 * anything: its resolved config hashes to the same `data/runs/<hash>/` that `run` uses, so a sweep
 * sees runs made by `wraplab run`, by notebooks, by the local pool or by Slurm alike.
 *
 *   data/sweeps/<name>/
 *     spec.json            the validated spec
 *     tasks.json           the expanded tasks, each with its run hash and run directory
 *     status/<hash>.json   written by workers: {state: running, pid, host, log} | {state: failed, error, log}
 *     logs/<hash>.log      local workers' output (each attempt appended)
 *     slurm/…              one folder per `sbatch` submission (job script, its tasks), submissions.json
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readJson, writeJsonAtomic } from '../engine/fsutil';
import { dataDir } from '../engine/runs';
import { getExperiment } from '../experiments/catalog';
import { UsageError } from '../experiments/define';
import { resolveRun, type ResolvedRun } from '../experiments/run';
import { SweepSpec, SweepTask, expandSweep, taskLabel } from './spec';
import { type RunTask, runTask } from './tasks';

/** A sweep task with its place in the run cache: the worker task that computes it. */
export type PlannedTask = SweepTask & RunTask;

/** Resolves every task's config (a bad override fails here, before anything runs) and finds its run. */
export function planTasks(tasks: readonly SweepTask[]): PlannedTask[] {
  return tasks.map((t) => {
    let r: ResolvedRun;
    try {
      r = resolveRun(getExperiment(t.experiment), { preset: t.preset, seed: t.seed, overrides: t.overrides });
    } catch (e) {
      throw new UsageError(`sweep task ${taskLabel(t)}: ${(e as Error).message}`);
    }
    return { ...t, ...runTask(r, t.overrides, `${t.experiment} ${taskLabel(t)}`) };
  });
}

export function sweepsRoot(): string {
  return path.join(dataDir(), 'sweeps');
}

export function sweepDir(name: string): string {
  return path.join(sweepsRoot(), name);
}

export interface SweepPlan {
  spec: SweepSpec;
  dir: string;
  tasks: PlannedTask[];
}

/** Expands and resolves a spec and writes spec.json + tasks.json into its sweep folder. */
export function planSweep(spec: SweepSpec): SweepPlan {
  const tasks = planTasks(expandSweep(spec));
  const dir = sweepDir(spec.name);
  writeJsonAtomic(path.join(dir, 'spec.json'), spec);
  writeJsonAtomic(path.join(dir, 'tasks.json'), tasks);
  return { spec, dir, tasks };
}


/** What a worker leaves in status/<hash>.json. */
export type WorkerMarker =
  | { state: 'running'; pid: number; host: string; log?: string; startedAt: string }
  | { state: 'failed'; error: string; host: string; log?: string; exitCode?: number | null; signal?: string | null; finishedAt: string };

export function markerFile(dir: string, hash: string): string {
  return path.join(dir, 'status', `${hash}.json`);
}

export function readMarker(dir: string, hash: string): WorkerMarker | null {
  const f = markerFile(dir, hash);
  if (!fs.existsSync(f)) return null;
  try {
    return readJson<WorkerMarker>(f);
  } catch {
    return null; // cut by a kill mid-write (writes are atomic, so only a foreign edit gets here)
  }
}

export function writeMarker(dir: string, hash: string, marker: WorkerMarker): void {
  writeJsonAtomic(markerFile(dir, hash), marker);
}

export function clearMarker(dir: string, hash: string): void {
  fs.rmSync(markerFile(dir, hash), { force: true });
}

export function localLogFile(dir: string, hash: string): string {
  return path.join(dir, 'logs', `${hash}.log`);
}
