/** wraplab: the library behind the CLI, the notebooks and the tests. */
export * from './engine';
export * from './experiments';
export * from './plots';
export * from './analysis';
export * from './sweep';
export * from './notebook';
export * as toy from './tasks/toy/sort';
export * as pcfg from './tasks/pcfg';
export * as tracr from './tasks/tracr';
export * as tinystories from './tasks/tinystories';
