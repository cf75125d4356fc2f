/**
 * The structural config.json fields of the real checkpoints users point wraplab at, so benchmarks and smoke runs
 * build models of exactly their shape (random weights) without downloading anything. Only fields that decide the
 * shape and the computation are listed; the on-disk dtype is what the Hub repository ships.
 */
import type { HfConfig } from './families';

export interface RealShape {
  /** The Hub repository whose config.json this reproduces. */
  repo: string;
  config: HfConfig;
  /** The dtype of the repository's safetensors weights. */
  dtype: 'F32' | 'F16' | 'BF16';
}

export const REAL_SHAPES: Record<string, RealShape> = {
  'gpt2': {
    repo: 'gpt2',
    dtype: 'F32',
    config: { model_type: 'gpt2', vocab_size: 50257, n_positions: 1024, n_ctx: 1024, n_embd: 768, n_layer: 12, n_head: 12, n_inner: null, activation_function: 'gelu_new', layer_norm_epsilon: 1e-5, bos_token_id: 50256, eos_token_id: 50256 },
  },
  'pythia-70m': {
    repo: 'EleutherAI/pythia-70m',
    dtype: 'F16',
    config: {
      model_type: 'gpt_neox', vocab_size: 50304, max_position_embeddings: 2048, hidden_size: 512, num_hidden_layers: 6, num_attention_heads: 8, intermediate_size: 2048,
      hidden_act: 'gelu', rotary_pct: 0.25, rotary_emb_base: 10000, use_parallel_residual: true, layer_norm_eps: 1e-5, tie_word_embeddings: false, bos_token_id: 0, eos_token_id: 0,
    },
  },
  'TinyStories-33M': {
    repo: 'roneneldan/TinyStories-33M',
    dtype: 'F32',
    config: {
      model_type: 'gpt_neo', vocab_size: 50257, max_position_embeddings: 2048, hidden_size: 768, num_layers: 4, num_heads: 16, intermediate_size: null,
      attention_types: [[['global', 'local'], 2]], window_size: 256, activation_function: 'gelu_new', layer_norm_epsilon: 1e-5, bos_token_id: 50256, eos_token_id: 50256,
    },
  },
  'SmolLM-135M': {
    repo: 'HuggingFaceTB/SmolLM-135M',
    dtype: 'BF16',
    config: {
      model_type: 'llama', vocab_size: 49152, max_position_embeddings: 2048, hidden_size: 576, num_hidden_layers: 30, num_attention_heads: 9, num_key_value_heads: 3,
      intermediate_size: 1536, hidden_act: 'silu', rms_norm_eps: 1e-5, rope_theta: 10000, rope_scaling: null, tie_word_embeddings: true, bos_token_id: 0, eos_token_id: 0,
    },
  },
};
