/**
 * The HuggingFace model families wraplab loads and saves: for each, how its config.json maps onto wraplab's
 * ModelConfig (and back), and how each tensor of its checkpoint maps onto wraplab's parameters (and back).
 *
 * A field wraplab cannot express is refused by name, never silently approximated. Weights are not folded or
 * centred (TransformerLens does both by default); a loaded model computes exactly what the checkpoint computes.
 */
import type { ModelConfigInput, ResolvedModelConfig } from '../engine';
import { WraplabError } from '../engine/errors';
import { columns, concat, concatColumns, fuseHeadwiseBias, fuseHeadwiseQKV, transpose, unfuseHeadwiseBias, unfuseHeadwiseQKV } from './layout';

export class PretrainedConfigError extends WraplabError {}

/** A config.json as parsed. */
export type HfConfig = Record<string, unknown>;

/** One tensor of a checkpoint and the wraplab parameters it holds. */
export interface TensorRule {
  /** The HF key without the family's base-model prefix; for the LM head, the full key. */
  key: string;
  shape: number[];
  /** The LM head lives outside the base model and never carries its prefix. */
  head?: boolean;
  /** The checkpoint's values (HF layout) -> wraplab parameters by name. */
  load(data: Float32Array): [string, Float32Array][];
  /** wraplab parameters -> the checkpoint's values (HF layout). */
  save(get: (name: string) => Float32Array): Float32Array;
}

export interface Family {
  /** config.json's model_type. */
  modelType: string;
  architecture: string;
  /** What users point it at. */
  examples: string[];
  /** What the loader handles for this family, for `wraplab models`. */
  handles: string;
  /** Base-model key prefix in HF checkpoints ('transformer.'); some GPT-2 files omit it. */
  prefix: string;
  /** Checkpoint tensors that are not parameters (mask and rotary buffers): skipped on load. */
  buffers: RegExp[];
  /** config.json -> wraplab config; throws PretrainedConfigError naming the field. */
  toConfig(hf: HfConfig): ModelConfigInput;
  /** Why a wraplab config cannot be saved as this family (empty: it can). */
  misfits(c: ResolvedModelConfig): string[];
  /** wraplab config -> the structural fields of config.json (merged over a loaded model's original config). */
  toHf(c: ResolvedModelConfig): HfConfig;
  tensors(c: ResolvedModelConfig): TensorRule[];
}

// ---- reading config fields -------------------------------------------------------------------------------------

function field(hf: HfConfig, keys: string[], what: 'int' | 'number' | 'bool' | 'string', fallback?: unknown): unknown {
  const key = keys.find((k) => hf[k] !== undefined && hf[k] !== null);
  if (key === undefined) {
    if (fallback !== undefined) return fallback;
    throw new PretrainedConfigError(`config.json: ${keys[0]} is missing (the ${String(hf.model_type)} loader needs it)`);
  }
  const v = hf[key];
  const ok = what === 'int' ? Number.isInteger(v) && (v as number) > 0 : what === 'number' ? typeof v === 'number' && Number.isFinite(v) : what === 'bool' ? typeof v === 'boolean' : typeof v === 'string';
  if (!ok) throw new PretrainedConfigError(`config.json: ${key} = ${JSON.stringify(v)} is not a ${what === 'int' ? 'positive integer' : what}`);
  return v;
}
const int = (hf: HfConfig, keys: string | string[], fallback?: number) => field(hf, typeof keys === 'string' ? [keys] : keys, 'int', fallback) as number;
const num = (hf: HfConfig, keys: string | string[], fallback?: number) => field(hf, typeof keys === 'string' ? [keys] : keys, 'number', fallback) as number;
const bool = (hf: HfConfig, key: string, fallback: boolean) => field(hf, [key], 'bool', fallback) as boolean;
const str = (hf: HfConfig, key: string, fallback?: string) => field(hf, [key], 'string', fallback) as string;

function refuse(key: string, value: unknown, why: string): never {
  throw new PretrainedConfigError(`config.json: ${key} = ${JSON.stringify(value)} is not supported: ${why}`);
}

