/**
 * Held-out-realiser folds for a Twist probe that must read the twist's structure, not its words. Each of the six
 * twist realisers (realisations.ts) has its own nouns and verbs (a race, a dream, a gift box, ...); what they share
 * is the plot: an expectation is stated, then negated. A probe trained on four realisers and tested on the other two
 * can only succeed through what the six have in common, so its accuracy measures the structure. Non-twist stories
 * fill the other half of every set (Foreshadowing among them: an expectation that is confirmed, the same verbs).
 */
import type { Feature } from './types';
import type { GeneratedStory } from './generator';

/** The realiser pairs held out in turn: every realiser is tested once, never beside a realiser it was trained on. */
export const TWIST_REALISER_FOLDS: readonly (readonly string[])[] = [
  ['twist:sound', 'twist:gift'],
  ['twist:neighbour', 'twist:race'],
  ['twist:dream', 'twist:culprit'],
];

export interface RealiserFold {
  /** The realisers whose twists only the test set has. */
  heldOut: string[];
  /** Twists of the other realisers and as many stories without the feature. */
  train: GeneratedStory[];
  /** Twists of the held-out realisers and as many stories without the feature (a 50% chance level). */
  test: GeneratedStory[];
}

/**
 * Splits a pool of generated stories into folds. Even-indexed stories feed the training sets, odd-indexed ones the
 * test sets, so no story is on both sides; each fold's test negatives are their own slice of the odd stories, so
 * the pooled test sets are independent. Both sides are balanced, so chance is 50% whatever the feature's rate.
 */
export function realiserFolds(pool: readonly GeneratedStory[], folds: readonly (readonly string[])[] = TWIST_REALISER_FOLDS, feature: Feature = 'Twist'): RealiserFold[] {
  const trainSide = pool.filter((_, i) => i % 2 === 0);
  const testSide = pool.filter((_, i) => i % 2 === 1);
  const has = (s: GeneratedStory) => s.features.includes(feature);
  const realiser = (s: GeneratedStory) => s.realisations[feature];
  const trainNeg = trainSide.filter((s) => !has(s));
  const testNeg = testSide.filter((s) => !has(s));
  let negUsed = 0;
  return folds.map((heldOut) => {
    const held = new Set(heldOut);
    const trainPos = trainSide.filter((s) => has(s) && !held.has(realiser(s)!));
    const testPos = testSide.filter((s) => has(s) && held.has(realiser(s)!));
    const testNegFold = testNeg.slice(negUsed, negUsed + testPos.length);
    const trainNegFold = trainNeg.slice(0, trainPos.length);
    if (testPos.length === 0 || trainPos.length === 0 || testNegFold.length < testPos.length || trainNegFold.length < trainPos.length) {
      throw new Error(
        `realiserFolds: ${pool.length} stories are too few for the fold holding out ${heldOut.join(', ')} ` +
          `(${trainPos.length} training and ${testPos.length} test twists, ${trainNeg.length} / ${testNeg.length - negUsed} stories without ${feature} left); give the probe more stories`,
      );
    }
    negUsed += testPos.length;
    return { heldOut: [...heldOut], train: interleave(trainPos, trainNegFold), test: interleave(testPos, testNegFold) };
  });
}

/** a0 b0 a1 b1 ...: the two classes alternate, so any prefix stays balanced. */
function interleave<T>(a: readonly T[], b: readonly T[]): T[] {
  const out: T[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (i < a.length) out.push(a[i]);
    if (i < b.length) out.push(b[i]);
  }
  return out;
}
