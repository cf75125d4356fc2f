/** The toy testbed: sorting digits, the engine's end-to-end demo (the `demo-sort` experiment). */
export * from '../tasks/toy/sort';
export { demoModel, demoSort } from './demo';
export type { DemoConfig, DemoResults } from './demo';
