import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../lib/engine/backend';
import { Transformer } from '../../lib/engine/model';
import { CheckpointError, loadModel, loadWeightsInto, saveModel } from '../../lib/engine/checkpoint';
import { decodeSafetensors, encodeSafetensors } from '../../lib/engine/safetensors';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-ckpt-'));

test('save/load round-trips every weight bit-exactly, config included', async () => {
  await initBackend();
  const m = new Transformer({ vocabSize: 11, contextLength: 7, dModel: 12, nLayers: 2, nHeads: 3, norm: 'rmsnorm', activation: 'swiglu', positions: 'rope', outputSize: 4 }, 5);
  const w = m.getWeights();
  w['embed.W_E'][0] = -0; // signed zero and odd values survive too
  w['embed.W_E'][1] = 1e-38;
  w['embed.W_E'][2] = 3.4e38;
  m.setWeights(w);
  const file = path.join(tmp(), 'm.safetensors');
  saveModel(m, file, { note: 'x' });
  const { model: back, metadata } = loadModel(file);
  assert.equal(metadata.note, 'x');
  assert.deepEqual(back.config, m.config);
  const wb = back.getWeights();
  for (const k of Object.keys(w)) {
    assert.equal(Buffer.compare(Buffer.from(w[k].buffer), Buffer.from(wb[k].buffer)), 0, k);
  }
  assert.ok(Object.is(wb['embed.W_E'][0], -0));
  m.dispose();
  back.dispose();
});

test('safetensors header follows the format (u64 length, aligned JSON, offsets)', () => {
  const buf = encodeSafetensors({ a: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) }, b: { dtype: 'I32', shape: [1, 1], data: new Int32Array([7]) } }, { k: 'v' });
  const n = Number(buf.readBigUInt64LE(0));
  assert.equal((8 + n) % 8, 0);
  const header = JSON.parse(buf.subarray(8, 8 + n).toString());
  assert.deepEqual(header.a, { dtype: 'F32', shape: [2], data_offsets: [0, 8] });
  assert.deepEqual(header.b.data_offsets, [8, 12]);
  assert.deepEqual(header.__metadata__, { k: 'v' });
  const back = decodeSafetensors(buf);
  assert.deepEqual(Array.from(back.tensors.b.data), [7]);
});

test('corrupt, foreign or mismatched checkpoints fail with a clear error', async () => {
  await initBackend();
  const dir = tmp();
  const m = new Transformer({ vocabSize: 5, contextLength: 4, dModel: 8, nLayers: 1, nHeads: 2 }, 1);
  const file = path.join(dir, 'm.safetensors');
  saveModel(m, file);
  const bytes = fs.readFileSync(file);
  fs.writeFileSync(path.join(dir, 'trunc.safetensors'), bytes.subarray(0, bytes.length - 10));
  assert.throws(() => loadModel(path.join(dir, 'trunc.safetensors')), (e: Error) => e instanceof CheckpointError && /trunc\.safetensors is not a valid safetensors file/.test(e.message));
  const garbled = Buffer.from(bytes);
  garbled.write('{{{{', 8);
  fs.writeFileSync(path.join(dir, 'garbled.safetensors'), garbled);
  assert.throws(() => loadModel(path.join(dir, 'garbled.safetensors')), /header is not JSON/);
  fs.writeFileSync(path.join(dir, 'foreign.safetensors'), encodeSafetensors({ x: { dtype: 'F32', shape: [1], data: new Float32Array(1) } }));
  assert.throws(() => loadModel(path.join(dir, 'foreign.safetensors')), /not a wraplab model checkpoint/);
  assert.throws(() => loadModel(path.join(dir, 'missing.safetensors')), /does not exist/);
  const other = new Transformer({ vocabSize: 6, contextLength: 4, dModel: 8, nLayers: 1, nHeads: 2 }, 1);
  assert.throws(() => loadWeightsInto(other, file), /holds a model with config/);
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.includes('.tmp-')), []);
  m.dispose();
  other.dispose();
});
