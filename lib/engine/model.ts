/**
 * One decoder-style transformer for all of wraplab's testbeds (PCFG, compiled Tracr, TinyStories).
 *
 * Readability first, in the spirit of minGPT's model.py: a config object, named parameters, one forward.
 * Observability in the spirit of TransformerLens: every intermediate activation passes through a named
 * "hook point" (`blocks.3.attn.pattern`, `blocks.3.mlp.hidden`, ...), where it can be cached, masked or
 * replaced. The same names address probes, pruning masks and attention plots.
 *
 * Conventions: row vectors, y = x @ W + b. Attention heads live side by side in the columns of
 * W_Q/W_K/W_V (head h = columns h*dHead .. (h+1)*dHead-1) and in the rows of W_O.
 */
import * as tf from '@tensorflow/tfjs';
import { fusedLayerNorm, fusedOpsActive, fusedRmsNorm, fusedRope, fusedSwiGlu, fusedWeightedCrossEntropy } from './fused';
import { Rng } from './rng';

export type NormKind = 'layernorm' | 'rmsnorm' | 'none';
export type ActivationKind = 'gelu' | 'relu' | 'swiglu';
export type PositionKind = 'learned' | 'rope' | 'none';

export interface ModelConfig {
  vocabSize: number;
  /** Size of the unembedding (logits); defaults to vocabSize. Tracr programs decode to their own output space. */
  outputSize?: number;
  contextLength: number;
  dModel: number;
  nLayers: number;
  nHeads: number;
  /** Defaults to dModel / nHeads. */
  dHead?: number;
  /** Defaults to 4 * dModel. */
  dMlp?: number;
  norm: NormKind;
  activation: ActivationKind;
  positions: PositionKind;
  causal: boolean;
  bias: boolean;
  dropout: number;
  /** Std of the normal initialisation of matrices and embeddings (minGPT: 0.02). */
  initStd: number;
}

/** minGPT "gpt-mini": 6 layers, 6 heads, width 192 — the paper's PCFG model. */
export const GPT_MINI: ModelConfig = {
  vocabSize: 64,
  contextLength: 256,
  dModel: 192,
  nLayers: 6,
  nHeads: 6,
  norm: 'layernorm',
  activation: 'gelu',
  positions: 'learned',
  causal: true,
  bias: true,
  dropout: 0,
  initStd: 0.02,
};

export type ResolvedModelConfig = Required<ModelConfig>;

export function resolveModelConfig(partial: Partial<ModelConfig> & Pick<ModelConfig, 'vocabSize'>): ResolvedModelConfig {
  const c = { ...GPT_MINI, ...partial };
  const resolved: ResolvedModelConfig = {
    ...c,
    outputSize: c.outputSize ?? c.vocabSize,
    dHead: c.dHead ?? Math.floor(c.dModel / c.nHeads),
    dMlp: c.dMlp ?? 4 * c.dModel,
  };
  validateModelConfig(resolved);
  return resolved;
}

function validateModelConfig(c: ResolvedModelConfig): void {
  const positive = ['vocabSize', 'outputSize', 'contextLength', 'dModel', 'nLayers', 'nHeads', 'dHead', 'dMlp'] as const;
  for (const k of positive) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) throw new Error(`model config: ${k} must be a positive integer, got ${c[k]}`);
  }
  if (!['layernorm', 'rmsnorm', 'none'].includes(c.norm)) throw new Error(`model config: norm must be layernorm|rmsnorm|none, got ${c.norm}`);
  if (!['gelu', 'relu', 'swiglu'].includes(c.activation)) throw new Error(`model config: activation must be gelu|relu|swiglu, got ${c.activation}`);
  if (!['learned', 'rope', 'none'].includes(c.positions)) throw new Error(`model config: positions must be learned|rope|none, got ${c.positions}`);
  if (c.positions === 'rope' && c.dHead % 2 !== 0) throw new Error('model config: rope needs an even dHead');
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new Error(`model config: dropout must be in [0, 1), got ${c.dropout}`);
}

