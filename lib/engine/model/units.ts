/**
 * The model's units, minGPT style: embedding, norm, attention, MLP, block, unembedding. Each holds only its place
 * in the model (layer, parameter names) and does its maths through a ForwardPass, which owns the hook points, the
 * masks and the kernels. Conventions: row vectors, y = x @ W + b; heads side by side in the columns of
 * W_Q/W_K/W_V (head h = columns h*dHead .. (h+1)*dHead-1) and in the rows of W_O.
 */
import * as tf from '@tensorflow/tfjs';
import type { ResolvedModelConfig } from './config';
import { geluErf } from './kernels';
import type { KVCache } from './kvcache';
import { actName, paramName } from './names';
import type { ForwardPass } from './pass';

/** What attention needs to know about the pass besides its input: masking, positions, the cache. */
export interface AttentionEnv {
  /** Additive bias broadcastable to the scores [B, H, n, T] for a window (null = global), or null if nothing is masked. */
  bias(window: number | null): tf.Tensor | null;
  /** Rotary cos/sin tables for this pass's positions, [1 or B, 1, n, rotaryDim]; null without rope. */
  rope: { cos: tf.Tensor; sin: tf.Tensor } | null;
  /** Keys and values of earlier passes (incremental decoding), extended by this one. */
  kv: KVCache | null;
}

export class Embedding {
  /** tokens [B, n] int32; positions: the first column's position when every row shares them, else one id per token. */
  forward(pass: ForwardPass, tokens: tf.Tensor2D, positions: { offset: number } | { ids: Int32Array }): tf.Tensor3D {
    const c = pass.config;
    const [B, n] = tokens.shape;
    let x: tf.Tensor = pass.point(actName('embed'), tf.reshape(tf.gather(pass.W(paramName('W_E')), tf.reshape(tokens, [B * n])), [B, n, c.dModel]));
    if (c.positions === 'learned') {
      const W = pass.W(paramName('W_pos'));
      const pos = 'offset' in positions
        ? tf.reshape(tf.slice(W, [positions.offset, 0], [n, c.dModel]), [1, n, c.dModel])
        : tf.reshape(tf.gather(W, tf.tensor1d(positions.ids, 'int32')), [B, n, c.dModel]);
      x = tf.add(x, pass.point(actName('pos_embed'), pos));
    }
    return pass.dropout(x) as tf.Tensor3D;
  }
}

export class Norm {
  constructor(private readonly prefix: string) {}

  forward(pass: ForwardPass, x: tf.Tensor): tf.Tensor {
    const c = pass.config;
    if (c.norm === 'none') return x;
    const w = pass.W(`${this.prefix}.w`);
    if (c.norm === 'rmsnorm') return pass.kernels.rmsNorm(x, w, c.normEps);
    return pass.kernels.layerNorm(x, w, pass.W(`${this.prefix}.b`), c.normEps);
  }
}

export class Attention {
  constructor(private readonly layer: number) {}

  /** h [B, n, dModel] (the normed residual stream) -> the attention output [B, n, dModel]. */
  forward(pass: ForwardPass, h: tf.Tensor3D, env: AttentionEnv): tf.Tensor3D {
    const c = pass.config;
    const L = this.layer;
    const [B, n] = h.shape;
    const dh = c.dHead;
    // [B, heads, n, dHead]: heads as a batch axis.
    const heads = (m: 'Q' | 'K' | 'V', count: number) => {
      const y = pass.linear(h, paramName(`W_${m}`, L), c.attnBias ? paramName(`b_${m}`, L) : null);
      return tf.transpose(tf.reshape(y, [B, n, count, dh]), [0, 2, 1, 3]) as tf.Tensor4D;
    };
    let q = heads('Q', c.nHeads);
    let k = heads('K', c.nKVHeads);
    if (env.rope) {
      q = rotate(pass, q, env.rope);
      k = rotate(pass, k, env.rope);
    }
    // Unit axes (head, dHead): a mask [heads] or [heads, dHead] switches heads or their dimensions off.
    q = pass.point(actName('q', L), q, [1, 3]);
    k = pass.point(actName('k', L), k, [1, 3]);
    const v = pass.point(actName('v', L), heads('V', c.nKVHeads), [1, 3]);
    let keys = k;
    let values = v;
    if (env.kv) {
      const prev = env.kv.entry(L);
      if (prev) {
        keys = tf.concat([prev.k, k], 2);
        values = tf.concat([prev.v, v], 2);
      }
      env.kv.stage(L, keys, values);
    }
    // One formula on every backend: the query is scaled (n x dHead elements) rather than the scores (n x T).
    let scores: tf.Tensor = tf.matMul(c.attnScale === 1 ? q : tf.mul(q, c.attnScale), repeatKV(keys, c), false, true);
    const bias = env.bias(c.attentionWindows[L]);
    if (bias) scores = tf.add(scores, bias);
    scores = pass.point(actName('scores', L), scores, [1]);
    const pattern = pass.point(actName('pattern', L), tf.softmax(scores), [1]);
    const z = pass.point(actName('z', L), tf.transpose(tf.matMul(pattern, repeatKV(values, c)), [0, 2, 1, 3]), [2, 3]);
    const out = pass.linear(z, paramName('W_O', L), c.attnOutBias ? paramName('b_O', L) : null);
    return pass.point(actName('attn_out', L), pass.dropout(out) as tf.Tensor3D);
  }
}

