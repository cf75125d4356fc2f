/**
 * The PCFG figures and tables (paper Figs 5-9, 16, 18, 24; Tables 5 and 7): pure functions of the studies' tables
 * (lib/studies/pcfg.ts). Nothing here trains or reads the run cache.
 */
import { type AccuracyKey, type Metrics, accKey, metric } from '../engine/metrics';
import type { LrName } from '../experiments/pcfg/config';
import { PAPER_ACC_PT, PAPER_TABLE5, PAPER_TABLE7, PRIOR_PA, paperRow, type PaperFinetuneRow } from '../experiments/pcfg/paper';
import type { Preset } from '../experiments/define';
import { lrOf, type AccPT, type AppendixTable, type DataTable, type FinetuneCell, type FinetuneTable, type IndexerTable, type PcfgPlan, type ProbingTable, type PruneCell, type PruningTable, type ReftRun, type ReftTable } from '../studies/pcfg';
import type { Figure } from './figure';
import { type Panel, panelFigure } from './panels';

const C_TR_COLOURS: Record<string, string> = { '0': '#1f77b4', '0.25': '#17becf', '0.5': '#2ca02c', '0.8': '#ff7f0e', '0.9': '#9467bd', '1': '#d62728' };
const PRIOR_COLOURS: Record<string, string> = { L: '#d62728', M: '#ff7f0e', H: '#1f77b4', scratch: '#7f7f7f' };
const LR_DASH: Record<LrName, string> = { L: 'dot', M: 'solid', S: 'dash' };
export const cTrColour = (c: number) => C_TR_COLOURS[String(c)] ?? '#333333';

const pct = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '' : (100 * x).toFixed(1));
const pair = (a: Metrics, b: Metrics, key: AccuracyKey) => `${pct(a[key])}/${pct(b[key])}`;
const lrLabel = (preset: Preset, lr: LrName) => `η_${lr}=${lrOf(preset, lr)}`;
/** "η_M=5e-05, η_S=5e-06": a legend title, so the entries can say just η_M / η_S. */
const lrValues = (preset: Preset, lrs: readonly LrName[]) => [...new Set(lrs)].map((lr) => lrLabel(preset, lr)).join(', ');
const curveOf = (c: FinetuneCell, key: AccuracyKey) => ({ x: c.results.curve.map((r) => r.step), y: c.results.curve.map((r) => metric(r, key)) });

// ------------------------------------------------------------------ Figs 5, 6 and Table 5 (Counter)

/** Fig 5: Acc O_FT through fine-tuning; panels prior x C_Te; colour C_Tr; dash LR. */
export function fig5(t: FinetuneTable): Figure {
  const panels: Panel[] = t.plan.priors.flatMap((prior) =>
    ([0, 1] as const).map((cTe) => ({
      title: `P^${prior}, C_Te=${cTe}`,
      traces: t.cells
        .filter((c) => c.prior === prior)
        .map((c) => ({ name: `C_Tr=${c.cTrain}, η_${c.lr}`, ...curveOf(c, accKey('oft', cTe)), line: { color: cTrColour(c.cTrain), dash: LR_DASH[c.lr] } })),
    })),
  );
  return panelFigure(`Fig 5 analog (${t.preset}): Acc O_FT (count b) during fine-tuning`, panels, { rows: t.plan.priors.length, cols: 2, xTitle: 'fine-tuning iteration', yTitle: 'Acc O_FT', legendTitle: lrValues(t.preset, t.plan.lrs) });
}

/** Fig 6: Acc O_PT (C_Te = 0) through fine-tuning; panels (C_Tr, LR); series priors. */
export function fig6(t: FinetuneTable): Figure {
  const cTrs = [Math.min(...t.plan.cTrains), Math.max(...t.plan.cTrains)];
  const panels: Panel[] = t.plan.lrs.flatMap((lr) =>
    cTrs.map((cTrain) => ({
      title: `C_Tr=${cTrain}, ${lrLabel(t.preset, lr)}`,
      traces: t.cells.filter((c) => c.lr === lr && c.cTrain === cTrain).map((c) => ({ name: `P^${c.prior}`, ...curveOf(c, 'acc.opt.cte0'), line: { color: PRIOR_COLOURS[c.prior] } })),
    })),
  );
  return panelFigure(`Fig 6 analog (${t.preset}): Acc O_PT (count a, C_Te=0) during fine-tuning`, panels, { rows: t.plan.lrs.length, cols: 2, xTitle: 'fine-tuning iteration', yTitle: 'Acc O_PT' });
}

