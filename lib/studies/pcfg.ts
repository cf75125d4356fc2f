/**
 * The PCFG studies (paper Figs 5-9, 16, 18, 24; Tables 5 and 7): which runs each figure needs at each preset
 * (`PCFG_PLANS`: `paper` the paper's full grids, `laptop` the cells that carry the paper's claims on a 2-core
 * machine, `smoke` the least that exercises every path), and the typed tables the figures draw.
 */
import type { Metrics } from '../engine/metrics';
import type { Preset, DeepPartial } from '../experiments/define';
import { spec, type RunOutcome } from '../experiments/run';
import { PCFG_SCALES, cellOverrides, jailbreakFamilies, mergeOverrides as merge, priorOverrides, type CellSpec, type LrName, type WithPretrain } from '../experiments/pcfg/config';
import * as exps from '../experiments/pcfg/experiments';
import { PCFG_PRESETS, labelDistributions, type PriorName } from '../tasks/pcfg';
import { defineStudy } from './study';

export interface PcfgPlan {
  /** Priors of the pretrained models (Table 5 "Acc PT", Figs 5, 6, 8, 9). */
  priors: PriorName[];
  /** Fine-tuning LRs drawn in Figs 5-9 (the paper: eta_M, eta_S). */
  lrs: LrName[];
  /** LRs of the Table 5 / Table 7 rows. */
  tableLrs: LrName[];
  cTrains: number[];
  /** Pruning (Fig 7): P^L models at these LRs x cTrains. */
  pruneLrs: LrName[];
  pruneCTrains: number[];
  /** The appendix view of pruning: up to this many units, one-shot over all matrices beside iterative MLP. */
  pruneAppendixUnits: number;
  /** reFT (Fig 9): models fine-tuned at these LRs and cTrains, trained back at these reFT LRs. */
  reftFrom: LrName[];
  reftCTrains: number[];
  reftLrs: LrName[];
  /** Indexer (Table 7). */
  indexer: { priors: PriorName[]; lrs: LrName[]; cTrains: number[] };
  /** E.1: fractions of pretraining rows mixed into fine-tuning batches (P^L, eta_M, C_Tr = 0). */
  mixing: number[];
  /** E.2: jailbreak models (pretrained with T_J1, T_J2) fine-tuned at these LRs, C_Tr = 0. */
  jailbreak: { priors: PriorName[]; lrs: LrName[] };
}

export const PCFG_PLANS: Record<Preset, PcfgPlan> = {
  smoke: {
    priors: ['L'],
    lrs: ['M'],
    tableLrs: ['M'],
    cTrains: [0, 1],
    pruneLrs: ['M'],
    pruneCTrains: [0, 1],
    pruneAppendixUnits: 6,
    reftFrom: ['M'],
    reftCTrains: [0, 1],
    reftLrs: ['M'],
    indexer: { priors: ['L'], lrs: ['M'], cTrains: [1] },
    mixing: [0.5],
    jailbreak: { priors: ['L'], lrs: ['M'] },
  },
  laptop: {
    priors: ['L', 'M', 'H'],
    lrs: ['M', 'S'],
    tableLrs: ['L', 'M', 'S'],
    cTrains: [0, 1],
    pruneLrs: ['M', 'S'],
    pruneCTrains: [0, 1],
    pruneAppendixUnits: 40,
    reftFrom: ['M', 'S'],
    reftCTrains: [0, 1],
    reftLrs: ['M'],
    indexer: { priors: ['L', 'H'], lrs: ['M', 'S'], cTrains: [0, 1] },
    mixing: [0.5, 0.1, 0.001],
    // Not P^H: its fine-tuning never lowers count a (98.7% after eta_M; measured in session 2), so no token can
    // reveal a jailbreak there, and its 3,000-step jailbreak pretraining cost ~10 of the set's minutes.
    jailbreak: { priors: ['L', 'M'], lrs: ['M', 'S'] },
  },
  paper: {
    priors: ['L', 'M', 'H'],
    lrs: ['M', 'S'],
    tableLrs: ['L', 'M', 'S'],
    cTrains: [0, 0.5, 0.8, 1],
    pruneLrs: ['M', 'S'],
    pruneCTrains: [0, 0.5, 0.8, 1],
    pruneAppendixUnits: 100,
    reftFrom: ['M', 'S'],
    reftCTrains: [0, 1],
    reftLrs: ['M', 'S'],
    indexer: { priors: ['L', 'M', 'H'], lrs: ['L', 'M', 'S'], cTrains: [0, 0.5, 0.8, 1] },
    mixing: [0.5, 0.1, 0.001],
    jailbreak: { priors: ['L', 'M', 'H'], lrs: ['M', 'S'] },
  },
};

