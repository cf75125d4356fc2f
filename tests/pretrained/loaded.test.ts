/** What earlier issues built works on a loaded checkpoint: hooks, the activation cache, masks, training, sampling. */
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend, tf } from '../../lib/engine/backend';
import { actName } from '../../lib/engine/model';
import { packSequences } from '../../lib/engine/data';
import { train } from '../../lib/engine/train';
import { generate } from '../../lib/engine/generate';
import { batchLoss } from '../../lib/engine/evaluate';
import { PruneMasks, exactScores, mlpOutputs, scoreUnits } from '../../lib/analysis/prune';
import { loadCheckpointDir, savePretrained } from '../../lib/pretrained/checkpoint';

const FIXTURES = path.resolve(__dirname, '../../../tests/fixtures/pretrained');
const ref = (name: string) => JSON.parse(fs.readFileSync(path.join(FIXTURES, name, 'reference.json'), 'utf8')) as { input_ids: number[][] };

test('runWithCache on GPT-Neo: patterns are causal, the local layer sees only its window, names are TransformerLens-style', async () => {
  await initBackend();
  const { model } = loadCheckpointDir(path.join(FIXTURES, 'gpt_neo'));
  const tokens = ref('gpt_neo').input_ids;
  const { logits, cache } = model.runWithCache(tokens, { names: [actName('pattern', 0), actName('pattern', 1), actName('resid_post', 1)] });
  const global = cache.toArray('pattern', 0) as number[][][][];
  const local = cache.toArray('pattern', 1) as number[][][][];
  const T = tokens[0].length;
  for (let q = 0; q < T; q++) {
    const row = local[0][0][q];
    assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5);
    for (let k = 0; k < T; k++) {
      if (k > q) assert.equal(global[0][0][q][k], 0);
      if (k > q || k <= q - 8) assert.equal(row[k], 0, `local layer: query ${q} must not see key ${k}`);
    }
  }
  assert.ok(global[0][0][T - 1][0] > 0, 'the global layer sees the first token');
  assert.deepEqual(cache.get(actName('resid_post', 1)).shape, [2, T, model.config.dModel]);
  logits.dispose();
  cache.dispose();
  model.dispose();
});

test('masks on Llama (GQA): ablating a head or a neuron changes logits; all-ones masks change nothing; a zeroed neuron == zeroed W_out row', async () => {
  await initBackend();
  const { model } = loadCheckpointDir(path.join(FIXTURES, 'llama'));
  const tokens = ref('llama').input_ids;
  const c = model.config;
  const run = (masks: Record<string, tf.Tensor>) => tf.tidy(() => model.forward(tokens, { masks }).logits.dataSync() as Float32Array);
  const base = run({});
  const ones = tf.ones([c.nHeads]);
  assert.deepEqual(run({ [actName('z', 1)]: ones }), base);
  const head = tf.tensor1d([1, 0, 1, 1]);
  assert.ok(run({ [actName('z', 1)]: head }).some((v, i) => Math.abs(v - base[i]) > 1e-3), 'ablating head 1 of block 1 matters');
  const neuron = 5;
  const mask = tf.tensor1d(Array.from({ length: c.dMlp }, (_, i) => (i === neuron ? 0 : 1)));
  const masked = run({ [actName('mlp_hidden', 0)]: mask });
  const clone = model.clone();
  const w = clone.getWeights()['blocks.0.mlp.W_out'];
  w.fill(0, neuron * c.dModel, (neuron + 1) * c.dModel);
  clone.setWeights({ 'blocks.0.mlp.W_out': w });
  const zeroed = tf.tidy(() => clone.forward(tokens).logits.dataSync() as Float32Array);
  assert.ok(masked.every((v, i) => Math.abs(v - zeroed[i]) < 1e-5));
  assert.ok(masked.some((v, i) => Math.abs(v - base[i]) > 1e-4));
  for (const t of [ones, head, mask]) t.dispose();
  clone.dispose();
  model.dispose();
});

test('fine-tuning a loaded GPT-NeoX (F16 on disk) lowers the loss, saves, and reloads to the same logits; greedy sampling matches argmax decoding', async () => {
  await initBackend();
  const { model } = loadCheckpointDir(path.join(FIXTURES, 'gpt_neox'));
  const tokens = ref('gpt_neox').input_ids;
  const batch = packSequences(tokens, tokens[0].length - 1, 0);
  tf.tidy(() => model.forward(tokens.map((r) => r.slice(0, -1))).logits); // builds the model's cached rope tables and causal mask
  const before = tf.memory().numTensors;
  const losses: number[] = [];
  await train({ model, sampler: () => batch, config: { steps: 15, batchSize: 2, optimizer: { kind: 'adamw', lr: 3e-3 }, schedule: { kind: 'constant' } }, seed: 0, onStep: (_s, l) => losses.push(l) });
  assert.equal(tf.memory().numTensors, before, 'training leaks no tensors');
  assert.ok(losses[losses.length - 1] < losses[0] * 0.8, `loss ${losses[0]} -> ${losses[losses.length - 1]}`);
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-ft-')), 'tuned');
  savePretrained(model, dir);
  assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).rotary_pct, 0.25, 'the original config fields survive');
  const back = loadCheckpointDir(dir).model;
  const a = tf.tidy(() => model.forward(tokens).logits.dataSync());
  const b = tf.tidy(() => back.forward(tokens).logits.dataSync());
  assert.deepEqual(b, a);
  // Greedy generation (KV cache) against recomputing the whole prefix each step.
  const prompt = tokens[0].slice(0, 5);
  const [gen] = generate(back, [prompt], { maxNewTokens: 6, temperature: 0, seed: 0 });
  const seq = [...prompt];
  for (let i = 0; i < 6; i++) {
    const last = tf.tidy(() => {
      const l = back.forward([seq]).logits;
      return tf.argMax(tf.squeeze(tf.slice(l, [0, seq.length - 1, 0], [1, 1, -1])), 0).dataSync()[0];
    });
    seq.push(last);
  }
  assert.deepEqual(gen, seq.slice(prompt.length));
  model.dispose();
  back.dispose();
});

test('pruning on a loaded GPT-2: grad x weight scores every neuron, and pruning the top one lowers the loss it scored', async () => {
  await initBackend();
  const { model } = loadCheckpointDir(path.join(FIXTURES, 'gpt2'));
  const tokens = ref('gpt2').input_ids;
  const batch = packSequences(tokens, tokens[0].length - 1, 0);
  const spec = { granularity: 'row' as const, params: mlpOutputs(model) };
  const scores = scoreUnits(model, [batch], spec);
  assert.equal(scores.length, model.config.nLayers * model.config.dMlp);
  const loss = (masks: Record<string, tf.Tensor>) => batchLoss(model, batch, { masks });
  const pruned = new PruneMasks(model, 'row');
  const exact = exactScores(model, [batch], spec, pruned);
  pruned.add(exact[0]);
  const masks = pruned.toMasks();
  assert.ok(exact[0].score > 0);
  assert.ok(Math.abs(loss({}) - loss(masks) - exact[0].score) < 1e-4, 'the exact score is the loss drop pruning gives');
  tf.dispose(Object.values(masks));
  model.dispose();
});
