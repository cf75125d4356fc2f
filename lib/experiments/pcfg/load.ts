/** `pcfg.load`: a PCFG model of the paper's grid in one call, trained if the run cache lacks it. */
import type { FinetuneTask, PriorName } from '../../tasks/pcfg';
import { parsePreset, type Preset } from '../define';
import { loadStageModel, type LoadedModel } from '../load';
import { checkSeed, resolveConfig } from '../run';
import { PCFG_SCALES, cellOverrides, lrOf, type LrName } from './config';
import { finetune, reft as reftExperiment } from './experiments';
import { finetuneNode, modelStage, reftNode, type PcfgStageSummary } from './stages';

export interface PcfgModelSpec {
  prior: PriorName;
  /** Fine-tuning LR (η_L / η_M / η_S of the preset); without it, the pretrained model. */
  lr?: LrName;
  /** C_Tr of the fine-tuning (default the preset's, 1). */
  cTr?: number;
  /** Counter (default) or Indexer. */
  task?: FinetuneTask;
  /** Reverse fine-tune the fine-tuned model at this LR. */
  reft?: LrName;
  /** Default $WRAPLAB_PRESET, else laptop. */
  preset?: Preset | string;
  seed?: number;
}

/**
 * A PCFG model: `await pcfg.load({ prior: 'L', lr: 'M', cTr: 1 })` is P^L fine-tuned at η_M on C_Tr = 1 (the
 * shortcut model), `{ prior: 'H' }` the pretrained P^H model, `{ prior: 'L', lr: 'M', reft: 'M' }` its reFT.
 */
export async function load(spec: PcfgModelSpec): Promise<LoadedModel<PcfgStageSummary>> {
  const preset = parsePreset(spec.preset);
  const seed = checkSeed(spec.seed ?? 0);
  const cell = cellOverrides(preset, { prior: spec.prior, lr: spec.lr ?? 'M', cTrain: spec.cTr ?? PCFG_SCALES[preset].finetune.cTrain, task: spec.task });
  const cfg = resolveConfig(finetune, preset, cell);
  if (!spec.lr) {
    if (spec.reft) throw new Error('pcfg.load: reft reverses a fine-tuning; give lr too');
    return loadStageModel(modelStage(cfg.pretrain, null, seed));
  }
  if (!spec.reft) return loadStageModel(finetuneNode(cfg, seed));
  const withReft = resolveConfig(reftExperiment, preset, { ...cell, reft: { ...PCFG_SCALES[preset].reft, lr: lrOf(preset, spec.reft) } });
  return loadStageModel(reftNode(withReft, seed));
}
