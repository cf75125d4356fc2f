/**
 * Pruning by gradient × weight (first-order Taylor; the paper's App. D, Alg. 3).
 *
 * On inputs of the *pretraining* task, with the pretraining labels, compute g = dL/dθ. A unit's score is
 * sum(g ⊙ θ) over its weights: zeroing the unit changes the loss by about −score, so the highest-scoring
 * units are the ones whose removal most *reduces* the pretraining loss — the wrapper, if there is one.
 *
 * Units are addressed by parameter name: a row of a 2-D parameter (a neuron: row j of `blocks.i.mlp.W_out`
 * holds hidden neuron j's outgoing weights) or a single weight. Pruning never edits weights: it builds
 * multiplicative masks (the model's `masks` option), so the unpruned model stays intact and a pruned unit
 * is exactly zero in every forward pass.
 */
import * as tf from '@tensorflow/tfjs';
import type { Batch } from '../engine/data';
import { paramName, type Transformer } from '../engine/model';
import { lossAndGrads } from '../engine/train';
import { batchLoss } from '../engine/evaluate';

export type Granularity = 'row' | 'weight';

export interface PruneSpec {
  /** 'row': one unit per row of each parameter; 'weight': one unit per entry. */
  granularity: Granularity;
  /** Parameters whose units may be pruned, e.g. mlpOutputs(model). */
  params: string[];
}

export interface Unit {
  param: string;
  /** Row index ('row') or flat index ('weight'). */
  index: number;
}

export interface ScoredUnit extends Unit {
  score: number;
}

export const unitName = (u: Unit, g: Granularity): string => `${u.param}[${g === 'row' ? u.index : `#${u.index}`}]`;

/** The MLP output matrices: pruning row j of `blocks.i.mlp.W_out` removes hidden neuron j of block i. */
export function mlpOutputs(model: Transformer, layers?: number[]): string[] {
  const ls = layers ?? Array.from({ length: model.config.nLayers }, (_, i) => i);
  return ls.map((i) => paramName('W_out', i));
}

/** Every 2-D weight matrix of the model (the "all rows of every matrix" variant). */
export function allMatrices(model: Transformer): string[] {
  return model.specs.filter((s) => s.shape.length === 2).map((s) => s.name);
}

/** Pruning state: which units are gone. Masks are rebuilt from it on demand. */
export class PruneMasks {
  private readonly pruned = new Map<string, Set<number>>();
  constructor(
    private readonly model: Transformer,
    readonly granularity: Granularity,
  ) {}

  add(unit: Unit): void {
    let s = this.pruned.get(unit.param);
    if (!s) this.pruned.set(unit.param, (s = new Set()));
    s.add(unit.index);
  }

  has(unit: Unit): boolean {
    return this.pruned.get(unit.param)?.has(unit.index) ?? false;
  }

  get size(): number {
    let n = 0;
    for (const s of this.pruned.values()) n += s.size;
    return n;
  }

  copy(): PruneMasks {
    const out = new PruneMasks(this.model, this.granularity);
    for (const u of this.units()) out.add(u);
    return out;
  }

  units(): Unit[] {
    return [...this.pruned].flatMap(([param, s]) => [...s].map((index) => ({ param, index })));
  }

  /** Masks for Transformer.forward: [rows] for row pruning, the parameter's shape for single weights. Caller disposes. */
  toMasks(): Record<string, tf.Tensor> {
    const masks: Record<string, tf.Tensor> = {};
    for (const [param, set] of this.pruned) {
      if (set.size === 0) continue;
      const shape = this.model.param(param).shape;
      const n = this.granularity === 'row' ? shape[0] : shape.reduce((a, b) => a * b, 1);
      const m = new Float32Array(n).fill(1);
      for (const i of set) m[i] = 0;
      masks[param] = this.granularity === 'row' ? tf.tensor1d(m) : tf.tensor(m, shape);
    }
    return masks;
  }
}

/**
 * Scores every not-yet-pruned unit by sum(g ⊙ θ) on the given batches (gradients averaged over batches),
 * with the current pruning applied. Sorted, highest score first.
 */
export function scoreUnits(model: Transformer, batches: Batch[], spec: PruneSpec, pruned?: PruneMasks): ScoredUnit[] {
  const eligible = new Set(spec.params);
  for (const p of spec.params) model.param(p); // throws on an unknown name
  const sums = new Map<string, Float64Array>();
  const masks = pruned?.toMasks() ?? {};
  try {
    for (const batch of batches) {
      const { grads } = lossAndGrads(model, batch, { trainable: (n) => eligible.has(n), forward: { masks } });
      for (const p of spec.params) {
        // dataSync outside tidy: tidy walks a returned typed array element by element.
        const gwT = tf.tidy(() => {
          const prod = tf.mul(grads[p], model.param(p));
          return spec.granularity === 'row' ? tf.sum(prod, 1) : tf.reshape(prod, [-1]);
        });
        const gw = gwT.dataSync() as Float32Array;
        gwT.dispose();
        let acc = sums.get(p);
        if (!acc) sums.set(p, (acc = new Float64Array(gw.length)));
        for (let i = 0; i < gw.length; i++) acc[i] += gw[i] / batches.length;
      }
      tf.dispose(Object.values(grads));
    }
  } finally {
    tf.dispose(Object.values(masks));
  }
  const scored: ScoredUnit[] = [];
  for (const [param, acc] of sums) {
    for (let index = 0; index < acc.length; index++) {
      if (pruned?.has({ param, index })) continue;
      scored.push({ param, index, score: acc[index] });
    }
  }
  return scored.sort((a, b) => b.score - a.score);
}

