/**
 * The Twist probe that reads structure, not words: a linear Twist probe per block trained on the twists of four
 * realisers and tested on the other two (tasks/tinystories/folds.ts), three folds so every realiser is tested once,
 * on fresh procedural stories no model saw (enough of them that one model's pooled accuracy has SE ~0.01). Its
 * word-level baseline is a bag-of-words classifier on the same folds: what the stories' words alone transfer.
 */
import { trainProbe } from '../../analysis/probe';
import { layerNames } from '../../engine/model';
import { Rng } from '../../engine/rng';
import * as ts from '../../tasks/tinystories';
import { defineStage, stageNode, type StageNode } from '../stage';
import type { TinyStoriesConfig } from './config';
import { freshStories, tinyStoriesData } from './data';
import { probeData } from './probe';
import { type ModelRef, modelNode, pretrainOf } from './stages';

export type StructureProbeSettings = NonNullable<TinyStoriesConfig['structureProbe']>;

export interface StructureFoldAccuracy {
  /** The realisers only the test set has. */
  heldOut: string[];
  trainSize: number;
  testSize: number;
  /** accuracy[layer] on this fold's test set. */
  accuracy: number[];
}

export interface StructureProbeAccuracy {
  /** Probed activation per block: blocks.i.resid_post. */
  layers: string[];
  /** accuracy[layer], pooled over the folds' test sets (balanced: chance is 0.5). */
  accuracy: number[];
  /** Test stories over all folds (the pooled accuracy's binomial n). */
  testSize: number;
  folds: StructureFoldAccuracy[];
}

export interface WordsBaseline {
  /** A bag-of-words (unigram + bigram) logistic classifier's pooled accuracy on the same folds. */
  accuracy: number;
  testSize: number;
  folds: { heldOut: string[]; accuracy: number }[];
}

export interface StructureProbeConfig {
  of: ModelRef;
  probe: StructureProbeSettings;
}

const foldMemo = new Map<string, ts.RealiserFold[]>();

/** The folds of a corpus, seed and pool size (the same stories for every probed model of a seed). */
export function structureFolds(corpus: TinyStoriesConfig['corpus'], seed: number, stories: number): ts.RealiserFold[] {
  const key = JSON.stringify({ corpus, seed, stories });
  let folds = foldMemo.get(key);
  if (!folds) {
    folds = ts.realiserFolds(freshStories(corpus, seed, stories));
    foldMemo.set(key, folds);
  }
  return folds;
}

const pooled = (folds: { testSize: number }[], acc: (i: number) => number) => {
  const n = folds.reduce((a, f) => a + f.testSize, 0);
  return folds.reduce((a, f, i) => a + acc(i) * f.testSize, 0) / n;
};

/** What the words alone transfer to held-out realisers: a bag-of-words classifier trained and tested on each fold. */
export function wordsBaseline(folds: readonly ts.RealiserFold[], seed: number): WordsBaseline {
  const rows = folds.map((f, i) => {
    const judge = new ts.BagOfWordsTwistJudge({ seed: Rng.derive(seed, 'structure-probe-bow', i).int(0, 2 ** 31) });
    judge.train(ts.labelTwist(f.train));
    return { heldOut: f.heldOut, accuracy: ts.judgeAccuracy(judge, ts.labelTwist(f.test)), testSize: f.test.length };
  });
  return { accuracy: pooled(rows, (i) => rows[i].accuracy), testSize: rows.reduce((a, r) => a + r.testSize, 0), folds: rows.map(({ heldOut, accuracy }) => ({ heldOut, accuracy })) };
}

/** The held-out-realiser Twist probes on one frozen model. */
export const tsStructureProbe = defineStage<StructureProbeConfig, StructureProbeAccuracy>({
  name: 'tinystories-structure-probe',
  version: 1,
  parents: (c, seed) => [modelNode(c.of, seed)],
  cost: (c) => c.probe.steps * 3e9,
  async run({ config: c, seed, parents: [parent] }) {
    const pre = pretrainOf(c.of);
    const data = tinyStoriesData(pre.corpus, seed);
    const folds = structureFolds(pre.corpus, seed, c.probe.stories);
    const model = parent.loadModel();
    try {
      const layers = layerNames('resid_post', model.config.nLayers);
      // Each story once: the folds share their training negatives.
      const stories = [...new Set(folds.flatMap((f) => [...f.train, ...f.test]))];
      const row = new Map(stories.map((s, i) => [s, i]));
      const all = probeData(model, stories, data, pre.contextLength, layers);
      const dim = model.config.dModel;
      const nFeat = ts.PROBE_FEATURES.length;
      const twist = ts.PROBE_FEATURES.indexOf('Twist');
      const gather = (set: readonly ts.GeneratedStory[], name: string) => {
        const x = new Float32Array(set.length * dim);
        const y = new Float32Array(set.length);
        set.forEach((s, k) => {
          const r = row.get(s)!;
          x.set(all.features[name].subarray(r * dim, (r + 1) * dim), k * dim);
          y[k] = all.labels[r * nFeat + twist];
        });
        return { x, y };
      };
      const results: StructureFoldAccuracy[] = folds.map((f, fi) => ({
        heldOut: f.heldOut,
        trainSize: f.train.length,
        testSize: f.test.length,
        accuracy: layers.map((name, li) => {
          const r = trainProbe(gather(f.train, name), gather(f.test, name), {
            dim,
            labels: 1,
            steps: c.probe.steps,
            lr: c.probe.lr,
            batchSize: c.probe.batchSize,
            seed: Rng.derive(seed, 'tinystories-structure-probe', fi, li).int(0, 2 ** 31),
          });
          return r.testAccuracyPerLabel![0];
        }),
      }));
      return {
        layers,
        accuracy: layers.map((_, li) => pooled(results, (i) => results[i].accuracy[li])),
        testSize: results.reduce((a, f) => a + f.testSize, 0),
        folds: results,
      };
    } finally {
      model.dispose();
    }
  },
});

export function structureProbeNode(cfg: TinyStoriesConfig, of: ModelRef, seed: number): StageNode<StructureProbeAccuracy> {
  if (!cfg.structureProbe) throw new Error('structureProbeNode: the config has no structureProbe');
  return stageNode(tsStructureProbe, { of, probe: cfg.structureProbe }, seed);
}