export interface ParamSpec {
  name: string;
  shape: number[];
  init: 'normal' | 'normal_residual' | 'zeros' | 'ones';
  /** AdamW weight decay applies to matrices of linear maps only (minGPT's rule). */
  decay: boolean;
}

/** The full, ordered list of parameters a config implies. */
export function parameterSpecs(c: ResolvedModelConfig): ParamSpec[] {
  const specs: ParamSpec[] = [];
  const add = (name: string, shape: number[], init: ParamSpec['init'], decay = false) => specs.push({ name, shape, init, decay });
  const hd = c.nHeads * c.dHead;
  add('embed.W_E', [c.vocabSize, c.dModel], 'normal');
  if (c.positions === 'learned') add('pos_embed.W_pos', [c.contextLength, c.dModel], 'normal');
  const norm = (prefix: string) => {
    if (c.norm === 'none') return;
    add(`${prefix}.w`, [c.dModel], 'ones');
    if (c.norm === 'layernorm') add(`${prefix}.b`, [c.dModel], 'zeros');
  };
  for (let i = 0; i < c.nLayers; i++) {
    const p = `blocks.${i}`;
    norm(`${p}.ln1`);
    for (const m of ['Q', 'K', 'V']) {
      add(`${p}.attn.W_${m}`, [c.dModel, hd], 'normal', true);
      if (c.bias) add(`${p}.attn.b_${m}`, [hd], 'zeros');
    }
    add(`${p}.attn.W_O`, [hd, c.dModel], 'normal_residual', true);
    if (c.bias) add(`${p}.attn.b_O`, [c.dModel], 'zeros');
    norm(`${p}.ln2`);
    add(`${p}.mlp.W_in`, [c.dModel, c.dMlp], 'normal', true);
    if (c.bias) add(`${p}.mlp.b_in`, [c.dMlp], 'zeros');
    if (c.activation === 'swiglu') {
      add(`${p}.mlp.W_gate`, [c.dModel, c.dMlp], 'normal', true);
      if (c.bias) add(`${p}.mlp.b_gate`, [c.dMlp], 'zeros');
    }
    add(`${p}.mlp.W_out`, [c.dMlp, c.dModel], 'normal_residual', true);
    if (c.bias) add(`${p}.mlp.b_out`, [c.dModel], 'zeros');
  }
  norm('ln_final');
  add('unembed.W_U', [c.dModel, c.outputSize], 'normal', true);
  if (c.bias) add('unembed.b_U', [c.outputSize], 'zeros');
  return specs;
}

/** Every hook-point name a forward pass produces, in order. */
export function activationNames(c: ResolvedModelConfig): string[] {
  const names = ['embed'];
  if (c.positions === 'learned') names.push('pos_embed');
  for (let i = 0; i < c.nLayers; i++) {
    const p = `blocks.${i}`;
    names.push(
      `${p}.resid_pre`,
      `${p}.attn.q`,
      `${p}.attn.k`,
      `${p}.attn.v`,
      `${p}.attn.scores`,
      `${p}.attn.pattern`,
      `${p}.attn.z`,
      `${p}.attn_out`,
      `${p}.resid_mid`,
      `${p}.mlp.pre`,
      `${p}.mlp.hidden`,
      `${p}.mlp_out`,
      `${p}.resid_post`,
    );
  }
  names.push('ln_final.normalized', 'logits');
  return names;
}

/** A function that sees (and may replace) the activation at a hook point. */
export type Hook = (activation: tf.Tensor, name: string) => tf.Tensor;

