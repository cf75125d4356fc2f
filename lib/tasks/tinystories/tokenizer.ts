/**
 * Word-level tokenizer with punctuation split, leading-space pieces and a character fallback.
 *
 * Why not the authors' 8192-piece SentencePiece BPE (spec §3)? The procedural corpus has a closed
 * vocabulary of ~1,300 words, so whole words are the natural unit, keep sequences short (a story is
 * ~1.2 tokens per word) and make probes and debugging readable. It needs no npm dependency.
 *
 * Pieces are GPT-2-like: a word carries its leading space (" Once"), punctuation and single digits
 * are their own pieces (the authors split digits too), "\n" is a piece. Concatenating the pieces
 * gives the text back exactly. A piece outside the vocabulary is spelled with character tokens (every
 * character seen in training is in the vocabulary), and only a character never seen becomes UNK:
 * decode(encode(text)) === text for any text over the training alphabet.
 */

export const PAD = '<pad>';
export const BOS = '<bos>';
export const EOS = '<eos>';
export const UNK = '<unk>';
/** Ids 0..3, fixed. BOS = 1 as in the authors' llama2.c tokenizer. */
export const SPECIAL_TOKENS = [PAD, BOS, EOS, UNK] as const;

const PIECE = /\n|\r| ?\p{L}+(?:'\p{L}+)*| ?\p{N}| ?[^\s\p{L}\p{N}]|[^\S\n\r]+/gu;

/** Split text into pieces whose concatenation is the text. */
export function pretokenize(text: string): string[] {
  return text.match(PIECE) ?? [];
}

export interface TokenizerConfig {
  /** Total vocabulary size, special tokens and characters included. */
  vocabSize: number;
  /** Pieces seen fewer times are left to the character fallback. */
  minCount: number;
}

export const DEFAULT_TOKENIZER_CONFIG: TokenizerConfig = { vocabSize: 4096, minCount: 2 };

export interface TokenizerJSON {
  type: 'wraplab-word-tokenizer-v1';
  /** Piece of each id; ids 0..3 are the special tokens. */
  vocab: string[];
}

export interface EncodeOptions {
  bos?: boolean;
  eos?: boolean;
}

function byCountThenText(counts: Map<string, number>) {
  return (a: string, b: string) => (counts.get(b)! - counts.get(a)!) || (a < b ? -1 : a > b ? 1 : 0);
}

export class WordTokenizer {
  readonly kind = 'word' as const;
  readonly vocab: readonly string[];
  private readonly ids: Map<string, number>;
  readonly padId = 0;
  readonly bosId = 1;
  readonly eosId = 2;
  readonly unkId = 3;

  constructor(vocab: readonly string[]) {
    for (let i = 0; i < SPECIAL_TOKENS.length; i++) {
      if (vocab[i] !== SPECIAL_TOKENS[i]) throw new Error(`vocab[${i}] must be ${SPECIAL_TOKENS[i]}, got ${vocab[i]}`);
    }
    this.vocab = vocab.slice();
    this.ids = new Map(vocab.map((p, i) => [p, i]));
    if (this.ids.size !== vocab.length) throw new Error('vocabulary has duplicate pieces');
  }

  /**
   * Count pieces and characters over the texts. Characters go in first (so the fallback can spell
   * any known word), then the most frequent pieces until vocabSize. Ties break alphabetically so
   * the result does not depend on Map iteration order.
   */
  static train(texts: Iterable<string>, config: Partial<TokenizerConfig> = {}): WordTokenizer {
    const { vocabSize, minCount } = { ...DEFAULT_TOKENIZER_CONFIG, ...config };
    const pieceCounts = new Map<string, number>();
    const charCounts = new Map<string, number>();
    for (const text of texts) {
      for (const p of pretokenize(text)) {
        pieceCounts.set(p, (pieceCounts.get(p) ?? 0) + 1);
        for (const c of p) charCounts.set(c, (charCounts.get(c) ?? 0) + 1);
      }
    }
    const vocab: string[] = [...SPECIAL_TOKENS];
    const room = vocabSize - vocab.length;
    if (room <= 0) throw new Error(`vocabSize ${vocabSize} leaves no room after the special tokens`);
    const chars = [...charCounts.keys()].sort(byCountThenText(charCounts)).slice(0, room);
    vocab.push(...chars);
    const known = new Set(vocab);
    const pieces = [...pieceCounts.keys()]
      .filter((p) => !known.has(p) && pieceCounts.get(p)! >= minCount)
      .sort(byCountThenText(pieceCounts));
    vocab.push(...pieces.slice(0, vocabSize - vocab.length));
    return new WordTokenizer(vocab);
  }

  get vocabSize(): number {
    return this.vocab.length;
  }

  idOf(piece: string): number | undefined {
    return this.ids.get(piece);
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    const out: number[] = [];
    if (options.bos) out.push(this.bosId);
    for (const p of pretokenize(text)) {
      const id = this.ids.get(p);
      if (id !== undefined) {
        out.push(id);
        continue;
      }
      for (const c of p) out.push(this.ids.get(c) ?? this.unkId);
    }
    if (options.eos) out.push(this.eosId);
    return out;
  }

  pieceOf(id: number): string {
    const piece = this.vocab[id];
    if (piece === undefined) throw new Error(`token id ${id} is outside the vocabulary (${this.vocab.length})`);
    return piece;
  }

  /** Special tokens are dropped, UNK is written as "<unk>". */
  decode(ids: readonly number[] | Int32Array): string {
    let s = '';
    for (const id of ids) {
      if (id === this.padId || id === this.bosId || id === this.eosId) continue;
      const piece = this.vocab[id];
      if (piece === undefined) throw new Error(`token id ${id} is outside the vocabulary (${this.vocab.length})`);
      s += piece;
    }
    return s;
  }

  toJSON(): TokenizerJSON {
    return { type: 'wraplab-word-tokenizer-v1', vocab: this.vocab.slice() };
  }

  static fromJSON(json: TokenizerJSON): WordTokenizer {
    if (json?.type !== 'wraplab-word-tokenizer-v1' || !Array.isArray(json.vocab)) {
      throw new Error('not a wraplab word tokenizer JSON (expected type "wraplab-word-tokenizer-v1")');
    }
    return new WordTokenizer(json.vocab);
  }
}
