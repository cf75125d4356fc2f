/**
 * What a worker process runs: one experiment run, or one stage (a cached training step several runs share). Both
 * are plain JSON, so a task file can hand them to local workers and to Slurm array tasks alike, and both are
 * addressed by their run-cache hash (their directory under data/runs).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../engine/backend';
import { dataDir, isPlainObject, runJsonProblem } from '../engine/runs';
import { getExperiment, getStage } from '../experiments/catalog';
import { run } from '../experiments/run';
import { ensureStage, stageNode, type StageNode } from '../experiments/stage';
import type { ResolvedRun } from '../experiments/run';

export interface RunTask {
  kind: 'run';
  experiment: string;
  preset: string;
  seed: number;
  /** The overrides the run was asked with (the worker resolves them again; same config, same hash). */
  overrides: Record<string, unknown>;
  hash: string;
  runDir: string;
  label: string;
}

export interface StageTask {
  kind: 'stage';
  stage: string;
  config: unknown;
  seed: number;
  hash: string;
  runDir: string;
  label: string;
}

export type WorkerTask = RunTask | StageTask;

/** The run directory of a hash in the shared cache. */
export const cacheDir = (hash: string) => path.join(dataDir(), 'runs', hash);

/** Finished: results.json is there and readable (an empty or cut-short one is not done: the run recomputes it). */
export function isDone(task: { runDir: string; kind?: string }): boolean {
  return runJsonProblem(path.join(task.runDir, 'results.json'), task.kind === 'stage' ? isPlainObject : holdsRunResults) === null;
}

const holdsRunResults = (v: unknown): string | null => {
  const wrong = isPlainObject(v);
  if (wrong) return wrong;
  const r = (v as { results?: unknown }).results;
  return r !== null && typeof r === 'object' ? null : 'its "results" are missing';
};

export function runTask(r: ResolvedRun, overrides: Record<string, unknown>, label?: string): RunTask {
  return { kind: 'run', experiment: r.experiment.id, preset: r.preset, seed: r.seed, overrides, hash: r.hash, runDir: r.out ?? cacheDir(r.hash), label: label ?? `${r.experiment.id} ${r.hash}` };
}

export function stageTask(node: StageNode): StageTask {
  return { kind: 'stage', stage: node.def.name, config: node.config, seed: node.seed, hash: node.hash, runDir: cacheDir(node.hash), label: `${node.def.name} ${node.hash}` };
}

/** Runs a task in this process (a worker, or the in-process scheduler); resolves when its results.json exists. */
export async function executeTask(task: WorkerTask): Promise<void> {
  await initBackend();
  if (task.kind === 'stage') {
    const node = stageNode(getStage(task.stage), task.config, task.seed);
    if (node.hash !== task.hash) throw new Error(`stage ${task.label}: this build hashes its config to ${node.hash}, not ${task.hash} (the code changed since the task was planned)`);
    await ensureStage(node);
    return;
  }
  const out = task.runDir === cacheDir(task.hash) ? undefined : task.runDir;
  const outcome = await run(getExperiment(task.experiment), { preset: task.preset, seed: task.seed, overrides: task.overrides, out });
  if (path.resolve(outcome.runDir) !== path.resolve(task.runDir)) throw new Error(`run ${task.label} landed in ${outcome.runDir}, not ${task.runDir}`);
}
