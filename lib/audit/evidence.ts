/**
 * The six lines of evidence of a wrapper audit, each a pure function of models and capability examples:
 *   behaviour   accuracy and loss on O_PT / O_FT (intervals over examples)
 *   weights     per matrix: relative norm of ΔW = tuned - base, its effective rank, where the change sits
 *   probes      per block: is O_PT's label linearly readable (beside majority and untrained-model baselines)?
 *   pruning     greedy removal of the neurons, heads or single weights that most lower the tuned model's O_PT
 *               loss: does O_PT return?
 *   patching    the tuned model with one component's (block part's, head's) output from the base model: which
 *               restore O_PT?
 *   reft        steps for the tuned model to regain O_PT by fine-tuning, against a control that never had it
 */
import * as tf from '@tensorflow/tfjs';
import { SingularValueDecomposition, Matrix } from 'ml-matrix';
import { extractFeatures, trainProbe } from '../analysis/probe';
import { allMatrices, mlpOutputs, pruneSweep } from '../analysis/prune';
import { bootstrapMean, wilson, type Estimate } from '../analysis/stats';
import { weightedSpan, type BatchSampler } from '../engine/data';
import { generate } from '../engine/generate';
import { actName, layerNames, resolveModelConfig, type Hook, type Transformer } from '../engine/model';
import { Rng } from '../engine/rng';
import { train } from '../engine/train';
import { chunks, toBatch, type CapabilityExample, type CapabilitySet, type JudgedBehaviour } from './capability';

const CHUNK = 32;

/**
 * Per example: the share of its targets that are the argmax (0 or 1 for a one-answer task; the teacher-forced
 * token accuracy of a completion), and the mean cross-entropy over its targets.
 */
export function scoreExamples(
  model: Transformer,
  examples: readonly CapabilityExample[],
  opts: { masks?: Record<string, tf.Tensor>; hooksFor?: (part: CapabilityExample[]) => { hooks: Record<string, Hook>; dispose: () => void } } = {},
): { correct: Float64Array; loss: Float64Array } {
  const correct = new Float64Array(examples.length);
  const loss = new Float64Array(examples.length);
  let offset = 0;
  for (const part of chunks(examples, CHUNK)) {
    const batch = toBatch(part);
    // Logits only over the positions that hold targets, as the engine's loss does.
    const span = weightedSpan(batch);
    const start = span?.start ?? 0;
    const width = (span?.end ?? batch.contextLength) - start;
    const flat: number[] = [];
    const owner: number[] = [];
    const wanted: number[] = [];
    part.forEach((e, b) => {
      for (const [p, t] of e.targets) {
        flat.push(b * width + p - start);
        owner.push(b);
        wanted.push(t);
      }
    });
    const patch = opts.hooksFor?.(part);
    let data: Float32Array;
    let V: number;
    try {
      const out = tf.tidy(() => {
        const tokens = tf.tensor2d(batch.tokens, [batch.batchSize, batch.contextLength], 'int32');
        const { logits } = model.forward(tokens, { masks: opts.masks, hooks: patch?.hooks, logitSpan: span });
        const rows = tf.gather(tf.reshape(logits, [-1, logits.shape[2]]), tf.tensor1d(flat, 'int32'));
        return tf.logSoftmax(rows);
      });
      V = out.shape[1] as number;
      data = out.dataSync() as Float32Array;
      out.dispose();
    } finally {
      patch?.dispose();
    }
    const ok = new Float64Array(part.length);
    const sum = new Float64Array(part.length);
    const count = new Float64Array(part.length);
    for (let i = 0; i < flat.length; i++) {
      const row = data.subarray(i * V, (i + 1) * V);
      let best = 0;
      for (let v = 1; v < V; v++) if (row[v] > row[best]) best = v;
      if (best === wanted[i]) ok[owner[i]]++;
      sum[owner[i]] -= row[wanted[i]];
      count[owner[i]]++;
    }
    for (let b = 0; b < part.length; b++) {
      correct[offset + b] = ok[b] / count[b];
      loss[offset + b] = sum[b] / count[b];
    }
    offset += part.length;
  }
  return { correct, loss };
}

