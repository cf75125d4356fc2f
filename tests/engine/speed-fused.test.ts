import test from 'node:test';
import assert from 'node:assert/strict';
import { tf, useWasmBackend } from '../../lib/engine/backend';
import { fusedLayerNorm, fusedOpsActive, fusedRmsNorm, fusedRope, fusedSwiGlu, fusedWeightedCrossEntropy, setFusedOpsEnabled } from '../../lib/engine/fused';
import { generate } from '../../lib/engine/generate';
import { Transformer, weightedCrossEntropy } from '../../lib/engine/model';
import { Optimizer, globalGradNorm } from '../../lib/engine/optim';
import { trainStep } from '../../lib/engine/train';
import { benchBatch } from '../../lib/bench';
import { maxRelDiff, onAndOff } from './helpers';

/** Runs f with the fused ops on, then off (plain tf ops, round-1 kernels still on). */
const fusedAndPlain = <T>(f: () => T): [T, T] => onAndOff(setFusedOpsEnabled, f);

/** The fused ops live on the wasm backend (always installed): every test here runs there, whatever the default. */
async function wasm(): Promise<void> {
  await useWasmBackend();
  assert.ok(fusedOpsActive(), 'the fused ops are active on the wasm backend');
}

test('fused AdamW and SGD updates are bit-identical to the plain tf ops (decay, no decay, clip scale)', async () => {
  await wasm();
  const configs = [
    { kind: 'adamw', lr: 3e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 },
    { kind: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 0.01 },
    { kind: 'sgd', lr: 0.05, momentum: 0, weightDecay: 0 },
  ] as const;
  for (const config of configs) {
    const run = () => {
      const params = new Map([
        ['w', tf.variable(tf.randomNormal([37, 5], 0, 1, 'float32', 1))],
        ['b', tf.variable(tf.randomNormal([5], 0, 1, 'float32', 2))],
      ]);
      const opt = new Optimizer({ ...config, clipNorm: 1 }, params, ['w']);
      for (let step = 0; step < 4; step++) {
        const grads = { w: tf.randomNormal([37, 5], 0, 1, 'float32', 10 + step), b: tf.randomNormal([5], 0, 1, 'float32', 20 + step) };
        opt.apply(grads, config.lr * (1 + step), step % 2 === 0 ? 1 : 0.37); // odd steps: a clip factor
        tf.dispose(Object.values(grads));
      }
      const out = { w: params.get('w')!.dataSync(), b: params.get('b')!.dataSync(), state: opt.getState() };
      opt.dispose();
      for (const p of params.values()) p.dispose();
      return out;
    };
    const [fused, plain] = fusedAndPlain(run);
    assert.deepEqual(Array.from(fused.w), Array.from(plain.w), `${config.kind} w`);
    assert.deepEqual(Array.from(fused.b), Array.from(plain.b), `${config.kind} b`);
    for (const k of Object.keys(plain.state.tensors)) assert.deepEqual(Array.from(fused.state.tensors[k]), Array.from(plain.state.tensors[k]), `${config.kind} ${k}`);
  }
});

test('global gradient norm read off the heap equals the tf ops', async () => {
  await wasm();
  const grads = { a: tf.randomNormal([300, 7], 0, 2, 'float32', 3), b: tf.tensor1d([3, -4]) };
  const [fused, plain] = fusedAndPlain(() => globalGradNorm(grads));
  assert.ok(Math.abs(fused - plain) <= 1e-6 * plain, `${fused} vs ${plain}`);
  assert.ok(Math.abs(globalGradNorm({ b: grads.b }) - 5) < 1e-9);
  tf.dispose(Object.values(grads));
});

