/**
 * Training: one step (forward, backward, clip, update) and the loop around it (schedule, periodic
 * evaluation, metrics, checkpoints, resume, progress). Data comes from a step-indexed sampler, so a run
 * resumed from a checkpoint sees exactly the batches an unbroken run would have seen.
 */
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { weightedSpan, type Batch, type BatchSampler } from './data';
import type { ForwardOptions, Transformer } from './model';
import { Optimizer, OptimizerConfigSchema, ScheduleConfigSchema, clipScale, globalGradNorm, learningRate } from './optim';
import { createProgress } from './progress';
import { deriveSeed } from './rng';
import type { MetricRow, Metrics } from './metrics';
import { heartbeatLocks, type Run } from './runs';
import { CheckpointError, loadWeightsInto, saveModel } from './checkpoint';
import { WraplabError } from './errors';
import { interrupted, interruptRequested, watchInterrupts, yieldToEvents } from './interrupt';
import { writeJsonAtomic } from './fsutil';
import { checkTrainingFits, embeddingParamNames, peakRssMB, wasmHeapBytes, WASM_HEAP_LIMIT, type MemoryReport, type TrainMemoryOptions } from './memory';

export const TrainConfigSchema = z
  .object({
    steps: z.number().int().min(0),
    batchSize: z.number().int().positive(),
    optimizer: OptimizerConfigSchema,
    schedule: ScheduleConfigSchema,
    /** Evaluate every N steps (and at the start and the end); 0 = only at the end. */
    evalEvery: z.number().int().min(0).default(0),
    /** Log the training loss every N steps. */
    logEvery: z.number().int().positive().default(10),
    /** Save a resumable checkpoint every N steps (only with a Run); 0 = never mid-run. */
    checkpointEvery: z.number().int().min(0).default(0),
  })
  .strict();
export type TrainConfig = z.output<typeof TrainConfigSchema>;
export type TrainConfigInput = z.input<typeof TrainConfigSchema>;

export function batchTensors(batch: Batch): { tokens: tf.Tensor2D; targets: tf.Tensor2D; weights: tf.Tensor2D } {
  const shape: [number, number] = [batch.batchSize, batch.contextLength];
  return {
    tokens: tf.tensor2d(batch.tokens, shape, 'int32'),
    targets: tf.tensor2d(batch.targets, shape, 'int32'),
    weights: tf.tensor2d(batch.weights, shape, 'float32'),
  };
}

/**
 * Forward options with the logit span of the batch's weights (unless the caller set one): the loss then needs
 * logits only where it has weight (an answer-only loss: one position), with the same value and gradients.
 */
export function withWeightedSpan<O extends ForwardOptions>(opts: O | undefined, batch: Batch): O {
  return { ...opts, logitSpan: opts?.logitSpan ?? weightedSpan(batch) } as O;
}

export interface StepOptions {
  /** Only parameters for which this returns true are updated (default: all). */
  trainable?: (name: string) => boolean;
  forward?: Omit<ForwardOptions, 'cache'>;
}

/** Gradients of the batch loss w.r.t. the (trainable) parameters, keyed by parameter name. Caller disposes. */
export function lossAndGrads(model: Transformer, batch: Batch, opts: StepOptions = {}): { loss: number; grads: Record<string, tf.Tensor> } {
  const names = [...model.parameters().keys()].filter((n) => !opts.trainable || opts.trainable(n));
  const vars = names.map((n) => model.param(n));
  const byVarName = new Map(vars.map((v, i) => [v.name, names[i]]));
  const t = batchTensors(batch);
  try {
    const forward = withWeightedSpan(opts.forward, batch);
    const { value, grads } = tf.variableGrads(() => model.loss(t.tokens, t.targets, t.weights, forward), vars);
    const loss = value.dataSync()[0];
    value.dispose();
    const out: Record<string, tf.Tensor> = {};
    for (const [vname, g] of Object.entries(grads)) out[byVarName.get(vname)!] = g;
    return { loss, grads: out };
  } finally {
    tf.dispose([t.tokens, t.targets, t.weights]);
  }
}

/** One optimisation step. Returns the loss before the update and the gradient norm before clipping. */
export function trainStep(model: Transformer, optimizer: Optimizer, batch: Batch, lr: number, opts: StepOptions = {}): { loss: number; gradNorm: number } {
  const { loss, grads } = lossAndGrads(model, batch, opts);
  try {
    // Clipping folds into the update (gradScale) instead of materialising scaled copies of every gradient.
    const gradNorm = globalGradNorm(grads);
    optimizer.apply(grads, lr, clipScale(gradNorm, optimizer.config.clipNorm));
    return { loss, gradNorm };
  } finally {
    tf.dispose(Object.values(grads));
  }
}

