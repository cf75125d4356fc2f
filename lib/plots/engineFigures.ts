/** Figures of the engine tour: the demo model's training curve and one attention pattern. */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadModel } from '../engine/checkpoint';
import { Run } from '../engine/runs';
import { Rng } from '../engine/rng';
import { runExperiment } from '../experiments/registry';
import { DemoConfig, DemoResults } from '../experiments/demo';
import { sortBatch, sortVocab } from '../tasks/toy/sort';
import { Figure } from './figure';
import { registerFigures } from './registry';
import { toDataFrame } from './table';

export function lossCurveFigure(metrics: { step: number; [k: string]: number | string }[], title: string): Figure {
  const rows = metrics.filter((r) => typeof r.loss === 'number');
  const evals = metrics.filter((r) => typeof r.tokenAccuracy === 'number');
  return {
    data: [
      { type: 'scatter', mode: 'lines', name: 'train loss', x: rows.map((r) => r.step), y: rows.map((r) => r.loss) },
      { type: 'scatter', mode: 'lines+markers', name: 'eval token accuracy', x: evals.map((r) => r.step), y: evals.map((r) => r.tokenAccuracy), yaxis: 'y2' },
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
export function attentionFigure(pattern: number[][][], labels: string[], title: string): Figure {
  const H = pattern.length;
  const data = pattern.map((p, h) => ({
    type: 'heatmap',
    z: p,
    x: labels.map((l, i) => `${i}:${l}`),
    y: labels.map((l, i) => `${i}:${l}`),
    colorscale: [[0, '#ffffff'], [1, '#08306b']],
    zmin: 0,
    zmax: 1,
    showscale: h === H - 1,
    xaxis: `x${h + 1}`,
    yaxis: `y${h + 1}`,
  }));
  const layout: Record<string, unknown> = { title: { text: title }, grid: { rows: 1, columns: H, pattern: 'independent' } };
  for (let h = 0; h < H; h++) {
    layout[`xaxis${h + 1}`] = { title: { text: `head ${h} — key` }, tickfont: { size: 8 } };
    layout[`yaxis${h + 1}`] = { autorange: 'reversed', tickfont: { size: 8 }, ...(h === 0 ? { title: { text: 'query' } } : {}) };
  }
  return { data, layout };
}

registerFigures({
  id: 'engine-demo',
  group: 'engine',
  title: 'Demo sort model: training curve and attention',
  async build(preset, seed) {
    const out = await runExperiment<DemoResults>('demo-sort', { preset, seed });
    const metrics = Run.at(out.runDir).metrics();
    const cfg = out.config as DemoConfig;
    const { model } = loadModel(path.join(out.runDir, out.results.model));
    const vocab = sortVocab(cfg.task);
    const example = sortBatch(Rng.derive(seed, 'demo', 'figure'), cfg.task, 1);
    const layer = model.config.nLayers - 1;
    const pattern = tf.tidy(() => {
      const { cache } = model.forward(tf.tensor2d(example.tokens, [1, example.contextLength], 'int32'), { cache: [`blocks.${layer}.attn.pattern`] });
      return cache[`blocks.${layer}.attn.pattern`].arraySync() as number[][][][];
    })[0];
    model.dispose();
    const labels = Array.from(example.tokens, (t) => vocab.names[t]);
    return {
      figures: [
        { name: 'engine_demo_loss', figure: lossCurveFigure(metrics, `demo-sort (${preset}): loss and accuracy`) },
        { name: 'engine_demo_attention', figure: attentionFigure(pattern, labels, `demo-sort: layer ${layer} attention`), width: 300 * model.config.nHeads + 100, height: 420 },
      ],
      tables: [
        {
          name: 'engine_demo_results',
          table: toDataFrame([{ preset, seed, steps: out.results.steps, params: out.results.params, tokenAccuracy: out.results.tokenAccuracy, sequenceAccuracy: out.results.sequenceAccuracy, evalLoss: out.results.evalLoss }]),
        },
      ],
    };
  },
});
