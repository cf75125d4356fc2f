export * from './prune';
export * from './probe';
export * from './curves';
export * from './attention';
export * from './stats';
