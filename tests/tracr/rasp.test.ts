import test from 'node:test';
import assert from 'node:assert/strict';
import {
  aggregate,
  AmbiguousAggregateError,
  buildGraph,
  Comparison,
  evaluate,
  evaluateAll,
  indices,
  makeCounter,
  makeFracPrevs,
  makeHist,
  makeLength,
  makeMaxIdentifier,
  makeReverse,
  makeSortUnique,
  map,
  numerical,
  pyCompare,
  pyEq,
  select,
  selectAnd,
  selectNot,
  selectOr,
  selectorWidth,
  sequenceMap,
  tokens,
} from '../../lib/tasks/tracr';

test('pyEq follows Python: True == 1, False == 0, strings only equal strings', () => {
  assert.equal(pyEq(true, 1), true);
  assert.equal(pyEq(false, 0), true);
  assert.equal(pyEq(true, 2), false);
  assert.equal(pyEq(true, 0), false);
  assert.equal(pyEq('1', 1), false);
  assert.equal(pyEq('a', 'a'), true);
  assert.equal(pyEq(null, null), true);
  assert.equal(pyEq(null, 0), false);
});

test('pyCompare orders numbers/booleans numerically, strings lexically, and refuses to mix', () => {
  assert.equal(pyCompare(true, 2), -1);
  assert.equal(pyCompare('b', 'a'), 1);
  assert.equal(pyCompare(3, 3), 0);
  assert.throws(() => pyCompare('a', 1), TypeError);
});

test('comparisons are called as (key, query): LT means key < query', () => {
  assert.equal(Comparison.LT.test(1, 2), true);
  assert.equal(Comparison.LT.test(2, 1), false);
  assert.equal(Comparison.GEQ.test(2, 2), true);
  assert.equal(Comparison.NEQ.test(true, 1), false);
  assert.equal(Comparison.TRUE.test('x', 5), true);
  assert.equal(Comparison.FALSE.test('x', 'x'), false);
});

test('evaluator: selectorWidth counts selected keys; LT counts smaller tokens', () => {
  const w = selectorWidth(select(tokens, tokens, Comparison.LT));
  assert.deepEqual(evaluate(w, ['c', 'a', 'b', 'a']), [3, 0, 2, 0]);
  assert.deepEqual(evaluate(makeLength(), ['x', 'y', 'z']), [3, 3, 3]);
  assert.deepEqual(evaluate(makeHist(), ['a', 'b', 'a']), [2, 1, 2]);
});

test('evaluator: aggregate default, single value, equal values, ambiguous mixture', () => {
  const never = aggregate(select(tokens, tokens, Comparison.FALSE), tokens);
  assert.deepEqual(evaluate(never, ['a', 'b']), [null, null]);
  const sameTok = aggregate(select(tokens, tokens, Comparison.EQ), indices);
  // 'a' occurs at 0 and 2: indices 0 and 2 are different values -> ambiguous (null) for categorical
  assert.deepEqual(evaluate(sameTok, ['a', 'b', 'a']), [null, 1, null]);
  assert.throws(() => evaluate(sameTok, ['a', 'b', 'a'], { strict: true }), AmbiguousAggregateError);
  const sameTokTok = aggregate(select(tokens, tokens, Comparison.EQ), tokens);
  assert.deepEqual(evaluate(sameTokTok, ['a', 'b', 'a']), ['a', 'b', 'a']);
});

test('evaluator: numerical aggregate is the mean (default 0); frac_prevs', () => {
  const fp = makeFracPrevs((x) => x === 'x');
  assert.deepEqual(evaluate(fp, ['x', 'y', 'x', 'y']), [1, 0.5, 2 / 3, 0.5]);
  const none = numerical(aggregate(select(indices, indices, Comparison.FALSE), numerical(map(() => 1, tokens)), 0));
  assert.deepEqual(evaluate(none, ['a', 'b']), [0, 0]);
});

test('evaluator: causal option hides later keys', () => {
  assert.deepEqual(evaluate(makeLength(), ['a', 'b', 'c'], { causal: true }), [1, 2, 3]);
  assert.deepEqual(evaluate(makeLength(), ['a', 'b', 'c']), [3, 3, 3]);
});

