/**
 * TinyStories figures (paper §5), pure functions of the study's table (lib/studies/tinystories.ts): Fig 11 (Twist probe vs block; reFT loss vs iterations), the Table 1
 * analog (% of sampled stories with a Twist during reFT), and the appendix views: Figs 31-34 (losses and
 * Twist rate during deletion and reFT) and Figs 35-38 (probes for Twist, Foreshadowing, MoralValue,
 * BadEnding); beside Fig 11's probe, the Twist probe tested on twist realisers it never saw, which must read the
 * twist's structure rather than its words.
 */
import type { TwistKey } from '../engine/metrics';
import { DELETION_PROTOCOLS } from '../experiments/tinystories/config';
import { UNTRAINED_LABEL } from '../experiments/tinystories/experiments';
import type { TinyStoriesProbeResults, TinyStoriesReftResults } from '../experiments/tinystories/experiments';
import type { CurveRow } from '../experiments/tinystories/stages';
import type { TinyStoriesTable } from '../studies/tinystories';
import type { Figure, NamedFigure } from './figure';
import { type Panel, panelFigure } from './panels';
import { wilson } from '../analysis/stats';

export interface StorySeries {
  name: string;
  x: number[];
  y: number[];
  dash?: string;
}

export interface StoryPanel {
  title: string;
  series: StorySeries[];
}

const COLOURS: Record<string, string> = {
  F: '#1f77b4',
  'F+R': '#d62728',
  'F+MM': '#2ca02c',
  'Not in PT': '#7f7f7f',
  'Present in PT': '#000000',
  [UNTRAINED_LABEL]: '#bcbd22',
};

function colourOf(name: string): string | undefined {
  return COLOURS[name.replace(/ \(LR [SM]\)$/, '')];
}

/** Where a log x axis draws step 0 (it has no 0). */
const LOG_ZERO_AT = 0.5;

/** Side-by-side panels sharing a legend; `logX` plots step 0 at LOG_ZERO_AT. */
export function storyPanelsFigure(panels: StoryPanel[], opts: { title: string; xTitle: string; yTitle: string; logX?: boolean }): Figure {
  const asPanels: Panel[] = panels.map((p) => ({
    title: p.title,
    traces: p.series.map((s) => ({
      name: s.name.replace(/ \(LR [SM]\)$/, ''),
      x: opts.logX ? s.x.map((v) => (v === 0 ? LOG_ZERO_AT : v)) : s.x,
      y: s.y,
      line: { color: colourOf(s.name), dash: s.dash },
    })),
  }));
  return panelFigure(opts.title, asPanels, { rows: 1, cols: panels.length, xTitle: opts.xTitle, yTitle: opts.yTitle, xLog: opts.logX, xLogZeroAt: opts.logX ? LOG_ZERO_AT : undefined, yRange: 'auto' });
}

function curveSeries(name: string, rows: CurveRow[], key: TwistKey, scale = 1): StorySeries {
  return { name, x: rows.map((r) => r.step), y: rows.map((r) => r[key] * scale) };
}

/** The models a probe figure draws in each deletion-LR panel: that LR's deleted models, then the controls. */
function probePanelLabels(lr: 'M' | 'S', has: (label: string) => boolean): string[] {
  return [...DELETION_PROTOCOLS.map((p) => `${p} (LR ${lr})`), 'Not in PT', 'Present in PT', ...(has(UNTRAINED_LABEL) ? [UNTRAINED_LABEL] : [])];
}

/**
 * One model's probe accuracy per block with its 95% Wilson interval over `n` test stories; `extent` widens to the
 * intervals so the caller's y axis shows them.
 */
function accuracyTrace(label: string, y: number[], n: number, extent: { lo: number; hi: number }): Record<string, unknown> {
  const ci = y.map((p) => wilson(Math.round(p * n), n));
  for (const c of ci) (extent.lo = Math.min(extent.lo, c.lo)), (extent.hi = Math.max(extent.hi, c.hi));
  return {
    name: label.replace(/ \(LR [SM]\)$/, ''),
    x: y.map((_, i) => i),
    y,
    error_y: { type: 'data', symmetric: false, array: ci.map((c, i) => c.hi - y[i]), arrayminus: ci.map((c, i) => y[i] - c.lo), thickness: 1, width: 3 },
    line: { color: colourOf(label), dash: label === UNTRAINED_LABEL ? 'dashdot' : label.endsWith('in PT') ? 'dot' : undefined },
    hovertemplate: `block %{x}: %{y:.3f} (95% CI %{customdata})`,
    customdata: ci.map((c) => `${c.lo.toFixed(3)}–${c.hi.toFixed(3)}, n=${n}`),
  };
}

