import test from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../lib/engine/rng';
import {
  compile,
  evaluate,
  evaluateAll,
  makeCount,
  makeCounter,
  makeFracPrevs,
  makeHist,
  makeLength,
  makeMaxIdentifier,
  makeReverse,
  makeSortUnique,
  map,
  PAPER_READOUT_INDEX,
  SOp,
  tokens,
  Value,
} from '../../lib/tasks/tracr';
import { allSequences, assertMatchesEvaluator, randomDistinct, randomSeq, runReference } from './helpers';

const letters = (n: number) => 'abcdefghijklmnopqrstuvwxyz'.slice(0, n).split('');

test('Counter (paper Alg. 1, a-i, N = 47): compiled == evaluator on random strings and worst cases; index 1 = #a', () => {
  const program = makeCounter('a');
  const vocab = letters(9);
  const N = 47;
  const cp = compile(program, { vocab, maxSeqLen: N });
  const rng = Rng.derive(1, 'tracr', 'counter');
  const cases: Value[][] = [
    new Array(N).fill('a'), // count = N
    new Array(N).fill('b'), // count = 0
    ['a'],
    ['b', 'a'],
  ];
  for (const c of [9, 10, 11, 12, 30]) cases.push(rng.shuffle([...new Array(c).fill('a'), ...randomSeq(rng, letters(9).slice(1), N - c)]));
  for (let i = 0; i < 40; i++) cases.push(randomSeq(rng, vocab, rng.int(2, N + 1)));
  for (const xs of cases) {
    const { outputs } = runReference(cp, xs);
    assertMatchesEvaluator(cp, program, xs, {}, outputs);
    if (xs.length > PAPER_READOUT_INDEX) assert.equal(outputs[PAPER_READOUT_INDEX], xs.filter((x) => x === 'a').length);
  }
});

test('Counter with small vocab and N: exhaustive over {a,b,c}^1..5', () => {
  const program = makeCounter('b');
  const cp = compile(program, { vocab: letters(3), maxSeqLen: 5 });
  for (const xs of allSequences(letters(3), 5)) assertMatchesEvaluator(cp, program, xs);
});

test('Max-identifier (paper Alg. 2, a-z, N = 10): index 1 = 5th smallest letter; Fig. 13 example', () => {
  const program = makeMaxIdentifier(4);
  const cp = compile(program, { vocab: letters(26), maxSeqLen: 10 });
  const fig13 = 'bdafhmxpqn'.split('');
  assert.equal(runReference(cp, fig13).outputs[1], 'h');
  const rng = Rng.derive(1, 'tracr', 'maxid');
  let compared = 0;
  for (let i = 0; i < 150; i++) {
    const xs = randomDistinct(rng, letters(26), rng.int(5, 11));
    const { outputs } = runReference(cp, xs);
    compared += assertMatchesEvaluator(cp, program, xs, {}, outputs);
    assert.equal(outputs[1], [...xs].sort()[4]);
  }
  assert.ok(compared >= 150, 'index 1 compared on every input');
  // Worst cases: the 5th smallest at the first/last position, alphabet extremes.
  for (const xs of [['e', 'a', 'b', 'c', 'd'], ['a', 'b', 'c', 'd', 'z'], 'vwxyzabcde'.split('')]) {
    assert.equal(runReference(cp, xs).outputs[1], [...xs].sort()[4]);
  }
});

test('Max-identifier with other ranks, exhaustive over distinct strings from a-e', () => {
  for (const rank of [0, 2]) {
    const program = makeMaxIdentifier(rank);
    const cp = compile(program, { vocab: letters(5), maxSeqLen: 4 });
    for (const xs of allSequences(letters(5), 4)) {
      if (new Set(xs).size !== xs.length) continue;
      assertMatchesEvaluator(cp, program, xs);
    }
  }
});

const library: { name: string; make: () => SOp; vocab: Value[]; N: number; distinct?: boolean }[] = [
  { name: 'length', make: makeLength, vocab: letters(3), N: 5 },
  { name: 'hist', make: makeHist, vocab: letters(3), N: 5 },
  { name: 'count', make: () => makeCount(tokens, 'b'), vocab: letters(3), N: 5 },
  { name: 'sort_unique', make: () => makeSortUnique(), vocab: [0, 1, 2, 3, 4], N: 4, distinct: true },
  { name: 'reverse', make: () => makeReverse(), vocab: letters(3), N: 5 },
  { name: 'frac_prevs', make: () => makeFracPrevs((x) => x === 'a'), vocab: letters(3), N: 5 },
];

