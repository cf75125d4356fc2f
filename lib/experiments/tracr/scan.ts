/**
 * tracr-weight-scan: is there a one-weight wrapper? Every single weight of the fine-tuned Counter (every matrix,
 * embeddings and unembedding too) is zeroed alone, and Acc O_PT on C_Te = 0 is measured each time — no score, no
 * approximation, so it answers what grad x weight (Figs 55–59) and exact loss scoring only estimate: the best Acc O_PT
 * any single weight gives back. A weight that makes the model answer one class everywhere "revives" exactly that
 * class's share of inputs (Fig. 59's failure mode); such collapses are counted apart from revivals.
 */
import { z } from 'zod';
import { forEachUnitAlone, PruneMasks, unitName } from '../../analysis/prune';
import { defineExperiment } from '../define';
import { makeTracrTask, tracrTestSets } from './data';
import { finetuneStageOf, TRACR_CELL, TRACR_EVAL_SIZE, TRACR_LR_ROLES, TRACR_TASKS, TRACR_TRAIN } from './finetune';
import { pruneParams } from './prune';
import { finetuneNode, ptFtAccuracy, readoutClasses } from './stages';

export const TracrWeightScanSchema = z
  .object({
    ...TRACR_CELL,
    scan: z
      .object({
        /** Which matrices: 'mlp' = MLP outputs, 'blocks' = every block matrix, 'all' = + embeddings/unembedding. */
        params: z.enum(['mlp', 'blocks', 'all']),
        /** Weights with |w| below this are skipped (zeroing them changes nothing measurable). */
        minAbs: z.number().nonnegative(),
        /** A prediction is a collapse when one class takes at least this share of the C_Te = 0 inputs. */
        collapseShare: z.number().gt(0).max(1),
        /** How many of the best weights the results list. */
        top: z.number().int().positive(),
      })
      .strict(),
  })
  .strict();
export type TracrWeightScanConfig = z.output<typeof TracrWeightScanSchema>;

export interface ScannedWeight {
  unit: string;
  /** Acc O_PT and O_FT on C_Te = 0 with this weight alone zeroed. */
  pt: number;
  ft: number;
  /** The class the model answers most often then, and its share of the inputs. */
  modalClass: string;
  modalShare: number;
  /** Acc O_PT counting only correct answers other than the modal class: what is right beyond answering one class. */
  ptBeyondModal: number;
  collapsed: boolean;
}

export interface TracrWeightScanResults {
  program: string;
  lr: number;
  cTr: number;
  /** Weights zeroed (one at a time) and the inputs each was measured on. */
  scanned: number;
  testSize: number;
  base: { pt: number; ft: number; modalShare: number; ptBeyondModal: number };
  /** The weights giving the highest Acc O_PT, best first (collapses included, marked). */
  top: ScannedWeight[];
  /** The best weight whose prediction is not a collapse (null when every weight that changes anything collapses). */
  bestRevival: ScannedWeight | null;
  /** How many weights raise Acc O_PT by at least 10 / 25 / 50 points, and how many of those collapse the model. */
  reach: { gain: number; weights: number; collapsed: number }[];
}

const SCAN_DEFAULT = { params: 'all' as const, minAbs: 5e-4, collapseShare: 0.8, top: 10 };
const REACH = [0.1, 0.25, 0.5];

export const weightScan = defineExperiment({
  id: 'tracr-weight-scan',
  title: 'Tracr: every single weight of the fine-tuned Counter zeroed alone (a one-weight wrapper?)',
  description: 'Zeroes each weight of the fine-tuned model alone and measures Acc O_PT / O_FT on C_Te = 0: the best single-weight revival, without scoring, and whether it is a revival or a collapse onto one answer.',
  version: 2,
  schema: TracrWeightScanSchema,
  presets: {
    smoke: { program: 'counter', tasks: TRACR_TASKS.smoke, cTr: 1, ft: TRACR_TRAIN.smoke, evalSize: TRACR_EVAL_SIZE.smoke, scan: { ...SCAN_DEFAULT, params: 'blocks' } },
    // The model tracr-prune prunes: fine-tuned at the preset's η_S on C_Tr = 1 (the same cached stage).
    laptop: { program: 'counter', tasks: TRACR_TASKS.laptop, cTr: 1, ft: { ...TRACR_TRAIN.laptop, lr: TRACR_LR_ROLES.laptop.S }, evalSize: TRACR_EVAL_SIZE.laptop, scan: SCAN_DEFAULT },
    paper: { program: 'counter', tasks: TRACR_TASKS.paper, cTr: 1, ft: { ...TRACR_TRAIN.paper, lr: TRACR_LR_ROLES.paper.S }, evalSize: TRACR_EVAL_SIZE.paper, scan: SCAN_DEFAULT },
  },
  stages: (cfg, seed) => [finetuneNode(finetuneStageOf(cfg), seed)],
  cost: (cfg) => cfg.evalSize * 1e8,
  async run(cfg, ctx): Promise<TracrWeightScanResults> {
    const task = makeTracrTask(cfg.program, cfg.tasks);
    const stage = await ctx.stage(finetuneNode(finetuneStageOf(cfg), ctx.seed));
    const model = stage.loadModel();
    try {
      const { cTe0 } = tracrTestSets(task, ctx.seed, cfg.evalSize);
      const classes = (task.compiled.outputValues ?? []).map(String);
      const judge = (unit: string, pred: Int32Array): ScannedWeight => {
        const counts = new Map<number, number>();
        for (const p of pred) counts.set(p, (counts.get(p) ?? 0) + 1);
        const [modal, n] = [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0];
        const share = n / pred.length;
        let beyond = 0;
        pred.forEach((p, i) => void (p !== modal && p === cTe0.ptClass[i] && beyond++));
        return { unit, ...ptFtAccuracy(pred, cTe0), modalClass: classes[modal] ?? String(modal), modalShare: share, ptBeyondModal: beyond / pred.length, collapsed: share >= cfg.scan.collapseShare };
      };
      const base = judge('', readoutClasses(model, task, cTe0.batch));
      const spec = { granularity: 'weight' as const, params: pruneParams(model, cfg.scan.params) };
      const scanned = forEachUnitAlone(model, spec, new PruneMasks(model, 'weight'), cfg.scan.minAbs, (unit, masks) => judge(unitName(unit, 'weight'), readoutClasses(model, task, cTe0.batch, masks))).map((s) => s.value);
      const byPt = [...scanned].sort((a, b) => b.pt - a.pt || a.unit.localeCompare(b.unit));
      return {
        program: cfg.program,
        lr: cfg.ft.lr,
        cTr: cfg.cTr,
        scanned: scanned.length,
        testSize: cTe0.batch.batchSize,
        base: { pt: base.pt, ft: base.ft, modalShare: base.modalShare, ptBeyondModal: base.ptBeyondModal },
        top: byPt.slice(0, cfg.scan.top),
        bestRevival: byPt.find((s) => !s.collapsed) ?? null,
        reach: REACH.map((gain) => {
          const hit = scanned.filter((s) => s.pt - base.pt >= gain - 1e-9);
          return { gain, weights: hit.length, collapsed: hit.filter((s) => s.collapsed).length };
        }),
      };
    } finally {
      model.dispose();
    }
  },
});
