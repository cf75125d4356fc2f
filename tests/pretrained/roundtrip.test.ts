import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend, tf } from '../../lib/engine/backend';
import { type ModelConfigInput, Transformer } from '../../lib/engine/model';
import { Rng } from '../../lib/engine/rng';
import { loadCheckpointDir, savePretrained, saveFamily, PretrainedSaveError } from '../../lib/pretrained/checkpoint';
import { FAMILIES, type FamilyName } from '../../lib/pretrained/families';
import { SafetensorsReader } from '../../lib/engine/safetensors';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-hf-'));

/** Small configs shaped like each family (what its toConfig would produce). */
export const FAMILY_CONFIGS: Record<FamilyName, ModelConfigInput> = {
  gpt2: { vocabSize: 37, contextLength: 16, dModel: 12, nLayers: 2, nHeads: 3, norm: 'layernorm', activation: 'gelu', positions: 'learned', bias: true, unembedBias: false, tiedEmbeddings: true },
  gpt_neo: { vocabSize: 37, contextLength: 16, dModel: 12, nLayers: 2, nHeads: 3, norm: 'layernorm', activation: 'gelu', positions: 'learned', attnScale: 1, attentionWindows: [null, 4], bias: true, attnBias: false, attnOutBias: true, unembedBias: false, tiedEmbeddings: true },
  gpt_neox: { vocabSize: 37, contextLength: 16, dModel: 16, nLayers: 2, nHeads: 2, norm: 'layernorm', activation: 'gelu_erf', positions: 'rope', rotaryFraction: 0.25, parallelResidual: true, bias: true, unembedBias: false },
  llama: { vocabSize: 37, contextLength: 16, dModel: 16, nLayers: 2, nHeads: 4, nKVHeads: 2, dMlp: 24, norm: 'rmsnorm', normEps: 1e-6, activation: 'swiglu', positions: 'rope', rotaryBase: 500000, bias: false, unembedBias: false, tiedEmbeddings: false },
};

/** Every weight random (biases and norm gains too), so a swapped or dropped tensor changes the logits. */
export function randomised(config: ModelConfigInput, seed: number): Transformer {
  const m = new Transformer(config, seed);
  const rng = new Rng(seed + 1);
  for (const s of m.specs) {
    const v = new Float32Array(s.shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < v.length; i++) v[i] = (s.init === 'ones' ? 1 : 0) + 0.3 * rng.normal();
    m.assignParam(s.name, v);
  }
  return m;
}

function logitsOf(m: Transformer, tokens: number[][]): Float32Array {
  return tf.tidy(() => m.forward(tokens).logits.dataSync() as Float32Array);
}

const TOKENS = [Array.from({ length: 16 }, (_, i) => (i * 7 + 3) % 37), Array.from({ length: 16 }, (_, i) => (i * i + 1) % 37)];

for (const fam of FAMILIES) {
  const name = fam.modelType as FamilyName;
  test(`${name}: savePretrained -> loadCheckpointDir is bit-exact (weights and logits) and picks the same family`, async () => {
    await initBackend();
    const m = randomised(FAMILY_CONFIGS[name], 3);
    assert.equal(saveFamily(m).modelType, name === 'gpt_neo' || name === 'gpt_neox' || name === 'llama' ? name : 'gpt2');
    const dir = path.join(tmp(), 'out');
    const saved = savePretrained(m, dir, { family: name });
    assert.deepEqual(saved.files, ['config.json', 'model.safetensors']);
    const hf = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    assert.equal(hf.model_type, name);
    const { model: back, family } = loadCheckpointDir(dir);
    assert.equal(family, name);
    assert.deepEqual(back.config, m.config);
    const a = m.getWeights();
    const b = back.getWeights();
    for (const k of Object.keys(a)) assert.equal(Buffer.compare(Buffer.from(a[k].buffer), Buffer.from(b[k].buffer)), 0, k);
    assert.deepEqual(logitsOf(back, TOKENS), logitsOf(m, TOKENS));
    // The file carries HF names with the family's prefix, nothing of wraplab's.
    const r = new SafetensorsReader(path.join(dir, 'model.safetensors'));
    const keys = [...r.header.entries.keys()];
    r.close();
    assert.ok(keys.every((k) => k.startsWith(fam.prefix) || k === 'lm_head.weight' || k === 'embed_out.weight'), keys.join(','));
    assert.equal(keys.includes('lm_head.weight') || keys.includes('embed_out.weight'), !m.config.tiedEmbeddings);
    m.dispose();
    back.dispose();
  });
}