export type Evaluator = (model: Transformer, step: number) => Metrics | Promise<Metrics>;

export interface TrainOptions extends StepOptions {
  model: Transformer;
  sampler: BatchSampler;
  config: TrainConfigInput;
  /** Seeds dropout noise; data and init have their own streams. */
  seed: number;
  evaluate?: Evaluator;
  /** With a Run: metrics go to metrics.jsonl, checkpoints allow resuming, and the final model is saved. */
  run?: Run;
  label?: string;
  /** Stop (as if killed) after this many steps of this call; for tests of resuming. */
  haltAfter?: number;
  /** Called after every step. */
  onStep?: (step: number, loss: number) => void;
  /** How to fit a big model in memory (memory.ts); none of these change the numbers except freezeEmbeddings. */
  memory?: TrainMemoryOptions;
}

export interface TrainResult {
  steps: number;
  finalLoss: number;
  metrics: MetricRow[];
  /** True if the run stopped early because of haltAfter. */
  halted: boolean;
  /** What the run used (also written to the run's memory.json). */
  memory: MemoryReport;
}

export class TrainingHalted extends Error {}

/** Trains `model` in place. With a Run that holds a checkpoint, resumes from it. */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  const cfg = TrainConfigSchema.parse(opts.config);
  const { model, run } = opts;
  const decay = model.specs.filter((s) => s.decay).map((s) => s.name);
  const mem = opts.memory ?? {};
  const embeddings = embeddingParamNames(model);
  const frozen = new Set(mem.freezeEmbeddings ? embeddings : []);
  const trainable = (n: string) => !frozen.has(n) && (!opts.trainable || opts.trainable(n));
  const params = new Map([...model.parameters()].filter(([n]) => trainable(n)));
  const label = opts.label ?? 'train';
  const stateLocation = Optimizer.resolveStateLocation(mem.optimizerState ?? 'auto', params);
  const trainableParams = [...params.values()].reduce((a, p) => a + p.size, 0);
  // Before anything is allocated: refuse a step that cannot fit the wasm heap, naming what would.
  let estimateBytes = 0;
  if (cfg.steps > 0) {
    const probe = opts.sampler(0, cfg.batchSize);
    const span = weightedSpan(probe);
    estimateBytes = checkTrainingFits(model, {
      label,
      batchSize: probe.batchSize,
      seqLen: probe.contextLength,
      logitRows: span ? span.end - span.start : probe.contextLength,
      trainableParams,
      optimizer: cfg.optimizer.kind,
      optimizerState: stateLocation,
      checkpointBlocks: !!mem.checkpointBlocks,
      freezeEmbeddings: !!mem.freezeEmbeddings,
      embeddingParams: embeddings.filter((n) => params.has(n)).reduce((a, n) => a + model.param(n).size, 0),
    }).total;
  }
  const optimizer = new Optimizer(cfg.optimizer, params, decay, { state: stateLocation });
  try {
    let start = 0;
    if (run && run.checkpointStep() !== null) {
      try {
        start = run.loadCheckpoint(model, optimizer);
        run.truncateMetrics(start);
      } catch (e) {
        if (!(e instanceof CheckpointError)) throw e;
        // A damaged checkpoint (truncated by a full disk, a file deleted by hand): start over rather than refuse.
        // loadCheckpoint changed nothing, so the model still holds its initial weights.
        console.error(`wraplab: ${label}: discarding the unreadable checkpoint in ${run.file('checkpoint')} (${e.message}); training from step 0`);
        run.clearCheckpoint();
        run.truncateMetrics(-1);
      }
    } else if (run) {
      run.truncateMetrics(-1);
    }
    const metrics: MetricRow[] = run ? run.metrics() : [];
    const record = (row: MetricRow) => {
      metrics.push(row);
      run?.appendMetric(row);
    };
    const evaluate = async (step: number) => (opts.evaluate ? await opts.evaluate(model, step) : {});

    if (start === 0 && opts.evaluate && cfg.steps > 0) record({ step: 0, ...(await evaluate(0)) });
    const progress = createProgress(label, cfg.steps);
    let loss = NaN;
    let halted = false;
    let completed = start;
    const resumeHint = () => (run ? `checkpoint saved in ${run.file('checkpoint')}: run the same command or cell again to resume from it` : 'this training has no run directory, so it starts over next time');
    const release = watchInterrupts(() => `${label}: interrupted at step ${completed} of ${cfg.steps} (it stops after the step in progress); ${resumeHint()}`);
    try {
      for (let step = start; step < cfg.steps; step++) {
        if (opts.haltAfter !== undefined && step - start >= opts.haltAfter) {
          halted = true;
          break;
        }
        const lr = learningRate(cfg.schedule, cfg.optimizer.lr, step, cfg.steps);
        const batch = opts.sampler(step, cfg.batchSize);
        const forward = { ...opts.forward, training: true, dropoutSeed: deriveSeed(opts.seed, 'dropout', step), checkpointBlocks: !!mem.checkpointBlocks };
        const out = trainStep(model, optimizer, batch, lr, { trainable, forward });
        loss = out.loss;
        if (!Number.isFinite(loss)) throw new WraplabError(`${label}: loss became ${loss} at step ${step + 1} (lr ${lr}); lower the learning rate`);
        opts.onStep?.(step + 1, loss);
        heartbeatLocks(); // timers fire only at the loop's yields (every ~100 ms), so locks are refreshed here
        const done = step + 1;
        completed = done;
        const isEval = opts.evaluate && ((cfg.evalEvery > 0 && done % cfg.evalEvery === 0) || done === cfg.steps);
        const isLog = done % cfg.logEvery === 0 || done === cfg.steps;
        if (isEval || isLog) {
          const row: MetricRow = { step: done, loss, lr };
          if (isEval) Object.assign(row, await evaluate(done));
          record(row);
          progress.update(done, pickInfo(row));
        }
        if (run && cfg.checkpointEvery > 0 && done % cfg.checkpointEvery === 0 && done < cfg.steps) {
          run.saveCheckpoint(model, optimizer, done);
        }
        await yieldToEvents();
        if (interruptRequested() && done < cfg.steps) {
          if (run) run.saveCheckpoint(model, optimizer, done);
          throw interrupted(`${label}: interrupted at step ${done} of ${cfg.steps}; ${resumeHint()}`);
        }
      }
    } finally {
      release();
    }
    if (!halted) progress.finish(metrics.length ? pickInfo(metrics[metrics.length - 1]) : undefined);
    const heap = wasmHeapBytes();
    const stateBytes = optimizer.stateBytes();
    const MB = 1024 * 1024;
    const memory: MemoryReport = {
      backend: tf.getBackend(),
      heapMB: heap === null ? null : heap / MB,
      heapLimitMB: heap === null ? null : WASM_HEAP_LIMIT / MB,
      estimateMB: estimateBytes / MB,
      peakRssMB: peakRssMB(),
      tensorsMB: tf.memory().numBytes / MB,
      optimizerState: optimizer.stateLocation,
      optimizerStateMB: (stateBytes.heap + stateBytes.host) / MB,
      checkpointBlocks: !!mem.checkpointBlocks,
      freezeEmbeddings: !!mem.freezeEmbeddings,
      trainableParams,
    };
    // Beside the results, not in them: these numbers differ between machines and runs.
    if (run) writeJsonAtomic(run.file('memory.json'), memory);
    return { steps: halted ? -1 : cfg.steps, finalLoss: loss, metrics, halted, memory };
  } finally {
    optimizer.dispose();
  }
}

