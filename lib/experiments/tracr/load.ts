/** `tracr.load`: a compiled, fine-tuned or reverse-fine-tuned Tracr model in one call. */
import type { Transformer } from '../../engine/model';
import { initBackend } from '../../engine/backend';
import { parsePreset, type Preset } from '../define';
import { loadStageModel, type LoadedModel } from '../load';
import { checkSeed, resolveConfig } from '../run';
import { stageNode } from '../stage';
import { makeTracrTask, type TracrProgramName, type TracrTask } from './data';
import { TRACR_LR_ROLES, finetune, finetuneStageOf } from './finetune';
import { reft as reftExperiment } from './reft';
import { compiledModel, finetuneNode, tracrReverseFinetune, type TracrStageSummary } from './stages';

type LrRole = 'L' | 'M' | 'S' | 'VS';

export interface TracrModelSpec {
  program: TracrProgramName;
  /** Fine-tuning LR: a role of the preset (η_S, ...) or a number; without it, the compiled model. */
  lr?: LrRole | number;
  /** C_Tr of the fine-tuning (default 1). */
  cTr?: number;
  /** Reverse fine-tune at this LR. */
  reft?: LrRole | number;
  preset?: Preset | string;
  seed?: number;
}

const lrValue = (preset: Preset, lr: LrRole | number) => (typeof lr === 'number' ? lr : TRACR_LR_ROLES[preset][lr]);

/** The program's task (its compiled model, samplers, labels) at a preset. */
export function task(program: TracrProgramName, preset?: Preset | string): TracrTask {
  return makeTracrTask(program, resolveConfig(finetune, parsePreset(preset)).tasks);
}

/**
 * `await tracr.load({ program: 'counter', lr: 'S', cTr: 1 })`: the Counter fine-tuned at the preset's η_S on
 * C_Tr = 1; without `lr`, the compiled model (no training, no noise).
 */
export async function load(spec: TracrModelSpec): Promise<LoadedModel<TracrStageSummary | null>> {
  const preset = parsePreset(spec.preset);
  const seed = checkSeed(spec.seed ?? 0);
  if (spec.lr === undefined) {
    await initBackend();
    const model: Transformer = compiledModel(task(spec.program, preset).compiled);
    return { model, stage: null as never, config: { program: spec.program, compiled: true } };
  }
  const overrides = { program: spec.program, cTr: spec.cTr ?? 1, ft: { lr: lrValue(preset, spec.lr) } };
  if (spec.reft === undefined) return loadStageModel(finetuneNode(finetuneStageOf(resolveConfig(finetune, preset, overrides)), seed));
  const cfg = resolveConfig(reftExperiment, preset, { ...overrides, reft: { lr: lrValue(preset, spec.reft) } });
  return loadStageModel(stageNode(tracrReverseFinetune, { finetune: finetuneStageOf(cfg), hp: cfg.reft }, seed));
}
