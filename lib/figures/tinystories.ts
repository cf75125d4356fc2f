/**
 * TinyStories figures (paper §5), pure functions of the study's table (lib/studies/tinystories.ts): Fig 11 (Twist probe vs block; reFT loss vs iterations), the Table 1
 * analog (% of sampled stories with a Twist during reFT), and the appendix views: Figs 31-34 (losses and
 * Twist rate during deletion and reFT) and Figs 35-38 (probes for Twist, Foreshadowing, MoralValue,
 * BadEnding).
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
  let lo = majority;
  let hi = majority;
  const trace = (label: string): Record<string, unknown> => {
    const m = byLabel.get(label)!;
    const j = m.features.indexOf(feature);
    const y = m.accuracy.map((row) => row[j]);
    const ci = y.map((p) => wilson(Math.round(p * m.testSize), m.testSize));
    for (const c of ci) (lo = Math.min(lo, c.lo)), (hi = Math.max(hi, c.hi));
    const name = label.replace(/ \(LR [SM]\)$/, '');
    return {
      name,
      x: m.layers.map((_, i) => i),
      y,
      error_y: { type: 'data', symmetric: false, array: ci.map((c, i) => c.hi - y[i]), arrayminus: ci.map((c, i) => y[i] - c.lo), thickness: 1, width: 3 },
      line: { color: colourOf(label), dash: label === UNTRAINED_LABEL ? 'dashdot' : label.endsWith('in PT') ? 'dot' : undefined },
      hovertemplate: `block %{x}: %{y:.3f} (95% CI %{customdata})`,
      customdata: ci.map((c) => `${c.lo.toFixed(3)}–${c.hi.toFixed(3)}, n=${m.testSize}`),
    };
  };
  const blocks = first.layers.map((_, i) => i);
  const panels: Panel[] = (['M', 'S'] as const).map((lr) => ({
    title: `deletion at η_${lr}`,
    traces: [
      ...DELETION_PROTOCOLS.map((p) => trace(`${p} (LR ${lr})`)),
      trace('Not in PT'),
      trace('Present in PT'),
      ...(byLabel.has(UNTRAINED_LABEL) ? [trace(UNTRAINED_LABEL)] : []),
      { name: 'majority class', x: blocks, y: blocks.map(() => majority), mode: 'lines', line: { color: '#bbbbbb', dash: 'dash', width: 2 }, hovertemplate: 'majority class %{y:.3f}' },
    ],
  }));
  const pad = 0.01;
  return panelFigure(title, panels, { rows: 1, cols: 2, xTitle: 'block', xDtick: 1, yTitle: `${feature} probe accuracy`, yRange: [Math.max(0, lo - pad), Math.min(1.005, hi + pad)], legendTitle: 'bars: 95% Wilson interval over the held-out stories' });
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
