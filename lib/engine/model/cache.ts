/**
 * The activations of one forward pass, by hook name (TransformerLens' ActivationCache): get one, stack a kind over
 * the layers, read the accumulated residual stream or each head's contribution to it.
 *
 *   const { logits, cache } = model.runWithCache(tokens, { names: [actName('pattern', 1)] });
 *   const pattern = cache.toArray('pattern', 1);   // [batch][head][query][key]
 *   cache.dispose(); logits.dispose();
 *
 * The cache owns the activations it holds (dispose() frees them); tensors its helpers compute (stack,
 * accumulatedResid, headResults) are new and belong to the caller.
 */
import * as tf from '@tensorflow/tfjs';
import { type BlockActivationKind, actName, layerNames, paramName } from './names';
import type { Transformer } from './transformer';

/** Which activations runWithCache keeps: a list of names, or a predicate; neither keeps all. */
export interface CacheSelection {
  names?: readonly string[];
  filter?: (name: string) => boolean;
}

export class ActivationCache {
  private tensors: Record<string, tf.Tensor>;

  constructor(
    private readonly model: Transformer,
    tensors: Record<string, tf.Tensor>,
  ) {
    this.tensors = tensors;
  }

  /** Hook names held, in forward order. */
  get names(): string[] {
    return this.model.hookNames().filter((n) => n in this.tensors);
  }

  has(name: string): boolean {
    return name in this.tensors;
  }

  /** An activation by hook name, or by kind and layer: get('blocks.1.attn.pattern') = get('pattern', 1). */
  get(name: string): tf.Tensor;
  get(kind: BlockActivationKind, layer: number): tf.Tensor;
  get(nameOrKind: string, layer?: number): tf.Tensor {
    const name = layer === undefined ? nameOrKind : actName(nameOrKind as BlockActivationKind, layer);
    const t = this.tensors[name];
    if (!t) {
      const held = this.names;
      throw new Error(`ActivationCache: no activation ${name}; held: ${held.length ? held.join(', ') : '(none)'} — add it to runWithCache's names`);
    }
    return t;
  }

  /** An activation as nested arrays (e.g. pattern: [batch][head][query][key]). */
  toArray(name: string): unknown[];
  toArray(kind: BlockActivationKind, layer: number): unknown[];
  toArray(nameOrKind: string, layer?: number): unknown[] {
    return (layer === undefined ? this.get(nameOrKind) : this.get(nameOrKind as BlockActivationKind, layer)).arraySync() as unknown[];
  }

  /** An activation's values, row-major (a copy). */
  data(name: string): Float32Array {
    return this.get(name).dataSync().slice() as Float32Array;
  }

  /** One kind over layers (default: all), stacked on a new leading axis: stack('resid_post') is [L, B, T, dModel]. */
  stack(kind: BlockActivationKind, layers?: readonly number[]): tf.Tensor {
    const names = layerNames(kind, this.model.config.nLayers, layers);
    return tf.stack(names.map((n) => this.get(n)));
  }

  /**
   * The residual stream before each block and after the last: [layers + 1, B, T, dModel] with labels `0_pre`,
   * `1_pre`, …, `final_post` (with `mid`, each block's resid_mid in between). Up to block `layer` when given.
   */
  accumulatedResid(opts: { layer?: number; mid?: boolean } = {}): { resid: tf.Tensor; labels: string[] } {
    const L = this.model.config.nLayers;
    const upTo = opts.layer ?? L;
    const names: string[] = [];
    const labels: string[] = [];
    for (let i = 0; i < upTo; i++) {
      names.push(actName('resid_pre', i));
      labels.push(`${i}_pre`);
      if (opts.mid) {
        names.push(actName('resid_mid', i));
        labels.push(`${i}_mid`);
      }
    }
    if (upTo === L) {
      names.push(actName('resid_post', L - 1));
      labels.push('final_post');
    }
    return { resid: tf.stack(names.map((n) => this.get(n))), labels };
  }

  /**
   * Each head's write into the residual stream at a layer: z_h @ W_O[h] for head h, [B, T, nHeads, dModel]
   * (W_O's bias is not split across heads and is left out). Needs that layer's attn.z.
   */
  headResults(layer: number): tf.Tensor4D {
    const c = this.model.config;
    const z = this.get('z', layer) as tf.Tensor4D; // [B, T, H, dHead]
    const [B, T, H, dh] = z.shape;
    return tf.tidy(() => {
      const zh = tf.transpose(tf.reshape(z, [B * T, H, dh]), [1, 0, 2]); // [H, B*T, dHead]
      const wo = tf.reshape(this.model.param(paramName('W_O', layer)), [H, dh, c.dModel]);
      const out = tf.matMul(zh, wo); // [H, B*T, dModel]
      return tf.reshape(tf.transpose(out, [1, 0, 2]), [B, T, H, c.dModel]) as tf.Tensor4D;
    });
  }

  /** Every head's result over layers: [L * nHeads, B, T, dModel], labels `L0H0`, `L0H1`, … */
  stackHeadResults(layers?: readonly number[]): { results: tf.Tensor; labels: string[] } {
    const ls = layers ?? Array.from({ length: this.model.config.nLayers }, (_, i) => i);
    const H = this.model.config.nHeads;
    const results = tf.tidy(() => tf.concat(ls.map((l) => tf.transpose(this.headResults(l), [2, 0, 1, 3])), 0));
    return { results, labels: ls.flatMap((l) => Array.from({ length: H }, (_, h) => `L${l}H${h}`)) };
  }

  /** Frees every held activation; the cache is empty afterwards. */
  dispose(): void {
    tf.dispose(Object.values(this.tensors));
    this.tensors = {};
  }
}