/** Table 5 / Table 7 rows: ours (early / final) beside the paper's (1K / 10K). */
export function finetuneRows(cells: FinetuneCell[], preset: Preset, paper: PaperFinetuneRow[], task: 'counter' | 'indexer', accPT: AccPT) {
  const key = task === 'counter' ? 'count' : 'index';
  return cells.map((c) => {
    const r = c.results;
    const p = paperRow(paper, c.lr, c.prior, c.cTrain);
    const pt = accPT[c.prior] ?? {};
    const paperPT = PAPER_ACC_PT[task][String(PRIOR_PA[c.prior])];
    return {
      eta: `${c.lr} (${lrOf(preset, c.lr)})`,
      prior: c.prior,
      C_Tr: c.cTrain,
      steps: `${r.earlyStep}/${r.curve[r.curve.length - 1].step}`,
      opt_accPT: pct(pt[`acc.${key}.a`]),
      opt_c0: pair(r.early, r.final, 'acc.opt.cte0'),
      opt_c1: pair(r.early, r.final, 'acc.opt.cte1'),
      oft_accPT: pct(pt[`acc.${key}.b`]),
      oft_c0: pair(r.early, r.final, 'acc.oft.cte0'),
      oft_c1: pair(r.early, r.final, 'acc.oft.cte1'),
      paper_opt_accPT: paperPT?.[0] ?? '',
      paper_opt_c0: p?.opt_c0 ?? '',
      paper_opt_c1: p?.opt_c1 ?? '',
      paper_oft_accPT: paperPT?.[1] ?? '',
      paper_oft_c0: p?.oft_c0 ?? '',
      paper_oft_c1: p?.oft_c1 ?? '',
    };
  });
}

export const table5Rows = (t: FinetuneTable) => finetuneRows(t.tableCells, t.preset, PAPER_TABLE5, 'counter', t.accPT);
export const table7Rows = (t: IndexerTable) => finetuneRows(t.cells, t.preset, PAPER_TABLE7, 'indexer', t.accPT);

/** Acc PT of each prior's pretrained model beside the paper's. */
export function accPTRows(t: FinetuneTable) {
  return t.plan.priors.map((p) => {
    const a = t.accPT[p] ?? {};
    return {
      prior: p,
      count_a: pct(a['acc.count.a']),
      count_b: pct(a['acc.count.b']),
      index_a: pct(a['acc.index.a']),
      index_b: pct(a['acc.index.b']),
      paper_count_a: PAPER_ACC_PT.counter[String(PRIOR_PA[p])][0],
      paper_count_b: PAPER_ACC_PT.counter[String(PRIOR_PA[p])][1],
    };
  });
}

// ------------------------------------------------------------------ Fig 7 (pruning)

/** Fig 7: rows Acc O_PT / Acc O_FT; columns LR x C_Te; series C_Tr; x = neurons pruned. */
export function fig7(cells: PruneCell[], preset: Preset, title: string): Figure {
  const lrs = [...new Set(cells.map((c) => c.lr))];
  const panels: Panel[] = [];
  for (const q of ['opt', 'oft'] as const) {
    for (const lr of lrs) {
      for (const cTe of [0, 1] as const) {
        panels.push({
          title: `Acc O_${q === 'opt' ? 'PT' : 'FT'}: ${lrLabel(preset, lr)}, C_Te=${cTe}`,
          traces: cells.filter((c) => c.lr === lr).map((c) => ({ name: `C_Tr=${c.cTrain}`, x: c.results.steps.map((s) => s.k), y: c.results.steps.map((s) => metric(s.acc, accKey(q, cTe))), line: { color: cTrColour(c.cTrain) } })),
        });
      }
    }
  }
  return panelFigure(title, panels, { rows: 2, cols: 2 * lrs.length, xTitle: 'units pruned', yTitle: 'accuracy' });
}

