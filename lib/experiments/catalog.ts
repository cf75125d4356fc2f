/**
 * Every experiment and stage by id: what the command line, sweep workers and the scheduler look up by name.
 * A plain list (no registration at import time): defining an experiment is adding it here.
 */
import { demoSort } from './demo';
import { type AnyExperiment, UsageError } from './define';
import { PCFG_EXPERIMENTS } from './pcfg/experiments';
import { PCFG_STAGES } from './pcfg/stages';
import type { AnyStageDef } from './stage';
import { TINYSTORIES_EXPERIMENTS } from './tinystories/experiments';
import { tsProbe } from './tinystories/probe';
import { TS_STAGES } from './tinystories/stages';
import { tsStructureProbe } from './tinystories/structureProbe';
import { finetune as tracrFinetune } from './tracr/finetune';
import { prune as tracrPrune } from './tracr/prune';
import { reft as tracrReft } from './tracr/reft';
import { weightScan as tracrWeightScan } from './tracr/scan';
import { TRACR_STAGES } from './tracr/stages';

export const EXPERIMENTS: readonly AnyExperiment[] = [demoSort, ...PCFG_EXPERIMENTS, tracrFinetune, tracrPrune, tracrWeightScan, tracrReft, ...TINYSTORIES_EXPERIMENTS];
export const STAGES: readonly AnyStageDef[] = [...PCFG_STAGES, ...TRACR_STAGES, ...TS_STAGES, tsProbe, tsStructureProbe];

export function listExperiments(): AnyExperiment[] {
  return [...EXPERIMENTS].sort((a, b) => a.id.localeCompare(b.id));
}

export function getExperiment(id: string): AnyExperiment {
  const exp = EXPERIMENTS.find((e) => e.id === id);
  if (!exp) throw new UsageError(`unknown experiment "${id}"; known: ${listExperiments().map((e) => e.id).join(', ')} (see \`wraplab list\`)`);
  return exp;
}

export function getStage(name: string): AnyStageDef {
  const stage = STAGES.find((s) => s.name === name);
  if (!stage) throw new Error(`unknown stage "${name}"; known: ${STAGES.map((s) => s.name).join(', ')}`);
  return stage;
}
