/**
 * `wraplab sweep collect`: the results of every finished run of a sweep as one table (a danfojs DataFrame,
 * saved as CSV), read from the run cache, so it does not matter whether a run was made locally or on Slurm.
 * One row per task: task (its index), seed, one column per varying override, the run hash, then the run's results
 * flattened to scalar columns (`a.b` for nested objects; arrays are left out: read them from the run).
 */
import * as path from 'node:path';
import { isPlainObject, readRunJson } from '../engine/runs';
import { DataFrame, saveTable, toDataFrame } from '../figures/table';
import { SweepStatus, TaskStatus, sweepStatus } from './status';
import { SweepSpec } from './spec';

type Cell = string | number | boolean | null;
export type ResultRow = Record<string, Cell>;

/** Scalars of a nested object as dotted keys; arrays and nulls-in-arrays are skipped. */
export function flattenScalars(value: unknown, prefix = '', out: ResultRow = {}): ResultRow {
  if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
    if (prefix) out[prefix] = value;
  } else if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flattenScalars(v, prefix ? `${prefix}.${k}` : k, out);
  }
  return out;
}

/** A varying value as a table cell: scalars as they are, anything else as JSON text. */
function cellOf(v: unknown): Cell {
  return v === null || ['string', 'number', 'boolean'].includes(typeof v) ? (v as Cell) : JSON.stringify(v);
}

/** The table row of one finished task. */
export function resultRow(status: TaskStatus): ResultRow {
  const t = status.task;
  const row: ResultRow = { task: t.index, experiment: t.experiment, preset: t.preset, seed: t.seed };
  for (const [k, v] of Object.entries(t.varying)) row[k] = cellOf(v);
  row.run = t.hash;
  const stored = readRunJson<{ results?: unknown }>(path.join(t.runDir, 'results.json'), isPlainObject, 'rerun the sweep (wraplab sweep run) to recompute it');
  for (const [k, v] of Object.entries(flattenScalars(stored.results ?? {}))) row[k in row ? `results.${k}` : k] = v;
  return row;
}

export interface CollectResult {
  status: SweepStatus;
  rows: ResultRow[];
  /** The rows as a danfojs DataFrame (null when no run has finished). */
  table: DataFrame | null;
  /** Where the CSV went (null when no run has finished). */
  csv: string | null;
  failures: TaskStatus[];
  /** Neither finished nor failed: queued, running, interrupted or never started. */
  unfinished: TaskStatus[];
}

/** Every column in every row (danfojs wants rectangular rows); missing cells are null. */
function rectangular(rows: ResultRow[]): ResultRow[] {
  const columns: string[] = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!columns.includes(k)) columns.push(k);
  return rows.map((r) => Object.fromEntries(columns.map((c) => [c, r[c] ?? null])));
}

/** Collects the finished runs; writes `<out or sweep folder>/results.csv`. */
export function collectSweep(spec: SweepSpec, opts: { out?: string } = {}): CollectResult {
  const status = sweepStatus(spec);
  const done = status.tasks.filter((t) => t.state === 'done');
  const rows = rectangular(done.map(resultRow));
  let table: DataFrame | null = null;
  let csv: string | null = null;
  if (rows.length) {
    table = toDataFrame(rows);
    const out = opts.out ? path.resolve(opts.out) : path.join(status.plan.dir, 'results.csv');
    csv = saveTable(table, path.dirname(out), path.basename(out).replace(/\.csv$/i, ''));
  }
  return {
    status,
    rows,
    table,
    csv,
    failures: status.tasks.filter((t) => t.state === 'failed'),
    unfinished: status.tasks.filter((t) => t.state !== 'done' && t.state !== 'failed'),
  };
}
