/**
 * TinyStories probes (spec §9, paper §5.6): the frozen model reads the story alone (instruction lines
 * removed); one linear multi-label probe per block reads the residual stream after that block, averaged
 * over the last 10 story positions, and predicts the six features. Reports test accuracy per block and
 * per feature (logit > 0). A stage of its own per probed model.
 */
import { extractFeatures, trainProbe } from '../../analysis/probe';
import { layerNames, type Transformer } from '../../engine/model';
import { Rng } from '../../engine/rng';
import * as ts from '../../tasks/tinystories';
import { defineStage, stageNode, type StageNode } from '../stage';
import type { TinyStoriesConfig } from './config';
import { requireTwistLabels, tinyStoriesData, type TinyStoriesData } from './data';
import { type ModelRef, modelNode, pretrainOf } from './stages';

export interface ProbeAccuracy {
  /** Probed activation per block: blocks.i.resid_post. */
  layers: string[];
  /** Feature names in label order (PROBE_FEATURES: Twist first). */
  features: string[];
  /** accuracy[layer][feature] on held-out stories. */
  accuracy: number[][];
  /** Share of positives per feature in the test stories (the majority baseline is max(p, 1-p)). */
  positiveRate: number[];
  /** Held-out stories each accuracy is measured on (its binomial interval's n). */
  testSize: number;
}

export interface ProbeConfig {
  of: ModelRef;
  probe: TinyStoriesConfig['probe'];
}

/** Features per block (mean of the last 10 story positions) and multi-hot labels of `stories` on a frozen model. */
export function probeData(model: Transformer, stories: readonly ts.TinyStory[], data: TinyStoriesData, contextLength: number, layers: string[]) {
  const batch = ts.makeProbeBatch(stories, data.tokenizer, contextLength);
  const positions = Array.from({ length: batch.batchSize }, (_, b) => Array.from(batch.lastPositions.subarray(b * batch.lastK, (b + 1) * batch.lastK)));
  // extractFeatures reads tokens only; targets and weights are unused.
  const asBatch = { batchSize: batch.batchSize, contextLength, tokens: batch.tokens, targets: batch.tokens, weights: new Float32Array(batch.tokens.length) };
  // 16 rows at a time: attention scores grow with rows x T^2, and smaller chunks stay in cache.
  return { features: extractFeatures(model, asBatch, positions, layers, 16), labels: batch.labels };
}

/** Linear probes for the story features on one frozen model. */
export const tsProbe = defineStage<ProbeConfig, ProbeAccuracy>({
  name: 'tinystories-probe',
  version: 3,
  parents: (c, seed) => [modelNode(c.of, seed)],
  cost: (c) => c.probe.steps * 1e9,
  async run({ config: c, seed, parents: [parent] }) {
    const pre = pretrainOf(c.of);
    const data = tinyStoriesData(pre.corpus, seed);
    requireTwistLabels(data, 'the feature probes');
    const model = parent.loadModel();
    try {
      const layers = layerNames('resid_post', model.config.nLayers);
      // Probe data: stories with every feature (the authors' pretrain-all), test on the held-out split. The key needs
      // nothing more: these sets and their labels follow from the corpus (in `of`), the seed and this stage's version.
      // A real corpus may mix in unlabelled stories, whose empty feature list is no label: they are left out.
      const labelled = (xs: readonly ts.TinyStory[]) => xs.filter((s) => s.labelled !== false);
      const train = probeData(model, labelled(data.datasets.pretrain).slice(0, c.probe.trainStories), data, pre.contextLength, layers);
      const test = probeData(model, labelled(data.heldOut).slice(0, c.probe.testStories), data, pre.contextLength, layers);
      const nFeat = ts.PROBE_FEATURES.length;
      const accuracy = layers.map((name, i) => {
        const r = trainProbe({ x: train.features[name], y: train.labels }, { x: test.features[name], y: test.labels }, {
          dim: model.config.dModel,
          labels: nFeat,
          steps: c.probe.steps,
          lr: c.probe.lr,
          batchSize: c.probe.batchSize,
          seed: Rng.derive(seed, 'tinystories-probe', i).int(0, 2 ** 31),
        });
        return r.testAccuracyPerLabel!;
      });
      const n = test.labels.length / nFeat;
      const positiveRate = ts.PROBE_FEATURES.map((_, j) => {
        let p = 0;
        for (let i = 0; i < n; i++) p += test.labels[i * nFeat + j];
        return p / n;
      });
      return { layers, features: [...ts.PROBE_FEATURES], accuracy, positiveRate, testSize: n };
    } finally {
      model.dispose();
    }
  },
});

export function probeNode(cfg: TinyStoriesConfig, of: ModelRef, seed: number): StageNode<ProbeAccuracy> {
  return stageNode(tsProbe, { of, probe: cfg.probe }, seed);
}