export interface ForwardOptions {
  /** true: cache every activation; a list or predicate: only those names. */
  cache?: boolean | readonly string[] | ((name: string) => boolean);
  /**
   * Multiplicative masks, by activation name or parameter name.
   * - Activation masks have the activation's unit shape (no batch/position axes): `blocks.i.mlp.hidden` [dMlp]
   *   (neurons), `blocks.i.attn.z` [nHeads] (whole heads) or [nHeads, dHead], residual points [dModel].
   * - Parameter masks have the parameter's shape (single weights) or [rows] for a 2-D parameter (whole rows,
   *   e.g. one input unit's outgoing weights).
   * Masks take part in autodiff, so d loss / d mask scores units for pruning.
   */
  masks?: Record<string, tf.Tensor>;
  hooks?: Record<string, Hook>;
  /** Dropout is active only when training is true and config.dropout > 0. */
  training?: boolean;
  /** Seed for dropout noise (the trainer passes one derived from the run seed and step). */
  dropoutSeed?: number;
  /**
   * Run only blocks 0..stopAtLayer-1 (TransformerLens' stop_at_layer): `logits` is then the residual stream after
   * the last block run, [B, T, dModel], and nothing after it is computed — probes that read early blocks skip the
   * unembedding, by far the largest activation for a big vocabulary.
   */
  stopAtLayer?: number;
  /**
   * Compute the final norm and the unembedding only at positions [start, end) (`logits` is then
   * [B, end - start, outputSize]; the hooks `ln_final.normalized` and `logits` see that range). Every block still runs
   * on all positions. An answer-only loss needs one position's logits: the unembedding and the cross-entropy over
   * the other positions would be work whose gradient is exactly zero. `weightedSpan(batch)` gives the range.
   */
  logitSpan?: PositionSpan;
}

/** A half-open range of sequence positions [start, end). */
export interface PositionSpan {
  start: number;
  end: number;
}

export interface ForwardResult {
  /** [B, T, outputSize] ([B, end - start, outputSize] with logitSpan); with stopAtLayer, the residual stream [B, T, dModel] where the pass stopped. */
  logits: tf.Tensor3D;
  cache: Record<string, tf.Tensor>;
}

export class Transformer {
  readonly config: ResolvedModelConfig;
  readonly specs: ParamSpec[];
  private readonly params = new Map<string, tf.Variable>();
  private readonly constants = new Map<string, tf.Tensor>();

  constructor(config: Partial<ModelConfig> & Pick<ModelConfig, 'vocabSize'>, seed = 0) {
    this.config = resolveModelConfig(config);
    this.specs = parameterSpecs(this.config);
    for (const spec of this.specs) {
      this.params.set(spec.name, tf.variable(tf.tensor(initialValues(spec, this.config, seed), spec.shape), true, `${spec.name}#${nextId++}`));
    }
  }

  /** Parameter variables by name, in spec order (the optimizer's view). */
  parameters(): Map<string, tf.Variable> {
    return this.params;
  }

  param(name: string): tf.Variable {
    const p = this.params.get(name);
    if (!p) throw new Error(`no parameter named ${name}; see model.specs for the names`);
    return p;
  }

  numParams(): number {
    return this.specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
  }