// ------------------------------------------------------------------ the runs

export { lrOf, type CellSpec } from '../experiments/pcfg/config';
import { lrOf } from '../experiments/pcfg/config';

const finetuneSpec = (preset: Preset, c: CellSpec) => spec(exps.finetune, { overrides: cellOverrides(preset, c) });
const pretrainSpec = (preset: Preset, prior: PriorName, jailbreak = false) =>
  spec(exps.pretrain, { overrides: merge<WithPretrain>(priorOverrides(preset, prior), jailbreak ? { pretrain: { data: { families: jailbreakFamilies(preset) } } } : {}) });

const grid = (priors: PriorName[], lrs: LrName[], cTrains: number[], extra: Partial<CellSpec> = {}): CellSpec[] =>
  priors.flatMap((prior) => lrs.flatMap((lr) => cTrains.map((cTrain) => ({ prior, lr, cTrain, ...extra }))));

export interface FinetuneCell extends CellSpec {
  results: exps.PcfgFinetuneResults;
}
const cellsOf = (cells: { cell: CellSpec; run: RunOutcome<typeof exps.finetune> }[]): FinetuneCell[] => cells.map(({ cell, run }) => ({ ...cell, results: run.results }));

/** Acc PT of each prior's pretrained model, by prior. */
export type AccPT = Partial<Record<PriorName, Metrics>>;
const accPTOf = (runs: { prior: PriorName; run: RunOutcome<typeof exps.pretrain> }[]): AccPT => Object.fromEntries(runs.map((r) => [r.prior, r.run.results.accPT]));

// ------------------------------------------------------------------ Figs 5, 6 and Table 5 (Counter)

export interface FinetuneTable {
  preset: Preset;
  plan: PcfgPlan;
  accPT: AccPT;
  /** Fig 5 / 6 cells (plan.lrs) — the first rows of `tableCells` too. */
  cells: FinetuneCell[];
  /** Table 5 rows: every plan.tableLrs cell, sorted LR, prior, C_Tr. */
  tableCells: FinetuneCell[];
}

export const finetuneStudy = defineStudy({
  id: 'pcfg-finetune',
  title: 'PCFG Counter fine-tuning: Figs 5, 6 and Table 5',
  plan: ({ preset }) => {
    const plan = PCFG_PLANS[preset];
    const extraLrs = plan.tableLrs.filter((l) => !plan.lrs.includes(l));
    const cells = [...grid(plan.priors, plan.lrs, plan.cTrains), ...grid(plan.priors, extraLrs, plan.cTrains)];
    return {
      pretrained: plan.priors.map((prior) => ({ prior, run: pretrainSpec(preset, prior) })),
      cells: cells.map((cell) => ({ cell, run: finetuneSpec(preset, cell) })),
    };
  },
  table: (r, { preset }): FinetuneTable => {
    const plan = PCFG_PLANS[preset];
    const all = cellsOf(r.cells);
    const order = (c: FinetuneCell) => plan.tableLrs.indexOf(c.lr) * 1e4 + plan.priors.indexOf(c.prior) * 10 + c.cTrain;
    return { preset, plan, accPT: accPTOf(r.pretrained), cells: all.filter((c) => plan.lrs.includes(c.lr)), tableCells: [...all].sort((a, b) => order(a) - order(b)) };
  },
});

// ------------------------------------------------------------------ Table 7 (Indexer)

export const indexerStudy = defineStudy({
  id: 'pcfg-indexer',
  title: 'PCFG Indexer fine-tuning: Table 7',
  plan: ({ preset }) => {
    const plan = PCFG_PLANS[preset].indexer;
    return {
      pretrained: plan.priors.map((prior) => ({ prior, run: pretrainSpec(preset, prior) })),
      cells: grid(plan.priors, plan.lrs, plan.cTrains, { task: 'indexer' }).map((cell) => ({ cell, run: finetuneSpec(preset, cell) })),
    };
  },
  table: (r, { preset }) => ({ preset, accPT: accPTOf(r.pretrained), cells: cellsOf(r.cells) }),
});
export type IndexerTable = Awaited<ReturnType<typeof indexerStudy.table>>;

