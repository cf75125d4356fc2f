import test from 'node:test';
import assert from 'node:assert/strict';
import {
  aggregate,
  categorical,
  checkProgram,
  Comparison,
  compile,
  evaluate,
  indices,
  makeCounter,
  makeFracPrevs,
  makeLength,
  makeMaxIdentifier,
  map,
  MapSOp,
  numerical,
  select,
  selectorWidth,
  sequenceMap,
  SOp,
  tokens,
  TracrCompileError,
  validate,
  ValidationRule,
  Value,
} from '../../lib/tasks/tracr';
import * as programs from '../../lib/tasks/tracr/programs';
import { allSequences, assertMatchesEvaluator } from './helpers';

const ab = { vocab: ['a', 'b'], maxSeqLen: 4 };

/** compile rejects with a TracrCompileError for `rule`, naming `label`; returns the message. */
function rejects(program: unknown, rule: ValidationRule, label: string, opts: { vocab: Value[]; maxSeqLen: number; mlpLargeNumber?: number } = ab): string {
  let caught: unknown;
  try {
    compile(program as SOp, opts);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof TracrCompileError, `expected a TracrCompileError for ${rule}, got ${String(caught)}`);
  assert.equal(caught.rule, rule, caught.message);
  assert.equal(caught.label, label);
  assert.ok(caught.message.includes(label), `message names ${label}: ${caught.message}`);
  return caught.message;
}

test('audit #1: a numerical aggregate over {0, 2} is rejected, naming it and the {0,1} rule; the 0/1 rewrite compiles exactly', () => {
  const twos = numerical(map((x) => (x === 'a' ? 2 : 0), tokens));
  const mean = numerical(aggregate(select(tokens, tokens, Comparison.TRUE), twos));
  const program = numerical(map((x) => (Number(x) > 0.4 ? 1 : 0), mean));
  const msg = rejects(program, 'numerical-aggregate-not-01', mean.label);
  assert.match(msg, /numerical aggregate/);
  assert.match(msg, /\{0, 1\}/);
  assert.match(msg, /\{0, 2\}/, 'names the offending values');
  // What the message suggests: aggregate the indicator, rescale the mean afterwards.
  const isA = numerical(map((x) => (x === 'a' ? 1 : 0), tokens));
  const frac = numerical(aggregate(select(tokens, tokens, Comparison.TRUE), isA));
  const fixed = numerical(map((x) => (2 * Number(x) > 0.4 ? 1 : 0), frac));
  const cp = compile(fixed, ab);
  assert.deepEqual(evaluate(fixed, [...'abbb']), [1, 1, 1, 1]);
  for (const xs of allSequences(['a', 'b'], 4)) assertMatchesEvaluator(cp, fixed, xs);
});

test('audit #2: compile of a non-S-Op names what was passed and asks for an S-Op', () => {
  const sel = select(tokens, tokens, Comparison.EQ);
  const cases: [unknown, RegExp][] = [
    [sel, new RegExp(`a Select "${sel.label}".*selectorWidth\\(sel\\) or aggregate\\(sel, sop\\)`)],
    [null, /got null/],
    [undefined, /got undefined/],
    [3, /got the number 3/],
    [{ kind: 'map' }, /got a plain object \{kind\}/],
    ['tokens', /got the string "tokens"/],
  ];
  for (const [x, pattern] of cases) {
    assert.throws(() => compile(x as SOp, ab), (err: unknown) => {
      assert.ok(err instanceof TracrCompileError);
      assert.equal(err.rule, 'not-an-sop');
      assert.match(err.message, /compile needs an S-Op/);
      assert.match(err.message, pattern);
      return true;
    });
  }
  // A well-typed-looking program whose operand is not an S-Op: named by the expression that reads it.
  const broken = new MapSOp((x) => x, null as unknown as SOp);
  assert.match(rejects(broken, 'bad-operand', broken.label), /input must be an S-Op, got null/);
  const badSel = selectorWidth(tokens as unknown as ReturnType<typeof select>);
  assert.match(rejects(badSel, 'bad-operand', badSel.label), /selector must be a Select, got a TokensSOp "tokens"/);
});

test('audit #3: decodeTokens rejects ids outside 0..PAD, encode names the unknown token and the vocab', () => {
  const cp = compile(makeLength(), { vocab: ['a', 'b'], maxSeqLen: 3 });
  assert.deepEqual(cp.decodeTokens([0, 1, 2, 3]), ['BOS', 'a', 'b', 'PAD']);
  for (const bad of [99, 4, -1, 1.5, NaN]) {
    assert.throws(() => cp.decodeTokens([1, bad]), new RegExp(`decodeTokens: ${JSON.stringify(bad)} at position 1 is not a token id; valid ids are 0\\.\\.3 \\(0 = BOS, 1\\.\\.2 = the vocab, 3 = PAD\\)`));
  }
  assert.throws(() => cp.encode(['a', 'z']), /encode: token "z" at position 1 is not in the vocab \["a","b"\]/);
  assert.throws(() => cp.encode([1]), /token 1 at position 0 is not in the vocab/, '1 is not "1" or true');
  assert.throws(() => cp.encode(['PAD']), /"PAD" is the PAD symbol: encode adds BOS itself, and padTo adds PAD/);
});

