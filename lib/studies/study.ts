/**
 * Studies: what a figure (or a notebook section) needs, as data. A study declares its grid of runs — a plain
 * structure of RunSpecs (`spec(experiment, { overrides })`) with whatever labels it likes around them — and turns
 * the finished runs into typed result tables. Figures (lib/figures) are pure functions of those tables, so the
 * same numbers feed the committed figures, a notebook cell and a test.
 *
 *   const table = await runStudy(pcfg.finetuneStudy, { preset: 'laptop' });
 *   await showFigure(figures.pcfg.fig5(table));
 *
 * Running several studies together (`runStudies`, what `wraplab figures` does) schedules all their runs as one
 * graph: shared stages train once, first, and worker processes stay busy across studies.
 */
import { deepMerge } from '../experiments/overrides';
import type { AnyExperiment, Preset } from '../experiments/define';
import { parsePreset } from '../experiments/define';
import { checkSeed, type RunOutcome, type RunSpec } from '../experiments/run';
import { runAll, type ScheduleOptions } from '../sweep/schedule';

export interface StudyParams {
  preset: Preset;
  seed: number;
}

/** A plan with every RunSpec replaced by its outcome. */
export type Resolved<P> = P extends RunSpec<infer E extends AnyExperiment>
  ? RunOutcome<E>
  : P extends readonly unknown[]
    ? { [K in keyof P]: Resolved<P[K]> }
    : P extends object
      ? { [K in keyof P]: Resolved<P[K]> }
      : P;

export interface Study<P, T> {
  id: string;
  title: string;
  /** The runs, inside any structure (arrays, labelled objects). Declares only: nothing runs here. */
  plan(params: StudyParams): P;
  /** The result tables, from the finished runs. */
  table(resolved: Resolved<P>, params: StudyParams): T | Promise<T>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyStudy = Study<any, any>;
export type TableOf<S> = S extends Study<unknown, infer T> ? T : S extends Study<never, infer T> ? T : never;

export function defineStudy<P, T>(study: Study<P, T>): Study<P, T> {
  return Object.freeze({ ...study });
}

const isSpec = (v: unknown): v is RunSpec =>
  typeof v === 'object' && v !== null && 'experiment' in v && typeof (v as RunSpec).experiment?.run === 'function' && 'schema' in (v as RunSpec).experiment;

/** Every RunSpec of a plan, in a fixed order. */
export function specsOf(plan: unknown, out: RunSpec[] = []): RunSpec[] {
  if (isSpec(plan)) out.push(plan);
  else if (Array.isArray(plan)) plan.forEach((p) => specsOf(p, out));
  else if (typeof plan === 'object' && plan !== null) Object.values(plan).forEach((p) => specsOf(p, out));
  return out;
}

/** The plan with each RunSpec replaced by its outcome (in specsOf order). */
export function substitute<P>(plan: P, outcomes: readonly RunOutcome[]): Resolved<P> {
  let i = 0;
  const walk = (v: unknown): unknown => {
    if (isSpec(v)) return outcomes[i++];
    if (Array.isArray(v)) return v.map(walk);
    if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(plan) as Resolved<P>;
}

export interface StudyOptions extends ScheduleOptions {
  /** Default $WRAPLAB_PRESET, else laptop. */
  preset?: Preset | string;
  seed?: number;
  /**
   * Config overrides for every run of the study, under each run's own (e.g. `{ corpus: { source: dir } }` runs the
   * TinyStories study on real stories). Every key must exist in each experiment's config.
   */
  overrides?: Record<string, unknown>;
}

export function studyParams(opts: StudyOptions): StudyParams {
  return { preset: parsePreset(opts.preset), seed: checkSeed(opts.seed ?? 0) };
}

/** Runs several studies' grids as one schedule and returns each study's tables, in order. */
export async function runStudies<S extends readonly AnyStudy[]>(studies: S, opts: StudyOptions = {}): Promise<{ [K in keyof S]: TableOf<S[K]> }> {
  const [tables] = await runStudiesOverSeeds(studies, [opts.seed ?? 0], opts);
  return tables;
}

/**
 * The studies once per seed, every seed's runs in one schedule (so both cores stay busy across seeds and shared
 * stages of one seed train once); returns the tables per seed, in `seeds` order.
 */
export async function runStudiesOverSeeds<S extends readonly AnyStudy[]>(studies: S, seeds: readonly number[], opts: StudyOptions = {}): Promise<{ [K in keyof S]: TableOf<S[K]> }[]> {
  const all = seeds.map((seed) => {
    const params = studyParams({ ...opts, seed });
    const plans = studies.map((s) => s.plan(params));
    const specs = plans.map((p) =>
      specsOf(p).map((s) => ({ preset: params.preset, seed: params.seed, ...s, ...(opts.overrides ? { overrides: deepMerge(opts.overrides, s.overrides ?? {}) } : {}) })),
    );
    return { params, plans, specs };
  });
  const outcomes = (await runAll(all.flatMap((a) => a.specs.flat()), opts)) as RunOutcome[];
  const out: { [K in keyof S]: TableOf<S[K]> }[] = [];
  let at = 0;
  for (const { params, plans, specs } of all) {
    const tables: unknown[] = [];
    for (let i = 0; i < studies.length; i++) {
      const mine = outcomes.slice(at, at + specs[i].length);
      at += specs[i].length;
      tables.push(await studies[i].table(substitute(plans[i], mine), params));
    }
    out.push(tables as { [K in keyof S]: TableOf<S[K]> });
  }
  return out;
}

/** Runs one study's grid (cached runs are free) and returns its tables. */
export async function runStudy<P, T>(study: Study<P, T>, opts: StudyOptions = {}): Promise<T> {
  const [table] = await runStudies([study] as const, opts);
  return table as T;
}