for (const lib of library) {
  test(`library ${lib.name}: compiled == evaluator, exhaustive for small vocab and N`, () => {
    const program = lib.make();
    const cp = compile(program, { vocab: lib.vocab, maxSeqLen: lib.N });
    let compared = 0;
    for (const xs of allSequences(lib.vocab, lib.N)) {
      if (lib.distinct && new Set(xs).size !== xs.length) continue;
      compared += assertMatchesEvaluator(cp, program, xs);
    }
    assert.ok(compared > 50);
  });
}

test('library programs on random inputs at larger N (length, hist, sort, reverse, frac_prevs)', () => {
  const rng = Rng.derive(1, 'tracr', 'library');
  const vocab = letters(6);
  for (const make of [makeLength, makeHist, () => makeReverse(), () => makeFracPrevs((x) => x === 'a')]) {
    const program = make();
    const cp = compile(program, { vocab, maxSeqLen: 16 });
    for (let i = 0; i < 20; i++) assertMatchesEvaluator(cp, program, randomSeq(rng, vocab, rng.int(1, 17)));
    assertMatchesEvaluator(cp, program, new Array(16).fill('a'));
  }
  const sort = makeSortUnique();
  const cs = compile(sort, { vocab: Array.from({ length: 20 }, (_, i) => i), maxSeqLen: 12 });
  for (let i = 0; i < 20; i++) assertMatchesEvaluator(cs, sort, randomDistinct(rng, Array.from({ length: 20 }, (_, j) => j), rng.int(1, 13)));
});

test('causal compilation matches the causal evaluator (and differs from the bidirectional one)', () => {
  const program = makeLength();
  const cp = compile(program, { vocab: letters(3), maxSeqLen: 6, causal: true });
  assert.equal(cp.modelConfig.causal, true);
  const xs = ['a', 'b', 'c', 'a'];
  assert.deepEqual(runReference(cp, xs).outputs, [1, 2, 3, 4]);
  for (const s of allSequences(letters(3), 4)) assertMatchesEvaluator(cp, program, s);
  const fp = makeFracPrevs((x) => x === 'a');
  const cf = compile(fp, { vocab: letters(3), maxSeqLen: 6, causal: true });
  for (const s of allSequences(letters(3), 4)) assertMatchesEvaluator(cf, fp, s);
});

test('residual decoding: after each layer, every written S-Op decodes to its evaluator value', () => {
  const rng = Rng.derive(1, 'tracr', 'residual');
  const cases: [SOp, Value[], number, () => Value[]][] = [
    [makeCounter('a'), letters(4), 12, () => randomSeq(rng, letters(4), rng.int(2, 13))],
    [makeMaxIdentifier(4), letters(26), 10, () => randomDistinct(rng, letters(26), rng.int(5, 11))],
    [makeReverse(), letters(3), 6, () => randomSeq(rng, letters(3), rng.int(1, 7))],
  ];
  for (const [program, vocab, N, sample] of cases) {
    const cp = compile(program, { vocab, maxSeqLen: N });
    const stages = ['blocks.0.resid_pre'];
    for (let l = 0; l < cp.modelConfig.nLayers; l++) stages.push(`blocks.${l}.resid_mid`, `blocks.${l}.resid_post`);
    for (let i = 0; i < 15; i++) {
      const xs = sample();
      const { result, T } = runReference(cp, xs);
      const expected = evaluateAll(program, xs);
      for (const [label, sop] of cp.layout.sops) {
        const first = stages.indexOf(cp.layout.activationWith(label));
        assert.ok(first >= 0, label);
        // Present from the stage it is written at, through the last one (nothing overwrites it).
        for (const stage of stages.slice(first)) {
          const decoded = cp.layout.decodeSOp(label, result.cache[stage], T);
          expected.get(label)!.forEach((e, p) => {
            if (e === null) return;
            if (sop.encoding === 'numerical') assert.ok(Math.abs(Number(decoded[p]) - Number(e)) < 1e-6);
            else assert.equal(decoded[p], e, `${label} at ${stage}, position ${p}, input ${xs.join('')}`);
          });
        }
        // Absent before: a computed S-Op's directions are still zero one stage earlier.
        if (first > 0) {
          const before = result.cache[stages[first - 1]];
          for (let t = 0; t < T; t++) for (const d of sop.dims) assert.equal(before[t * cp.layout.dModel + d], 0);
        }
      }
    }
  }
});

test('PAD tokens appended up to the context do not change outputs at real positions', () => {
  const rng = Rng.derive(1, 'tracr', 'pad');
  const cases: [SOp, Value[], number, () => Value[]][] = [
    [makeCounter('a'), letters(9), 20, () => randomSeq(rng, letters(9), rng.int(2, 20))],
    [makeMaxIdentifier(4), letters(26), 14, () => randomDistinct(rng, letters(26), 10)],
    [makeLength(), letters(3), 10, () => randomSeq(rng, letters(3), rng.int(1, 10))],
  ];
  for (const [program, vocab, N, sample] of cases) {
    const cp = compile(program, { vocab, maxSeqLen: N });
    for (let i = 0; i < 15; i++) {
      const xs = sample();
      const plain = runReference(cp, xs).outputs;
      const padded = runReference(cp, xs, cp.modelConfig.contextLength);
      assert.equal(padded.T, N + 1);
      assert.deepEqual(padded.outputs, plain);
      assertMatchesEvaluator(cp, program, xs, {}, padded.outputs);
    }
  }
});

