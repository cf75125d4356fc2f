/**
 * Linear probes on a frozen model (the paper's §4.2 and the TinyStories probe): read features from named
 * activations (e.g. `blocks.2.resid_post` at the answer-predicting position, or the mean of the last 10
 * story positions), then train a linear readout — softmax over classes, or one sigmoid per label.
 *
 * Optimisation follows the paper: AdamW, lr 1e-3, 4K iterations, lr x0.1 at 50%, 75% and 87.5% of them.
 * Features are standardised with the training set's mean and std (a linear probe's capacity is unchanged;
 * it only makes the fixed optimisation budget work across layers whose scales differ a lot).
 */
import * as tf from '@tensorflow/tfjs';
import { type Batch, makeBatch } from '../engine/data';
import { parseActName, type Transformer } from '../engine/model';
import { Optimizer } from '../engine/optim';
import { Rng } from '../engine/rng';

/** The number of blocks a forward pass must run to produce every name, or undefined when a name needs them all. */
function blocksNeeded(model: Transformer, names: string[]): number | undefined {
  let need = 0;
  for (const name of names) {
    const block = parseActName(name);
    if (block) need = Math.max(need, block.layer + 1);
    else if (name !== 'embed' && name !== 'pos_embed') return undefined;
  }
  return Math.min(need, model.config.nLayers);
}

/**
 * Features of `names` for each row of `batch`: the activation at each row's positions, averaged over them.
 * `positions[b]` lists the positions t of row b (one entry = no averaging). Returns name -> [B * d] row-major.
 * Only the work the features need is done: the pass stops after the last block named, and a causal model
 * reads each chunk only up to its last requested position (later tokens cannot change earlier activations).
 */
export function extractFeatures(model: Transformer, batch: Batch, positions: number[][], names: string[], chunk = 128): Record<string, Float32Array> {
  const { batchSize: B, contextLength: T } = batch;
  if (positions.length !== B) throw new Error(`extractFeatures: ${positions.length} position lists for ${B} rows`);
  const stopAtLayer = blocksNeeded(model, names);
  const out: Record<string, Float32Array> = {};
  for (let s = 0; s < B; s += chunk) {
    const n = Math.min(chunk, B - s);
    let used = T;
    if (model.config.causal) {
      used = 1;
      for (let b = s; b < s + n; b++) for (const t of positions[b]) used = Math.max(used, t + 1);
      // Whole multiples of 32: a few distinct shapes, since each new shape costs the backend a slow first call.
      used = Math.min(T, Math.ceil(used / 32) * 32);
    }
    // tidy returns the tensors, not their data: tidy walks what it returns, and walking typed arrays of a million
    // numbers costs more than the forward pass.
    const tensors = tf.tidy(() => {
      const rows = new Int32Array(n * used);
      for (let b = 0; b < n; b++) rows.set(batch.tokens.subarray((s + b) * T, (s + b) * T + used), b * used);
      const tokens = tf.tensor2d(rows, [n, used], 'int32');
      const { cache } = model.forward(tokens, { cache: names, stopAtLayer });
      return names.map((name) => {
        const a = cache[name];
        if (!a) throw new Error(`extractFeatures: no activation named ${name}`);
        if (a.rank !== 3) throw new Error(`extractFeatures: ${name} has rank ${a.rank}; probes read [batch, position, width] activations`);
        return a;
      });
    });
    const acts = tensors.map((a) => ({ d: a.shape[2] as number, data: a.dataSync() as Float32Array }));
    tf.dispose(tensors);
    names.forEach((name, k) => {
      const { d, data } = acts[k];
      if (!out[name]) out[name] = new Float32Array(B * d);
      for (let b = 0; b < n; b++) {
        const ps = positions[s + b];
        const dst = (s + b) * d;
        for (const t of ps) {
          if (t < 0 || t >= T) throw new Error(`extractFeatures: position ${t} outside the context of ${T}`);
          const src = (b * used + t) * d;
          for (let j = 0; j < d; j++) out[name][dst + j] += data[src + j] / ps.length;
        }
      }
    });
  }
  return out;
}