  /** Copies of every weight, by name. */
  getWeights(): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = {};
    for (const [name, v] of this.params) out[name] = v.dataSync() as Float32Array;
    return out;
  }

  /**
   * Writes weights by name (shape-checked). With `strict`, every parameter must be given and no unknown
   * name is allowed; otherwise unknown names are still an error but missing ones keep their values.
   */
  setWeights(weights: Record<string, ArrayLike<number>>, { strict = false } = {}): void {
    for (const name of Object.keys(weights)) {
      if (!this.params.has(name)) throw new Error(`setWeights: unknown parameter ${name}`);
    }
    if (strict) {
      const missing = this.specs.filter((s) => !(s.name in weights)).map((s) => s.name);
      if (missing.length) throw new Error(`setWeights: missing parameters ${missing.join(', ')}`);
    }
    for (const spec of this.specs) {
      const values = weights[spec.name];
      if (values === undefined) continue;
      const size = spec.shape.reduce((a, b) => a * b, 1);
      if (values.length !== size) {
        throw new Error(`setWeights: ${spec.name} needs ${size} values (shape [${spec.shape}]), got ${values.length}`);
      }
      const t = tf.tensor(Float32Array.from(values), spec.shape);
      this.param(spec.name).assign(t);
      t.dispose();
    }
  }

  /** A new model with the same config and a copy of the weights. */
  clone(): Transformer {
    const copy = new Transformer(this.config, 0);
    for (const [name, v] of this.params) copy.param(name).assign(v);
    return copy;
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    for (const t of this.constants.values()) t.dispose();
    this.params.clear();
    this.constants.clear();
  }

  /**
   * Runs the model on int32 tokens [B, T] (T <= contextLength). Returns logits [B, T, outputSize] and the cache
   * of requested activations. Call inside tf.tidy (or dispose the results yourself).
   */
  forward(tokens: tf.Tensor2D, opts: ForwardOptions = {}): ForwardResult {
    const c = this.config;
    const [B, T] = tokens.shape;
    if (T > c.contextLength) throw new Error(`forward: ${T} tokens exceed the context length ${c.contextLength}`);
    if (tokens.dtype !== 'int32') throw new Error('forward: tokens must be an int32 tensor');
    const cache: Record<string, tf.Tensor> = {};
    const wantCache = cachePredicate(opts.cache);
    const masks = opts.masks ?? {};
    for (const name of Object.keys(masks)) this.checkMaskName(name);
    let dropoutCalls = 0;

    /** The hook point: mask, hook, cache — in that order. */
    const point = <R extends tf.Tensor>(name: string, x: R, unitAxes: number[] = [x.rank - 1]): R => {
      let y: tf.Tensor = x;
      const mask = masks[name];
      if (mask) y = tf.mul(y, broadcastUnitMask(mask, y.shape, unitAxes, name));
      const hook = opts.hooks?.[name];
      if (hook) {
        y = hook(y, name);
        if (!arraysEqual(y.shape, x.shape)) throw new Error(`hook ${name} changed the shape [${x.shape}] -> [${y.shape}]`);
      }
      if (wantCache(name)) cache[name] = y;
      return y as R;
    };
    /** A parameter as used in this forward pass: masked if a mask names it. */
    const W = (name: string): tf.Tensor => {
      const p = this.param(name);
      const mask = masks[name];
      if (!mask) return p;
      if (arraysEqual(mask.shape, p.shape)) return tf.mul(p, mask);
      if (p.rank === 2 && mask.rank === 1 && mask.shape[0] === p.shape[0]) return tf.mul(p, tf.reshape(mask, [p.shape[0], 1]));
      throw new Error(`mask for ${name} must have shape [${p.shape}] or [${p.shape[0]}], got [${mask.shape}]`);
    };
    const dropout = (x: tf.Tensor): tf.Tensor => {
      if (!opts.training || c.dropout === 0) return x;
      dropoutCalls++;
      return tf.dropout(x, c.dropout, undefined, (opts.dropoutSeed ?? 0) * 7919 + dropoutCalls);
    };
    /** x [B,T,k] @ W [k,n] (+ b) -> [B,T,n], as one 2-D matmul (the fast path on every backend). */
    const linear = (x: tf.Tensor, wName: string, bName: string | null): tf.Tensor3D => {
      const w = W(wName) as tf.Tensor2D;
      const [nIn, nOut] = w.shape;
      const rows = x.shape[1] as number; // T, or the logit span's length
      let y = tf.matMul(tf.reshape(x, [B * rows, nIn]), w);
      if (bName && c.bias) y = tf.add(y, W(bName));
      return tf.reshape(y, [B, rows, nOut]);
    };
    const norm = (x: tf.Tensor, prefix: string): tf.Tensor => {
      if (c.norm === 'none') return x;
      if (c.norm === 'rmsnorm') {
        if (fusedOpsActive()) return fusedRmsNorm(x, W(`${prefix}.w`), 1e-5);
        const ms = tf.mean(tf.square(x), -1, true);
        return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, 1e-5))), W(`${prefix}.w`));
      }
      if (fusedOpsActive()) return fusedLayerNorm(x, W(`${prefix}.w`), W(`${prefix}.b`), 1e-5);
      const { mean, variance } = tf.moments(x, -1, true);
      const xhat = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5)));
      return tf.add(tf.mul(xhat, W(`${prefix}.w`)), W(`${prefix}.b`));
    };

    // Embeddings.
    const flat = tf.reshape(tokens, [B * T]);
    let x: tf.Tensor = point('embed', tf.reshape(tf.gather(W('embed.W_E'), flat), [B, T, c.dModel]));
    if (c.positions === 'learned') {
      const pos = tf.slice(W('pos_embed.W_pos'), [0, 0], [T, c.dModel]);
      x = tf.add(x, point('pos_embed', tf.reshape(pos, [1, T, c.dModel])));
    }
    x = dropout(x);

    const H = c.nHeads;
    const dh = c.dHead;
    const stop = opts.stopAtLayer;
    if (stop !== undefined && !(Number.isInteger(stop) && stop >= 0 && stop <= c.nLayers)) throw new Error(`forward: stopAtLayer must be an integer in 0..${c.nLayers}, got ${stop}`);
    const ps = opts.logitSpan;
    if (ps && !(Number.isInteger(ps.start) && Number.isInteger(ps.end) && ps.start >= 0 && ps.start < ps.end && ps.end <= T)) throw new Error(`forward: logitSpan must satisfy 0 <= start < end <= ${T}, got [${ps.start}, ${ps.end})`);
    for (let i = 0; i < (stop ?? c.nLayers); i++) {
      const p = `blocks.${i}`;
      x = point(`${p}.resid_pre`, x);

      // Attention: heads as a batch axis, [B, H, T, dHead].
      const h = norm(x, `${p}.ln1`);
      const heads = (m: string) => tf.transpose(tf.reshape(linear(h, `${p}.attn.W_${m}`, `${p}.attn.b_${m}`), [B, T, H, dh]), [0, 2, 1, 3]);
      let q = heads('Q');
      let k = heads('K');
      if (c.positions === 'rope') {
        q = this.rope(q, T);
        k = this.rope(k, T);
      }
      q = point(`${p}.attn.q`, q);
      k = point(`${p}.attn.k`, k);
      const v = point(`${p}.attn.v`, heads('V'));
      // Fused path: scale q ([.., T, dHead]) instead of the scores ([.., T, T]), 20x fewer elements; the same
      // numbers up to float32 rounding, and exactly the same when 1/sqrt(dHead) is a power of two.
      let scores = fusedOpsActive()
        ? tf.matMul(tf.mul(q, 1 / Math.sqrt(dh)), k, false, true)
        : tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(dh));
      if (c.causal) scores = tf.add(scores, this.causalBias(T));
      scores = point(`${p}.attn.scores`, scores, [1]);
      const pattern = point(`${p}.attn.pattern`, tf.softmax(scores), [1]);
      const z = point(`${p}.attn.z`, tf.transpose(tf.matMul(pattern, v), [0, 2, 1, 3]), [2, 3]);
      const attnOut = point(`${p}.attn_out`, dropout(linear(z, `${p}.attn.W_O`, `${p}.attn.b_O`)));
      x = point(`${p}.resid_mid`, tf.add(x, attnOut));

      // MLP.
      const h2 = norm(x, `${p}.ln2`);
      const pre = point(`${p}.mlp.pre`, linear(h2, `${p}.mlp.W_in`, `${p}.mlp.b_in`));
      let hidden: tf.Tensor;
      if (c.activation === 'relu') hidden = tf.relu(pre);
      else if (c.activation === 'gelu') hidden = gelu(pre);
      else {
        const gate = linear(h2, `${p}.mlp.W_gate`, `${p}.mlp.b_gate`);
        hidden = fusedOpsActive() ? fusedSwiGlu(gate, pre) : tf.mul(tf.mul(gate, tf.sigmoid(gate)), pre); // SiLU(gate) * up
      }
      hidden = point(`${p}.mlp.hidden`, hidden);
      const mlpOut = point(`${p}.mlp_out`, dropout(linear(hidden, `${p}.mlp.W_out`, `${p}.mlp.b_out`)));
      x = point(`${p}.resid_post`, tf.add(x, mlpOut));
    }
    if (stop !== undefined) return { logits: x as tf.Tensor3D, cache };
    const span = opts.logitSpan;
    if (span && !(span.start === 0 && span.end === T)) x = tf.slice(x, [0, span.start, 0], [B, span.end - span.start, c.dModel]);
    x = point('ln_final.normalized', norm(x, 'ln_final'));
    const logits = point('logits', linear(x, 'unembed.W_U', 'unembed.b_U'));
    return { logits, cache };
  }

  /**
   * Mean cross-entropy of next-token predictions, weighted per position (see Batch.weights). With
   * `opts.logitSpan`, only that span enters the loss: the caller promises every weight outside it is 0
   * (`weightedSpan`), so the value and the gradients are those of the full loss.
   */
  loss(tokens: tf.Tensor2D, targets: tf.Tensor2D, weights: tf.Tensor2D, opts: ForwardOptions = {}): tf.Scalar {
    return spanCrossEntropy(this.forward(tokens, opts).logits, targets, weights, opts.logitSpan);
  }

  private checkMaskName(name: string): void {
    if (this.params.has(name)) return;
    if (!this.activationNameSet().has(name)) throw new Error(`mask names neither a parameter nor an activation: ${name}`);
  }

  private activationNameSetCache: Set<string> | null = null;
  private activationNameSet(): Set<string> {
    if (!this.activationNameSetCache) this.activationNameSetCache = new Set(activationNames(this.config));
    return this.activationNameSetCache;
  }

  /** [T, T] additive mask: 0 where key <= query, -1e9 above the diagonal. Kept across calls. */
  private causalBias(T: number): tf.Tensor {
    return this.constant(`causal:${T}`, () => {
      const m = new Float32Array(T * T);
      for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) m[i * T + j] = -1e9;
      return tf.tensor2d(m, [T, T]);
    });
  }

  /** Rotary embedding, rotate-half form (GPT-NeoX / Llama): pairs (x_j, x_{j+d/2}) rotate by pos * theta_j. */
  private rope(x: tf.Tensor, T: number): tf.Tensor {
    const d = this.config.dHead;
    const half = d / 2;
    const cos = this.constant(`rope_cos:${T}`, () => ropeTable(T, d, Math.cos));
    const sin = this.constant(`rope_sin:${T}`, () => ropeTable(T, d, Math.sin));
    if (fusedOpsActive()) return fusedRope(x, cos, sin);
    const x1 = tf.slice(x, [0, 0, 0, 0], [-1, -1, -1, half]);
    const x2 = tf.slice(x, [0, 0, 0, half], [-1, -1, -1, half]);
    const rotated = tf.concat([tf.neg(x2), x1], -1);
    return tf.add(tf.mul(x, cos), tf.mul(rotated, sin));
  }

  private constant(key: string, make: () => tf.Tensor): tf.Tensor {
    let t = this.constants.get(key);
    if (!t) {
      t = tf.tidy(() => tf.keep(make()));
      this.constants.set(key, t);
    }
    return t;
  }
}

