/**
 * TinyStories data layer of wraplab: procedural stories with plot-level features, the authors'
 * instruct format, the real-data loader, the deletion/recovery datasets, the word and BPE tokenizers, token
 * batches for LM training and probes, and Twist judges. See docs/tinystories-data.md.
 */
export * from './types';
export type { StoryGeneratorConfig, GeneratedStory } from './generator';
export { DEFAULT_GENERATOR_CONFIG, generateStory, generateStories, sampleFeatures } from './generator';
export * from './format';
export * from './datasets';
export * from './tokenizer';
export * from './bpe';
export * from './tokenizerStats';
export * from './batches';
export * from './judge';
export * from './folds';
export * from './real';