export interface ProbeData {
  /** [N * dim] row-major features. */
  x: Float32Array;
  /** Class ids [N] (softmax probe), or 0/1 labels [N * numLabels] (multi-label probe). */
  y: Int32Array | Float32Array;
}

export interface ProbeOptions {
  dim: number;
  /** Softmax probe: number of classes. */
  classes?: number;
  /** Multi-label probe: number of independent binary labels. */
  labels?: number;
  steps?: number;
  lr?: number;
  batchSize?: number;
  weightDecay?: number;
  seed: number;
}

export interface ProbeResult {
  trainAccuracy: number;
  testAccuracy: number;
  /** Multi-label only: test accuracy per label. */
  testAccuracyPerLabel?: number[];
}

function standardiser(x: Float32Array, dim: number): { mean: Float32Array; inv: Float32Array } {
  const n = x.length / dim;
  const mean = new Float32Array(dim);
  const inv = new Float32Array(dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j] += x[i * dim + j] / n;
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) inv[j] += (x[i * dim + j] - mean[j]) ** 2 / n;
  for (let j = 0; j < dim; j++) inv[j] = 1 / Math.sqrt(inv[j] + 1e-6);
  return { mean, inv };
}

let probeCount = 0;

/** Trains a linear probe on `train` and reports accuracy on `train` and `test`. */
export function trainProbe(train: ProbeData, test: ProbeData, opts: ProbeOptions): ProbeResult {
  const { dim } = opts;
  const multi = opts.labels !== undefined;
  const outDim = multi ? opts.labels! : opts.classes;
  if (!outDim) throw new Error('trainProbe: give classes (softmax) or labels (multi-label)');
  const steps = opts.steps ?? 4000;
  const lrMax = opts.lr ?? 1e-3;
  const bs = opts.batchSize ?? 256;
  const nTrain = train.x.length / dim;
  const { mean, inv } = standardiser(train.x, dim);
  const standardise = (x: Float32Array) => {
    const z = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) z[i] = (x[i] - mean[i % dim]) * inv[i % dim];
    return z;
  };
  const xTrain = standardise(train.x);
  const xTest = standardise(test.x);
  const id = probeCount++;
  const [W, b] = tf.tidy(() => [tf.variable(tf.zeros([dim, outDim]), true, `probe.W#${id}`), tf.variable(tf.zeros([outDim]), true, `probe.b#${id}`)]);
  const params = new Map([['W', W], ['b', b]]);
  const opt = new Optimizer({ kind: 'adamw', lr: lrMax, beta1: 0.9, beta2: 0.999, weightDecay: opts.weightDecay ?? 0, clipNorm: 0 }, params, ['W']);
  const rng = Rng.derive(opts.seed, 'probe');
  const xb = new Float32Array(bs * dim);
  const yb = multi ? new Float32Array(bs * outDim) : new Int32Array(bs);
  try {
    for (let step = 0; step < steps; step++) {
      const frac = step / steps;
      const lr = lrMax * (frac >= 0.875 ? 1e-3 : frac >= 0.75 ? 1e-2 : frac >= 0.5 ? 1e-1 : 1);
      for (let i = 0; i < bs; i++) {
        const r = rng.int(0, nTrain);
        xb.set(xTrain.subarray(r * dim, (r + 1) * dim), i * dim);
        if (multi) (yb as Float32Array).set((train.y as Float32Array).subarray(r * outDim, (r + 1) * outDim), i * outDim);
        else yb[i] = train.y[r];
      }
      const grads = tf.tidy(() => {
        const x = tf.tensor2d(xb, [bs, dim]);
        const { grads } = tf.variableGrads(() => {
          const logits = tf.add(tf.matMul(x, W), b);
          if (multi) return tf.losses.sigmoidCrossEntropy(tf.tensor2d(yb as Float32Array, [bs, outDim]), logits) as tf.Scalar;
          return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(yb as Int32Array, 'int32'), outDim), logits) as tf.Scalar;
        }, [W, b]);
        return { W: grads[W.name], b: grads[b.name] };
      });
      opt.apply(grads, lr);
      tf.dispose(Object.values(grads));
    }
    const accuracy = (x: Float32Array, y: ProbeData['y']) => {
      const n = x.length / dim;
      return tf.tidy(() => {
        const logits = tf.add(tf.matMul(tf.tensor2d(x, [n, dim]), W), b);
        if (multi) {
          const pred = tf.greater(logits, 0).dataSync();
          const perLabel = new Array(outDim).fill(0);
          for (let i = 0; i < n; i++) for (let l = 0; l < outDim; l++) if (pred[i * outDim + l] === (y[i * outDim + l] > 0.5 ? 1 : 0)) perLabel[l] += 1 / n;
          return { acc: perLabel.reduce((s, v) => s + v, 0) / outDim, perLabel };
        }
        const pred = tf.argMax(logits, -1).dataSync();
        let right = 0;
        for (let i = 0; i < n; i++) if (pred[i] === y[i]) right++;
        return { acc: right / n, perLabel: undefined };
      });
    };
    const tr = accuracy(xTrain, train.y);
    const te = accuracy(xTest, test.y);
    return { trainAccuracy: tr.acc, testAccuracy: te.acc, ...(multi ? { testAccuracyPerLabel: te.perLabel } : {}) };
  } finally {
    opt.dispose();
    W.dispose();
    b.dispose();
  }
}

