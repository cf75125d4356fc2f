/**
 * A small random checkpoint in exact HuggingFace layout, with a byte-level tokenizer.json: what notebooks and tests
 * load at `smoke` (no internet) through the same loadPretrained path a downloaded model takes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Transformer } from '../engine/model';
import { ensureDir, writeFileAtomic } from '../engine/fsutil';
import { savePretrained } from './checkpoint';
import type { FamilyName, HfConfig } from './families';
import { configFromHf } from './checkpoint';

/** GPT-2's byte -> printable character table, the alphabet of byte-level BPE. */
export function byteLevelAlphabet(): string[] {
  const keep = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const out: string[] = [];
  let n = 0;
  for (let b = 0; b < 256; b++) out[b] = String.fromCharCode(keep(b) ? b : 256 + n++);
  return out;
}

export const DEMO_EOS = '<|endoftext|>';

/** A byte-level BPE tokenizer.json without merges: 256 byte tokens and <|endoftext|> (id 256). */
export function byteLevelTokenizerJson(): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  byteLevelAlphabet().forEach((ch, b) => (vocab[ch] = b));
  vocab[DEMO_EOS] = 256;
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [{ id: 256, content: DEMO_EOS, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: byteLevel,
    decoder: byteLevel,
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab, merges: [] },
  };
}

/** Small configs of each family (vocabulary 257: the byte-level tokenizer). */
export const DEMO_CONFIGS: Record<FamilyName, HfConfig> = {
  gpt2: { model_type: 'gpt2', vocab_size: 257, n_positions: 256, n_embd: 64, n_layer: 2, n_head: 4, activation_function: 'gelu_new', layer_norm_epsilon: 1e-5 },
  gpt_neo: {
    model_type: 'gpt_neo', vocab_size: 257, max_position_embeddings: 256, hidden_size: 64, num_layers: 2, num_heads: 4, attention_types: [[['global', 'local'], 1]],
    window_size: 32, activation_function: 'gelu_new', layer_norm_epsilon: 1e-5,
  },
  gpt_neox: {
    model_type: 'gpt_neox', vocab_size: 257, max_position_embeddings: 256, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 256,
    hidden_act: 'gelu', rotary_pct: 0.25, rotary_emb_base: 10000, use_parallel_residual: true, layer_norm_eps: 1e-5, tie_word_embeddings: false,
  },
  llama: {
    model_type: 'llama', vocab_size: 257, max_position_embeddings: 256, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2,
    intermediate_size: 172, hidden_act: 'silu', rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: true,
  },
};

/**
 * Writes a randomly initialised model of `family` (DEMO_CONFIGS, weights from `seed`) with the byte-level tokenizer
 * into `dir`, as transformers' save_pretrained would. Returns `dir`. An existing demo checkpoint is reused.
 */
export function writeRandomCheckpoint(dir: string, { family = 'gpt_neo', seed = 0 }: { family?: FamilyName; seed?: number } = {}): string {
  const hf: HfConfig = { ...DEMO_CONFIGS[family], bos_token_id: 256, eos_token_id: 256, wraplab_demo_seed: seed };
  const marker = path.join(dir, 'config.json');
  if (fs.existsSync(marker)) {
    const old = JSON.parse(fs.readFileSync(marker, 'utf8'));
    if (old.model_type === hf.model_type && old.wraplab_demo_seed === seed && fs.existsSync(path.join(dir, 'tokenizer.json'))) return dir;
  }
  const model = new Transformer({ ...configFromHf(hf).config, initStd: 0.02 }, seed);
  ensureDir(path.dirname(path.resolve(dir)));
  const tmpTok = fs.mkdtempSync(`${path.resolve(dir)}.tok-`);
  try {
    writeFileAtomic(path.join(tmpTok, 'tokenizer.json'), JSON.stringify(byteLevelTokenizerJson()));
    writeFileAtomic(path.join(tmpTok, 'tokenizer_config.json'), JSON.stringify({ bos_token: DEMO_EOS, eos_token: DEMO_EOS, model_max_length: 256 }));
    savePretrained(model, dir, { family, tokenizerDir: tmpTok, overwrite: true, hfConfig: hf });
  } finally {
    model.dispose();
    fs.rmSync(tmpTok, { recursive: true, force: true });
  }
  return dir;
}
