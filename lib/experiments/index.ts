/** Importing this module registers every experiment. */
export * from './registry';
export * from './demo';
export * from './grid';
export * from './pcfg';
export * from './tracr';
export * from './tinystories';