export const fig7Main = (t: PruningTable) => fig7(t.main, t.preset, `Fig 7 analog (${t.preset}): iterative grad x weight pruning of MLP neurons, P^L`);
export const fig7Wide = (t: PruningTable) => fig7(t.wide, t.preset, `Figs 79-89 analog (${t.preset}): up to ${t.plan.pruneAppendixUnits} MLP neurons (iterative)`);
export const fig7OneShot = (t: PruningTable) => fig7(t.oneShot, t.preset, `One-shot grad x weight over rows of every matrix (the paper's Alg. 3 read literally), ${t.preset}`);

/** One row per (variant, cell, k): the unit pruned and the four accuracies. */
export function pruningRows(t: PruningTable) {
  return [...t.main.map((c) => ({ variant: 'iterative-mlp', c })), ...t.oneShot.map((c) => ({ variant: 'oneshot-all', c }))].flatMap(({ variant, c }) =>
    c.results.steps.map((s) => ({ variant, eta: c.lr, C_Tr: c.cTrain, k: s.k, unit: s.unit ?? '', opt_c0: pct(s.acc['acc.opt.cte0']), opt_c1: pct(s.acc['acc.opt.cte1']), oft_c0: pct(s.acc['acc.oft.cte0']), oft_c1: pct(s.acc['acc.oft.cte1']) })),
  );
}

// ------------------------------------------------------------------ Fig 8 (probing)

const probeLabel = (preset: Preset, m: ProbingTable['models'][number]) => (m.finetune ? `${lrLabel(preset, m.finetune.lr)}, C_Tr=${m.finetune.cTrain}` : 'pretrained');

/** The probed models of Fig 8's curves, and the untrained control drawn beside them on every panel. */
const probed = (t: ProbingTable) => t.models.filter((m) => !m.untrained);
const probeControl = (t: ProbingTable) => t.models.find((m) => m.untrained);

export function fig8(t: ProbingTable): Figure {
  const labels = [...new Set(probed(t).map((m) => probeLabel(t.preset, m)))];
  const control = probeControl(t);
  const panels: Panel[] = [];
  for (const q of ['opt', 'oft'] as const) {
    for (const label of labels) {
      const models = probed(t).filter((m) => probeLabel(t.preset, m) === label);
      const blocks = models[0].results.blocks.map((b) => b.block);
      // Baselines: what a probe reads from an untrained model of the same shape, and always guessing the commonest count.
      const baselines = control
        ? [
            { name: 'untrained (same shape)', x: blocks, y: control.results.blocks.map((b) => b[q]), line: { color: '#7f7f7f', dash: 'dash' }, marker: { symbol: 'x' } },
            { name: 'majority class', x: blocks, y: blocks.map(() => control.results.majority[q]), mode: 'lines', line: { color: '#000000', dash: 'dot', width: 1 } },
          ]
        : [];
      panels.push({
        title: `probe ${q === 'opt' ? '#a (O_PT)' : '#b (O_FT)'}: ${label}`,
        traces: [...models.map((m) => ({ name: `P^${m.prior}`, x: m.results.blocks.map((b) => b.block), y: m.results.blocks.map((b) => b[q]), line: { color: PRIOR_COLOURS[m.prior] } })), ...baselines],
      });
    }
  }
  return panelFigure(`Fig 8 analog (${t.preset}): linear probe accuracy per block (C_Te=0)`, panels, { rows: 2, cols: labels.length, xTitle: 'block', xDtick: 1, yTitle: 'probe accuracy' });
}

export const fig8Width = (t: ProbingTable) => 260 * new Set(probed(t).map((m) => probeLabel(t.preset, m))).size + 100;

