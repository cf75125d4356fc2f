/**
 * The Tracr studies (paper Table 3, Figs 10, 27, 39-59, Table 4): the grids each preset runs (laptop: a subset of
 * the paper's C_Tr sweep, to fit 2 CPU cores) and their tables. `lrs` are the paper's nominal LRs (Table 3 sits
 * beside the paper's cells); `reftLrs` and the η_S / η_M panels use the preset's LR roles (TRACR_LR_ROLES:
 * laptop η_M = 1e-3, η_S = 1e-4).
 */
import type { Preset } from '../experiments/define';
import { spec } from '../experiments/run';
import type { TracrProgramName } from '../experiments/tracr/data';
import { TRACR_CTRS, TRACR_LR_ROLES, TRACR_LRS, finetune, type TracrFinetuneResults } from '../experiments/tracr/finetune';
import { prune, type TracrPruneResults } from '../experiments/tracr/prune';
import { reft, type TracrReftResults } from '../experiments/tracr/reft';
import { weightScan } from '../experiments/tracr/scan';
import { defineStudy } from './study';

export const TRACR_FIGURE_GRID: Record<Preset, { lrs: number[]; cTrs: number[]; reftLrs: number[] }> = {
  smoke: { lrs: [TRACR_LRS.M, TRACR_LRS.S], cTrs: [0, 1], reftLrs: [TRACR_LRS.M] },
  laptop: { lrs: [TRACR_LRS.L, TRACR_LRS.M, TRACR_LRS.S, TRACR_LRS.VS], cTrs: [0, 1], reftLrs: [TRACR_LR_ROLES.laptop.M, TRACR_LR_ROLES.laptop.S] },
  paper: { lrs: [TRACR_LRS.L, TRACR_LRS.M, TRACR_LRS.S, TRACR_LRS.VS], cTrs: [...TRACR_CTRS], reftLrs: [TRACR_LRS.M, TRACR_LRS.S, TRACR_LRS.VS] },
};

export const TRACR_FIGURE_PROGRAMS: readonly TracrProgramName[] = ['counter', 'max-identifier'];

export interface TracrFinetuneTable {
  preset: Preset;
  /** Every (program, LR, C_Tr) fine-tuning of the grid. */
  finetuned: TracrFinetuneResults[];
  /** Per program: reFT at the grid's last reFT LR (the attention panels' reFT column). */
  reft: TracrReftResults[];
}

export const finetuneStudy = defineStudy({
  id: 'tracr-finetune',
  title: 'Tracr: Table 3 analog, attention maps (Fig. 10, appendix), MLP activations',
  plan: ({ preset }) => {
    const grid = TRACR_FIGURE_GRID[preset];
    return {
      finetuned: TRACR_FIGURE_PROGRAMS.flatMap((program) => grid.lrs.flatMap((lr) => grid.cTrs.map((cTr) => spec(finetune, { overrides: { program, ft: { lr }, cTr } })))),
      reft: TRACR_FIGURE_PROGRAMS.map((program) => spec(reft, { overrides: { program, reft: { lr: grid.reftLrs[grid.reftLrs.length - 1] } } })),
    };
  },
  table: (r, { preset }): TracrFinetuneTable => ({ preset, finetuned: r.finetuned.map((o) => o.results), reft: r.reft.map((o) => o.results) }),
});

/** Units of the exact-scoring sweep (each step scores every weight with a forward pass, so fewer than grad x weight's 20). */
export const EXACT_PRUNE_UNITS: Record<Preset, number> = { smoke: 2, laptop: 5, paper: 10 };

export interface TracrPruneRun {
  program: TracrProgramName;
  granularity: 'weight' | 'row';
  scoring: 'gradxweight' | 'exact';
  results: TracrPruneResults;
}

export const pruneStudy = defineStudy({
  id: 'tracr-prune',
  title: 'Tracr: pruning weights and neurons (Figs 55–59)',
  plan: ({ preset }) => {
    const grid = TRACR_FIGURE_GRID[preset];
    const roles = TRACR_LR_ROLES[preset];
    const lrs = [roles.M, roles.S].filter((lr) => grid.lrs.includes(lr));
    const runs = TRACR_FIGURE_PROGRAMS.flatMap((program) => [
      ...(['weight', 'row'] as const).flatMap((granularity) =>
        lrs.flatMap((lr) => [0, 1].map((cTr) => ({
          program, granularity, scoring: 'gradxweight' as const,
          run: spec(prune, { overrides: { program, ft: { lr }, cTr, prune: { granularity, params: granularity === 'row' ? 'mlp' : 'blocks' } } }),
        }))),
      ),
      // Beside the paper's grad x weight: exact scoring (measured loss drops, greedy) of the Counter's single weights
      // at η_S, C_Tr = 1 — the few weights that hold its per-count wrapper (figures/README.md).
      ...(program === 'counter'
        ? [{ program, granularity: 'weight' as const, scoring: 'exact' as const, run: spec(prune, { overrides: { program, ft: { lr: roles.S }, cTr: 1, prune: { granularity: 'weight', params: 'blocks', scoring: 'exact', maxUnits: EXACT_PRUNE_UNITS[preset] } } }) }]
        : []),
    ]);
    // Every single weight of that same Counter zeroed alone: the best any one weight gives back, without scoring.
    return { runs, scan: spec(weightScan, {}) };
  },
  table: (r, { preset }) => ({ preset, runs: r.runs.map(({ run, ...rest }): TracrPruneRun => ({ ...rest, results: run.results })), scan: r.scan.results }),
});
export type TracrPruneTable = Awaited<ReturnType<typeof pruneStudy.table>>;

export const reftStudy = defineStudy({
  id: 'tracr-reft',
  title: 'Tracr: reverse fine-tuning vs Scr.+FT (Fig. 27, Table 4)',
  plan: ({ preset }) => TRACR_FIGURE_PROGRAMS.flatMap((program) => TRACR_FIGURE_GRID[preset].reftLrs.flatMap((lr) => [0, 1].map((cTr) => spec(reft, { overrides: { program, reft: { lr }, cTr } })))),
  table: (r, { preset }) => ({ preset, runs: r.map((o) => o.results) }),
});
export type TracrReftTable = Awaited<ReturnType<typeof reftStudy.table>>;

export const TRACR_STUDIES = [finetuneStudy, pruneStudy, reftStudy] as const;
