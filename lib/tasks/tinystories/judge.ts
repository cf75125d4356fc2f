/**
 * Twist judges: decide whether a story has a Twist. The authors used GPT-3.5 (spec §10), which an
 * offline lab cannot; we offer two replacements behind one interface:
 *  - ExactTwistJudge: a recogniser of the generator's twist structure (belief, then a negation of
 *    what was believed). Exact on procedural stories; meaningless on real stories.
 *  - BagOfWordsTwistJudge: a logistic-regression classifier on hashed unigrams+bigrams, trainable on
 *    labelled real (or procedural) stories.
 */
import { WraplabError } from '../../engine/errors';
import { Rng } from '../../engine/rng';
import { splitSentences } from './types';

export interface TwistJudge {
  readonly name: string;
  judge(storyText: string): boolean;
}

export interface LabelledStory {
  text: string;
  twist: boolean;
}

/** Fraction of stories on which the judge agrees with the label. */
export function judgeAccuracy(judge: TwistJudge, data: readonly LabelledStory[]): number {
  if (data.length === 0) throw new Error('judgeAccuracy: no data');
  let right = 0;
  for (const d of data) if (judge.judge(d.text) === d.twist) right++;
  return right / data.length;
}

// ------------------------------------------------------------------------------------ exact judge

/** Verbs that state an expectation (the twist's set-up and the foreshadowing's hint both use them). */
const BELIEF_CUE = /\b(?:thought|was sure|were sure|believed|guessed|expected|was certain)\b/i;
/** A negation and the word it negates, skipping determiners and softeners ("not a big ...", "not ... at all"). */
const NEGATION = /\b(?:not|no|never)\s+((?:(?:a|an|the|really|even|any|just|at|all)\s+)*)([a-z]+)/g;
/** Words too common to carry an expectation's meaning. */
const STOPWORDS = new Set(
  ('a an the it its it\'s is was were be been would will might could can that this there then he she him her his '
    + 'they them their we you i to of in on at for with and or but so because really very one day soon later '
    + 'inside all just had has have do did which who what as by from up out over under about')
    .split(' '),
);

/** Content words of each sentence's expectation: the words after the belief cue. */
function beliefWords(sentence: string): Set<string> | null {
  const m = BELIEF_CUE.exec(sentence);
  if (m === null) return null;
  const after = sentence.slice(m.index + m[0].length);
  const words = (after.match(/[A-Za-z]+/g) ?? [])
    .filter((w) => w[0] === w[0].toLowerCase()) // names are not the believed value
    .map((w) => w.toLowerCase())
    .filter((w) => !STOPWORDS.has(w));
  return new Set(words);
}

/** Words that a sentence negates ("was not a monster" -> monster). "n't" counts as "not". */
export function negatedWords(sentence: string): string[] {
  const s = sentence.toLowerCase().replace(/n't\b/g, ' not');
  const out: string[] = [];
  for (const m of s.matchAll(NEGATION)) out.push(m[2]);
  return out;
}

/**
 * True when some sentence negates a content word of an earlier expectation: the plot set up a
 * belief and then reversed it. Foreshadowing plants the same kind of belief but confirms it, so it
 * does not match.
 */
export function hasTwistStructure(storyText: string): boolean {
  const believed = new Set<string>();
  for (const sentence of splitSentences(storyText)) {
    if (believed.size > 0) for (const w of negatedWords(sentence)) if (believed.has(w)) return true;
    const b = beliefWords(sentence);
    if (b !== null) for (const w of b) believed.add(w);
  }
  return false;
}

export class ExactTwistJudge implements TwistJudge {
  readonly name = 'exact-procedural';
  judge(storyText: string): boolean {
    return hasTwistStructure(storyText);
  }
}

// ----------------------------------------------------------------------- bag-of-words classifier

export interface BagOfWordsConfig {
  /** Hashed feature space size (power of two). */
  dimensions: number;
  epochs: number;
  learningRate: number;
  /** L2 penalty per update (weight decay). */
  l2: number;
  seed: number;
}

export const DEFAULT_BOW_CONFIG: BagOfWordsConfig = {
  dimensions: 1 << 16, epochs: 8, learningRate: 0.2, l2: 1e-6, seed: 0,
};

/** FNV-1a of a feature string into [0, dim). */
function hashFeature(s: string, dim: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) & (dim - 1);
}

