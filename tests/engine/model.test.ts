import test from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '../../lib/engine/backend';
import { Transformer, activationNames, ModelConfig, parameterSpecs, resolveModelConfig } from '../../lib/engine/model';
import { makeBatch, weightedSpan } from '../../lib/engine/data';
import { lossAndGrads } from '../../lib/engine/train';
import { batchLoss, tokenAccuracy } from '../../lib/engine/evaluate';

const tiny: Partial<ModelConfig> & { vocabSize: number } = { vocabSize: 7, contextLength: 6, dModel: 8, nLayers: 2, nHeads: 2, dMlp: 12 };

test('forward shapes and parameter names for every norm / activation / position kind', async () => {
  await initBackend();
  for (const norm of ['layernorm', 'rmsnorm', 'none'] as const) {
    for (const activation of ['gelu', 'relu', 'swiglu'] as const) {
      for (const positions of ['learned', 'rope', 'none'] as const) {
        const m = new Transformer({ ...tiny, norm, activation, positions, outputSize: 5 }, 1);
        const shape = tf.tidy(() => m.forward(tf.tensor2d([[1, 2, 3, 4], [0, 0, 6, 5]], [2, 4], 'int32')).logits.shape);
        assert.deepEqual(shape, [2, 4, 5]);
        const names = m.specs.map((s) => s.name);
        assert.ok(names.includes('blocks.1.attn.W_Q'));
        assert.equal(names.includes('pos_embed.W_pos'), positions === 'learned');
        assert.equal(names.includes('blocks.0.mlp.W_gate'), activation === 'swiglu');
        assert.equal(names.includes('blocks.0.ln1.b'), norm === 'layernorm');
        m.dispose();
      }
    }
  }
});

test('causal masking: changing a later token never changes earlier logits; non-causal it does', async () => {
  await initBackend();
  for (const causal of [true, false]) {
    const m = new Transformer({ ...tiny, causal }, 3);
    const [a, b] = tf.tidy(() => [
      m.forward(tf.tensor2d([[1, 2, 3, 4, 5]], [1, 5], 'int32')).logits.arraySync()[0],
      m.forward(tf.tensor2d([[1, 2, 3, 6, 0]], [1, 5], 'int32')).logits.arraySync()[0],
    ]);
    const prefixSame = [0, 1, 2].every((t) => a[t].every((v, i) => Math.abs(v - b[t][i]) < 1e-6));
    assert.equal(prefixSame, causal);
    m.dispose();
  }
});

test('cache holds every documented activation with the documented shapes', async () => {
  await initBackend();
  const m = new Transformer({ ...tiny, dHead: 3 }, 2);
  const c = m.config;
  tf.tidy(() => {
    const { cache } = m.forward(tf.tensor2d([[1, 2, 3]], [1, 3], 'int32'), { cache: true });
    assert.deepEqual(Object.keys(cache).sort(), activationNames(c).sort());
    assert.deepEqual(cache['blocks.1.attn.pattern'].shape, [1, 2, 3, 3]);
    assert.deepEqual(cache['blocks.0.mlp.hidden'].shape, [1, 3, 12]);
    assert.deepEqual(cache['blocks.0.attn.z'].shape, [1, 3, 2, 3]);
    assert.deepEqual(cache['blocks.1.resid_post'].shape, [1, 3, 8]);
    // attention rows are distributions, and causal: nothing above the diagonal
    const p = cache['blocks.0.attn.pattern'].arraySync() as number[][][][];
    for (const head of p[0]) head.forEach((row, q) => {
      assert.ok(Math.abs(row.reduce((s, x) => s + x, 0) - 1) < 1e-5);
      row.forEach((x, k) => k > q && assert.equal(x, 0));
    });
  });
  m.dispose();
});

test('stopAtLayer runs only the first blocks and returns the residual stream there', async () => {
  await initBackend();
  const model = new Transformer({ vocabSize: 7, contextLength: 6, dModel: 8, nLayers: 3, nHeads: 2 }, 3);
  const tokens = tf.tensor2d([[1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1]], [2, 6], 'int32');
  const { cache } = model.forward(tokens, { cache: true });
  const early = model.forward(tokens, { stopAtLayer: 2, cache: true });
  assert.deepEqual(early.logits.shape, [2, 6, 8]);
  assert.deepEqual(early.logits.dataSync(), cache['blocks.1.resid_post'].dataSync());
  assert.ok(!('blocks.2.resid_pre' in early.cache) && !('logits' in early.cache), 'nothing after the stop is computed');
  assert.deepEqual(model.forward(tokens, { stopAtLayer: 0 }).logits.dataSync(), cache['blocks.0.resid_pre'].dataSync());
  assert.throws(() => model.forward(tokens, { stopAtLayer: 4 }), /stopAtLayer must be an integer in 0\.\.3/);
  tf.dispose([tokens, early.logits, ...Object.values(early.cache), ...Object.values(cache)]);
  model.dispose();
});

