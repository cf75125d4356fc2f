import test from 'node:test';
import assert from 'node:assert/strict';
import {
  aggregateAttention,
  AttentionBlock,
  categoricalMlp,
  categoricalToNumericalMlp,
  Comparison,
  dir,
  Direction,
  dirKey,
  MlpBlock,
  numericalMlp,
  SelectorSpec,
  selectorWidthBlocks,
  selectorWidthHelperDir,
  sequenceMapMlp,
  SpecialDirections,
} from '../../lib/tasks/tracr';

// Blocks are tested on named vectors, before any weight tensor exists.
type Vec = Map<string, number>;
const vec = (entries: [Direction, number][]): Vec => new Map(entries.map(([d, v]) => [dirKey(d), v]));
const special: SpecialDirections = { one: dir('one'), bos: dir('tokens', 'BOS') };

function runMlp(block: MlpBlock, x: Vec): Vec {
  const hidden = block.W1.apply((d) => x.get(dirKey(d)) ?? 0).map((h) => Math.max(0, h));
  const out = block.W2.apply((d) => hidden[block.hidden.index(d)]);
  return new Map(block.output.dirs.map((d, i) => [dirKey(d), out[i]]));
}

/** One query over a list of keys: softmax of the bilinear scores, then the value map. Returns output and pattern. */
function runHead(block: AttentionBlock, query: Vec, keys: Vec[]): { out: Vec; pattern: number[] } {
  const qW = block.W_QK.apply((d) => query.get(dirKey(d)) ?? 0); // over key space
  const scores = keys.map((k) => block.key.dirs.reduce((s, d, j) => s + qW[j] * (k.get(dirKey(d)) ?? 0), 0));
  const max = Math.max(...scores);
  const e = scores.map((s) => Math.exp(s - max));
  const sum = e.reduce((a, b) => a + b, 0);
  const pattern = e.map((v) => v / sum);
  const out = new Float64Array(block.output.size);
  keys.forEach((k, i) => {
    const v = block.W_OV.apply((d) => k.get(dirKey(d)) ?? 0);
    v.forEach((x, j) => (out[j] += pattern[i] * x));
  });
  return { out: new Map(block.output.dirs.map((d, i) => [dirKey(d), out[i]])), pattern };
}

function argmaxAndMargin(out: Vec, dirs: Direction[]): { best: number; margin: number } {
  const vals = dirs.map((d) => out.get(dirKey(d)) ?? 0);
  const order = vals.map((v, i) => [v, i]).sort((a, b) => b[0] - a[0]);
  return { best: order[0][1], margin: order[0][0] - order[1][0] };
}

test('categorical MLP maps every one-hot input exactly to the one-hot of f', () => {
  const inValues = ['a', 'b', 'c', 'd'];
  const f = (x: unknown) => (x === 'a' || x === 'c' ? 'vowelish' : 'other');
  const block = categoricalMlp('m', 'tokens', inValues, ['other', 'vowelish'], f);
  assert.equal(block.hidden.size, 2); // one hidden unit per output value (Tracr)
  for (const x of inValues) {
    const out = runMlp(block, vec([[dir('tokens', x), 1], [special.one, 1]]));
    assert.equal(out.get(dirKey(dir('m', f(x)))), 1);
    assert.equal(out.get(dirKey(dir('m', f(x) === 'other' ? 'vowelish' : 'other'))), 0);
  }
  // The BOS position (no input direction) writes nothing.
  const bos = runMlp(block, vec([[special.bos, 1], [special.one, 1]]));
  assert.deepEqual([...bos.values()], [0, 0]);
});

test('categorical -> numerical MLP keeps negative outputs (fixes Tracr issue #24)', () => {
  const f = (x: unknown) => ({ a: -1, b: 0, c: 2.5 })[x as 'a' | 'b' | 'c'];
  const block = categoricalToNumericalMlp('n', 'tokens', ['a', 'b', 'c'], f);
  for (const x of ['a', 'b', 'c']) {
    const out = runMlp(block, vec([[dir('tokens', x), 1]]));
    assert.equal(out.get('n'), f(x));
  }
});

