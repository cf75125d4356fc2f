/**
 * The PCFG figures and tables (paper Figs 5-9, 16, 18, 24; Tables 5 and 7), group 'pcfg'. Each figure set runs
 * its grid of experiments through `runGrid` (cached: a rerun only computes what is missing) and draws it.
 * `PCFG_PLANS[preset]` says which grid each preset covers: `paper` the paper's full grids, `laptop` the
 * cells that carry the paper's claims on a 2-core machine, `smoke` the least that exercises every path.
 */
import { runGrid, expandGrid, type GridRequest } from '../experiments/grid';
import { Panel, panelFigure } from './panels';
import type { Preset, RunOutcome } from '../experiments/registry';
import { PCFG_SCALES, priorSets, pretrainSteps, type LrName } from '../experiments/pcfgConfig';
import type { PcfgFinetuneResults, PcfgProbeResults, PcfgPretrainResults, PcfgPruneResults, PcfgReftResults } from '../experiments/pcfg';
import { PAPER_ACC_PT, PAPER_TABLE5, PAPER_TABLE7, PRIOR_PA, paperRow, type PaperFinetuneRow } from '../experiments/pcfgPaper';
import { PCFG_PRESETS, jailbreakPretrainConfig, labelDistributions, type PriorName } from '../tasks/pcfg';
import type { Figure } from './figure';
import { registerFigures, registerGroupPrefetch } from './registry';
import { toDataFrame } from './table';

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

// ------------------------------------------------------------------ grid requests

const lrOf = (preset: Preset, name: LrName) => PCFG_SCALES[preset].lrs[name];

/** Extra overrides ({key: value}) as --set strings. */
export function overrideSets(extra: Record<string, unknown>): string[] {
  return expandGrid(Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, [v]])))[0];
}

/** One fine-tuning cell as --set overrides (shared by every experiment whose config has pretrain + finetune). */
export function finetuneSets(preset: Preset, prior: PriorName, lr: LrName, cTrain: number, extra: Record<string, unknown> = {}): string[] {
  return [...priorSets(preset, prior), ...overrideSets({ 'finetune.lr': lrOf(preset, lr), 'finetune.cTrain': cTrain, ...extra })];
}

const request = (experiment: string, preset: Preset, seed: number, sets: string[]): GridRequest => ({ experiment, preset, seed, sets });

export interface FinetuneCell {
  prior: PriorName;
  lr: LrName;
  cTrain: number;
  out: RunOutcome<PcfgFinetuneResults>;
}

type CellSpec = Omit<FinetuneCell, 'out'> & { extra?: Record<string, unknown> };

/** Runs a list of fine-tuning cells as one grid (so parallel workers share them) and returns them with their outcomes. */
export async function finetuneCells(preset: Preset, seed: number, cells: CellSpec[]): Promise<FinetuneCell[]> {
  const outs = await runGrid<PcfgFinetuneResults>(cells.map((c) => request('pcfg-finetune', preset, seed, finetuneSets(preset, c.prior, c.lr, c.cTrain, c.extra))));
  return cells.map(({ extra: _extra, ...c }, i) => ({ ...c, out: outs[i] }));
}

/** Runs fine-tuning cells (cached) and returns them with their grid coordinates. */
export function finetuneGrid(preset: Preset, seed: number, priors: PriorName[], lrs: LrName[], cTrains: number[], extra: Record<string, unknown> = {}): Promise<FinetuneCell[]> {
  return finetuneCells(preset, seed, priors.flatMap((prior) => lrs.flatMap((lr) => cTrains.map((cTrain) => ({ prior, lr, cTrain, extra })))));
}

// ------------------------------------------------------------------ drawing helpers


const C_TR_COLOURS: Record<string, string> = { '0': '#1f77b4', '0.25': '#17becf', '0.5': '#2ca02c', '0.8': '#ff7f0e', '0.9': '#9467bd', '1': '#d62728' };
const PRIOR_COLOURS: Record<string, string> = { L: '#d62728', M: '#ff7f0e', H: '#1f77b4', scratch: '#7f7f7f' };
const LR_DASH: Record<LrName, string> = { L: 'dot', M: 'solid', S: 'dash' };
export const cTrColour = (c: number) => C_TR_COLOURS[String(c)] ?? '#333333';