export interface TokenProbeRow {
  /** The activation probed (e.g. blocks.2.resid_post). */
  name: string;
  trainAccuracy: number;
  testAccuracy: number;
  /** Test accuracy of always answering the training set's most common class. */
  majority: number;
  /** Test examples. */
  n: number;
}

/**
 * A linear probe per activation for a label of each token: `labels[i][t]` is the class of token t of sequence i
 * (-1 = not probed). Sequences split into train and test (whole sequences, so no token's context leaks across),
 * by `testFraction` from the end. Each row reports the probe beside its majority-class baseline.
 */
export function probeTokenLabels(
  model: Transformer,
  seqs: readonly (readonly number[])[],
  labels: readonly (readonly number[])[],
  opts: { names: string[]; classes: number; seed: number; testFraction?: number; steps?: number },
): TokenProbeRow[] {
  if (labels.length !== seqs.length || labels.some((l, i) => l.length !== seqs[i].length)) throw new Error('probeTokenLabels: one label per token of each sequence');
  const T = Math.max(...seqs.map((s) => s.length));
  const batch = makeBatch(seqs.length, T);
  seqs.forEach((s, i) => batch.tokens.set(s, i * T));
  const nTest = Math.max(1, Math.round(seqs.length * (opts.testFraction ?? 0.25)));
  const split = seqs.length - nTest;
  if (split < 1) throw new Error('probeTokenLabels: too few sequences to split into train and test');
  // One batch row per probed token (extractFeatures averages a row's positions; one position = that token).
  const rows: { seq: number; t: number; y: number }[] = [];
  labels.forEach((l, i) => l.forEach((y, t) => y >= 0 && rows.push({ seq: i, t, y })));
  const expanded = makeBatch(rows.length, T);
  rows.forEach((r, k) => expanded.tokens.set(batch.tokens.subarray(r.seq * T, (r.seq + 1) * T), k * T));
  const feats = extractFeatures(model, expanded, rows.map((r) => [r.t]), opts.names);
  const isTest = rows.map((r) => r.seq >= split);
  return opts.names.map((name) => {
    const x = feats[name];
    const dim = x.length / rows.length;
    const pick = (test: boolean): ProbeData => {
      const idx = rows.map((_, k) => k).filter((k) => isTest[k] === test);
      const out = new Float32Array(idx.length * dim);
      idx.forEach((k, j) => out.set(x.subarray(k * dim, (k + 1) * dim), j * dim));
      return { x: out, y: Int32Array.from(idx, (k) => rows[k].y) };
    };
    const train = pick(false);
    const test = pick(true);
    const counts = new Array(opts.classes).fill(0);
    for (const y of train.y) counts[y]++;
    const top = counts.indexOf(Math.max(...counts));
    let hits = 0;
    for (const y of test.y) if (y === top) hits++;
    const majority = hits / test.y.length;
    const r = trainProbe(train, test, { dim, classes: opts.classes, seed: opts.seed, steps: opts.steps ?? 1000 });
    return { name, trainAccuracy: r.trainAccuracy, testAccuracy: r.testAccuracy, majority, n: test.y.length };
  });
}