test('fused layernorm: output and gradients for x, w, b match the tf formula', async () => {
  await wasm();
  const x = tf.add(tf.randomNormal([3, 7, 24], 0, 2, 'float32', 4), 1.5);
  const w = tf.randomNormal([24], 1, 0.3, 'float32', 5);
  const b = tf.randomNormal([24], 0, 0.3, 'float32', 6);
  const dy = tf.randomNormal([3, 7, 24], 0, 1, 'float32', 7);
  const plain = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => {
    const { mean, variance } = tf.moments(xx, -1, true);
    return tf.add(tf.mul(tf.mul(tf.sub(xx, mean), tf.rsqrt(tf.add(variance, 1e-5))), ww), bb);
  };
  const fused = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => fusedLayerNorm(xx, ww, bb, 1e-5);
  assert.ok(maxRelDiff(fused(x, w, b).dataSync(), plain(x, w, b).dataSync()) < 1e-6, 'forward');
  const loss = (f: typeof plain) => (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(f(xx, ww, bb), dy));
  const gf = tf.grads(loss(fused))([x, w, b]);
  const gp = tf.grads(loss(plain))([x, w, b]);
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(gf[i].shape, gp[i].shape);
    assert.ok(maxRelDiff(gf[i].dataSync(), gp[i].dataSync()) < 1e-5, `grad ${['x', 'w', 'b'][i]}`);
  }
  tf.dispose([x, w, b, dy, ...gf, ...gp]);
});

test('fused weighted cross-entropy: loss and logit gradient match the one-hot formulation', async () => {
  await wasm();
  const [B, T, V] = [3, 5, 11];
  const logits = tf.randomNormal([B, T, V], 0, 3, 'float32', 8) as tf.Tensor3D;
  const targetValues = Int32Array.from({ length: B * T }, (_, i) => (i * 7) % V);
  targetValues[4] = -1; // no such class: contributes nothing, like oneHot
  const targets = tf.tensor2d(targetValues, [B, T], 'int32');
  const weights = tf.tensor2d(Float32Array.from({ length: B * T }, (_, i) => (i % 4 === 0 ? 0 : 0.5 + (i % 3))), [B, T]);
  const [lf, lp] = fusedAndPlain(() => weightedCrossEntropy(logits, targets, weights).dataSync()[0]);
  assert.ok(Math.abs(lf - lp) < 1e-5 * Math.abs(lp), `${lf} vs ${lp}`);
  const [gf, gp] = fusedAndPlain(() => tf.grad((l: tf.Tensor) => weightedCrossEntropy(l as tf.Tensor3D, targets, weights))(logits));
  assert.ok(maxRelDiff(gf.dataSync(), gp.dataSync()) < 1e-5, 'gradient');
  // Rows of weight 0 get no gradient; the fused op is also usable directly.
  assert.ok(Array.from(gf.dataSync().slice(0, V)).every((g) => g === 0));
  const direct = fusedWeightedCrossEntropy(logits, targets, weights);
  assert.ok(Math.abs(direct.dataSync()[0] - lp) < 1e-5 * Math.abs(lp));
  tf.dispose([logits, targets, weights, gf, gp, direct]);
});

test('training steps with the fused ops follow the plain path (losses, grad norms, weights)', async () => {
  await wasm();
  const run = () => {
    const model = new Transformer({ vocabSize: 13, contextLength: 12, dModel: 32, nLayers: 2, nHeads: 4, activation: 'gelu', norm: 'layernorm' }, 7);
    const opt = new Optimizer({ kind: 'adamw', lr: 3e-3, clipNorm: 0.5 }, model.parameters(), model.specs.filter((s) => s.decay).map((s) => s.name));
    const steps = [0, 1, 2].map((i) => trainStep(model, opt, benchBatch(i, 4, 12, 13), 3e-3));
    const weights = model.getWeights();
    opt.dispose();
    model.dispose();
    return { steps, weights };
  };
  const [fused, plain] = fusedAndPlain(run);
  for (let i = 0; i < 3; i++) {
    assert.ok(Math.abs(fused.steps[i].loss - plain.steps[i].loss) < 1e-5, `loss ${i}`);
    assert.ok(Math.abs(fused.steps[i].gradNorm - plain.steps[i].gradNorm) < 1e-4 * plain.steps[i].gradNorm, `grad norm ${i}`);
  }
  assert.ok(plain.steps[0].gradNorm > 0.5, 'the clip is exercised');
  // Adam divides by sqrt(v), so a gradient element near zero (b_K's are exactly zero in exact arithmetic) turns
  // float32-rounding differences into steps of up to lr: compare weights within 2 lr per step, and require
  // nearly all of them to agree to 1e-6.
  let differing = 0;
  let total = 0;
  for (const name of Object.keys(plain.weights)) {
    const [a, b] = [fused.weights[name], plain.weights[name]];
    for (let i = 0; i < a.length; i++) {
      assert.ok(Math.abs(a[i] - b[i]) <= 3 * 2 * 3e-3, `weights ${name}[${i}]`);
      if (Math.abs(a[i] - b[i]) > 1e-6) differing++;
    }
    total += a.length;
  }
  assert.ok(differing < 0.02 * total, `${differing} of ${total} weights differ by more than 1e-6`);
});

