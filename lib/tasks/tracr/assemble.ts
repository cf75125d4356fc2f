/**
 * Stage 5: named blocks -> the engine's weight tensors (lib/engine/model naming, row vectors y = x @ W).
 *
 * - Embeddings: token t writes `tokens:t` and `one`; position p >= 1 writes `indices:p-1`; position 0 (BOS)
 *   writes nothing, so RASP indices start at the first real token.
 * - A head with score form W_QK [query x key] and value map W_OV [value x out] becomes
 *   W_Q = P_query W_QK * sqrt(dHead), W_K = P_key, W_V = P_value W_OV, W_O = P_out^T (P = the residual
 *   coordinates of a space). The sqrt(dHead) cancels the engine's 1/sqrt(dHead) score scale, so the
 *   softmax coldness is exactly the compiler's (Tracr leaves it at c/sqrt(key_size)).
 * - MLPs of one layer sit side by side in W_in/W_out. Unused heads, head coordinates and hidden units
 *   stay zero (padding); all biases are zero.
 * - Unembedding: projection onto the output S-Op's directions (logit i = value i).
 */
import type { ModelConfig } from '../../engine/model';
import { paramName } from '../../engine/model/names';
import { AttentionBlock, MlpBlock } from './blocks';
import { ResidualLayout } from './layout';

export interface LayerBlocks {
  heads: AttentionBlock[];
  mlps: MlpBlock[];
}

/** Smallest shared sizes: heads per layer, coordinates per head, MLP width (at least 1 each). */
export function modelShape(layers: readonly LayerBlocks[]): { nHeads: number; dHead: number; dMlp: number } {
  let nHeads = 1;
  let dHead = 1;
  let dMlp = 1;
  for (const l of layers) {
    nHeads = Math.max(nHeads, l.heads.length);
    for (const h of l.heads) dHead = Math.max(dHead, h.key.size, h.output.size);
    dMlp = Math.max(dMlp, l.mlps.reduce((n, m) => n + m.hidden.size, 0));
  }
  return { nHeads, dHead, dMlp };
}

export interface EmbeddingSpec {
  /** Token of each id (BOS and PAD included), in id order. */
  tokenOfId: readonly (string | number | boolean)[];
  /** The residual direction each token id writes (besides `one`). */
  tokenDim: (id: number) => number;
  oneDim: number;
  /** Residual dim of `indices:i` for i = 0..N-1. */
  indexDim: (i: number) => number;
  /** Residual dims of the output S-Op, one per logit. */
  outputDims: readonly number[];
}

export function assembleWeights(layers: readonly LayerBlocks[], layout: ResidualLayout, emb: EmbeddingSpec, config: Required<ModelConfig>): Record<string, Float32Array> {
  const D = layout.dModel;
  const { nHeads: H, dHead: dh, dMlp, contextLength, vocabSize, outputSize } = config;
  const weights: Record<string, Float32Array> = {};
  const zeros = (name: string, n: number): Float32Array => (weights[name] = new Float32Array(n));

  const WE = zeros(paramName('W_E'), vocabSize * D);
  for (let id = 0; id < vocabSize; id++) {
    WE[id * D + emb.tokenDim(id)] = 1;
    WE[id * D + emb.oneDim] = 1;
  }
  const Wpos = zeros(paramName('W_pos'), contextLength * D);
  for (let p = 1; p < contextLength; p++) Wpos[p * D + emb.indexDim(p - 1)] = 1;

  const scale = Math.sqrt(dh);
  layers.forEach((layer, i) => {
    const WQ = zeros(paramName('W_Q', i), D * H * dh);
    const WK = zeros(paramName('W_K', i), D * H * dh);
    const WV = zeros(paramName('W_V', i), D * H * dh);
    const WO = zeros(paramName('W_O', i), H * dh * D);
    layer.heads.forEach((head, h) => {
      const col = (j: number) => h * dh + j; // column of head h's j-th coordinate
      head.key.dirs.forEach((k, j) => {
        WK[layout.index(k) * H * dh + col(j)] = 1;
        head.query.dirs.forEach((q) => {
          const w = head.W_QK.get(q, k);
          if (w !== 0) WQ[layout.index(q) * H * dh + col(j)] += w * scale;
        });
      });
      head.output.dirs.forEach((o, j) => {
        WO[col(j) * D + layout.index(o)] = 1;
        head.value.dirs.forEach((v) => {
          const w = head.W_OV.get(v, o);
          if (w !== 0) WV[layout.index(v) * H * dh + col(j)] += w;
        });
      });
    });
    const Win = zeros(paramName('W_in', i), D * dMlp);
    const Wout = zeros(paramName('W_out', i), dMlp * D);
    let offset = 0;
    for (const mlp of layer.mlps) {
      mlp.hidden.dirs.forEach((u, j) => {
        mlp.input.dirs.forEach((x) => {
          const w = mlp.W1.get(x, u);
          if (w !== 0) Win[layout.index(x) * dMlp + offset + j] += w;
        });
        mlp.output.dirs.forEach((y) => {
          const w = mlp.W2.get(u, y);
          if (w !== 0) Wout[(offset + j) * D + layout.index(y)] += w;
        });
      });
      offset += mlp.hidden.size;
    }
    if (config.bias) {
      for (const m of ['b_Q', 'b_K', 'b_V'] as const) zeros(paramName(m, i), H * dh);
      zeros(paramName('b_O', i), D);
      zeros(paramName('b_in', i), dMlp);
      zeros(paramName('b_out', i), D);
    }
  });

  const WU = zeros(paramName('W_U'), D * outputSize);
  emb.outputDims.forEach((d, i) => (WU[d * outputSize + i] = 1));
  if (config.bias) zeros(paramName('b_U'), outputSize);
  return weights;
}
