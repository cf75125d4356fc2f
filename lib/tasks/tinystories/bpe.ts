/**
 * A byte-level BPE tokenizer trained on the corpus, for real TinyStories text (the authors used an 8,192-piece BPE,
 * spec §3). Real stories have an open vocabulary (invented names, rare words, typos) that the word tokenizer can
 * only spell out in characters; BPE covers it with subword pieces.
 *
 * Training runs in HuggingFace's Rust `tokenizers` (its Node binding ships the platform binary inside the npm
 * package). That binding exposes no trainer options, so it trains with its defaults (up to 30,000 pieces) and the
 * result is cut to `vocabSize`: BPE merges are learned greedily in order, so the first N merges are exactly what a
 * trainer stopped at N would have learned. The saved form is a standard tokenizer.json (HF's libraries and
 * `wl.pretrained` read it); encoding and decoding use HF's JS port, which is synchronous like the word tokenizer.
 *
 * Ids 0..3 are the word tokenizer's special tokens, then the 256 byte symbols, then one id per merge. Byte-level
 * pieces make decode(encode(text)) === text for any text, so no UNK ever appears. Digits are split one by one
 * (as the authors' tokenizer does), and a word carries its leading space (" Once"), as in GPT-2.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { WraplabError } from '../../engine/errors';
import { SPECIAL_TOKENS, WordTokenizer, type EncodeOptions, type TokenizerJSON } from './tokenizer';

/** What the TinyStories pipeline needs of a tokenizer: the word tokenizer and the BPE both provide it. */
export interface StoryTokenizer {
  readonly kind: 'word' | 'bpe';
  readonly vocabSize: number;
  readonly padId: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly unkId: number;
  encode(text: string, options?: EncodeOptions): number[];
  /** Special tokens are dropped. */
  decode(ids: readonly number[] | Int32Array): string;
  /** The text of one token; a special token's name (a byte of a multi-byte character decodes to U+FFFD). */
  pieceOf(id: number): string;
  toJSON(): object;
}

export interface BpeConfig {
  /** Total vocabulary: 4 special tokens + 256 bytes + merges. */
  vocabSize: number;
}

/** 4 special tokens and the 256 byte symbols come before any merge. */
export const BPE_MIN_VOCAB = SPECIAL_TOKENS.length + 256;
// The Rust trainer's default vocabulary size, the most the binding can learn.
const TRAINER_MAX_VOCAB = 30000;

type Json = Record<string, unknown>;

// Trains with HF's Rust trainer (argv: module path, corpus file, output tokenizer.json; the byte alphabet beside it).
const TRAIN_SCRIPT = `
const [mod, corpus, out] = process.argv.slice(1);
const t = require(mod);
const tok = new t.Tokenizer(t.BPE.empty());
tok.setPreTokenizer(t.sequencePreTokenizer([t.digitsPreTokenizer(true), t.byteLevelPreTokenizer(false, true)]));
tok.train([corpus]);
tok.save(out, false);
require('fs').writeFileSync(out + '.alphabet', JSON.stringify(t.byteLevelAlphabet()));
`;

// The pipeline the trainer runs and the saved tokenizer.json repeats.
const PRE_TOKENIZER = {
  type: 'Sequence',
  pretokenizers: [
    { type: 'Digits', individual_digits: true },
    { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
  ],
};
const DECODER = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };

export class BpeTokenizer implements StoryTokenizer {
  readonly kind = 'bpe' as const;
  readonly padId = 0;
  readonly bosId = 1;
  readonly eosId = 2;
  readonly unkId = 3;
  readonly vocabSize: number;
  private readonly tok: HfTokenizer;
  private readonly pieces: string[];

  private constructor(private readonly json: Json) {
    const model = json.model as Json;
    const vocab = model.vocab as Record<string, number>;
    this.pieces = [];
    for (const [piece, id] of Object.entries(vocab)) this.pieces[id] = piece;
    this.vocabSize = this.pieces.length;
    for (let i = 0; i < SPECIAL_TOKENS.length; i++) {
      if (this.pieces[i] !== SPECIAL_TOKENS[i]) throw new WraplabError(`BPE tokenizer: id ${i} must be ${SPECIAL_TOKENS[i]}, got ${this.pieces[i]}`);
    }
    this.tok = new HfTokenizer(json, {});
  }

