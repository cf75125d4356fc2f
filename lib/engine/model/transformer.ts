/**
 * One decoder-style transformer for all of wraplab's testbeds (PCFG, compiled Tracr, TinyStories) and for real
 * checkpoints: a config object, named parameters, small units (units.ts), one forward pass.
 *
 * Observability in the spirit of TransformerLens: every intermediate activation passes through a named hook point
 * (`blocks.3.attn.pattern`, `blocks.3.mlp.hidden`, ...; names.ts), where it can be cached, masked or replaced.
 * The same pass serves training, analysis and sampling: given a KVCache it continues earlier passes (generate.ts),
 * so masks and hooks act on generated text too.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../rng';
import { ActivationCache, type CacheSelection } from './cache';
import { type ModelConfigInput, type ParamSpec, type ResolvedModelConfig, parameterSpecs, resolveModelConfig, rotaryDim } from './config';
import { activeKernels } from './kernels';
import { KVCache } from './kvcache';
import { spanCrossEntropy } from './loss';
import { activationNames } from './names';
import { ForwardPass, type Hook, arraysEqual } from './pass';
import { type AttentionEnv, Block, Embedding, Unembed } from './units';

/** A half-open range of sequence positions [start, end). */
export interface PositionSpan {
  start: number;
  end: number;
}

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
   * the last block run, [B, T, dModel], and nothing after it is computed.
   */
  stopAtLayer?: number;
  /**
   * Compute the final norm and the unembedding only at positions [start, end) (`logits` is then
   * [B, end - start, outputSize]). An answer-only loss needs one position's logits; `weightedSpan(batch)` gives it.
   */
  logitSpan?: PositionSpan;
  /** Continue earlier passes: attend to their keys/values too, and append this pass's (incremental decoding). */
  kvCache?: KVCache;
  /** [B][T]: true marks a padding token (masked out as a key; not counted in its row's positions). */
  padding?: readonly (readonly boolean[])[];
  /**
   * Activation checkpointing (for training big models): each block keeps only its input for the backward pass
   * and recomputes its activations there (one extra forward per block). Same values and gradients; not with
   * `cache` or `kvCache`. Hooks run again in the recomputation.
   */
  checkpointBlocks?: boolean;
}

export interface ForwardResult {
  /** [B, T, outputSize] ([B, end - start, outputSize] with logitSpan); with stopAtLayer, the residual stream. */
  logits: tf.Tensor3D;
  cache: Record<string, tf.Tensor>;
}

/** Token ids as a tensor [B, T] (int32) or as rows of numbers. */
export type TokensInput = tf.Tensor2D | readonly (readonly number[])[];

export class Transformer {
  readonly config: ResolvedModelConfig;
  readonly specs: ParamSpec[];
  readonly embed = new Embedding();
  readonly blocks: Block[];
  readonly unembed = new Unembed();
  private readonly params = new Map<string, tf.Variable>();
  private readonly constants = new Map<string, tf.Tensor>();

