/**
 * A sweep spec: one experiment at one preset, run for every combination of a grid of config keys
 * (and/or an explicit list of override sets) and every seed. Written as a JSON file or given as CLI flags:
 *
 *   { "name": "demo-lr", "experiment": "demo-sort", "preset": "smoke", "seeds": [0, 1],
 *     "grid": { "train.optimizer.lr": [0.001, 0.003] }, "sets": ["train.steps=100"] }
 *
 * expands to 4 tasks (2 learning rates x 2 seeds). Every task's overrides are one object: the fixed sets, then
 * its list entry, then its grid combination (each key checked against the experiment's schema).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { MAX_SEED, parseStrictInt } from '../engine/env';
import { getExperiment } from '../experiments/catalog';
import { PRESETS, UsageError } from '../experiments/define';
import { deepMerge, parseSets, parseValue, unflattenOverrides } from '../experiments/overrides';

const SetString = z.string().regex(/^[^=]+=/, 'an override is "key.path=value"');
const GridValue = z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(z.unknown()), z.record(z.unknown())]);

export const SweepSpecSchema = z
  .object({
    /** Names the sweep's folder (data/sweeps/<name>); defaults to the spec file's name. */
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, . _ - only').optional(),
    experiment: z.string().min(1),
    preset: z.enum(PRESETS),
    seeds: z.array(z.number().int().min(0).max(MAX_SEED, `a seed is at most ${MAX_SEED}`)).min(1).default([0]),
    /** Cartesian product: every key's values against every other key's. */
    grid: z.record(z.array(GridValue).min(1, 'a grid key needs at least one value')).default({}),
    /** Explicit override sets, each crossed with the grid (for combinations a grid cannot express). */
    list: z.array(z.array(SetString)).min(1).optional(),
    /** Overrides every task gets, before its own. */
    sets: z.array(SetString).default([]),
  })
  .strict();
export type SweepSpecInput = z.input<typeof SweepSpecSchema>;
export type SweepSpec = z.output<typeof SweepSpecSchema> & { name: string };

/** One run of a sweep: what `run(experiment, { preset, seed, overrides })` gets. */
export interface SweepTask {
  /** Position in the expanded sweep (stable while the spec does not change). */
  index: number;
  experiment: string;
  preset: string;
  seed: number;
  /** Fixed sets, then this task's list entry, then its grid combination, merged. */
  overrides: Record<string, unknown>;
  /** Only the values that vary across the sweep (list + grid), by dotted key, for labels and tables. */
  varying: Record<string, unknown>;
}

function formatIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(spec)'}: ${i.message}`).join('; ');
}

/** Validates a spec object; `fallbackName` is used when it has no name. Throws UsageError naming every problem. */
export function parseSweepSpec(raw: unknown, fallbackName?: string): SweepSpec {
  const parsed = SweepSpecSchema.safeParse(raw);
  if (!parsed.success) throw new UsageError(`invalid sweep spec: ${formatIssues(parsed.error)}`);
  const spec = parsed.data;
  getExperiment(spec.experiment); // unknown id -> UsageError listing the known ones
  const name = spec.name ?? fallbackName ?? spec.experiment;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new UsageError(`invalid sweep name "${name}"; set "name" (letters, digits, . _ -)`);
  return { ...spec, name };
}

/** Reads and validates a JSON spec file. */
export function loadSweepSpec(file: string): SweepSpec {
  if (!fs.existsSync(file)) throw new UsageError(`sweep spec ${file} does not exist`);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`sweep spec ${file} is not valid JSON: ${(e as Error).message}`);
  }
  return parseSweepSpec(raw, path.basename(file).replace(/\.json$/i, ''));
}

function seedOf(digits: string, part: string): number {
  const parsed = parseStrictInt(digits, { min: 0, max: MAX_SEED });
  if ('problem' in parsed) throw new UsageError(`--seeds: ${part} is out of range (a seed is an integer in 0..${MAX_SEED})`);
  return parsed.value;
}

