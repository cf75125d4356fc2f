/**
 * tracr-reft: reverse fine-tuning vs the Scr.+FT baseline (paper Fig. 27, Table 4).
 * reFT: the model fine-tuned on O_FT (at `ft.lr`, C_Tr) is trained again on O_PT labels of plain data.
 * Scr.+FT: the program compiled for O_FT (count b; the rankFT-th letter) plus the same weight noise, trained
 * on the same O_PT data with the same schedule — a model that never held O_PT behind a wrapper. If reFT
 * reaches high Acc O_PT much sooner, fine-tuning left the compiled capability in place.
 */
import { z } from 'zod';
import { metricCurve, stepsToReach } from '../analysis/curves';
import { registerExperiment } from './registry';
import { makeTracrTask, TRACR_PROGRAMS, TracrTasksSchema, tracrTestSets } from './tracrData';
import { accFromRow, exampleIds, exampleMaps, ExamplesSchema, TRACR_EVAL_SIZE, TRACR_EXAMPLES, TRACR_LR_ROLES, TRACR_TASKS, TRACR_TRAIN } from './tracrFinetune';
import { tracrReverseFinetuneStage, tracrScratchFinetuneStage, TracrAccuracy, tracrAccuracy, TracrTrainSchema } from './tracrStages';

export const TracrReftSchema = z
  .object({
    program: z.enum(TRACR_PROGRAMS),
    tasks: TracrTasksSchema,
    cTr: z.number().min(0).max(1),
    /** The fine-tuning being reversed (paper: η_M = 1e-2). */
    ft: TracrTrainSchema,
    /** reFT and Scr.+FT schedule (paper: the fine-tuning one with a smaller or equal LR). */
    reft: TracrTrainSchema,
    evalSize: z.number().int().positive(),
    /** "Revived" = Acc O_PT on C_Te = 0 at least this. */
    threshold: z.number().min(0).max(1),
    examples: ExamplesSchema,
  })
  .strict();
export type TracrReftConfig = z.output<typeof TracrReftSchema>;

export interface CurveOf {
  step: number;
  accPT_cTe0: number;
  accFT_cTe0: number;
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

function curveOf(rows: Record<string, unknown>[]): CurveOf[] {
  const pt = metricCurve(rows, 'accPT_cTe0');
  const ft = new Map(metricCurve(rows, 'accFT_cTe0').map((p) => [p.step, p.value]));
  return pt.map((p) => ({ step: p.step, accPT_cTe0: p.value, accFT_cTe0: ft.get(p.step) ?? NaN }));
}

export const tracrReft = registerExperiment({
  id: 'tracr-reft',
  title: 'Tracr: reverse fine-tuning vs Scr.+FT (Fig. 27, Table 4)',
  description: 'reFT of a fine-tuned compiled model on the pretraining task, against the O_FT-compiled model fine-tuned on O_PT (Scr.+FT); Acc O_PT curves and iterations to revive.',
  version: 1,
  schema: TracrReftSchema,
  presets: {
    smoke: { program: 'counter', tasks: TRACR_TASKS.smoke, cTr: 1, ft: TRACR_TRAIN.smoke, reft: { ...TRACR_TRAIN.smoke, lr: 1e-2, evalEvery: 10 }, evalSize: TRACR_EVAL_SIZE.smoke, threshold: 0.9, examples: { counter: 'cbagbbd', maxIdentifier: 'bdafhmo' } },
    // FT at the laptop η_M (1e-3), reFT at η_S (1e-4); the figures also run reFT at η_M (Fig. 27's η_M panel).
    laptop: { program: 'counter', tasks: TRACR_TASKS.laptop, cTr: 1, ft: TRACR_TRAIN.laptop, reft: { ...TRACR_TRAIN.laptop, lr: TRACR_LR_ROLES.laptop.S, evalEvery: 20 }, evalSize: TRACR_EVAL_SIZE.laptop, threshold: 0.9, examples: TRACR_EXAMPLES },
    paper: { program: 'counter', tasks: TRACR_TASKS.paper, cTr: 1, ft: TRACR_TRAIN.paper, reft: { ...TRACR_TRAIN.paper, lr: 1e-3, evalEvery: 100 }, evalSize: TRACR_EVAL_SIZE.paper, threshold: 0.9, examples: TRACR_EXAMPLES },
  },
  async run(cfg, ctx): Promise<TracrReftResults> {
    const task = makeTracrTask(cfg.program, cfg.tasks);
    const tests = tracrTestSets(task, ctx.seed, cfg.evalSize);
    const parent = { program: cfg.program, tasks: cfg.tasks, cTr: cfg.cTr, hp: cfg.ft, seed: ctx.seed, evalSize: cfg.evalSize, runsRoot: ctx.runsRoot };
    const reft = await tracrReverseFinetuneStage({ parent, hp: cfg.reft, runsRoot: ctx.runsRoot });
    const reftFinal = tracrAccuracy(reft.model, task, tests);
    const ex = exampleIds(task, cfg.program === 'counter' ? cfg.examples.counter : cfg.examples.maxIdentifier);
    const reftMaps = exampleMaps(reft.model, ex.ids);
    reft.model.dispose();
    const scratch = await tracrScratchFinetuneStage({ program: cfg.program, tasks: cfg.tasks, hp: cfg.reft, seed: ctx.seed, evalSize: cfg.evalSize, runsRoot: ctx.runsRoot });
    const scratchFinal = tracrAccuracy(scratch.model, task, tests);
    scratch.model.dispose();
    const summarise = (rows: Record<string, unknown>[], final: TracrAccuracy) => ({
      start: accFromRow(rows.find((r) => r.step === 0) as never),
      final,
      curve: curveOf(rows),
      stepsToThreshold: stepsToReach(metricCurve(rows, 'accPT_cTe0'), cfg.threshold),
    });
    return {
      program: cfg.program,
      ftLr: cfg.ft.lr,
      reftLr: cfg.reft.lr,
      cTr: cfg.cTr,
      threshold: cfg.threshold,
      reft: summarise(reft.metrics, reftFinal),
      scratch: summarise(scratch.metrics, scratchFinal),
      example: { tokens: ex.tokens, attention: reftMaps.attention },
    };
  },
});