// ------------------------------------------------------------------ Fig 7 (pruning)

export interface PruneCell {
  lr: LrName;
  cTrain: number;
  results: exps.PcfgPruneResults;
}

export interface PruningTable {
  preset: Preset;
  plan: PcfgPlan;
  /** Fig 7: iterative grad x weight over MLP neurons, P^L, plan.pruneLrs x plan.pruneCTrains. */
  main: PruneCell[];
  /** The appendix: up to plan.pruneAppendixUnits neurons at the last pruning LR. */
  wide: PruneCell[];
  /** The one-shot variant over rows of every matrix. */
  oneShot: PruneCell[];
  wideLr: LrName;
}

export const pruningStudy = defineStudy({
  id: 'pcfg-pruning',
  title: 'PCFG pruning: Fig 7 (iterative grad x weight over MLP neurons) and the one-shot variant',
  plan: ({ preset }) => {
    const plan = PCFG_PLANS[preset];
    const wideLr = plan.pruneLrs[plan.pruneLrs.length - 1];
    const cells = (lrs: LrName[], prune: DeepPartial<exps.PcfgPruneConfig['prune']> = {}) =>
      lrs.flatMap((lr) => plan.pruneCTrains.map((cTrain) => ({ lr, cTrain, run: spec(exps.prune, { overrides: merge<exps.PcfgPruneConfig>(cellOverrides(preset, { prior: 'L', lr, cTrain }), { prune }) }) })));
    return {
      main: cells(plan.pruneLrs),
      wide: cells([wideLr], { maxUnits: plan.pruneAppendixUnits }),
      oneShot: cells([wideLr], { maxUnits: plan.pruneAppendixUnits, units: 'all', iterative: false }),
    };
  },
  table: (r, { preset }): PruningTable => {
    const plan = PCFG_PLANS[preset];
    const cells = (xs: { lr: LrName; cTrain: number; run: RunOutcome<typeof exps.prune> }[]) => xs.map(({ lr, cTrain, run }) => ({ lr, cTrain, results: run.results }));
    return { preset, plan, main: cells(r.main), wide: cells(r.wide), oneShot: cells(r.oneShot), wideLr: plan.pruneLrs[plan.pruneLrs.length - 1] };
  },
});

// ------------------------------------------------------------------ Fig 8 (probing)

export interface ProbedModel {
  prior: PriorName;
  /** null: the pretrained model; else the fine-tuning LR and C_Tr. */
  finetune: { lr: LrName; cTrain: number } | null;
  /** The probe's control: the pretraining's initialisation, untrained (finetune null). */
  untrained?: boolean;
  results: exps.PcfgProbeResults;
}

export const probingStudy = defineStudy({
  id: 'pcfg-probing',
  title: 'PCFG probing: Fig 8',
  plan: ({ preset }) => {
    const plan = PCFG_PLANS[preset];
    const scale = PCFG_SCALES[preset];
    const models: { prior: PriorName; finetune: { lr: LrName; cTrain: number } | null; untrained: boolean }[] = plan.priors.map((prior) => ({ prior, finetune: null, untrained: false }));
    for (const lr of plan.lrs) for (const cTrain of [Math.min(...plan.cTrains), Math.max(...plan.cTrains)]) for (const prior of plan.priors) models.push({ prior, finetune: { lr, cTrain }, untrained: false });
    // The control beside them: the same shape untrained (its prior only picks the probe's data, which priors share).
    models.push({ prior: plan.priors[0], finetune: null, untrained: true });
    return models.map((m) => ({
      ...m,
      run: spec(exps.probe, {
        overrides: merge<exps.PcfgProbeConfig>(
          priorOverrides(preset, m.prior) as DeepPartial<exps.PcfgProbeConfig>,
          m.finetune ? { finetune: { ...scale.finetune, lr: lrOf(preset, m.finetune.lr), cTrain: m.finetune.cTrain } } : {},
          m.untrained ? { untrained: true } : {},
        ),
      }),
    }));
  },
  table: (r, { preset }) => ({ preset, models: r.map(({ prior, finetune, untrained, run }): ProbedModel => ({ prior, finetune, untrained, results: run.results })) }),
});
export type ProbingTable = Awaited<ReturnType<typeof probingStudy.table>>;

