/** wraplab: the library behind the CLI, the notebooks and the tests. */
export * from './engine';
export * from './experiments';
export * from './plots';
export * from './notebook';
export * as toy from './tasks/toy/sort';
