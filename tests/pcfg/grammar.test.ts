import test from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../lib/engine/rng';
import {
  Grammar,
  PAPER_GRAMMAR,
  PAPER_RULES,
  isWindow,
  recognise,
  sampleWindow,
  textFromString,
  textToString,
} from '../../lib/tasks/pcfg';

const G = PAPER_GRAMMAR;

test('grammar: the paper table has 16 non-terminals with two rules each, p = 0.5, root s', () => {
  assert.equal(Object.keys(PAPER_RULES).length, 16);
  assert.equal(G.symbols[G.root], 's');
  for (let x = G.nTerminals; x < G.symbols.length; x++) {
    assert.equal(G.rules[x].length, 2);
    assert.deepEqual(G.ruleProbs[x], [0.5, 0.5]);
  }
  // Bottom-up order lists every non-terminal after its children.
  const seen = new Set<number>([0, 1, 2]);
  for (const x of G.bottomUpOrder) {
    for (const rhs of G.rules[x]) for (const y of rhs) assert.ok(seen.has(y), `${G.symbols[x]} before ${G.symbols[y]}`);
    seen.add(x);
  }
});

test('grammar: rejects unknown symbols and cycles', () => {
  assert.throws(() => new Grammar(['a'], { s: ['a z'] }), /unknown symbol 'z'/);
  assert.throws(() => new Grammar(['a'], { s: ['t'], t: ['s a'] }), /cycle/);
});

test('grammar: sentence lengths match the paper (160-380, mean ~276, ~23% shorter than 250)', () => {
  const rng = new Rng(11);
  const buf = new Uint8Array(G.maxLength[G.root]);
  let sum = 0;
  let short = 0;
  const N = 3000;
  for (let i = 0; i < N; i++) {
    const n = G.sampleSentence(rng, buf);
    assert.ok(n >= G.minLength[G.root] && n <= G.maxLength[G.root]);
    sum += n;
    if (n < 250) short++;
  }
  assert.ok(Math.abs(sum / N - 276) < 4, `mean ${sum / N}`);
  assert.ok(Math.abs(short / N - 0.23) < 0.04, `short ${short / N}`);
});

test('grammar: windows are deterministic in the seed and have the requested length', () => {
  const a = sampleWindow(new Rng(5), 32);
  const b = sampleWindow(new Rng(5), 32);
  const c = sampleWindow(new Rng(6), 32);
  assert.equal(a.length, 32);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.throws(() => sampleWindow(new Rng(1), G.maxLength[G.root] + 1), /textLength/);
});

test('recogniser: every generated window is derivable (laptop 32 and 64 tokens)', () => {
  const rng = new Rng(21);
  for (let i = 0; i < 150; i++) assert.ok(isWindow(sampleWindow(rng, 32)), `window ${i}`);
  for (let i = 0; i < 10; i++) assert.ok(isWindow(sampleWindow(rng, 64)), `window64 ${i}`);
});

test('recogniser: sentence / prefix / suffix / substring of a whole sentence', () => {
  const rng = new Rng(3);
  const buf = new Uint8Array(G.maxLength[G.root]);
  const n = G.sampleSentence(rng, buf);
  // A sentence's head and tail (shorter strings keep the test fast; the relations are what matter).
  const head = buf.slice(0, 40);
  const tail = buf.slice(n - 40, n);
  const mid = buf.slice(100, 140);
  assert.equal(recognise(head).sentence, false);
  assert.equal(recognise(head).prefix, true);
  assert.equal(recognise(head).substring, true);
  assert.equal(recognise(tail).suffix, true);
  assert.equal(recognise(tail).substring, true);
  assert.equal(recognise(mid).substring, true);
  // d -> a b c, so "abc" is a window, but never a whole sentence (sentences have >= 138 tokens).
  assert.deepEqual(recognise(textFromString('abc')).sentence, false);
  assert.equal(recognise(textFromString('abc')).substring, true);
  // Non-terminal codes or empty input are not strings of the language.
  assert.equal(isWindow([0, 7, 1]), false);
  assert.equal(isWindow([]), false);
});

test('recogniser: a full sentence is recognised as a sentence', () => {
  // Recognising a whole sentence is O(n^3); a short one (<= 170 tokens) keeps the test fast.
  const rng = new Rng(8);
  const buf = new Uint8Array(G.maxLength[G.root]);
  let n = 0;
  do n = G.sampleSentence(rng, buf);
  while (n > 170);
  const s = buf.slice(0, n);
  assert.equal(recognise(s).sentence, true);
  const broken = s.slice();
  broken[n - 1] = (broken[n - 1] + 1) % 3;
  const dropped = s.slice(0, n - 1);
  assert.equal(recognise(broken).sentence, false);
  assert.equal(recognise(dropped).sentence, false);
  assert.equal(recognise(dropped).prefix, true);
});