/** Fields that change the computation in ways wraplab does not implement: refused if set to anything but `ok`. */
function refuseUnless(hf: HfConfig, key: string, ok: (v: unknown) => boolean, why: string): void {
  if (hf[key] !== undefined && !ok(hf[key])) refuse(key, hf[key], why);
}
const absent = (v: unknown) => v === null || v === undefined;

/** HF activation names -> wraplab's. HF's 'gelu' is the exact erf GELU; 'gelu_new' the tanh approximation. */
const ACTIVATIONS: Record<string, 'gelu' | 'gelu_erf' | 'relu'> = { gelu_new: 'gelu', gelu_pytorch_tanh: 'gelu', gelu: 'gelu_erf', relu: 'relu' };
function activation(hf: HfConfig, key: string, fallback: string): 'gelu' | 'gelu_erf' | 'relu' {
  const name = str(hf, key, fallback);
  const a = ACTIVATIONS[name];
  if (!a) refuse(key, name, `wraplab implements ${Object.keys(ACTIVATIONS).join(', ')}`);
  return a;
}
function hfActivation(a: ResolvedModelConfig['activation']): string {
  return a === 'gelu' ? 'gelu_new' : a === 'gelu_erf' ? 'gelu' : a;
}

// ---- tensor rules --------------------------------------------------------------------------------------------

/** A tensor stored as wraplab stores it. */
function same(key: string, param: string, shape: number[], head = false): TensorRule {
  return { key, shape, head, load: (d) => [[param, d]], save: (get) => get(param) };
}

/** An nn.Linear weight [out, in] <-> wraplab's [in, out]. */
function linear(key: string, param: string, out: number, inp: number, head = false): TensorRule {
  return { key, shape: [out, inp], head, load: (d) => [[param, transpose(d, out, inp)]], save: (get) => transpose(get(param), inp, out) };
}

/** An nn.Linear with bias: `${key}.weight` [out, in] and `${key}.bias` [out]. */
function biasedLinear(key: string, w: string, b: string, out: number, inp: number): TensorRule[] {
  return [linear(`${key}.weight`, w, out, inp), same(`${key}.bias`, b, [out])];
}

function layerNorm(key: string, prefix: string, d: number, withBias: boolean): TensorRule[] {
  const rules = [same(`${key}.weight`, `${prefix}.w`, [d])];
  if (withBias) rules.push(same(`${key}.bias`, `${prefix}.b`, [d]));
  return rules;
}

/** The unembedding of an untied model: nn.Linear [vocab, d] without bias. */
function untiedHead(key: string, c: ResolvedModelConfig): TensorRule[] {
  return c.tiedEmbeddings ? [] : [linear(key, 'unembed.W_U', c.outputSize, c.dModel, true)];
}

// ---- checks shared by the families' misfits ---------------------------------------------------------------

function commonMisfits(c: ResolvedModelConfig, family: string): string[] {
  const out: string[] = [];
  if (!c.causal) out.push(`causal: ${family} is a causal LM`);
  if (c.outputSize !== c.vocabSize) out.push(`outputSize ${c.outputSize} != vocabSize ${c.vocabSize}: ${family}'s head predicts the input vocabulary`);
  if (c.unembedBias) out.push(`unembedBias: ${family}'s LM head has no bias (set unembedBias: false)`);
  return out;
}
function check(out: string[], ok: boolean, why: string): void {
  if (!ok) out.push(why);
}

// ---- GPT-2 -----------------------------------------------------------------------------------------------