const pct = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '' : (100 * x).toFixed(1));
const pair = (a: number | undefined, b: number | undefined) => `${pct(a)}/${pct(b)}`;
const lrLabel = (preset: Preset, lr: LrName) => `eta_${lr}=${lrOf(preset, lr)}`;

// ------------------------------------------------------------------ Figs 5, 6 and Table 5 (Counter)

/** Fig 5: Acc O_FT through fine-tuning; panels prior x C_Te; colour C_Tr; dash LR. */
export function fig5(cells: FinetuneCell[], plan: PcfgPlan, preset: Preset): Figure {
  const panels: Panel[] = plan.priors.flatMap((prior) =>
    [0, 1].map((cTe) => ({
      title: `P^${prior}, C_Te=${cTe}`,
      traces: cells
        .filter((c) => c.prior === prior)
        .map((c) => ({
          name: `C_Tr=${c.cTrain}, ${lrLabel(preset, c.lr)}`,
          x: c.out.results.curve.map((r) => r.step),
          y: c.out.results.curve.map((r) => r[`oft_c${cTe}`]),
          line: { color: cTrColour(c.cTrain), dash: LR_DASH[c.lr] },
        })),
    })),
  );
  return panelFigure(`Fig 5 analog (${preset}): Acc O_FT (count b) during fine-tuning`, panels, { rows: plan.priors.length, cols: 2, xTitle: 'fine-tuning iteration', yTitle: 'Acc O_FT' });
}

/** Fig 6: Acc O_PT (C_Te = 0) through fine-tuning; panels (C_Tr, LR); series priors. */
export function fig6(cells: FinetuneCell[], plan: PcfgPlan, preset: Preset): Figure {
  const cTrs = [Math.min(...plan.cTrains), Math.max(...plan.cTrains)];
  const panels: Panel[] = plan.lrs.flatMap((lr) =>
    cTrs.map((cTrain) => ({
      title: `C_Tr=${cTrain}, ${lrLabel(preset, lr)}`,
      traces: cells
        .filter((c) => c.lr === lr && c.cTrain === cTrain)
        .map((c) => ({ name: `P^${c.prior}`, x: c.out.results.curve.map((r) => r.step), y: c.out.results.curve.map((r) => r.opt_c0), line: { color: PRIOR_COLOURS[c.prior] } })),
    })),
  );
  return panelFigure(`Fig 6 analog (${preset}): Acc O_PT (count a, C_Te=0) during fine-tuning`, panels, { rows: plan.lrs.length, cols: 2, xTitle: 'fine-tuning iteration', yTitle: 'Acc O_PT' });
}

/** Table 5 / Table 7: ours (early / final) beside the paper's (1K / 10K). */
export function finetuneTable(cells: FinetuneCell[], preset: Preset, paper: PaperFinetuneRow[], task: 'counter' | 'indexer', accPT: Record<string, Record<string, number>>) {
  const key = task === 'counter' ? 'count' : 'index';
  return cells.map((c) => {
    const r = c.out.results;
    const p = paperRow(paper, c.lr, c.prior, c.cTrain);
    const pt = accPT[c.prior] ?? {};
    const paperPT = PAPER_ACC_PT[task][String(PRIOR_PA[c.prior])];
    return {
      eta: `${c.lr} (${lrOf(preset, c.lr)})`,
      prior: c.prior,
      C_Tr: c.cTrain,
      steps: `${r.earlyStep}/${r.curve[r.curve.length - 1].step}`,
      opt_accPT: pct(pt[`${key}_a`]),
      opt_c0: pair(r.early.opt_c0, r.final.opt_c0),
      opt_c1: pair(r.early.opt_c1, r.final.opt_c1),
      oft_accPT: pct(pt[`${key}_b`]),
      oft_c0: pair(r.early.oft_c0, r.final.oft_c0),
      oft_c1: pair(r.early.oft_c1, r.final.oft_c1),
      paper_opt_accPT: paperPT?.[0] ?? '',
      paper_opt_c0: p?.opt_c0 ?? '',
      paper_opt_c1: p?.opt_c1 ?? '',
      paper_oft_accPT: paperPT?.[1] ?? '',
      paper_oft_c0: p?.oft_c0 ?? '',
      paper_oft_c1: p?.oft_c1 ?? '',
    };
  });
}

/**
 * Acc PT of each prior's pretrained model. The pretrainings run as one grid, longest first: with two workers,
 * P^H's 3,000 steps beside P^L then P^M, not after them. Grids that fine-tune call this first, so their
 * workers never wait on a pretraining another worker holds.
 */
