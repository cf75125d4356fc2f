/**
 * The TinyStories testbed (paper §5): procedural stories with plot features, the instruct format, the real-data
 * loader, the word and BPE tokenizers and the Twist judges (lib/tasks/tinystories), the pipeline of stages (pretrain,
 * evaluate, delete, reFT, probe), the experiments, and `load`.
 */
export * from '../../tasks/tinystories';
export { DELETION_LRS, DELETION_PROTOCOLS, TinyStoriesSchema } from './config';
export type { DeletionLr, DeletionProtocol, TinyStoriesConfig } from './config';
export { contextReport, corpusRecord, corpusStories, requireTwistLabels, tokenizerKind, trainStoryTokenizer, storySampler, tinyStoriesData, tinyStoriesModel, trimBatch } from './data';
export type { CorpusRecord, TinyStoriesData } from './data';
export { compareTokenizers } from './tokenizers';
export type { CompareTokenizersOptions, TokenizerComparisonRow } from './tokenizers';
export { TWIST_KEYS, classifierJudge, judgeRecord, makeTwistEvaluator, sampleStories, twistEvaluationOf, twistRateJudge } from './evaluation';
export type { JudgeRecord } from './evaluation';
export type { EvaluationEnv, TwistEvaluation } from './evaluation';
export { deleteConfig, deletionSet, evalNode, modelNode, pretrainConfig, reftConfig, reftLabel, tsDelete, tsEvaluation, tsInit, tsPretrain, tsReft } from './stages';
export type { CurveRow, ModelRef, PretrainVariant, ReftSource, StorySummary } from './stages';
export { probeNode, tsProbe } from './probe';
export type { ProbeAccuracy } from './probe';
export { TINYSTORIES_PRESETS, UNTRAINED_LABEL, probe, reft } from './experiments';
export type { TinyStoriesProbeResults, TinyStoriesReftResults } from './experiments';
export { load } from './load';
export type { TinyStoriesModelSpec } from './load';