let nextId = 0;

function ropeTable(T: number, d: number, f: (x: number) => number): tf.Tensor {
  const half = d / 2;
  const table = new Float32Array(T * d);
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < half; j++) {
      const v = f(t * Math.pow(10000, (-2 * j) / d));
      table[t * d + j] = v;
      table[t * d + j + half] = v;
    }
  }
  return tf.tensor4d(table, [1, 1, T, d]);
}

const GELU_A = 0.044715;
const GELU_S = Math.sqrt(2 / Math.PI);

/**
 * GELU, tanh approximation (minGPT's NewGELU, PyTorch's approximate='tanh'):
 * 0.5 x (1 + tanh(u)), u = s (x + a x^3). Computed as the identical x * sigmoid(2u), because
 * 1 + tanh(u) = 2 sigmoid(2u), and on wasm sigmoid is a vectorised XNNPACK kernel while tanh and pow are
 * scalar loops 20-50x slower. The gradient is written out and reuses sigmoid from the forward pass:
 * d/dx = g + x g (1 - g) 2s (1 + 3a x^2), g = sigmoid(2u).
 */
export const gelu = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  const g = tf.sigmoid(tf.mul(x, tf.add(tf.mul(tf.square(x), 2 * GELU_S * GELU_A), 2 * GELU_S)));
  save([x, g]);
  const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
    const [xs, gs] = saved;
    const du = tf.add(tf.mul(tf.square(xs), 6 * GELU_S * GELU_A), 2 * GELU_S); // d(2u)/dx
    const slope = tf.mul(tf.mul(xs, tf.mul(gs, tf.sub(1, gs))), du);
    return tf.mul(dy, tf.add(gs, slope));
  };
  return { value: tf.mul(x, g), gradFunc };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;