export async function pretrainGrid(preset: Preset, seed: number, priors: PriorName[], extra: Record<string, unknown> = {}): Promise<Record<string, Record<string, number>>> {
  const order = longestFirst(priors.map((prior) => priorPretraining(preset, prior, extra)));
  const outs = await runGrid<PcfgPretrainResults>(order.map((p) => request('pcfg-pretrain', preset, seed, p.sets)));
  return Object.fromEntries(order.map((p, i) => [p.name, outs[i].results.accPT]));
}

/** E.2's models pretrain with the jailbreak tokens' families added. */
const jailbreakExtra = (preset: Preset) => ({ 'pretrain.data.families': jailbreakPretrainConfig(PCFG_PRESETS[preset]).families });

/** One pretraining as a pcfg-pretrain run: its --set overrides and its length (to schedule the longest first). */
export interface PretrainSpec {
  name: string;
  sets: string[];
  steps: number;
}

const priorPretraining = (preset: Preset, prior: PriorName, extra: Record<string, unknown> = {}): PretrainSpec => ({
  name: prior,
  sets: [...priorSets(preset, prior), ...overrideSets(extra)],
  steps: pretrainSteps(preset, prior),
});

const longestFirst = (specs: PretrainSpec[]): PretrainSpec[] => [...specs].sort((a, b) => b.steps - a.steps);

/**
 * Every pretraining the PCFG sets use (the main priors, E.2's jailbreak models and the Scr.+FT model, whose
 * prior swaps a and b), longest first: the group's shared-stage grid. Listing all of them keeps both workers
 * busy until the last one ends (P^H's 3,000 steps on one, the 1,000-step models on the other).
 */
export function pcfgPretrainings(preset: Preset): PretrainSpec[] {
  const plan = PCFG_PLANS[preset];
  const scale = PCFG_SCALES[preset];
  const jbExtra = jailbreakExtra(preset);
  return longestFirst([
    ...plan.priors.map((prior) => priorPretraining(preset, prior)),
    ...plan.jailbreak.priors.map((prior) => ({ ...priorPretraining(preset, prior, jbExtra), name: `${prior} (jailbreak)` })),
    { name: 'Scr.+FT (a, b swapped)', sets: overrideSets({ 'pretrain.data.prior': scale.scratchPrior }), steps: scale.pretrain.train.steps },
  ]);
}

registerGroupPrefetch('pcfg', async (preset, seed) => {
  await runGrid(pcfgPretrainings(preset).map((p) => request('pcfg-pretrain', preset, seed, p.sets)));
});

registerFigures({
  id: 'pcfg-finetune',
  group: 'pcfg',
  title: 'PCFG Counter fine-tuning: Figs 5, 6 and Table 5',
  async build(preset, seed) {
    const plan = PCFG_PLANS[preset];
    const accPT = await pretrainGrid(preset, seed, plan.priors);
    const figCells = await finetuneGrid(preset, seed, plan.priors, plan.lrs, plan.cTrains);
    const extraLrs = plan.tableLrs.filter((l) => !plan.lrs.includes(l));
    const tableCells = [...figCells, ...(await finetuneGrid(preset, seed, plan.priors, extraLrs, plan.cTrains))];
    const order = (c: FinetuneCell) => plan.tableLrs.indexOf(c.lr) * 1e4 + plan.priors.indexOf(c.prior) * 10 + c.cTrain;
    tableCells.sort((a, b) => order(a) - order(b));
    const accRows = plan.priors.map((p) => ({ prior: p, count_a: pct(accPT[p].count_a), count_b: pct(accPT[p].count_b), index_a: pct(accPT[p].index_a), index_b: pct(accPT[p].index_b), paper_count_a: PAPER_ACC_PT.counter[String(PRIOR_PA[p])][0], paper_count_b: PAPER_ACC_PT.counter[String(PRIOR_PA[p])][1] }));
    return {
      figures: [
        { name: 'fig5_finetune_acc_oft', figure: fig5(figCells, plan, preset), width: 900, height: 280 * plan.priors.length + 150 },
        { name: 'fig6_finetune_acc_opt', figure: fig6(figCells, plan, preset), width: 900, height: 300 * plan.lrs.length + 150 },
      ],
      tables: [
        { name: 'table5_pretrain_acc', table: toDataFrame(accRows) },
        { name: 'table5_counter', table: toDataFrame(finetuneTable(tableCells, preset, PAPER_TABLE5, 'counter', accPT)) },
      ],
    };
  },
});

