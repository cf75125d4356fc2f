/**
 * The Tracr testbed (paper §3): RASP programs compiled to weights (lib/tasks/tracr), the paper's Counter and
 * Max-identifier tasks, the experiments (fine-tune, prune, a scan of every single weight, reFT vs Scr.+FT), their stages and presets, and `load`.
 */
export * from '../../tasks/tracr';
export { counterTask, makeTracrTask, maxIdentifierTask, taskConfigOf, taskOf, tracrSampler, tracrSamples, tracrTestSets, TRACR_PROGRAMS } from './data';
export type { LabelKind, TracrProgramName, TracrSamples, TracrTask, TracrTaskConfig, TracrTasksConfig } from './data';
export { TRACR_CTRS, TRACR_EVAL_SIZE, TRACR_LR_ROLES, TRACR_LRS, TRACR_TASKS, TRACR_TRAIN, attentionDrift, exampleIds, exampleMaps, finetune, finetuneStageOf } from './finetune';
export type { TracrFinetuneConfig, TracrFinetuneResults } from './finetune';
export { prune, pruneParams } from './prune';
export type { TracrPruneConfig, TracrPruneResults, TracrPruneStep } from './prune';
export { reft } from './reft';
export { weightScan } from './scan';
export type { ScannedWeight, TracrWeightScanConfig, TracrWeightScanResults } from './scan';
export type { TracrReftConfig, TracrReftResults } from './reft';
export { accFromRow, accuracyMetrics, addWeightNoise, capabilityAttention, compiledModel, finetuneNode, mlpHiddenOf, ptFtAccuracy, readoutClasses, tracrAccuracy, tracrFinetune, tracrReverseFinetune, tracrScratchFinetune } from './stages';
export type { TracrAccuracy, TracrStageSummary, TracrTrainConfig } from './stages';
export { load, task } from './load';
export type { TracrModelSpec } from './load';
