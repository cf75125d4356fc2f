/**
 * The TinyStories datasets of the paper's Twist-deletion experiment (spec/tinystories.md §6-8,
 * paper.md §5.3-5.4). All are pure functions of a story list; they never mutate their input.
 *
 *   name            spec                              construction
 *   pretrain        "Present in PT" base model (§6)    every story
 *   pretrainNoTwist "Not in PT" control (§8)           drop Twist stories (same rule as F)
 *   filter (F)      filter-Twist (§6)                  drop Twist stories
 *   filterRandom    filter-adv-Twist (§6), paper F+R   F, then append Twist to every feature list
 *   filterMixMatch  filter-mix-Twist-Foreshadowing     F, then rename Foreshadowing -> Twist
 *   recovery        specialise-Twist / recovery (§7)   only Twist stories
 *   test sets (§10) twist / noTwist / adversarial      held-out Twist stories; held-out stories
 *                                                      without Twist; the adversarial prompts =
 *                                                      F+R applied to held-out stories, so every
 *                                                      prompt asks for a Twist its story lacks
 *
 * The deleted feature is a parameter (default Twist) and so is the "irrelevant" feature of F+MM
 * (default Foreshadowing), as in the authors' tw_fs.sh.
 */
import { Feature, TinyStory, hasFeature } from './types';

export interface DeletionConfig {
  deleted: Feature;
  /** Feature relabelled as the deleted one by F+MM. */
  irrelevant: Feature;
}

export const DEFAULT_DELETION: DeletionConfig = { deleted: 'Twist', irrelevant: 'Foreshadowing' };

function withFeatures(story: TinyStory, features: Feature[]): TinyStory {
  return { ...story, features };
}

/** F: drop every story whose features contain the deleted feature. */
export function filterSet(stories: readonly TinyStory[], deleted: Feature = 'Twist'): TinyStory[] {
  return stories.filter((s) => !hasFeature(s, deleted));
}

/** F+R (authors: filter-adv): F, then the deleted feature is appended to every prompt (p = 1). */
export function filterRandomiseSet(stories: readonly TinyStory[], deleted: Feature = 'Twist'): TinyStory[] {
  return filterSet(stories, deleted).map((s) => withFeatures(s, [...s.features, deleted]));
}

/** F+MM: F, then the irrelevant feature is renamed to the deleted one, in place in the list. */
export function filterMixMatchSet(
  stories: readonly TinyStory[],
  deleted: Feature = 'Twist',
  irrelevant: Feature = 'Foreshadowing',
): TinyStory[] {
  return filterSet(stories, deleted).map((s) =>
    withFeatures(s, s.features.map((f) => (f === irrelevant ? deleted : f))));
}

/** reFT data: only the stories that have the feature. */
export function recoverySet(stories: readonly TinyStory[], feature: Feature = 'Twist'): TinyStory[] {
  return stories.filter((s) => hasFeature(s, feature));
}

export interface StorySplits {
  /** Held out for evaluation (the authors' shard 0). */
  test: TinyStory[];
  /** Pretraining part of the train stories (first 80% with split_shards_pretrain). */
  pretrain: TinyStory[];
  /** Fine-tuning part (deletion and recovery sets are built from it). */
  finetune: TinyStory[];
}

export interface SplitConfig {
  testFraction: number;
  /** Fraction of the non-test stories used for pretraining; the rest is for fine-tuning. */
  pretrainFraction: number;
}

export const DEFAULT_SPLIT: SplitConfig = { testFraction: 0.02, pretrainFraction: 0.8 };

/**
 * Contiguous split, like the authors' shards: the first testFraction of the list is the test split,
 * then pretrain, then fine-tune. Generated and loaded stories are already in random order.
 */
export function splitStories(stories: readonly TinyStory[], config: Partial<SplitConfig> = {}): StorySplits {
  const { testFraction, pretrainFraction } = { ...DEFAULT_SPLIT, ...config };
  if (!(testFraction >= 0 && testFraction < 1) || !(pretrainFraction > 0 && pretrainFraction <= 1)) {
    throw new Error(`bad split fractions: test ${testFraction}, pretrain ${pretrainFraction}`);
  }
  const nTest = Math.round(stories.length * testFraction);
  const rest = stories.slice(nTest);
  const nPre = Math.round(rest.length * pretrainFraction);
  return { test: stories.slice(0, nTest), pretrain: rest.slice(0, nPre), finetune: rest.slice(nPre) };
}

export interface TinyStoriesDatasets {
  /** "Present in PT": pretraining set with every feature. */
  pretrain: TinyStory[];
  /** "Not in PT": pretraining set without the deleted feature (control model). */
  pretrainNoTwist: TinyStory[];
  /** Deletion fine-tuning sets. */
  filter: TinyStory[];
  filterRandomise: TinyStory[];
  filterMixMatch: TinyStory[];
  /** Recovery (reFT) fine-tuning set. */
  recovery: TinyStory[];
  test: {
    /** Held-out stories with the feature: Task Loss. */
    twist: TinyStory[];
    /** Held-out stories without it: Complement Task Loss. */
    noTwist: TinyStory[];
    /** Held-out prompts that ask for the feature (F+R construction): generation score, adversarial loss. */
    adversarial: TinyStory[];
  };
}

/** All datasets from one story list: pretraining from `pretrain`, fine-tuning from `finetune`. */
export function buildDatasets(
  stories: readonly TinyStory[],
  split: Partial<SplitConfig> = {},
  deletion: DeletionConfig = DEFAULT_DELETION,
): TinyStoriesDatasets {
  const { test, pretrain, finetune } = splitStories(stories, split);
  const { deleted, irrelevant } = deletion;
  return {
    pretrain,
    pretrainNoTwist: filterSet(pretrain, deleted),
    filter: filterSet(finetune, deleted),
    filterRandomise: filterRandomiseSet(finetune, deleted),
    filterMixMatch: filterMixMatchSet(finetune, deleted, irrelevant),
    recovery: recoverySet(finetune, deleted),
    test: {
      twist: recoverySet(test, deleted),
      noTwist: filterSet(test, deleted),
      adversarial: filterRandomiseSet(test, deleted),
    },
  };
}