// ------------------------------------------------------------------ Fig 7 (pruning)

export interface PruneCell {
  lr: LrName;
  cTrain: number;
  out: RunOutcome<PcfgPruneResults>;
}

export async function pruneGrid(preset: Preset, seed: number, lrs: LrName[], cTrains: number[], prune: Record<string, unknown> = {}): Promise<PruneCell[]> {
  const cells = lrs.flatMap((lr) => cTrains.map((cTrain) => ({ lr, cTrain })));
  const extra = Object.fromEntries(Object.entries(prune).map(([k, v]) => [`prune.${k}`, v]));
  const outs = await runGrid<PcfgPruneResults>(cells.map((c) => request('pcfg-prune', preset, seed, finetuneSets(preset, 'L', c.lr, c.cTrain, extra))));
  return cells.map((c, i) => ({ ...c, out: outs[i] }));
}

/** Fig 7: rows Acc O_PT / Acc O_FT; columns LR x C_Te; series C_Tr; x = neurons pruned. */
export function fig7(cells: PruneCell[], lrs: LrName[], preset: Preset, title: string): Figure {
  const panels: Panel[] = [];
  for (const q of ['opt', 'oft'] as const) {
    for (const lr of lrs) {
      for (const cTe of [0, 1]) {
        panels.push({
          title: `Acc O_${q === 'opt' ? 'PT' : 'FT'}: ${lrLabel(preset, lr)}, C_Te=${cTe}`,
          traces: cells.filter((c) => c.lr === lr).map((c) => ({ name: `C_Tr=${c.cTrain}`, x: c.out.results.steps.map((s) => s.k), y: c.out.results.steps.map((s) => s[`${q}_c${cTe}`]), line: { color: cTrColour(c.cTrain) } })),
        });
      }
    }
  }
  return panelFigure(title, panels, { rows: 2, cols: 2 * lrs.length, xTitle: 'units pruned', yTitle: 'accuracy' });
}

registerFigures({
  id: 'pcfg-pruning',
  group: 'pcfg',
  title: 'PCFG pruning: Fig 7 (iterative grad x weight over MLP neurons) and the one-shot variant',
  async build(preset, seed) {
    const plan = PCFG_PLANS[preset];
    const main = await pruneGrid(preset, seed, plan.pruneLrs, plan.pruneCTrains);
    // Appendix view: more units, and the one-shot-over-every-matrix variant that the calibration found destructive.
    const wideLr = plan.pruneLrs[plan.pruneLrs.length - 1];
    const wide = await pruneGrid(preset, seed, [wideLr], plan.pruneCTrains, { maxUnits: plan.pruneAppendixUnits });
    const oneShot = await pruneGrid(preset, seed, [wideLr], plan.pruneCTrains, { maxUnits: plan.pruneAppendixUnits, units: 'all', iterative: false });
    const rows = [...main.map((c) => ({ variant: 'iterative-mlp', c })), ...oneShot.map((c) => ({ variant: 'oneshot-all', c }))].flatMap(({ variant, c }) =>
      c.out.results.steps.map((s) => ({ variant, eta: c.lr, C_Tr: c.cTrain, k: s.k, unit: s.unit ?? '', opt_c0: pct(s.opt_c0 as number), opt_c1: pct(s.opt_c1 as number), oft_c0: pct(s.oft_c0 as number), oft_c1: pct(s.oft_c1 as number) })),
    );
    return {
      figures: [
        { name: 'fig7_pruning', figure: fig7(main, plan.pruneLrs, preset, `Fig 7 analog (${preset}): iterative grad x weight pruning of MLP neurons, P^L`), width: 1200, height: 700 },
        { name: 'fig79_pruning_wide', figure: fig7(wide, [wideLr], preset, `Figs 79-89 analog (${preset}): up to ${plan.pruneAppendixUnits} MLP neurons (iterative)`), width: 900, height: 700 },
        { name: 'fig79_pruning_oneshot_all', figure: fig7(oneShot, [wideLr], preset, `One-shot grad x weight over rows of every matrix (the paper's Alg. 3 read literally), ${preset}`), width: 900, height: 700 },
      ],
      tables: [{ name: 'fig7_pruning', table: toDataFrame(rows) }],
    };
  },
});