test("Tracr's static rules: numerical selectors, aggregate encodings and defaults, numerical sequenceMap", () => {
  const num = numerical(map((x) => (x === 'a' ? 1 : 0), tokens)).named('num');
  const keysNum = select(num, tokens, Comparison.EQ).named('keys_num');
  assert.match(rejects(selectorWidth(keysNum), 'numerical-selector', 'keys_num'), /keys "num" are numerical/);
  const queriesNum = select(tokens, num, Comparison.EQ).named('queries_num');
  assert.match(rejects(selectorWidth(queriesNum), 'numerical-selector', 'queries_num'), /queries "num"/);
  const all = select(tokens, tokens, Comparison.TRUE);
  const mixed = categorical(aggregate(all, num)).named('mixed');
  assert.match(rejects(mixed, 'aggregate-encoding', 'mixed'), /categorical but its input "num" is numerical/);
  const catDefault = aggregate(all, tokens, 'a').named('cat_default');
  assert.match(rejects(catDefault, 'categorical-aggregate-default', 'cat_default'), /default "a"/);
  const numDefault = numerical(aggregate(all, num, 1)).named('num_default');
  assert.match(rejects(numDefault, 'numerical-aggregate-default', 'num_default'), /default 1.*use the default 0/);
  const seq = sequenceMap((x, y) => `${x}${y}`, tokens, num).named('seq');
  assert.match(rejects(seq, 'numerical-sequence-map', 'seq'), /reads numerical "num"/);
});

test('our encodings and labels: primitives and selectorWidth stay categorical; labels unique and not reserved', () => {
  const numTokens = numerical(map((x) => (x === 'a' ? 1 : 0), tokens)).named('fine');
  assert.doesNotThrow(() => checkProgram(categorical(map((x) => x, numTokens)), ab), 'numerical map of tokens is fine');
  const sw = numerical(selectorWidth(select(tokens, tokens, Comparison.TRUE))).named('sw');
  rejects(sw, 'selector-width-encoding', 'sw');
  const a = map((x) => x, tokens).named('dup');
  const b = map((x) => x, a).named('dup');
  assert.match(rejects(b, 'duplicate-label', 'dup'), /two different expressions are labelled "dup"/);
  rejects(map((x) => x, tokens).named('one'), 'reserved-label', 'one');
  rejects(map((x) => x, tokens).named('indices'), 'reserved-label', 'indices');
});

test('value-set rules: bad map results, throwing functions and predicates, mixed True/1, empty output, close points', () => {
  rejects(numerical(map((x) => x, tokens)).named('str_num'), 'numerical-non-number', 'str_num');
  const throws = map((x) => {
    if (x === 'b') throw new Error('no b');
    return x;
  }, tokens).named('thrower');
  assert.match(rejects(throws, 'function-throws', 'thrower'), /on input "b": f throws \(no b\)/);
  assert.match(rejects(map(() => undefined as unknown as Value, tokens).named('undef'), 'bad-value', 'undef'), /returned undefined/);
  assert.match(rejects(numerical(map(() => NaN, tokens)).named('nan'), 'bad-value', 'nan'), /returned NaN/);
  const cross = select(tokens, indices, Comparison.LT).named('cross');
  assert.match(rejects(selectorWidth(cross), 'predicate-throws', 'cross'), /predicate LT throws on key "a", query 0/);
  const twins = map((x) => (x === 'a' ? true : 1), tokens).named('twins');
  assert.match(rejects(twins, 'python-equal-values', 'twins'), /both true and 1/);
  rejects(map(() => null, tokens).named('nothing'), 'empty-output', 'nothing');
  const holey = numerical(map((x) => (x === 'a' ? 1 : null), tokens)).named('holey');
  assert.match(rejects(holey, 'numerical-none', 'holey'), /returns null on input "b".*holds None as 0/);
  const holeyPair = sequenceMap((x, i) => (Number(i) > 2 ? null : 1), tokens, indices, 'numerical').named('holey_pair');
  assert.match(rejects(holeyPair, 'numerical-none', 'holey_pair'), /on input "a", 3/);
  const close = numerical(map((x) => (x === 'a' ? 0 : 0.001), tokens)).named('close');
  const read = map((x) => Number(x) > 0, close).named('read');
  assert.match(rejects(read, 'discretising-gap', 'read'), /as close as 0\.001.*at least 2000/);
  assert.doesNotThrow(() => compile(read, { ...ab, mlpLargeNumber: 4000 }));
});