test('sequenceMap MLP computes f on every input pair (AND via the one direction)', () => {
  const xs = [0, 1, 2];
  const ys = [0, 1];
  const f = (x: unknown, y: unknown) => Number(x) + Number(y);
  const block = sequenceMapMlp('s', 'categorical', { label: 'x', values: xs }, { label: 'y', values: ys }, [0, 1, 2, 3], f, special);
  assert.equal(block.hidden.size, xs.length * ys.length);
  for (const x of xs) {
    for (const y of ys) {
      const out = runMlp(block, vec([[dir('x', x), 1], [dir('y', y), 1], [special.one, 1]]));
      for (const z of [0, 1, 2, 3]) assert.equal(out.get(dirKey(dir('s', z))), z === f(x, y) ? 1 : 0, `f(${x},${y})`);
    }
  }
});

test('discretising numerical MLP reads every input point exactly', () => {
  const points = [0, 0.25, 1 / 3, 0.5, 1];
  const f = (v: unknown) => Math.round(Number(v) * 12);
  const outValues = points.map(f);
  const block = numericalMlp('d', 'categorical', 'x', points, outValues, f, 1000, special);
  for (const p of points) {
    const out = runMlp(block, vec([[dir('x'), p], [special.one, 1]]));
    for (const y of outValues) assert.ok(Math.abs((out.get(dirKey(dir('d', y))) ?? 0) - (y === f(p) ? 1 : 0)) < 1e-9, `x=${p}`);
  }
  const num = numericalMlp('e', 'numerical', 'x', points, [], (v) => -2 * Number(v), 1000, special);
  for (const p of points) assert.ok(Math.abs(runMlp(num, vec([[dir('x'), p], [special.one, 1]])).get('e')! + 2 * p) < 1e-9);
});

const bosKey = (): Vec => vec([[special.bos, 1], [special.one, 1]]);
const tokKey = (t: string, i: number): Vec => vec([[dir('tokens', t), 1], [dir('indices', i), 1], [special.one, 1]]);

test('aggregate head: 0 selected -> BOS (zero output); 1 selected -> its value; several equal -> that value', () => {
  const selector: SelectorSpec = { keyLabel: 'tokens', keyValues: ['a', 'b', 'c'], queryLabel: 'indices', queryValues: [0, 1, 2, 3], predicate: Comparison.TRUE };
  const eqSel: SelectorSpec = { ...selector, predicate: { name: 'key_is_a', test: (k) => k === 'a' } };
  const head = aggregateAttention('agg', 'categorical', eqSel, { label: 'tokens', values: ['a', 'b', 'c'] }, 100, special);
  const query = vec([[dir('indices', 1), 1], [special.one, 1]]);
  const value = (out: Vec, t: string) => out.get(dirKey(dir('agg', t))) ?? 0;

  const none = runHead(head, query, [bosKey(), tokKey('b', 0), tokKey('c', 1)]);
  assert.ok(none.pattern[0] > 1 - 1e-12, 'all weight on BOS');
  for (const t of ['a', 'b', 'c']) assert.ok(Math.abs(value(none.out, t)) < 1e-12);

  const one = runHead(head, query, [bosKey(), tokKey('b', 0), tokKey('a', 1), tokKey('c', 2)]);
  assert.ok(Math.abs(value(one.out, 'a') - 1) < 1e-12);
  assert.ok(one.pattern[0] < 1e-20, 'BOS gets ~e^-50');

  const several = runHead(head, query, [bosKey(), tokKey('a', 0), tokKey('b', 1), tokKey('a', 2), tokKey('a', 3)]);
  assert.ok(Math.abs(value(several.out, 'a') - 1) < 1e-12);
  assert.deepEqual(several.pattern.map((p) => Math.round(p * 3) / 3), [0, 1 / 3, 0, 1 / 3, 1 / 3]);
});