/** A horizontal reference line across the blocks (a baseline a probe that reads nothing reaches). */
function baselineTrace(name: string, blocks: number, y: number, colour: string): Record<string, unknown> {
  const x = Array.from({ length: blocks }, (_, i) => i);
  return { name, x, y: x.map(() => y), mode: 'lines', line: { color: colour, dash: 'dash', width: 2 }, hovertemplate: `${name} %{y:.3f}` };
}

const PAD = 0.01;
const probeYRange = (e: { lo: number; hi: number }): [number, number] => [Math.max(0, e.lo - PAD), Math.min(1.005, e.hi + PAD)];

/**
 * Probe accuracy vs block for one feature; panels deletion η_M and η_S, as in the paper's Fig 11 left. Each point
 * carries its 95% Wilson interval over the held-out stories; the two baselines are drawn (the majority class, and the
 * same probe on an untrained model of the same shape), so the y axis starts where a probe that reads nothing sits.
 */
export function probeFigure(probe: TinyStoriesProbeResults, feature: string, title: string): Figure {
  const byLabel = new Map(probe.models.map((m) => [m.label, m]));
  const first = probe.models[0];
  const j0 = first.features.indexOf(feature);
  const majority = Math.max(first.positiveRate[j0], 1 - first.positiveRate[j0]);
  const extent = { lo: majority, hi: majority };
  const trace = (label: string) => {
    const m = byLabel.get(label)!;
    const j = m.features.indexOf(feature);
    return accuracyTrace(label, m.accuracy.map((row) => row[j]), m.testSize, extent);
  };
  const panels: Panel[] = (['M', 'S'] as const).map((lr) => ({
    title: `deletion at η_${lr}`,
    traces: [...probePanelLabels(lr, (l) => byLabel.has(l)).map(trace), baselineTrace('majority class', first.layers.length, majority, '#bbbbbb')],
  }));
  return panelFigure(title, panels, { rows: 1, cols: 2, xTitle: 'block', xDtick: 1, yTitle: `${feature} probe accuracy`, yRange: probeYRange(extent), yFitted: true, legendTitle: 'bars: 95% Wilson interval over the held-out stories' });
}

/**
 * The held-out-realiser Twist probe vs block (lib/experiments/tinystories/structureProbe.ts): trained on four twist
 * realisers' stories, tested on the other two, pooled over the folds. Its baselines: chance (the test sets are
 * balanced), what the words alone transfer (a bag-of-words classifier on the same folds), and the untrained model.
 */
export function structureProbeFigure(structure: NonNullable<TinyStoriesProbeResults['structure']>, title: string): Figure {
  const byLabel = new Map(structure.models.map((m) => [m.label, m]));
  const blocks = structure.models[0].layers.length;
  const extent = { lo: 0.5, hi: Math.max(0.5, structure.words.accuracy) };
  const panels: Panel[] = (['M', 'S'] as const).map((lr) => ({
    title: `deletion at η_${lr}`,
    traces: [
      ...probePanelLabels(lr, (l) => byLabel.has(l)).map((l) => accuracyTrace(l, byLabel.get(l)!.accuracy, byLabel.get(l)!.testSize, extent)),
      baselineTrace('words alone (bag of words)', blocks, structure.words.accuracy, '#8c564b'),
      baselineTrace('chance', blocks, 0.5, '#bbbbbb'),
    ],
  }));
  return panelFigure(title, panels, {
    rows: 1,
    cols: 2,
    xTitle: 'block',
    xDtick: 1,
    yTitle: 'Twist probe accuracy, held-out realisers',
    yRange: probeYRange(extent),
    yFitted: true,
    legendTitle: 'bars: 95% Wilson interval over the held-out realisers\' stories',
  });
}

/** reFT curves of one metric; panels LR S and LR M (the deleted models at that LR, plus the control). */
export function reftFigure(reft: TinyStoriesReftResults, key: TwistKey, title: string, yTitle: string, scale = 1): Figure {
  const control = reft.reft.find((r) => r.protocol === null)!;
  const panels = (['S', 'M'] as const).map((lr) => ({
    title: `deletion at η_${lr}`,
    series: [...reft.reft.filter((r) => r.lr === lr).map((r) => curveSeries(r.label, r.curve, key, scale)), curveSeries('Not in PT', control.curve, key, scale)],
  }));
  return storyPanelsFigure(panels, { title, xTitle: 'reFT iteration (0 drawn at 0.5)', yTitle, logX: true });
}

