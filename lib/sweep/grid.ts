/**
 * The parallel grid runner: figure builders and notebooks call `runGrid(requests)`; with `useParallelGrid()`
 * the runs that are not in the run cache yet train in worker processes (one per core), then every outcome is
 * read back through `runExperiment` in request order. Each run is a pure function of its config and seed,
 * so the results are the same as the sequential runner's; only `cached` differs (runs computed by workers
 * come back as cached).
 */
import * as path from 'node:path';
import { createProgress } from '../engine/progress';
import { GridRequest, GridRunner, recordGridWork, runRecorded, setGridRunner } from '../experiments/grid';
import { RunOutcome, parsePreset } from '../experiments/registry';
import { isFinished, planTasks, sweepsRoot } from './plan';
import { defaultJobs, runPool } from './pool';
import { taskLabel } from './spec';

export interface ParallelGridOptions {
  /** Worker processes (default $WRAPLAB_JOBS, else the number of cores). */
  jobs?: number;
}

export class GridRunError extends Error {
  override name = 'GridRunError';
}

export function parallelGridRunner(opts: ParallelGridOptions = {}): GridRunner {
  return async (requests: GridRequest[]): Promise<RunOutcome[]> => {
    const jobs = opts.jobs ?? defaultJobs();
    const planned = planTasks(
      requests.map((r, index) => ({ index, experiment: r.experiment, preset: parsePreset(r.preset), seed: r.seed ?? 0, sets: [...(r.sets ?? [])], varying: [...(r.sets ?? [])] })),
    );
    const seen = new Set<string>();
    const todo = planned.filter((t) => !isFinished(t) && !seen.has(t.hash) && (seen.add(t.hash), true));
    // One missing run trains faster in this process (no second backend start-up).
    if (jobs > 1 && todo.length > 1) {
      const progress = createProgress(`grid (${jobs} workers)`, todo.length);
      let ended = 0;
      const results = await runPool(path.join(sweepsRoot(), '_grid'), todo, { jobs, onFinish: () => progress.update(++ended) });
      progress.finish();
      const finished = results.filter((r) => r.status === 'finished');
      recordGridWork(finished.length, finished.reduce((sum, r) => sum + r.wallMs, 0));
      const failed = results.filter((r) => r.status !== 'finished');
      if (failed.length) {
        const lines = failed.map((f) => `  ${f.task.experiment} ${taskLabel(f.task)}: ${f.error ?? f.status} (log: ${f.log})`);
        throw new GridRunError(`${failed.length} of ${todo.length} grid runs failed:\n${lines.join('\n')}`);
      }
    }
    // Reads back what the workers computed; a run left (one missing, or jobs = 1) trains here.
    return runRecorded(requests);
  };
}

/**
 * Makes `runGrid` parallel for this process; returns a function that restores the previous runner.
 * Inside a sweep worker it does nothing (a worker's grids stay sequential: no workers spawning workers).
 */
export function useParallelGrid(opts: ParallelGridOptions = {}): () => void {
  if (process.env.WRAPLAB_SWEEP_WORKER === '1') return () => {};
  const prev = setGridRunner(parallelGridRunner(opts));
  return () => {
    setGridRunner(prev);
  };
}