/** Shapes vs Tracr's measured sizes (tracr.md §1.8). */
function shape(program: SOp, vocab: Value[], N: number) {
  const cp = compile(program, { vocab, maxSeqLen: N });
  return {
    nLayers: cp.modelConfig.nLayers,
    dModel: cp.modelConfig.dModel,
    heads: cp.layers.map((l) => l.heads.length),
    mlpWidths: cp.layers.map((l) => l.mlps.reduce((n, m) => n + m.hidden.size, 0)),
  };
}

test('shape regression: paper programs have 3 layers and Tracr\'s d_model / MLP widths', () => {
  assert.deepEqual(shape(makeCounter('a'), letters(9), 47), { nLayers: 3, dModel: 158, heads: [0, 1, 1], mlpWidths: [2, 96, 0] });
  assert.deepEqual(shape(makeCounter('a'), letters(10), 48), { nLayers: 3, dModel: 162, heads: [0, 1, 1], mlpWidths: [2, 98, 0] });
  assert.deepEqual(shape(makeMaxIdentifier(4), letters(26), 10), { nLayers: 3, dModel: 79, heads: [1, 0, 1], mlpWidths: [22, 2, 0] });
  assert.deepEqual(shape(makeMaxIdentifier(4), letters(26), 14), { nLayers: 3, dModel: 87, heads: [1, 0, 1], mlpWidths: [30, 2, 0] });
});

test('shape regression: library programs match Tracr\'s d_model and layer counts', () => {
  assert.equal(shape(makeCount(tokens, 'a'), letters(4), 5).dModel, 19);
  assert.equal(shape(makeCount(tokens, 'a'), letters(4), 10).dModel, 29);
  assert.equal(shape(makeCount(tokens, 'a'), letters(26), 20).dModel, 71);
  assert.equal(shape(makeLength(), letters(3), 10).dModel, 28);
  assert.equal(shape(makeHist(), letters(4), 10).dModel, 29);
  assert.deepEqual(shape(makeReverse(), [1, 2, 3], 5), { nLayers: 4, dModel: 41, heads: [1, 0, 0, 1], mlpWidths: [12, 30, 10, 0] });
  assert.deepEqual(shape(makeFracPrevs((x) => x === 'a'), letters(3), 8), { nLayers: 2, dModel: 16, heads: [0, 1], mlpWidths: [1, 0] });
  assert.deepEqual(shape(makeSortUnique(), Array.from({ length: 10 }, (_, i) => i), 6), { nLayers: 2, dModel: 37, heads: [1, 1], mlpWidths: [14, 0] });
});

test('engine config and weights: contract names/shapes, zero biases, BOS row and PAD id', () => {
  const cp = compile(makeCounter('a'), { vocab: letters(4), maxSeqLen: 6 });
  const c = cp.modelConfig;
  assert.deepEqual([c.norm, c.activation, c.positions, c.bias, c.causal], ['none', 'relu', 'learned', true, false]);
  assert.equal(c.contextLength, 7);
  assert.equal(c.vocabSize, 6);
  assert.equal(cp.weights['embed.W_E'].length, c.vocabSize * c.dModel);
  assert.equal(cp.weights['pos_embed.W_pos'].length, c.contextLength * c.dModel);
  assert.ok(cp.weights['pos_embed.W_pos'].slice(0, c.dModel).every((x) => x === 0), 'position 0 (BOS) writes nothing');
  for (let i = 0; i < c.nLayers; i++) {
    assert.equal(cp.weights[`blocks.${i}.attn.W_Q`].length, c.dModel * c.nHeads * c.dHead);
    assert.equal(cp.weights[`blocks.${i}.attn.W_O`].length, c.nHeads * c.dHead * c.dModel);
    assert.equal(cp.weights[`blocks.${i}.mlp.W_in`].length, c.dModel * c.dMlp);
    for (const b of ['attn.b_Q', 'attn.b_K', 'attn.b_V', 'attn.b_O', 'mlp.b_in', 'mlp.b_out']) assert.ok(cp.weights[`blocks.${i}.${b}`].every((x) => x === 0));
  }
  assert.equal(cp.weights['unembed.W_U'].length, c.dModel * c.outputSize);
  const noBias = compile(makeCounter('a'), { vocab: letters(4), maxSeqLen: 6, bias: false });
  assert.ok(!('blocks.0.attn.b_Q' in noBias.weights) && !('unembed.b_U' in noBias.weights));
  assert.deepEqual(cp.encode(['a', 'd']), [0, 1, 4]);
  assert.deepEqual(cp.encode(['b'], { padTo: 4 }), [0, 2, 5, 5]);
  assert.deepEqual(cp.decodeTokens([0, 3, 5]), ['BOS', 'c', 'PAD']);
  assert.throws(() => cp.encode(['z']), /not in the vocab/);
  assert.throws(() => cp.encode(new Array(7).fill('a')), /maxSeqLen/);
  assert.equal(cp.outputIndexOf(3), 3);
  assert.equal(cp.outputIndexOf(99), -1);
  assert.ok(cp.nonZeroWeights() < 0.1 * Object.values(cp.weights).reduce((n, w) => n + w.length, 0), 'compiled weights are sparse');
});

