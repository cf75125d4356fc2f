/**
 * demo-sort: train a small transformer to sort digits and report its accuracy. Proves the path
 * config -> data -> model -> training -> evaluation -> cache -> results end to end.
 */
import { z } from 'zod';
import { Transformer } from '../engine/model';
import { Rng } from '../engine/rng';
import { trainCached } from '../engine/train';
import { tokenAccuracy } from '../engine/evaluate';
import { sortBatch, sortContextLength, sortVocab } from '../tasks/toy/sort';
import { defineExperiment } from './define';
import { ModelShapeSchema, TrainingSchema } from './schemas';

const DemoSchema = z
  .object({
    task: z.object({ length: z.number().int().min(2).max(64), digits: z.number().int().min(2).max(100) }).strict(),
    model: ModelShapeSchema,
    train: TrainingSchema,
    evalSize: z.number().int().positive(),
  })
  .strict();
export type DemoConfig = z.output<typeof DemoSchema>;

export interface DemoResults {
  tokenAccuracy: number;
  sequenceAccuracy: number;
  evalLoss: number;
  finalTrainLoss: number;
  steps: number;
  params: number;
  /** Path of the trained model (safetensors), relative to the run directory. */
  model: string;
}

const optimizer = { kind: 'adamw' as const, lr: 3e-3, weightDecay: 0.01 };

export function demoModel(cfg: DemoConfig, seed: number): Transformer {
  const vocab = sortVocab(cfg.task);
  return new Transformer({ vocabSize: vocab.size, contextLength: sortContextLength(cfg.task), causal: true, bias: true, initStd: 0.02, ...cfg.model }, seed);
}

export const demoSort = defineExperiment({
  id: 'demo-sort',
  title: 'Demo: sort digits',
  description: 'Train a small transformer to sort a list of digits (answer-only loss); report teacher-forced accuracy.',
  version: 2,
  schema: DemoSchema,
  presets: {
    smoke: {
      task: { length: 5, digits: 6 },
      model: { dModel: 32, nLayers: 2, nHeads: 2 },
      train: { steps: 300, batchSize: 32, optimizer, schedule: { kind: 'cosine', warmupFrac: 0.1, minLrRatio: 0.1 }, evalEvery: 100, logEvery: 10, checkpointEvery: 100 },
      evalSize: 256,
    },
    laptop: {
      task: { length: 8, digits: 10 },
      model: { dModel: 64, nLayers: 2, nHeads: 4 },
      train: { steps: 1500, batchSize: 64, optimizer, schedule: { kind: 'cosine', warmupFrac: 0.1, minLrRatio: 0.1 }, evalEvery: 250, logEvery: 25, checkpointEvery: 250 },
      evalSize: 1000,
    },
    paper: {
      task: { length: 16, digits: 10 },
      model: { dModel: 192, nLayers: 6, nHeads: 6 },
      train: { steps: 10000, batchSize: 96, optimizer: { ...optimizer, lr: 1e-3 }, schedule: { kind: 'cosine', warmupFrac: 0.2, minLrRatio: 0.01 }, evalEvery: 1000, logEvery: 100, checkpointEvery: 1000 },
      evalSize: 2000,
    },
  },
  // It trains: about 6 x parameters x tokens per step x steps.
  cost: (cfg) => 6 * 12 * cfg.model.nLayers * cfg.model.dModel ** 2 * cfg.train.batchSize * 2 * cfg.task.length * cfg.train.steps,
  async run(cfg, ctx): Promise<DemoResults> {
    const model = demoModel(cfg, ctx.seed);
    try {
      const evalSet = sortBatch(Rng.derive(ctx.seed, 'demo', 'eval'), cfg.task, cfg.evalSize);
      const { metrics } = await trainCached({
        model,
        run: ctx.run,
        seed: ctx.seed,
        label: 'demo-sort',
        config: cfg.train,
        sampler: (step, batchSize) => sortBatch(Rng.derive(ctx.seed, 'demo', 'train', step), cfg.task, batchSize),
        evaluate: (m) => {
          const acc = tokenAccuracy(m, evalSet);
          return { 'loss.eval': acc.loss, 'acc.token': acc.tokenAccuracy };
        },
      });
      const acc = tokenAccuracy(model, evalSet);
      const last = [...metrics].reverse().find((r) => typeof r.loss === 'number');
      return {
        tokenAccuracy: acc.tokenAccuracy,
        sequenceAccuracy: acc.sequenceAccuracy,
        evalLoss: acc.loss,
        finalTrainLoss: last?.loss ?? NaN,
        steps: cfg.train.steps,
        params: model.numParams(),
        model: 'model.safetensors',
      };
    } finally {
      model.dispose();
    }
  },
});