/** sum_t w_t * CE(logits_t, target_t) / sum_t w_t. */
/** weightedCrossEntropy of logits computed over `span` only (forward's logitSpan) against full-length targets and weights. */
export function spanCrossEntropy(logits: tf.Tensor3D, targets: tf.Tensor2D, weights: tf.Tensor2D, span?: PositionSpan): tf.Scalar {
  if (!span || logits.shape[1] === targets.shape[1]) return weightedCrossEntropy(logits, targets, weights);
  const [B, n] = [targets.shape[0], span.end - span.start];
  return weightedCrossEntropy(logits, tf.slice(targets, [0, span.start], [B, n]), tf.slice(weights, [0, span.start], [B, n]));
}

export function weightedCrossEntropy(logits: tf.Tensor3D, targets: tf.Tensor2D, weights: tf.Tensor2D): tf.Scalar {
  if (fusedOpsActive()) return fusedWeightedCrossEntropy(logits, targets, weights);
  return tf.tidy(() => {
    const [B, T, V] = logits.shape;
    const logp = tf.logSoftmax(tf.reshape(logits, [B * T, V]));
    const picked = tf.sum(tf.mul(logp, tf.oneHot(tf.reshape(targets, [B * T]), V)), -1);
    const w = tf.reshape(weights, [B * T]);
    return tf.div(tf.neg(tf.sum(tf.mul(picked, w))), tf.maximum(tf.sum(w), 1e-9)) as tf.Scalar;
  });
}