test('fused RoPE: output and gradient are bit-identical to the slice/neg/concat formulation (shared and per-row tables)', async () => {
  await wasm();
  const [B, H, T, d] = [2, 3, 5, 8];
  const x = tf.randomNormal([B, H, T, d], 0, 2, 'float32', 11);
  const dy = tf.randomNormal([B, H, T, d], 0, 1, 'float32', 12);
  const plain = (xx: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor) => {
    const x1 = tf.slice(xx, [0, 0, 0, 0], [-1, -1, -1, d / 2]);
    const x2 = tf.slice(xx, [0, 0, 0, d / 2], [-1, -1, -1, d / 2]);
    return tf.add(tf.mul(xx, cos), tf.mul(tf.concat([tf.neg(x2), x1], -1), sin));
  };
  for (const tableRows of [1, B]) {
    const cos = tf.randomNormal([tableRows, 1, T, d], 0, 1, 'float32', 13);
    const sin = tf.randomNormal([tableRows, 1, T, d], 0, 1, 'float32', 14);
    assert.deepEqual(Array.from(fusedRope(x, cos, sin).dataSync()), Array.from(plain(x, cos, sin).dataSync()), `forward, ${tableRows} table rows`);
    const gf = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(fusedRope(xx, cos, sin), dy)))(x);
    const gp = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(plain(xx, cos, sin), dy)))(x);
    assert.deepEqual(Array.from(gf.dataSync()), Array.from(gp.dataSync()), `gradient, ${tableRows} table rows`);
    tf.dispose([cos, sin, gf, gp]);
  }
  tf.dispose([x, dy]);
});

test('fused RMSNorm and SwiGLU gating: outputs and gradients match the tf formulas', async () => {
  await wasm();
  const x = tf.add(tf.randomNormal([3, 7, 24], 0, 2, 'float32', 15), 0.5);
  const w = tf.randomNormal([24], 1, 0.3, 'float32', 16);
  const dy = tf.randomNormal([3, 7, 24], 0, 1, 'float32', 17);
  const rmsPlain = (xx: tf.Tensor, ww: tf.Tensor) => tf.mul(tf.mul(xx, tf.rsqrt(tf.add(tf.mean(tf.square(xx), -1, true), 1e-5))), ww);
  const rmsFused = (xx: tf.Tensor, ww: tf.Tensor) => fusedRmsNorm(xx, ww, 1e-5);
  assert.ok(maxRelDiff(rmsFused(x, w).dataSync(), rmsPlain(x, w).dataSync()) < 1e-6, 'rmsnorm forward');
  const rmsLoss = (f: typeof rmsPlain) => (xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(f(xx, ww), dy));
  const [gfx, gfw] = tf.grads(rmsLoss(rmsFused))([x, w]);
  const [gpx, gpw] = tf.grads(rmsLoss(rmsPlain))([x, w]);
  assert.ok(maxRelDiff(gfx.dataSync(), gpx.dataSync()) < 1e-5, 'rmsnorm grad x');
  assert.ok(maxRelDiff(gfw.dataSync(), gpw.dataSync()) < 1e-5, 'rmsnorm grad w');

  const up = tf.randomNormal([3, 7, 24], 0, 1, 'float32', 18);
  const gluPlain = (g: tf.Tensor, u: tf.Tensor) => tf.mul(tf.mul(g, tf.sigmoid(g)), u);
  // Same sigmoid kernel, same two roundings: the forward is bit-identical.
  assert.deepEqual(Array.from(fusedSwiGlu(x, up).dataSync()), Array.from(gluPlain(x, up).dataSync()), 'swiglu forward');
  const gluLoss = (f: typeof gluPlain) => (g: tf.Tensor, u: tf.Tensor) => tf.sum(tf.mul(f(g, u), dy));
  const gf = tf.grads(gluLoss(fusedSwiGlu))([x, up]);
  const gp = tf.grads(gluLoss(gluPlain))([x, up]);
  assert.ok(maxRelDiff(gf[0].dataSync(), gp[0].dataSync()) < 1e-5, 'swiglu grad gate');
  assert.ok(maxRelDiff(gf[1].dataSync(), gp[1].dataSync()) < 1e-5, 'swiglu grad up');
  tf.dispose([x, w, dy, up, gfx, gfw, gpx, gpw, ...gf, ...gp]);
});

