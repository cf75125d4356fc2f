/**
 * Sampling from a Transformer: batched, seeded, incremental. No model maths here: every step is the model's own
 * forward pass through a KVCache, so masks and hooks given in `forward` act on every sampled token (a pruned or
 * ablated model samples as itself).
 *
 * Prompts of different lengths are left-padded into one batch and the padding is marked as such (masked out of
 * attention, not counted in positions), so a row's continuation does not depend on its neighbours.
 */
import * as tf from '@tensorflow/tfjs';
import { KVCache } from './model/kvcache';
import type { ForwardOptions, Transformer } from './model/transformer';
import { Rng } from './rng';

export interface GenerateOptions {
  /** Most tokens to add per prompt (the longest prompt plus these must fit the context length). */
  maxNewTokens: number;
  /** Softmax temperature; 0 = greedy (argmax). */
  temperature?: number;
  /** Row b samples from Rng.derive(seed, 'generate', b): same seed and prompts, same output. */
  seed: number;
  /** A row stops after sampling this id (e.g. EOS); the id is not included in the output. */
  stopId?: number;
  /** Masks and hooks for every forward pass of the sampling (e.g. a pruned model's masks). */
  forward?: Pick<ForwardOptions, 'masks' | 'hooks'>;
}

/** Samples an index from logits at a temperature (0 = argmax). */
export function sampleLogits(logits: ArrayLike<number>, temperature: number, rng: Rng): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  if (temperature <= 0) return best;
  const weights = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) weights[i] = Math.exp((logits[i] - logits[best]) / temperature);
  return rng.categorical(weights);
}

/** The logits of each row's last column [B * outputSize] after feeding `tokens` [B][n] through the cache. */
function step(model: Transformer, cache: KVCache, tokens: number[][], padding: boolean[][] | undefined, opts: GenerateOptions): Float32Array {
  const n = tokens[0].length;
  const out = tf.tidy(() => model.forward(tokens, { ...opts.forward, kvCache: cache, padding, logitSpan: { start: n - 1, end: n } }).logits);
  const logits = out.dataSync() as Float32Array;
  out.dispose();
  return logits;
}

/**
 * Continues every prompt by sampling up to maxNewTokens tokens (or until stopId). Returns the new
 * tokens of each row (prompt and stop token excluded). Deterministic: same model, prompts and seed,
 * same output.
 */
export function generate(model: Transformer, prompts: readonly (readonly number[])[], opts: GenerateOptions): number[][] {
  const temperature = opts.temperature ?? 1;
  const B = prompts.length;
  if (B === 0) return [];
  if (prompts.some((p) => p.length === 0)) throw new Error('generate: every prompt needs at least one token');
  const P = Math.max(...prompts.map((p) => p.length));
  const room = model.config.contextLength - P;
  const steps = Math.min(opts.maxNewTokens, room);
  if (steps < 0) throw new Error(`generate: a prompt is longer than the context length ${model.config.contextLength}`);
  const rngs = prompts.map((_, b) => Rng.derive(opts.seed, 'generate', b));
  const V = model.config.outputSize;
  const out: number[][] = prompts.map(() => []);
  const done = prompts.map(() => steps === 0);
  // Left padding: the pad columns repeat the row's first token (any id would do: they are masked out).
  const tokens = prompts.map((p) => [...new Array<number>(P - p.length).fill(p[0]), ...p]);
  const padded = prompts.some((p) => p.length < P);
  const padding = padded ? prompts.map((p) => Array.from({ length: P }, (_, t) => t < P - p.length)) : undefined;
  const cache = new KVCache(B);
  try {
    let logits = step(model, cache, tokens, padding, opts);
    for (let s = 0; s < steps; s++) {
      const next = new Array<number>(B);
      for (let b = 0; b < B; b++) {
        // A finished row keeps feeding its stop token (its output is no longer read).
        if (done[b]) {
          next[b] = opts.stopId ?? 0;
          continue;
        }
        const id = sampleLogits(logits.subarray(b * V, (b + 1) * V), temperature, rngs[b]);
        next[b] = id;
        if (id === opts.stopId) done[b] = true;
        else out[b].push(id);
        if (out[b].length >= steps) done[b] = true;
      }
      if (done.every(Boolean)) break;
      logits = step(model, cache, next.map((id) => [id]), undefined, opts);
    }
  } finally {
    cache.dispose();
  }
  return out;
}
