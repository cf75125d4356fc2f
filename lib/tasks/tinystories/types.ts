/**
 * The story record shared by the generator, the real-data loader, the formatter and the datasets.
 * Field meanings follow the TinyStories all-data JSON (spec/tinystories.md §1-2).
 */

/** The six story features, spelled as in the raw JSON metadata. */
export const FEATURES = ['Dialogue', 'Twist', 'BadEnding', 'MoralValue', 'Foreshadowing', 'Conflict'] as const;
export type Feature = (typeof FEATURES)[number];

/**
 * Probe label order (the authors' STORY_FEATURES, spec §2): index j of a 6-way multi-hot label.
 * Note it differs from FEATURES' order.
 */
export const PROBE_FEATURES: readonly Feature[] = [
  'Twist', 'Foreshadowing', 'Dialogue', 'BadEnding', 'MoralValue', 'Conflict',
];

export function isFeature(value: string): value is Feature {
  return (FEATURES as readonly string[]).includes(value);
}

export interface TinyStory {
  /** The story text, stripped; may contain paragraph breaks ("\n\n"). */
  story: string;
  /** Instruction words (three in the real data), each present in the story. */
  words: string[];
  /** The story's features (metadata labels), possibly empty. */
  features: Feature[];
  /** One-sentence summary. */
  summary: string;
  /** One sentence of the story that contains no '"' (the instruct "Sentence:" line). */
  sentence: string;
  /** Where the record came from ("GPT-4", "GPT-3.5", "procedural", ...). */
  source?: string;
  /**
   * false when the record carries no feature labels (plain-text stories, a record without
   * instruction.features): `features` is then empty because nothing is known, not because it has none.
   */
  labelled?: boolean;
}

export function hasFeature(story: TinyStory, feature: Feature): boolean {
  return story.features.includes(feature);
}

/**
 * Sentence splitter used for the "Sentence:" line and by the twist recogniser: a sentence ends at
 * . ! or ? (optionally followed by a closing quote) when whitespace and a capital letter or an
 * opening quote follow. `"Wow!" said Lily.` therefore stays one sentence, and so does
 * `Mr. Brown smiled.` (titles are not sentence ends).
 */
export function splitSentences(text: string): string[] {
  return text
    .split(/(?<=[.!?]["\u201d]?)(?<!\b(?:Mr|Mrs|Ms|Dr|St|Mt)\.)\s+(?=["\u201cA-Z])/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
