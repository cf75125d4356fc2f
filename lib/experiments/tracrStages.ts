/**
 * The stages of the Tracr experiments, each cached on its own under data/runs/ so experiments and figures
 * share them:
 *   compile        deterministic and cheap: memoised per process (tracrData.ts), never stored
 *   fine-tune      compiled O_PT model + N(0, noiseStd) weight noise -> SGD+momentum on O_FT labels, C_Tr
 *   reverse FT     the fine-tuned model -> SGD on O_PT labels, plain (pretraining-distribution) data
 *   Scr.+FT        the program compiled for O_FT (count b; the rankFT-th letter) + noise -> SGD on O_PT labels
 *                  with the reFT schedule: a model that never had O_PT behind a wrapper (paper App. D's
 *                  "pretrained on O_FT, fine-tuned on O_PT"; for compiled models "pretrained" = compiled).
 * A child stage's config holds its parent's config, so changing the fine-tuning changes every reFT hash.
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import type { Batch } from '../engine/data';
import { Transformer } from '../engine/model';
import { Rng } from '../engine/rng';
import { MetricRow, Run } from '../engine/runs';
import { trainCached, TrainConfigInput } from '../engine/train';
import {
  LabelKind,
  taskConfigOf,
  TracrProgramName,
  tracrSampler,
  TracrSamples,
  TracrTask,
  TracrTasksConfig,
  tracrTestSets,
  makeTracrTask,
} from './tracrData';
import type { CompiledProgram } from '../tasks/tracr';

/** Bump when a stage's code changes its output, so cached stage runs are not reused. */
export const TRACR_STAGE_VERSION = 1;

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
    const pred = tf.tidy(() => {
      const tokens = tf.tensor2d(batch.tokens.subarray(s * T, (s + n) * T), [n, T], 'int32');
      const { logits } = model.forward(tokens, { masks });
      const at = tf.slice(logits, [0, pos, 0], [n, 1, -1]);
      return tf.argMax(tf.reshape(at, [n, -1]), -1).dataSync() as Int32Array;
    });
    out.set(pred, s);
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

/** Flat metric keys for metrics.jsonl: accPT_cTe0, accFT_cTe0, accPT_cTe1, accFT_cTe1. */
export function accuracyMetrics(a: TracrAccuracy): Record<string, number> {
  return { accPT_cTe0: a.cTe0.pt, accFT_cTe0: a.cTe0.ft, accPT_cTe1: a.cTe1.pt, accFT_cTe1: a.cTe1.ft };
}

/** Everything a stage needs to know about the task: which program and its data config. */
export interface TracrStageTask {
  program: TracrProgramName;
  tasks: TracrTasksConfig;
}