const gpt2: Family = {
  modelType: 'gpt2',
  architecture: 'GPT2LMHeadModel',
  examples: ['gpt2', 'gpt2-medium', 'lvwerra/gpt2-imdb', 'distilgpt2'],
  handles: 'Conv1D weights [in, out]; fused c_attn split into Q, K, V; keys with or without "transformer."; attn.bias/masked_bias buffers skipped; tied lm_head; gelu_new',
  prefix: 'transformer.',
  buffers: [/^h\.\d+\.attn\.(bias|masked_bias)$/],
  toConfig(hf) {
    refuseUnless(hf, 'scale_attn_by_inverse_layer_idx', (v) => v === false, 'wraplab scales every layer by 1/sqrt(d_head) alike');
    refuseUnless(hf, 'add_cross_attention', (v) => v === false, 'cross-attention needs an encoder');
    const d = int(hf, 'n_embd');
    const heads = int(hf, 'n_head');
    return {
      vocabSize: int(hf, 'vocab_size'),
      contextLength: int(hf, ['n_positions', 'n_ctx']),
      dModel: d,
      nLayers: int(hf, 'n_layer'),
      nHeads: heads,
      dMlp: int(hf, 'n_inner', 4 * d),
      norm: 'layernorm',
      normEps: num(hf, 'layer_norm_epsilon', 1e-5),
      activation: activation(hf, 'activation_function', 'gelu_new'),
      positions: 'learned',
      causal: true,
      attnScale: bool(hf, 'scale_attn_weights', true) ? undefined : 1,
      bias: true,
      unembedBias: false,
      tiedEmbeddings: bool(hf, 'tie_word_embeddings', true),
      dropout: 0,
      initStd: num(hf, 'initializer_range', 0.02),
    };
  },
  misfits(c) {
    const out = commonMisfits(c, 'GPT-2');
    check(out, c.norm === 'layernorm', `norm '${c.norm}': GPT-2 uses layernorm`);
    check(out, c.positions === 'learned', `positions '${c.positions}': GPT-2 learns positions`);
    check(out, c.activation !== 'swiglu', 'activation swiglu: GPT-2 has no gated MLP');
    check(out, c.attnBias && c.attnOutBias && c.mlpBias, 'biases: GPT-2 has biases on every attention and MLP matrix');
    check(out, c.nKVHeads === c.nHeads, 'nKVHeads: GPT-2 has no grouped-query attention');
    check(out, c.nHeads * c.dHead === c.dModel, `dHead: GPT-2 needs nHeads x dHead = dModel (${c.nHeads} x ${c.dHead} != ${c.dModel})`);
    check(out, Math.abs(c.attnScale - 1 / Math.sqrt(c.dHead)) < 1e-12 || c.attnScale === 1, 'attnScale: GPT-2 scales by 1/sqrt(dHead) or not at all');
    check(out, c.attentionWindows.every((w) => w === null), 'attentionWindows: GPT-2 attends globally');
    check(out, !c.parallelResidual, 'parallelResidual: GPT-2 is sequential');
    return out;
  },
  toHf(c) {
    return {
      model_type: 'gpt2',
      architectures: ['GPT2LMHeadModel'],
      vocab_size: c.vocabSize,
      n_positions: c.contextLength,
      n_ctx: c.contextLength,
      n_embd: c.dModel,
      n_layer: c.nLayers,
      n_head: c.nHeads,
      n_inner: c.dMlp,
      activation_function: hfActivation(c.activation),
      layer_norm_epsilon: c.normEps,
      scale_attn_weights: c.attnScale !== 1,
      scale_attn_by_inverse_layer_idx: false,
      tie_word_embeddings: c.tiedEmbeddings,
      initializer_range: c.initStd,
    };
  },
  tensors(c) {
    const d = c.dModel;
    const m = c.dMlp;
    const rules: TensorRule[] = [same('wte.weight', 'embed.W_E', [c.vocabSize, d]), same('wpe.weight', 'pos_embed.W_pos', [c.contextLength, d])];
    for (let i = 0; i < c.nLayers; i++) {
      const h = `h.${i}`;
      const b = `blocks.${i}`;
      rules.push(...layerNorm(`${h}.ln_1`, `${b}.ln1`, d, true));
      rules.push({
        key: `${h}.attn.c_attn.weight`,
        shape: [d, 3 * d],
        load: (w) => (['Q', 'K', 'V'] as const).map((x, k) => [`${b}.attn.W_${x}`, columns(w, d, 3 * d, k * d, d)]),
        save: (get) => concatColumns((['Q', 'K', 'V'] as const).map((x) => ({ data: get(`${b}.attn.W_${x}`), cols: d })), d),
      });
      rules.push({
        key: `${h}.attn.c_attn.bias`,
        shape: [3 * d],
        load: (v) => (['Q', 'K', 'V'] as const).map((x, k) => [`${b}.attn.b_${x}`, v.slice(k * d, (k + 1) * d)]),
        save: (get) => concat((['Q', 'K', 'V'] as const).map((x) => get(`${b}.attn.b_${x}`))),
      });
      rules.push(same(`${h}.attn.c_proj.weight`, `${b}.attn.W_O`, [d, d]), same(`${h}.attn.c_proj.bias`, `${b}.attn.b_O`, [d]));
      rules.push(...layerNorm(`${h}.ln_2`, `${b}.ln2`, d, true));
      rules.push(same(`${h}.mlp.c_fc.weight`, `${b}.mlp.W_in`, [d, m]), same(`${h}.mlp.c_fc.bias`, `${b}.mlp.b_in`, [m]));
      rules.push(same(`${h}.mlp.c_proj.weight`, `${b}.mlp.W_out`, [m, d]), same(`${h}.mlp.c_proj.bias`, `${b}.mlp.b_out`, [d]));
    }
    rules.push(...layerNorm('ln_f', 'ln_final', d, true), ...untiedHead('lm_head.weight', c));
    return rules;
  },
};