export const probingRows = (t: ProbingTable) =>
  t.models.flatMap((m) =>
    m.results.blocks.map((b) => ({
      model: m.untrained ? 'untrained (control)' : probeLabel(t.preset, m),
      prior: m.untrained ? '' : m.prior,
      block: b.block,
      probe_count_a: pct(b.opt),
      probe_count_b: pct(b.oft),
      majority_count_a: pct(m.results.majority?.opt),
      majority_count_b: pct(m.results.majority?.oft),
      test_size: m.results.testSize ?? '',
    })),
  );

// ------------------------------------------------------------------ Fig 9 (reFT vs Scr.+FT)

const reftName = (preset: Preset, r: ReftRun) => (r.kind === 'scratch' ? 'Scr.+FT' : `reFT after FT ${lrLabel(preset, r.finetune!.lr)}, C_Tr=${r.finetune!.cTrain}`);
/** A legend entry: what the reFT started from (the LR values sit in the legend title). */
const reftShort = (r: ReftRun) => (r.kind === 'scratch' ? 'Scr.+FT' : `after FT η_${r.finetune!.lr}, C_Tr=${r.finetune!.cTrain}`);

/** reFT curves: blue shades for C_Tr = 0, red shades for C_Tr = 1 (darker for η_M), grey for Scr.+FT. */
function reftColour(r: ReftRun): string {
  if (r.kind === 'scratch') return '#7f7f7f';
  const m = r.finetune!.lr === 'M';
  return r.finetune!.cTrain === 0 ? (m ? '#1f77b4' : '#17becf') : m ? '#d62728' : '#ff7f0e';
}

export function fig9(t: ReftTable): Figure {
  const reftLrs = [...new Set(t.runs.map((r) => r.reftLr))];
  const ftLrs = t.runs.flatMap((r) => (r.finetune ? [r.finetune.lr] : []));
  const panels: Panel[] = t.plan.priors.map((prior) => ({
    title: `P^${prior}`,
    traces: t.runs
      .filter((r) => r.prior === prior || r.kind === 'scratch')
      .map((r) => {
        const curve = r.results.curve.filter((p) => p.step > 0);
        const name = reftLrs.length > 1 ? `${reftShort(r)} (reFT η_${r.reftLr})` : reftShort(r);
        return { name, x: curve.map((p) => p.step), y: curve.map((p) => metric(p, 'acc.opt.cte0')), line: { dash: LR_DASH[r.reftLr], color: reftColour(r) } };
      }),
  }));
  const legendTitle = `reFT at ${lrValues(t.preset, reftLrs)} of models fine-tuned at ${lrValues(t.preset, ftLrs)}:`;
  return panelFigure(`Fig 9 analog (${t.preset}): Acc O_PT (count a, C_Te=0) during reFT vs Scr.+FT`, panels, { rows: 1, cols: t.plan.priors.length, xTitle: 'reFT iteration', yTitle: 'Acc O_PT', xLog: true, legendTitle });
}

export const reftRows = (t: ReftTable) =>
  t.runs.map((r) => ({
    prior: r.kind === 'scratch' ? 'swapped (b dominant)' : r.prior,
    run: reftName(t.preset, r),
    reft_lr: lrLabel(t.preset, r.reftLr),
    start_acc_opt: pct(r.results.curve[0]?.['acc.opt.cte0']),
    final_acc_opt: pct(r.results.final['acc.opt.cte0']),
    iters_to_90: r.results.to90 ?? '',
    iters_to_99: r.results.to99 ?? '',
    iters_to_100: r.results.to100 ?? '',
  }));

// ------------------------------------------------------------------ Fig 16 (label distributions)

export function fig16(t: DataTable): Figure {
  const panels: Panel[] = t.tasks.flatMap((d) =>
    (['a', 'b'] as const).map((op) => ({
      title: `${d.task}: answers for operand ${op}`,
      traces: (['c0', 'c1'] as const).map((c) => ({ type: 'bar', mode: undefined, name: c === 'c0' ? 'C=0 (plain)' : 'C=1 (correlated)', x: d.bins, y: d[op][c], marker: { color: c === 'c0' ? '#1f77b4' : '#d62728' }, opacity: 0.6 })),
    })),
  );
  const fig = panelFigure(`Fig 16 analog (${t.preset}): label histograms, plain vs correlated texts (${t.size} each)`, panels, { rows: 2, cols: 2, xTitle: 'label', yTitle: 'samples', yRange: 'auto' });
  for (const k of Object.keys(fig.layout)) if (k.startsWith('yaxis')) (fig.layout[k] as Record<string, unknown>).range = undefined;
  fig.layout.barmode = 'overlay';
  return fig;
}

