/**
 * Model checkpoints: weights as safetensors, the model config in the file's metadata, so one file is a
 * complete, self-describing model. Loads are checked: a corrupt file or one that does not fit the model
 * fails with a message that names the file and the problem.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { ModelConfig, ResolvedModelConfig, Transformer, resolveModelConfig } from './model';
import { SafeTensor, SafetensorsError, decodeSafetensors, encodeSafetensors } from './safetensors';
import { canonicalJson, writeFileAtomic } from './fsutil';
import { WraplabError } from './errors';

const FORMAT = 'wraplab-model-1';

/** A model file that cannot be used. `damaged` marks a file that is broken (not one of another model): rewriting it fixes it. */
export class CheckpointError extends WraplabError {
  constructor(
    message: string,
    readonly damaged = false,
  ) {
    super(message);
  }
}

/** The fix a damaged file's message ends with unless its caller knows a better one (trainCached retrains it). */
const DAMAGED_FIX = 'delete it and rerun what wrote it';

export function encodeModel(model: Transformer, metadata: Record<string, string> = {}): Buffer {
  const tensors: Record<string, SafeTensor> = {};
  const weights = model.getWeights();
  for (const spec of model.specs) tensors[spec.name] = { dtype: 'F32', shape: spec.shape, data: weights[spec.name] };
  return encodeSafetensors(tensors, { ...metadata, format: FORMAT, config: JSON.stringify(model.config), weights_sha256: weightsDigest(tensors) });
}

/** sha256 over the tensors' names and bytes in name order: catches a file changed or damaged after it was written. */
export function weightsDigest(tensors: Record<string, { data: ArrayBufferView }>): string {
  const h = createHash('sha256');
  for (const name of Object.keys(tensors).sort()) {
    const d = tensors[name].data;
    h.update(name);
    h.update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  }
  return h.digest('hex');
}

/** Names the first tensor holding NaN or ±Inf (a model that cannot have come out of training), or null. */
export function nonFiniteTensor(weights: Record<string, Float32Array>): string | null {
  for (const [name, data] of Object.entries(weights)) {
    let bad = 0;
    for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) bad++;
    if (bad > 0) return `${name} holds ${bad} non-finite value${bad > 1 ? 's' : ''} (NaN/Inf) of ${data.length}`;
  }
  return null;
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
    if (e instanceof SafetensorsError) throw new CheckpointError(`${e.message}; ${DAMAGED_FIX}`, true);
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
  const damaged = `the file is damaged or was changed after wraplab wrote it; ${DAMAGED_FIX}`;
  if (metadata.weights_sha256 && metadata.weights_sha256 !== weightsDigest(tensors)) throw new CheckpointError(`${file}: the weights do not match their checksum: ${damaged}`, true);
  const nonFinite = nonFiniteTensor(weights);
  if (nonFinite) throw new CheckpointError(`${file}: ${nonFinite}: ${damaged}`, true);
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