  /**
   * `init: 'zeros'` skips the random initialisation (a loader about to overwrite every weight: drawing 124M normals
   * in JS costs seconds and a second copy of the model).
   */
  constructor(config: ModelConfigInput, seed = 0, { init = 'random' }: { init?: 'random' | 'zeros' } = {}) {
    this.config = resolveModelConfig(config);
    this.specs = parameterSpecs(this.config);
    this.blocks = Array.from({ length: this.config.nLayers }, (_, i) => new Block(i));
    for (const spec of this.specs) {
      const value = init === 'zeros' ? tf.zeros(spec.shape) : tf.tensor(initialValues(spec, this.config, seed), spec.shape);
      this.params.set(spec.name, tf.variable(value, true, `${spec.name}#${nextId++}`));
      value.dispose();
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

  /** Every hook-point name a full forward pass produces, in order. */
  hookNames(): string[] {
    return activationNames(this.config);
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

  /** Overwrites one parameter with values in its shape's row-major order (no intermediate copy). */
  assignParam(name: string, values: Float32Array): void {
    const spec = this.specs.find((s) => s.name === name);
    if (!spec) throw new Error(`assignParam: unknown parameter ${name}`);
    const size = spec.shape.reduce((a, b) => a * b, 1);
    if (values.length !== size) throw new Error(`assignParam: ${name} needs ${size} values (shape [${spec.shape}]), got ${values.length}`);
    const t = tf.tensor(values, spec.shape);
    this.param(name).assign(t);
    t.dispose();
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
   * Runs the model on tokens [B, T]. Returns logits and the requested activations by name. Call inside tf.tidy (or
   * dispose the results yourself); `runWithCache` does the bookkeeping for you.
   */
  forward(input: TokensInput, opts: ForwardOptions = {}): ForwardResult {
    const c = this.config;
    const tokens = input instanceof tf.Tensor ? input : tf.tensor2d(input.map((r) => [...r]), undefined, 'int32');
    const [B, n] = tokens.shape;
    if (tokens.dtype !== 'int32') throw new Error('forward: tokens must be an int32 tensor');
    const kv = opts.kvCache ?? null;
    const offset = kv?.length ?? 0;
    if (offset + n > c.contextLength) throw new Error(`forward: ${offset + n} positions exceed the context length ${c.contextLength}`);
    const stop = opts.stopAtLayer;
    if (stop !== undefined && !(Number.isInteger(stop) && stop >= 0 && stop <= c.nLayers)) throw new Error(`forward: stopAtLayer must be an integer in 0..${c.nLayers}, got ${stop}`);
    const span = opts.logitSpan;
    if (span && !(Number.isInteger(span.start) && Number.isInteger(span.end) && span.start >= 0 && span.start < span.end && span.end <= n)) {
      throw new Error(`forward: logitSpan must satisfy 0 <= start < end <= ${n}, got [${span.start}, ${span.end})`);
    }
    if (kv) {
      if (!c.causal) throw new Error('forward: a KV cache needs a causal model (later tokens would change earlier keys)');
      if (kv.batchSize !== B) throw new Error(`forward: the KV cache holds ${kv.batchSize} rows, the tokens ${B}`);
      if (stop !== undefined) throw new Error('forward: stopAtLayer cannot be combined with a KV cache (later layers would miss this pass)');
    }
    if (opts.checkpointBlocks && (kv || (opts.cache !== undefined && opts.cache !== false))) {
      throw new Error('forward: checkpointBlocks keeps no activations: it cannot be combined with cache or kvCache');
    }
    const masks = opts.masks ?? {};
    for (const name of Object.keys(masks)) this.checkMaskName(name);
    const pass = new ForwardPass(c, activeKernels(), (name) => this.param(name), {
      cache: cachePredicate(opts.cache),
      masks,
      hooks: opts.hooks ?? {},
      training: opts.training ?? false,
      dropoutSeed: opts.dropoutSeed ?? 0,
    });
    const plan = kv || opts.padding ? (kv ?? new KVCache(B)).plan(n, opts.padding) : null;
    // Masks made for this pass on first use: kept (a block that makes one may run inside a custom gradient's own
    // tidy, and a later block reuses it) and freed when the pass ends (the tape holds its own references).
    const passTables: tf.Tensor[] = [];
    const padded = !!plan?.keyPadding;
    const env: AttentionEnv = {
      bias: this.biasOf(B, n, offset, plan?.keyPadding ?? null, passTables),
      rope: c.positions === 'rope' ? this.ropeTables(B, n, offset, padded ? plan!.positions : null) : null,
      kv,
    };
    try {
      let x = this.embed.forward(pass, tokens, padded ? { ids: plan!.positions } : { offset });
      for (let i = 0; i < (stop ?? c.nLayers); i++) x = opts.checkpointBlocks ? this.checkpointedBlock(i, pass, x, env) : this.blocks[i].forward(pass, x, env);
      if (stop !== undefined) return { logits: x, cache: pass.cache };
      if (span && !(span.start === 0 && span.end === n)) x = tf.slice(x, [0, span.start, 0], [B, span.end - span.start, c.dModel]);
      const logits = this.unembed.forward(pass, x);
      kv?.commit(n, opts.padding);
      return { logits, cache: pass.cache };
    } catch (e) {
      kv?.abort();
      throw e;
    } finally {
      if (tokens !== input) tokens.dispose();
      tf.dispose(passTables);
    }
  }

  /**
   * Runs the model and returns its logits with the chosen activations as an ActivationCache (TransformerLens'
   * run_with_cache). `names` lists hook names (see actName), `filter` picks them by predicate; neither: all.
   * Nothing leaks: the caller owns logits and cache (`cache.dispose()`, `logits.dispose()`).
   */
  runWithCache(input: TokensInput, opts: Omit<ForwardOptions, 'cache'> & CacheSelection = {}): { logits: tf.Tensor3D; cache: ActivationCache } {
    const { names, filter, ...forward } = opts;
    const select: ForwardOptions['cache'] = names ?? filter ?? true;
    if (names) {
      const known = new Set(this.hookNames());
      const unknown = names.filter((n) => !known.has(n));
      if (unknown.length) throw new Error(`runWithCache: no activation named ${unknown.join(', ')}; see model.hookNames()`);
    }
    const { logits, cache } = tf.tidy(() => {
      const r = this.forward(input, { ...forward, cache: select });
      return { logits: r.logits, cache: r.cache };
    });
    return { logits, cache: new ActivationCache(this, cache) };
  }

  /**
   * Mean cross-entropy of next-token predictions, weighted per position (see Batch.weights). With
   * `opts.logitSpan`, only that span enters the loss: the caller promises every weight outside it is 0
   * (`weightedSpan`), so the value and the gradients are those of the full loss.
   */
  loss(tokens: tf.Tensor2D, targets: tf.Tensor2D, weights: tf.Tensor2D, opts: ForwardOptions = {}): tf.Scalar {
    return spanCrossEntropy(this.forward(tokens, opts).logits, targets, weights, opts.logitSpan);
  }

  /**
   * Block i under activation checkpointing: one custom-gradient op whose inputs are the block's input and its
   * parameters. Its forward keeps nothing but the input (and the masks/tables it read); its gradient reruns
   * the block under a tape and backpropagates through that, then frees it.
   */
  private checkpointedBlock(i: number, pass: ForwardPass, x: tf.Tensor3D, env: AttentionEnv): tf.Tensor3D {
    const prefix = `blocks.${i}.`;
    const names = this.specs.filter((s) => s.name.startsWith(prefix)).map((s) => s.name);
    const dropoutStart = pass.dropoutCount;
    let dropoutEnd = dropoutStart;
    const runBlock = (input: tf.Tensor, ws: tf.Tensor[], blockEnv: AttentionEnv) => {
      const byName = new Map(names.map((n, k) => [n, ws[k]]));
      const sub = pass.fork((n) => {
        const w = byName.get(n);
        if (!w) throw new Error(`checkpointBlocks: block ${i} reads ${n}, which is not one of its parameters`);
        return w;
      }, dropoutStart);
      const y = this.blocks[i].forward(sub, input as tf.Tensor3D, blockEnv);
      dropoutEnd = sub.dropoutCount;
      return y;
    };
    const op = tf.customGrad(((...args: unknown[]) => {
      const save = args.pop() as tf.GradSaveFunc;
      const [input, ...ws] = args as tf.Tensor[];
      // The tables the block reads (causal/window bias, rotary slices) may be per-pass tensors, freed when the
      // forward pass ends: keep the ones it used for the recomputation.
      const used: { key: string; t: tf.Tensor }[] = [];
      const recording: AttentionEnv = {
        bias: (w) => {
          const b = env.bias(w);
          if (b && !used.some((u) => u.key === `bias:${w}`)) used.push({ key: `bias:${w}`, t: b });
          return b;
        },
        rope: env.rope,
        kv: null,
      };
      const value = runBlock(input, ws, recording);
      const keys = used.map((u) => u.key);
      save([input, ...used.map((u) => u.t), ...(env.rope ? [env.rope.cos, env.rope.sin] : [])]);
      const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [x0, ...rest] = saved;
        const tables = new Map(keys.map((k, j) => [k, rest[j]]));
        const rope = env.rope ? { cos: rest[keys.length], sin: rest[keys.length + 1] } : null;
        const replay: AttentionEnv = { bias: (w) => tables.get(`bias:${w}`) ?? null, rope, kv: null };
        return isolatedGrads((...xs: tf.Tensor[]) => runBlock(xs[0], xs.slice(1), replay), [x0, ...ws], dy);
      };
      return { value, gradFunc };
    }) as unknown as Parameters<typeof tf.customGrad>[0]);
    const y = (op as unknown as (...xs: tf.Tensor[]) => tf.Tensor3D)(x, ...names.map((n) => this.param(n)));
    pass.dropoutCount = dropoutEnd;
    return y;
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

  /**
   * The additive attention bias of a pass (0 where a key is visible, -1e9 where masked), per window. The plain
   * causal pass from position 0 uses one [T, T] constant kept across calls.
   */
  private biasOf(B: number, n: number, offset: number, keyPadding: Uint8Array[] | null, passTables: tf.Tensor[]): AttentionEnv['bias'] {
    const c = this.config;
    const T = offset + n;
    const made = new Map<number | null, tf.Tensor | null>();
    return (window) => {
      if (made.has(window)) return made.get(window)!;
      let bias: tf.Tensor | null = null;
      if (c.causal && offset === 0 && !keyPadding && window === null) {
        bias = this.constant(`causal:${T}`, () => tf.tensor2d(maskValues(1, n, T, 0, true, null, null), [T, T]));
      } else if (c.causal || keyPadding) {
        const rows = keyPadding ? B : 1;
        const values = maskValues(rows, n, T, offset, c.causal, window, keyPadding);
        bias = values.some((v) => v !== 0) ? tf.keep(tf.tensor4d(values, [rows, 1, n, T])) : null;
        if (bias) passTables.push(bias);
      }
      made.set(window, bias);
      return bias;
    };
  }

  /** cos/sin tables for the pass's positions: a slice of one table kept across calls, or per-row tables. */
  private ropeTables(B: number, n: number, offset: number, ids: Int32Array | null): { cos: tf.Tensor; sin: tf.Tensor } {
    const c = this.config;
    const d = rotaryDim(c);
    if (ids) {
      return { cos: tf.tensor4d(ropeValues(ids, d, c.rotaryBase, Math.cos), [B, 1, n, d]), sin: tf.tensor4d(ropeValues(ids, d, c.rotaryBase, Math.sin), [B, 1, n, d]) };
    }
    const T = c.contextLength;
    const all = Int32Array.from({ length: T }, (_, t) => t);
    const cos = this.constant('rope_cos', () => tf.tensor4d(ropeValues(all, d, c.rotaryBase, Math.cos), [1, 1, T, d]));
    const sin = this.constant('rope_sin', () => tf.tensor4d(ropeValues(all, d, c.rotaryBase, Math.sin), [1, 1, T, d]));
    if (offset === 0 && n === T) return { cos, sin };
    return { cos: tf.slice(cos, [0, 0, offset, 0], [1, 1, n, d]), sin: tf.slice(sin, [0, 0, offset, 0], [1, 1, n, d]) };
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

/** The engine fields a nested gradient computation reads and resets (tfjs-core 4.x). */
interface TapeState {
  activeTape: unknown[] | null;
  gradientDepth: number;
}

/**
 * tf.grads(f)(xs, dy) run from inside another gradient's backward pass (activation checkpointing). tfjs treats a
 * gradient taken at depth 0 as the outermost one: it starts a fresh tape and, when done, frees and nulls "the"
 * tape — the outer one's, whose saved tensors would then never be freed. So the outer tape is set aside and put
 * back afterwards; the inner computation frees its own tape as it ends.
 */
function isolatedGrads(f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[], dy: tf.Tensor): tf.Tensor[] {
  const state = (tf.engine() as unknown as { state: TapeState }).state;
  const outer = { activeTape: state.activeTape, gradientDepth: state.gradientDepth };
  state.activeTape = null;
  state.gradientDepth = 0;
  try {
    return tf.grads(f)(xs, dy);
  } finally {
    state.activeTape = outer.activeTape;
    state.gradientDepth = outer.gradientDepth;
  }
}

/**
 * [rows, n, T] additive mask: query i sits at column offset + i; key j is masked if it is later (causal), at least
 * `window` columns back, or padding in that row.
 */
function maskValues(rows: number, n: number, T: number, offset: number, causal: boolean, window: number | null, keyPadding: Uint8Array[] | null): Float32Array {
  const m = new Float32Array(rows * n * T);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < n; i++) {
      const q = offset + i;
      for (let j = 0; j < T; j++) {
        const hidden = (causal && j > q) || (window !== null && q - j >= window) || (keyPadding !== null && keyPadding[r][j] === 1);
        if (hidden) m[(r * n + i) * T + j] = -1e9;
      }
    }
  }
  return m;
}

/** Rotate-half tables (GPT-NeoX / Llama): dims j and j + d/2 share the angle pos * base^(-2j/d). */
function ropeValues(positions: Int32Array, d: number, base: number, f: (x: number) => number): Float32Array {
  const half = d / 2;
  const table = new Float32Array(positions.length * d);
  for (let i = 0; i < positions.length; i++) {
    for (let j = 0; j < half; j++) {
      const v = f(positions[i] * Math.pow(base, (-2 * j) / d));
      table[i * d + j] = v;
      table[i * d + j + half] = v;
    }
  }
  return table;
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

export { arraysEqual };