  /**
   * Learns `vocabSize` pieces from the texts (the instruct-formatted pretraining stories). Deterministic: the same
   * texts give the same tokenizer.
   */
  static train(texts: Iterable<string>, config: BpeConfig): BpeTokenizer {
    const { vocabSize } = config;
    if (!Number.isInteger(vocabSize) || vocabSize < BPE_MIN_VOCAB || vocabSize > TRAINER_MAX_VOCAB) {
      throw new WraplabError(`BPE vocabSize ${vocabSize} is out of range: it needs ${BPE_MIN_VOCAB}..${TRAINER_MAX_VOCAB} (4 special tokens + 256 bytes + merges); set corpus.vocabSize, or corpus.tokenizer=word`);
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-bpe-'));
    try {
      const corpus = path.join(dir, 'corpus.txt');
      const fd = fs.openSync(corpus, 'w');
      try {
        for (const t of texts) fs.writeSync(fd, `${t}\n`);
      } finally {
        fs.closeSync(fd);
      }
      const out = path.join(dir, 'tokenizer.json');
      // In a child process: the Rust trainer writes progress lines to stdout, which would corrupt a CLI's --json.
      const child = spawnSync(process.execPath, ['-e', TRAIN_SCRIPT, require.resolve('tokenizers'), corpus, out], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
      if (child.status !== 0) throw new WraplabError(`BPE training failed (the native tokenizers binding): ${child.error?.message ?? child.stderr.trim().split('\n').slice(-3).join(' ')}`);
      const learned = (JSON.parse(fs.readFileSync(out, 'utf8')) as Json).model as Json;
      const alphabet = JSON.parse(fs.readFileSync(`${out}.alphabet`, 'utf8')) as string[];
      return BpeTokenizer.fromMerges(normaliseMerges(learned.merges), vocabSize, alphabet);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  /**
   * The tokenizer of the first merges that fill `vocabSize`: ids are the specials, the 256 byte symbols of the
   * byte-level alphabet (sorted, so ids do not depend on the corpus), then merges in order.
   */
  static fromMerges(merges: readonly (readonly [string, string])[], vocabSize: number, byteAlphabet: readonly string[]): BpeTokenizer {
    if (byteAlphabet.length !== 256) throw new WraplabError(`a byte-level alphabet has 256 symbols, got ${byteAlphabet.length}`);
    const vocab: Record<string, number> = {};
    let next = 0;
    const add = (p: string) => {
      if (!(p in vocab)) vocab[p] = next++;
    };
    SPECIAL_TOKENS.forEach(add);
    [...byteAlphabet].sort().forEach(add);
    const kept: [string, string][] = [];
    for (const [a, b] of merges) {
      if (next >= vocabSize) break;
      if (!(a in vocab) || !(b in vocab)) throw new WraplabError(`BPE merge "${a} ${b}" uses a piece no earlier merge made`);
      kept.push([a, b]);
      add(a + b);
    }
    return new BpeTokenizer({
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: SPECIAL_TOKENS.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
      normalizer: null,
      pre_tokenizer: PRE_TOKENIZER,
      post_processor: null,
      decoder: DECODER,
      model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: kept },
    });
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    const ids = this.tok.encode(text, { add_special_tokens: false }).ids;
    return [...(options.bos ? [this.bosId] : []), ...ids, ...(options.eos ? [this.eosId] : [])];
  }

  decode(ids: readonly number[] | Int32Array): string {
    const keep: number[] = [];
    for (const id of ids) {
      if (id === this.padId || id === this.bosId || id === this.eosId) continue;
      if (this.pieces[id] === undefined) throw new WraplabError(`token id ${id} is outside the vocabulary (${this.vocabSize})`);
      keep.push(id);
    }
    if (keep.length === 0) return '';
    return this.tok.decode(keep, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
  }

  pieceOf(id: number): string {
    return id < SPECIAL_TOKENS.length ? SPECIAL_TOKENS[id] : this.decode([id]);
  }

  /** A standard HuggingFace tokenizer.json. */
  toJSON(): object {
    return this.json;
  }

  static fromJSON(json: object): BpeTokenizer {
    const j = json as Json;
    const model = j?.model as Json | undefined;
    if (model?.type !== 'BPE' || typeof model.vocab !== 'object' || !Array.isArray(model.merges)) {
      throw new WraplabError('not a BPE tokenizer.json (expected model.type "BPE" with vocab and merges)');
    }
    return new BpeTokenizer(j);
  }
}

/** Merges as pairs (tokenizer.json writes them as pairs since tokenizers 0.20, as "a b" strings before). */
function normaliseMerges(merges: unknown): [string, string][] {
  if (!Array.isArray(merges)) throw new WraplabError('the BPE trainer returned no merges');
  return merges.map((m) => {
    if (Array.isArray(m) && m.length === 2) return [String(m[0]), String(m[1])];
    if (typeof m === 'string' && m.indexOf(' ') > 0) {
      const i = m.indexOf(' ');
      return [m.slice(0, i), m.slice(i + 1)];
    }
    throw new WraplabError(`the BPE trainer returned a malformed merge: ${JSON.stringify(m)}`);
  });
}

/** The tokenizer a saved tokenizer.json holds: the word tokenizer's own format or a BPE tokenizer.json. */
export function storyTokenizerFromJSON(json: object): StoryTokenizer {
  if ((json as TokenizerJSON)?.type === 'wraplab-word-tokenizer-v1') return WordTokenizer.fromJSON(json as TokenizerJSON);
  if (((json as Json)?.model as Json | undefined)?.type === 'BPE') return BpeTokenizer.fromJSON(json);
  throw new WraplabError('tokenizer.json is neither a wraplab word tokenizer nor a BPE tokenizer.json; delete it to retrain');
}
