/**
 * The compiled weights in the engine's TF.js Transformer (float32): same outputs as the RASP evaluator,
 * and the same activations as the float64 reference forward pass.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '../../lib/engine/backend';
import { parameterSpecs, resolveModelConfig, Transformer } from '../../lib/engine/model';
import { Rng } from '../../lib/engine/rng';
import {
  CompiledProgram,
  compile,
  makeCounter,
  makeFracPrevs,
  makeMaxIdentifier,
  makeReverse,
  makeSortUnique,
  PAPER_READOUT_INDEX,
  referenceForward,
  SOp,
  Value,
} from '../../lib/tasks/tracr';
import { assertMatchesEvaluator, randomDistinct, randomSeq } from './helpers';

const letters = (n: number) => 'abcdefghijklmnopqrstuvwxyz'.slice(0, n).split('');

/** Runs a batch (PAD-padded to the context) through the engine; returns decoded outputs per input and the cache. */
function runEngine(cp: CompiledProgram, inputs: Value[][], cacheNames: string[] = []) {
  const model = new Transformer(cp.modelConfig, 0);
  model.setWeights(cp.weights, { strict: true });
  const T = cp.modelConfig.contextLength;
  const ids = inputs.map((xs) => cp.encode(xs, { padTo: T }));
  const O = cp.modelConfig.outputSize;
  const { logits, cache } = tf.tidy(() => {
    const r = model.forward(tf.tensor2d(ids, [ids.length, T], 'int32'), { cache: cacheNames });
    return { logits: r.logits.dataSync() as Float32Array, cache: Object.fromEntries(Object.entries(r.cache).map(([k, v]) => [k, v.dataSync() as Float32Array])) };
  });
  model.dispose();
  const outputs = inputs.map((xs, b) => xs.map((_, i) => cp.decodeOutput(logits.subarray((b * T + i + 1) * O, (b * T + i + 2) * O))));
  return { outputs, logits, cache, ids };
}

test('engine Transformer with compiled weights == RASP evaluator (paper Counter, a-i, N = 47)', async () => {
  await initBackend();
  const program = makeCounter('a');
  const cp = compile(program, { vocab: letters(9), maxSeqLen: 47 });
  const names = new Set(parameterSpecs(resolveModelConfig(cp.modelConfig)).map((s) => s.name));
  assert.deepEqual(new Set(Object.keys(cp.weights)), names, 'weights cover exactly the engine parameters');
  const rng = Rng.derive(2, 'tracr', 'engine', 'counter');
  const inputs: Value[][] = [new Array(47).fill('a'), new Array(47).fill('c'), ['b', 'a']];
  for (let i = 0; i < 60; i++) inputs.push(randomSeq(rng, letters(9), rng.int(2, 48)));
  const { outputs } = runEngine(cp, inputs);
  inputs.forEach((xs, b) => {
    assertMatchesEvaluator(cp, program, xs, {}, outputs[b]);
    assert.equal(outputs[b][PAPER_READOUT_INDEX], xs.filter((x) => x === 'a').length);
  });
});

test('engine == evaluator: Max-identifier in the paper format (10 distinct letters + 4 PAD)', async () => {
  await initBackend();
  const program = makeMaxIdentifier(4);
  const cp = compile(program, { vocab: letters(26), maxSeqLen: 14 });
  const rng = Rng.derive(2, 'tracr', 'engine', 'maxid');
  const inputs = Array.from({ length: 60 }, () => randomDistinct(rng, letters(26), 10));
  inputs.push('bdafhmxpqn'.split(''));
  const { outputs } = runEngine(cp, inputs);
  inputs.forEach((xs, b) => {
    assertMatchesEvaluator(cp, program, xs, {}, outputs[b]);
    assert.equal(outputs[b][1], [...xs].sort()[4]);
  });
  assert.equal(outputs[outputs.length - 1][1], 'h');
});

test('engine == evaluator: reverse, sort, frac_prevs (numerical, also causal)', async () => {
  await initBackend();
  const rng = Rng.derive(2, 'tracr', 'engine', 'library');
  const cases: [SOp, Value[], number, boolean][] = [
    [makeReverse(), letters(4), 8, false],
    [makeSortUnique(), letters(12), 8, false],
    [makeFracPrevs((x) => x === 'a'), letters(3), 8, false],
    [makeFracPrevs((x) => x === 'a'), letters(3), 8, true],
  ];
  for (const [program, vocab, N, causal] of cases) {
    const cp = compile(program, { vocab, maxSeqLen: N, causal });
    const distinct = program.label === 'sort';
    const inputs = Array.from({ length: 30 }, () => (distinct ? randomDistinct(rng, vocab, rng.int(1, N + 1)) : randomSeq(rng, vocab, rng.int(1, N + 1))));
    const { outputs } = runEngine(cp, inputs);
    // Numerical outputs (frac_prevs) are compared within float32 tolerance.
    inputs.forEach((xs, b) => assertMatchesEvaluator(cp, program, xs, { tolerance: 1e-4 }, outputs[b]));
  }
});

test('engine activations (float32) match the float64 reference forward pass', async () => {
  await initBackend();
  const cp = compile(makeCounter('a'), { vocab: letters(5), maxSeqLen: 12 });
  const rng = Rng.derive(2, 'tracr', 'engine', 'acts');
  const inputs = Array.from({ length: 4 }, () => randomSeq(rng, letters(5), 12));
  const names: string[] = [];
  for (let l = 0; l < cp.modelConfig.nLayers; l++) names.push(`blocks.${l}.resid_mid`, `blocks.${l}.resid_post`, `blocks.${l}.attn.pattern`);
  const { logits, cache, ids } = runEngine(cp, inputs, names);
  const T = cp.modelConfig.contextLength;
  const D = cp.modelConfig.dModel;
  const H = cp.modelConfig.nHeads;
  inputs.forEach((_, b) => {
    const ref = referenceForward(cp.modelConfig, cp.weights, ids[b]);
    for (const name of names) {
      const size = name.endsWith('pattern') ? H * T * T : T * D;
      const got = cache[name].subarray(b * size, (b + 1) * size);
      const want = ref.cache[name];
      let maxDiff = 0;
      for (let i = 0; i < size; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
      assert.ok(maxDiff < 1e-3, `${name}: max |engine - reference| = ${maxDiff}`);
    }
    const O = cp.modelConfig.outputSize;
    for (let i = 0; i < T * O; i++) assert.ok(Math.abs(logits[b * T * O + i] - ref.logits[i]) < 1e-3);
  });
});
