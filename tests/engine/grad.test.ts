import test from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '../../lib/engine/backend';
import { Transformer, ModelConfig } from '../../lib/engine/model';
import { lossAndGrads } from '../../lib/engine/train';
import { makeBatch } from '../../lib/engine/data';
import { batchLoss } from '../../lib/engine/evaluate';
import { Rng } from '../../lib/engine/rng';

function randomBatch(seed: number, B: number, T: number, V: number) {
  const rng = new Rng(seed);
  const batch = makeBatch(B, T);
  for (let i = 0; i < B * T; i++) {
    batch.tokens[i] = rng.int(0, V);
    batch.targets[i] = rng.int(0, V);
    batch.weights[i] = rng.next() < 0.8 ? 1 + rng.next() : 0;
  }
  return batch;
}

// Directional derivative check: (L(p + e v) - L(p - e v)) / 2e == grad . v, for a unit direction v mixing the
// gradient with random noise (a purely random v is nearly orthogonal to the gradient in many dimensions).
const variants: { name: string; cfg: Partial<ModelConfig> }[] = [
  { name: 'layernorm/gelu/learned', cfg: { norm: 'layernorm', activation: 'gelu', positions: 'learned' } },
  { name: 'rmsnorm/swiglu/rope', cfg: { norm: 'rmsnorm', activation: 'swiglu', positions: 'rope' } },
  // The knobs real checkpoints need: GQA, tied embeddings, parallel residual, partial rotary with its own base,
  // a local window, an attention scale, per-part biases, erf GELU, a norm eps.
  {
    name: 'GPT-NeoX/Llama knobs',
    cfg: { norm: 'layernorm', activation: 'gelu_erf', positions: 'rope', nHeads: 4, dHead: 4, nKVHeads: 2, tiedEmbeddings: true, parallelResidual: true, rotaryFraction: 0.5, rotaryBase: 100, attentionWindows: [2, null], attnScale: 0.7, attnBias: false, attnOutBias: true, unembedBias: false, normEps: 1e-3 },
  },
];
for (const variant of variants) {
  test(`gradients match finite differences (${variant.name})`, async () => {
    await initBackend();
    const cfg: Partial<ModelConfig> & { vocabSize: number } = { vocabSize: 6, contextLength: 5, dModel: 8, nLayers: 2, nHeads: 2, dMlp: 8, initStd: 0.3, ...variant.cfg };
    const model = new Transformer(cfg, 7);
    const batch = randomBatch(3, 3, 5, 6);
    const { grads } = lossAndGrads(model, batch);
    const w0 = model.getWeights();
    const rng = new Rng(99);
    const dir: Record<string, Float32Array> = {};
    let gNorm2 = 0;
    for (const g of Object.values(grads)) for (const x of g.dataSync()) gNorm2 += x * x;
    const gScale = 1 / Math.sqrt(gNorm2);
    let norm2 = 0;
    for (const [name, w] of Object.entries(w0)) {
      const g = grads[name].dataSync();
      const d = new Float32Array(w.length);
      for (let i = 0; i < w.length; i++) {
        d[i] = g[i] * gScale + rng.normal() / Math.sqrt(w.length * 20);
        norm2 += d[i] * d[i];
      }
      dir[name] = d;
    }
    let gv = 0;
    for (const [name, d] of Object.entries(dir)) {
      const g = grads[name].dataSync();
      for (let i = 0; i < d.length; i++) {
        d[i] /= Math.sqrt(norm2);
        gv += d[i] * g[i];
      }
    }
    tf.dispose(Object.values(grads));
    const lossAt = (eps: number) => {
      const shifted: Record<string, Float32Array> = {};
      for (const [name, w] of Object.entries(w0)) shifted[name] = w.map((x, i) => x + eps * dir[name][i]);
      model.setWeights(shifted);
      return batchLoss(model, batch);
    };
    const eps = 3e-3;
    const numeric = (lossAt(eps) - lossAt(-eps)) / (2 * eps);
    assert.ok(Math.abs(gv) > 1e-2, `degenerate direction (grad.v = ${gv})`);
    assert.ok(Math.abs(numeric - gv) / Math.abs(gv) < 5e-3, `finite difference ${numeric} vs autodiff ${gv}`);
    model.dispose();
  });
}
