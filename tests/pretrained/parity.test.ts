/**
 * Parity with an independent PyTorch implementation of each family (scripts/pretrained-fixtures.py wrote the tiny
 * checkpoints in exact HF layout and their reference logits; CI has no PyTorch, so they are committed).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend, tf } from '../../lib/engine/backend';
import type { Transformer } from '../../lib/engine/model';
import { loadCheckpointDir, savePretrained } from '../../lib/pretrained/checkpoint';

export const FIXTURES = path.resolve(__dirname, '../../../tests/fixtures/pretrained');
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-parity-'));

interface Reference {
  input_ids: number[][];
  logits: number[][][];
}
const reference = (name: string): Reference => JSON.parse(fs.readFileSync(path.join(FIXTURES, name, 'reference.json'), 'utf8'));

function maxDelta(model: Transformer, ref: Reference): number {
  const got = tf.tidy(() => model.forward(ref.input_ids).logits.arraySync());
  let max = 0;
  ref.logits.forEach((row, b) => row.forEach((pos, t) => pos.forEach((v, k) => (max = Math.max(max, Math.abs(v - got[b][t][k]))))));
  return max;
}

const CASES: [string, string][] = [
  ['gpt2', 'GPT-2 without the transformer. prefix, Conv1D layout, fused c_attn, mask buffers skipped, tied head'],
  ['gpt2-prefixed', 'GPT-2 with the prefix, n_inner set, and a stored lm_head copy of the tied embedding'],
  ['gpt_neo', 'GPT-Neo: unscaled attention, a local layer (window 8 < T = 20), BOOL mask buffers'],
  ['gpt_neox', 'GPT-NeoX in F16: head-wise fused QKV, 25% rotary, parallel residual, exact GELU, untied embed_out'],
  ['gpt_neox-f32', 'the same GPT-NeoX in F32'],
  ['llama', 'Llama in BF16: GQA 4/2, rms eps 1e-6, tied head'],
  ['llama-untied-sharded', 'Llama in two shards with an index, rope_theta 500000, untied lm_head'],
];

for (const [name, what] of CASES) {
  test(`parity with PyTorch, ${name}: ${what} (max |dlogit| <= 1e-4)`, async (t) => {
    await initBackend();
    const { model } = loadCheckpointDir(path.join(FIXTURES, name));
    const ref = reference(name);
    assert.ok(ref.input_ids[0].length > 8, 'sequences longer than the local window');
    const d = maxDelta(model, ref);
    t.diagnostic(`${name}: max |dlogit| = ${d.toExponential(2)}`);
    assert.ok(d <= 1e-4, `max |dlogit| ${d}`);
    // Saved by wraplab and loaded again: the same model, the same logits.
    const back = loadCheckpointDir(savePretrained(model, path.join(tmp(), name)).dir).model;
    assert.deepEqual(back.getWeights(), model.getWeights());
    model.dispose();
    back.dispose();
  });
}

test('F16 and BF16 checkpoints load to exactly their float32 upcast', async () => {
  await initBackend();
  const f16 = loadCheckpointDir(path.join(FIXTURES, 'gpt_neox')).model;
  const f32 = loadCheckpointDir(path.join(FIXTURES, 'gpt_neox-f32')).model;
  assert.deepEqual(f16.getWeights(), f32.getWeights());
  const bf16 = loadCheckpointDir(path.join(FIXTURES, 'llama')).model;
  const dir = path.join(tmp(), 'llama-f32');
  savePretrained(bf16, dir, { dtype: 'F32' });
  const up = loadCheckpointDir(dir).model;
  assert.deepEqual(up.getWeights(), bf16.getWeights());
  // BF16 -> F32 -> BF16 is lossless: the saved BF16 file holds the original bytes.
  const again = path.join(tmp(), 'llama-bf16');
  savePretrained(up, again, { dtype: 'BF16' });
  assert.deepEqual(fs.readFileSync(path.join(again, 'model.safetensors')).length > 0, true);
  assert.deepEqual(loadCheckpointDir(again).model.getWeights(), bf16.getWeights());
  for (const m of [f16, f32, bf16, up]) m.dispose();
});
