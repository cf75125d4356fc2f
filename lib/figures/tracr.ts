/**
 * Figures and tables of the Tracr testbed, pure functions of the studies' tables (lib/studies/tracr.ts), named
 * after the paper's:
 *   table3_tracr_finetune      Acc O_PT / O_FT after fine-tuning, LR x C_Tr, C_Te = 1 / 0, paper's numbers beside
 *   fig10_counter_attention    Counter block-1 attention: compiled, η_S / η_M with C_Tr = 0 / 1, reFT
 *   figs39-54_maxid_attention  Max-identifier blocks 0 (sorting) and 2 (read-out), same panels
 *   fig46_counter_mlp / fig53_maxid_mlp   MLP hidden activations, compiled vs fine-tuned
 *   figs55-58_pruning          Acc O_PT / O_FT vs units pruned (single weights; neurons)
 *   fig59_prune_histogram      predicted classes after pruning one weight
 *   figs55-58_counter_weight_scan   every single weight zeroed alone: the best Acc O_PT, collapses marked
 *   fig27_tracr_reft / table4_tracr_reft   reFT vs Scr.+FT
 */
import type { Preset } from '../experiments/define';
import { TRACR_LR_ROLES, type TracrFinetuneResults } from '../experiments/tracr/finetune';
import type { TracrPruneResults } from '../experiments/tracr/prune';
import type { TracrReftResults } from '../experiments/tracr/reft';
import type { ScannedWeight, TracrWeightScanResults } from '../experiments/tracr/scan';
import { TRACR_FIGURE_PROGRAMS, type TracrFinetuneTable, type TracrPruneTable, type TracrReftTable } from '../studies/tracr';
import type { Figure, NamedFigure } from './figure';
import { attentionGrid, type AttentionPanel, positionLabels } from './heatmaps';
import { logTicks } from './panels';

