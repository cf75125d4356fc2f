/**
 * The stages of the Tracr experiments (lib/experiments/stage.ts), each cached on its own so experiments and
 * studies share them:
 *   compile        deterministic and cheap: memoised per process (data.ts), never stored
 *   tracr-finetune   compiled O_PT model + N(0, noiseStd) weight noise -> SGD+momentum on O_FT labels, C_Tr
 *   tracr-reft       <- finetune: the fine-tuned model -> SGD on O_PT labels, plain (pretraining-distribution) data
 *   tracr-scratch-ft the program compiled for O_FT (count b; the rankFT-th letter) + noise -> SGD on O_PT labels
 *                  with the reFT schedule: a model that never had O_PT behind a wrapper (paper App. D's
 *                  "pretrained on O_FT, fine-tuned on O_PT"; for compiled models "pretrained" = compiled).
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import type { Batch } from '../../engine/data';
import { type MetricRow, type Metrics, metric, metricsOf } from '../../engine/metrics';
import { Transformer, actName } from '../../engine/model';
import { Rng } from '../../engine/rng';
import { trainCached, type TrainConfigInput } from '../../engine/train';
import type { CompiledProgram } from '../../tasks/tracr';
import { defineStage, stageNode, type StageContext } from '../stage';
import { type LabelKind, type TracrSamples, type TracrTask, type TracrTaskConfig, taskOf, tracrSampler, tracrTestSets } from './data';

/** Hyperparameters of one training stage (paper App. C.1: SGD with momentum, batch 96, 10K steps, 2K warmup, cosine). */
export const TracrTrainSchema = z
  .object({
    lr: z.number().positive(),
    steps: z.number().int().min(0),
    batchSize: z.number().int().positive(),
    /** Linear warmup fraction (paper: 2K of 10K = 0.2). */
    warmupFrac: z.number().min(0).max(1),
    /** Cosine decays to minLrRatio * lr (paper: ~1/100). */
    minLrRatio: z.number().min(0).max(1),
    /** SGD momentum (not stated in the paper; 0.9 is torch's usual choice). */
    momentum: z.number().min(0).max(1),
    /** Global gradient-norm clip; 0 = none (the paper states none). */
    clipNorm: z.number().min(0),
    /** Std of the Gaussian noise added to every compiled weight first (paper: N(0, 0.001), read as std). */
    noiseStd: z.number().min(0),
    /** Evaluate every N steps (0 = start and end only). */
    evalEvery: z.number().int().min(0),
  })
  .strict();
export type TracrTrainConfig = z.output<typeof TracrTrainSchema>;

/** The compiled weights in a fresh engine model. */
export function compiledModel(cp: CompiledProgram): Transformer {
  const model = new Transformer(cp.modelConfig, 0);
  model.setWeights(cp.weights, { strict: true });
  return model;
}

/** Adds N(0, std^2) to every parameter (the paper densifies the sparse compiled weights before training). */
export function addWeightNoise(model: Transformer, std: number, rng: Rng): void {
  if (std === 0) return;
  const w = model.getWeights();
  for (const name of Object.keys(w)) {
    const a = w[name];
    for (let i = 0; i < a.length; i++) a[i] += std * rng.normal();
  }
  model.setWeights(w);
}

/** Predicted class (logit argmax) at the readout position of every row of a batch. */
export function readoutClasses(model: Transformer, task: TracrTask, batch: Batch, masks: Record<string, tf.Tensor> = {}, chunk = 256): Int32Array {
  const { batchSize: B, contextLength: T } = batch;
  const pos = task.readoutIndex + 1;
  const out = new Int32Array(B);
  for (let s = 0; s < B; s += chunk) {
    const n = Math.min(chunk, B - s);
    const predT = tf.tidy(() => {
      const tokens = tf.tensor2d(batch.tokens.subarray(s * T, (s + n) * T), [n, T], 'int32');
      const { logits } = model.forward(tokens, { masks });
      const at = tf.slice(logits, [0, pos, 0], [n, 1, -1]);
      return tf.argMax(tf.reshape(at, [n, -1]), -1);
    });
    out.set(predT.dataSync() as Int32Array, s);
    predT.dispose();
  }
  return out;
}

export interface PtFtAccuracy {
  /** Fraction of answers equal to the O_PT label (e.g. #a). */
  pt: number;
  /** Fraction equal to the O_FT label (e.g. #b). */
  ft: number;
}
export interface TracrAccuracy {
  cTe0: PtFtAccuracy;
  cTe1: PtFtAccuracy;
}

export function ptFtAccuracy(pred: Int32Array, samples: TracrSamples): PtFtAccuracy {
  let pt = 0;
  let ft = 0;
  for (let i = 0; i < pred.length; i++) {
    if (pred[i] === samples.ptClass[i]) pt++;
    if (pred[i] === samples.ftClass[i]) ft++;
  }
  return { pt: pt / pred.length, ft: ft / pred.length };
}

