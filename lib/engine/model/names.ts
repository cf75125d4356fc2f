/**
 * Stable names of activations (hook points) and parameters, TransformerLens style: `blocks.3.attn.pattern`,
 * `blocks.2.mlp.W_in`. Every place that addresses a unit — caches, hooks, masks, probes, pruning — builds its names
 * here, so a renamed hook is one edit and a misspelt kind is a compile error.
 */
import type { ResolvedModelConfig } from './config';

/** Per-block activations, by the short kind `actName` takes. */
export const BLOCK_ACTIVATIONS = {
  resid_pre: 'resid_pre',
  q: 'attn.q',
  k: 'attn.k',
  v: 'attn.v',
  scores: 'attn.scores',
  pattern: 'attn.pattern',
  z: 'attn.z',
  attn_out: 'attn_out',
  resid_mid: 'resid_mid',
  mlp_pre: 'mlp.pre',
  mlp_hidden: 'mlp.hidden',
  mlp_out: 'mlp_out',
  resid_post: 'resid_post',
} as const;

/** Activations outside the blocks. */
export const MODEL_ACTIVATIONS = {
  embed: 'embed',
  pos_embed: 'pos_embed',
  ln_final: 'ln_final.normalized',
  logits: 'logits',
} as const;

export type BlockActivationKind = keyof typeof BLOCK_ACTIVATIONS;
export type ModelActivationKind = keyof typeof MODEL_ACTIVATIONS;
export type ActivationKind = BlockActivationKind | ModelActivationKind;

/** The hook-point name of an activation: actName('pattern', 3) = 'blocks.3.attn.pattern', actName('embed') = 'embed'. */
export function actName(kind: BlockActivationKind, layer: number): string;
export function actName(kind: ModelActivationKind): string;
export function actName(kind: ActivationKind, layer?: number): string {
  if (kind in MODEL_ACTIVATIONS) return MODEL_ACTIVATIONS[kind as ModelActivationKind];
  if (!(kind in BLOCK_ACTIVATIONS)) throw new Error(`actName: unknown activation kind "${kind}"; known: ${[...Object.keys(BLOCK_ACTIVATIONS), ...Object.keys(MODEL_ACTIVATIONS)].join(', ')}`);
  if (layer === undefined || !Number.isInteger(layer) || layer < 0) throw new Error(`actName: ${kind} lives in a block; give its layer (a non-negative integer), got ${layer}`);
  return `blocks.${layer}.${BLOCK_ACTIVATIONS[kind as BlockActivationKind]}`;
}

/** Per-block parameters, by short kind. */
export const BLOCK_PARAMS = {
  ln1_w: 'ln1.w',
  ln1_b: 'ln1.b',
  W_Q: 'attn.W_Q',
  W_K: 'attn.W_K',
  W_V: 'attn.W_V',
  W_O: 'attn.W_O',
  b_Q: 'attn.b_Q',
  b_K: 'attn.b_K',
  b_V: 'attn.b_V',
  b_O: 'attn.b_O',
  ln2_w: 'ln2.w',
  ln2_b: 'ln2.b',
  W_in: 'mlp.W_in',
  b_in: 'mlp.b_in',
  W_gate: 'mlp.W_gate',
  b_gate: 'mlp.b_gate',
  W_out: 'mlp.W_out',
  b_out: 'mlp.b_out',
} as const;

export const MODEL_PARAMS = {
  W_E: 'embed.W_E',
  W_pos: 'pos_embed.W_pos',
  ln_final_w: 'ln_final.w',
  ln_final_b: 'ln_final.b',
  W_U: 'unembed.W_U',
  b_U: 'unembed.b_U',
} as const;

export type BlockParamKind = keyof typeof BLOCK_PARAMS;
export type ModelParamKind = keyof typeof MODEL_PARAMS;

/** The name of a parameter: paramName('W_out', 2) = 'blocks.2.mlp.W_out', paramName('W_E') = 'embed.W_E'. */
export function paramName(kind: BlockParamKind, layer: number): string;
export function paramName(kind: ModelParamKind): string;
export function paramName(kind: BlockParamKind | ModelParamKind, layer?: number): string {
  if (kind in MODEL_PARAMS) return MODEL_PARAMS[kind as ModelParamKind];
  if (!(kind in BLOCK_PARAMS)) throw new Error(`paramName: unknown parameter kind "${kind}"`);
  if (layer === undefined || !Number.isInteger(layer) || layer < 0) throw new Error(`paramName: ${kind} lives in a block; give its layer, got ${layer}`);
  return `blocks.${layer}.${BLOCK_PARAMS[kind as BlockParamKind]}`;
}

/** The names of one kind of activation over every layer (or the given ones), in layer order. */
export function layerNames(kind: BlockActivationKind, nLayers: number, layers?: readonly number[]): string[] {
  return (layers ?? Array.from({ length: nLayers }, (_, i) => i)).map((l) => actName(kind, l));
}

/** Parses a block hook name: 'blocks.3.attn.pattern' -> { layer: 3, kind: 'pattern' }; null for any other name. */
export function parseActName(name: string): { layer: number; kind: BlockActivationKind } | null {
  const m = /^blocks\.(\d+)\.(.+)$/.exec(name);
  if (!m) return null;
  const kind = (Object.keys(BLOCK_ACTIVATIONS) as BlockActivationKind[]).find((k) => BLOCK_ACTIVATIONS[k] === m[2]);
  return kind ? { layer: Number(m[1]), kind } : null;
}

/** Every hook-point name a full forward pass produces, in order. */
export function activationNames(c: ResolvedModelConfig): string[] {
  const names: string[] = [actName('embed')];
  if (c.positions === 'learned') names.push(actName('pos_embed'));
  for (let i = 0; i < c.nLayers; i++) {
    for (const kind of Object.keys(BLOCK_ACTIVATIONS) as BlockActivationKind[]) {
      if (kind === 'resid_mid' && c.parallelResidual) continue;
      names.push(actName(kind, i));
    }
  }
  names.push(actName('ln_final'), actName('logits'));
  return names;
}
