/**
 * The PCFG testbed (paper §2, §4): the grammar and its tasks (lib/tasks/pcfg), the experiments (pretrain,
 * fine-tune, prune, probe, reFT, Scr.+FT), their stages and presets, the paper's numbers, and `load` for any model
 * of the grid.
 */
export * from '../../tasks/pcfg';
export { finetune, pretrain, probe, prune, reft, scratchFinetune } from './experiments';
export type { CurveRow, PcfgFinetuneConfig, PcfgFinetuneResults, PcfgPretrainConfig, PcfgPretrainResults, PcfgProbeConfig, PcfgProbeResults, PcfgPruneConfig, PcfgPruneResults, PcfgPruneStep, PcfgReftConfig, PcfgReftResults, PcfgScratchConfig } from './experiments';
export { C_TESTS, C_TRAINS, PCFG_SCALES, PRIOR_NAMES, cellOverrides, lrOf, pretrainSteps, priorOverrides } from './config';
export type { CellSpec, FinetuneStage, LrName, PcfgData, PcfgScale, PretrainStage, ReftStage } from './config';
export { evaluateSets, finetuneEvalSets, pcfgConfig, pretrainEvalSets, pretrainQuestionSampler } from './eval';
export type { PcfgEvalSets } from './eval';
export { finetuneNode, modelStage, newPcfgModel, pcfgFinetune, pcfgPretrain, pcfgReft, pcfgScratchFinetune, reftNode, scratchNode } from './stages';
export type { PcfgStageSummary } from './stages';
export { PAPER_ACC_PT, PAPER_LRS, PAPER_TABLE5, PAPER_TABLE7, PRIOR_PA, paperRow } from './paper';
export type { PaperFinetuneRow } from './paper';
export { load } from './load';
export type { PcfgModelSpec } from './load';