// ---- GPT-Neo ---------------------------------------------------------------------------------------------

/** attention_types [[["global", "local"], 2]] -> one entry per layer. */
function neoAttentionLayers(hf: HfConfig, nLayers: number): string[] {
  const types = hf.attention_types;
  const layers: string[] = [];
  if (!Array.isArray(types)) refuse('attention_types', types, 'expected a list of [[kinds...], repeat] pairs');
  for (const pair of types as unknown[]) {
    if (!Array.isArray(pair) || pair.length !== 2 || !Array.isArray(pair[0]) || !Number.isInteger(pair[1])) refuse('attention_types', types, 'expected a list of [[kinds...], repeat] pairs');
    for (let r = 0; r < (pair[1] as number); r++) for (const k of pair[0] as unknown[]) layers.push(String(k));
  }
  if (layers.length !== nLayers) refuse('attention_types', types, `it names ${layers.length} layers, num_layers is ${nLayers}`);
  for (const k of layers) if (k !== 'global' && k !== 'local') refuse('attention_types', types, `unknown attention kind "${k}" (global or local)`);
  return layers;
}

const gptNeo: Family = {
  modelType: 'gpt_neo',
  architecture: 'GPTNeoForCausalLM',
  examples: ['roneneldan/TinyStories-33M', 'roneneldan/TinyStories-8M', 'roneneldan/TinyStories-1M', 'EleutherAI/gpt-neo-125m'],
  handles: 'separate q/k/v projections without bias; alternating global/local attention (window_size); no 1/sqrt(d_head) scaling; mask buffers skipped; tied head',
  prefix: 'transformer.',
  buffers: [/^h\.\d+\.attn\.attention\.(bias|masked_bias)$/],
  toConfig(hf) {
    const d = int(hf, 'hidden_size');
    const nLayers = int(hf, 'num_layers');
    const window = int(hf, 'window_size', 256);
    return {
      vocabSize: int(hf, 'vocab_size'),
      contextLength: int(hf, 'max_position_embeddings'),
      dModel: d,
      nLayers,
      nHeads: int(hf, 'num_heads'),
      dMlp: int(hf, 'intermediate_size', 4 * d),
      norm: 'layernorm',
      normEps: num(hf, 'layer_norm_epsilon', 1e-5),
      activation: activation(hf, 'activation_function', 'gelu_new'),
      positions: 'learned',
      causal: true,
      attnScale: 1,
      attentionWindows: neoAttentionLayers(hf, nLayers).map((k) => (k === 'local' ? window : null)),
      bias: true,
      attnBias: false,
      attnOutBias: true,
      unembedBias: false,
      tiedEmbeddings: bool(hf, 'tie_word_embeddings', true),
      dropout: 0,
      initStd: num(hf, 'initializer_range', 0.02),
    };
  },
  misfits(c) {
    const out = commonMisfits(c, 'GPT-Neo');
    check(out, c.norm === 'layernorm', `norm '${c.norm}': GPT-Neo uses layernorm`);
    check(out, c.positions === 'learned', `positions '${c.positions}': GPT-Neo learns positions`);
    check(out, c.activation !== 'swiglu', 'activation swiglu: GPT-Neo has no gated MLP');
    check(out, !c.attnBias && c.attnOutBias && c.mlpBias, 'biases: GPT-Neo has no Q/K/V biases and biases on W_O and the MLP (attnBias false, attnOutBias true, mlpBias true)');
    check(out, c.nKVHeads === c.nHeads, 'nKVHeads: GPT-Neo has no grouped-query attention');
    check(out, c.nHeads * c.dHead === c.dModel, `dHead: GPT-Neo needs nHeads x dHead = dModel`);
    check(out, c.attnScale === 1, 'attnScale: GPT-Neo does not scale attention (attnScale 1)');
    check(out, new Set(c.attentionWindows.filter((w) => w !== null)).size <= 1, 'attentionWindows: GPT-Neo has one window_size for all local layers');
    check(out, !c.parallelResidual, 'parallelResidual: GPT-Neo is sequential');
    return out;
  },
  toHf(c) {
    const window = c.attentionWindows.find((w) => w !== null) ?? 256;
    return {
      model_type: 'gpt_neo',
      architectures: ['GPTNeoForCausalLM'],
      vocab_size: c.vocabSize,
      max_position_embeddings: c.contextLength,
      hidden_size: c.dModel,
      num_layers: c.nLayers,
      num_heads: c.nHeads,
      intermediate_size: c.dMlp,
      activation_function: hfActivation(c.activation),
      layer_norm_epsilon: c.normEps,
      window_size: window,
      // One [kind] entry per layer: HF expands the pairs, so this spells any pattern exactly.
      attention_types: c.attentionWindows.map((w) => [[w === null ? 'global' : 'local'], 1]),
      attention_layers: c.attentionWindows.map((w) => (w === null ? 'global' : 'local')),
      num_hidden_layers: c.nLayers,
      tie_word_embeddings: c.tiedEmbeddings,
      initializer_range: c.initStd,
    };
  },
  tensors(c) {
    const d = c.dModel;
    const m = c.dMlp;
    const rules: TensorRule[] = [same('wte.weight', 'embed.W_E', [c.vocabSize, d]), same('wpe.weight', 'pos_embed.W_pos', [c.contextLength, d])];
    for (let i = 0; i < c.nLayers; i++) {
      const h = `h.${i}`;
      const b = `blocks.${i}`;
      rules.push(...layerNorm(`${h}.ln_1`, `${b}.ln1`, d, true));
      for (const x of ['q', 'k', 'v'] as const) rules.push(linear(`${h}.attn.attention.${x}_proj.weight`, `${b}.attn.W_${x.toUpperCase()}`, d, d));
      rules.push(...biasedLinear(`${h}.attn.attention.out_proj`, `${b}.attn.W_O`, `${b}.attn.b_O`, d, d));
      rules.push(...layerNorm(`${h}.ln_2`, `${b}.ln2`, d, true));
      rules.push(...biasedLinear(`${h}.mlp.c_fc`, `${b}.mlp.W_in`, `${b}.mlp.b_in`, m, d));
      rules.push(...biasedLinear(`${h}.mlp.c_proj`, `${b}.mlp.W_out`, `${b}.mlp.b_out`, d, m));
    }
    rules.push(...layerNorm('ln_f', 'ln_final', d, true), ...untiedHead('lm_head.weight', c));
    return rules;
  },
};

