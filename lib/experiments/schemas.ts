/** Config pieces shared by experiment schemas. Strict objects: an unknown key is an error, not a silent no-op. */
import { z } from 'zod';

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

/** The trainer's own config schema (steps, batch, optimizer, schedule, eval/log/checkpoint cadence). */
export { TrainConfigSchema as TrainingSchema } from '../engine/train';