function initialValues(spec: ParamSpec, c: ResolvedModelConfig, seed: number): Float32Array {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(size);
  if (spec.init === 'ones') out.fill(1);
  if (spec.init === 'normal' || spec.init === 'normal_residual') {
    // Each parameter draws from its own stream, so adding a parameter never changes another's init.
    const rng = Rng.derive(seed, 'init', spec.name);
    // minGPT scales the residual projections by 1/sqrt(2 * nLayers).
    const std = spec.init === 'normal' ? c.initStd : c.initStd / Math.sqrt(2 * c.nLayers);
    for (let i = 0; i < size; i++) out[i] = rng.normal() * std;
  }
  return out;
}

function cachePredicate(cache: ForwardOptions['cache']): (name: string) => boolean {
  if (!cache) return () => false;
  if (cache === true) return () => true;
  if (typeof cache === 'function') return cache;
  const set = new Set(cache);
  return (name) => set.has(name);
}

/** Reshapes a unit mask so it broadcasts over an activation whose unit axes are `unitAxes`. */
function broadcastUnitMask(mask: tf.Tensor, shape: number[], unitAxes: number[], name: string): tf.Tensor {
  const unitShape = unitAxes.map((a) => shape[a]);
  const target = shape.map((n, a) => (unitAxes.includes(a) ? n : 1));
  if (arraysEqual(mask.shape, unitShape)) return tf.reshape(mask, target);
  // A mask over the first unit axis only (e.g. whole heads of attn.z [nHeads] of [nHeads, dHead]).
  if (mask.rank === 1 && mask.shape[0] === unitShape[0]) {
    return tf.reshape(mask, shape.map((n, a) => (a === unitAxes[0] ? n : 1)));
  }
  throw new Error(`mask for ${name} must have shape [${unitShape}] (or [${unitShape[0]}]), got [${mask.shape}]`);
}

function arraysEqual(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