/** Accuracy over examples: a Wilson interval where each example is right or wrong, else a bootstrap of the shares. */
export function accuracyOf(correct: Float64Array, seed: number): Estimate {
  let k = 0;
  let binary = true;
  for (const c of correct) {
    k += c;
    if (c !== 0 && c !== 1) binary = false;
  }
  return binary ? wilson(k, correct.length) : bootstrapMean(correct, { seed });
}

/**
 * The share of the judged prompts whose sampled continuation the judge accepts (Wilson interval). The same seed
 * samples every model, so differences come from the models, not the dice; masks sample a pruned model as itself.
 */
export function judgedRate(model: Transformer, j: JudgedBehaviour, seed: number, masks?: Record<string, tf.Tensor>): Estimate {
  const out = generate(model, j.prompts, { maxNewTokens: j.maxNewTokens, temperature: j.temperature, stopId: j.stopId, seed: Rng.derive(seed, 'audit-judged').int(0, 2 ** 31), forward: masks ? { masks } : undefined });
  return wilson(out.filter((c) => j.judge(c)).length, out.length);
}

export interface Behaviour {
  accuracy: Estimate;
  loss: Estimate;
  /** The judged behaviour's rate, where the capability has one. */
  rate?: Estimate;
}

export function behaviour(model: Transformer, set: CapabilitySet, seed: number): Behaviour {
  const { correct, loss } = scoreExamples(model, set.examples);
  const out: Behaviour = { accuracy: accuracyOf(correct, seed), loss: bootstrapMean(loss, { seed }) };
  if (set.judged) out.rate = judgedRate(model, set.judged, seed);
  return out;
}

/** The number an audit follows for O_PT: the judged rate where there is one, else the accuracy. */
export const headline = (b: { accuracy: Estimate; rate?: Estimate }): Estimate => b.rate ?? b.accuracy;

// ---------------------------------------------------------------------------------------------------- weights

export interface MatrixChange {
  param: string;
  /** Block index, or null for embeddings / unembedding. */
  layer: number | null;
  part: 'attention' | 'mlp' | 'embedding' | 'other';
  shape: number[];
  /** ||ΔW||_F / ||W_base||_F (||ΔW||_F where the base matrix is zero). */
  relativeNorm: number;
  deltaNorm: number;
  /** exp(entropy of the normalised singular values of ΔW): 1 = a rank-one change, min(shape) = spread evenly. */
  effectiveRank: number;
  /** Singular directions holding 90% of ||ΔW||². */
  rank90: number;
}

export interface WeightChange {
  matrices: MatrixChange[];
  /** Share of the total ||ΔW||² per part and per layer: where the change concentrates. */
  byPart: Record<string, number>;
  byLayer: { layer: number | null; share: number }[];
}

function partOf(param: string): MatrixChange['part'] {
  if (/\.attn\./.test(param)) return 'attention';
  if (/\.mlp\./.test(param)) return 'mlp';
  if (/^(embed|pos_embed|unembed)\./.test(param)) return 'embedding';
  return 'other';
}

/** Singular values of a rows x cols matrix (ml-matrix's SVD; exact for the sizes audits meet). */
export function singularValues(data: Float32Array, rows: number, cols: number): number[] {
  const m = new Matrix(rows, cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) m.set(i, j, data[i * cols + j]);
  return new SingularValueDecomposition(m, { computeLeftSingularVectors: false, computeRightSingularVectors: false, autoTranspose: true }).diagonal;
}

