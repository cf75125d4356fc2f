/**
 * An experiment: a typed function (config, context) -> results with presets smoke | laptop | paper beside it, a
 * strict zod schema for its config, and the stages (cached training runs) it builds on. `defineExperiment` returns
 * a handle whose types carry the config and the results, so `run(handle, { overrides })` is checked by the compiler:
 * a misspelt or renamed key is a type error, not a run-time surprise.
 */
import { z } from 'zod';
import { WraplabError } from '../engine/errors';
import type { Run } from '../engine/runs';
import type { StageNode, StageResult } from './stage';

export const PRESETS = ['smoke', 'laptop', 'paper'] as const;
export type Preset = (typeof PRESETS)[number];
export const DEFAULT_PRESET: Preset = 'laptop';

/** A mistake in what the user asked for (unknown id, preset or key, bad value): exit code 2, no stack trace. */
export class UsageError extends WraplabError {}

export interface ExperimentContext {
  preset: Preset;
  seed: number;
  /** This run's directory (results.json is written there when run returns). */
  run: Run;
  /** A stage this experiment declared (trained now if the cache lacks it); its model loads lazily. */
  stage<R>(node: StageNode<R>): Promise<StageResult<R>>;
}

export interface ExperimentDef<S extends z.ZodTypeAny, R> {
  id: string;
  title: string;
  description: string;
  /** Bump when the experiment's code changes its results, so cached runs are not reused. */
  version: number;
  schema: S;
  presets: Record<Preset, z.input<S>>;
  /**
   * The stages the run reads (each with its parents): the scheduler trains them first, shared across runs and
   * in parallel workers. A stage used but not declared still works (trained on first use), only later.
   */
  stages?(config: z.output<S>, seed: number): StageNode[];
  /** Relative cost of the run itself beyond its stages (scheduling only); default 1. */
  cost?(config: z.output<S>): number;
  run(config: z.output<S>, ctx: ExperimentContext): Promise<R>;
}

declare const resultsBrand: unique symbol;

/** A defined experiment. The phantom `[resultsBrand]` carries the results type through `run`. */
export type Experiment<S extends z.ZodTypeAny = z.ZodTypeAny, R = unknown> = Readonly<ExperimentDef<S, R>> & { readonly [resultsBrand]?: R };

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyExperiment = Experiment<any, any>;
export type ConfigOf<E extends AnyExperiment> = z.output<E['schema']>;
export type ConfigInputOf<E extends AnyExperiment> = z.input<E['schema']>;
export type ResultsOf<E extends AnyExperiment> = E extends Experiment<z.ZodTypeAny, infer R> ? R : never;

/** Any part of a config, nested: objects merge key by key into the preset; arrays and values replace. */
export type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;
export type Overrides<E extends AnyExperiment> = DeepPartial<ConfigInputOf<E>>;

/** Declares an experiment (pure: nothing is registered or run; the catalog lists the defined ones). */
export function defineExperiment<S extends z.ZodTypeAny, R>(def: ExperimentDef<S, R>): Experiment<S, R> {
  for (const p of PRESETS) if (!(p in def.presets)) throw new Error(`experiment ${def.id}: no ${p} preset`);
  return Object.freeze({ ...def }) as Experiment<S, R>;
}

/** One preset per name, from a function of the preset. */
export const presetsOf = <T>(make: (p: Preset) => T): Record<Preset, T> => ({ smoke: make('smoke'), laptop: make('laptop'), paper: make('paper') });

export function parsePreset(value: string | undefined): Preset {
  const p = value ?? process.env.WRAPLAB_PRESET ?? DEFAULT_PRESET;
  if (!(PRESETS as readonly string[]).includes(p)) throw new UsageError(`unknown preset "${p}"; use one of ${PRESETS.join(', ')}`);
  return p as Preset;
}
