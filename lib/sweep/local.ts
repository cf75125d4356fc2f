/**
 * `wraplab sweep run`: a whole sweep on this machine. Finished runs (results.json in the run cache) are
 * skipped, interrupted ones resume from their checkpoint, the rest run in the worker pool; one progress
 * display counts runs for the whole sweep, and a summary lists every failure with its log. Rerunning the
 * same sweep therefore retries exactly the failed and missing runs.
 */
import { createProgress } from '../engine/progress';
import { PlannedTask, isFinished, planSweep } from './plan';
import { PoolOptions, TaskResult, defaultJobs, runPool } from './pool';
import { SweepSpec, taskLabel } from './spec';

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
  const todo = unique.filter((t) => !isFinished(t));
  const jobs = Math.max(1, Math.min(opts.jobs ?? defaultJobs(), Math.max(1, todo.length)));
  const progress = createProgress(`sweep ${spec.name}`, todo.length);
  let ended = 0;
  let failed = 0;
  let running = 0;
  const results = await runPool(plan.dir, todo, {
    ...opts,
    jobs,
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
  return {
    name: spec.name,
    dir: plan.dir,
    total: unique.length,
    cached: unique.length - todo.length,
    finished: results.filter((r) => r.status === 'finished').length,
    failed: results.filter((r) => r.status === 'failed'),
    busy: results.filter((r) => r.status === 'busy'),
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
      ` (${s.jobs} workers, ${seconds(s.wallMs)}); folder ${s.dir}`,
  ];
  for (const f of s.failed) lines.push(`  FAILED ${taskLabel(f.task)}: ${f.error} (log: ${f.log})`);
  if (s.failed.length) lines.push(`  rerun the same command to retry only the failed and missing runs`);
  return lines.join('\n');
}