/** Parses `1,2,5` and `0-3` (and mixes: `0-2,7`) into seeds. */
export function parseSeeds(text: string): number[] {
  const seeds: number[] = [];
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const range = /^(\d+)-(\d+)$/.exec(part);
    if (range) {
      const [lo, hi] = [seedOf(range[1], part), seedOf(range[2], part)];
      if (hi < lo) throw new UsageError(`--seeds range ${part} is empty`);
      if (hi - lo >= 100_000) throw new UsageError(`--seeds range ${part} has ${hi - lo + 1} seeds; a sweep takes at most 100000`);
      for (let s = lo; s <= hi; s++) seeds.push(s);
    } else if (/^\d+$/.test(part)) {
      seeds.push(seedOf(part, part));
    } else {
      throw new UsageError(`--seeds takes non-negative integers and ranges like 0-3, got "${part}"`);
    }
  }
  if (seeds.length === 0) throw new UsageError('--seeds is empty');
  return seeds;
}

/** `key=v1,v2,v3` -> [key, [v1, v2, v3]], each value parsed as JSON when it parses (as --set does). */
export function parseGridFlag(flag: string): [string, unknown[]] {
  const eq = flag.indexOf('=');
  if (eq <= 0 || eq === flag.length - 1) throw new UsageError(`--grid needs key=value1,value2,..., got "${flag}"`);
  return [flag.slice(0, eq), flag.slice(eq + 1).split(',').map(parseValue)];
}

/** The cartesian product of a grid: {a: [1, 2], b: ['x']} -> [{a: 1, b: 'x'}, {a: 2, b: 'x'}] (dotted keys). */
export function expandGrid(grid: Record<string, readonly unknown[]>): Record<string, unknown>[] {
  let combos: Record<string, unknown>[] = [{}];
  for (const [key, values] of Object.entries(grid)) {
    if (values.length === 0) throw new UsageError(`grid key ${key} has no values`);
    combos = combos.flatMap((c) => values.map((v) => ({ ...c, [key]: v })));
  }
  return combos;
}

export interface SweepFlags {
  name?: string;
  experiment?: string;
  preset?: string;
  seeds?: string;
  grid?: string[];
  set?: string[];
}

/** Builds a spec from CLI flags, or loads SPEC and lets the flags override its fields. */
export function specFromCli(file: string | undefined, flags: SweepFlags): SweepSpec {
  let raw: Record<string, unknown> = {};
  let fallbackName: string | undefined;
  if (file) {
    const base = loadSweepSpec(file);
    raw = { ...base };
    fallbackName = base.name;
  } else if (!flags.experiment) {
    throw new UsageError('give a sweep spec file, or --experiment ID (with --preset, --seeds, --grid key=v1,v2, --set key=v)');
  }
  if (flags.name) raw.name = flags.name;
  if (flags.experiment) raw.experiment = flags.experiment;
  if (flags.preset) raw.preset = flags.preset;
  if (flags.seeds) raw.seeds = parseSeeds(flags.seeds);
  if (flags.grid?.length) raw.grid = { ...((raw.grid as object) ?? {}), ...Object.fromEntries(flags.grid.map(parseGridFlag)) };
  if (flags.set?.length) raw.sets = [...((raw.sets as string[]) ?? []), ...flags.set];
  return parseSweepSpec(raw, fallbackName);
}

/** Every task of the sweep, in a fixed order: list entry, then grid combination, then seed (innermost). */
export function expandSweep(spec: SweepSpec): SweepTask[] {
  const schema = getExperiment(spec.experiment).schema;
  const fixed = parseSets(spec.sets, schema);
  const tasks: SweepTask[] = [];
  for (const entry of spec.list ?? [[]]) {
    const listed = Object.fromEntries(entry.map((s) => [s.slice(0, s.indexOf('=')), parseValue(s.slice(s.indexOf('=') + 1))]));
    for (const combo of expandGrid(spec.grid)) {
      for (const seed of spec.seeds) {
        const varying = { ...listed, ...combo };
        const overrides = deepMerge(deepMerge(fixed, unflattenOverrides(listed, schema)), unflattenOverrides(combo, schema));
        tasks.push({ index: tasks.length, experiment: spec.experiment, preset: spec.preset, seed, overrides, varying });
      }
    }
  }
  return tasks;
}

/** A short human label: `[3] seed=1 train.optimizer.lr=0.003`. */
export function taskLabel(task: Pick<SweepTask, 'index' | 'seed' | 'varying'>): string {
  const show = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));
  return [`[${task.index}]`, `seed=${task.seed}`, ...Object.entries(task.varying).map(([k, v]) => `${k}=${show(v)}`)].join(' ');
}
