/**
 * The model config: one object says everything about a Transformer's shape — the testbeds' small models and the
 * knobs real checkpoints need (GPT-2, GPT-Neo, GPT-NeoX, Llama). Every knob defaults to minGPT's behaviour, so a
 * config written before a knob existed resolves to the same model, parameter names and initial weights.
 */
import { z } from 'zod';
import { WraplabError } from '../errors';

export const NORM_KINDS = ['layernorm', 'rmsnorm', 'none'] as const;
/** 'gelu' is GELU's tanh approximation (GPT-2's gelu_new, PyTorch approximate='tanh'); 'gelu_erf' the exact one. */
export const MLP_ACTIVATIONS = ['gelu', 'gelu_erf', 'relu', 'swiglu'] as const;
export const POSITION_KINDS = ['learned', 'rope', 'none'] as const;
export type NormKind = (typeof NORM_KINDS)[number];
export type MlpActivation = (typeof MLP_ACTIVATIONS)[number];
export type PositionKind = (typeof POSITION_KINDS)[number];

const positiveInt = z.number({ invalid_type_error: 'must be a positive integer' }).int('must be a positive integer').positive('must be a positive integer');

export const ModelConfigSchema = z
  .object({
    vocabSize: positiveInt,
    /** Size of the unembedding (logits); defaults to vocabSize. Tracr programs decode to their own output space. */
    outputSize: positiveInt.optional(),
    contextLength: positiveInt,
    dModel: positiveInt,
    nLayers: positiveInt,
    nHeads: positiveInt,
    /** Defaults to dModel / nHeads. */
    dHead: positiveInt.optional(),
    /** Defaults to 4 * dModel. */
    dMlp: positiveInt.optional(),
    /** Key/value heads (grouped-query attention, Llama); query head h reads key/value head floor(h / (nHeads / nKVHeads)). */
    nKVHeads: positiveInt.optional(),
    norm: z.enum(NORM_KINDS),
    /** Epsilon of every norm (Llama checkpoints use 1e-5 or 1e-6). */
    normEps: z.number().positive().optional(),
    activation: z.enum(MLP_ACTIVATIONS),
    positions: z.enum(POSITION_KINDS),
    /** Rotary embedding on the first floor(dHead * rotaryFraction) dims of each head (GPT-NeoX: 0.25). */
    rotaryFraction: z.number().gt(0).max(1).optional(),
    /** Rotary base theta (frequencies base^(-2j/d)); Llama 3 uses 500000. */
    rotaryBase: z.number().positive().optional(),
    causal: z.boolean(),
    /** Multiplies q·k; defaults to 1/sqrt(dHead). GPT-Neo does not scale (1). */
    attnScale: z.number().positive().optional(),
    /**
     * Per layer: null = global attention, w = local attention over the last w positions (a query at column i sees
     * keys i-w+1..i; GPT-Neo alternates global and local with w = 256). Defaults to all global.
     */
    attentionWindows: z.array(positiveInt.nullable()).optional(),
    /** GPT-NeoX / GPT-J: x + attn(ln1(x)) + mlp(ln2(x)) instead of two sequential residual steps (no resid_mid). */
    parallelResidual: z.boolean().optional(),
    /** Default for every bias below. */
    bias: z.boolean(),
    /** Biases of W_Q, W_K, W_V (GPT-Neo: none). */
    attnBias: z.boolean().optional(),
    /** Bias of W_O (defaults to attnBias; GPT-Neo has it without Q/K/V biases). */
    attnOutBias: z.boolean().optional(),
    /** Biases of W_in, W_gate, W_out. */
    mlpBias: z.boolean().optional(),
    /** Bias of the unembedding (GPT-2, GPT-NeoX, Llama: none). */
    unembedBias: z.boolean().optional(),
    /** The unembedding is W_E transposed (no unembed.W_U parameter); needs outputSize = vocabSize. */
    tiedEmbeddings: z.boolean().optional(),
    dropout: z.number().min(0).lt(1),
    /** Std of the normal initialisation of matrices and embeddings (minGPT: 0.02). */
    initStd: z.number().min(0),
  })
  .strict();

export type ModelConfig = z.input<typeof ModelConfigSchema>;
/** What every optional knob resolves to. */
export type ResolvedModelConfig = Omit<Required<ModelConfig>, 'attentionWindows'> & { attentionWindows: (number | null)[] };
export type ModelConfigInput = Partial<ModelConfig> & Pick<ModelConfig, 'vocabSize'>;