test('Tracr issue #24: a categorical -> numerical map with negative outputs compiles exactly (not rejected)', () => {
  const signed = numerical(map((x) => (x === 'a' ? -1 : x === 'b' ? 2 : -0.5), tokens)).named('signed');
  const cp = compile(signed, { vocab: ['a', 'b', 'c'], maxSeqLen: 3 });
  for (const xs of allSequences(['a', 'b', 'c'], 3)) assertMatchesEvaluator(cp, signed, xs);
  // ... and reads back through a discretising map (points -1, -0.5, 2).
  const sign = map((x) => Math.sign(Number(x)), signed).named('sign');
  const cs = compile(sign, { vocab: ['a', 'b', 'c'], maxSeqLen: 3 });
  for (const xs of allSequences(['a', 'b', 'c'], 3)) assertMatchesEvaluator(cs, sign, xs);
});

test('compiler fix: a discretising map writes nothing at BOS, so heads that fall back to BOS stay exact', () => {
  // f(0) = 1 is the map's value at its lowest point; BOS used to hold it.
  const frac = makeFracPrevs((x) => x === 'a');
  const low = numerical(map((f) => (Number(f) < 0.5 ? 1 : 0), frac)).named('low');
  const before = numerical(aggregate(select(indices, indices, Comparison.LT), low)).named('before');
  const cp = compile(before, ab);
  assert.deepEqual(evaluate(before, ['a', 'b', 'b']), [0, 0, 0]);
  for (const xs of allSequences(['a', 'b'], 4)) assertMatchesEvaluator(cp, before, xs, { tolerance: 1e-9 });
  // Selecting on a discretised categorical S-Op must not count BOS as a key.
  const half = map((f) => (Number(f) < 0.5 ? 'lo' : 'hi'), frac).named('half');
  const same = selectorWidth(select(half, half, Comparison.EQ)).named('same');
  const cs = compile(same, ab);
  for (const xs of allSequences(['a', 'b'], 4)) assertMatchesEvaluator(cs, same, xs);
});

test('every program in programs.ts passes the validator (nothing valid is rejected)', () => {
  const args: Record<string, unknown[]> = {
    makeCounter: ['a'],
    makeMaxIdentifier: [4],
    makeLength: [],
    makeHist: [],
    makeCount: [tokens, 'a'],
    makeSortUnique: [],
    makeReverse: [],
    makeFracPrevs: [(x: Value) => x === 'a'],
  };
  const makers = Object.entries(programs).filter(([name, f]) => name.startsWith('make') && typeof f === 'function');
  assert.deepEqual(makers.map(([n]) => n).sort(), Object.keys(args).sort(), 'a new program needs its arguments here');
  for (const [name, make] of makers) {
    const program = (make as (...a: unknown[]) => SOp)(...args[name]);
    const vocab = name === 'makeSortUnique' ? [0, 1, 2, 3] : ['a', 'b', 'c'];
    assert.doesNotThrow(() => compile(program, { vocab, maxSeqLen: 5 }), name);
    assert.deepEqual(validate(program, [], { vocab, maxSeqLen: 5 }), [], name);
  }
});

test('validate(program, inputs): the ambiguous categorical aggregate of Max-identifier at index 0 only', () => {
  const program = makeMaxIdentifier(1);
  const inputs = [['c', 'a', 'b'], ['a', 'b']];
  const findings = validate(program, inputs);
  // Index 0 selects every key whose flag is False (== 0): two different letters in "cab", one in "ab".
  assert.deepEqual(
    findings.map((f) => [f.rule, f.label, f.position, f.input]),
    [['ambiguous-aggregate', program.label, 0, ['c', 'a', 'b']]],
  );
  assert.match(findings[0].message, /selects 2 keys with different values \["c","a"\]/);
  assert.deepEqual(validate(makeCounter('a'), allSequences(['a', 'b'], 3)), []);
  // None among the selected values is a value of its own (the head would scale the others down).
  const firstIsA = map((x) => (x === 'a' ? 'a' : null), tokens).named('first_is_a');
  const readAll = aggregate(select(indices, indices, Comparison.TRUE), firstIsA).named('read_all');
  assert.deepEqual(validate(readAll, [['a', 'a']]), []);
  const mixed = validate(readAll, [['a', 'b']]);
  assert.deepEqual(mixed.map((f) => [f.rule, f.label, f.position]), [['ambiguous-aggregate', 'read_all', 0], ['ambiguous-aggregate', 'read_all', 1]]);
  assert.match(mixed[0].message, /\["a",null\]/);
  // Static problems come back as findings too (here with vocab and length taken from the inputs).
  const twos = numerical(map((x) => (x === 'a' ? 2 : 0), tokens));
  const mean = numerical(aggregate(select(tokens, tokens, Comparison.TRUE), twos));
  assert.deepEqual(
    validate(mean, [['a', 'b']]).map((f) => [f.rule, f.label]),
    [['numerical-aggregate-not-01', mean.label]],
  );
});
