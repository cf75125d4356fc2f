/**
 * `wraplab sweep run`: a whole sweep on this machine. Finished runs (results.json in the run cache) are
 * skipped, interrupted ones resume from their checkpoint, the rest run in the worker pool, the stages they
 * share first (the scheduler's graph: lib/sweep/schedule.ts); one progress display counts tasks for the whole
 * sweep, and a summary lists every failure with its log. Rerunning the same sweep therefore retries exactly the
 * failed and missing runs.
 */
import { createProgress } from '../engine/progress';
import { getExperiment } from '../experiments/catalog';
import { resolveRun } from '../experiments/run';
import { PlannedTask, planSweep } from './plan';
import { PoolOptions, TaskResult, defaultJobs, runPool } from './pool';
import { criticalPath, planWork } from './schedule';
import { SweepSpec } from './spec';
import { isDone, type WorkerTask } from './tasks';

export interface SweepSummary {
  name: string;
  dir: string;
  total: number;
  /** Already finished before this call (reused from the run cache). */
  cached: number;
  finished: number;
  failed: TaskResult[];
  /** Left alone because another live process is running them. */
  busy: TaskResult[];
  /** Shared stages trained before the runs that need them (0 when the cache held them). */
  stages: number;
  jobs: number;
  wallMs: number;
}

/** Tasks that share a run (same resolved config) run once. */
function uniqueByRun(tasks: PlannedTask[]): PlannedTask[] {
  const seen = new Set<string>();
  return tasks.filter((t) => (seen.has(t.hash) ? false : (seen.add(t.hash), true)));
}

export async function runSweep(spec: SweepSpec, opts: PoolOptions = {}): Promise<SweepSummary> {
  const started = Date.now();
  const plan = planSweep(spec);
  const unique = uniqueByRun(plan.tasks);
  const todo = unique.filter((t) => !isDone(t));
  // The runs' stages join the graph: shared parents train once, first, in their own workers.
  const items = planWork(todo.map((t) => ({ resolved: resolveRun(getExperiment(t.experiment), { preset: t.preset, seed: t.seed, overrides: t.overrides }), overrides: t.overrides, label: t.label })));
  const byHash = new Map<string, WorkerTask>(todo.map((t) => [t.hash, t]));
  const tasks = items.map((i) => byHash.get(i.task.hash) ?? i.task);
  const jobs = Math.max(1, Math.min(opts.jobs ?? defaultJobs(), Math.max(1, tasks.length)));
  const progress = createProgress(`sweep ${spec.name}`, tasks.length);
  let ended = 0;
  let failed = 0;
  let running = 0;
  const results = await runPool(plan.dir, tasks, {
    ...opts,
    jobs,
    deps: new Map(items.map((i) => [i.task.hash, i.deps])),
    priority: criticalPath(items),
    onStart: (task, child) => {
      running++;
      opts.onStart?.(task, child);
    },
    onFinish: (r) => {
      running--;
      ended++;
      if (r.status !== 'finished') failed++;
      progress.update(ended, { running, failed });
      opts.onFinish?.(r);
    },
  });
  progress.finish({ failed });
  const runs = results.filter((r) => r.task.kind === 'run');
  return {
    name: spec.name,
    dir: plan.dir,
    total: unique.length,
    cached: unique.length - todo.length,
    finished: runs.filter((r) => r.status === 'finished').length,
    failed: results.filter((r) => r.status === 'failed' || r.status === 'skipped'),
    busy: results.filter((r) => r.status === 'busy'),
    stages: results.filter((r) => r.task.kind === 'stage' && r.status === 'finished').length,
    jobs,
    wallMs: Date.now() - started,
  };
}

function seconds(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** The end-of-sweep report: counts, then one line per failure with its log. */
export function formatSummary(s: SweepSummary): string {
  const lines = [
    `sweep ${s.name}: ${s.total} runs — ${s.cached} already finished, ${s.finished} finished now, ${s.failed.length} failed` +
      (s.busy.length ? `, ${s.busy.length} running elsewhere` : '') +
      (s.stages ? `, ${s.stages} shared stages trained first` : '') +
      ` (${s.jobs} workers, ${seconds(s.wallMs)}); folder ${s.dir}`,
  ];
  for (const f of s.failed) lines.push(`  ${f.status === 'skipped' ? 'SKIPPED' : 'FAILED'} ${f.task.label}: ${f.error} (log: ${f.log})`);
  if (s.failed.length) lines.push(`  rerun the same command to retry only the failed and missing runs`);
  return lines.join('\n');
}
