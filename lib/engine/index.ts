/**
 * The engine: backends, the Transformer (units, hook points, activation cache, KV cache), training (optimizers,
 * schedules, the trainer with checkpoints and resume), evaluation, sampling, checkpoints and the run cache.
 */
export { BACKENDS, initBackend, kernelsTag, tf } from './backend';
export { describeNative, nativeChoice, setNativeKernelsEnabled } from './native/provider';
export type { NativeChoice } from './native/provider';
export type { BackendName } from './backend';
export { Rng, deriveSeed } from './rng';
export { makeBatch, packSequences, weightedSpan } from './data';
export type { Batch, BatchSampler } from './data';
export * from './model';
export { accKey, metric, metricsOf } from './metrics';
export type { AccuracyKey, MetricKey, MetricRow, Metrics, PretrainAccuracyKey, Question, TestSplit, TokenKey, TwistKey } from './metrics';
export { Optimizer, OptimizerConfigSchema, ScheduleConfigSchema, learningRate } from './optim';
export type { OptimizerConfig, OptimizerConfigInput, OptimizerStateLocation, ScheduleConfig, ScheduleConfigInput } from './optim';
export { TrainConfigSchema, TrainingHalted, lossAndGrads, train, trainCached, trainStep } from './train';
export { TrainingInterrupted, interruptRequested, requestInterrupt } from './interrupt';
export type { Evaluator, StepOptions, TrainConfig, TrainConfigInput, TrainOptions, TrainResult } from './train';
export { WASM_HEAP_LIMIT, checkTrainingFits, embeddingParamNames, estimateStepBytes, wasmHeapBytes } from './memory';
export type { MemoryReport, StepEstimate, StepShape, TrainMemoryOptions } from './memory';
export { batchLoss, tokenAccuracy } from './evaluate';
export type { TokenAccuracy } from './evaluate';
export { generate, sampleLogits } from './generate';
export type { GenerateOptions } from './generate';
export { CheckpointError, loadModel, loadWeightsInto, readModelFile, saveModel } from './checkpoint';
export { SafetensorsError, decodeSafetensors, encodeSafetensors } from './safetensors';
export type { SafeTensor, SafetensorsFile } from './safetensors';
export { Run, cachedRun, dataDir, hashConfig } from './runs';
export { setFusedOpsEnabled, setWasmOverridesEnabled } from './fused';
