/** Experiments: typed definitions, presets, overrides, running and caching, stages. Nothing runs at import. */
export { DEFAULT_PRESET, PRESETS, UsageError, defineExperiment, parsePreset, presetsOf } from './define';
export type { AnyExperiment, ConfigInputOf, ConfigOf, DeepPartial, Experiment, ExperimentContext, ExperimentDef, Overrides, Preset, ResultsOf } from './define';
export { deepMerge, flattenOverrides, parseSets, parseValue, setPath, unflattenOverrides } from './overrides';
export { checkSeed, resolveConfig, resolveRun, run, runKey, spec } from './run';
export type { ResolvedRun, RunOptions, RunOutcome, RunSpec } from './run';
export { StageResult, defineStage, ensureStage, stageClosure, stageNode } from './stage';
export type { AnyStageDef, StageContext, StageDef, StageNode } from './stage';
export { EXPERIMENTS, STAGES, getExperiment, getStage, listExperiments } from './catalog';
export { ModelShapeSchema, TrainingSchema } from './schemas';
export type { ModelShape } from './schemas';