export function weightChange(base: Transformer, tuned: Transformer): WeightChange {
  const wb = base.getWeights();
  const wt = tuned.getWeights();
  const matrices: MatrixChange[] = [];
  for (const spec of tuned.specs) {
    if (spec.shape.length !== 2) continue;
    const a = wb[spec.name];
    const b = wt[spec.name];
    const delta = new Float32Array(b.length);
    let dn = 0;
    let bn = 0;
    for (let i = 0; i < b.length; i++) {
      delta[i] = b[i] - a[i];
      dn += delta[i] * delta[i];
      bn += a[i] * a[i];
    }
    const sv = dn > 0 ? singularValues(delta, spec.shape[0], spec.shape[1]) : [];
    const total = sv.reduce((s, x) => s + x, 0);
    const entropy = total > 0 ? -sv.reduce((h, x) => (x > 0 ? h + (x / total) * Math.log(x / total) : h), 0) : 0;
    let energy = 0;
    let rank90 = 0;
    for (const x of sv) {
      if (energy >= 0.9 * dn) break;
      energy += x * x;
      rank90++;
    }
    const block = /^blocks\.(\d+)\./.exec(spec.name);
    matrices.push({
      param: spec.name,
      layer: block ? Number(block[1]) : null,
      part: partOf(spec.name),
      shape: spec.shape,
      relativeNorm: bn > 0 ? Math.sqrt(dn / bn) : Math.sqrt(dn),
      deltaNorm: Math.sqrt(dn),
      effectiveRank: dn > 0 ? Math.exp(entropy) : 0,
      rank90,
    });
  }
  const all = matrices.reduce((s, m) => s + m.deltaNorm ** 2, 0) || 1;
  const byPart: Record<string, number> = {};
  const layers = new Map<number | null, number>();
  for (const m of matrices) {
    byPart[m.part] = (byPart[m.part] ?? 0) + m.deltaNorm ** 2 / all;
    layers.set(m.layer, (layers.get(m.layer) ?? 0) + m.deltaNorm ** 2 / all);
  }
  return { matrices, byPart, byLayer: [...layers].map(([layer, share]) => ({ layer, share })) };
}

// ----------------------------------------------------------------------------------------------------- probes

export interface ProbeLine {
  model: string;
  /** Test accuracy per block (blocks.i.resid_post at the first target position). */
  accuracy: Estimate[];
}

export interface Probes {
  layers: string[];
  classes: number;
  /** Share of the most frequent label among the test examples. */
  majority: number;
  lines: ProbeLine[];
}

/** A linear probe per block for the examples' labels, on each model; 70% of the examples train, 30% test. */
export function probes(models: { label: string; model: Transformer }[], set: CapabilitySet, opts: { seed: number; steps: number }): Probes {
  const labels = set.examples.map((e) => e.label!);
  const classes = set.labelNames!.length;
  const order = Rng.derive(opts.seed, 'audit-probe-split').shuffle(set.examples.map((_, i) => i));
  const nTrain = Math.max(1, Math.round(0.7 * order.length));
  const trainIdx = order.slice(0, nTrain);
  const testIdx = order.slice(nTrain);
  const counts = new Map<number, number>();
  for (const i of testIdx) counts.set(labels[i], (counts.get(labels[i]) ?? 0) + 1);
  const majority = Math.max(...counts.values()) / testIdx.length;
  const lines: ProbeLine[] = [];
  let layers: string[] = [];
  for (const { label, model } of models) {
    layers = layerNames('resid_post', model.config.nLayers);
    const pick = (idx: number[]) => {
      const ex = idx.map((i) => set.examples[i]);
      const feats = extractFeatures(model, toBatch(ex), ex.map((e) => [e.targets[0][0]]), layers, CHUNK);
      return { feats, y: Int32Array.from(idx.map((i) => labels[i])) };
    };
    const tr = pick(trainIdx);
    const te = pick(testIdx);
    const accuracy = layers.map((name, i) => {
      const r = trainProbe({ x: tr.feats[name], y: tr.y }, { x: te.feats[name], y: te.y }, {
        dim: model.config.dModel,
        classes,
        steps: opts.steps,
        seed: Rng.derive(opts.seed, 'audit-probe', label, i).int(0, 2 ** 31),
      });
      return wilson(Math.round(r.testAccuracy * testIdx.length), testIdx.length);
    });
    lines.push({ model: label, accuracy });
  }
  return { layers, classes, majority, lines };
}

// ---------------------------------------------------------------------------------------------------- pruning

export interface PruneRow {
  k: number;
  unit: string | null;
  pt: Estimate;
  ft: Estimate | null;
  /** O_PT's judged rate after these removals, where the capability has one. */
  rate?: Estimate;
}

export type UnitKind = 'neurons' | 'heads' | 'weights';

