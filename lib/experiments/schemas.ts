/** Config pieces shared by experiment schemas. Strict objects: an unknown key is an error, not a silent no-op. */
import { z } from 'zod';
import { OptimizerConfigSchema, ScheduleConfigSchema } from '../engine/optim';

export const ModelShapeSchema = z
  .object({
    dModel: z.number().int().positive(),
    nLayers: z.number().int().positive(),
    nHeads: z.number().int().positive(),
    dMlp: z.number().int().positive().optional(),
    norm: z.enum(['layernorm', 'rmsnorm', 'none']).default('layernorm'),
    activation: z.enum(['gelu', 'relu', 'swiglu']).default('gelu'),
    positions: z.enum(['learned', 'rope', 'none']).default('learned'),
    dropout: z.number().min(0).max(0.9).default(0),
  })
  .strict();
export type ModelShape = z.output<typeof ModelShapeSchema>;

export const TrainingSchema = z
  .object({
    steps: z.number().int().min(0),
    batchSize: z.number().int().positive(),
    optimizer: OptimizerConfigSchema,
    schedule: ScheduleConfigSchema,
    evalEvery: z.number().int().min(0).default(0),
    logEvery: z.number().int().positive().default(10),
    checkpointEvery: z.number().int().min(0).default(0),
  })
  .strict();