function pickInfo(row: MetricRow): Record<string, number> {
  const info: Record<string, number> = {};
  for (const [k, v] of Object.entries(row)) if (k !== 'step' && k !== 'lr' && typeof v === 'number') info[k] = v;
  return info;
}

/**
 * Trains a model once per Run and caches the final weights as `model.safetensors`: a second call loads
 * them instead of training. An interrupted call resumes from the run's checkpoint.
 */
export async function trainCached(opts: TrainOptions & { run: Run }): Promise<{ metrics: MetricRow[]; cached: boolean }> {
  // Locked: parallel workers that share this stage wait for it instead of training it twice into the same files.
  return opts.run.withLock(async () => {
    const final = opts.run.file('model.safetensors');
    const doneMarker = opts.run.file('train-done.json');
    if (fs.existsSync(final) && fs.existsSync(doneMarker)) {
      try {
        loadWeightsInto(opts.model, final);
        return { metrics: opts.run.metrics(), cached: true };
      } catch (e) {
        if (!(e instanceof CheckpointError && e.damaged)) throw e;
        // Training is deterministic: retraining rewrites the same file. loadWeightsInto changed nothing.
        console.error(`wraplab: ${opts.label ?? 'train'}: retraining: ${e.message.split('; ')[0]}`);
        fs.rmSync(doneMarker, { force: true });
        fs.rmSync(final, { force: true });
      }
    }
    const result = await train(opts);
    if (result.halted) throw new TrainingHalted(`${opts.label ?? 'train'} halted after ${opts.haltAfter} steps`);
    saveModel(opts.model, final);
    writeJsonAtomic(doneMarker, { steps: result.steps, finalLoss: result.finalLoss });
    opts.run.clearCheckpoint();
    return { metrics: result.metrics, cached: false };
  });
}