/** Paper Table 3 (Counter | Max-identifier; C_Te = 1: O_PT, O_FT | C_Te = 0: O_PT, O_FT), in %. */
export const PAPER_TABLE3: Record<string, Record<string, [number, number, number, number]>> = {
  counter: {
    '0.1/0': [0.0, 100.0, 0.0, 100.0], '0.1/0.2': [0.0, 100.0, 0.0, 100.0], '0.1/0.5': [0.0, 100.0, 0.0, 100.0], '0.1/0.6': [0.0, 100.0, 0.0, 100.0],
    '0.1/0.8': [0.0, 100.0, 0.0, 100.0], '0.1/0.9': [0.0, 100.0, 0.0, 100.0], '0.1/1': [0.0, 100.0, 35.8, 0.7],
    '0.01/0': [1.1, 96.3, 0.0, 98.8], '0.01/0.2': [0.0, 100.0, 0.0, 99.2], '0.01/0.5': [0.6, 99.4, 0.0, 95.9], '0.01/0.6': [0.1, 99.9, 0.0, 98.8],
    '0.01/0.8': [0.3, 99.6, 0.1, 97.0], '0.01/0.9': [1.4, 98.5, 7.1, 39.3], '0.01/1': [0.3, 98.3, 4.2, 0.2],
    '0.001/0': [54.6, 1.2, 25.7, 27.2], '0.001/0.2': [50.2, 15.0, 26.5, 24.3], '0.001/0.5': [7.1, 90.9, 19.8, 2.3], '0.001/0.6': [4.1, 94.2, 11.8, 2.2],
    '0.001/0.8': [1.3, 98.3, 6.7, 0.7], '0.001/0.9': [1.8, 97.8, 9.2, 0.7], '0.001/1': [4.0, 94.3, 10.3, 2.2],
    '0.0001/0': [32.6, 0.0, 10.6, 28.7], '0.0001/0.2': [59.2, 0.1, 31.9, 24.4], '0.0001/0.5': [28.5, 65.1, 37.8, 5.6], '0.0001/0.6': [24.4, 70.3, 35.6, 4.8],
    '0.0001/0.8': [14.1, 84.2, 29.7, 2.1], '0.0001/0.9': [1.3, 98.3, 6.7, 0.7], '0.0001/1': [1.6, 98.3, 10.6, 0.2],
  },
  'max-identifier': {
    '0.1/0': [20.3, 34.5, 0.0, 99.3], '0.1/0.2': [0.5, 92.0, 0.0, 97.1], '0.1/0.5': [0.6, 97.0, 0.1, 97.6], '0.1/0.6': [0.3, 98.5, 0.0, 96.7],
    '0.1/0.8': [0.1, 99.4, 0.0, 98.6], '0.1/0.9': [0.7, 98.2, 0.1, 92.5], '0.1/1': [0.3, 99.6, 16.8, 37.8],
    '0.01/0': [29.7, 0.2, 16.3, 52.6], '0.01/0.2': [28.4, 18.6, 19.0, 46.0], '0.01/0.5': [4.8, 87.9, 3.3, 92.6], '0.01/0.6': [3.9, 83.2, 2.6, 82.5],
    '0.01/0.8': [4.5, 88.8, 6.6, 72.9], '0.01/0.9': [16.0, 45.7, 26.9, 11.1], '0.01/1': [11.1, 78.5, 23.8, 14.4],
    '0.001/0': [6.4, 20.2, 4.5, 28.5], '0.001/0.2': [7.4, 27.4, 5.4, 28.0], '0.001/0.5': [11.3, 24.0, 7.6, 20.8], '0.001/0.6': [11.8, 26.7, 8.4, 20.1],
    '0.001/0.8': [11.5, 34.3, 8.5, 19.9], '0.001/0.9': [14.6, 32.2, 11.4, 15.8], '0.001/1': [16.0, 33.2, 12.8, 14.0],
    '0.0001/0': [0.5, 82.6, 0.5, 91.1], '0.0001/0.2': [0.1, 84.8, 0.6, 91.3], '0.0001/0.5': [0.0, 89.3, 0.6, 91.8], '0.0001/0.6': [0.0, 89.6, 0.6, 90.8],
    '0.0001/0.8': [0.0, 89.7, 0.6, 89.9], '0.0001/0.9': [0.0, 93.2, 0.2, 97.1], '0.0001/1': [0.0, 90.2, 0.7, 88.6],
  },
};

const pct = (x: number) => Math.round(x * 1000) / 10;

/** Table 3 rows: ours beside the paper's, one row per (program, LR, C_Tr). */
export function tracrTable3Rows(results: TracrFinetuneResults[]) {
  return results.map((r) => {
    const paper = PAPER_TABLE3[r.program]?.[`${r.lr}/${r.cTr}`];
    return {
      program: r.program,
      lr: r.lr,
      cTr: r.cTr,
      cTe1_accPT: pct(r.after.cTe1.pt),
      cTe1_accFT: pct(r.after.cTe1.ft),
      cTe0_accPT: pct(r.after.cTe0.pt),
      cTe0_accFT: pct(r.after.cTe0.ft),
      paper_cTe1_accPT: paper?.[0] ?? null,
      paper_cTe1_accFT: paper?.[1] ?? null,
      paper_cTe0_accPT: paper?.[2] ?? null,
      paper_cTe0_accFT: paper?.[3] ?? null,
      attnPT: Math.round(r.attention.finetuned.ptMass * 1000) / 1000,
      attnFT: Math.round(r.attention.finetuned.ftMass * 1000) / 1000,
    };
  });
}

