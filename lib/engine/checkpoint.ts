/**
 * Model checkpoints: weights as safetensors, the model config in the file's metadata, so one file is a
 * complete, self-describing model. Loads are checked: a corrupt file or one that does not fit the model
 * fails with a message that names the file and the problem.
 */
import * as fs from 'node:fs';
import { ModelConfig, ResolvedModelConfig, Transformer, resolveModelConfig } from './model';
import { SafeTensor, SafetensorsError, decodeSafetensors, encodeSafetensors } from './safetensors';
import { canonicalJson, writeFileAtomic } from './fsutil';

const FORMAT = 'wraplab-model-1';

export class CheckpointError extends Error {}

export function encodeModel(model: Transformer, metadata: Record<string, string> = {}): Buffer {
  const tensors: Record<string, SafeTensor> = {};
  const weights = model.getWeights();
  for (const spec of model.specs) tensors[spec.name] = { dtype: 'F32', shape: spec.shape, data: weights[spec.name] };
  return encodeSafetensors(tensors, { ...metadata, format: FORMAT, config: JSON.stringify(model.config) });
}

export function saveModel(model: Transformer, file: string, metadata: Record<string, string> = {}): void {
  writeFileAtomic(file, encodeModel(model, metadata));
}

interface DecodedModel {
  config: ResolvedModelConfig;
  weights: Record<string, Float32Array>;
  metadata: Record<string, string>;
}

export function readModelFile(file: string): DecodedModel {
  if (!fs.existsSync(file)) throw new CheckpointError(`checkpoint ${file} does not exist`);
  let decoded;
  try {
    decoded = decodeSafetensors(fs.readFileSync(file), file);
  } catch (e) {
    if (e instanceof SafetensorsError) throw new CheckpointError(`${e.message}; delete it (or its run directory) and rerun`);
    throw e;
  }
  const { tensors, metadata } = decoded;
  if (metadata.format !== FORMAT || !metadata.config) {
    throw new CheckpointError(`${file} is a safetensors file but not a wraplab model checkpoint (no ${FORMAT} metadata)`);
  }
  let config: ResolvedModelConfig;
  try {
    config = resolveModelConfig(JSON.parse(metadata.config) as ModelConfig);
  } catch (e) {
    throw new CheckpointError(`${file}: invalid model config in metadata: ${(e as Error).message}`);
  }
  const weights: Record<string, Float32Array> = {};
  for (const [name, t] of Object.entries(tensors)) weights[name] = t.data as Float32Array;
  return { config, weights, metadata };
}

/** Loads a checkpoint into a new model. */
export function loadModel(file: string): { model: Transformer; metadata: Record<string, string> } {
  const { config, weights, metadata } = readModelFile(file);
  const model = new Transformer(config, 0);
  try {
    model.setWeights(weights, { strict: true });
  } catch (e) {
    model.dispose();
    throw new CheckpointError(`${file}: ${(e as Error).message}`);
  }
  return { model, metadata };
}

/** Loads a checkpoint's weights into an existing model; the configs must match exactly. */
export function loadWeightsInto(model: Transformer, file: string): Record<string, string> {
  const { config, weights, metadata } = readModelFile(file);
  const mine = canonicalJson(model.config);
  if (canonicalJson(config) !== mine) {
    throw new CheckpointError(`${file} holds a model with config ${canonicalJson(config)}, but the model expects ${mine}`);
  }
  try {
    model.setWeights(weights, { strict: true });
  } catch (e) {
    throw new CheckpointError(`${file}: ${(e as Error).message}`);
  }
  return metadata;
}
