/**
 * Experiments: each is a function (config, context) -> results, registered by id, with presets
 * smoke | laptop | paper beside it and a strict zod schema for its config. The CLI, the notebooks and the
 * tests all run experiments through `runExperiment`, which resolves the preset and --set overrides,
 * caches finished runs by the hash of the resolved config, and writes results.json.
 */
import * as path from 'node:path';
import { z } from 'zod';
import { initBackend } from '../engine/backend';
import { Run, cachedRun } from '../engine/runs';

export const PRESETS = ['smoke', 'laptop', 'paper'] as const;
export type Preset = (typeof PRESETS)[number];
export const DEFAULT_PRESET: Preset = 'laptop';

export interface ExperimentContext {
  preset: Preset;
  seed: number;
  /** The run directory of this experiment (results.json is written there by runExperiment). */
  run: Run;
  /** Where sub-runs (pretraining, fine-tuning stages) are cached; shared across experiments. */
  runsRoot?: string;
}

export interface Experiment<S extends z.ZodTypeAny = z.ZodTypeAny, R = unknown> {
  id: string;
  title: string;
  description: string;
  /** Bump when the experiment's code changes its results, so cached runs are not reused. */
  version: number;
  schema: S;
  presets: Record<Preset, z.input<S>>;
  run(config: z.output<S>, ctx: ExperimentContext): Promise<R>;
}

const registry = new Map<string, Experiment>();

export function registerExperiment<S extends z.ZodTypeAny, R>(exp: Experiment<S, R>): Experiment<S, R> {
  if (registry.has(exp.id)) throw new Error(`experiment ${exp.id} is registered twice`);
  registry.set(exp.id, exp as unknown as Experiment);
  return exp;
}

export function listExperiments(): Experiment[] {
  return [...registry.values()].sort((a, b) => a.id.localeCompare(b.id));
}

export class UsageError extends Error {}

export function getExperiment(id: string): Experiment {
  const exp = registry.get(id);
  if (!exp) throw new UsageError(`unknown experiment "${id}"; known: ${listExperiments().map((e) => e.id).join(', ')} (see \`wraplab list\`)`);
  return exp;
}

export function parsePreset(value: string | undefined): Preset {
  const p = value ?? process.env.WRAPLAB_PRESET ?? DEFAULT_PRESET;
  if (!(PRESETS as readonly string[]).includes(p)) throw new UsageError(`unknown preset "${p}"; use one of ${PRESETS.join(', ')}`);
  return p as Preset;
}

/** Parses a --set value: JSON when it parses (numbers, booleans, arrays, objects), else the raw string. */
function parseValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/** The object schema inside defaults/optionals/effects, if any. */
function objectShape(schema: z.ZodTypeAny | undefined): Record<string, z.ZodTypeAny> | null {
  let s: z.ZodTypeAny | undefined = schema;
  while (s) {
    if (s instanceof z.ZodObject) return s.shape as Record<string, z.ZodTypeAny>;
    if (s instanceof z.ZodDefault) s = s._def.innerType;
    else if (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap();
    else if (s instanceof z.ZodEffects) s = s.innerType();
    else return null;
  }
  return null;
}

/**
 * Applies `key.sub=value` overrides to a config. Keys are checked against the schema, so a key the preset
 * leaves at its default can still be set, and a misspelt key is an error rather than a silent no-op.
 */
export function applyOverrides(config: unknown, sets: readonly string[], schema?: z.ZodTypeAny): unknown {
  const out = structuredClone(config) as Record<string, unknown>;
  for (const s of sets) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set needs key=value, got "${s}"`);
    const key = s.slice(0, eq);
    const parts = key.split('.');
    let node: Record<string, unknown> = out;
    let shape = objectShape(schema);
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      const known = shape ? Object.keys(shape) : node && typeof node === 'object' ? Object.keys(node) : [];
      if (!known.includes(part)) {
        throw new UsageError(`unknown config key "${key}" (at "${part}"; keys here: ${known.join(', ') || '(none)'})`);
      }
      if (i === parts.length - 1) {
        node[part] = parseValue(s.slice(eq + 1));
      } else {
        if (node[part] === undefined || node[part] === null || typeof node[part] !== 'object') node[part] = {};
        node = node[part] as Record<string, unknown>;
        shape = shape ? objectShape(shape[part]) : null;
      }
    }
  }
  return out;
}

export function resolveConfig<S extends z.ZodTypeAny>(exp: Experiment<S>, preset: Preset, sets: readonly string[] = []): z.output<S> {
  const raw = applyOverrides(exp.presets[preset], sets, exp.schema);
  const parsed = exp.schema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i: z.ZodIssue) => `${i.path.join('.') || '(config)'}: ${i.message}`).join('; ');
    throw new UsageError(`invalid config for ${exp.id} (preset ${preset}): ${issues}`);
  }
  return parsed.data;
}

export interface RunRequest {
  preset?: Preset | string;
  seed?: number;
  sets?: readonly string[];
  /** Write the run here instead of data/runs/<hash>. */
  out?: string;
  /** Recompute even if a finished run exists. */
  force?: boolean;
}

export interface RunOutcome<R = unknown> {
  experiment: string;
  preset: Preset;
  seed: number;
  config: unknown;
  results: R;
  resultsPath: string;
  runDir: string;
  cached: boolean;
}

export async function runExperiment<R = unknown>(id: string, req: RunRequest = {}): Promise<RunOutcome<R>> {
  const exp = getExperiment(id);
  const preset = parsePreset(req.preset);
  const seed = req.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0) throw new UsageError(`--seed must be a non-negative integer, got ${req.seed}`);
  const config = resolveConfig(exp, preset, req.sets ?? []);
  await initBackend();
  const key = { experiment: exp.id, version: exp.version, seed, config };
  // results.json holds the key and the results, nothing time- or machine-dependent: same seed, same file.
  const { run, results, cached } = await cachedRun(
    key,
    async (r) => ({ ...key, results: await exp.run(config, { preset, seed, run: r }) }),
    { dir: req.out ? path.resolve(req.out) : undefined, force: req.force },
  );
  return { experiment: exp.id, preset, seed, config, results: results.results as R, resultsPath: run.resultsFile, runDir: run.dir, cached };
}