test('attention scores equal softmaxColdness exactly (the 1/sqrt(dHead) scale is compensated in W_Q)', () => {
  const program = makeLength();
  const cp = compile(program, { vocab: letters(3), maxSeqLen: 4, softmaxColdness: 3 });
  // With coldness 3, a query attends to BOS and its 3 selected keys with weight e^3 each... all equal:
  const { result } = runReference(cp, ['a', 'b', 'c']);
  const pattern = result.cache['blocks.0.attn.pattern'];
  const T = 4;
  for (let q = 1; q < T; q++) for (let k = 0; k < T; k++) assert.ok(Math.abs(pattern[q * T + k] - 0.25) < 1e-12);
  // BOS query: scores BOS at c = 3, the others at 0.
  const e3 = Math.exp(3);
  assert.ok(Math.abs(pattern[0] - e3 / (e3 + 3)) < 1e-12);
});

test('mlpLargeNumber = 100 reproduces Tracr\'s documented miscount at N = 12 (length 10 -> 9)', () => {
  const program = makeLength();
  const bad = compile(program, { vocab: ['a'], maxSeqLen: 12, mlpLargeNumber: 100 });
  const good = compile(program, { vocab: ['a'], maxSeqLen: 12 });
  assert.equal(good.options.mlpLargeNumber, 2 * 12 * 13);
  const got = (cp: typeof bad, n: number) => runReference(cp, new Array(n).fill('a')).outputs[0];
  for (let n = 1; n <= 12; n++) assert.equal(got(good, n), n);
  assert.deepEqual([9, 10, 11, 12].map((n) => got(bad, n)), [9, 9, 10, 11]);
});

test('compilation is deterministic and programs compile side by side', () => {
  const a = compile(makeMaxIdentifier(4), { vocab: letters(8), maxSeqLen: 6 });
  const b = compile(makeMaxIdentifier(4), { vocab: letters(8), maxSeqLen: 6 });
  assert.deepEqual(a.modelConfig, b.modelConfig);
  assert.deepEqual(a.layout.dimNames(), b.layout.dimNames());
  for (const k of Object.keys(a.weights)) assert.deepEqual(a.weights[k], b.weights[k], k);
  assert.deepEqual(evaluate(a.program, ['a', 'b', 'c', 'd', 'e']), evaluate(b.program, ['a', 'b', 'c', 'd', 'e']));
});

test('compile rejects bad options', () => {
  assert.throws(() => compile(makeLength(), { vocab: ['a', 'a'], maxSeqLen: 3 }), /duplicates/);
  assert.throws(() => compile(makeLength(), { vocab: ['a', 'BOS'], maxSeqLen: 3 }), /special/);
  assert.throws(() => compile(makeLength(), { vocab: ['a'], maxSeqLen: 0 }), /maxSeqLen/);
});

test('numerical -> categorical map (discretising MLP) compiles end to end', () => {
  const frac = makeFracPrevs((x) => x === 'a');
  const mostlyA = map((f) => Number(f) > 0.5, frac).named('mostly_a');
  const cp = compile(mostlyA, { vocab: letters(3), maxSeqLen: 5 });
  assert.deepEqual(cp.outputValues, [false, true]);
  for (const xs of allSequences(letters(3), 5)) assertMatchesEvaluator(cp, mostlyA, xs);
  // The intermediate numerical S-Op decodes to the running fraction.
  const xs = ['a', 'b', 'a', 'a'];
  const { result, T } = runReference(cp, xs);
  const decoded = cp.decodeResidual(result.cache[cp.layout.activationWith('frac_prevs')], T, ['frac_prevs']).get('frac_prevs')!;
  [1, 0.5, 2 / 3, 0.75].forEach((v, i) => assert.ok(Math.abs(Number(decoded[i]) - v) < 1e-9));
});
