/**
 * HuggingFace tokenizers (tokenizer.json + optional tokenizer_config.json) for pretrained checkpoints.
 *
 * Built on `@huggingface/tokenizers` (HF's pure JS/TS port, the one Transformers.js uses): no native binary to
 * match to the platform, synchronous construction, and it reads tokenizer.json as the Hub ships it (BPE with
 * byte-level pre-tokenizer/decoder for GPT-2, GPT-Neo, Pythia, SmolLM). The Rust binding `tokenizers` brings a
 * platform binary and is used only to train tokenizers (the TinyStories BPE, lib/tasks/tinystories/bpe.ts). Correctness is checked in tests/pretrained/tokenizer.test.ts against an independent GPT-2 BPE (js-tiktoken),
 * and by hand against the Rust implementation (tests/pretrained/xcheck-rust.ts: GPT-2 and NeoX/SmolLM-style configs).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { WraplabError } from '../engine/errors';

export interface PretrainedTokenizer {
  /** Token ids of `text`; special tokens written in the text (e.g. `<|endoftext|>`) become their ids, and the
   *  tokenizer's post-processor runs (adds BOS where the model's tokenizer.json says so), as HF's encode does. */
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
  /** The exact text of `ids` (no clean-up of spaces before punctuation, so decode(encode(s)) === s). */
  decode(ids: number[], opts?: { skipSpecialTokens?: boolean }): string;
  /** Highest token id + 1, added tokens included (may be below config.json's padded vocab_size, e.g. Pythia). */
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  tokenToId(t: string): number | null;
  idToToken(id: number): string | null;
}

/** A tokenizer file that cannot be used: names the file (or the id) and the fix. */
export class TokenizerError extends WraplabError {}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

// Names that mean BOS/EOS when tokenizer_config.json is absent. GPT-2's `<|endoftext|>` is both (its config.json
// says bos_token_id = eos_token_id = 50256).
const BOS_NAMES = ['<s>', '<bos>', '<|begin_of_text|>', '<|startoftext|>', '<|endoftext|>'];
const EOS_NAMES = ['</s>', '<eos>', '<|end_of_text|>', '<|endoftext|>'];

function readJson(file: string, fix: string): Json {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new TokenizerError(`${file} not found: ${fix}`);
    throw new TokenizerError(`cannot read ${file}: ${code ?? (e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new TokenizerError(`${file} is not valid JSON (${(e as Error).message}); download it again`);
  }
  if (!isObject(json)) throw new TokenizerError(`${file} must hold a JSON object; download it again`);
  return json;
}

/** Reads `dir`/tokenizer.json and, when present, `dir`/tokenizer_config.json (for bos/eos and added special tokens). */
export function loadTokenizer(dir: string): PretrainedTokenizer {
  const file = path.join(dir, 'tokenizer.json');
  if (!fs.existsSync(file) && fs.existsSync(path.join(dir, 'vocab.json'))) {
    // A "slow" tokenizer (vocab.json + merges.txt) only: its pre-tokenization rules live in Python code, not data.
    throw new TokenizerError(
      `${file} not found (${dir} has only vocab.json/merges.txt, a Python "slow" tokenizer): write tokenizer.json with ` +
        `python -c "from transformers import AutoTokenizer as T; T.from_pretrained('${dir}').save_pretrained('${dir}')"`,
    );
  }
  const json = readJson(file, `pass a folder holding a HuggingFace tokenizer.json (downloadModel(repoId) fetches one with the model)`);
  const configFile = path.join(dir, 'tokenizer_config.json');
  const config = fs.existsSync(configFile) ? readJson(configFile, '') : undefined;
  return build(json, config, file, configFile);
}

/** A tokenizer from parsed tokenizer.json (and tokenizer_config.json) objects. */
export function tokenizerFromJson(json: object, config?: object): PretrainedTokenizer {
  return build(json, config, 'tokenizer.json', 'tokenizer_config.json');
}

/** The token text of a tokenizer_config.json entry: a string, or an AddedToken object {content, ...}. */
function tokenContent(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (isObject(v) && typeof v.content === 'string') return v.content;
  return null;
}

function build(json: object, config: object | undefined, source: string, configSource: string): PretrainedTokenizer {
  if (!isObject(json)) throw new TokenizerError(`${source} must hold a JSON object`);
  if (!isObject(json.model)) throw new TokenizerError(`${source} has no "model" object: it is not a HuggingFace tokenizer.json`);
  if (json.added_tokens !== undefined && !Array.isArray(json.added_tokens)) throw new TokenizerError(`${source}: "added_tokens" must be an array`);
  if (config !== undefined && !isObject(config)) throw new TokenizerError(`${configSource} must hold a JSON object`);
  const cfg: Json = config ?? {};
  // The library requires every pipeline stage key and an added_tokens array; tokenizer.json files written by
  // older `tokenizers` versions omit the null ones.
  const full: Json = { normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, added_tokens: [], ...json };
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(full, cfg);
  } catch (e) {
    throw new TokenizerError(`${source} cannot be used: ${(e as Error).message}`);
  }
  const vocab = tok.get_vocab(true);
  let vocabSize = 0;
  for (const id of vocab.values()) vocabSize = Math.max(vocabSize, id + 1);

  const tokenToId = (t: string): number | null => tok.token_to_id(t) ?? null;
  const idToToken = (id: number): string | null => (Number.isInteger(id) ? (tok.id_to_token(id) ?? null) : null);

  const specialId = (key: 'bos_token' | 'eos_token', names: string[]): number | null => {
    if (key in cfg) {
      const content = tokenContent(cfg[key]);
      if (content === null) return null; // explicitly null in the config: the model has none
      const id = tokenToId(content);
      if (id === null) throw new TokenizerError(`${configSource}: ${key} "${content}" is not in ${source}'s vocabulary; correct or remove ${key} there`);
      return id;
    }
    const special = new Set(
      ((full.added_tokens as unknown[]) ?? []).filter((t): t is Json => isObject(t) && t.special === true).map((t) => t.content),
    );
    for (const n of names) if (special.has(n)) return tokenToId(n);
    return null;
  };
  const bosTokenId = specialId('bos_token', BOS_NAMES);
  const eosTokenId = specialId('eos_token', EOS_NAMES);

  return {
    vocabSize,
    bosTokenId,
    eosTokenId,
    tokenToId,
    idToToken,
    encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
      if (typeof text !== 'string') throw new TokenizerError(`encode needs a string, got ${typeof text}`);
      const ids = tok.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true }).ids;
      // The library maps text it cannot tokenize to the unk id, which is undefined for byte-level BPE without unk.
      const bad = ids.findIndex((id) => id === undefined);
      if (bad >= 0) throw new TokenizerError(`${source} has no token for part of the text and no unk_token; the text cannot be encoded`);
      return ids;
    },
    decode(ids: number[], opts: { skipSpecialTokens?: boolean } = {}): string {
      if (ids.length === 0) return ''; // the library throws on an empty list
      for (const id of ids) {
        if (idToToken(id) === null) throw new TokenizerError(`decode: token id ${id} is not in the vocabulary (ids run 0..${vocabSize - 1})`);
      }
      // clean_up_tokenization_spaces would turn " ." into "." and break the round trip that analysis relies on.
      return tok.decode(ids, { skip_special_tokens: opts.skipSpecialTokens ?? false, clean_up_tokenization_spaces: false });
    },
  };
}
