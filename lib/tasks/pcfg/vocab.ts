/**
 * The PCFG tasks' vocabulary: one fixed token list for every scale, so a model's embedding and
 * unembedding mean the same thing at `smoke`, `laptop` and `paper` scale. Numbers are single tokens
 * 0..MAX_NUMBER (250 covers every answer and O' at the paper's 250-token text).
 *
 * Layout (ids are positions in PCFG_TOKENS):
 *   0  PAD   padding (never a target with weight > 0)
 *   1  SOS   start of sequence            2  EOS  end of sequence
 *   3  SOT   start of text                4  EOT  end of text
 *   5  ART   answer request: the model's answer is predicted at this position
 *   6  T_C   Counting (also the jailbreak protocol's T_NJ)
 *   7  T_CC  Counting composition         8  T_I   Index of occurrence
 *   9  T_IC  Index of composition element 10 T_T  Token value at index
 *   11 T_J1  12 T_J2   extra counting tokens for the jailbreak protocol (App. E.2)
 *   13 NULL  operand of Token-value-at-index; also the answer "no such occurrence"
 *   14..16   a b c          (terminals and single-symbol operands)
 *   17..25   aa ab ac ba bb bc ca cb cc   (pair operands of the composition tasks)
 *   26..276  0 1 2 ... 250  (numbers)
 */
import { TERMINALS } from './grammar';

export const MAX_NUMBER = 250;

export const SPECIAL_TOKENS = ['PAD', 'SOS', 'EOS', 'SOT', 'EOT', 'ART'] as const;
export const FAMILY_TOKENS = ['T_C', 'T_CC', 'T_I', 'T_IC', 'T_T', 'T_J1', 'T_J2'] as const;
export const PAIR_OPERANDS: readonly string[] = TERMINALS.flatMap((x) => TERMINALS.map((y) => x + y));

export const PCFG_TOKENS: readonly string[] = [
  ...SPECIAL_TOKENS,
  ...FAMILY_TOKENS,
  'NULL',
  ...TERMINALS,
  ...PAIR_OPERANDS,
  ...Array.from({ length: MAX_NUMBER + 1 }, (_, n) => String(n)),
];

export const VOCAB_SIZE = PCFG_TOKENS.length;

const ID = new Map(PCFG_TOKENS.map((t, i) => [t, i]));

/** Token id of a token name; throws "wrong vocabulary" for anything not in PCFG_TOKENS. */
export function tokenId(token: string): number {
  const id = ID.get(token);
  if (id === undefined) throw new Error(`wrong vocabulary: '${token}' is not a PCFG token`);
  return id;
}

/** Named ids the generators use on every sequence. */
export const TOK = {
  PAD: tokenId('PAD'),
  SOS: tokenId('SOS'),
  EOS: tokenId('EOS'),
  SOT: tokenId('SOT'),
  EOT: tokenId('EOT'),
  ART: tokenId('ART'),
  NULL: tokenId('NULL'),
  /** id of terminal code 0 (a); terminal code t has id TERMINAL0 + t. */
  TERMINAL0: tokenId('a'),
  /** id of pair operand 'aa'; pair (x, y) of terminal codes has id PAIR0 + 3x + y. */
  PAIR0: tokenId('aa'),
  /** id of the number 0; number k has id NUMBER0 + k. */
  NUMBER0: tokenId('0'),
} as const;

/** Token id of the number k (0..MAX_NUMBER). */
export function numberId(k: number): number {
  if (!(Number.isInteger(k) && k >= 0 && k <= MAX_NUMBER)) {
    throw new Error(`wrong vocabulary: number ${k} is outside 0..${MAX_NUMBER}`);
  }
  return TOK.NUMBER0 + k;
}

/** The number a token id stands for, or null if it is not a number token. */
export function idToNumber(id: number): number | null {
  return id >= TOK.NUMBER0 && id <= TOK.NUMBER0 + MAX_NUMBER ? id - TOK.NUMBER0 : null;
}

export function encode(tokens: readonly string[]): Int32Array {
  return Int32Array.from(tokens, tokenId);
}

/** Ids -> token names; throws "wrong vocabulary" for ids outside 0..VOCAB_SIZE-1. */
export function decode(ids: ArrayLike<number>): string[] {
  const out: string[] = [];
  for (let i = 0; i < ids.length; i++) {
    const t = PCFG_TOKENS[ids[i]];
    if (t === undefined) throw new Error(`wrong vocabulary: id ${ids[i]} is outside 0..${VOCAB_SIZE - 1}`);
    out.push(t);
  }
  return out;
}

/** Human-readable one-line rendering, text collapsed: "SOS T_C a 40 SOT abcab... EOT ART 15 EOS". */
export function render(ids: ArrayLike<number>): string {
  const parts: string[] = [];
  let text = '';
  for (const t of decode(ids)) {
    if ((TERMINALS as readonly string[]).includes(t) && parts[parts.length - 1] === 'SOT') text += t;
    else {
      if (text) parts.push(text), (text = '');
      parts.push(t);
    }
  }
  if (text) parts.push(text);
  return parts.join(' ');
}
