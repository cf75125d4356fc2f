/**
 * The authors' instruct text (spec/tinystories.md §2):
 *
 *   Words: w1, w2, w3          <- these four lines in a random order, drawn again per example
 *   Features: Twist, Dialogue  <- feature.capitalize(): "Badending", "Moralvalue"; may be empty
 *   Summary: ...               <- newlines removed
 *   Sentence: ...              <- newlines removed
 *   Story: <story, stripped; keeps its internal newlines>
 *
 * joined with "\n" and stripped as a whole. Modes: 'full' (training text), 'storyOnly' (the
 * "Story: ..." line alone, for probes, spec §9) and 'prompt' (everything up to "Story:", for
 * generation; see renderPrompt for the trailing space).
 */
import { Rng } from '../../engine/rng';
import { FEATURES, Feature, TinyStory } from './types';

export type InstructMode = 'full' | 'storyOnly' | 'prompt';

export const INSTRUCTION_KEYS = ['Words', 'Features', 'Summary', 'Sentence'] as const;
export type InstructionKey = (typeof INSTRUCTION_KEYS)[number];

/** Python's str.capitalize(): first letter upper, the rest lower ("BadEnding" -> "Badending"). */
export function featureText(feature: Feature): string {
  return feature[0].toUpperCase() + feature.slice(1).toLowerCase();
}

/** Inverse of featureText (case-insensitive); null for an unknown name. */
export function parseFeatureText(text: string): Feature | null {
  const lower = text.trim().toLowerCase();
  return FEATURES.find((f) => f.toLowerCase() === lower) ?? null;
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

function instructionLine(story: TinyStory, key: InstructionKey): string {
  switch (key) {
    case 'Words': return `Words: ${story.words.join(', ')}`;
    case 'Features': return `Features: ${story.features.map(featureText).join(', ')}`;
    case 'Summary': return `Summary: ${oneLine(story.summary)}`;
    case 'Sentence': return `Sentence: ${oneLine(story.sentence)}`;
  }
}

/** A random order of the four instruction lines (the authors shuffle per example). */
export function shuffledKeys(rng: Rng): InstructionKey[] {
  return rng.shuffle([...INSTRUCTION_KEYS]);
}

export interface RenderOptions {
  mode?: InstructMode;
  /** Line order; default a fresh shuffle from `rng`. */
  order?: readonly InstructionKey[];
}

/**
 * Render one example. `rng` draws the instruction-line order (ignored when `order` is given or the
 * mode is 'storyOnly').
 */
export function renderInstruct(story: TinyStory, rng: Rng | null, options: RenderOptions = {}): string {
  const mode = options.mode ?? 'full';
  const storyLine = `Story: ${story.story.trim()}`;
  if (mode === 'storyOnly') return storyLine.trim();
  let order = options.order;
  if (order === undefined) {
    if (rng === null) throw new Error('renderInstruct: give an rng or an explicit line order');
    order = shuffledKeys(rng);
  }
  if (order.length !== 4 || new Set(order).size !== 4) throw new Error(`bad instruction order: ${order.join(',')}`);
  const head = order.map((k) => instructionLine(story, k));
  if (mode === 'prompt') return [...head, 'Story:'].join('\n').trimStart();
  return [...head, storyLine].join('\n').trim();
}

/**
 * The generation prompt: the instruction lines then "Story:". The authors cut the text before the
 * story, at "\nStory: "; we end at "Story:" without the space because our tokenizer attaches a
 * word's leading space to the word (" Once"), so the model's first generated token carries it,
 * exactly as in training.
 */
export function renderPrompt(story: TinyStory, rng: Rng | null, order?: readonly InstructionKey[]): string {
  return renderInstruct(story, rng, { mode: 'prompt', order });
}

export function renderStoryOnly(story: TinyStory): string {
  return renderInstruct(story, null, { mode: 'storyOnly' });
}

export interface ParsedInstruct {
  words: string[];
  features: Feature[];
  /** Feature names that are not one of the six (kept so callers can see them). */
  unknownFeatures: string[];
  summary: string | null;
  sentence: string | null;
  /** The story text after "Story: ", or null for a prompt. */
  story: string | null;
}

/** Parse an instruct text (full, prompt or story-only) back into its parts. */
export function parseInstruct(text: string): ParsedInstruct {
  const out: ParsedInstruct = { words: [], features: [], unknownFeatures: [], summary: null, sentence: null, story: null };
  const storyAt = text.search(/(^|\n)Story:/);
  const head = storyAt < 0 ? text : text.slice(0, storyAt);
  if (storyAt >= 0) {
    const rest = text.slice(storyAt).replace(/^\n?Story:/, '');
    out.story = rest.startsWith(' ') ? rest.slice(1) : rest;
  }
  for (const line of head.split('\n')) {
    const m = /^(Words|Features|Summary|Sentence):\s?(.*)$/.exec(line);
    if (m === null) continue;
    const value = m[2];
    const list = value.split(',').map((x) => x.trim()).filter((x) => x.length > 0);
    if (m[1] === 'Words') out.words = list;
    else if (m[1] === 'Summary') out.summary = value;
    else if (m[1] === 'Sentence') out.sentence = value;
    else for (const f of list) {
      const feature = parseFeatureText(f);
      if (feature === null) out.unknownFeatures.push(f);
      else out.features.push(feature);
    }
  }
  return out;
}
