/** Bad checkpoints: each gives one clear error naming the file (or config field) and the fix, before allocating. */
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend, tf } from '../../lib/engine/backend';
import { SafetensorsReader, encodeSafetensors, type SafeTensor } from '../../lib/engine/safetensors';
import { loadCheckpointDir } from '../../lib/pretrained/checkpoint';
import { isUserError } from '../../lib/engine/errors';

const FIXTURES = path.resolve(__dirname, '../../../tests/fixtures/pretrained');

/** A writable copy of a fixture. */
function copyOf(name: string): string {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-bad-')), name);
  fs.cpSync(path.join(FIXTURES, name), dir, { recursive: true });
  return dir;
}
const editJson = (file: string, edit: (j: Record<string, unknown>) => void) => {
  const j = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(j);
  fs.writeFileSync(file, JSON.stringify(j));
};

/** Asserts one user-facing error (WraplabError) whose message matches every pattern, and that no tensor leaked. */
function refuses(dir: string, ...patterns: RegExp[]): void {
  const before = tf.memory().numTensors;
  assert.throws(
    () => loadCheckpointDir(dir),
    (e: Error) => {
      assert.ok(isUserError(e), `a user error, got ${e.name}: ${e.message}`);
      for (const p of patterns) assert.match(e.message, p);
      return true;
    },
  );
  assert.equal(tf.memory().numTensors, before, 'nothing allocated');
}

test('a truncated safetensors file names the file and says it is truncated', async () => {
  await initBackend();
  const dir = copyOf('gpt2');
  const f = path.join(dir, 'model.safetensors');
  fs.truncateSync(f, fs.statSync(f).size - 100);
  refuses(dir, /model\.safetensors/, /truncated/);
  fs.truncateSync(f, 5);
  refuses(dir, /model\.safetensors/, /truncated/);
});

test('a missing shard names the shard and says to download it again', async () => {
  await initBackend();
  const dir = copyOf('llama-untied-sharded');
  fs.rmSync(path.join(dir, 'model-00002-of-00002.safetensors'));
  refuses(dir, /model-00002-of-00002\.safetensors is missing/, /download/);
});

test('an index that places a tensor in the wrong shard is refused', async () => {
  await initBackend();
  const dir = copyOf('llama-untied-sharded');
  editJson(path.join(dir, 'model.safetensors.index.json'), (j) => {
    const map = j.weight_map as Record<string, string>;
    map['model.norm.weight'] = 'model-00001-of-00002.safetensors';
  });
  refuses(dir, /model\.norm\.weight/, /index and the shards disagree|lacks/);
});

test('config/weights mismatch: a wrong size, a wrong layer count, a wrong tie, each named', async () => {
  await initBackend();
  let dir = copyOf('gpt_neox');
  editJson(path.join(dir, 'config.json'), (j) => (j.intermediate_size = 128));
  refuses(dir, /dense_h_to_4h\.weight has shape \[64,32\] but config\.json implies \[128,32\]/, /config\.json and the weights disagree/);
  dir = copyOf('llama');
  editJson(path.join(dir, 'config.json'), (j) => (j.num_hidden_layers = 3));
  refuses(dir, /missing .* model\.layers\.2\./, /num_hidden_layers/);
  dir = copyOf('llama');
  editJson(path.join(dir, 'config.json'), (j) => (j.tie_word_embeddings = false));
  refuses(dir, /missing 1 tensor.*lm_head\.weight/, /tie_word_embeddings/);
  dir = copyOf('gpt_neox');
  editJson(path.join(dir, 'config.json'), (j) => (j.num_hidden_layers = 1));
  refuses(dir, /loader does not know: gpt_neox\.layers\.1\./);
});

test('an unsupported dtype names the tensor, the dtype and the way out', async () => {
  await initBackend();
  const dir = copyOf('gpt2-prefixed');
  const f = path.join(dir, 'model.safetensors');
  const r = new SafetensorsReader(f);
  const tensors: Record<string, SafeTensor> = {};
  for (const e of r.header.entries.values()) tensors[e.name] = { dtype: 'F32', shape: e.shape, data: r.float32(e.name) };
  r.close();
  const wte = tensors['transformer.wte.weight'];
  tensors['transformer.wte.weight'] = { dtype: 'I32', shape: wte.shape, data: Int32Array.from(wte.data, (v) => Math.round(v * 100)) };
  fs.writeFileSync(f, encodeSafetensors(tensors));
  refuses(dir, /transformer\.wte\.weight is stored as I32/, /F32, F16, BF16/);
});

test('config.json problems name the field: unknown model_type, rope scaling, an activation, missing or malformed', async () => {
  await initBackend();
  let dir = copyOf('llama');
  editJson(path.join(dir, 'config.json'), (j) => (j.model_type = 'mistral'));
  refuses(dir, /model_type "mistral" is not supported; wraplab loads gpt2, gpt_neo, gpt_neox, llama/);
  dir = copyOf('llama');
  editJson(path.join(dir, 'config.json'), (j) => (j.rope_scaling = { rope_type: 'llama3', factor: 8 }));
  refuses(dir, /config\.json: rope_scaling = .*llama3.* is not supported/);
  dir = copyOf('gpt2');
  editJson(path.join(dir, 'config.json'), (j) => (j.activation_function = 'swish'));
  refuses(dir, /activation_function = "swish" is not supported/);
  dir = copyOf('gpt2');
  editJson(path.join(dir, 'config.json'), (j) => (j.scale_attn_by_inverse_layer_idx = true));
  refuses(dir, /scale_attn_by_inverse_layer_idx/);
  dir = copyOf('gpt_neo');
  editJson(path.join(dir, 'config.json'), (j) => delete j.hidden_size);
  refuses(dir, /config\.json: hidden_size is missing/);
  dir = copyOf('gpt_neo');
  fs.writeFileSync(path.join(dir, 'config.json'), '{"model_type": "gpt_neo",');
  refuses(dir, /config\.json is not valid JSON/);
  dir = copyOf('gpt_neo');
  fs.rmSync(path.join(dir, 'config.json'));
  refuses(dir, /config\.json is missing/);
});

test('a directory with only a pickle is refused with the safetensors alternatives', async () => {
  await initBackend();
  const dir = copyOf('gpt2');
  fs.renameSync(path.join(dir, 'model.safetensors'), path.join(dir, 'pytorch_model.bin'));
  refuses(dir, /only PyTorch pickles \(pytorch_model\.bin\)/, /refs\/pr\/N/, /safe_serialization=True/);
  fs.rmSync(path.join(dir, 'pytorch_model.bin'));
  refuses(dir, /has no weights: expected model\.safetensors/);
});
