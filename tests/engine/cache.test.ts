import test from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/engine/backend';
import { Transformer, actName, layerNames, paramName, parseActName } from '../../lib/engine/model';

const cfg = { vocabSize: 9, contextLength: 8, dModel: 8, nLayers: 3, nHeads: 2, initStd: 0.3 };
const tokens = [[1, 2, 3, 4, 5], [5, 4, 3, 2, 1]];

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test('names: actName, paramName and parseActName agree with the model', () => {
  assert.equal(actName('pattern', 3), 'blocks.3.attn.pattern');
  assert.equal(actName('mlp_hidden', 0), 'blocks.0.mlp.hidden');
  assert.equal(actName('embed'), 'embed');
  assert.equal(actName('ln_final'), 'ln_final.normalized');
  assert.equal(paramName('W_out', 2), 'blocks.2.mlp.W_out');
  assert.equal(paramName('W_U'), 'unembed.W_U');
  assert.deepEqual(parseActName('blocks.12.attn.z'), { layer: 12, kind: 'z' });
  assert.equal(parseActName('unembed.W_U'), null);
  assert.deepEqual(layerNames('resid_post', 2), ['blocks.0.resid_post', 'blocks.1.resid_post']);
  assert.throws(() => actName('pattern' as never, -1), /give its layer/);
  const model = new Transformer(cfg, 1);
  for (const n of model.hookNames()) assert.ok(n === 'embed' || n === 'pos_embed' || n === 'ln_final.normalized' || n === 'logits' || parseActName(n), n);
  for (const s of model.specs) assert.ok(s.name.startsWith('blocks.') ? /^blocks\.\d+\.(ln1|ln2|attn|mlp)\./.test(s.name) : true);
  model.dispose();
});

test('runWithCache keeps what was asked for, and get / toArray / stack read it', async () => {
  await initBackend();
  const model = new Transformer(cfg, 2);
  const warm = model.runWithCache(tokens); // the model's own constants (the causal mask) are made once, here
  warm.cache.dispose();
  warm.logits.dispose();
  const before = tf.memory().numTensors;

  const { logits, cache } = model.runWithCache(tokens, { names: layerNames('resid_post', 3) });
  assert.deepEqual(cache.names, layerNames('resid_post', 3));
  assert.deepEqual(logits.shape, [2, 5, 9]);
  assert.equal(cache.get('resid_post', 1), cache.get('blocks.1.resid_post'));
  assert.throws(() => cache.get('pattern', 0), /no activation blocks\.0\.attn\.pattern; held: blocks\.0\.resid_post/);
  const stacked = cache.stack('resid_post');
  assert.deepEqual(stacked.shape, [3, 2, 5, 8]);
  const middle = stacked.slice([1], [1]);
  assert.deepEqual(Array.from(middle.dataSync()), Array.from(cache.get('resid_post', 1).dataSync()));
  middle.dispose();
  const arr = cache.toArray('resid_post', 2) as number[][][];
  assert.equal(arr.length, 2);
  assert.equal(arr[0].length, 5);
  assert.throws(() => model.runWithCache(tokens, { names: ['blocks.0.attn.patern'] }), /no activation named blocks\.0\.attn\.patern/);
  stacked.dispose();
  cache.dispose();
  logits.dispose();
  assert.equal(tf.memory().numTensors, before, 'cache.dispose() and logits.dispose() free everything runWithCache made');
  const filtered = model.runWithCache(tokens, { filter: (n) => n.endsWith('attn.pattern') });
  assert.deepEqual(filtered.cache.names, layerNames('pattern', 3));
  filtered.cache.dispose();
  filtered.logits.dispose();
  model.dispose();
});

test('accumulatedResid and per-head results decompose the residual stream', async () => {
  await initBackend();
  const model = new Transformer(cfg, 3);
  const { logits, cache } = model.runWithCache(tokens);
  const { resid, labels } = cache.accumulatedResid();
  assert.deepEqual(labels, ['0_pre', '1_pre', '2_pre', 'final_post']);
  assert.deepEqual(resid.shape, [4, 2, 5, 8]);
  assert.deepEqual(Array.from(resid.slice([3], [1]).dataSync()), Array.from(cache.get('resid_post', 2).dataSync()));
  assert.deepEqual(cache.accumulatedResid({ layer: 1, mid: true }).labels, ['0_pre', '0_mid']);
  // attn_out = sum over heads of the head results + b_O.
  const heads = cache.headResults(1);
  assert.deepEqual(heads.shape, [2, 5, 2, 8]);
  const total = tf.add(tf.sum(heads, 2), model.param(paramName('b_O', 1)));
  assert.ok(maxDiff(total.dataSync(), cache.get('attn_out', 1).dataSync()) < 1e-5);
  const { results, labels: headLabels } = cache.stackHeadResults();
  assert.deepEqual(results.shape, [6, 2, 5, 8]);
  assert.deepEqual(headLabels, ['L0H0', 'L0H1', 'L1H0', 'L1H1', 'L2H0', 'L2H1']);
  tf.dispose([resid, heads, total, results, logits]);
  cache.dispose();
  assert.deepEqual(cache.names, []);
  model.dispose();
});
