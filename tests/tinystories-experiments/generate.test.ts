import test from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/engine/backend';
import { Transformer, ModelConfig } from '../../lib/engine/model';
import { IncrementalDecoder, generate } from '../../lib/engine/generate';

const llama: Partial<ModelConfig> = { norm: 'rmsnorm', positions: 'rope', activation: 'swiglu', bias: false };
const gpt: Partial<ModelConfig> = { norm: 'layernorm', positions: 'learned', activation: 'gelu', bias: true };

function lastLogits(model: Transformer, seq: number[]): Float32Array {
  return tf.tidy(() => {
    const { logits } = model.forward(tf.tensor2d([seq], [1, seq.length], 'int32'));
    return tf.slice(logits, [0, seq.length - 1, 0], [1, 1, -1]).dataSync() as Float32Array;
  });
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

for (const [name, kind] of [['llama-style', llama], ['gpt-style', gpt]] as const) {
  test(`incremental decoding equals the full forward pass (${name}, ragged prompts)`, async () => {
    await initBackend();
    const model = new Transformer({ vocabSize: 23, contextLength: 16, dModel: 16, nLayers: 2, nHeads: 2, initStd: 0.3, ...kind }, 5);
    try {
      const prompts = [[1, 4, 9], [1, 7, 7, 2, 5, 11], [3]];
      const extra = [[5, 6, 8], [12, 2, 3], [22, 0, 4]];
      const V = 23;
      const dec = new IncrementalDecoder(model);
      try {
        let logits = dec.prefill(prompts);
        const seqs = prompts.map((p) => [...p]);
        for (let s = 0; s <= extra.length; s++) {
          prompts.forEach((_, b) => {
            const want = lastLogits(model, seqs[b]);
            const got = logits.subarray(b * V, (b + 1) * V);
            assert.ok(maxDiff(want, got) < 1e-4, `row ${b} step ${s}: diff ${maxDiff(want, got)}`);
          });
          if (s === extra.length) break;
          const next = extra.map((e) => e[s]);
          next.forEach((t, b) => seqs[b].push(t));
          logits = dec.step(next);
        }
      } finally {
        dec.dispose();
      }
    } finally {
      model.dispose();
    }
  });
}

test('generation is deterministic by seed, differs across seeds, stops at the stop id and respects the context', async () => {
  await initBackend();
  const model = new Transformer({ vocabSize: 12, contextLength: 20, dModel: 16, nLayers: 1, nHeads: 2, initStd: 0.5, ...llama }, 1);
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
    // greedy: equals repeated argmax of the full forward pass
    const greedy = generate(model, [[1, 2]], { maxNewTokens: 5, seed: 0, temperature: 0 });
    const seq = [1, 2];
    for (let i = 0; i < 5; i++) {
      const l = lastLogits(model, seq);
      seq.push(l.indexOf(Math.max(...l)));
    }
    assert.deepEqual(greedy[0], seq.slice(2));
  } finally {
    model.dispose();
  }
});