/** Heat-map panels of Acc (%) over LR x C_Tr: one per (C_Te, O_PT/O_FT). */
export function tracrTable3Figure(results: TracrFinetuneResults[], program: string): Figure {
  const rs = results.filter((r) => r.program === program);
  const lrs = [...new Set(rs.map((r) => r.lr))].sort((a, b) => b - a);
  const cTrs = [...new Set(rs.map((r) => r.cTr))].sort((a, b) => a - b);
  const panels: [string, (r: TracrFinetuneResults) => number][] = [
    ['C_Te=1 Acc O_PT', (r) => r.after.cTe1.pt],
    ['C_Te=1 Acc O_FT', (r) => r.after.cTe1.ft],
    ['C_Te=0 Acc O_PT', (r) => r.after.cTe0.pt],
    ['C_Te=0 Acc O_FT', (r) => r.after.cTe0.ft],
  ];
  const data = panels.map(([, f], i) => {
    const z = lrs.map((lr) => cTrs.map((c) => {
      const r = rs.find((x) => x.lr === lr && x.cTr === c);
      return r ? pct(f(r)) : null;
    }));
    return {
      type: 'heatmap', name: panels[i][0], z, x: cTrs.map(String), y: lrs.map((l) => `lr ${l}`), zmin: 0, zmax: 100, colorscale: 'Viridis', showscale: i === 3,
      hovertemplate: '%{y}, C_Tr=%{x}: %{z}%',
      text: z.map((row) => row.map((v) => (v === null ? '' : String(v)))), texttemplate: '%{text}', xaxis: `x${i + 1}`, yaxis: `y${i + 1}`,
    };
  });
  const layout: Record<string, unknown> = { title: { text: `Table 3 analog — ${program}: accuracy (%) after fine-tuning` }, grid: { rows: 1, columns: 4, pattern: 'independent' }, annotations: [] };
  panels.forEach(([name], i) => {
    layout[`xaxis${i + 1}`] = { title: { text: `C_Tr — ${name}` } };
    layout[`yaxis${i + 1}`] = { showticklabels: i === 0 };
  });
  return { data, layout };
}

/** Attention heat maps, one per model, three to a row (the paper draws them 0–0.5; here 0–1 so no weight saturates). */
export const tracrAttentionPanels = (panels: AttentionPanel[], tokens: string[], title: string): Figure => attentionGrid(panels, tokens, title, { cols: 3 });

/** MLP hidden activations [position][channel], one panel per model. */
export function tracrMlpPanels(panels: { name: string; act: number[][] }[], tokens: string[], title: string): Figure {
  const labels = positionLabels(tokens);
  const zmax = Math.max(1e-6, ...panels.flatMap((p) => p.act.flat()));
  const data = panels.map((p, i) => ({
    type: 'heatmap', name: p.name, z: p.act, y: labels, zmin: 0, zmax, colorscale: 'Viridis', showscale: i === panels.length - 1,
    colorbar: { title: { text: 'activation' } }, hovertemplate: 'position %{y}, neuron %{x}<br>activation %{z:.3f}', xaxis: `x${i + 1}`, yaxis: `y${i + 1}`,
  }));
  const layout: Record<string, unknown> = { title: { text: title }, grid: { rows: 1, columns: panels.length, pattern: 'independent' } };
  panels.forEach((p, i) => {
    layout[`xaxis${i + 1}`] = { title: { text: `${p.name} — neuron` } };
    layout[`yaxis${i + 1}`] = { autorange: 'reversed', tickfont: { size: 7 }, showticklabels: i === 0 };
  });
  return { data, layout };
}

/** Acc O_PT and O_FT vs units pruned (C_Te = 0 and 1), one line per pruning run. */
export function tracrPruningFigure(runs: { name: string; r: TracrPruneResults }[], title: string): Figure {
  const data: Record<string, unknown>[] = [];
  const axes: [string, string, 'cTe0' | 'cTe1', 'pt' | 'ft'][] = [
    ['x', 'y', 'cTe1', 'pt'], ['x2', 'y2', 'cTe0', 'pt'], ['x3', 'y3', 'cTe1', 'ft'], ['x4', 'y4', 'cTe0', 'ft'],
  ];
  const colors = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
  runs.forEach(({ name, r }, i) => {
    for (const [xa, ya, te, op] of axes) {
      data.push({ type: 'scatter', mode: 'lines+markers', name, legendgroup: name, showlegend: xa === 'x', x: r.steps.map((s) => s.k), y: r.steps.map((s) => pct(s.acc[te][op])), xaxis: xa, yaxis: ya, line: { color: colors[i % colors.length] } });
    }
  });
  const layout: Record<string, unknown> = { title: { text: title }, grid: { rows: 2, columns: 2, pattern: 'independent' } };
  axes.forEach(([xa, ya, te, op], i) => {
    layout[`xaxis${i ? i + 1 : ''}`] = { title: { text: `units pruned (${te === 'cTe1' ? 'C_Te=1' : 'C_Te=0'})` } };
    layout[`yaxis${i ? i + 1 : ''}`] = { title: { text: `Acc O_${op.toUpperCase()} (%)` }, range: [0, 100] };
  });
  return { data, layout };
}