// ------------------------------------------------------------------ Fig 8 (probing)

registerFigures({
  id: 'pcfg-probing',
  group: 'pcfg',
  title: 'PCFG probing: Fig 8',
  async build(preset, seed) {
    const plan = PCFG_PLANS[preset];
    const models: { label: string; prior: PriorName; sets: string[] }[] = [];
    for (const prior of plan.priors) models.push({ label: 'pretrained', prior, sets: priorSets(preset, prior) });
    for (const lr of plan.lrs) {
      for (const cTrain of [Math.min(...plan.cTrains), Math.max(...plan.cTrains)]) {
        for (const prior of plan.priors) {
          const ft = { ...PCFG_SCALES[preset].finetune, lr: lrOf(preset, lr), cTrain };
          models.push({ label: `${lrLabel(preset, lr)}, C_Tr=${cTrain}`, prior, sets: [...priorSets(preset, prior), `finetune=${JSON.stringify(ft)}`] });
        }
      }
    }
    const outs = await runGrid<PcfgProbeResults>(models.map((m) => request('pcfg-probe', preset, seed, m.sets)));
    const labels = [...new Set(models.map((m) => m.label))];
    const panels: Panel[] = [];
    for (const q of ['opt', 'oft'] as const) {
      for (const label of labels) {
        panels.push({
          title: `probe ${q === 'opt' ? '#a (O_PT)' : '#b (O_FT)'}: ${label}`,
          traces: models.map((m, i) => ({ m, r: outs[i].results })).filter(({ m }) => m.label === label).map(({ m, r }) => ({ name: `P^${m.prior}`, x: r.blocks.map((b) => b.block), y: r.blocks.map((b) => b[q]), line: { color: PRIOR_COLOURS[m.prior] } })),
        });
      }
    }
    const rows = models.flatMap((m, i) => outs[i].results.blocks.map((b) => ({ model: m.label, prior: m.prior, block: b.block, probe_count_a: pct(b.opt), probe_count_b: pct(b.oft) })));
    return {
      figures: [{ name: 'fig8_probing', figure: panelFigure(`Fig 8 analog (${preset}): linear probe accuracy per block (C_Te=0)`, panels, { rows: 2, cols: labels.length, xTitle: 'block', yTitle: 'probe accuracy' }), width: 260 * labels.length + 100, height: 650 }],
      tables: [{ name: 'fig8_probing', table: toDataFrame(rows) }],
    };
  },
});

// ------------------------------------------------------------------ Fig 9 (reFT vs Scr.+FT)

registerFigures({
  id: 'pcfg-reft',
  group: 'pcfg',
  title: 'PCFG reverse fine-tuning vs Scr.+FT: Fig 9',
  async build(preset, seed) {
    const plan = PCFG_PLANS[preset];
    const scale = PCFG_SCALES[preset];
    const runs: { prior: PriorName; label: string; reftLr: LrName; kind: 'reft' | 'scratch'; req: GridRequest }[] = [];
    for (const reftLr of plan.reftLrs) {
      const reft = { ...scale.reft, lr: lrOf(preset, reftLr) };
      for (const prior of plan.priors) {
        for (const lr of plan.reftFrom) {
          for (const cTrain of plan.reftCTrains) {
            runs.push({ prior, reftLr, kind: 'reft', label: `reFT after FT ${lrLabel(preset, lr)}, C_Tr=${cTrain}`, req: request('pcfg-reft', preset, seed, [...finetuneSets(preset, prior, lr, cTrain), `reft=${JSON.stringify(reft)}`]) });
          }
        }
      }
      runs.push({ prior: 'L', reftLr, kind: 'scratch', label: 'Scr.+FT', req: request('pcfg-scratch-ft', preset, seed, [`reft=${JSON.stringify(reft)}`]) });
    }
    const outs = await runGrid<PcfgReftResults>(runs.map((r) => r.req));
    const panels: Panel[] = plan.priors.map((prior) => ({
      title: `P^${prior}`,
      traces: runs
        .map((r, i) => ({ r, res: outs[i].results }))
        .filter(({ r }) => r.prior === prior || r.kind === 'scratch')
        .map(({ r, res }) => {
          const curve = res.curve.filter((p) => p.step > 0);
          return { name: `${r.label} (reFT ${lrLabel(preset, r.reftLr)})`, x: curve.map((p) => p.step), y: curve.map((p) => p.opt_c0), line: { dash: LR_DASH[r.reftLr], color: r.kind === 'scratch' ? '#7f7f7f' : r.label.includes('C_Tr=0') ? (r.label.includes('eta_M') ? '#1f77b4' : '#17becf') : r.label.includes('eta_M') ? '#d62728' : '#ff7f0e' } };
        }),
    }));
    const rows = runs.map((r, i) => {
      const res = outs[i].results;
      return { prior: r.kind === 'scratch' ? 'swapped (b dominant)' : r.prior, run: r.label, reft_lr: lrLabel(preset, r.reftLr), start_acc_opt: pct(res.curve[0]?.opt_c0), final_acc_opt: pct(res.final.opt_c0), iters_to_90: res.to90 ?? '', iters_to_99: res.to99 ?? '', iters_to_100: res.to100 ?? '' };
    });
    return {
      figures: [{ name: 'fig9_reft', figure: panelFigure(`Fig 9 analog (${preset}): Acc O_PT (count a, C_Te=0) during reFT vs Scr.+FT`, panels, { rows: 1, cols: plan.priors.length, xTitle: 'reFT iteration (log)', yTitle: 'Acc O_PT', xLog: true }), width: 1200, height: 520 }],
      tables: [{ name: 'fig9_reft', table: toDataFrame(rows) }],
    };
  },
});

