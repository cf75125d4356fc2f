/**
 * Where a sweep lives on disk, and which run-cache entry each task is. A task's run is found without running
 * anything: its resolved config hashes to the same `data/runs/<hash>/` that `runExperiment` uses, so a sweep
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
import { dataDir, hashConfig } from '../engine/runs';
import { UsageError, getExperiment, parsePreset, resolveConfig } from '../experiments/registry';
import { SweepSpec, SweepTask, expandSweep, taskLabel } from './spec';

/** A task with its place in the run cache. */
export interface PlannedTask extends SweepTask {
  hash: string;
  runDir: string;
}

/** The run-cache key `runExperiment` uses for (experiment, preset, seed, sets). Kept equal by a test. */
export function runKey(experiment: string, preset: string, seed: number, sets: readonly string[]): unknown {
  const exp = getExperiment(experiment);
  const config = resolveConfig(exp, parsePreset(preset), sets);
  return { experiment: exp.id, version: exp.version, seed, config };
}

/** Resolves every task's config (a bad override fails here, before anything runs) and finds its run. */
export function planTasks(tasks: readonly SweepTask[]): PlannedTask[] {
  const runsRoot = path.join(dataDir(), 'runs');
  return tasks.map((t) => {
    let key: unknown;
    try {
      key = runKey(t.experiment, t.preset, t.seed, t.sets);
    } catch (e) {
      throw new UsageError(`sweep task ${taskLabel(t)}: ${(e as Error).message}`);
    }
    const hash = hashConfig(key);
    return { ...t, hash, runDir: path.join(runsRoot, hash) };
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

export function isFinished(task: PlannedTask): boolean {
  return fs.existsSync(path.join(task.runDir, 'results.json'));
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