export function tracrHistogramFigure(r: TracrPruneResults, title: string): Figure {
  const x = r.histogram.classes;
  return {
    data: [
      { type: 'bar', name: 'fine-tuned', x, y: r.histogram.before },
      { type: 'bar', name: `after pruning ${r.steps[1]?.unit ?? '-'}`, x, y: r.histogram.afterOne },
      { type: 'bar', name: 'true O_PT answer', x, y: r.histogram.truePT },
    ],
    layout: { title: { text: title }, barmode: 'group', xaxis: { title: { text: 'predicted class' } }, yaxis: { title: { text: 'count (C_Te = 0)' } } },
  };
}

export function tracrReftFigure(results: TracrReftResults[], title: string, preset?: Preset): Figure {
  const data: Record<string, unknown>[] = [];
  const dash = ['solid', 'dash', 'dot'];
  const name = (lr: number) => (preset ? lrName(lr, preset) : `lr ${lr}`);
  const sources = [...new Set(results.map((r) => `${name(r.ftLr)}, C_Tr=${r.cTr}`))];
  results.forEach((r, i) => {
    const x = (c: { step: number }[]) => c.map((p) => Math.max(1, p.step));
    const from = sources.length > 1 ? ` (after FT ${name(r.ftLr)}, C_Tr=${r.cTr})` : '';
    data.push({ type: 'scatter', mode: 'lines+markers', name: `reFT ${name(r.reftLr)}${from}`, x: x(r.reft.curve), y: r.reft.curve.map((p) => pct(p['acc.opt.cte0'])), line: { color: '#1f77b4', dash: dash[i % 3] }, hovertemplate: 'iteration %{x}: %{y:.1f}%' });
    data.push({ type: 'scatter', mode: 'lines+markers', name: `Scr.+FT ${name(r.reftLr)}`, x: x(r.scratch.curve), y: r.scratch.curve.map((p) => pct(p['acc.opt.cte0'])), line: { color: '#d62728', dash: dash[i % 3] }, hovertemplate: 'iteration %{x}: %{y:.1f}%' });
  });
  const steps = results.flatMap((r) => [...r.reft.curve, ...r.scratch.curve].map((p) => Math.max(1, p.step)));
  const legend = sources.length === 1 ? { legend: { title: { text: `reFT of the model fine-tuned at ${sources[0]}` } } } : {};
  return { data, layout: { title: { text: title }, ...legend, xaxis: { title: { text: 'iterations' }, type: 'log', tickmode: 'array', ...logTicks(steps) }, yaxis: { title: { text: 'Acc O_PT (%), C_Te = 0' }, range: [0, 100] } } };
}

/** "η_S (1e-4)" under the preset's LR roles, or the plain LR. */
function lrName(lr: number, preset: Preset): string {
  const e = Object.entries(TRACR_LR_ROLES[preset]).find(([, v]) => v === lr);
  return e ? `η_${e[0]} (${lr})` : `lr ${lr}`;
}