// ---- GPT-NeoX --------------------------------------------------------------------------------------------

const gptNeox: Family = {
  modelType: 'gpt_neox',
  architecture: 'GPTNeoXForCausalLM',
  examples: ['EleutherAI/pythia-70m', 'EleutherAI/pythia-160m', 'EleutherAI/pythia-410m (and revision="step1000" etc.)'],
  handles: 'fused query_key_value laid out (head, qkv, d_head); rotary on rotary_pct of each head; parallel attention+MLP residual; untied embed_out; F16 weights; BOOL mask and inv_freq buffers skipped',
  prefix: 'gpt_neox.',
  buffers: [/^layers\.\d+\.attention\.(bias|masked_bias|rotary_emb\.inv_freq)$/, /^rotary_emb\.inv_freq$/],
  toConfig(hf) {
    refuseUnless(hf, 'rope_scaling', absent, 'wraplab implements unscaled rotary embeddings only');
    const d = int(hf, 'hidden_size');
    const heads = int(hf, 'num_attention_heads');
    const attnBias = bool(hf, 'attention_bias', true);
    return {
      vocabSize: int(hf, 'vocab_size'),
      contextLength: int(hf, 'max_position_embeddings'),
      dModel: d,
      nLayers: int(hf, 'num_hidden_layers'),
      nHeads: heads,
      dMlp: int(hf, 'intermediate_size'),
      norm: 'layernorm',
      normEps: num(hf, 'layer_norm_eps', 1e-5),
      activation: activation(hf, 'hidden_act', 'gelu'),
      positions: 'rope',
      rotaryFraction: num(hf, ['rotary_pct', 'partial_rotary_factor'], 0.25),
      rotaryBase: num(hf, ['rotary_emb_base', 'rope_theta'], 10000),
      causal: true,
      parallelResidual: bool(hf, 'use_parallel_residual', true),
      bias: true,
      attnBias,
      attnOutBias: attnBias,
      mlpBias: true,
      unembedBias: false,
      tiedEmbeddings: bool(hf, 'tie_word_embeddings', false),
      dropout: 0,
      initStd: num(hf, 'initializer_range', 0.02),
    };
  },
  misfits(c) {
    const out = commonMisfits(c, 'GPT-NeoX');
    check(out, c.norm === 'layernorm', `norm '${c.norm}': GPT-NeoX uses layernorm`);
    check(out, c.positions === 'rope', `positions '${c.positions}': GPT-NeoX uses rotary embeddings`);
    check(out, c.activation !== 'swiglu', 'activation swiglu: GPT-NeoX has no gated MLP');
    check(out, c.attnBias === c.attnOutBias && c.mlpBias, 'biases: GPT-NeoX has Q/K/V and W_O biases together (attention_bias) and MLP biases');
    check(out, c.nKVHeads === c.nHeads, 'nKVHeads: GPT-NeoX has no grouped-query attention');
    check(out, c.nHeads * c.dHead === c.dModel, `dHead: GPT-NeoX needs nHeads x dHead = dModel`);
    check(out, Math.abs(c.attnScale - 1 / Math.sqrt(c.dHead)) < 1e-12, 'attnScale: GPT-NeoX scales by 1/sqrt(dHead)');
    check(out, c.attentionWindows.every((w) => w === null), 'attentionWindows: GPT-NeoX attends globally');
    return out;
  },
  toHf(c) {
    return {
      model_type: 'gpt_neox',
      architectures: ['GPTNeoXForCausalLM'],
      vocab_size: c.vocabSize,
      max_position_embeddings: c.contextLength,
      hidden_size: c.dModel,
      num_hidden_layers: c.nLayers,
      num_attention_heads: c.nHeads,
      intermediate_size: c.dMlp,
      hidden_act: hfActivation(c.activation),
      layer_norm_eps: c.normEps,
      rotary_pct: c.rotaryFraction,
      rotary_emb_base: c.rotaryBase,
      use_parallel_residual: c.parallelResidual,
      attention_bias: c.attnBias,
      rope_scaling: null,
      tie_word_embeddings: c.tiedEmbeddings,
      initializer_range: c.initStd,
    };
  },
  tensors(c) {
    const d = c.dModel;
    const m = c.dMlp;
    const H = c.nHeads;
    const dh = c.dHead;
    const rules: TensorRule[] = [same('embed_in.weight', 'embed.W_E', [c.vocabSize, d])];
    for (let i = 0; i < c.nLayers; i++) {
      const h = `layers.${i}`;
      const b = `blocks.${i}`;
      const qkv = ['Q', 'K', 'V'] as const;
      rules.push(...layerNorm(`${h}.input_layernorm`, `${b}.ln1`, d, true));
      rules.push({
        key: `${h}.attention.query_key_value.weight`,
        shape: [3 * H * dh, d],
        load: (w) => qkv.map((x, k) => [`${b}.attn.W_${x}`, unfuseHeadwiseQKV(w, H, dh, d, k as 0 | 1 | 2)]),
        save: (get) => fuseHeadwiseQKV([get(`${b}.attn.W_Q`), get(`${b}.attn.W_K`), get(`${b}.attn.W_V`)], H, dh, d),
      });
      if (c.attnBias) {
        rules.push({
          key: `${h}.attention.query_key_value.bias`,
          shape: [3 * H * dh],
          load: (v) => qkv.map((x, k) => [`${b}.attn.b_${x}`, unfuseHeadwiseBias(v, H, dh, k as 0 | 1 | 2)]),
          save: (get) => fuseHeadwiseBias([get(`${b}.attn.b_Q`), get(`${b}.attn.b_K`), get(`${b}.attn.b_V`)], H, dh),
        });
      }
      rules.push(linear(`${h}.attention.dense.weight`, `${b}.attn.W_O`, d, H * dh));
      if (c.attnOutBias) rules.push(same(`${h}.attention.dense.bias`, `${b}.attn.b_O`, [d]));
      rules.push(...layerNorm(`${h}.post_attention_layernorm`, `${b}.ln2`, d, true));
      rules.push(...biasedLinear(`${h}.mlp.dense_h_to_4h`, `${b}.mlp.W_in`, `${b}.mlp.b_in`, m, d));
      rules.push(...biasedLinear(`${h}.mlp.dense_4h_to_h`, `${b}.mlp.W_out`, `${b}.mlp.b_out`, d, m));
    }
    rules.push(...layerNorm('final_layer_norm', 'ln_final', d, true), ...untiedHead('embed_out.weight', c));
    return rules;
  },
};