export interface TracrStageOutput {
  model: Transformer;
  run: Run;
  metrics: MetricRow[];
  cached: boolean;
  /** The stage config (what the run hash names); children embed it. */
  key: Record<string, unknown>;
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

async function trainStage(opts: {
  key: Record<string, unknown>;
  task: TracrTask;
  init: () => Transformer;
  labels: LabelKind;
  cTr: number;
  hp: TracrTrainConfig;
  seed: number;
  evalSize: number;
  runsRoot?: string;
  label: string;
}): Promise<TracrStageOutput> {
  const run = Run.open(opts.key, { root: opts.runsRoot });
  const model = opts.init();
  const tests = tracrTestSets(opts.task, opts.seed, opts.evalSize);
  try {
    const { metrics, cached } = await trainCached({
      model,
      run,
      seed: opts.seed,
      label: opts.label,
      config: trainConfig(opts.hp),
      // The data stream depends on (seed, labels, C_Tr) only: reFT and Scr.+FT see the same batches, as do all LRs.
      sampler: tracrSampler(opts.task, opts.seed, opts.cTr, opts.labels),
      evaluate: (m) => accuracyMetrics(tracrAccuracy(m, opts.task, tests)),
    });
    return { model, run, metrics, cached, key: opts.key };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

export interface FinetuneStageOptions extends TracrStageTask {
  /** C_Tr: fraction of fine-tuning samples carrying the spurious attribute. */
  cTr: number;
  hp: TracrTrainConfig;
  seed: number;
  /** Size of each test set (C_Te = 0 and 1) evaluated during training. */
  evalSize: number;
  runsRoot?: string;
}

export function tracrFinetuneStageKey(o: FinetuneStageOptions): Record<string, unknown> {
  return { stage: 'tracr-finetune', version: TRACR_STAGE_VERSION, task: taskConfigOf(o.program, o.tasks), cTr: o.cTr, hp: o.hp, seed: o.seed, evalSize: o.evalSize };
}

/** Fine-tunes the compiled O_PT model on O_FT labels (cached). The caller disposes the returned model. */
export function tracrFinetuneStage(o: FinetuneStageOptions): Promise<TracrStageOutput> {
  const task = makeTracrTask(o.program, o.tasks);
  const key = tracrFinetuneStageKey(o);
  return trainStage({
    key,
    task,
    init: () => noisyCompiled(task.compiled, o.hp.noiseStd, Rng.derive(o.seed, 'tracr', 'noise', task.name, 'pt')),
    labels: 'ft',
    cTr: o.cTr,
    hp: o.hp,
    seed: o.seed,
    evalSize: o.evalSize,
    runsRoot: o.runsRoot,
    label: `tracr FT ${o.program} lr=${o.hp.lr} C_Tr=${o.cTr}`,
  });
}

function noisyCompiled(cp: CompiledProgram, std: number, rng: Rng): Transformer {
  const model = compiledModel(cp);
  addWeightNoise(model, std, rng);
  return model;
}

export interface ReverseStageOptions {
  parent: FinetuneStageOptions;
  /** reFT hyperparameters (the paper: as fine-tuning, with a smaller LR); noiseStd is not used. */
  hp: TracrTrainConfig;
  runsRoot?: string;
}

/** Reverse fine-tuning: the fine-tuned model trained on O_PT labels of plain data (cached). */
export async function tracrReverseFinetuneStage(o: ReverseStageOptions): Promise<TracrStageOutput> {
  const parent = await tracrFinetuneStage({ ...o.parent, runsRoot: o.runsRoot ?? o.parent.runsRoot });
  const weights = parent.model.getWeights();
  const config = parent.model.config;
  parent.model.dispose();
  const task = makeTracrTask(o.parent.program, o.parent.tasks);
  return trainStage({
    key: { stage: 'tracr-reft', version: TRACR_STAGE_VERSION, parent: parent.key, hp: o.hp },
    task,
    init: () => {
      const m = new Transformer(config, 0);
      m.setWeights(weights, { strict: true });
      return m;
    },
    labels: 'pt',
    cTr: 0,
    hp: o.hp,
    seed: o.parent.seed,
    evalSize: o.parent.evalSize,
    runsRoot: o.runsRoot ?? o.parent.runsRoot,
    label: `tracr reFT ${o.parent.program} lr=${o.hp.lr} (FT lr=${o.parent.hp.lr} C_Tr=${o.parent.cTr})`,
  });
}

export interface ScratchStageOptions extends TracrStageTask {
  /** The Scr.+FT schedule (the reFT one); noiseStd applies to the compiled O_FT weights. */
  hp: TracrTrainConfig;
  seed: number;
  evalSize: number;
  runsRoot?: string;
}

/** Scr.+FT: the program compiled for O_FT, fine-tuned on O_PT labels of plain data (cached). */
export function tracrScratchFinetuneStage(o: ScratchStageOptions): Promise<TracrStageOutput> {
  const task = makeTracrTask(o.program, o.tasks);
  if (!task.compileFinetuneProgram) throw new Error(`${task.name}: no O_FT program to start Scr.+FT from`);
  const ftCompiled = task.compileFinetuneProgram();
  return trainStage({
    key: { stage: 'tracr-scratch-ft', version: TRACR_STAGE_VERSION, task: taskConfigOf(o.program, o.tasks), hp: o.hp, seed: o.seed, evalSize: o.evalSize },
    task,
    init: () => noisyCompiled(ftCompiled, o.hp.noiseStd, Rng.derive(o.seed, 'tracr', 'noise', task.name, 'ft')),
    labels: 'pt',
    cTr: 0,
    hp: o.hp,
    seed: o.seed,
    evalSize: o.evalSize,
    runsRoot: o.runsRoot,
    label: `tracr Scr.+FT ${o.program} lr=${o.hp.lr}`,
  });
}

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
  const name = `blocks.${head.layer}.attn.pattern`;
  const pattern = tf.tidy(() => {
    const tokens = tf.tensor2d(samples.batch.tokens.subarray(0, n * T), [n, T], 'int32');
    return model.forward(tokens, { cache: [name] }).cache[name].dataSync() as Float32Array; // [n, H, T, T]
  });
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

/** One layer's attention pattern [head][query][key] for one input (token ids). */
export function patternOf(model: Transformer, ids: readonly number[], layer: number): number[][][] {
  const name = `blocks.${layer}.attn.pattern`;
  return tf.tidy(() => (model.forward(tf.tensor2d([...ids], [1, ids.length], 'int32'), { cache: [name] }).cache[name].arraySync() as number[][][][])[0]);
}

/** One layer's MLP hidden activations [position][channel] for one input (token ids). */
export function mlpHiddenOf(model: Transformer, ids: readonly number[], layer: number): number[][] {
  const name = `blocks.${layer}.mlp.hidden`;
  return tf.tidy(() => (model.forward(tf.tensor2d([...ids], [1, ids.length], 'int32'), { cache: [name] }).cache[name].arraySync() as number[][][])[0]);
}