export interface Pruning {
  /** Accuracy of always giving the most common O_PT answer on the evaluation half: what collapsing to one
   *  answer would score, so a "revival" must beat it. */
  chance: number;
  /** MLP neurons (rows of blocks.i.mlp.W_out), attention heads (blocks.i.attn.z), single weights of every matrix. */
  sweeps: Record<UnitKind, PruneRow[]>;
  /** How each sweep ranked its units. */
  scoring: Record<UnitKind, 'gradxweight' | 'exact'>;
}

/**
 * Prunes the tuned model one unit at a time, each time the unit whose removal most lowers the O_PT loss on the
 * scoring half (re-scored after every removal), and measures accuracy on the other half. Three kinds of unit:
 * neurons (scored as `scoring` says), heads (always exact: there are few) and single weights (`weightScoring`,
 * default grad x weight: in a real model there are too many to measure one by one).
 */
/**
 * Single weights that exact scoring would measure (|w| >= 5e-4 in every matrix: zeroing a smaller one changes nothing
 * measurable), counted up to `cap`: it runs on every audit, cached or not, so a real model stops at the first matrices.
 */
export function prunableWeights(model: Transformer, cap = Infinity): number {
  let n = 0;
  for (const name of allMatrices(model)) {
    for (const v of model.param(name).dataSync() as Float32Array) if (Math.abs(v) >= 5e-4) n++;
    if (n > cap) return n;
  }
  return n;
}

export function pruning(tuned: Transformer, pt: CapabilitySet, ft: CapabilitySet | undefined, opts: { maxUnits: number; scoring: 'gradxweight' | 'exact'; weightScoring?: 'gradxweight' | 'exact'; seed: number; log?: (s: string) => void }): Pruning {
  const half = Math.ceil(pt.examples.length / 2);
  const scoringEx = pt.examples.slice(0, half);
  const scoringBatches = chunks(scoringEx, CHUNK).map((c) => toBatch(c));
  const evalPt = pt.examples.slice(half);
  const evalFt = ft?.examples.slice(Math.ceil(ft.examples.length / 2));
  const acc = (correct: Float64Array) => accuracyOf(correct, opts.seed);
  // Progress: one line per evaluated K (a judged capability samples completions at each, so a sweep takes minutes).
  let sweepName = '';
  let evaluated = 0;
  const evaluate = (masks: Record<string, tf.Tensor>) => {
    const row = {
      pt: acc(scoreExamples(tuned, evalPt, { masks }).correct),
      ft: evalFt ? acc(scoreExamples(tuned, evalFt, { masks }).correct) : null,
      ...(pt.judged ? { rate: judgedRate(tuned, pt.judged, opts.seed, masks) } : {}),
    };
    opts.log?.(`pruning ${sweepName}: k=${evaluated++} of ${opts.maxUnits}, O_PT ${(100 * row.pt.value).toFixed(1)}%${row.rate ? `, judged ${(100 * row.rate.value).toFixed(1)}%` : ''}`);
    return row;
  };
  const named = <T>(name: string, f: () => T): T => {
    sweepName = name;
    evaluated = 0;
    return f();
  };
  const sweep = (granularity: 'row' | 'weight', params: string[], scoring: 'gradxweight' | 'exact'): PruneRow[] =>
    pruneSweep(tuned, { spec: { granularity, params }, maxUnits: opts.maxUnits, scoringBatches, iterative: true, scoring, evaluate }).map((st) => ({
      k: st.k,
      unit: st.unit ? `${st.unit.param}[${granularity === 'row' ? st.unit.index : `#${st.unit.index}`}]` : null,
      ...st.metrics,
    }));
  const answers = new Map<string, number>();
  for (const e of evalPt) {
    const key = e.targets.map(([, t]) => t).join(',');
    answers.set(key, (answers.get(key) ?? 0) + 1);
  }
  return {
    chance: Math.max(...answers.values()) / evalPt.length,
    scoring: { neurons: opts.scoring, heads: 'exact', weights: opts.weightScoring ?? 'gradxweight' },
    sweeps: {
      neurons: named('neurons', () => sweep('row', mlpOutputs(tuned), opts.scoring)),
      heads: named('heads', () => headSweep(tuned, scoringEx, opts.maxUnits, evaluate)),
      weights: named('weights', () => sweep('weight', allMatrices(tuned), opts.weightScoring ?? 'gradxweight')),
    },
  };
}

