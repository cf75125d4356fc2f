/**
 * Running an experiment: resolve the preset with the overrides, hash the resolved config, reuse the finished run
 * or compute it (its declared stages first) and write results.json. The CLI, the notebooks, studies, sweeps and
 * tests all go through `run`.
 */
import * as path from 'node:path';
import { z } from 'zod';
import { initBackend, kernelsTag } from '../engine/backend';
import { MAX_SEED, parseStrictInt } from '../engine/env';
import { cachedRun, hashConfig } from '../engine/runs';
import { type AnyExperiment, type ConfigOf, type Overrides, type Preset, type ResultsOf, UsageError, parsePreset } from './define';
import { deepMerge } from './overrides';
import { ensureStage } from './stage';

/** How to run an experiment: preset (default $WRAPLAB_PRESET, else laptop), seed (default 0), overrides. */
export interface RunOptions<E extends AnyExperiment = AnyExperiment> {
  preset?: Preset | string;
  seed?: number;
  overrides?: Overrides<E>;
  /** Write the run here instead of data/runs/<hash>. */
  out?: string;
  /** Recompute even if a finished run exists. */
  force?: boolean;
}

/** An experiment with its run options: one cell of a study's grid. */
export interface RunSpec<E extends AnyExperiment = AnyExperiment> extends RunOptions<E> {
  experiment: E;
}

/** Declares a run (nothing runs): `spec(pcfg.finetune, { overrides: { finetune: { cTrain: 1 } } })`. */
export function spec<E extends AnyExperiment>(experiment: E, opts: RunOptions<E> = {}): RunSpec<E> {
  return { experiment, ...opts };
}

export interface RunOutcome<E extends AnyExperiment = AnyExperiment> {
  experiment: string;
  preset: Preset;
  seed: number;
  config: ConfigOf<E>;
  results: ResultsOf<E>;
  resultsPath: string;
  runDir: string;
  cached: boolean;
}

/** The preset merged with the overrides, validated; a bad value or an unknown key is one UsageError naming it. */
export function resolveConfig<E extends AnyExperiment>(exp: E, preset: Preset, overrides?: Overrides<E> | Record<string, unknown>): ConfigOf<E> {
  const raw = deepMerge(exp.presets[preset], overrides);
  const parsed = (exp.schema as z.ZodTypeAny).safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i: z.ZodIssue) => `${i.path.join('.') || '(config)'}: ${i.message}`).join('; ');
    throw new UsageError(`invalid config for ${exp.id} (preset ${preset}): ${issues}`);
  }
  const tooLarge = oversizedCounts(parsed.data);
  if (tooLarge.length) throw new UsageError(`invalid config for ${exp.id} (preset ${preset}): ${tooLarge.join('; ')}`);
  return parsed.data as ConfigOf<E>;
}

/** A seed from code (a number) or the command line (its digits, so 2^53 + 1 is not rounded before the check). */
/**
 * Upper bounds on the counts every experiment's config has, by key name: a value past them cannot finish on any
 * machine wraplab runs on (evalSize=1e12 would ask for terabytes; steps=1e12 would run for centuries), so it is
 * refused before anything is allocated or written, naming the key.
 */
const COUNT_LIMITS: [RegExp, number][] = [
  [/(^|\.)(steps|[a-z]*Steps|[a-z]*Every)$/, 10_000_000],
  [/(^|\.)([a-z]*Size|[a-z]*Stories|stories|prompts|[a-z]*Units|maxNewTokens|examples)$/, 1_000_000],
  [/(^|\.)(dModel|dMlp|dHead|nLayers|nHeads|contextLength|vocabSize)$/, 1_000_000],
];

function oversizedCounts(config: unknown, prefix = '', out: string[] = []): string[] {
  if (Array.isArray(config)) config.forEach((v, i) => oversizedCounts(v, `${prefix}[${i}]`, out));
  else if (config && typeof config === 'object') for (const [k, v] of Object.entries(config)) oversizedCounts(v, prefix ? `${prefix}.${k}` : k, out);
  else if (typeof config === 'number' && Number.isInteger(config)) {
    const key = prefix.replace(/\[\d+\]$/, '');
    const limit = COUNT_LIMITS.find(([re]) => re.test(key))?.[1];
    if (limit !== undefined && config > limit) out.push(`${prefix}: ${config} is more than ${limit}, the most a run can finish`);
  }
  return out;
}

export function checkSeed(seed: unknown): number {
  const parsed = typeof seed === 'number' || typeof seed === 'string' ? parseStrictInt(seed, { min: 0, max: MAX_SEED }) : null;
  if (!parsed || 'problem' in parsed) throw new UsageError(`--seed must be an integer in 0..${MAX_SEED}, got ${typeof seed === 'string' ? JSON.stringify(seed) : String(seed)}`);
  return parsed.value;
}