// ------------------------------------------------------------------ Fig 9 (reFT vs Scr.+FT)

export interface ReftRun {
  /** reFT of a fine-tuned model, or the Scr.+FT baseline (prior: the swapped one). */
  kind: 'reft' | 'scratch';
  prior: PriorName | null;
  /** The fine-tuning reversed (reFT only). */
  finetune: { lr: LrName; cTrain: number } | null;
  reftLr: LrName;
  results: exps.PcfgReftResults;
}

export const reftStudy = defineStudy({
  id: 'pcfg-reft',
  title: 'PCFG reverse fine-tuning vs Scr.+FT: Fig 9',
  plan: ({ preset }) => {
    const plan = PCFG_PLANS[preset];
    const scale = PCFG_SCALES[preset];
    const runs = [];
    for (const reftLr of plan.reftLrs) {
      const reft = { ...scale.reft, lr: lrOf(preset, reftLr) };
      for (const prior of plan.priors) {
        for (const lr of plan.reftFrom) {
          for (const cTrain of plan.reftCTrains) {
            runs.push({ kind: 'reft' as const, prior, finetune: { lr, cTrain }, reftLr, run: spec(exps.reft, { overrides: merge<exps.PcfgReftConfig>(cellOverrides(preset, { prior, lr, cTrain }), { reft }) }) });
          }
        }
      }
      runs.push({ kind: 'scratch' as const, prior: null, finetune: null, reftLr, run: spec(exps.scratchFinetune, { overrides: { reft } }) });
    }
    return runs;
  },
  table: (r, { preset }) => ({ preset, plan: PCFG_PLANS[preset], runs: r.map(({ run, ...rest }): ReftRun => ({ ...rest, results: run.results as exps.PcfgReftResults })) }),
});
export type ReftTable = Awaited<ReturnType<typeof reftStudy.table>>;

// ------------------------------------------------------------------ Fig 16 (label distributions)

export const dataStudy = defineStudy({
  id: 'pcfg-data',
  title: 'PCFG fine-tuning data: Fig 16 label distributions',
  plan: () => ({}),
  table: (_r, { preset, seed }) => {
    const size = preset === 'smoke' ? 2000 : 20000;
    const tasks = (['counter', 'indexer'] as const).map((task) => ({ task, ...labelDistributions(PCFG_PRESETS[preset], task, size, seed) }));
    return { preset, size, tasks };
  },
});
export type DataTable = Awaited<ReturnType<typeof dataStudy.table>>;

// ------------------------------------------------------------------ E.1 mixing, E.2 jailbreak (Figs 18, 24)

export const appendixStudy = defineStudy({
  id: 'pcfg-appendix',
  title: 'PCFG appendix: E.1 mixing pretraining data (Fig 18) and E.2 jailbreak tokens (Fig 24)',
  plan: ({ preset }) => {
    const plan = PCFG_PLANS[preset];
    // E.1: P^L, eta_M, C_Tr = 0, with a fraction of pretraining rows in every batch.
    const mixing = [0, ...plan.mixing].map((f): CellSpec => ({ prior: 'L', lr: 'M', cTrain: 0, ...(f ? { pretrainFraction: f } : {}) }));
    // E.2: pretrained with the jailbreak tokens, fine-tuned on count b with T_NJ; count a read through T_NJ, T_J1, T_J2.
    const jailbreak = grid(plan.jailbreak.priors, plan.jailbreak.lrs, [0], { jailbreak: true });
    return {
      mixing: mixing.map((cell) => ({ cell, run: finetuneSpec(preset, cell) })),
      jailbreak: jailbreak.map((cell) => ({ cell, run: finetuneSpec(preset, cell) })),
    };
  },
  table: (r, { preset }) => ({ preset, plan: PCFG_PLANS[preset], mixing: cellsOf(r.mixing), jailbreak: cellsOf(r.jailbreak) }),
});
export type AppendixTable = Awaited<ReturnType<typeof appendixStudy.table>>;

export const PCFG_STUDIES = [finetuneStudy, pruningStudy, probingStudy, reftStudy, indexerStudy, dataStudy, appendixStudy] as const;