test('evaluator: null propagates through map and sequenceMap, and selects nothing', () => {
  const agg = aggregate(select(tokens, tokens, Comparison.FALSE), tokens); // all null
  const m = map((x) => `${String(x)}!`, agg);
  const sm = sequenceMap((x, y) => `${String(x)}${String(y)}`, agg, tokens);
  const w = selectorWidth(select(agg, tokens, Comparison.TRUE));
  assert.deepEqual(evaluate(m, ['a']), [null]);
  assert.deepEqual(evaluate(sm, ['a']), [null]);
  assert.deepEqual(evaluate(w, ['a', 'b']), [0, 0]);
});

test('paper Counter: #a is read at index 1 (True == 1), #non-a at index 0, zeros after', () => {
  const xs = 'abcaabbbbca'.split('');
  const out = evaluate(makeCounter('a'), xs);
  assert.equal(out[1], 4);
  assert.equal(out[0], 7);
  assert.deepEqual(out.slice(2), new Array(xs.length - 2).fill(0));
  assert.equal(evaluate(makeCounter('b'), xs)[1], 5);
});

test('paper Max-identifier: index 1 is the 5th smallest letter; index 0 is ambiguous', () => {
  const xs = 'bdafhmxpqn'.split(''); // Fig. 13: -> h
  const out = evaluate(makeMaxIdentifier(4), xs);
  assert.equal(out[1], 'h');
  assert.equal(out[0], null);
  assert.throws(() => evaluate(makeMaxIdentifier(4), xs, { strict: true }), AmbiguousAggregateError);
  assert.equal(evaluate(makeMaxIdentifier(0), xs)[1], 'a');
});

test('library programs: sort, reverse', () => {
  assert.deepEqual(evaluate(makeSortUnique(), [3, 1, 2]), [1, 2, 3]);
  assert.deepEqual(evaluate(makeReverse(), ['a', 'b', 'c', 'd']), ['d', 'c', 'b', 'a']);
});

test('evaluateAll exposes every intermediate S-Op by label', () => {
  const all = evaluateAll(makeCounter('a'), ['a', 'b', 'a']);
  assert.deepEqual(all.get('bin'), [true, false, true]);
  assert.deepEqual(all.get('count'), [1, 2, 0]);
  assert.deepEqual(all.get('counter'), [1, 2, 0]);
});

test('selectAnd/Or/Not combine predicates on the same operands, and refuse different ones', () => {
  const lt = select(indices, indices, Comparison.LT);
  const neq = select(indices, indices, Comparison.NEQ);
  assert.deepEqual(evaluate(selectorWidth(selectAnd(lt, neq)), [0, 0, 0]), [0, 1, 2]);
  assert.deepEqual(evaluate(selectorWidth(selectOr(lt, neq)), [0, 0, 0]), [2, 2, 2]);
  assert.deepEqual(evaluate(selectorWidth(selectNot(lt)), [0, 0, 0]), [3, 2, 1]);
  assert.throws(() => selectAnd(lt, select(tokens, indices, Comparison.EQ)));
});

test('graph: value sets follow Tracr basis inference', () => {
  const counter = makeCounter('a');
  const g = buildGraph(counter, { vocab: ['a', 'b', 'c'], maxSeqLen: 5 });
  const byLabel = new Map(g.sops.map((s) => [s.label, g.valueSets.get(s)]));
  assert.deepEqual(byLabel.get('bin'), [false, true]);
  assert.deepEqual(byLabel.get('count'), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(byLabel.get('counter'), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(byLabel.get('indices'), [0, 1, 2, 3, 4]);
  // topological: children before parents
  const pos = (l: string) => g.sops.findIndex((s) => s.label === l);
  assert.ok(pos('tokens') < pos('bin') && pos('bin') < pos('count') && pos('count') < pos('counter'));
  const fp = buildGraph(makeFracPrevs((x) => x === 'a'), { vocab: ['a', 'b'], maxSeqLen: 3 });
  const fpValues = fp.valueSets.get(fp.output)!;
  assert.deepEqual(fpValues, [0, 1 / 3, 0.5, 2 / 3, 1]);
});
