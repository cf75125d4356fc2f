/**
 * The paper's probabilistic context-free grammar (App. B.2, Fig. 14; after Allen-Zhu & Li 2023):
 * terminals a b c, six levels of non-terminals, every non-terminal with exactly two productions
 * picked with probability 0.5. Strings are sampled top-down from `s`, then a random contiguous
 * window of `textLength` tokens is cut out of the full string (so no position is privileged).
 *
 * Terminals are small integers: a = 0, b = 1, c = 2. Text windows are `Uint8Array`s of those codes.
 */
import { Rng } from '../../engine/rng';

export const TERMINALS = ['a', 'b', 'c'] as const;
export type Terminal = (typeof TERMINALS)[number];

/** Rules as written in the paper: each non-terminal has two right-hand sides, each with p = 0.5. */
export const PAPER_RULES: Readonly<Record<string, readonly string[]>> = {
  s: ['r q', 'q p'],
  p: ['m n o', 'n o m'],
  q: ['n m o', 'm n'],
  r: ['o m', 'm o n'],
  m: ['l j', 'j l k'],
  n: ['k j l', 'l j k'],
  o: ['l k j', 'k j'],
  j: ['h i', 'i h'],
  k: ['h g i', 'g h i'],
  l: ['i h g', 'h i g'],
  g: ['d f e', 'f e d'],
  h: ['e d f', 'd e f'],
  i: ['e f d', 'f d e'],
  d: ['c a', 'a b c'],
  e: ['c b', 'c a b'],
  f: ['c b a', 'b a'],
};

/**
 * A compiled grammar. Symbol ids: terminals first (0..nTerminals-1), then non-terminals in the
 * order of the rule table; the root is the first non-terminal. Must be acyclic (the paper's is a
 * fixed-depth tree), which makes every derivation finite and the recogniser a simple bottom-up pass.
 */
export class Grammar {
  readonly symbols: string[];
  readonly nTerminals: number;
  readonly root: number;
  /** rules[symbol] = list of productions (arrays of child symbol ids); empty for terminals. */
  readonly rules: number[][][];
  /** ruleProbs[symbol][r] = probability of production r. */
  readonly ruleProbs: number[][];
  /** Non-terminals ordered so that every symbol comes after all symbols it can expand into. */
  readonly bottomUpOrder: number[];
  readonly minLength: number[];
  readonly maxLength: number[];

  constructor(
    terminals: readonly string[],
    ruleTable: Readonly<Record<string, readonly string[]>>,
    probs?: Readonly<Record<string, readonly number[]>>,
  ) {
    const nonTerminals = Object.keys(ruleTable);
    this.symbols = [...terminals, ...nonTerminals];
    this.nTerminals = terminals.length;
    this.root = this.nTerminals;
    const id = new Map(this.symbols.map((s, i) => [s, i]));
    this.rules = this.symbols.map(() => []);
    this.ruleProbs = this.symbols.map(() => []);
    for (const nt of nonTerminals) {
      const rhs = ruleTable[nt];
      const p = probs?.[nt] ?? rhs.map(() => 1 / rhs.length);
      this.rules[id.get(nt)!] = rhs.map((r) =>
        r.split(/\s+/).map((sym) => {
          const k = id.get(sym);
          if (k === undefined) throw new Error(`grammar: unknown symbol '${sym}' in rule ${nt} -> ${r}`);
          return k;
        }),
      );
      this.ruleProbs[id.get(nt)!] = [...p];
    }
    // Depth-first topological order; a cycle would make derivations unbounded, which we refuse.
    const state = new Uint8Array(this.symbols.length); // 0 new, 1 visiting, 2 done
    const order: number[] = [];
    const visit = (x: number): void => {
      if (state[x] === 2) return;
      if (state[x] === 1) throw new Error(`grammar: cycle through '${this.symbols[x]}'`);
      state[x] = 1;
      for (const rhs of this.rules[x]) for (const y of rhs) visit(y);
      state[x] = 2;
      if (x >= this.nTerminals) order.push(x);
    };
    for (let x = this.nTerminals; x < this.symbols.length; x++) visit(x);
    this.bottomUpOrder = order;
    this.minLength = this.symbols.map((_, x) => (x < this.nTerminals ? 1 : 0));
    this.maxLength = this.minLength.slice();
    for (const x of order) {
      const lens = this.rules[x].map((rhs) => [
        rhs.reduce((s, y) => s + this.minLength[y], 0),
        rhs.reduce((s, y) => s + this.maxLength[y], 0),
      ]);
      this.minLength[x] = Math.min(...lens.map((l) => l[0]));
      this.maxLength[x] = Math.max(...lens.map((l) => l[1]));
    }
  }

  /**
   * Samples one full sentence from the root into `out` (must hold maxLength[root] codes) and
   * returns its length. One uniform draw per expanded non-terminal.
   */
  sampleSentence(rng: Rng, out: Uint8Array): number {
    const stack: number[] = [this.root];
    let len = 0;
    while (stack.length > 0) {
      const x = stack.pop()!;
      if (x < this.nTerminals) {
        out[len++] = x;
        continue;
      }
      const probs = this.ruleProbs[x];
      let u = rng.next();
      let r = 0;
      while (r < probs.length - 1 && u >= probs[r]) u -= probs[r++];
      const rhs = this.rules[x][r];
      for (let k = rhs.length - 1; k >= 0; k--) stack.push(rhs[k]);
    }
    return len;
  }
}

export const PAPER_GRAMMAR = new Grammar(TERMINALS, PAPER_RULES);

/**
 * A random contiguous window of `textLength` terminals from a fresh sentence. Sentences shorter
 * than the window are discarded and resampled (decision: docs/pcfg-decisions.md), so every window
 * is a genuine substring of one derivation and the window start is uniform over valid offsets.
 */
export function sampleWindow(rng: Rng, textLength: number, grammar: Grammar = PAPER_GRAMMAR): Uint8Array {
  const out = new Uint8Array(textLength);
  sampleWindowInto(rng, textLength, out, 0, grammar);
  return out;
}

const scratchByGrammar = new WeakMap<Grammar, Uint8Array>();

/** Writes a window into `out[offset .. offset+textLength)`; the allocation-free form of sampleWindow. */
export function sampleWindowInto(
  rng: Rng,
  textLength: number,
  out: Uint8Array,
  offset: number,
  grammar: Grammar = PAPER_GRAMMAR,
): void {
  const maxLen = grammar.maxLength[grammar.root];
  if (!(textLength >= 1 && textLength <= maxLen)) {
    throw new Error(`sampleWindow: textLength ${textLength} outside 1..${maxLen} (longest sentence)`);
  }
  let scratch = scratchByGrammar.get(grammar);
  if (!scratch) scratchByGrammar.set(grammar, (scratch = new Uint8Array(maxLen)));
  for (;;) {
    const len = grammar.sampleSentence(rng, scratch);
    if (len < textLength) continue;
    const start = rng.int(0, len - textLength + 1);
    out.set(scratch.subarray(start, start + textLength), offset);
    return;
  }
}

/** 'abca' -> [0,1,2,0]; throws on characters that are not terminals. */
export function textFromString(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const k = TERMINALS.indexOf(s[i] as Terminal);
    if (k < 0) throw new Error(`textFromString: '${s[i]}' is not a terminal (a, b, c)`);
    out[i] = k;
  }
  return out;
}

export function textToString(text: ArrayLike<number>): string {
  let s = '';
  for (let i = 0; i < text.length; i++) s += TERMINALS[text[i]] ?? '?';
  return s;
}
