/** Sweeps: a grid of configs x seeds, run locally in worker processes or on Slurm, collected from the run cache. */
export * from './spec';
export * from './plan';
export * from './worker';
export * from './pool';
export * from './local';
export * from './grid';
export * from './slurm';
export * from './status';
export * from './collect';
export * from './commands';
