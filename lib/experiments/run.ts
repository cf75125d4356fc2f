/**
 * Running an experiment: resolve the preset with the overrides, hash the resolved config, reuse the finished run
 * or compute it (its declared stages first) and write results.json. The CLI, the notebooks, studies, sweeps and
 * tests all go through `run`.
 */
import * as path from 'node:path';
import { z } from 'zod';
import { initBackend, kernelsTag } from '../engine/backend';
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
  return parsed.data as ConfigOf<E>;
}

export function checkSeed(seed: unknown): number {
  if (!Number.isSafeInteger(seed) || (seed as number) < 0 || (seed as number) > 0xffffffff) {
    throw new UsageError(`--seed must be an integer in 0..4294967295, got ${seed}`);
  }
  return seed as number;
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

export function resolveRun<E extends AnyExperiment>(experiment: E, opts: RunOptions<E> = {}): ResolvedRun<E> {
  const preset = parsePreset(opts.preset);
  const seed = checkSeed(opts.seed ?? 0);
  const config = resolveConfig(experiment, preset, opts.overrides);
  return { experiment, preset, seed, config, hash: hashConfig(runKey(experiment, seed, config)), out: opts.out ? path.resolve(opts.out) : undefined };
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
    { dir: r.out, force: opts.force },
  );
  const stored = outcome.results as { results: ResultsOf<E> };
  return { experiment: experiment.id, preset: r.preset, seed: r.seed, config: r.config, results: stored.results, resultsPath: outcome.run.resultsFile, runDir: outcome.run.dir, cached: outcome.cached };
}
