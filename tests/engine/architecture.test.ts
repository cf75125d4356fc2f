/** The architecture knobs real checkpoints need, each checked against what it must compute. */
import test from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/engine/backend';
import { GPT_MINI, Transformer, actName, parameterSpecs, resolveModelConfig, type ModelConfigInput } from '../../lib/engine/model';

const base: ModelConfigInput = { vocabSize: 11, contextLength: 12, dModel: 16, nLayers: 2, nHeads: 4, dMlp: 24, initStd: 0.3 };
const tokens = [[1, 5, 2, 9, 3, 3, 7, 0]];

function cached(model: Transformer, names: string[], input = tokens): Record<string, number[]> {
  const { logits, cache } = model.runWithCache(input, { names });
  const out: Record<string, number[]> = { logits: Array.from(logits.dataSync()) };
  for (const n of names) out[n] = Array.from(cache.get(n).dataSync());
  cache.dispose();
  logits.dispose();
  return out;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test('defaults are unchanged: a config without the new knobs has the same parameters as before', () => {
  const names = parameterSpecs(resolveModelConfig({ vocabSize: 7, ...GPT_MINI, nLayers: 1 })).map((s) => `${s.name}:${s.shape}`);
  assert.deepEqual(names, [
    'embed.W_E:7,192', 'pos_embed.W_pos:256,192', 'blocks.0.ln1.w:192', 'blocks.0.ln1.b:192',
    'blocks.0.attn.W_Q:192,192', 'blocks.0.attn.b_Q:192', 'blocks.0.attn.W_K:192,192', 'blocks.0.attn.b_K:192',
    'blocks.0.attn.W_V:192,192', 'blocks.0.attn.b_V:192', 'blocks.0.attn.W_O:192,192', 'blocks.0.attn.b_O:192',
    'blocks.0.ln2.w:192', 'blocks.0.ln2.b:192', 'blocks.0.mlp.W_in:192,768', 'blocks.0.mlp.b_in:768',
    'blocks.0.mlp.W_out:768,192', 'blocks.0.mlp.b_out:192', 'ln_final.w:192', 'ln_final.b:192',
    'unembed.W_U:192,7', 'unembed.b_U:7',
  ]);
  const c = resolveModelConfig({ vocabSize: 7 });
  assert.equal(c.attnScale, 1 / Math.sqrt(32));
  assert.deepEqual([c.nKVHeads, c.normEps, c.rotaryFraction, c.rotaryBase, c.parallelResidual, c.tiedEmbeddings], [6, 1e-5, 1, 10000, false, false]);
});

test('grouped-query attention: one key/value head serving every query head equals that head repeated', async () => {
  await initBackend();
  const gqa = new Transformer({ ...base, nKVHeads: 2 }, 1);
  assert.deepEqual(gqa.param('blocks.0.attn.W_K').shape, [16, 8]);
  const full = new Transformer({ ...base }, 1);
  // Copy every weight; expand K/V columns: query heads 0,1 read kv head 0, heads 2,3 read kv head 1.
  const w = gqa.getWeights();
  const expanded: Record<string, Float32Array> = {};
  for (const [name, v] of Object.entries(w)) {
    if (!/attn\.(W|b)_[KV]$/.test(name)) {
      expanded[name] = v;
      continue;
    }
    const rows = name.includes('.W_') ? 16 : 1;
    const out = new Float32Array(rows * 16);
    for (let r = 0; r < rows; r++) for (let h = 0; h < 4; h++) for (let j = 0; j < 4; j++) out[r * 16 + h * 4 + j] = v[r * 8 + Math.floor(h / 2) * 4 + j];
    expanded[name] = out;
  }
  full.setWeights(expanded, { strict: true });
  const a = cached(gqa, [actName('pattern', 1), actName('k', 0)]);
  const b = cached(full, [actName('pattern', 1)]);
  assert.ok(maxDiff(a.logits, b.logits) < 1e-5);
  assert.ok(maxDiff(a[actName('pattern', 1)], b[actName('pattern', 1)]) < 1e-5);
  assert.equal(a[actName('k', 0)].length, 1 * 2 * 8 * 4, 'attn.k holds the key/value heads, not the query heads');
  gqa.dispose();
  full.dispose();
});

test('biases per part, and tied embeddings (the unembedding is W_E transposed)', async () => {
  await initBackend();
  const names = (cfg: Partial<ModelConfigInput>) => parameterSpecs(resolveModelConfig({ ...base, ...cfg })).map((s) => s.name);
  const neo = names({ bias: true, attnBias: false, attnOutBias: true, unembedBias: false });
  assert.ok(!neo.includes('blocks.0.attn.b_Q') && neo.includes('blocks.0.attn.b_O') && neo.includes('blocks.0.mlp.b_in') && !neo.includes('unembed.b_U'));
  const llama = names({ bias: false });
  assert.ok(!llama.some((n) => /\.b_/.test(n)));
  const mlpOnly = names({ bias: false, mlpBias: true });
  assert.deepEqual(mlpOnly.filter((n) => /\.b_/.test(n)), ['blocks.0.mlp.b_in', 'blocks.0.mlp.b_out', 'blocks.1.mlp.b_in', 'blocks.1.mlp.b_out']);
  const tied = new Transformer({ ...base, tiedEmbeddings: true, bias: false }, 2);
  assert.ok(!tied.specs.some((s) => s.name === 'unembed.W_U'));
  const r = cached(tied, [actName('ln_final')]);
  const x = tf.tensor2d(r[actName('ln_final')], [8, 16]);
  const manual = tf.matMul(x, tied.param('embed.W_E'), false, true).dataSync();
  assert.ok(maxDiff(r.logits, manual) < 1e-5);
  tf.dispose(x);
  tied.dispose();
});

test('attention scale: the scores hook reads scale * q.k, whatever the backend kernels', async () => {
  await initBackend();
  const m = new Transformer({ ...base, attnScale: 1, nLayers: 1, positions: 'none' }, 3);
  const r = cached(m, [actName('q', 0), actName('k', 0), actName('scores', 0)]);
  const q = tf.tensor4d(r[actName('q', 0)], [1, 4, 8, 4]);
  const k = tf.tensor4d(r[actName('k', 0)], [1, 4, 8, 4]);
  const causal = tf.tensor2d(Array.from({ length: 64 }, (_, i) => (i % 8 > Math.floor(i / 8) ? -1e9 : 0)), [8, 8]);
  const manual = tf.add(tf.matMul(q, k, false, true), causal).dataSync();
  assert.ok(maxDiff(r[actName('scores', 0)], manual) < 1e-4);
  tf.dispose([q, k, causal]);
  m.dispose();
});

test('local attention windows: a query sees only the last w keys of its layer', async () => {
  await initBackend();
  const m = new Transformer({ ...base, attentionWindows: [3, null] }, 4);
  const r = cached(m, [actName('pattern', 0), actName('pattern', 1)]);
  const p0 = r[actName('pattern', 0)];
  const p1 = r[actName('pattern', 1)];
  for (let h = 0; h < 4; h++) {
    for (let q = 0; q < 8; q++) {
      for (let k = 0; k < 8; k++) {
        const i = (h * 8 + q) * 8 + k;
        if (k > q || q - k >= 3) assert.equal(p0[i], 0, `layer 0 (window 3) head ${h} q ${q} k ${k}`);
        else assert.ok(p0[i] > 0);
        if (k <= q) assert.ok(p1[i] > 0, 'layer 1 is global');
      }
    }
  }
  m.dispose();
});

test('parallel residual: resid_post = resid_pre + attn_out + mlp_out, and there is no resid_mid', async () => {
  await initBackend();
  const m = new Transformer({ ...base, parallelResidual: true }, 5);
  assert.ok(!m.hookNames().includes('blocks.0.resid_mid'));
  const names = [actName('resid_pre', 1), actName('attn_out', 1), actName('mlp_out', 1), actName('resid_post', 1)];
  const r = cached(m, names);
  const sum = r[names[0]].map((x, i) => x + r[names[1]][i] + r[names[2]][i]);
  assert.ok(maxDiff(sum, r[names[3]]) < 1e-5);
  // The MLP reads ln2(resid_pre): zeroing attention's output does not change the MLP's.
  const hooked = m.runWithCache(tokens, { names: [actName('mlp_out', 1)], hooks: { [actName('attn_out', 1)]: (x) => tf.zerosLike(x) } });
  assert.ok(maxDiff(hooked.cache.data(actName('mlp_out', 1)), r[names[2]]) < 1e-6);
  hooked.cache.dispose();
  hooked.logits.dispose();
  m.dispose();
});

test('rotary on a fraction of each head with its own base: the rest of each head is left as projected', async () => {
  await initBackend();
  const cfg: ModelConfigInput = { ...base, nLayers: 1, nHeads: 2, dHead: 8, rotaryFraction: 0.5, rotaryBase: 50 };
  const rope = new Transformer({ ...cfg, positions: 'rope' }, 6);
  const plain = new Transformer({ ...cfg, positions: 'none' }, 6); // same parameters: rope has none
  const q = actName('q', 0);
  const a = cached(rope, [q])[q];
  const b = cached(plain, [q])[q];
  // [1, 2 heads, 8 positions, 8 dims]: dims 4..7 untouched; dims 0..3 rotated by pos * 50^(-2j/4).
  for (let h = 0; h < 2; h++) {
    for (let t = 0; t < 8; t++) {
      const o = (h * 8 + t) * 8;
      for (let j = 4; j < 8; j++) assert.equal(a[o + j], b[o + j]);
      for (let j = 0; j < 2; j++) {
        const angle = t * Math.pow(50, (-2 * j) / 4);
        const x1 = b[o + j];
        const x2 = b[o + j + 2];
        assert.ok(Math.abs(a[o + j] - (x1 * Math.cos(angle) - x2 * Math.sin(angle))) < 1e-5);
        assert.ok(Math.abs(a[o + j + 2] - (x2 * Math.cos(angle) + x1 * Math.sin(angle))) < 1e-5);
      }
    }
  }
  rope.dispose();
  plain.dispose();
});

test('norm eps and the two GELUs compute their formulas', async () => {
  await initBackend();
  // rmsnorm with a huge eps shrinks the normalised stream towards 0.
  const names = [actName('resid_post', 1), actName('ln_final')];
  const big = cached(new Transformer({ ...base, norm: 'rmsnorm', normEps: 1e6 }, 7), names);
  const x = big[names[0]];
  const xn = big[names[1]];
  for (let t = 0; t < 8; t++) {
    const row = x.slice(t * 16, (t + 1) * 16);
    const rms = Math.sqrt(row.reduce((s, v) => s + v * v, 0) / 16 + 1e6);
    for (let j = 0; j < 16; j++) assert.ok(Math.abs(xn[t * 16 + j] - row[j] / rms) < 1e-6);
  }
  // erf GELU: 0.5 x (1 + erf(x / sqrt 2)); tanh GELU: 0.5 x (1 + tanh(sqrt(2/pi)(x + 0.044715 x^3))).
  const erf = (z: number) => {
    // Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7)
    const t = 1 / (1 + 0.3275911 * Math.abs(z));
    const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-z * z);
    return Math.sign(z) * y;
  };
  for (const [activation, f] of [
    ['gelu_erf', (v: number) => 0.5 * v * (1 + erf(v / Math.SQRT2))],
    ['gelu', (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)))],
  ] as const) {
    const m = new Transformer({ ...base, activation }, 8);
    const r = cached(m, [actName('mlp_pre', 0), actName('mlp_hidden', 0)]);
    const pre = r[actName('mlp_pre', 0)];
    const hidden = r[actName('mlp_hidden', 0)];
    assert.ok(maxDiff(hidden, pre.map(f)) < 1e-5, activation);
    m.dispose();
  }
});
