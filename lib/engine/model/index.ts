/** The transformer: config, names, units, the forward pass, the activation cache, the KV cache, the loss. */
export { GPT_MINI, MLP_ACTIVATIONS, ModelConfigError, ModelConfigSchema, NORM_KINDS, POSITION_KINDS, parameterSpecs, resolveModelConfig, rotaryDim } from './config';
export type { MlpActivation, ModelConfig, ModelConfigInput, NormKind, ParamSpec, PositionKind, ResolvedModelConfig } from './config';
export { BLOCK_ACTIVATIONS, BLOCK_PARAMS, MODEL_ACTIVATIONS, MODEL_PARAMS, actName, activationNames, layerNames, paramName, parseActName } from './names';
export type { ActivationKind, BlockActivationKind, BlockParamKind, ModelActivationKind, ModelParamKind } from './names';
export { Transformer } from './transformer';
export type { ForwardOptions, ForwardResult, PositionSpan, TokensInput } from './transformer';
export { ActivationCache } from './cache';
export type { CacheSelection } from './cache';
export { KVCache } from './kvcache';
export type { Hook } from './pass';
export { activeKernels, fusedKernels, gelu, geluErf, plainKernels } from './kernels';
export type { Kernels } from './kernels';
export { spanCrossEntropy, weightedCrossEntropy } from './loss';