export type TracrTestSets = ReturnType<typeof tracrTestSets>;

/** Acc O_PT and Acc O_FT on C_Te = 0 and C_Te = 1. */
export function tracrAccuracy(model: Transformer, task: TracrTask, tests: TracrTestSets, masks: Record<string, tf.Tensor> = {}): TracrAccuracy {
  return {
    cTe0: ptFtAccuracy(readoutClasses(model, task, tests.cTe0.batch, masks), tests.cTe0),
    cTe1: ptFtAccuracy(readoutClasses(model, task, tests.cTe1.batch, masks), tests.cTe1),
  };
}

/** The metric keys of an accuracy: acc.opt.cte0, acc.oft.cte0, acc.opt.cte1, acc.oft.cte1. */
export function accuracyMetrics(a: TracrAccuracy): Metrics {
  return { 'acc.opt.cte0': a.cTe0.pt, 'acc.oft.cte0': a.cTe0.ft, 'acc.opt.cte1': a.cTe1.pt, 'acc.oft.cte1': a.cTe1.ft };
}

/** The accuracy a metrics row holds (NaN where it was not measured). */
export function accFromRow(r: Metrics | undefined): TracrAccuracy {
  return { cTe0: { pt: metric(r, 'acc.opt.cte0'), ft: metric(r, 'acc.oft.cte0') }, cTe1: { pt: metric(r, 'acc.opt.cte1'), ft: metric(r, 'acc.oft.cte1') } };
}

/** What a Tracr stage leaves in results.json. */
export interface TracrStageSummary {
  /** Evaluated steps (step 0 = the starting model). */
  curve: ({ step: number } & Metrics)[];
  finalLoss: number;
  params: number;
}

function trainConfig(hp: TracrTrainConfig): TrainConfigInput {
  return {
    steps: hp.steps,
    batchSize: hp.batchSize,
    optimizer: { kind: 'sgd', lr: hp.lr, momentum: hp.momentum, weightDecay: 0, clipNorm: hp.clipNorm },
    schedule: { kind: 'cosine', warmupFrac: hp.warmupFrac, minLrRatio: hp.minLrRatio },
    evalEvery: hp.evalEvery,
    logEvery: Math.max(1, Math.min(hp.evalEvery || 50, 50)),
    checkpointEvery: 0,
  };
}

/** Trains `model` (disposing it after) on one label kind and returns the stage summary. */
async function trainStage(ctx: StageContext<unknown>, o: { task: TracrTask; model: Transformer; labels: LabelKind; cTr: number; hp: TracrTrainConfig; evalSize: number; label: string }): Promise<TracrStageSummary> {
  const tests = tracrTestSets(o.task, ctx.seed, o.evalSize);
  try {
    const { metrics } = await trainCached({
      model: o.model,
      run: ctx.run,
      seed: ctx.seed,
      label: o.label,
      config: trainConfig(o.hp),
      // The data stream depends on (seed, labels, C_Tr) only: reFT and Scr.+FT see the same batches, as do all LRs.
      sampler: tracrSampler(o.task, ctx.seed, o.cTr, o.labels),
      evaluate: (m) => accuracyMetrics(tracrAccuracy(m, o.task, tests)),
    });
    const last = [...metrics].reverse().find((r) => typeof r.loss === 'number');
    return { curve: evaluated(metrics), finalLoss: last?.loss ?? NaN, params: o.model.numParams() };
  } finally {
    o.model.dispose();
  }
}

const evaluated = (metrics: MetricRow[]) => metrics.filter((r) => typeof r['acc.opt.cte0'] === 'number').map((r) => ({ step: r.step, ...metricsOf(r) }));

function noisyCompiled(cp: CompiledProgram, std: number, rng: Rng): Transformer {
  const model = compiledModel(cp);
  addWeightNoise(model, std, rng);
  return model;
}

const cost = (hp: TracrTrainConfig) => hp.steps * hp.batchSize * 2e5;

export interface TracrFinetuneStageConfig {
  /** The program's task (its config only: the other program's does not enter the hash). */
  task: TracrTaskConfig;
  /** C_Tr: fraction of fine-tuning samples carrying the spurious attribute. */
  cTr: number;
  hp: TracrTrainConfig;
  /** Size of each test set (C_Te = 0 and 1) evaluated during training. */
  evalSize: number;
}

/** Fine-tunes the compiled O_PT model on O_FT labels. */
export const tracrFinetune = defineStage<TracrFinetuneStageConfig, TracrStageSummary>({
  name: 'tracr-finetune',
  version: 2,
  cost: (c) => cost(c.hp),
  run(ctx) {
    const c = ctx.config;
    const task = taskOf(c.task);
    const model = noisyCompiled(task.compiled, c.hp.noiseStd, Rng.derive(ctx.seed, 'tracr', 'noise', task.name, 'pt'));
    return trainStage(ctx, { task, model, labels: 'ft', cTr: c.cTr, hp: c.hp, evalSize: c.evalSize, label: `tracr FT ${task.name} lr=${c.hp.lr} C_Tr=${c.cTr}` });
  },
});