/** Every figure of the fine-tuning set: per program, attention panels (compiled, η_S / η_M x C_Tr, reFT), MLP panels, Table 3 heat maps. */
export function finetuneFigures(t: TracrFinetuneTable): NamedFigure[] {
  const { preset, finetuned: results, reft } = t;
  const figures = [];
  for (const program of TRACR_FIGURE_PROGRAMS) {
    const rs = results.filter((r) => r.program === program);
    const pick = (lr: number, cTr: number) => rs.find((r) => r.lr === lr && r.cTr === cTr);
    const roles = TRACR_LR_ROLES[preset];
    const chosen = [roles.S, roles.M].flatMap((lr) => [0, 1].map((c) => pick(lr, c))).filter((r): r is TracrFinetuneResults => !!r);
    if (chosen.length === 0) continue;
    const tokens = chosen[0].example.tokens;
    const layers = program === 'counter' ? [1] : [0, 2];
    for (const layer of layers) {
      const rf = reft.find((r) => r.program === program);
      const panels = [
        { name: 'compiled', pattern: chosen[0].example.attention.compiled[layer] },
        ...chosen.map((r) => ({ name: `${lrName(r.lr, preset)}, C_Tr=${r.cTr}`, pattern: r.example.attention.finetuned[layer] })),
        ...(rf ? [{ name: `reFT ${lrName(rf.reftLr, preset)} (after ${lrName(rf.ftLr, preset)}, C_Tr=${rf.cTr})`, pattern: rf.example.attention[layer] }] : []),
      ];
      const name = program === 'counter' ? 'fig10_counter_attention_block1' : `figs39-54_maxid_attention_block${layer}`;
      figures.push({ name, figure: tracrAttentionPanels(panels, tokens, `${program}: block-${layer} attention (${preset})`) });
    }
    const mlpLayer = program === 'counter' ? 1 : 0;
    const mlp = [{ name: 'compiled', act: chosen[0].example.mlp.compiled[mlpLayer] }, ...chosen.map((r) => ({ name: `${lrName(r.lr, preset)}, C_Tr=${r.cTr}`, act: r.example.mlp.finetuned[mlpLayer] }))];
    figures.push({ name: program === 'counter' ? 'fig46_counter_mlp_block1' : 'fig53_maxid_mlp_block0', figure: tracrMlpPanels(mlp, tokens, `${program}: block-${mlpLayer} MLP activations (${preset})`), width: 260 * mlp.length + 120, height: 380 });
    figures.push({ name: `table3_${program === 'counter' ? 'counter' : 'maxid'}`, figure: tracrTable3Figure(results, program), width: 1300, height: 380 });
  }
  return figures;
}

/** One row of figs55-58_tracr_pruning.csv. */
function pruneRow(program: string, granularity: string, r: TracrPruneResults): Record<string, string | number | null> {
  return { program, granularity, lr: r.lr, cTr: r.cTr, accPT_cTe0_k0: pct(r.steps[0].acc.cTe0.pt), accPT_cTe0_k1: pct(r.steps[1]?.acc.cTe0.pt ?? NaN), bestGainPT_cTe0: pct(r.bestGain.cTe0), kAtBest_cTe0: r.bestGain.kAtBestCTe0, accPT_cTe1_k0: pct(r.steps[0].acc.cTe1.pt), bestGainPT_cTe1: pct(r.bestGain.cTe1), kAtBest_cTe1: r.bestGain.kAtBestCTe1, firstUnit: r.steps[1]?.unit ?? null };
}