/** Unique hashed unigrams and bigrams of lower-cased words (binary bag). */
export function bagOfWords(text: string, dim: number): Int32Array {
  const words = text.toLowerCase().replace(/n't\b/g, ' not').match(/[a-z]+|[.!?"]/g) ?? [];
  const set = new Set<number>();
  for (let i = 0; i < words.length; i++) {
    set.add(hashFeature(words[i], dim));
    if (i > 0) set.add(hashFeature(`${words[i - 1]} ${words[i]}`, dim));
  }
  return Int32Array.from(set);
}

export interface TrainReport {
  epochs: number;
  trainAccuracy: number;
  finalLoss: number;
}

export class BagOfWordsTwistJudge implements TwistJudge {
  readonly name = 'bag-of-words-logistic';
  readonly config: BagOfWordsConfig;
  weights: Float32Array;
  bias = 0;

  constructor(config: Partial<BagOfWordsConfig> = {}) {
    this.config = { ...DEFAULT_BOW_CONFIG, ...config };
    if ((this.config.dimensions & (this.config.dimensions - 1)) !== 0) throw new Error('dimensions must be a power of two');
    this.weights = new Float32Array(this.config.dimensions);
  }

  /** Probability of Twist. */
  probability(text: string): number {
    return this.probabilityOf(bagOfWords(text, this.config.dimensions));
  }

  judge(text: string): boolean {
    return this.probability(text) > 0.5;
  }

  private probabilityOf(features: Int32Array): number {
    let z = this.bias;
    for (const j of features) z += this.weights[j];
    return 1 / (1 + Math.exp(-z));
  }

  /** Plain SGD on the logistic loss, examples in a seeded order each epoch. */
  train(labelled: readonly LabelledStory[]): TrainReport {
    if (labelled.length === 0) throw new Error('train: no data');
    const { epochs, learningRate, l2, dimensions, seed } = this.config;
    const xs = labelled.map((d) => bagOfWords(d.text, dimensions));
    const order = labelled.map((_, i) => i);
    let loss = 0;
    for (let epoch = 0; epoch < epochs; epoch++) {
      Rng.derive(seed, 'bow-judge', epoch).shuffle(order);
      loss = 0;
      const lr = learningRate / Math.sqrt(1 + epoch);
      for (const i of order) {
        const x = xs[i];
        const y = labelled[i].twist ? 1 : 0;
        const p = this.probabilityOf(x);
        loss -= Math.log(y === 1 ? Math.max(p, 1e-12) : Math.max(1 - p, 1e-12));
        // Normalise by the bag size so long stories do not take giant steps.
        const g = ((p - y) * lr) / Math.sqrt(x.length);
        for (const j of x) this.weights[j] -= g + l2 * this.weights[j];
        this.bias -= (p - y) * lr * 0.1;
      }
    }
    let right = 0;
    for (let i = 0; i < xs.length; i++) if ((this.probabilityOf(xs[i]) > 0.5) === labelled[i].twist) right++;
    return { epochs, trainAccuracy: right / xs.length, finalLoss: loss / xs.length };
  }

  toJSON(): { type: string; config: BagOfWordsConfig; bias: number; weights: number[] } {
    return { type: 'wraplab-bow-twist-judge-v1', config: this.config, bias: this.bias, weights: Array.from(this.weights) };
  }

  static fromJSON(json: { type: string; config: BagOfWordsConfig; bias: number; weights: number[] }): BagOfWordsTwistJudge {
    if (json.type !== 'wraplab-bow-twist-judge-v1') throw new Error(`not a bag-of-words judge: ${json.type}`);
    const j = new BagOfWordsTwistJudge(json.config);
    j.bias = json.bias;
    j.weights = Float32Array.from(json.weights);
    return j;
  }
}

/** Stories with their metadata Twist label (the training signal for a classifier judge). */
export function labelTwist(stories: readonly { story: string; features: readonly string[] }[]): LabelledStory[] {
  return stories.map((s) => ({ text: s.story, twist: s.features.includes('Twist') }));
}

export interface ClassifierFit {
  judge: BagOfWordsTwistJudge;
  train: TrainReport & { size: number };
  heldOut: { size: number; accuracy: number; majorityBaseline: number };
}

/**
 * Train a bag-of-words judge on labelled stories, holding out the last heldOutFraction (in the
 * order given) to report accuracy — the real-data stand-in for the paper's 92%-accurate GPT judge.
 */
export function trainTwistClassifier(
  labelled: readonly LabelledStory[],
  heldOutFraction = 0.2,
  config: Partial<BagOfWordsConfig> = {},
): ClassifierFit {
  const nHeld = Math.round(labelled.length * heldOutFraction);
  if (nHeld < 1 || nHeld >= labelled.length) throw new Error(`heldOutFraction ${heldOutFraction} leaves an empty split`);
  const trainSet = labelled.slice(0, labelled.length - nHeld);
  const heldSet = labelled.slice(labelled.length - nHeld);
  // An accuracy without both classes on each side means nothing: refuse rather than report it.
  for (const [name, part] of [['train', trainSet], ['held-out', heldSet]] as const) {
    const twist = part.filter((d) => d.twist).length;
    if (twist === 0 || twist === part.length) {
      throw new WraplabError(`the Twist judge: its ${name} part (${part.length} labelled stories) has ${twist === 0 ? 'no Twist story' : 'only Twist stories'}; a judge needs both classes`);
    }
  }
  const judge = new BagOfWordsTwistJudge(config);
  const report = judge.train(trainSet);
  const positives = heldSet.filter((d) => d.twist).length / heldSet.length;
  return {
    judge,
    train: { ...report, size: trainSet.length },
    heldOut: { size: heldSet.length, accuracy: judgeAccuracy(judge, heldSet), majorityBaseline: Math.max(positives, 1 - positives) },
  };
}
