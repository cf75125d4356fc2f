/** The engine tour's study: the demo model's training curve and one attention pattern of its last layer. */
import { loadModel } from '../engine/checkpoint';
import type { MetricRow } from '../engine/metrics';
import { actName } from '../engine/model';
import { Rng } from '../engine/rng';
import { Run } from '../engine/runs';
import { demoSort, type DemoConfig, type DemoResults } from '../experiments/demo';
import type { Preset } from '../experiments/define';
import { spec } from '../experiments/run';
import { sortBatch, sortVocab } from '../tasks/toy/sort';
import { defineStudy } from './study';

export interface DemoTable {
  preset: Preset;
  seed: number;
  config: DemoConfig;
  results: DemoResults;
  metrics: MetricRow[];
  /** The last layer's attention ([head][query][key]) on one sorted example, and its token labels. */
  attention: { layer: number; pattern: number[][][]; labels: string[]; nHeads: number };
}

export const demoStudy = defineStudy({
  id: 'engine-demo',
  title: 'Demo sort model: training curve and attention',
  plan: () => ({ demo: spec(demoSort) }),
  table: ({ demo }, { preset, seed }): DemoTable => {
    const { model } = loadModel(`${demo.runDir}/${demo.results.model}`);
    try {
      const example = sortBatch(Rng.derive(seed, 'demo', 'figure'), demo.config.task, 1);
      const layer = model.config.nLayers - 1;
      const name = actName('pattern', layer);
      const { logits, cache } = model.runWithCache([Array.from(example.tokens)], { names: [name] });
      const pattern = (cache.toArray(name) as number[][][][])[0];
      cache.dispose();
      logits.dispose();
      const labels = Array.from(example.tokens, (t) => sortVocab(demo.config.task).names[t]);
      return { preset, seed, config: demo.config, results: demo.results, metrics: Run.at(demo.runDir).metrics(), attention: { layer, pattern, labels, nHeads: model.config.nHeads } };
    } finally {
      model.dispose();
    }
  },
});
