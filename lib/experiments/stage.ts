/**
 * Stages: the cached steps experiments build on (pretrain -> fine-tune -> reverse fine-tune, an evaluation, a
 * probe), one mechanism for every testbed. A stage has a name, a code version, a config, the parent stages it
 * starts from, and a run function that works in its own run directory (data/runs/<hash>/) and returns a summary
 * (results.json: its presence marks the stage finished). The hash covers name, version, seed, config and the
 * parents' hashes, so changing a parent, or bumping a version, changes every descendant.
 *
 * A child never receives a live model: it loads its parent's saved model (`parent.loadModel()`), so any stage can
 * run in any process, after any other, and the scheduler (lib/sweep/schedule.ts) can train shared parents first
 * and independent stages side by side.
 */
import * as fs from 'node:fs';
import { initBackend, kernelsTag } from '../engine/backend';
import { CheckpointError, loadModel } from '../engine/checkpoint';
import { RunFileError } from '../engine/errors';
import type { Transformer } from '../engine/model';
import { Run, hashConfig, type MetricRow } from '../engine/runs';

export interface StageContext<C> {
  config: C;
  seed: number;
  /** This stage's run directory. */
  run: Run;
  /** The finished parents, in the order `parents` listed them. */
  parents: StageResult<unknown>[];
}

export interface StageDef<C, R> {
  /** Unique; names the stage in run keys and worker tasks (`pcfg-finetune`). */
  readonly name: string;
  /** Bump when the stage's code changes what it computes: every cached run of it (and its descendants) is redone. */
  readonly version: number;
  /** The stages this one starts from. */
  parents?(config: C, seed: number): StageNode<unknown>[];
  /** Relative cost (about a training FLOP count), for scheduling only. */
  cost?(config: C): number;
  /** Does the work in ctx.run (train, save model.safetensors, log metrics) and returns the summary. */
  run(ctx: StageContext<C>): Promise<R>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyStageDef = StageDef<any, any>;

export function defineStage<C, R>(def: StageDef<C, R>): StageDef<C, R> {
  return Object.freeze({ ...def });
}

/** One stage with its config and seed: what to compute and where it is cached. */
export interface StageNode<R = unknown> {
  readonly def: StageDef<unknown, R>;
  readonly config: unknown;
  readonly seed: number;
  readonly parents: readonly StageNode<unknown>[];
  readonly key: { stage: string; version: number; seed: number; config: unknown; parents: string[]; kernels?: string };
  readonly hash: string;
}

/** The node of `def` at `config` and `seed` (its parents built from the config). */
export function stageNode<C, R>(def: StageDef<C, R>, config: C, seed: number): StageNode<R> {
  const parents = def.parents?.(config, seed) ?? [];
  const kernels = kernelsTag(); // a non-stock kernel provider: other numerics, another cache entry
  const key = { stage: def.name, version: def.version, seed, config, parents: parents.map((p) => p.hash), ...(kernels ? { kernels } : {}) };
  return { def: def as StageDef<unknown, R>, config, seed, parents, key, hash: hashConfig(key) };
}

/** Every node of a graph once, parents before children. */
export function stageClosure(nodes: readonly StageNode<unknown>[]): StageNode<unknown>[] {
  const seen = new Map<string, StageNode<unknown>>();
  const visit = (n: StageNode<unknown>) => {
    if (seen.has(n.hash)) return;
    n.parents.forEach(visit);
    seen.set(n.hash, n);
  };
  nodes.forEach(visit);
  return [...seen.values()];
}

/** A finished stage: its summary, metrics and model, read from its run directory when asked for. */
export class StageResult<R> {
  constructor(
    readonly node: StageNode<R>,
    readonly run: Run,
  ) {}

  get hash(): string {
    return this.node.hash;
  }

  /** The summary the stage returned. */
  get results(): R {
    return this.run.readResults<R>();
  }

  /** Every row of the stage's metrics.jsonl. */
  metrics(): MetricRow[] {
    return this.run.metrics();
  }

  get hasModel(): boolean {
    return fs.existsSync(this.run.file('model.safetensors'));
  }

  /** The stage's trained model, as a new Transformer (the caller disposes it). */
  loadModel(): Transformer {
    if (!this.hasModel) throw new RunFileError(`stage ${this.node.def.name} (${this.run.dir}) saved no model; delete that directory to recompute the stage`);
    try {
      return loadModel(this.run.file('model.safetensors')).model;
    } catch (e) {
      if (e instanceof CheckpointError && e.damaged) throw new CheckpointError(`stage ${this.node.def.name}: ${e.message.split('; ')[0]}; delete ${this.run.dir} to recompute the stage`, true);
      throw e;
    }
  }
}

/** Runs a stage (its parents first) unless the cache holds it; safe across processes (run locks). */
export async function ensureStage<R>(node: StageNode<R>): Promise<StageResult<R>> {
  const parents: StageResult<unknown>[] = [];
  for (const p of node.parents) parents.push(await ensureStage(p));
  const run = Run.open(node.key);
  if (!run.complete) {
    await initBackend();
    await run.withLock(async () => {
      if (run.complete) return; // another process finished it while we waited
      const results = await node.def.run({ config: node.config, seed: node.seed, run, parents });
      run.writeResults(results);
    });
  }
  return new StageResult(node, run);
}
