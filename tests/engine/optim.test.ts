import test from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '../../lib/engine/backend';
import { Optimizer, ScheduleConfigSchema, clipByGlobalNorm, learningRate } from '../../lib/engine/optim';

const close = (a: number, b: number, tol = 1e-6) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} != ${b}`);

test('AdamW matches a hand-computed PyTorch update, with decay only on chosen parameters', async () => {
  await initBackend();
  const p = tf.variable(tf.tensor1d([1, -2, 0.5]));
  const q = tf.variable(tf.tensor1d([3]));
  const opt = new Optimizer({ kind: 'adamw', lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, clipNorm: 0 }, new Map([['p', p], ['q', q]]), ['p']);
  const gs = [[0.5, 0.1, -0.3], [-0.2, 0.4, 0.05]];
  const ref = { p: [1, -2, 0.5], m: [0, 0, 0], v: [0, 0, 0] };
  const qRef = { p: 3, m: 0, v: 0 };
  for (let t = 1; t <= 2; t++) {
    const g = gs[t - 1];
    opt.apply({ p: tf.tensor1d(g), q: tf.tensor1d([g[0]]) }, 0.1);
    for (let i = 0; i < 3; i++) {
      ref.p[i] *= 1 - 0.1 * 0.1;
      ref.m[i] = 0.9 * ref.m[i] + 0.1 * g[i];
      ref.v[i] = 0.999 * ref.v[i] + 0.001 * g[i] * g[i];
      ref.p[i] -= (0.1 * (ref.m[i] / (1 - 0.9 ** t))) / (Math.sqrt(ref.v[i] / (1 - 0.999 ** t)) + 1e-8);
    }
    qRef.m = 0.9 * qRef.m + 0.1 * g[0];
    qRef.v = 0.999 * qRef.v + 0.001 * g[0] * g[0];
    qRef.p -= (0.1 * (qRef.m / (1 - 0.9 ** t))) / (Math.sqrt(qRef.v / (1 - 0.999 ** t)) + 1e-8);
  }
  Array.from(p.dataSync()).forEach((x, i) => close(x, ref.p[i], 1e-5));
  close(q.dataSync()[0], qRef.p, 1e-5);
  opt.dispose();
});

test('SGD with momentum matches torch.optim.SGD', async () => {
  await initBackend();
  const p = tf.variable(tf.tensor1d([1]));
  const opt = new Optimizer({ kind: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 0, clipNorm: 0 }, new Map([['p', p]]), []);
  opt.apply({ p: tf.tensor1d([0.5]) }, 0.1); // buf = 0.5, p = 0.95
  close(p.dataSync()[0], 0.95);
  opt.apply({ p: tf.tensor1d([0.5]) }, 0.1); // buf = 0.95, p = 0.855
  close(p.dataSync()[0], 0.855);
  const state = opt.getState();
  assert.equal(state.step, 2);
  close(state.tensors['m.p'][0], 0.95);
  opt.dispose();
});

test('warmup + cosine schedule values, and constant', () => {
  const s = ScheduleConfigSchema.parse({ kind: 'cosine', warmupFrac: 0.1, minLrRatio: 0.01 });
  close(learningRate(s, 1, 0, 100), 0.1);
  close(learningRate(s, 1, 9, 100), 1);
  close(learningRate(s, 1, 10, 100), 1);
  close(learningRate(s, 1, 55, 100), 0.01 + 0.5 * 0.99);
  close(learningRate(s, 1, 100, 100), 0.01);
  for (let i = 11; i < 100; i++) assert.ok(learningRate(s, 1, i, 100) <= learningRate(s, 1, i - 1, 100));
  const c = ScheduleConfigSchema.parse({ kind: 'constant' });
  close(learningRate(c, 0.3, 0, 10), 0.3);
  close(learningRate(c, 0.3, 9, 10), 0.3);
});

test('gradient clipping scales to the max global norm like torch', async () => {
  await initBackend();
  const grads = { a: tf.tensor1d([3, 0]), b: tf.tensor1d([4]) };
  const { grads: out, norm } = clipByGlobalNorm(grads, 1);
  close(norm, 5);
  close(out.a.dataSync()[0], 3 / (5 + 1e-6));
  close(out.b.dataSync()[0], 4 / (5 + 1e-6));
  tf.dispose(Object.values(out));
  const small = { a: tf.tensor1d([0.1]) };
  const kept = clipByGlobalNorm(small, 1);
  assert.equal(kept.grads.a, small.a);
  small.a.dispose();
});
