/** Loading a stage's trained model in one call (training it, and its parents, if the run cache lacks them). */
import { initBackend } from '../engine/backend';
import type { Transformer } from '../engine/model';
import { ensureStage, type StageNode, type StageResult } from './stage';

export interface LoadedModel<R = unknown> {
  /** The trained model (the caller disposes it). */
  model: Transformer;
  /** Its stage: summary (`stage.results`), metrics, run directory. */
  stage: StageResult<R>;
  /** The stage's config. */
  config: unknown;
}

export async function loadStageModel<R>(node: StageNode<R>): Promise<LoadedModel<R>> {
  await initBackend();
  const stage = await ensureStage(node);
  return { model: stage.loadModel(), stage, config: node.config };
}