test('logitSpan: logits, loss, gradients and accuracy of an answer-only batch equal the full computation', async () => {
  await initBackend();
  const model = new Transformer({ vocabSize: 11, contextLength: 8, dModel: 16, nLayers: 2, nHeads: 2 }, 5);
  const B = 3;
  const T = 8;
  const batch = makeBatch(B, T);
  for (let i = 0; i < B * T; i++) [batch.tokens[i], batch.targets[i]] = [(i * 7) % 11, (i * 5 + 3) % 11];
  // Weights at positions 5 and 6 only (an answer and its EOS), different per row.
  for (let b = 0; b < B; b++) [batch.weights[b * T + 5], batch.weights[b * T + 6]] = [1, b === 1 ? 0 : 0.5];
  assert.deepEqual(weightedSpan(batch), { start: 5, end: 7 });
  assert.equal(weightedSpan(makeBatch(2, 4)), undefined, 'no weight: no span');
  const full = makeBatch(1, 4);
  full.weights.fill(1);
  assert.equal(weightedSpan(full), undefined, 'the whole context is no restriction');

  const tokens = tf.tensor2d(batch.tokens, [B, T], 'int32');
  const all = model.forward(tokens).logits;
  const part = model.forward(tokens, { logitSpan: { start: 5, end: 7 } }).logits;
  assert.deepEqual(part.shape, [B, 2, 11]);
  const want = tf.slice(all, [0, 5, 0], [B, 2, 11]);
  const diff = tf.max(tf.abs(tf.sub(part, want))).dataSync()[0];
  assert.ok(diff < 1e-6, `span logits differ by ${diff}`);
  assert.throws(() => model.forward(tokens, { logitSpan: { start: 4, end: 4 } }), /logitSpan must satisfy/);
  tf.dispose([tokens, all, part, want]);

  // lossAndGrads takes the span from the weights; forcing the whole context must give the same loss and gradients.
  const spanned = lossAndGrads(model, batch);
  const whole = lossAndGrads(model, batch, { forward: { logitSpan: { start: 0, end: T } } });
  assert.ok(Math.abs(spanned.loss - whole.loss) < 1e-6, `loss ${spanned.loss} vs ${whole.loss}`);
  for (const [name, g] of Object.entries(whole.grads)) {
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(g, spanned.grads[name]))).dataSync()[0]);
    assert.ok(d < 1e-6, `gradient of ${name} differs by ${d}`);
  }
  tf.dispose([...Object.values(spanned.grads), ...Object.values(whole.grads)]);
  const acc = tokenAccuracy(model, batch);
  const manual = tf.tidy(() => {
    const pred = tf.argMax(model.forward(tf.tensor2d(batch.tokens, [B, T], 'int32')).logits, -1).dataSync();
    let right = 0;
    let n = 0;
    for (let i = 0; i < B * T; i++) if (batch.weights[i] > 0) [n, right] = [n + 1, right + (pred[i] === batch.targets[i] ? 1 : 0)];
    return right / n;
  });
  assert.equal(acc.tokenAccuracy, manual);
  assert.ok(Math.abs(acc.loss - whole.loss) < 1e-6);
  assert.equal(batchLoss(model, batch), spanned.loss, 'batchLoss takes the same span as lossAndGrads');
  model.dispose();
});