/** minGPT "gpt-mini": 6 layers, 6 heads, width 192 — the paper's PCFG model. */
export const GPT_MINI: Omit<ModelConfig, 'vocabSize'> = {
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

export class ModelConfigError extends WraplabError {}

/** Fills every default and checks the config as a whole; throws one ModelConfigError naming each problem. */
export function resolveModelConfig(partial: ModelConfigInput): ResolvedModelConfig {
  const parsed = ModelConfigSchema.safeParse({ ...GPT_MINI, ...partial });
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`);
    throw new ModelConfigError(`model config: ${issues.join('; ')}`);
  }
  const c = parsed.data;
  const dHead = c.dHead ?? Math.floor(c.dModel / c.nHeads);
  const attnBias = c.attnBias ?? c.bias;
  const resolved: ResolvedModelConfig = {
    ...c,
    outputSize: c.outputSize ?? c.vocabSize,
    dHead,
    dMlp: c.dMlp ?? 4 * c.dModel,
    nKVHeads: c.nKVHeads ?? c.nHeads,
    normEps: c.normEps ?? 1e-5,
    rotaryFraction: c.rotaryFraction ?? 1,
    rotaryBase: c.rotaryBase ?? 10000,
    attnScale: c.attnScale ?? 1 / Math.sqrt(dHead),
    attentionWindows: c.attentionWindows ?? Array.from({ length: c.nLayers }, () => null),
    parallelResidual: c.parallelResidual ?? false,
    attnBias,
    attnOutBias: c.attnOutBias ?? attnBias,
    mlpBias: c.mlpBias ?? c.bias,
    unembedBias: c.unembedBias ?? c.bias,
    tiedEmbeddings: c.tiedEmbeddings ?? false,
  };
  const problems = crossChecks(resolved);
  if (problems.length) throw new ModelConfigError(`model config: ${problems.join('; ')}`);
  return resolved;
}

function crossChecks(c: ResolvedModelConfig): string[] {
  const out: string[] = [];
  if (c.dHead < 1) out.push(`dHead: dModel ${c.dModel} / nHeads ${c.nHeads} leaves no width per head; set dHead`);
  if (c.nHeads % c.nKVHeads !== 0) out.push(`nKVHeads: ${c.nKVHeads} must divide nHeads ${c.nHeads}`);
  if (c.positions === 'rope' && (rotaryDim(c) < 2 || rotaryDim(c) % 2 !== 0)) {
    out.push(`rope needs an even rotary width: dHead ${c.dHead} x rotaryFraction ${c.rotaryFraction} = ${rotaryDim(c)}`);
  }
  if (c.attentionWindows.length !== c.nLayers) out.push(`attentionWindows: ${c.attentionWindows.length} entries for ${c.nLayers} layers`);
  if (!c.causal && c.attentionWindows.some((w) => w !== null)) out.push('attentionWindows: local attention needs a causal model');
  if (c.tiedEmbeddings && c.outputSize !== c.vocabSize) out.push(`tiedEmbeddings: outputSize ${c.outputSize} must equal vocabSize ${c.vocabSize}`);
  return out;
}

/** Dimensions of each head that rotate (the first ones; the rest pass through). */
export function rotaryDim(c: Pick<ResolvedModelConfig, 'dHead' | 'rotaryFraction'>): number {
  return Math.floor(c.dHead * c.rotaryFraction);
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
  const hq = c.nHeads * c.dHead;
  const hkv = c.nKVHeads * c.dHead;
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
    for (const [m, width] of [['Q', hq], ['K', hkv], ['V', hkv]] as const) {
      add(`${p}.attn.W_${m}`, [c.dModel, width], 'normal', true);
      if (c.attnBias) add(`${p}.attn.b_${m}`, [width], 'zeros');
    }
    add(`${p}.attn.W_O`, [hq, c.dModel], 'normal_residual', true);
    if (c.attnOutBias) add(`${p}.attn.b_O`, [c.dModel], 'zeros');
    norm(`${p}.ln2`);
    add(`${p}.mlp.W_in`, [c.dModel, c.dMlp], 'normal', true);
    if (c.mlpBias) add(`${p}.mlp.b_in`, [c.dMlp], 'zeros');
    if (c.activation === 'swiglu') {
      add(`${p}.mlp.W_gate`, [c.dModel, c.dMlp], 'normal', true);
      if (c.mlpBias) add(`${p}.mlp.b_gate`, [c.dMlp], 'zeros');
    }
    add(`${p}.mlp.W_out`, [c.dMlp, c.dModel], 'normal_residual', true);
    if (c.mlpBias) add(`${p}.mlp.b_out`, [c.dModel], 'zeros');
  }
  norm('ln_final');
  if (!c.tiedEmbeddings) add('unembed.W_U', [c.dModel, c.outputSize], 'normal', true);
  if (c.unembedBias) add('unembed.b_U', [c.outputSize], 'zeros');
  return specs;
}