/** Greedy exact head pruning: each step removes the head (a zero mask on blocks.i.attn.z) that most lowers the loss. */
function headSweep(model: Transformer, scoringEx: CapabilityExample[], maxUnits: number, evaluate: (masks: Record<string, tf.Tensor>) => Omit<PruneRow, 'k' | 'unit'>): PruneRow[] {
  const { nLayers, nHeads } = resolveModelConfig(model.config);
  const pruned = new Set<string>();
  const withMasks = <T>(set: Set<string>, f: (masks: Record<string, tf.Tensor>) => T): T => {
    const masks: Record<string, tf.Tensor> = {};
    for (let l = 0; l < nLayers; l++) {
      const m = Array.from({ length: nHeads }, (_, h) => (set.has(`${l}:${h}`) ? 0 : 1));
      if (m.includes(0)) masks[actName('z', l)] = tf.tensor1d(m);
    }
    try {
      return f(masks);
    } finally {
      tf.dispose(Object.values(masks));
    }
  };
  const lossWith = (set: Set<string>) => withMasks(set, (masks) => scoreExamples(model, scoringEx, { masks }).loss.reduce((a, b) => a + b, 0));
  const rows: PruneRow[] = [{ k: 0, unit: null, ...withMasks(pruned, evaluate) }];
  for (let k = 1; k <= Math.min(maxUnits, nLayers * nHeads - 1); k++) {
    let best: string | null = null;
    let bestLoss = Infinity;
    for (let l = 0; l < nLayers; l++) {
      for (let h = 0; h < nHeads; h++) {
        const id = `${l}:${h}`;
        if (pruned.has(id)) continue;
        const loss = lossWith(new Set([...pruned, id]));
        if (loss < bestLoss) [best, bestLoss] = [id, loss];
      }
    }
    if (best === null) break;
    pruned.add(best);
    const [l, h] = best.split(':');
    rows.push({ k, unit: `${actName('z', Number(l))}[head ${h}]`, ...withMasks(pruned, evaluate) });
  }
  return rows;
}

// --------------------------------------------------------------------------------------------------- patching

export interface PatchRow {
  /** The hook name patched, e.g. blocks.1.attn_out. */
  component: string;
  accuracy: Estimate;
  loss: Estimate;
  /** (acc_patched - acc_tuned) / (acc_base - acc_tuned); null when base and tuned agree. */
  restored: number | null;
}

export interface Patching {
  base: Behaviour;
  tuned: Behaviour;
  rows: PatchRow[];
}

/**
 * Each block's attention and MLP output, then (for models with at most 64 heads) each head's output, in turn, taken
 * from the base model on the same O_PT inputs.
 */
