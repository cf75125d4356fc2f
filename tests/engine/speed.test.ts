import test from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf, useWasmBackend } from '../../lib/engine/backend';
import { Transformer, gelu } from '../../lib/engine/model';
import { Optimizer } from '../../lib/engine/optim';
import { lossAndGrads, trainStep } from '../../lib/engine/train';
import { benchBatch, percentile } from '../../lib/bench';
import { setWasmOverridesEnabled, wasmThreadsWanted } from '../../lib/engine/wasmKernels';
import { maxRelDiff } from './helpers';

/** Runs f with the fast wasm kernels, then with the stock ones; returns both results as arrays. */
function fastAndStock(f: () => tf.Tensor): [Float32Array, Float32Array, number[], number[]] {
  try {
    setWasmOverridesEnabled(true);
    const a = tf.tidy(f);
    setWasmOverridesEnabled(false);
    const b = tf.tidy(f);
    const out: [Float32Array, Float32Array, number[], number[]] = [a.dataSync() as Float32Array, b.dataSync() as Float32Array, a.shape, b.shape];
    tf.dispose([a, b]);
    return out;
  } finally {
    setWasmOverridesEnabled(true);
  }
}

test('fast wasm matmul/transpose/sum/identity kernels agree with the stock ones', async () => {
  await useWasmBackend(); // the kernels under test are wasm overrides (the wasm backend is always installed)
  const r = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);
  const matmuls: [number[], number[], boolean, boolean][] = [
    [[64, 48], [64, 40], true, false], // dW = x^T dy
    [[64, 40], [48, 40], false, true], // dx = dy W^T
    [[3, 2, 16, 8], [3, 2, 16, 8], false, true], // attention scores q k^T
    [[3, 2, 16, 16], [3, 2, 16, 8], true, false], // its gradient
    [[6, 16, 12], [12, 20], false, false], // batched times a shared matrix (broadcast)
    [[33, 17], [17, 5], false, false],
  ];
  for (const [sa, sb, ta, tb] of matmuls) {
    const [fast, stock, fs, ss] = fastAndStock(() => tf.matMul(r(sa, 1), r(sb, 2), ta, tb));
    assert.deepEqual(fs, ss);
    assert.ok(maxRelDiff(fast, stock) < 1e-5, `matMul ${sa} ${sb} ${ta} ${tb}`);
  }
  const exact: [string, () => tf.Tensor][] = [
    ['transpose 2-D', () => tf.transpose(r([67, 45], 3))],
    ['transpose heads', () => tf.transpose(r([3, 17, 4, 8], 4), [0, 2, 1, 3])],
    ['transpose batched', () => tf.transpose(r([5, 33, 34], 5), [0, 2, 1])],
    ['transpose int32', () => tf.transpose(tf.range(0, 64 * 40, 1, 'int32').reshape([64, 40]))],
    ['identity', () => tf.clone(r([40, 30], 9))],
  ];
  for (const [name, f] of exact) {
    const [fast, stock, fs, ss] = fastAndStock(f);
    assert.deepEqual(fs, ss, name);
    assert.deepEqual(Array.from(fast), Array.from(stock), name);
  }
  // Sums: the stock kernel adds in a different order (vectorised), so equal up to float32 rounding.
  const sums: [string, () => tf.Tensor][] = [
    ['sum leading axis', () => tf.sum(r([300, 7], 6), 0)],
    ['sum leading axes keepDims', () => tf.sum(r([4, 50, 9], 7), [1, 0], true)],
    ['sum last axis (stock path)', () => tf.sum(r([4, 50, 9], 8), -1)],
  ];
  for (const [name, f] of sums) {
    const [fast, stock, fs, ss] = fastAndStock(f);
    assert.deepEqual(fs, ss, name);
    assert.ok(maxRelDiff(fast, stock) < 1e-5, name);
  }
});

