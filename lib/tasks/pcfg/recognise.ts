/**
 * A recogniser for the PCFG that also understands *windows*: a training text is a contiguous
 * substring of some sentence, so "is it a sentence?" is the wrong question. For every symbol X and
 * span w[i..j) we fill four boolean charts:
 *   full   X derives exactly w[i..j)
 *   prefix w[i..j) is a non-empty prefix of some string X derives   (full counts as a prefix)
 *   suffix w[i..j) is a non-empty suffix of some string X derives   (full counts as a suffix)
 *   infix  w[i..j) is a non-empty substring of some string X derives
 * A production X -> Y1 Y2 Y3 is folded left to right, ((Y1 Y2) Y3), with one rule per relation:
 *   full(AB)   = full(A) full(B)
 *   prefix(AB) = prefix(A)  |  full(A) prefix(B)
 *   suffix(AB) = suffix(B)  |  suffix(A) full(B)
 *   infix(AB)  = infix(A) | infix(B) | suffix(A) prefix(B)
 * The grammar is acyclic, so one bottom-up pass over the symbols decides everything: O(n^3) per
 * production (n = string length), ~1 ms for n = 32, well under a second for n = 250.
 */
import { Grammar, PAPER_GRAMMAR } from './grammar';

export interface Recognition {
  /** The whole string is a sentence of the root. */
  sentence: boolean;
  /** The string is a prefix of some sentence. */
  prefix: boolean;
  /** The string is a suffix of some sentence. */
  suffix: boolean;
  /** The string is a contiguous substring (window) of some sentence. */
  substring: boolean;
}

/** Four span charts, each (n+1)*(n+1) flags indexed [i*(n+1)+j] for i < j. */
interface SpanCharts {
  full: Uint8Array;
  prefix: Uint8Array;
  suffix: Uint8Array;
  infix: Uint8Array;
}

function emptyCharts(size: number): SpanCharts {
  return {
    full: new Uint8Array(size),
    prefix: new Uint8Array(size),
    suffix: new Uint8Array(size),
    infix: new Uint8Array(size),
  };
}

/** The charts of the concatenation A B (see the rules in the header comment). */
function concat(a: SpanCharts, b: SpanCharts, n: number): SpanCharts {
  const w = n + 1;
  const out = emptyCharts(w * w);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j <= n; j++) {
      const ij = i * w + j;
      let full = 0;
      let prefix = a.prefix[ij];
      let suffix = b.suffix[ij];
      let infix = a.infix[ij] | b.infix[ij];
      for (let p = i + 1; p < j; p++) {
        const ip = i * w + p;
        const pj = p * w + j;
        full |= a.full[ip] & b.full[pj];
        prefix |= a.full[ip] & b.prefix[pj];
        suffix |= a.suffix[ip] & b.full[pj];
        infix |= a.suffix[ip] & b.prefix[pj];
      }
      out.full[ij] = full;
      out.prefix[ij] = prefix;
      out.suffix[ij] = suffix;
      out.infix[ij] = infix;
    }
  }
  return out;
}

function orInto(target: SpanCharts, src: SpanCharts): void {
  for (const key of ['full', 'prefix', 'suffix', 'infix'] as const) {
    const t = target[key];
    const s = src[key];
    for (let k = 0; k < t.length; k++) t[k] |= s[k];
  }
}

/**
 * Decides, for the terminal codes `text`, whether they form a sentence / prefix / suffix / substring
 * of the grammar's language. Codes outside the terminals make every answer false.
 */
export function recognise(text: ArrayLike<number>, grammar: Grammar = PAPER_GRAMMAR): Recognition {
  const n = text.length;
  const no: Recognition = { sentence: false, prefix: false, suffix: false, substring: false };
  if (n === 0) return no;
  for (let i = 0; i < n; i++) if (!(text[i] >= 0 && text[i] < grammar.nTerminals)) return no;
  const w = n + 1;
  const charts: SpanCharts[] = new Array(grammar.symbols.length);
  for (let t = 0; t < grammar.nTerminals; t++) {
    const c = emptyCharts(w * w);
    for (let i = 0; i < n; i++) {
      if (text[i] !== t) continue;
      const ij = i * w + i + 1;
      c.full[ij] = c.prefix[ij] = c.suffix[ij] = c.infix[ij] = 1;
    }
    charts[t] = c;
  }
  for (const x of grammar.bottomUpOrder) {
    const cx = emptyCharts(w * w);
    for (const rhs of grammar.rules[x]) {
      let acc = charts[rhs[0]];
      for (let k = 1; k < rhs.length; k++) acc = concat(acc, charts[rhs[k]], n);
      orInto(cx, acc);
    }
    charts[x] = cx;
  }
  const root = charts[grammar.root];
  const whole = 0 * w + n;
  return {
    sentence: root.full[whole] === 1,
    prefix: root.prefix[whole] === 1,
    suffix: root.suffix[whole] === 1,
    substring: root.infix[whole] === 1,
  };
}

/** Shorthand: is `text` a window (contiguous substring) of some sentence? */
export function isWindow(text: ArrayLike<number>, grammar: Grammar = PAPER_GRAMMAR): boolean {
  return recognise(text, grammar).substring;
}