const LLAMA = { norm: 'rmsnorm', activation: 'swiglu', positions: 'rope', bias: false } as const;

test('LLaMA-style model (rmsnorm, SwiGLU, RoPE): fused and plain give the same logits, hooks, gradients and samples', async () => {
  await wasm();
  // dHead 8 (scale 1/sqrt(8) is not a power of two: the q-side scaling differs by rounding only) and 16 (exact).
  for (const dModel of [16, 32]) {
    const model = new Transformer({ vocabSize: 19, contextLength: 10, dModel, nLayers: 2, nHeads: 2, dMlp: 24, ...LLAMA }, 3);
    const tokens = tf.tensor2d(Int32Array.from({ length: 20 }, (_, i) => (i * 5) % 19), [2, 10], 'int32');
    const [fused, plain] = fusedAndPlain(() => {
      const { logits, cache } = model.forward(tokens, { cache: ['blocks.1.attn.q', 'blocks.0.attn.scores', 'blocks.1.mlp.hidden'] });
      const out = { logits: logits.dataSync(), cache: Object.fromEntries(Object.entries(cache).map(([k, v]) => [k, v.dataSync()])) };
      tf.dispose([logits, ...Object.values(cache)]);
      const batch = benchBatch(5, 2, 10, 19);
      const step = () => {
        const tk = tf.tensor2d(batch.tokens, [2, 10], 'int32');
        const tg = tf.tensor2d(batch.targets, [2, 10], 'int32');
        const wt = tf.tensor2d(batch.weights, [2, 10]);
        const { grads } = tf.variableGrads(() => model.loss(tk, tg, wt));
        const g = Object.fromEntries(Object.entries(grads).map(([k, v]) => [k.split('#')[0], v.dataSync()]));
        tf.dispose([tk, tg, wt, ...Object.values(grads)]);
        return g;
      };
      const samples = generate(model, [[1, 2, 3], [4]], { maxNewTokens: 5, seed: 9, temperature: 1 });
      return { ...out, grads: step(), samples };
    });
    assert.ok(maxRelDiff(fused.logits, plain.logits) < 1e-5, `logits, dModel ${dModel}`);
    for (const k of Object.keys(plain.cache)) assert.ok(maxRelDiff(fused.cache[k], plain.cache[k]) < 1e-5, `hook ${k}, dModel ${dModel}`);
    assert.ok(Object.keys(plain.grads).length === model.specs.length);
    for (const k of Object.keys(plain.grads)) assert.ok(maxRelDiff(fused.grads[k], plain.grads[k]) < 1e-4, `grad ${k}, dModel ${dModel}`);
    assert.deepEqual(fused.samples, plain.samples, `samples, dModel ${dModel}`);
    tf.dispose(tokens);
    model.dispose();
  }
});