test('model logits and gradients with the fast kernels match the stock path', async () => {
  await useWasmBackend(); // the kernels under test are wasm overrides (the wasm backend is always installed)
  const model = new Transformer({ vocabSize: 11, contextLength: 16, dModel: 32, nLayers: 2, nHeads: 4, activation: 'gelu', initStd: 0.2 }, 3);
  const batch = benchBatch(1, 4, 16, 11);
  const tokens = tf.tensor2d(batch.tokens, [4, 16], 'int32');
  try {
    const [fast, stock] = fastAndStock(() => model.forward(tokens).logits);
    assert.ok(maxRelDiff(fast, stock) < 1e-5, 'logits');
    const grads = (on: boolean) => {
      setWasmOverridesEnabled(on);
      try {
        return lossAndGrads(model, batch);
      } finally {
        setWasmOverridesEnabled(true);
      }
    };
    const a = grads(true);
    const b = grads(false);
    assert.ok(Math.abs(a.loss - b.loss) < 1e-5);
    // b_K's gradient is zero in exact arithmetic (it shifts every score of a query equally): compare on
    // the scale of the largest gradient.
    const floor = Math.max(...Object.values(b.grads).map((g) => tf.max(tf.abs(g)).dataSync()[0])) * 1e-3;
    for (const name of Object.keys(b.grads)) {
      assert.ok(maxRelDiff(a.grads[name].dataSync(), b.grads[name].dataSync(), floor) < 1e-4, `grad ${name}`);
    }
    tf.dispose([...Object.values(a.grads), ...Object.values(b.grads)]);
  } finally {
    tokens.dispose();
    model.dispose();
  }
});

test('gelu equals the tanh formula, and its written-out gradient equals autodiff of that formula', async () => {
  await initBackend();
  const reference = (x: tf.Tensor) => tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI))), 1));
  const x = tf.linspace(-6, 6, 241);
  const [y, yRef] = [gelu(x), reference(x)];
  assert.ok(maxRelDiff(y.dataSync(), yRef.dataSync()) < 1e-6);
  const weights = tf.randomNormal([241], 0, 1, 'float32', 1);
  const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(gelu(v), weights)))(x);
  const gRef = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(reference(v), weights)))(x);
  assert.ok(maxRelDiff(g.dataSync(), gRef.dataSync()) < 1e-5);
  tf.dispose([x, y, yRef, weights, g, gRef]);
});

test('training steps keep the tensor count flat (no leak in the kernels or the step)', async () => {
  await initBackend();
  const model = new Transformer({ vocabSize: 9, contextLength: 8, dModel: 16, nLayers: 2, nHeads: 2, activation: 'gelu' }, 1);
  const opt = new Optimizer({ kind: 'adamw', lr: 1e-3 }, model.parameters(), model.specs.filter((s) => s.decay).map((s) => s.name));
  const batch = benchBatch(2, 4, 8, 9);
  trainStep(model, opt, batch, 1e-3);
  const after1 = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) trainStep(model, opt, batch, 1e-3);
  assert.equal(tf.memory().numTensors, after1);
  opt.dispose();
  model.dispose();
});

test('bench helpers: deterministic batch, percentiles, thread setting', () => {
  const a = benchBatch(5, 3, 4, 7);
  const b = benchBatch(5, 3, 4, 7);
  assert.deepEqual(a.tokens, b.tokens);
  assert.notDeepEqual(a.tokens, benchBatch(6, 3, 4, 7).tokens);
  assert.ok(a.tokens.every((v) => v >= 0 && v < 7));
  assert.equal(percentile([5, 1, 3], 0.5), 3);
  assert.equal(percentile([0, 10], 0.1), 1);
  const saved = process.env.WRAPLAB_WASM_THREADS;
  try {
    delete process.env.WRAPLAB_WASM_THREADS;
    assert.equal(wasmThreadsWanted(), 1, 'one thread unless asked: spin-waiting pools collapse on a busy machine');
    process.env.WRAPLAB_WASM_THREADS = '3';
    assert.equal(wasmThreadsWanted(), 3);
    process.env.WRAPLAB_WASM_THREADS = 'two';
    assert.throws(() => wasmThreadsWanted(), /WRAPLAB_WASM_THREADS="two" must be an integer/);
  } finally {
    if (saved === undefined) delete process.env.WRAPLAB_WASM_THREADS;
    else process.env.WRAPLAB_WASM_THREADS = saved;
  }
});