export const fig16Rows = (t: DataTable) =>
  t.tasks.flatMap((d) => (['a', 'b'] as const).flatMap((op) => d.bins.map((bin, i) => ({ task: d.task, operand: op, label: bin, c0: d[op].c0[i], c1: d[op].c1[i] })))).filter((r) => r.c0 + r.c1 > 0);

// ------------------------------------------------------------------ E.1 mixing (Fig 18), E.2 jailbreak (Fig 24)

const mixLabel = (c: FinetuneCell) => `PT fraction ${c.pretrainFraction ?? 0}`;

export function fig18(t: AppendixTable): Figure {
  return panelFigure(
    `Fig 18 analog (${t.preset}): fine-tuning with pretraining data mixed in (P^L, η_M, C_Tr=0)`,
    (['acc.opt.cte0', 'acc.oft.cte0'] as const).map((key) => ({
      title: key === 'acc.opt.cte0' ? 'Acc O_PT (count a)' : 'Acc O_FT (count b)',
      traces: t.mixing.map((c) => ({ name: mixLabel(c), ...curveOf(c, key) })),
    })),
    { rows: 1, cols: 2, xTitle: 'fine-tuning iteration', yTitle: 'accuracy' },
  );
}

/** Fig 24's layout: one row per LR, one column per counting token, one series per prior. */
export function fig24(t: AppendixTable): Figure {
  const tokens = [['acc.opt.cte0', 'T_NJ (fine-tuned token)'], ['acc.jb1.cte0', 'T_J1'], ['acc.jb2.cte0', 'T_J2']] as const;
  return panelFigure(
    `Fig 24 analog (${t.preset}): count a through the fine-tuned token T_NJ vs the jailbreak tokens (C_Tr=0)`,
    t.plan.jailbreak.lrs.flatMap((lr) =>
      tokens.map(([key, token]) => ({
        title: `${token}, ${lrLabel(t.preset, lr)}`,
        traces: t.jailbreak.filter((c) => c.lr === lr).map((c) => ({ name: `P^${c.prior}`, ...curveOf(c, key), line: { color: PRIOR_COLOURS[c.prior] } })),
      })),
    ),
    { rows: t.plan.jailbreak.lrs.length, cols: tokens.length, xTitle: 'fine-tuning iteration', yTitle: 'Acc O_PT (count a)' },
  );
}

export function appendixRows(t: AppendixTable) {
  return [
    ...t.mixing.map((c) => ({ protocol: 'E.1 mixing', setting: mixLabel(c), pt_opt_c0: pct(c.results.accPT['acc.opt.cte0']), pt_jb1_c0: '', pt_jb2_c0: '', final_opt_c0: pct(c.results.final['acc.opt.cte0']), final_oft_c0: pct(c.results.final['acc.oft.cte0']), final_jb1_c0: '', final_jb2_c0: '' })),
    ...t.jailbreak.map((c) => {
      const r = c.results;
      return { protocol: 'E.2 jailbreak', setting: `P^${c.prior}, ${lrLabel(t.preset, c.lr)}`, pt_opt_c0: pct(r.accPT['acc.opt.cte0']), pt_jb1_c0: pct(r.accPT['acc.jb1.cte0']), pt_jb2_c0: pct(r.accPT['acc.jb2.cte0']), final_opt_c0: pct(r.final['acc.opt.cte0']), final_oft_c0: pct(r.final['acc.oft.cte0']), final_jb1_c0: pct(r.final['acc.jb1.cte0']), final_jb2_c0: pct(r.final['acc.jb2.cte0']) };
    }),
  ];
}

export type { PcfgPlan };