// ------------------------------------------------------------------ Table 7 (Indexer)

registerFigures({
  id: 'pcfg-indexer',
  group: 'pcfg',
  title: 'PCFG Indexer fine-tuning: Table 7',
  async build(preset, seed) {
    const plan = PCFG_PLANS[preset].indexer;
    const accPT = await pretrainGrid(preset, seed, plan.priors);
    const cells = await finetuneGrid(preset, seed, plan.priors, plan.lrs, plan.cTrains, { 'finetune.task': 'indexer' });
    return { figures: [], tables: [{ name: 'table7_indexer', table: toDataFrame(finetuneTable(cells, preset, PAPER_TABLE7, 'indexer', accPT)) }] };
  },
});

// ------------------------------------------------------------------ Fig 16 (label distributions), E.1 mixing, E.2 jailbreak

registerFigures({
  id: 'pcfg-data',
  group: 'pcfg',
  title: 'PCFG fine-tuning data: Fig 16 label distributions',
  async build(preset, seed) {
    const cfg = PCFG_PRESETS[preset];
    const size = preset === 'smoke' ? 2000 : 20000;
    const panels: Panel[] = [];
    const rows: Record<string, number | string>[] = [];
    for (const task of ['counter', 'indexer'] as const) {
      const d = labelDistributions(cfg, task, size, seed);
      for (const op of ['a', 'b'] as const) {
        panels.push({
          title: `${task}: answers for operand ${op}`,
          traces: (['c0', 'c1'] as const).map((c) => ({ type: 'bar', mode: undefined, name: c === 'c0' ? 'C=0 (plain)' : 'C=1 (correlated)', x: d.bins, y: d[op][c], marker: { color: c === 'c0' ? '#1f77b4' : '#d62728' }, opacity: 0.6 })),
        });
        d.bins.forEach((bin, i) => rows.push({ task, operand: op, label: bin, c0: d[op].c0[i], c1: d[op].c1[i] }));
      }
    }
    const fig = panelFigure(`Fig 16 analog (${preset}): label histograms, plain vs correlated texts (${size} each)`, panels, { rows: 2, cols: 2, xTitle: 'label', yTitle: 'samples', yRange: 'auto' });
    for (const k of Object.keys(fig.layout)) if (k.startsWith('yaxis')) (fig.layout[k] as Record<string, unknown>).range = undefined;
    fig.layout.barmode = 'overlay';
    return { figures: [{ name: 'fig16_label_distributions', figure: fig, width: 1000, height: 700 }], tables: [{ name: 'fig16_label_distributions', table: toDataFrame(rows.filter((r) => Number(r.c0) + Number(r.c1) > 0)) }] };
  },
});