export function patching(base: Transformer, tuned: Transformer, pt: CapabilitySet, seed: number): Patching {
  const b = behaviour(base, pt, seed);
  const t = behaviour(tuned, pt, seed);
  const gap = b.accuracy.value - t.accuracy.value;
  const rows: PatchRow[] = [];
  // Runs the tuned model with the hook point `name` rewritten by `patch(tuned activation, base activation)`.
  const patched = (component: string, name: string, patch: (mine: tf.Tensor, theirs: tf.Tensor) => tf.Tensor) => {
    const { correct, loss } = scoreExamples(tuned, pt.examples, {
      hooksFor: (part) => {
        const batch = toBatch(part);
        const tokens = tf.tensor2d(batch.tokens, [batch.batchSize, batch.contextLength], 'int32');
        const { logits, cache } = base.runWithCache(tokens, { names: [name] });
        const from = cache.get(name);
        logits.dispose();
        tokens.dispose();
        return { hooks: { [name]: (mine) => patch(mine, from) }, dispose: () => cache.dispose() };
      },
    });
    const accuracy = accuracyOf(correct, seed);
    rows.push({ component, accuracy, loss: bootstrapMean(loss, { seed }), restored: Math.abs(gap) > 1e-9 ? (accuracy.value - t.accuracy.value) / gap : null });
  };
  const { nLayers, nHeads } = resolveModelConfig(tuned.config);
  for (let layer = 0; layer < nLayers; layer++) {
    for (const kind of ['attn_out', 'mlp_out'] as const) patched(actName(kind, layer), actName(kind, layer), (_, theirs) => theirs.clone());
  }
  // Per head where cheap: head h's output (attn.z [batch, position, head, dHead]) from the base model.
  if (nLayers * nHeads <= 64) {
    for (let layer = 0; layer < nLayers; layer++) {
      for (let h = 0; h < nHeads; h++) {
        const onehot = Array.from({ length: nHeads }, (_, i) => (i === h ? 1 : 0));
        patched(`${actName('z', layer)}[head ${h}]`, actName('z', layer), (mine, theirs) => {
          const m = tf.tensor4d(onehot, [1, 1, nHeads, 1]);
          return tf.add(tf.mul(mine, tf.sub(1, m)), tf.mul(theirs, m));
        });
      }
    }
  }
  return { base: b, tuned: t, rows };
}

// ------------------------------------------------------------------------------------------------------- reFT

export interface ReftCurve {
  model: string;
  seed: number;
  steps: number[];
  /** O_PT's headline number at each step: the judged rate where the capability has one, else the accuracy. */
  score: number[];
  /** First evaluated step whose score reaches the target; null if never within the budget. */
  stepsToTarget: number | null;
}

export interface ReftOptions {
  steps: number;
  batchSize: number;
  lr: number;
  seeds: number[];
  /** O_PT score (judged rate or accuracy) that counts as regained. */
  target: number;
  evalSteps: number[];
}

/**
 * Fine-tunes a copy of each model on the O_PT training half and follows its accuracy on the other half (or, for
 * a judged capability, the judged rate on its prompts).
 */
export async function reverseFinetune(models: { label: string; model: Transformer }[], pt: CapabilitySet, opts: ReftOptions, onProgress?: (s: string) => void): Promise<ReftCurve[]> {
  const half = Math.ceil(pt.examples.length / 2);
  const trainEx = pt.examples.slice(0, half);
  const evalEx = pt.examples.slice(half);
  const curves: ReftCurve[] = [];
  for (const { label, model } of models) {
    for (const seed of opts.seeds) {
      const copy = model.clone();
      try {
        const sampler: BatchSampler = (step, batchSize) => {
          const rng = Rng.derive(seed, 'audit-reft', step);
          return toBatch(Array.from({ length: batchSize }, () => trainEx[rng.int(0, trainEx.length)]));
        };
        const steps: number[] = [];
        const score: number[] = [];
        const measure = (m: Transformer, step: number) => {
          steps.push(step);
          if (pt.judged) return void score.push(judgedRate(m, pt.judged, seed).value);
          const { correct } = scoreExamples(m, evalEx);
          score.push(correct.reduce((a, b) => a + b, 0) / correct.length);
        };
        measure(copy, 0);
        const evalAt = new Set(opts.evalSteps);
        await train({
          model: copy,
          sampler,
          seed,
          config: { steps: opts.steps, batchSize: opts.batchSize, optimizer: { kind: 'adamw', lr: opts.lr, weightDecay: 0 }, schedule: { kind: 'constant' }, logEvery: Math.max(1, opts.steps) },
          onStep: (step) => {
            if (evalAt.has(step)) measure(copy, step);
          },
        });
        if (steps.at(-1) !== opts.steps) measure(copy, opts.steps);
        const hit = score.findIndex((a) => a >= opts.target);
        curves.push({ model: label, seed, steps, score, stepsToTarget: hit >= 0 ? steps[hit] : null });
        onProgress?.(`reFT ${label} seed ${seed}: ${hit >= 0 ? `reached ${opts.target.toFixed(2)} at step ${steps[hit]}` : `below ${opts.target.toFixed(2)} after ${opts.steps} steps`}`);
      } finally {
        copy.dispose();
      }
    }
  }
  return curves;
}
