/**
 * Running many experiment configs (a figure's grid: priors x learning rates x C_Tr x seeds). Figure builders and
 * notebooks call `runGrid`; every run goes through the run cache, so a rerun only computes what is missing.
 * This is the in-process, sequential runner; `lib/sweep` provides the parallel (worker processes) and Slurm ones
 * behind the same request type.
 */
import { RunOutcome, RunRequest, runExperiment } from './registry';

export interface GridRequest extends Omit<RunRequest, 'out' | 'force'> {
  experiment: string;
}

export type GridRunner = (requests: GridRequest[]) => Promise<RunOutcome[]>;

/** Runs computed (not read from the cache) by grid runners in this process, and their summed wall time. */
export interface GridWork {
  runs: number;
  runMs: number;
}

const work: GridWork = { runs: 0, runMs: 0 };

/** Counts computed runs; their summed time is what one worker would have taken (the "before parallel" number). */
export function recordGridWork(runs: number, runMs: number): void {
  work.runs += runs;
  work.runMs += runMs;
}

/** A snapshot of the work recorded so far (subtract two snapshots to time a span). */
export function gridWork(): GridWork {
  return { ...work };
}

/** Runs (or reads from the cache) each request in this process, in order, recording the ones it computes. */
export async function runRecorded(requests: GridRequest[]): Promise<RunOutcome[]> {
  const out: RunOutcome[] = [];
  for (const r of requests) {
    const started = performance.now();
    const outcome = await runExperiment(r.experiment, r);
    if (!outcome.cached) recordGridWork(1, performance.now() - started);
    out.push(outcome);
  }
  return out;
}

let runner: GridRunner = runRecorded;

/** Runs every request (cached), in order; results come back in the order of the requests. */
export function runGrid<R = unknown>(requests: GridRequest[]): Promise<RunOutcome<R>[]> {
  return runner(requests) as Promise<RunOutcome<R>[]>;
}

/** Replaces the grid runner (the sweep module installs its parallel one). Returns the previous runner. */
export function setGridRunner(next: GridRunner): GridRunner {
  const prev = runner;
  runner = next;
  return prev;
}

/** The cartesian product of a grid of --set values: {a: [1,2], b: ['x']} -> [['a=1','b=x'], ['a=2','b=x']]. */
export function expandGrid(grid: Record<string, readonly unknown[]>): string[][] {
  let combos: string[][] = [[]];
  for (const [key, values] of Object.entries(grid)) {
    if (values.length === 0) throw new Error(`grid key ${key} has no values`);
    combos = combos.flatMap((c) => values.map((v) => [...c, `${key}=${typeof v === 'string' ? v : JSON.stringify(v)}`]));
  }
  return combos;
}
