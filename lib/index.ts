/**
 * wraplab: the library behind the CLI, the notebooks and the tests, as namespaces. Nothing runs at import:
 * experiments, studies and figure sets are plain definitions until you run them.
 *
 *   import * as wl from 'wraplab';
 *   await wl.engine.initBackend();
 *   const { model } = await wl.pcfg.load({ prior: 'L', lr: 'M', cTr: 1 });
 *   const { logits, cache } = model.runWithCache(tokens, { names: [wl.engine.actName('pattern', 1)] });
 */
export * as engine from './engine';
export * as analysis from './analysis';
export * as experiments from './experiments';
export * as studies from './studies';
export * as figures from './figures';
export * as sweep from './sweep';
export * as notebook from './notebook';
export * as pcfg from './experiments/pcfg';
export * as tracr from './experiments/tracr';
export * as tinystories from './experiments/tinystories';
export * as toy from './experiments/toy';
export * as pretrained from './pretrained';
export * as audit from './audit';
