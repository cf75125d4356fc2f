import test from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/engine/backend';
import { KVCache, MLP_ACTIVATIONS, NORM_KINDS, POSITION_KINDS, Transformer, type ModelConfigInput } from '../../lib/engine/model';
import { generate } from '../../lib/engine/generate';

function lastLogits(model: Transformer, seq: number[]): Float32Array {
  return tf.tidy(() => {
    const { logits } = model.forward([seq]);
    return tf.slice(logits, [0, seq.length - 1, 0], [1, 1, -1]).dataSync() as Float32Array;
  });
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Greedy decoding by the uncached forward pass: argmax of the last position, one full pass per token. */
function greedyUncached(model: Transformer, prompt: number[], steps: number): number[] {
  const seq = [...prompt];
  for (let i = 0; i < steps; i++) {
    const l = lastLogits(model, seq);
    seq.push(l.indexOf(Math.max(...l)));
  }
  return seq.slice(prompt.length);
}

const base: ModelConfigInput = { vocabSize: 23, contextLength: 16, dModel: 16, nLayers: 2, nHeads: 2, dMlp: 24, initStd: 0.3 };

test('cached, left-padded decoding equals the full forward pass (ragged prompts, GQA, local windows, partial rotary)', async () => {
  await initBackend();
  const variants: ModelConfigInput[] = [
    { ...base, norm: 'rmsnorm', positions: 'rope', activation: 'swiglu', bias: false },
    { ...base, norm: 'layernorm', positions: 'learned', activation: 'gelu', bias: true },
    { ...base, nHeads: 4, dHead: 4, nKVHeads: 2, positions: 'rope', rotaryFraction: 0.5, rotaryBase: 500, attentionWindows: [3, null], parallelResidual: true },
  ];
  for (const cfg of variants) {
    const model = new Transformer(cfg, 5);
    const prompts = [[1, 4, 9], [1, 7, 7, 2, 5, 11], [3]];
    const extra = [[5, 6, 8], [12, 2, 3], [22, 0, 4]];
    const P = 6;
    const V = 23;
    // Expected: the uncached forward pass on each row's unpadded sequence after every step.
    const seqs = prompts.map((p) => [...p]);
    const want: Float32Array[][] = [];
    for (let s = 0; s <= extra.length; s++) {
      want.push(seqs.map((q) => lastLogits(model, q)));
      if (s < extra.length) extra.forEach((e, b) => seqs[b].push(e[s]));
    }
    const before = tf.memory().numTensors;
    const cache = new KVCache(3);
    try {
      const padded = prompts.map((p) => [...new Array(P - p.length).fill(0), ...p]);
      const padding = prompts.map((p) => Array.from({ length: P }, (_, t) => t < P - p.length));
      let feed = padded;
      for (let s = 0; s <= extra.length; s++) {
        const n = feed[0].length;
        const logits = tf.tidy(() => model.forward(feed, { kvCache: cache, padding: s === 0 ? padding : undefined, logitSpan: { start: n - 1, end: n } }).logits.dataSync() as Float32Array);
        prompts.forEach((_, b) => {
          const d = maxDiff(want[s][b], logits.subarray(b * V, (b + 1) * V));
          assert.ok(d < 1e-4, `${JSON.stringify(cfg)} row ${b} step ${s}: diff ${d}`);
        });
        if (s === extra.length) break;
        feed = extra.map((e) => [e[s]]);
      }
      assert.equal(cache.length, P + extra.length);
    } finally {
      cache.dispose();
    }
    assert.equal(tf.memory().numTensors, before, 'the cache frees what it held');
    model.dispose();
  }
});

test('every norm / activation / position combination generates the tokens of the uncached forward pass', async () => {
  await initBackend();
  for (const norm of NORM_KINDS) {
    for (const activation of MLP_ACTIVATIONS) {
      for (const positions of POSITION_KINDS) {
        const model = new Transformer({ ...base, contextLength: 20, norm, activation, positions }, 2);
        const prompts = [[1, 2, 3], [4, 5, 6, 7, 8]];
        const got = generate(model, prompts, { maxNewTokens: 8, seed: 0, temperature: 0 });
        prompts.forEach((p, b) => assert.deepEqual(got[b], greedyUncached(model, p, 8), `${norm}/${activation}/${positions} row ${b}`));
        model.dispose();
      }
    }
  }
});

test('hooks and masks act while generating: masking a head changes the sampled text', async () => {
  await initBackend();
  const model = new Transformer({ ...base, contextLength: 24, initStd: 0.5 }, 3);
  const prompts = [[1, 2, 3, 4]];
  const plain = generate(model, prompts, { maxNewTokens: 16, seed: 1, temperature: 0 });
  const mask = tf.tensor1d([0, 1]);
  const masked = generate(model, prompts, { maxNewTokens: 16, seed: 1, temperature: 0, forward: { masks: { 'blocks.0.attn.z': mask } } });
  assert.notDeepEqual(masked, plain, 'head 0 of block 0 masked: another continuation');
  // ... and the masked continuation is what the uncached, masked forward pass predicts.
  const seq = [...prompts[0]];
  for (let i = 0; i < 16; i++) {
    const l = tf.tidy(() => tf.slice(model.forward([seq], { masks: { 'blocks.0.attn.z': mask } }).logits, [0, seq.length - 1, 0], [1, 1, -1]).dataSync() as Float32Array);
    seq.push(l.indexOf(Math.max(...l)));
  }
  assert.deepEqual(masked[0], seq.slice(4));
  let calls = 0;
  generate(model, prompts, { maxNewTokens: 5, seed: 1, forward: { hooks: { 'blocks.1.resid_post': (x) => (calls++, x) } } });
  assert.equal(calls, 5, 'one hooked pass for the prompt, one per sampled token but the last');
  mask.dispose();
  model.dispose();
});

test('generation is deterministic by seed, differs across seeds, stops at the stop id and respects the context', async () => {
  await initBackend();
  const model = new Transformer({ vocabSize: 12, contextLength: 20, dModel: 16, nLayers: 1, nHeads: 2, initStd: 0.5, norm: 'rmsnorm', positions: 'rope', activation: 'swiglu', bias: false }, 1);
  const before = tf.memory().numTensors;
  try {
    const prompts = [[1, 2], [1, 5, 6, 7]];
    const a = generate(model, prompts, { maxNewTokens: 30, seed: 3 });
    const b = generate(model, prompts, { maxNewTokens: 30, seed: 3 });
    const c = generate(model, prompts, { maxNewTokens: 30, seed: 4 });
    assert.equal(tf.memory().numTensors, before, 'generate leaks no tensors');
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    // rows share columns: the longest prompt (4) + new tokens must fit the context (20)
    assert.equal(a[0].length, 16);
    assert.equal(a[1].length, 16);
    const stopped = generate(model, prompts, { maxNewTokens: 16, seed: 3, stopId: a[0][2] });
    assert.ok(stopped[0].length <= 2 && !stopped[0].includes(a[0][2]));
    assert.throws(() => generate(model, [[]], { maxNewTokens: 2, seed: 0 }), /at least one token/);
  } finally {
    model.dispose();
  }
});

test('a KV cache refuses what it cannot continue', async () => {
  await initBackend();
  const model = new Transformer({ ...base, causal: false }, 1);
  assert.throws(() => model.forward([[1, 2]], { kvCache: new KVCache(1) }), /needs a causal model/);
  model.dispose();
  const causal = new Transformer(base, 1);
  assert.throws(() => causal.forward([[1, 2]], { kvCache: new KVCache(2) }), /holds 2 rows/);
  assert.throws(() => causal.forward([[1, 2]], { kvCache: new KVCache(1), stopAtLayer: 1 }), /stopAtLayer cannot be combined/);
  causal.dispose();
});
