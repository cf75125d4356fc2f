/**
 * Studies: each figure's grid of runs, declared, and the typed tables made from them. `runStudy(study)` runs the
 * grid (cached runs are free) and returns the tables; figures (lib/figures) draw them.
 */
export { defineStudy, runStudies, runStudiesOverSeeds, runStudy, specsOf, studyParams, substitute } from './study';
export type { AnyStudy, Resolved, Study, StudyOptions, StudyParams, TableOf } from './study';
export * as pcfg from './pcfg';
export * as tracr from './tracr';
export * as tinystories from './tinystories';
export * as engine from './engine';
export { CLAIMS, claimsMarkdown, measureClaims, type Claim, type ClaimRow } from './claims';
