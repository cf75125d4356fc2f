/**
 * The scheduler: runs many experiment runs and the stages they build on as one graph. Every run declares its
 * stages (experiment.stages); each stage names its parents. The scheduler collects the graph of everything not
 * in the run cache yet, gives each task the cost of the longest chain of work that waits on it, and runs the
 * graph — in this process (jobs = 1) or in worker processes, a ready task with the longest chain first, so shared
 * parents train once and first, and both cores stay busy until the last task ends.
 *
 *   const outcomes = await runAll([spec(pcfg.finetune, {...}), spec(pcfg.reft, {...})], { jobs: 2 });
 *
 * Studies, `wraplab figures`, sweeps and notebooks all schedule through here.
 */
import * as path from 'node:path';
import { initBackend } from '../engine/backend';
import { createProgress } from '../engine/progress';
import { EXPERIMENTS, STAGES } from '../experiments/catalog';
import type { AnyExperiment } from '../experiments/define';
import { resolveRun, run, type ResolvedRun, type RunOutcome, type RunSpec } from '../experiments/run';
import { ensureStage, stageClosure } from '../experiments/stage';
import { sweepsRoot } from './plan';
import { defaultJobs, runPool, type TaskResult } from './pool';
import { isDone, runTask, stageTask, type WorkerTask } from './tasks';
import { WraplabError } from '../engine/errors';

/** A task of the graph: what to run, what it waits for, what it costs. */
export interface WorkItem {
  /** What a worker process runs (it finds the experiment or stage by name in the catalog). */
  task: WorkerTask;
  deps: string[];
  cost: number;
  /** Runs it in this process from the objects themselves (works for experiments defined outside the catalog). */
  execute: () => Promise<void>;
}

export class ScheduleError extends WraplabError {}

/** Every run and stage that `runs` need and the cache lacks, each once, parents before children. */
export function planWork(runs: readonly { resolved: ResolvedRun; overrides: Record<string, unknown>; label?: string }[]): WorkItem[] {
  const items = new Map<string, WorkItem>();
  for (const { resolved, overrides, label } of runs) {
    const task = runTask(resolved, overrides, label);
    if (items.has(task.hash) || isDone(task)) continue;
    const exp = resolved.experiment;
    const stages = exp.stages?.(resolved.config, resolved.seed) ?? [];
    for (const node of stageClosure(stages)) {
      const st = stageTask(node);
      if (items.has(st.hash) || isDone(st)) continue;
      items.set(st.hash, { task: st, deps: node.parents.map((p) => p.hash), cost: node.def.cost?.(node.config) ?? 1, execute: async () => void (await ensureStage(node)) });
    }
    const out = resolved.out;
    items.set(task.hash, { task, deps: stages.map((s) => s.hash), cost: exp.cost?.(resolved.config) ?? 1, execute: async () => void (await run(exp, { preset: resolved.preset, seed: resolved.seed, overrides, out })) });
  }
  // Only what is in the graph is waited for (a finished parent is no dependency).
  for (const item of items.values()) item.deps = item.deps.filter((d) => items.has(d));
  return [...items.values()];
}

/** Below this cost (about a FLOP count) a task runs in the scheduling process rather than in a worker. */
export const LIGHT_TASK = 1e9;

/** Each task's cost plus the longest chain of its dependents: who should start first. */
export function criticalPath(items: readonly WorkItem[]): Map<string, number> {
  const children = new Map<string, string[]>();
  for (const it of items) for (const d of it.deps) children.set(d, [...(children.get(d) ?? []), it.task.hash]);
  const cost = new Map(items.map((it) => [it.task.hash, it.cost]));
  const memo = new Map<string, number>();
  const chain = (h: string): number => {
    if (memo.has(h)) return memo.get(h)!;
    const v = (cost.get(h) ?? 0) + Math.max(0, ...(children.get(h) ?? []).map(chain));
    memo.set(h, v);
    return v;
  };
  return new Map(items.map((it) => [it.task.hash, chain(it.task.hash)]));
}

/** Tasks computed by the scheduler in this process, and their summed run time (what one worker would need). */
export interface Work {
  tasks: number;
  runMs: number;
}
const work: Work = { tasks: 0, runMs: 0 };
/** A snapshot of the work done so far (subtract two to time a span). */
export function workDone(): Work {
  return { ...work };
}

export interface ScheduleOptions {
  /** Worker processes (default $WRAPLAB_JOBS, else 1: everything in this process). */
  jobs?: number;
  log?: (line: string) => void;
}

/** The jobs a call runs with: the option, else $WRAPLAB_JOBS, else 1 (inside a sweep worker always 1). */
function jobsOf(opts: ScheduleOptions): number {
  if (process.env.WRAPLAB_SWEEP_WORKER === '1') return 1;
  if (opts.jobs !== undefined) return opts.jobs;
  return process.env.WRAPLAB_JOBS ? defaultJobs() : 1;
}

