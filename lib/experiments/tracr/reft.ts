/**
 * tracr-reft: reverse fine-tuning vs the Scr.+FT baseline (paper Fig. 27, Table 4).
 * reFT: the model fine-tuned on O_FT (at `ft.lr`, C_Tr) is trained again on O_PT labels of plain data.
 * Scr.+FT: the program compiled for O_FT (count b; the rankFT-th letter) plus the same weight noise, trained
 * on the same O_PT data with the same schedule — a model that never held O_PT behind a wrapper. If reFT
 * reaches high Acc O_PT much sooner, fine-tuning left the compiled capability in place.
 */
import { z } from 'zod';
import { metricCurve, stepsToReach } from '../../analysis/curves';
import type { Metrics } from '../../engine/metrics';
import { defineExperiment } from '../define';
import { stageNode } from '../stage';
import { makeTracrTask, taskConfigOf, tracrTestSets } from './data';
import { exampleIds, exampleMaps, ExamplesSchema, finetuneStageOf, TRACR_CELL, TRACR_EVAL_SIZE, TRACR_EXAMPLES, TRACR_LR_ROLES, TRACR_TASKS, TRACR_TRAIN } from './finetune';
import { accFromRow, tracrReverseFinetune, tracrScratchFinetune, TracrAccuracy, tracrAccuracy, TracrTrainSchema } from './stages';

export const TracrReftSchema = z
  .object({
    /** ft: the fine-tuning being reversed (paper: η_M = 1e-2). */
    ...TRACR_CELL,
    /** reFT and Scr.+FT schedule (paper: the fine-tuning one with a smaller or equal LR). */
    reft: TracrTrainSchema,
    /** "Revived" = Acc O_PT on C_Te = 0 at least this. */
    threshold: z.number().min(0).max(1),
    examples: ExamplesSchema,
  })
  .strict();
export type TracrReftConfig = z.output<typeof TracrReftSchema>;

export interface CurveOf {
  step: number;
  'acc.opt.cte0': number;
  'acc.oft.cte0': number;
}

export interface TracrReftResults {
  program: string;
  ftLr: number;
  reftLr: number;
  cTr: number;
  threshold: number;
  reft: { start: TracrAccuracy; final: TracrAccuracy; curve: CurveOf[]; stepsToThreshold: number | null };
  scratch: { start: TracrAccuracy; final: TracrAccuracy; curve: CurveOf[]; stepsToThreshold: number | null };
  /** Attention (head 0) of every layer of the reverse-fine-tuned model on the example input. */
  example: { tokens: string[]; attention: number[][][] };
}

function curveOf(rows: ({ step: number } & Metrics)[]): CurveOf[] {
  const pt = metricCurve(rows, 'acc.opt.cte0');
  const ft = new Map(metricCurve(rows, 'acc.oft.cte0').map((p) => [p.step, p.value]));
  return pt.map((p) => ({ step: p.step, 'acc.opt.cte0': p.value, 'acc.oft.cte0': ft.get(p.step) ?? NaN }));
}

const reftNode = (cfg: TracrReftConfig, seed: number) => stageNode(tracrReverseFinetune, { finetune: finetuneStageOf(cfg), hp: cfg.reft }, seed);
const scratchNode = (cfg: TracrReftConfig, seed: number) => stageNode(tracrScratchFinetune, { task: taskConfigOf(cfg.program, cfg.tasks), hp: cfg.reft, evalSize: cfg.evalSize }, seed);

export const reft = defineExperiment({
  id: 'tracr-reft',
  title: 'Tracr: reverse fine-tuning vs Scr.+FT (Fig. 27, Table 4)',
  description: 'reFT of a fine-tuned compiled model on the pretraining task, against the O_FT-compiled model fine-tuned on O_PT (Scr.+FT); Acc O_PT curves and iterations to revive.',
  version: 2,
  schema: TracrReftSchema,
  presets: {
    smoke: { program: 'counter', tasks: TRACR_TASKS.smoke, cTr: 1, ft: TRACR_TRAIN.smoke, reft: { ...TRACR_TRAIN.smoke, lr: 1e-2, evalEvery: 10 }, evalSize: TRACR_EVAL_SIZE.smoke, threshold: 0.9, examples: { counter: 'cbagbbd', maxIdentifier: 'bdafhmo' } },
    // FT at the laptop η_M (1e-3), reFT at η_S (1e-4); the figures also run reFT at η_M (Fig. 27's η_M panel).
    laptop: { program: 'counter', tasks: TRACR_TASKS.laptop, cTr: 1, ft: TRACR_TRAIN.laptop, reft: { ...TRACR_TRAIN.laptop, lr: TRACR_LR_ROLES.laptop.S, evalEvery: 20 }, evalSize: TRACR_EVAL_SIZE.laptop, threshold: 0.9, examples: TRACR_EXAMPLES },
    paper: { program: 'counter', tasks: TRACR_TASKS.paper, cTr: 1, ft: TRACR_TRAIN.paper, reft: { ...TRACR_TRAIN.paper, lr: 1e-3, evalEvery: 100 }, evalSize: TRACR_EVAL_SIZE.paper, threshold: 0.9, examples: TRACR_EXAMPLES },
  },
  stages: (cfg, seed) => [reftNode(cfg, seed), scratchNode(cfg, seed)],
  async run(cfg, ctx): Promise<TracrReftResults> {
    const task = makeTracrTask(cfg.program, cfg.tasks);
    const tests = tracrTestSets(task, ctx.seed, cfg.evalSize);
    const reft = await ctx.stage(reftNode(cfg, ctx.seed));
    const reftModel = reft.loadModel();
    const reftFinal = tracrAccuracy(reftModel, task, tests);
    const ex = exampleIds(task, cfg.program === 'counter' ? cfg.examples.counter : cfg.examples.maxIdentifier);
    const reftMaps = exampleMaps(reftModel, ex.ids);
    reftModel.dispose();
    const scratch = await ctx.stage(scratchNode(cfg, ctx.seed));
    const scratchModel = scratch.loadModel();
    const scratchFinal = tracrAccuracy(scratchModel, task, tests);
    scratchModel.dispose();
    const summarise = (rows: ({ step: number } & Metrics)[], final: TracrAccuracy) => ({
      start: accFromRow(rows.find((r) => r.step === 0)),
      final,
      curve: curveOf(rows),
      stepsToThreshold: stepsToReach(metricCurve(rows, 'acc.opt.cte0'), cfg.threshold),
    });
    return {
      program: cfg.program,
      ftLr: cfg.ft.lr,
      reftLr: cfg.reft.lr,
      cTr: cfg.cTr,
      threshold: cfg.threshold,
      reft: summarise(reft.results.curve, reftFinal),
      scratch: summarise(scratch.results.curve, scratchFinal),
      example: { tokens: ex.tokens, attention: reftMaps.attention },
    };
  },
});