/** All strings over {a,b,c} of length L, as terminal codes. */
function allStrings(L: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let m = 0; m < 3 ** L; m++) {
    const w = new Uint8Array(L);
    for (let t = 0, x = m; t < L; t++, x = Math.floor(x / 3)) w[t] = x % 3;
    out.push(w);
  }
  return out;
}

/**
 * Independent ground truth for short strings: the sets of full strings / prefixes / suffixes /
 * substrings of length <= maxLen of every symbol, built by explicit string-set enumeration.
 */
function shortSubstrings(maxLen: number): Set<string> {
  type Sets = { full: Set<string>; pre: Set<string>; suf: Set<string>; inf: Set<string> };
  const memo = new Map<string, Sets>();
  const cat = (xs: Set<string>, ys: Set<string>) => {
    const out = new Set<string>();
    for (const x of xs) for (const y of ys) if (x.length + y.length <= maxLen) out.add(x + y);
    return out;
  };
  const union = (...ss: Set<string>[]) => new Set(ss.flatMap((s) => [...s]));
  const sets = (sym: string): Sets => {
    const hit = memo.get(sym);
    if (hit) return hit;
    let result: Sets;
    if (!(sym in PAPER_RULES)) {
      const one = new Set([sym]);
      result = { full: one, pre: one, suf: one, inf: one };
    } else {
      result = { full: new Set(), pre: new Set(), suf: new Set(), inf: new Set() };
      for (const rhs of PAPER_RULES[sym]) {
        const kids = rhs.split(' ').map(sets);
        for (let i = 0; i < kids.length; i++) {
          // Substrings starting in child i and ending in child j >= i.
          result.inf = union(result.inf, kids[i].inf);
          let acc = kids[i].suf;
          for (let j = i + 1; j < kids.length; j++) {
            result.inf = union(result.inf, cat(acc, kids[j].pre));
            acc = cat(acc, kids[j].full);
          }
          // Prefixes: full children before i, then a prefix of child i.
          let before = new Set(['']);
          for (let j = 0; j < i; j++) before = cat(before, kids[j].full);
          result.pre = union(result.pre, cat(before, kids[i].pre));
          let after = new Set(['']);
          for (let j = kids.length - 1; j > i; j--) after = cat(kids[j].full, after);
          result.suf = union(result.suf, cat(kids[i].suf, after));
        }
        let full = new Set(['']);
        for (const k of kids) full = cat(full, k.full);
        result.full = union(result.full, full);
      }
    }
    memo.set(sym, result);
    return result;
  };
  return sets('s').inf;
}

test('recogniser: agrees with exhaustive enumeration on every string of length <= 7', () => {
  const truth = shortSubstrings(7);
  let rejected = 0;
  for (let L = 1; L <= 7; L++) {
    for (const w of allStrings(L)) {
      const s = textToString(w);
      assert.equal(isWindow(w), truth.has(s), `'${s}'`);
      if (!truth.has(s)) rejected++;
    }
  }
  // Non-trivial on both sides: most long strings are not windows, all of length <= 2 are.
  assert.ok(rejected > 2000, `rejected ${rejected}`);
  for (const s of ['aaa', 'bbb', 'ccc', 'aac', 'bbc', 'acc']) assert.equal(isWindow(textFromString(s)), false, s);
  for (const s of ['aa', 'bb', 'cc', 'abc', 'cab', 'cba']) assert.equal(isWindow(textFromString(s)), true, s);
});

test('recogniser: accepted short strings are exactly those seen in sampled sentences (length <= 4)', () => {
  const rng = new Rng(99);
  const buf = new Uint8Array(G.maxLength[G.root]);
  const seen = new Set<string>();
  for (let i = 0; i < 400; i++) {
    const s = textToString(buf.subarray(0, G.sampleSentence(rng, buf)));
    for (let L = 1; L <= 4; L++) for (let t = 0; t + L <= s.length; t++) seen.add(s.slice(t, t + L));
  }
  for (let L = 1; L <= 4; L++) {
    for (const w of allStrings(L)) assert.equal(isWindow(w), seen.has(textToString(w)), textToString(w));
  }
});

test('text helpers: round trip and clear errors', () => {
  assert.equal(textToString(textFromString('abcca')), 'abcca');
  assert.throws(() => textFromString('abx'), /'x' is not a terminal/);
});