/** Runs a planned graph; throws one ScheduleError listing every task that failed or was skipped. */
export async function executeWork(items: readonly WorkItem[], opts: ScheduleOptions = {}): Promise<TaskResult[]> {
  if (items.length === 0) return [];
  const jobs = jobsOf(opts);
  const priority = criticalPath(items);
  const order = [...items].sort((a, b) => priority.get(b.task.hash)! - priority.get(a.task.hash)!);
  let results: TaskResult[];
  if (jobs > 1 && items.length > 1) {
    assertInCatalog(items);
    const progress = createProgress(`${items.length} tasks (${jobs} workers)`, items.length);
    let ended = 0;
    const byHash = new Map(order.map((i) => [i.task.hash, i]));
    results = await runPool(path.join(sweepsRoot(), '_grid'), order.map((i) => i.task), {
      jobs,
      deps: new Map(order.map((i) => [i.task.hash, i.deps])),
      priority,
      onFinish: () => progress.update(++ended),
      // A run that only reads its stages takes less than a worker's start-up (~1.5 s): it runs here.
      inProcess: (t) => {
        const item = byHash.get(t.hash)!;
        return item.cost < LIGHT_TASK ? item.execute : null;
      },
    });
    progress.finish();
  } else {
    results = await runHere(order);
  }
  const finished = results.filter((r) => r.status === 'finished');
  work.tasks += finished.length;
  work.runMs += finished.reduce((s, r) => s + r.wallMs, 0);
  const failed = results.filter((r) => r.status !== 'finished');
  if (failed.length) {
    const lines = failed.map((f) => `  ${f.task.label}: ${f.status === 'skipped' ? `skipped, ${f.error}` : (f.error ?? f.status)}${f.log ? ` (log: ${f.log})` : ''}`);
    throw new ScheduleError(`${failed.length} of ${items.length} tasks failed:\n${lines.join('\n')}`);
  }
  return results;
}

/** Worker processes find experiments and stages by name: ones defined elsewhere (a notebook) run in this process only. */
function assertInCatalog(items: readonly WorkItem[]): void {
  for (const { task } of items) {
    const known = task.kind === 'run' ? EXPERIMENTS.some((e) => e.id === task.experiment) : STAGES.some((s) => s.name === task.stage);
    if (!known) throw new ScheduleError(`${task.kind === 'run' ? `experiment ${task.experiment}` : `stage ${task.stage}`} is not in the catalog (lib/experiments/catalog.ts), so worker processes cannot run it; schedule with jobs: 1`);
  }
}

/** Runs tasks in this process in an order that respects their dependencies (`items` are parents-first). */
async function runHere(items: readonly WorkItem[]): Promise<TaskResult[]> {
  const done = new Map<string, TaskResult>();
  const byHash = new Map(items.map((i) => [i.task.hash, i]));
  const visit = async (item: WorkItem): Promise<TaskResult> => {
    const known = done.get(item.task.hash);
    if (known) return known;
    for (const d of item.deps) {
      const dep = await visit(byHash.get(d)!);
      if (dep.status !== 'finished') {
        const skipped: TaskResult = { task: item.task, status: 'skipped', exitCode: null, signal: null, error: `${dep.task.label} failed first`, log: '', wallMs: 0 };
        done.set(item.task.hash, skipped);
        return skipped;
      }
    }
    const started = performance.now();
    let result: TaskResult;
    try {
      await item.execute();
      result = { task: item.task, status: 'finished', exitCode: 0, signal: null, log: '', wallMs: performance.now() - started };
    } catch (e) {
      result = { task: item.task, status: 'failed', exitCode: 1, signal: null, error: (e as Error).message, log: '', wallMs: performance.now() - started };
    }
    done.set(item.task.hash, result);
    return result;
  };
  const out: TaskResult[] = [];
  for (const item of items) out.push(await visit(item));
  return out;
}

/**
 * Runs every spec (each once, stages first and shared) and returns their outcomes in order, typed per spec.
 * Runs already in the cache cost nothing.
 */
export async function runAll<S extends readonly RunSpec[]>(specs: S, opts: ScheduleOptions = {}): Promise<{ [K in keyof S]: S[K] extends RunSpec<infer E> ? RunOutcome<E> : never }> {
  await initBackend();
  const resolved = specs.map((s) => ({ resolved: resolveRun(s.experiment, s), overrides: (s.overrides ?? {}) as Record<string, unknown> }));
  await executeWork(planWork(resolved), opts);
  const outcomes: RunOutcome<AnyExperiment>[] = [];
  for (const s of specs) outcomes.push(await run(s.experiment, s));
  return outcomes as { [K in keyof S]: S[K] extends RunSpec<infer E> ? RunOutcome<E> : never };
}