/** The pruning figures (per program: weights, neurons, the Counter's exact scoring, Fig 59) and the table rows. */
export function pruneFigures(t: TracrPruneTable): { figures: NamedFigure[]; rows: Record<string, string | number | null>[] } {
  const { preset } = t;
  const figures = [];
  const rows: Record<string, string | number | null>[] = [];
  for (const program of TRACR_FIGURE_PROGRAMS) {
    const short = program === 'counter' ? 'counter' : 'maxid';
    const weightRuns: { name: string; r: TracrPruneResults }[] = [];
    for (const granularity of ['weight', 'row'] as const) {
      const out = t.runs.filter((x) => x.program === program && x.granularity === granularity && x.scoring === 'gradxweight').map((x) => x.results);
      const named = out.map((r) => ({ name: `${lrName(r.lr, preset)}, C_Tr=${r.cTr}`, r }));
      figures.push({ name: `figs55-58_${short}_pruning_${granularity === 'weight' ? 'weights' : 'neurons'}`, figure: tracrPruningFigure(named, `${program}: pruning ${granularity === 'weight' ? 'single weights' : 'MLP neurons'} by grad x weight (${preset})`), width: 1000, height: 700 });
      for (const r of out) rows.push(pruneRow(program, granularity, r));
      if (granularity === 'weight') weightRuns.push(...named);
    }
    const exact = t.runs.find((x) => x.program === program && x.scoring === 'exact')?.results;
    if (exact) {
      figures.push({ name: `figs55-58_${short}_pruning_weights_exact`, figure: tracrPruningFigure([{ name: `${lrName(exact.lr, preset)}, C_Tr=1, exact`, r: exact }], `${program}: pruning single weights by exact loss drop, greedy (${preset})`), width: 1000, height: 700 });
      rows.push(pruneRow(program, 'weight (exact)', exact));
    }
    const corr = weightRuns.filter((x) => x.r.cTr === 1).sort((a, b) => b.r.bestGain.cTe0 - a.r.bestGain.cTe0)[0];
    if (corr) figures.push({ name: `fig59_${short}_prune_histogram`, figure: tracrHistogramFigure(corr.r, `${program}: predicted classes after pruning one weight (${corr.name})`), width: 900, height: 420 });
  }
  return { figures, rows };
}

/**
 * The single-weight scan (tracr-weight-scan): the fine-tuned model, the weights whose removal gives back the most
 * Acc O_PT (C_Te = 0), and the best one that does not collapse the model onto one answer.
 */
export function weightScanRows(scan: TracrWeightScanResults): Record<string, string | number | null>[] {
  const row = (kind: string, rank: number | null, w: Omit<ScannedWeight, 'unit' | 'modalClass' | 'collapsed'> & Partial<ScannedWeight>) => ({
    kind,
    rank,
    unit: w.unit ?? '',
    accPT_cTe0: pct(w.pt),
    accFT_cTe0: pct(w.ft),
    modalClass: w.modalClass ?? '',
    modalShare: pct(w.modalShare),
    accPT_beyondModal: pct(w.ptBeyondModal),
    collapsed: w.collapsed === undefined ? '' : w.collapsed ? 'yes' : 'no',
    scanned: scan.scanned,
  });
  return [
    row('fine-tuned, nothing zeroed', null, scan.base),
    ...scan.top.map((w, i) => row('top by Acc O_PT', i + 1, w)),
    ...(scan.bestRevival ? [row('best without collapse', null, scan.bestRevival)] : []),
  ];
}

/** The reFT figures (per program, C_Tr = 1 runs) and the Table 4 rows. */
export function reftFigures(t: TracrReftTable): { figures: NamedFigure[]; rows: Record<string, string | number | null>[] } {
  const figures = [];
  const rows: Record<string, string | number | null>[] = [];
  for (const program of TRACR_FIGURE_PROGRAMS) {
    const out = t.runs.filter((r) => r.program === program);
    figures.push({ name: `fig27_${program === 'counter' ? 'counter' : 'maxid'}_reft`, figure: tracrReftFigure(out.filter((r) => r.cTr === 1), `${program}: reFT vs Scr.+FT, Acc O_PT (${t.preset})`, t.preset), width: 900, height: 480 });
    for (const r of out) {
      for (const [kind, x] of [['reFT', r.reft], ['Scr.+FT', r.scratch]] as const) {
        rows.push({ program, kind, ftLr: r.ftLr, cTr: r.cTr, reftLr: r.reftLr, cTe1_accPT: pct(x.final.cTe1.pt), cTe1_accFT: pct(x.final.cTe1.ft), cTe0_accPT: pct(x.final.cTe0.pt), cTe0_accFT: pct(x.final.cTe0.ft), startPT_cTe0: pct(x.start.cTe0.pt), stepsTo90: x.stepsToThreshold });
      }
    }
  }
  return { figures, rows };
}

export type { TracrReftResults };
