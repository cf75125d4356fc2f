/**
 * A plain-JS float64 forward pass of the engine's transformer (lib/engine/model contract), for the
 * configurations the compiler emits: norm 'none', ReLU, learned positions, optional causal mask.
 * Independent of TF.js, so it checks the compiler without the engine and the engine against the compiler.
 *
 * One sequence at a time. Activations use the engine's names; arrays are row-major
 * ([T, dModel] for residuals, [H, T, T] for patterns, [T, dMlp] for MLP hidden).
 */
import type { ResolvedModelConfig } from '../../engine/model';
import { actName, paramName } from '../../engine/model/names';

export interface ReferenceResult {
  /** [T, outputSize] */
  logits: Float64Array;
  cache: Record<string, Float64Array>;
}

type Weights = Record<string, ArrayLike<number>>;

export function referenceForward(config: ResolvedModelConfig, weights: Weights, tokenIds: readonly number[]): ReferenceResult {
  const c = config;
  if (c.norm !== 'none' || c.activation !== 'relu' || c.positions !== 'learned') {
    throw new Error('referenceForward supports norm none, relu, learned positions only');
  }
  const T = tokenIds.length;
  if (T > c.contextLength) throw new Error(`referenceForward: ${T} tokens exceed the context ${c.contextLength}`);
  const D = c.dModel;
  const H = c.nHeads;
  const dh = c.dHead;
  const HD = H * dh;
  const w = (name: string): ArrayLike<number> => {
    const v = weights[name];
    if (!v) throw new Error(`referenceForward: missing weight ${name}`);
    return v;
  };
  const cache: Record<string, Float64Array> = {};

  // x [T, D] = W_E[token] + W_pos[t]
  let x = new Float64Array(T * D);
  const WE = w(paramName('W_E'));
  const Wpos = w(paramName('W_pos'));
  for (let t = 0; t < T; t++) {
    const id = tokenIds[t];
    if (!(id >= 0 && id < c.vocabSize)) throw new Error(`referenceForward: token id ${id} out of range`);
    for (let d = 0; d < D; d++) x[t * D + d] = WE[id * D + d] + Wpos[t * D + d];
  }

  for (let i = 0; i < c.nLayers; i++) {
    cache[actName('resid_pre', i)] = x.slice();
    const q = linear(x, T, D, w(paramName('W_Q', i)), HD, c.attnBias ? w(paramName('b_Q', i)) : null);
    const k = linear(x, T, D, w(paramName('W_K', i)), HD, c.attnBias ? w(paramName('b_K', i)) : null);
    const v = linear(x, T, D, w(paramName('W_V', i)), HD, c.attnBias ? w(paramName('b_V', i)) : null);
    const pattern = new Float64Array(H * T * T);
    const z = new Float64Array(T * HD);
    const scale = 1 / Math.sqrt(dh);
    for (let h = 0; h < H; h++) {
      for (let a = 0; a < T; a++) {
        const row = new Float64Array(T).fill(-Infinity);
        const keysUpTo = c.causal ? a : T - 1;
        let max = -Infinity;
        for (let b = 0; b <= keysUpTo; b++) {
          let s = 0;
          for (let j = 0; j < dh; j++) s += q[a * HD + h * dh + j] * k[b * HD + h * dh + j];
          row[b] = s * scale;
          if (row[b] > max) max = row[b];
        }
        let sum = 0;
        for (let b = 0; b <= keysUpTo; b++) sum += row[b] = Math.exp(row[b] - max);
        for (let b = 0; b < T; b++) {
          const pw = b <= keysUpTo ? row[b] / sum : 0;
          pattern[(h * T + a) * T + b] = pw;
          if (pw === 0) continue;
          for (let j = 0; j < dh; j++) z[a * HD + h * dh + j] += pw * v[b * HD + h * dh + j];
        }
      }
    }
    cache[actName('pattern', i)] = pattern;
    const attnOut = linear(z, T, HD, w(paramName('W_O', i)), D, c.attnOutBias ? w(paramName('b_O', i)) : null);
    x = add(x, attnOut);
    cache[actName('resid_mid', i)] = x.slice();
    const hidden = linear(x, T, D, w(paramName('W_in', i)), c.dMlp, c.mlpBias ? w(paramName('b_in', i)) : null).map((h) => Math.max(0, h));
    cache[actName('mlp_hidden', i)] = hidden;
    x = add(x, linear(hidden, T, c.dMlp, w(paramName('W_out', i)), D, c.mlpBias ? w(paramName('b_out', i)) : null));
    cache[actName('resid_post', i)] = x.slice();
  }
  const logits = linear(x, T, D, w(paramName('W_U')), c.outputSize, c.unembedBias ? w(paramName('b_U')) : null);
  return { logits, cache };
}

/** x [T, n] @ W [n, m] (+ b) -> [T, m]; skips zero inputs (compiled activations are sparse). */
function linear(x: Float64Array, T: number, n: number, W: ArrayLike<number>, m: number, b: ArrayLike<number> | null): Float64Array {
  const y = new Float64Array(T * m);
  for (let t = 0; t < T; t++) {
    if (b) for (let j = 0; j < m; j++) y[t * m + j] = b[j];
    for (let i = 0; i < n; i++) {
      const xi = x[t * n + i];
      if (xi === 0) continue;
      for (let j = 0; j < m; j++) y[t * m + j] += xi * W[i * m + j];
    }
  }
  return y;
}

function add(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((v, i) => v + b[i]);
}