export interface TracrReftStageConfig {
  /** The fine-tuning being reversed. */
  finetune: TracrFinetuneStageConfig;
  /** reFT hyperparameters (the paper: as fine-tuning, with a smaller LR); noiseStd is not used. */
  hp: TracrTrainConfig;
}

export const finetuneNode = (c: TracrFinetuneStageConfig, seed: number) => stageNode(tracrFinetune, { task: c.task, cTr: c.cTr, hp: c.hp, evalSize: c.evalSize }, seed);

/** Reverse fine-tuning: the fine-tuned model trained on O_PT labels of plain data. */
export const tracrReverseFinetune = defineStage<TracrReftStageConfig, TracrStageSummary>({
  name: 'tracr-reft',
  version: 2,
  parents: (c, seed) => [finetuneNode(c.finetune, seed)],
  cost: (c) => cost(c.hp),
  run(ctx) {
    const c = ctx.config;
    const task = taskOf(c.finetune.task);
    const model = ctx.parents[0].loadModel();
    return trainStage(ctx, { task, model, labels: 'pt', cTr: 0, hp: c.hp, evalSize: c.finetune.evalSize, label: `tracr reFT ${task.name} lr=${c.hp.lr} (FT lr=${c.finetune.hp.lr} C_Tr=${c.finetune.cTr})` });
  },
});

export interface TracrScratchStageConfig {
  task: TracrTaskConfig;
  /** The Scr.+FT schedule (the reFT one); noiseStd applies to the compiled O_FT weights. */
  hp: TracrTrainConfig;
  evalSize: number;
}

/** Scr.+FT: the program compiled for O_FT, fine-tuned on O_PT labels of plain data. */
export const tracrScratchFinetune = defineStage<TracrScratchStageConfig, TracrStageSummary>({
  name: 'tracr-scratch-ft',
  version: 2,
  cost: (c) => cost(c.hp),
  run(ctx) {
    const c = ctx.config;
    const task = taskOf(c.task);
    if (!task.compileFinetuneProgram) throw new Error(`${task.name}: no O_FT program to start Scr.+FT from`);
    const model = noisyCompiled(task.compileFinetuneProgram(), c.hp.noiseStd, Rng.derive(ctx.seed, 'tracr', 'noise', task.name, 'ft'));
    return trainStage(ctx, { task, model, labels: 'pt', cTr: 0, hp: c.hp, evalSize: c.evalSize, label: `tracr Scr.+FT ${task.name} lr=${c.hp.lr}` });
  },
});

export const TRACR_STAGES = [tracrFinetune, tracrReverseFinetune, tracrScratchFinetune] as const;

/**
 * Attention of the capability head at the readout query, averaged over samples: the mass on keys holding
 * the PT operand (count a: every `a`; max-id: the rankPT-th letter) and on keys holding the FT operand.
 * The compiled Counter puts #a/(#a+1) on the a's (the rest on BOS) and nothing on the b's.
 */
export function capabilityAttention(model: Transformer, task: TracrTask, samples: TracrSamples, limit = 128): { ptMass: number; ftMass: number } {
  const head = task.capabilityHead;
  if (!head) throw new Error(`${task.name}: no capability head defined`);
  const { contextLength: T } = samples.batch;
  const n = Math.min(limit, samples.batch.batchSize);
  const name = actName('pattern', head.layer);
  const rows = Array.from({ length: n }, (_, b) => Array.from(samples.batch.tokens.subarray(b * T, (b + 1) * T)));
  const { logits, cache } = model.runWithCache(rows, { names: [name] });
  const pattern = cache.get(name).dataSync() as Float32Array; // [n, H, T, T]
  cache.dispose();
  logits.dispose();
  const H = model.config.nHeads;
  const q = task.readoutIndex + 1;
  let pt = 0;
  let ft = 0;
  for (let b = 0; b < n; b++) {
    const xs = samples.inputs[b];
    for (let h = 0; h < H; h++) {
      const row = ((b * H + h) * T + q) * T;
      for (const k of head.ptKeys(xs)) pt += pattern[row + k + 1];
      for (const k of head.ftKeys(xs)) ft += pattern[row + k + 1];
    }
  }
  return { ptMass: pt / (n * H), ftMass: ft / (n * H) };
}

/** One layer's MLP hidden activations [position][channel] for one input (token ids). */
export function mlpHiddenOf(model: Transformer, ids: readonly number[], layer: number): number[][] {
  const name = actName('mlp_hidden', layer);
  const { logits, cache } = model.runWithCache([ids], { names: [name] });
  const out = (cache.toArray(name) as number[][][])[0];
  cache.dispose();
  logits.dispose();
  return out;
}
