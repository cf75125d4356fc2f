/**
 * One model, two backends: the wasm backend with its fused kernels and the plain tf.js cpu backend must compute
 * the same logits, hook values and gradients (to float32 rounding). This is what lets a result measured on one
 * machine stand for another, and what the per-backend kernel choice (lib/engine/model/kernels.ts) must not break.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { useWasmBackend } from '../../lib/engine/backend';
import { makeBatch } from '../../lib/engine/data';
import { setFusedOpsEnabled } from '../../lib/engine/fused';
import { Transformer, actName, activeKernels, type ModelConfigInput } from '../../lib/engine/model';
import { lossAndGrads } from '../../lib/engine/train';
import { Rng } from '../../lib/engine/rng';

const HOOKS = [actName('scores', 0), actName('pattern', 1), actName('mlp_hidden', 0), actName('resid_post', 1), actName('ln_final')];

interface Numbers {
  kernels: string;
  values: Record<string, Float32Array>;
}

function measure(cfg: ModelConfigInput, weights: Record<string, Float32Array>): Numbers {
  const model = new Transformer(cfg, 0);
  model.setWeights(weights, { strict: true });
  const rng = new Rng(5);
  const batch = makeBatch(2, 7);
  for (let i = 0; i < 14; i++) [batch.tokens[i], batch.targets[i], batch.weights[i]] = [rng.int(0, 13), rng.int(0, 13), 1];
  const rows = [Array.from(batch.tokens.subarray(0, 7)), Array.from(batch.tokens.subarray(7))];
  const values: Record<string, Float32Array> = {};
  const { logits, cache } = model.runWithCache(rows, { names: HOOKS });
  values.logits = logits.dataSync() as Float32Array;
  for (const n of HOOKS) values[n] = cache.data(n);
  cache.dispose();
  logits.dispose();
  const { loss, grads } = lossAndGrads(model, batch);
  values.loss = Float32Array.of(loss);
  for (const [name, g] of Object.entries(grads)) values[`grad ${name}`] = g.dataSync() as Float32Array;
  tf.dispose(Object.values(grads));
  model.dispose();
  return { kernels: activeKernels().kind, values };
}

function assertClose(a: Numbers, b: Numbers, what: string): void {
  for (const [name, x] of Object.entries(a.values)) {
    const y = b.values[name];
    let scale = 1e-6;
    let worst = 0;
    for (let i = 0; i < x.length; i++) {
      // Masked scores hold -1e9 (+ the score); compare them relative to their size.
      scale = Math.max(scale, Math.abs(x[i]) < 1e6 ? Math.abs(x[i]) : 0);
      worst = Math.max(worst, Math.abs(x[i]) < 1e6 ? Math.abs(x[i] - y[i]) : Math.abs(x[i] - y[i]) / Math.abs(x[i]));
    }
    assert.ok(worst <= 2e-5 * Math.max(1, scale), `${what}: ${name} differs by ${worst} (scale ${scale})`);
  }
}

for (const [name, cfg] of [
  ['gpt-2 style', { vocabSize: 13, contextLength: 8, dModel: 16, nLayers: 2, nHeads: 2, initStd: 0.3 }],
  ['llama style', { vocabSize: 13, contextLength: 8, dModel: 16, nLayers: 2, nHeads: 4, nKVHeads: 2, norm: 'rmsnorm', activation: 'swiglu', positions: 'rope', bias: false, initStd: 0.3 }],
  ['neox style', { vocabSize: 13, contextLength: 8, dModel: 16, nLayers: 2, nHeads: 2, positions: 'rope', rotaryFraction: 0.25, parallelResidual: true, tiedEmbeddings: true, attentionWindows: [3, null], initStd: 0.3 }],
] as [string, ModelConfigInput][]) {
  test(`wasm (fused kernels), wasm (plain kernels) and cpu compute the same model (${name})`, async () => {
    await useWasmBackend();
    const weights = new Transformer(cfg, 9).getWeights();
    const fused = measure(cfg, weights);
    assert.equal(fused.kernels, 'fused');
    setFusedOpsEnabled(false);
    const plainWasm = measure(cfg, weights);
    setFusedOpsEnabled(true);
    assert.equal(plainWasm.kernels, 'plain');
    await tf.setBackend('cpu');
    try {
      const cpu = measure(cfg, weights);
      assert.equal(cpu.kernels, 'plain');
      assertClose(fused, cpu, 'wasm fused vs cpu');
      assertClose(plainWasm, cpu, 'wasm plain vs cpu');
    } finally {
      await tf.setBackend('wasm');
    }
  });
}