test('sharded save writes an index whose shards load back bit-exactly; F16/BF16 saves load as their float32 rounding', async () => {
  await initBackend();
  const m = randomised(FAMILY_CONFIGS.llama, 4);
  const dir = path.join(tmp(), 'sharded');
  const saved = savePretrained(m, dir, { maxShardBytes: 4000 });
  assert.ok(saved.files.includes('model.safetensors.index.json'));
  const shards = saved.files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f));
  assert.ok(shards.length >= 3, `${shards.length} shards`);
  const index = JSON.parse(fs.readFileSync(path.join(dir, 'model.safetensors.index.json'), 'utf8'));
  assert.equal(Object.keys(index.weight_map).length, m.specs.length - 0 /* llama: one tensor per parameter */);
  const back = loadCheckpointDir(dir).model;
  assert.deepEqual(back.getWeights(), m.getWeights());
  for (const dtype of ['F16', 'BF16'] as const) {
    const d = path.join(tmp(), dtype);
    savePretrained(m, d, { dtype });
    const half = loadCheckpointDir(d).model;
    const w = m.getWeights();
    const h = half.getWeights();
    let maxRel = 0;
    let changed = 0;
    for (const k of Object.keys(w)) {
      for (let i = 0; i < w[k].length; i++) {
        maxRel = Math.max(maxRel, Math.abs(h[k][i] - w[k][i]) / Math.max(Math.abs(w[k][i]), 1e-3));
        if (h[k][i] !== w[k][i]) changed++;
      }
    }
    assert.ok(changed > 0, `${dtype} rounds`);
    assert.ok(maxRel <= (dtype === 'F16' ? 2 ** -11 : 2 ** -8) * 1.01, `${dtype} relative error ${maxRel}`);
    assert.equal(JSON.parse(fs.readFileSync(path.join(d, 'config.json'), 'utf8')).torch_dtype, dtype === 'F16' ? 'float16' : 'bfloat16');
    half.dispose();
  }
  m.dispose();
  back.dispose();
});

test('savePretrained refuses what a family cannot express, by field, and never leaves a half-written directory', async () => {
  await initBackend();
  const pcfg = new Transformer({ vocabSize: 9, contextLength: 8, dModel: 8, nLayers: 1, nHeads: 2 }); // wraplab default: unembedding bias
  assert.throws(() => saveFamily(pcfg), (e: Error) => e instanceof PretrainedSaveError && /gpt2: .*unembedBias/.test(e.message) && /llama: .*rmsnorm/.test(e.message));
  assert.throws(() => savePretrained(pcfg, path.join(tmp(), 'x'), { family: 'gpt_neo' }), /cannot be saved as gpt_neo: .*attnScale/);
  const root = tmp();
  const m = randomised(FAMILY_CONFIGS.gpt2, 1);
  fs.mkdirSync(path.join(root, 'busy'));
  fs.writeFileSync(path.join(root, 'busy', 'notes.txt'), 'mine');
  assert.throws(() => savePretrained(m, path.join(root, 'busy')), /already holds files; pass overwrite: true/);
  assert.equal(fs.readFileSync(path.join(root, 'busy', 'notes.txt'), 'utf8'), 'mine');
  // A failure mid-write (a parameter that cannot be read) removes the temporary directory.
  const broken = randomised(FAMILY_CONFIGS.gpt2, 1);
  broken.param('blocks.1.mlp.W_out').dispose();
  assert.throws(() => savePretrained(broken, path.join(root, 'broken')));
  assert.deepEqual(fs.readdirSync(root).sort(), ['busy']);
  savePretrained(m, path.join(root, 'busy'), { overwrite: true });
  assert.deepEqual(fs.readdirSync(path.join(root, 'busy')).sort(), ['config.json', 'model.safetensors']);
  assert.deepEqual(fs.readdirSync(root).sort(), ['busy']);
  pcfg.dispose();
  m.dispose();
});

test('loading holds no tensor beyond the model: tf.memory().numTensors grows by exactly the parameter count', async () => {
  await initBackend();
  const m = randomised(FAMILY_CONFIGS.gpt_neox, 2);
  const dir = path.join(tmp(), 'n');
  savePretrained(m, dir);
  const before = tf.memory().numTensors;
  const back = loadCheckpointDir(dir).model;
  assert.equal(tf.memory().numTensors - before, back.specs.length);
  back.dispose();
  assert.equal(tf.memory().numTensors, before);
  m.dispose();
});