/**
 * Calls `measure` once for every not-yet-pruned unit of `spec`, with that unit zeroed on top of `pruned` (the masks
 * are disposed after each call). Single weights with |w| < minAbs are skipped: zeroing them changes nothing
 * measurable. The shared loop of exact scoring and of single-unit scans.
 */
export function forEachUnitAlone<T>(model: Transformer, spec: PruneSpec, pruned: PruneMasks, minAbs: number, measure: (unit: Unit, masks: Record<string, tf.Tensor>) => T): { unit: Unit; value: T }[] {
  const out: { unit: Unit; value: T }[] = [];
  for (const param of spec.params) {
    const p = model.param(param);
    const values = spec.granularity === 'weight' ? (p.dataSync() as Float32Array) : null;
    const n = spec.granularity === 'row' ? p.shape[0] : p.size;
    for (let index = 0; index < n; index++) {
      if (pruned.has({ param, index }) || (values && Math.abs(values[index]) < minAbs)) continue;
      const trial = pruned.copy();
      trial.add({ param, index });
      const masks = trial.toMasks();
      try {
        out.push({ unit: { param, index }, value: measure({ param, index }, masks) });
      } finally {
        tf.dispose(Object.values(masks));
      }
    }
  }
  return out;
}

/**
 * Exact scores: for every not-yet-pruned unit, the drop in the mean loss over `batches` when that unit alone is
 * zeroed on top of `pruned` (a forward pass per unit, no first-order approximation). Where activations saturate —
 * Tracr's compiled MLPs, hidden units of order 100 — grad x weight misses units whose removal matters; this does
 * not. Single weights with |w| < minAbs are skipped (zeroing them changes nothing measurable). Highest first.
 */
export function exactScores(model: Transformer, batches: Batch[], spec: PruneSpec, pruned: PruneMasks, minAbs = 5e-4): ScoredUnit[] {
  const meanLoss = (masks: Record<string, tf.Tensor>) => batches.reduce((sum, b) => sum + batchLoss(model, b, { masks }), 0) / batches.length;
  const baseMasks = pruned.toMasks();
  let base: number;
  try {
    base = meanLoss(baseMasks);
  } finally {
    tf.dispose(Object.values(baseMasks));
  }
  return forEachUnitAlone(model, spec, pruned, minAbs, (_, masks) => base - meanLoss(masks))
    .map(({ unit, value }) => ({ ...unit, score: value }))
    .sort((a, b) => b.score - a.score);
}

export interface PruneStep<M> {
  /** Number of units pruned so far. */
  k: number;
  /** The unit pruned at this step (undefined for k = 0). */
  unit?: ScoredUnit;
  metrics: M;
}

/**
 * Prunes up to maxUnits units, measuring `evaluate(masks)` after each (and before any). `iterative`
 * re-scores after every unit (what revives capabilities in the calibration runs); otherwise units are
 * taken in the order of one initial scoring (single-shot, the paper's Alg. 3). `scoring: 'exact'` ranks units by
 * the measured loss drop of removing each (`exactScores`) instead of grad x weight.
 */
export function pruneSweep<M>(
  model: Transformer,
  opts: {
    spec: PruneSpec;
    maxUnits: number;
    scoringBatches: Batch[];
    evaluate: (masks: Record<string, tf.Tensor>) => M;
    iterative?: boolean;
    scoring?: 'gradxweight' | 'exact';
  },
): PruneStep<M>[] {
  const pruned = new PruneMasks(model, opts.spec.granularity);
  const measure = () => {
    const masks = pruned.toMasks();
    try {
      return opts.evaluate(masks);
    } finally {
      tf.dispose(Object.values(masks));
    }
  };
  const steps: PruneStep<M>[] = [{ k: 0, metrics: measure() }];
  const score = () =>
    opts.scoring === 'exact' ? exactScores(model, opts.scoringBatches, opts.spec, pruned) : scoreUnits(model, opts.scoringBatches, opts.spec, pruned);
  let order = opts.iterative ? [] : score();
  for (let k = 1; k <= opts.maxUnits; k++) {
    if (opts.iterative) order = score();
    const next = order.find((u) => !pruned.has(u));
    if (!next) break;
    pruned.add(next);
    steps.push({ k, unit: next, metrics: measure() });
  }
  return steps;
}