test('numerical aggregate head averages a 0/1 scalar; default 0', () => {
  const sel: SelectorSpec = { keyLabel: 'indices', keyValues: [0, 1, 2, 3], queryLabel: 'indices', queryValues: [0, 1, 2, 3], predicate: Comparison.LEQ };
  const head = aggregateAttention('mean', 'numerical', sel, { label: 'x', values: [0, 1] }, 100, special);
  const key = (i: number, x: number) => vec([[dir('indices', i), 1], [dir('x'), x], [special.one, 1]]);
  const keys = [bosKey(), key(0, 1), key(1, 0), key(2, 1), key(3, 1)];
  const expected = [1, 0.5, 2 / 3, 0.75];
  for (let q = 0; q < 4; q++) {
    const out = runHead(head, vec([[dir('indices', q), 1], [special.one, 1]]), keys).out.get('mean')!;
    assert.ok(Math.abs(out - expected[q]) < 1e-12, `query ${q}: ${out}`);
  }
});

/** SelectorWidth on a query with w selected keys out of N, through the head and the MLP. */
function selectorWidthOutput(N: number, w: number, largeNumber: number): { best: number; margin: number; atBos: number[] } {
  const sel: SelectorSpec = { keyLabel: 'k', keyValues: [0, 1], queryLabel: 'q', queryValues: [1], predicate: Comparison.EQ };
  const { attn, mlp } = selectorWidthBlocks('sw', sel, N, 100, largeNumber, special);
  const keys = [bosKey(), ...Array.from({ length: N }, (_, i) => vec([[dir('k', i < w ? 1 : 0), 1], [special.one, 1]]))];
  const z = selectorWidthHelperDir('sw');
  const run = (query: Vec, isBos: boolean) => {
    const zVal = runHead(attn, query, keys).out.get(dirKey(z))!;
    return runMlp(mlp, vec([[z, zVal], [special.one, 1], [special.bos, isBos ? 1 : 0]]));
  };
  const widthDirs = Array.from({ length: N + 1 }, (_, i) => dir('sw', i));
  const out = run(vec([[dir('q', 1), 1], [special.one, 1]]), false);
  // At BOS: the query has only `one`, attends to BOS alone (z = 1); the clean-up unit must erase everything.
  const zBos = runHead(attn, vec([[special.one, 1]]), keys).out.get(dirKey(z))!;
  const bosOut = runMlp(mlp, vec([[z, zBos], [special.one, 1], [special.bos, 1]]));
  const atBos = [...widthDirs, z].map((d) => (bosOut.get(dirKey(d)) ?? 0) + (d === z ? zBos : 0));
  return { ...argmaxAndMargin(out, widthDirs), atBos };
}

test('SelectorWidth is exact for every width 0..N (N = 50) with margin >= 0.5 at the default L', () => {
  const N = 50;
  const L = 2 * N * (N + 1);
  for (let w = 0; w <= N; w++) {
    const { best, margin, atBos } = selectorWidthOutput(N, w, L);
    assert.equal(best, w);
    assert.ok(margin >= 0.5, `w=${w}: margin ${margin}`);
    if (w === 0 || w === N) for (const v of atBos) assert.ok(Math.abs(v) < 1e-6, `BOS not clean: ${v}`);
  }
});

test('SelectorWidth MLP width is 2N + 2 (Tracr: 22 for N = 10)', () => {
  const sel: SelectorSpec = { keyLabel: 'k', keyValues: [0, 1], queryLabel: 'q', queryValues: [1], predicate: Comparison.EQ };
  assert.equal(selectorWidthBlocks('sw', sel, 10, 100, 220, special).mlp.hidden.size, 22);
});

test('documented failure: L = 100 at N = 12 miscounts exactly the widths w >= 10 (w(w+1) > L)', () => {
  const N = 12;
  for (let w = 0; w <= N; w++) {
    const { best } = selectorWidthOutput(N, w, 100);
    if (w < 10) assert.equal(best, w, `w=${w} should still be right`);
    else assert.notEqual(best, w, `w=${w} should be wrong with L=100`);
  }
});
