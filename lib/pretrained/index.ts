/**
 * Real pretrained models: HuggingFace checkpoints of the gpt2, gpt_neo, gpt_neox and llama families loaded into
 * wraplab's Transformer (hooks, caches, masks, training all apply) and saved back in HF layout.
 */
export { loadPretrained } from './load';
export type { LoadPretrainedOptions, LoadedModel } from './load';
export { COMPANION_FILES, PretrainedLoadError, PretrainedSaveError, configFromHf, loadCheckpointDir, pretrainedOrigin, readHfConfig, saveFamily, savePretrained } from './checkpoint';
export type { CheckpointOptions, SaveDtype, SaveOptions } from './checkpoint';
export { FAMILIES, PretrainedConfigError, family, familiesFitting } from './families';
export type { Family, FamilyName, HfConfig, TensorRule } from './families';
export { REAL_SHAPES } from './shapes';
export type { RealShape } from './shapes';
export { loadTokenizer, tokenizerFromJson, TokenizerError } from './tokenizer';
export type { PretrainedTokenizer } from './tokenizer';
export { HubError, defaultCacheDir, downloadModel, repoCacheDir } from './hub';
export type { DownloadOptions } from './hub';
export { benchPretrained } from './bench';
export type { PretrainedBenchOptions, PretrainedBenchRow } from './bench';
export { DEMO_CONFIGS, byteLevelTokenizerJson, writeRandomCheckpoint } from './demo';