registerFigures({
  id: 'pcfg-appendix',
  group: 'pcfg',
  title: 'PCFG appendix: E.1 mixing pretraining data (Fig 18) and E.2 jailbreak tokens (Fig 24)',
  async build(preset, seed) {
    const plan = PCFG_PLANS[preset];
    // E.2's jailbreak models pretrain first (in parallel), then E.1's and E.2's fine-tunings run as one grid.
    const jbExtra = jailbreakExtra(preset);
    await pretrainGrid(preset, seed, plan.jailbreak.priors, jbExtra);
    // E.1: P^L, eta_M, C_Tr = 0, with a fraction of pretraining rows in every batch.
    const mixFractions = [0, ...plan.mixing];
    const mixSpecs: CellSpec[] = mixFractions.map((f) => ({ prior: 'L', lr: 'M', cTrain: 0, extra: f ? { 'finetune.pretrainFraction': f } : {} }));
    const jbSpecs: CellSpec[] = plan.jailbreak.priors.flatMap((prior) => plan.jailbreak.lrs.map((lr) => ({ prior, lr, cTrain: 0, extra: jbExtra })));
    const appendixCells = await finetuneCells(preset, seed, [...mixSpecs, ...jbSpecs]);
    const mixCells = appendixCells.slice(0, mixSpecs.length);
    const jb = appendixCells.slice(mixSpecs.length);
    const mixFig = panelFigure(
      `Fig 18 analog (${preset}): fine-tuning with pretraining data mixed in (P^L, eta_M, C_Tr=0)`,
      (['opt_c0', 'oft_c0'] as const).map((key) => ({
        title: key === 'opt_c0' ? 'Acc O_PT (count a)' : 'Acc O_FT (count b)',
        traces: mixCells.map((c, i) => ({ name: `PT fraction ${mixFractions[i]}`, x: c.out.results.curve.map((r) => r.step), y: c.out.results.curve.map((r) => r[key]) })),
      })),
      { rows: 1, cols: 2, xTitle: 'fine-tuning iteration', yTitle: 'accuracy' },
    );
    // E.2: pretrained with the jailbreak tokens, fine-tuned on count b with T_NJ; count a read through T_NJ, T_J1, T_J2.
    // Fig 24's layout: one row per LR, one column per counting token, one series per prior.
    const tokens = [['opt_c0', 'T_NJ (fine-tuned token)'], ['jb1_c0', 'T_J1'], ['jb2_c0', 'T_J2']] as const;
    const jbFig = panelFigure(
      `Fig 24 analog (${preset}): count a through the fine-tuned token T_NJ vs the jailbreak tokens (C_Tr=0)`,
      plan.jailbreak.lrs.flatMap((lr) =>
        tokens.map(([key, token]) => ({
          title: `${token}, ${lrLabel(preset, lr)}`,
          traces: jb.filter((c) => c.lr === lr).map((c) => ({ name: `P^${c.prior}`, x: c.out.results.curve.map((r) => r.step), y: c.out.results.curve.map((r) => r[key]), line: { color: PRIOR_COLOURS[c.prior] } })),
        })),
      ),
      { rows: plan.jailbreak.lrs.length, cols: tokens.length, xTitle: 'fine-tuning iteration', yTitle: 'Acc O_PT (count a)' },
    );
    const rows = [
      ...mixCells.map((c, i) => ({ protocol: 'E.1 mixing', setting: `PT fraction ${mixFractions[i]}`, pt_opt_c0: pct(c.out.results.accPT.opt_c0), pt_jb1_c0: '', pt_jb2_c0: '', final_opt_c0: pct(c.out.results.final.opt_c0), final_oft_c0: pct(c.out.results.final.oft_c0), final_jb1_c0: '', final_jb2_c0: '' })),
      ...jb.map((c) => {
        const r = c.out.results;
        return { protocol: 'E.2 jailbreak', setting: `P^${c.prior}, ${lrLabel(preset, c.lr)}`, pt_opt_c0: pct(r.accPT.opt_c0), pt_jb1_c0: pct(r.accPT.jb1_c0), pt_jb2_c0: pct(r.accPT.jb2_c0), final_opt_c0: pct(r.final.opt_c0), final_oft_c0: pct(r.final.oft_c0), final_jb1_c0: pct(r.final.jb1_c0), final_jb2_c0: pct(r.final.jb2_c0) };
      }),
    ];
    return {
      figures: [
        { name: 'fig18_mixing', figure: mixFig, width: 900, height: 450 },
        { name: 'fig24_jailbreak', figure: jbFig, width: 1200, height: 380 * plan.jailbreak.lrs.length + 120 },
      ],
      tables: [{ name: 'fig18_fig24_appendix', table: toDataFrame(rows) }],
    };
  },
});
