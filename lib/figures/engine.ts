/** Figures of the engine tour: the demo model's training curve and one attention pattern. */
import type { MetricRow } from '../engine/metrics';
import type { DemoTable } from '../studies/engine';
import type { Figure } from './figure';
import { attentionGrid } from './heatmaps';
import { toDataFrame, type DataFrame } from './table';

export function lossCurveFigure(metrics: readonly MetricRow[], title: string): Figure {
  const rows = metrics.filter((r) => typeof r.loss === 'number');
  const evals = metrics.filter((r) => typeof r['acc.token'] === 'number');
  return {
    data: [
      { type: 'scatter', mode: 'lines', name: 'train loss', x: rows.map((r) => r.step), y: rows.map((r) => r.loss) },
      { type: 'scatter', mode: 'lines+markers', name: 'eval token accuracy', x: evals.map((r) => r.step), y: evals.map((r) => r['acc.token']), yaxis: 'y2' },
    ],
    layout: {
      title: { text: title },
      xaxis: { title: { text: 'step' } },
      yaxis: { title: { text: 'loss' }, type: 'log' },
      yaxis2: { title: { text: 'accuracy' }, overlaying: 'y', side: 'right', range: [0, 1] },
      legend: { x: 0.5, y: 1.1, orientation: 'h' },
    },
  };
}

/** Heat maps of one layer's attention patterns (one panel per head) for one input. */
export const attentionFigure = (pattern: number[][][], labels: string[], title: string): Figure =>
  attentionGrid(pattern.map((p, h) => ({ name: `head ${h}`, pattern: p })), labels, title, { cols: 4 });

export const demoLoss = (t: DemoTable): Figure => lossCurveFigure(t.metrics, `demo-sort (${t.preset}): loss and accuracy`);
export const demoAttention = (t: DemoTable): Figure => attentionFigure(t.attention.pattern, t.attention.labels, `demo-sort: layer ${t.attention.layer} attention`);
export function demoResults(t: DemoTable): DataFrame {
  const r = t.results;
  return toDataFrame([{ preset: t.preset, seed: t.seed, steps: r.steps, params: r.params, tokenAccuracy: r.tokenAccuracy, sequenceAccuracy: r.sequenceAccuracy, evalLoss: r.evalLoss }]);
}