/** Grouped-query attention: each key/value head serves nHeads / nKVHeads consecutive query heads. */
function repeatKV(x: tf.Tensor4D, c: ResolvedModelConfig): tf.Tensor4D {
  const group = c.nHeads / c.nKVHeads;
  if (group === 1) return x;
  const [B, Hkv, T, dh] = x.shape;
  // Rank 4 throughout: tf.js has no gradient for a rank-5 tile.
  return tf.reshape(tf.tile(tf.reshape(x, [B, Hkv, 1, T * dh]), [1, 1, group, 1]), [B, Hkv * group, T, dh]);
}

/** Rotary embedding on the first rotaryDim dims of each head; the rest pass through. */
function rotate(pass: ForwardPass, x: tf.Tensor4D, tables: { cos: tf.Tensor; sin: tf.Tensor }): tf.Tensor4D {
  const r = tables.cos.shape[3] as number;
  const d = x.shape[3];
  if (r === d) return pass.kernels.rope(x, tables.cos, tables.sin) as tf.Tensor4D;
  const rotated = pass.kernels.rope(tf.slice(x, [0, 0, 0, 0], [-1, -1, -1, r]), tables.cos, tables.sin);
  return tf.concat([rotated, tf.slice(x, [0, 0, 0, r], [-1, -1, -1, d - r])], 3) as tf.Tensor4D;
}

export class Mlp {
  constructor(private readonly layer: number) {}

  forward(pass: ForwardPass, h: tf.Tensor3D): tf.Tensor3D {
    const c = pass.config;
    const L = this.layer;
    const bias = (kind: 'b_in' | 'b_gate' | 'b_out') => (c.mlpBias ? paramName(kind, L) : null);
    const pre = pass.point(actName('mlp_pre', L), pass.linear(h, paramName('W_in', L), bias('b_in')));
    let hidden: tf.Tensor;
    if (c.activation === 'relu') hidden = tf.relu(pre);
    else if (c.activation === 'gelu') hidden = pass.kernels.gelu(pre);
    else if (c.activation === 'gelu_erf') hidden = geluErf(pre);
    else hidden = pass.kernels.swiGlu(pass.linear(h, paramName('W_gate', L), bias('b_gate')), pre); // SiLU(gate) * up
    hidden = pass.point(actName('mlp_hidden', L), hidden);
    const out = pass.linear(hidden, paramName('W_out', L), bias('b_out'));
    return pass.point(actName('mlp_out', L), pass.dropout(out) as tf.Tensor3D);
  }
}

export class Block {
  readonly ln1: Norm;
  readonly attn: Attention;
  readonly ln2: Norm;
  readonly mlp: Mlp;

  constructor(private readonly layer: number) {
    this.ln1 = new Norm(`blocks.${layer}.ln1`); // parameters ln1.w, ln1.b (names.ts: BLOCK_PARAMS)
    this.attn = new Attention(layer);
    this.ln2 = new Norm(`blocks.${layer}.ln2`);
    this.mlp = new Mlp(layer);
  }

  forward(pass: ForwardPass, input: tf.Tensor3D, env: AttentionEnv): tf.Tensor3D {
    const L = this.layer;
    const x = pass.point(actName('resid_pre', L), input);
    const attnOut = this.attn.forward(pass, this.ln1.forward(pass, x) as tf.Tensor3D, env);
    if (pass.config.parallelResidual) {
      const mlpOut = this.mlp.forward(pass, this.ln2.forward(pass, x) as tf.Tensor3D);
      return pass.point(actName('resid_post', L), tf.add(tf.add(x, attnOut), mlpOut));
    }
    const mid = pass.point(actName('resid_mid', L), tf.add(x, attnOut));
    const mlpOut = this.mlp.forward(pass, this.ln2.forward(pass, mid) as tf.Tensor3D);
    return pass.point(actName('resid_post', L), tf.add(mid, mlpOut));
  }
}

export class Unembed {
  readonly lnFinal = new Norm('ln_final');

  forward(pass: ForwardPass, x: tf.Tensor3D): tf.Tensor3D {
    const c = pass.config;
    const normed = pass.point(actName('ln_final'), this.lnFinal.forward(pass, x) as tf.Tensor3D);
    const bias = c.unembedBias ? paramName('b_U') : null;
    const logits = c.tiedEmbeddings ? pass.linear(normed, paramName('W_E'), bias, true) : pass.linear(normed, paramName('W_U'), bias);
    return pass.point(actName('logits'), logits);
  }
}