test('masks zero exactly the named units', async () => {
  await initBackend();
  const m = new Transformer(tiny, 4);
  const toks = tf.tensor2d([[1, 2, 3, 4]], [1, 4], 'int32');
  tf.tidy(() => {
    // MLP neurons: masked neurons are exactly 0, the others unchanged.
    const mask = tf.tensor1d(Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? 0 : 1)));
    const plain = m.forward(toks, { cache: ['blocks.0.mlp.hidden'] }).cache['blocks.0.mlp.hidden'].arraySync() as number[][][];
    const masked = m.forward(toks, { cache: ['blocks.0.mlp.hidden'], masks: { 'blocks.0.mlp.hidden': mask } }).cache['blocks.0.mlp.hidden'].arraySync() as number[][][];
    masked[0].forEach((row, t) => row.forEach((x, i) => (i % 3 === 0 ? assert.ok(x === 0, `neuron ${i} = ${x}`) : assert.equal(x, plain[0][t][i]))));
    // Whole heads: z of head 1 is exactly 0.
    const z = m.forward(toks, { cache: ['blocks.1.attn.z'], masks: { 'blocks.1.attn.z': tf.tensor1d([1, 0]) } }).cache['blocks.1.attn.z'].arraySync() as number[][][][];
    for (const row of z[0]) assert.ok(row[1].every((x) => x === 0) && row[0].some((x) => x !== 0));
    // A weight row: masking row r of W_in equals setting that row to zero.
    const rowMask = tf.tensor1d(Array.from({ length: 8 }, (_, i) => (i === 5 ? 0 : 1)));
    const viaMask = m.forward(toks, { masks: { 'blocks.0.mlp.W_in': rowMask } }).logits.arraySync() as number[][][];
    const w = m.getWeights()['blocks.0.mlp.W_in'];
    const zeroed = Float32Array.from(w);
    zeroed.fill(0, 5 * 12, 6 * 12);
    const clone = m.clone();
    clone.setWeights({ 'blocks.0.mlp.W_in': zeroed });
    const viaWeights = clone.forward(toks).logits.arraySync() as number[][][];
    clone.dispose();
    viaMask[0].forEach((row, t) => row.forEach((x, i) => assert.ok(Math.abs(x - viaWeights[0][t][i]) < 1e-6)));
    assert.throws(() => m.forward(toks, { masks: { 'blocks.9.mlp.hidden': tf.ones([12]) } }), /neither a parameter nor an activation/);
    assert.throws(() => m.forward(toks, { masks: { 'blocks.0.mlp.hidden': tf.ones([5]) } }), /must have shape/);
  });
  toks.dispose();
  m.dispose();
});

test('hooks can read and replace activations; setWeights checks names and shapes', async () => {
  await initBackend();
  const m = new Transformer(tiny, 5);
  const toks = tf.tensor2d([[1, 2]], [1, 2], 'int32');
  tf.tidy(() => {
    const zeroed = m.forward(toks, { hooks: { 'ln_final.normalized': (x) => tf.zerosLike(x) } }).logits.arraySync() as number[][][];
    const bias = m.getWeights()['unembed.b_U'];
    zeroed[0].forEach((row) => row.forEach((x, i) => assert.ok(Math.abs(x - bias[i]) < 1e-6)));
    assert.throws(() => m.forward(toks, { hooks: { embed: (x) => tf.sum(x) } }), /changed the shape/);
  });
  assert.throws(() => m.setWeights({ nope: [1] }), /unknown parameter/);
  assert.throws(() => m.setWeights({ 'embed.W_E': [1, 2] }), /needs 56 values/);
  assert.throws(() => m.setWeights({ 'embed.W_E': new Float32Array(56) }, { strict: true }), /missing parameters/);
  toks.dispose();
  m.dispose();
});

test('same seed -> same initial weights; different seed -> different', async () => {
  await initBackend();
  const [a, b, c] = [new Transformer(tiny, 11), new Transformer(tiny, 11), new Transformer(tiny, 12)];
  const wa = a.getWeights();
  const wb = b.getWeights();
  const wc = c.getWeights();
  for (const k of Object.keys(wa)) assert.deepEqual(wa[k], wb[k]);
  assert.notDeepEqual(wa['embed.W_E'], wc['embed.W_E']);
  [a, b, c].forEach((m) => m.dispose());
});

test('invalid model configs fail with a clear message', () => {
  assert.throws(() => resolveModelConfig({ vocabSize: 0 }), /vocabSize: must be a positive integer/);
  assert.throws(() => resolveModelConfig({ vocabSize: 5, norm: 'batch' as never }), /norm: Invalid enum value. Expected 'layernorm' \| 'rmsnorm' \| 'none'/);
  assert.throws(() => resolveModelConfig({ vocabSize: 5, positions: 'rope', dModel: 6, nHeads: 2 }), /rope needs an even rotary width: dHead 3/);
  assert.throws(() => resolveModelConfig({ vocabSize: 5, nHeads: 6, nKVHeads: 4 }), /nKVHeads: 4 must divide nHeads 6/);
  assert.throws(() => resolveModelConfig({ vocabSize: 5, outputSize: 3, tiedEmbeddings: true }), /tiedEmbeddings: outputSize 3 must equal vocabSize 5/);
  assert.throws(() => resolveModelConfig({ vocabSize: 5, nLayers: 2, attentionWindows: [4] }), /attentionWindows: 1 entries for 2 layers/);
  assert.throws(() => resolveModelConfig({ vocabSize: 5, nLayrs: 2 } as never), /Unrecognized key\(s\) in object: 'nLayrs'/);
  assert.equal(parameterSpecs(resolveModelConfig({ vocabSize: 5, bias: false })).some((s) => s.name.includes('.b_')), false);
});