/** Deletion curves of one metric; panels LR S and LR M. */
export function deletionFigure(reft: TinyStoriesReftResults, key: TwistKey, title: string, yTitle: string, scale = 1): Figure {
  const panels = (['S', 'M'] as const).map((lr) => ({
    title: `deletion at η_${lr}`,
    series: reft.deletion.filter((d) => d.lr === lr).map((d) => curveSeries(`${d.protocol} (LR ${lr})`, d.curve, key, scale)),
  }));
  return storyPanelsFigure(panels, { title, xTitle: 'deletion fine-tuning iteration', yTitle });
}

/** Table 1 analog rows: one per reFT source, one column per table step. */
export function table1Rows(reft: TinyStoriesReftResults): Record<string, string | number>[] {
  return reft.table.map((t) => {
    const row: Record<string, string | number> = { protocol: t.label };
    t.steps.forEach((s, i) => (row[`it ${s}`] = t.twistPercent[i]));
    t.steps.forEach((s, i) => (row[`it ${s} (exact judge)`] = t.twistPercentExact[i]));
    return row;
  });
}

/** Every figure of the set, by file name. */
export function tinyStoriesFigures(t: TinyStoriesTable): NamedFigure[] {
  const { reft, probe, preset } = t;
  const wide = { width: 1000, height: 450 };
  return [
    { name: 'fig11_tinystories_probe_twist', figure: probeFigure(probe, 'Twist', `Fig 11 (left): Twist probe accuracy per block (${preset})`), ...wide },
    { name: 'fig11_tinystories_reft_loss', figure: reftFigure(reft, 'loss.twist', `Fig 11 (right): loss on Twist stories during reFT (${preset})`, 'loss on Twist stories'), ...wide },
    { name: 'fig31_tinystories_deletion_loss', figure: deletionFigure(reft, 'loss.twist', `Fig 31: loss on Twist stories during deletion (${preset})`, 'loss on Twist stories'), ...wide },
    { name: 'fig32_tinystories_deletion_twist_rate', figure: deletionFigure(reft, 'twist.rate', `Fig 32: % stories with a Twist during deletion (${preset})`, '% with Twist', 100), ...wide },
    { name: 'fig33_tinystories_reft_adversarial_loss', figure: reftFigure(reft, 'loss.adversarial', `Fig 33: adversarial loss during reFT (${preset})`, 'loss, prompts asking for Twist'), ...wide },
    { name: 'fig34_tinystories_reft_twist_rate', figure: reftFigure(reft, 'twist.rate', `Fig 34: % stories with a Twist during reFT (${preset})`, '% with Twist', 100), ...wide },
    ...(['Twist', 'Foreshadowing', 'MoralValue', 'BadEnding'] as const).map((f, i) => ({
      name: `fig${35 + i}_tinystories_probe_${f.toLowerCase()}`,
      figure: probeFigure(probe, f, `Fig ${35 + i}: ${f} probe accuracy per block (${preset})`),
      ...wide,
    })),
    ...(probe.structure ? [{ name: 'fig11_tinystories_probe_twist_heldout_realisers', figure: structureProbeFigure(probe.structure, `Fig 11 (left), structure: Twist probe on held-out twist realisers (${preset})`), ...wide }] : []),
  ];
}

/** The pretrained models' evaluation (the CSV keeps the historical column names). */
export function pretrainedRows(t: TinyStoriesTable) {
  return (['present', 'absent'] as const).map((v) => {
    const e = t.reft.pretrained[v];
    return {
      model: v === 'present' ? 'Present in PT' : 'Not in PT',
      lossTwist: e['loss.twist'],
      lossNoTwist: e['loss.no_twist'],
      lossAdversarial: e['loss.adversarial'],
      twistRate: e['twist.rate'],
      twistRateExact: e['twist.rate.exact'],
      twistRateClassifier: e['twist.rate.classifier'],
      twistPercent: Math.round(100 * e['twist.rate']),
    };
  });
}

/** The held-out-realiser Twist probe per model and block, then the words-alone baseline (one row, no block). */
export function structureProbeRows(structure: NonNullable<TinyStoriesProbeResults['structure']>) {
  return [
    ...structure.models.flatMap((m) => m.accuracy.map((a, i) => ({ model: m.label, block: String(i), accuracy: a, testStories: m.testSize }))),
    { model: 'words alone (bag of words)', block: '', accuracy: structure.words.accuracy, testStories: structure.words.testSize },
  ];
}

/** Probe accuracy per model, block and feature. */
export function probeRows(probe: TinyStoriesProbeResults) {
  return probe.models.flatMap((m) =>
    m.layers.map((_, i) => {
      const row: Record<string, string | number> = { model: m.label, block: i };
      m.features.forEach((f, j) => (row[f] = m.accuracy[i][j]));
      return row;
    }),
  );
}