/**
 * The run-cache key of a resolved run: what its hash (its directory under data/runs) names. `kernels` names a
 * non-stock kernel provider (engine/backend.ts kernelsTag), so runs with other numerics never share an entry.
 */
export function runKey(exp: AnyExperiment, seed: number, config: unknown): { experiment: string; version: number; seed: number; config: unknown; kernels?: string } {
  const kernels = kernelsTag();
  return { experiment: exp.id, version: exp.version, seed, config, ...(kernels ? { kernels } : {}) };
}

/** A run with everything resolved: what the scheduler plans and a worker executes. */
export interface ResolvedRun<E extends AnyExperiment = AnyExperiment> {
  experiment: E;
  preset: Preset;
  seed: number;
  config: ConfigOf<E>;
  hash: string;
  out?: string;
}

const RUN_OPTIONS = ['preset', 'seed', 'overrides', 'out', 'force'];
/** A RunSpec (a study's cell) carries its experiment beside the options. */
const SPEC_KEYS = ['experiment'];

/** What code (a notebook, a script in plain JS) may pass wrongly: each mistake one UsageError, never silently ignored. */
function checkRunArgs(experiment: unknown, opts: unknown): void {
  const e = experiment as { id?: unknown; run?: unknown; schema?: unknown } | null;
  if (!e || typeof e !== 'object' || typeof e.id !== 'string' || typeof e.run !== 'function') {
    throw new UsageError(`run needs an experiment handle (e.g. getExperiment('demo-sort') or wl.pcfg.finetune), got ${typeof experiment === 'string' ? `the string ${JSON.stringify(experiment)}` : String(experiment)}`);
  }
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) throw new UsageError(`run options must be an object like { preset: 'smoke' }, got ${JSON.stringify(opts)}`);
  const unknown = Object.keys(opts).filter((k) => !RUN_OPTIONS.includes(k) && !SPEC_KEYS.includes(k));
  if (unknown.length) {
    const hint = unknown.includes('sets') ? `; for --set strings pass overrides: parseSets(['key=value'], experiment.schema)` : '';
    throw new UsageError(`unknown run option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')} (options: ${RUN_OPTIONS.join(', ')})${hint}`);
  }
  const o = (opts as { overrides?: unknown }).overrides;
  if (o !== undefined && (o === null || typeof o !== 'object' || Array.isArray(o))) {
    throw new UsageError(`overrides must be an object like { train: { steps: 5 } }, got ${JSON.stringify(o)}${typeof o === 'string' ? `; for a --set string use parseSets([${JSON.stringify(o)}], experiment.schema)` : ''}`);
  }
}

export function resolveRun<E extends AnyExperiment>(experiment: E, opts: RunOptions<E> = {}): ResolvedRun<E> {
  checkRunArgs(experiment, opts);
  const preset = parsePreset(opts.preset);
  const seed = checkSeed(opts.seed ?? 0);
  const config = resolveConfig(experiment, preset, opts.overrides);
  return { experiment, preset, seed, config, hash: hashConfig(runKey(experiment, seed, config)), out: opts.out ? path.resolve(opts.out) : undefined };
}

/** results.json of an experiment run must hold its own key and a results object ([] or {} alone is damage). */
export function experimentResultsProblem(key: { experiment: string; seed: number }): (v: unknown) => string | null {
  return (v) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return `it holds ${Array.isArray(v) ? 'an array' : JSON.stringify(v)}, not a run's results`;
    const o = v as { experiment?: unknown; seed?: unknown; results?: unknown };
    if (o.experiment !== key.experiment || o.seed !== key.seed) return `it names experiment ${JSON.stringify(o.experiment)} seed ${JSON.stringify(o.seed)}, not ${key.experiment} seed ${key.seed}`;
    if (o.results === null || typeof o.results !== 'object') return 'its "results" are missing';
    return null;
  };
}

/** Runs an experiment (or reads its finished run) and returns its typed outcome. */
export async function run<E extends AnyExperiment>(experiment: E, opts: RunOptions<E> = {}): Promise<RunOutcome<E>> {
  const r = resolveRun(experiment, opts);
  await initBackend();
  const key = runKey(experiment, r.seed, r.config);
  // results.json holds the key and the results, nothing time- or machine-dependent: same seed, same file.
  const outcome = await cachedRun(
    key,
    async (runDir) => {
      const ctx = { preset: r.preset, seed: r.seed, run: runDir, stage: ensureStage };
      return { ...key, results: await experiment.run(r.config, ctx) };
    },
    { dir: r.out, force: opts.force, check: experimentResultsProblem(key) },
  );
  const stored = outcome.results as { results: ResultsOf<E> };
  return { experiment: experiment.id, preset: r.preset, seed: r.seed, config: r.config, results: stored.results, resultsPath: outcome.run.resultsFile, runDir: outcome.run.dir, cached: outcome.cached };
}