// ---- Llama -----------------------------------------------------------------------------------------------

const llama: Family = {
  modelType: 'llama',
  architecture: 'LlamaForCausalLM',
  examples: ['HuggingFaceTB/SmolLM-135M', 'HuggingFaceTB/SmolLM-135M-Instruct', 'HuggingFaceTB/SmolLM2-360M', 'TinyLlama/TinyLlama-1.1B-Chat-v1.0'],
  handles: 'grouped-query attention; half-split (rotate_half) rotary with rope_theta; RMSNorm eps from rms_norm_eps; SwiGLU (gate/up/down); tied or untied head; BF16 weights; "model." prefix',
  prefix: 'model.',
  buffers: [/^layers\.\d+\.self_attn\.rotary_emb\.inv_freq$/, /^rotary_emb\.inv_freq$/],
  toConfig(hf) {
    refuseUnless(hf, 'rope_scaling', absent, 'wraplab implements unscaled rotary embeddings only (Llama 3.1-style "llama3" or "linear" scaling is not)');
    refuseUnless(hf, 'hidden_act', (v) => v === 'silu', 'wraplab implements the SwiGLU (silu) MLP');
    const d = int(hf, 'hidden_size');
    const heads = int(hf, 'num_attention_heads');
    const attnBias = bool(hf, 'attention_bias', false);
    const mlpBias = bool(hf, 'mlp_bias', false);
    return {
      vocabSize: int(hf, 'vocab_size'),
      contextLength: int(hf, 'max_position_embeddings'),
      dModel: d,
      nLayers: int(hf, 'num_hidden_layers'),
      nHeads: heads,
      nKVHeads: int(hf, 'num_key_value_heads', heads),
      dHead: int(hf, 'head_dim', Math.floor(d / heads)),
      dMlp: int(hf, 'intermediate_size'),
      norm: 'rmsnorm',
      normEps: num(hf, 'rms_norm_eps', 1e-6),
      activation: 'swiglu',
      positions: 'rope',
      rotaryBase: num(hf, 'rope_theta', 10000),
      causal: true,
      bias: false,
      attnBias,
      attnOutBias: attnBias,
      mlpBias,
      unembedBias: false,
      tiedEmbeddings: bool(hf, 'tie_word_embeddings', false),
      dropout: 0,
      initStd: num(hf, 'initializer_range', 0.02),
    };
  },
  misfits(c) {
    const out = commonMisfits(c, 'Llama');
    check(out, c.norm === 'rmsnorm', `norm '${c.norm}': Llama uses rmsnorm`);
    check(out, c.positions === 'rope' && c.rotaryFraction === 1, 'positions: Llama rotates whole heads (rope, rotaryFraction 1)');
    check(out, c.activation === 'swiglu', `activation '${c.activation}': Llama's MLP is SwiGLU`);
    check(out, c.attnBias === c.attnOutBias, 'biases: Llama has Q/K/V/O biases together or none (attention_bias)');
    check(out, Math.abs(c.attnScale - 1 / Math.sqrt(c.dHead)) < 1e-12, 'attnScale: Llama scales by 1/sqrt(dHead)');
    check(out, c.attentionWindows.every((w) => w === null), 'attentionWindows: Llama attends globally');
    check(out, !c.parallelResidual, 'parallelResidual: Llama is sequential');
    return out;
  },
  toHf(c) {
    return {
      model_type: 'llama',
      architectures: ['LlamaForCausalLM'],
      vocab_size: c.vocabSize,
      max_position_embeddings: c.contextLength,
      hidden_size: c.dModel,
      num_hidden_layers: c.nLayers,
      num_attention_heads: c.nHeads,
      num_key_value_heads: c.nKVHeads,
      head_dim: c.dHead,
      intermediate_size: c.dMlp,
      hidden_act: 'silu',
      rms_norm_eps: c.normEps,
      rope_theta: c.rotaryBase,
      rope_scaling: null,
      attention_bias: c.attnBias,
      mlp_bias: c.mlpBias,
      tie_word_embeddings: c.tiedEmbeddings,
      initializer_range: c.initStd,
    };
  },
  tensors(c) {
    const d = c.dModel;
    const m = c.dMlp;
    const hq = c.nHeads * c.dHead;
    const hkv = c.nKVHeads * c.dHead;
    const rules: TensorRule[] = [same('embed_tokens.weight', 'embed.W_E', [c.vocabSize, d])];
    for (let i = 0; i < c.nLayers; i++) {
      const h = `layers.${i}`;
      const b = `blocks.${i}`;
      rules.push(same(`${h}.input_layernorm.weight`, `${b}.ln1.w`, [d]));
      for (const [x, width] of [['q', hq], ['k', hkv], ['v', hkv]] as const) {
        rules.push(linear(`${h}.self_attn.${x}_proj.weight`, `${b}.attn.W_${x.toUpperCase()}`, width, d));
        if (c.attnBias) rules.push(same(`${h}.self_attn.${x}_proj.bias`, `${b}.attn.b_${x.toUpperCase()}`, [width]));
      }
      rules.push(linear(`${h}.self_attn.o_proj.weight`, `${b}.attn.W_O`, d, hq));
      if (c.attnOutBias) rules.push(same(`${h}.self_attn.o_proj.bias`, `${b}.attn.b_O`, [d]));
      rules.push(same(`${h}.post_attention_layernorm.weight`, `${b}.ln2.w`, [d]));
      // SwiGLU: down(silu(gate(x)) * up(x)); wraplab's W_in is up_proj, W_gate is gate_proj.
      for (const [x, param, out, inp] of [['gate', 'W_gate', m, d], ['up', 'W_in', m, d], ['down', 'W_out', d, m]] as const) {
        rules.push(linear(`${h}.mlp.${x}_proj.weight`, `${b}.mlp.${param}`, out, inp));
      }
      if (c.mlpBias) {
        rules.push(same(`${h}.mlp.gate_proj.bias`, `${b}.mlp.b_gate`, [m]), same(`${h}.mlp.up_proj.bias`, `${b}.mlp.b_in`, [m]), same(`${h}.mlp.down_proj.bias`, `${b}.mlp.b_out`, [d]));
      }
    }
    rules.push(same('norm.weight', 'ln_final.w', [d]), ...untiedHead('lm_head.weight', c));
    return rules;
  },
};

export const FAMILIES: readonly Family[] = [gpt2, gptNeo, gptNeox, llama];
export type FamilyName = 'gpt2' | 'gpt_neo' | 'gpt_neox' | 'llama';

export function family(modelType: unknown): Family {
  const f = FAMILIES.find((x) => x.modelType === modelType);
  if (!f) {
    throw new PretrainedConfigError(
      `config.json: model_type ${JSON.stringify(modelType)} is not supported; wraplab loads ${FAMILIES.map((x) => x.modelType).join(', ')} (see \`wraplab models\`)`,
    );
  }
  return f;
}

/** The families a wraplab config can be saved as, in FAMILIES order. */
export function familiesFitting(c: ResolvedModelConfig): Family[] {
  return FAMILIES.filter((f) => f.misfits(c).length === 0);
}
