/** `tinystories.load`: a model of the TinyStories pipeline in one call, with its tokenizer. */
import * as ts from '../../tasks/tinystories';
import { parsePreset, type Preset } from '../define';
import { loadStageModel, type LoadedModel } from '../load';
import { checkSeed, resolveConfig } from '../run';
import type { DeletionLr, DeletionProtocol } from './config';
import { tinyStoriesData } from './data';
import { reft as reftExperiment } from './experiments';
import { deleteConfig, modelNode, pretrainConfig, reftConfig, type ModelRef, type StorySummary } from './stages';

interface Common {
  preset?: Preset | string;
  seed?: number;
}
export type TinyStoriesModelSpec =
  | ({ model: 'present' } & Common)
  | ({ model: 'absent' } & Common)
  | ({ model: 'deleted'; protocol: DeletionProtocol; lr: DeletionLr } & Common)
  | ({ model: 'reft'; from: 'control' | { protocol: DeletionProtocol; lr: DeletionLr } } & Common);

/**
 * `await tinystories.load({ model: 'present' })` ("Present in PT"), `{ model: 'deleted', protocol: 'F+R', lr: 'M' }`,
 * `{ model: 'reft', from: 'control' }`: the model and the word tokenizer it reads.
 */
export async function load(spec: TinyStoriesModelSpec): Promise<LoadedModel<StorySummary> & { tokenizer: ts.StoryTokenizer }> {
  const preset = parsePreset(spec.preset);
  const seed = checkSeed(spec.seed ?? 0);
  const cfg = resolveConfig(reftExperiment, preset);
  let ref: ModelRef;
  if (spec.model === 'present' || spec.model === 'absent') ref = { stage: 'pretrain', config: pretrainConfig(cfg, spec.model) };
  else if (spec.model === 'deleted') ref = { stage: 'delete', config: deleteConfig(cfg, spec.protocol, spec.lr) };
  else ref = { stage: 'reft', config: reftConfig(cfg, spec.from === 'control' ? { kind: 'control' } : { kind: 'deleted', ...spec.from }) };
  const loaded = await loadStageModel(modelNode(ref, seed));
  return { ...loaded, tokenizer: tinyStoriesData(cfg.corpus, seed).tokenizer };
}
