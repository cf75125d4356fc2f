/**
 * The memory measures for fine-tuning big models (memory.ts) leave the numbers unchanged: optimizer moments in
 * host memory with in-place updates, activation checkpointing per block; frozen embeddings train exactly the
 * other parameters. And a step that cannot fit the wasm heap is refused before anything is allocated.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf, useWasmBackend } from '../../lib/engine/backend';
import { fusedOpsActive } from '../../lib/engine/fused';
import { setNativeKernelsEnabled } from '../../lib/engine/native/provider';
import { Transformer, type ModelConfigInput } from '../../lib/engine/model';
import { Optimizer } from '../../lib/engine/optim';
import { lossAndGrads, train, trainStep, type TrainConfigInput } from '../../lib/engine/train';
import { checkTrainingFits, estimateStepBytes, WASM_HEAP_LIMIT } from '../../lib/engine/memory';
import { WraplabError } from '../../lib/engine/errors';
import { Run } from '../../lib/engine/runs';
import { benchBatch } from '../../lib/bench';

async function wasm(): Promise<void> {
  await useWasmBackend();
  assert.ok(fusedOpsActive(), 'the in-place optimizer needs the fused ops of the wasm backend');
}

const decayOf = (m: Transformer) => m.specs.filter((s) => s.decay).map((s) => s.name);
const gpt2Like: ModelConfigInput = { vocabSize: 23, contextLength: 16, dModel: 32, nLayers: 2, nHeads: 4, activation: 'gelu', norm: 'layernorm', dropout: 0.1 };
/** The architectures whose blocks differ: local attention windows (GPT-Neo), rotary + GQA + SwiGLU (Llama), partial rotary with a parallel residual (NeoX). */
const ARCHS: Record<string, ModelConfigInput> = {
  gpt2: gpt2Like,
  // GPT-Neo alternates global and local layers; each window used twice (the mask made once per pass is reused), one shorter than the sequence, one longer (256 at T 128).
  neo: { ...gpt2Like, nLayers: 6, dropout: 0, attentionWindows: [null, 4, null, 4, 64, 64], attnScale: 1 },
  llama: { vocabSize: 23, contextLength: 16, dModel: 32, nLayers: 2, nHeads: 4, nKVHeads: 2, activation: 'swiglu', norm: 'rmsnorm', positions: 'rope', bias: false, tiedEmbeddings: true },
  neox: { vocabSize: 23, contextLength: 16, dModel: 32, nLayers: 2, nHeads: 4, positions: 'rope', rotaryFraction: 0.25, parallelResidual: true },
};

test("optimizer moments in host memory, updated in place: bit-identical to the heap path, nothing allocated per step", async () => {
  await wasm();
  // With the native kernels off, matmuls run on XNNPACK, which caches packed weights per tensor: an in-place update
  // must not leave them stale.
  for (const [kind, native] of [['adamw', true], ['sgd', true], ['adamw', false]] as const) {
    setNativeKernelsEnabled(native);
    const run = (state: 'heap' | 'host') => {
      const model = new Transformer(gpt2Like, 3);
      const opt = new Optimizer({ kind, lr: 3e-3, clipNorm: 0.5 }, model.parameters(), decayOf(model), { state });
      assert.equal(opt.stateLocation, state);
      const losses: number[] = [];
      const tensors: number[] = [];
      for (let i = 0; i < 4; i++) {
        losses.push(trainStep(model, opt, benchBatch(i, 4, 12, 23), 3e-3).loss);
        tensors.push(tf.memory().numTensors);
      }
      const out = { losses, tensors, weights: model.getWeights(), state: opt.getState(), bytes: opt.stateBytes() };
      opt.dispose();
      model.dispose();
      return out;
    };
    const heap = run('heap');
    const host = run('host');
    assert.deepEqual(host.losses, heap.losses, `${kind} (native ${native}): losses`);
    for (const n of Object.keys(heap.weights)) assert.deepEqual(Array.from(host.weights[n]), Array.from(heap.weights[n]), `${kind}: ${n}`);
    for (const k of Object.keys(heap.state.tensors)) assert.deepEqual(Array.from(host.state.tensors[k]), Array.from(heap.state.tensors[k]), `${kind}: ${k}`);
    assert.equal(host.bytes.heap, 0, 'no moments on the heap');
    assert.equal(host.bytes.host, heap.bytes.heap, 'the same moments, in host memory');
    assert.ok(host.tensors.every((n) => n === host.tensors[0]), `tensor count flat: ${host.tensors}`);
  }
  setNativeKernelsEnabled(true);
});

test('an in-place update changes only its own model: a clone sharing the bytes keeps its weights', async () => {
  await wasm();
  const model = new Transformer(gpt2Like, 4);
  const before = model.getWeights();
  const copy = model.clone(); // shares every parameter's bytes until one side writes
  const opt = new Optimizer({ kind: 'adamw', lr: 1e-2 }, model.parameters(), decayOf(model), { state: 'host' });
  trainStep(model, opt, benchBatch(1, 2, 12, 23), 1e-2);
  const after = model.getWeights();
  const kept = copy.getWeights();
  for (const n of Object.keys(before)) {
    assert.deepEqual(Array.from(kept[n]), Array.from(before[n]), `the clone's ${n} is untouched`);
    if (n.endsWith('.W_Q') || n === 'embed.W_E') assert.notDeepEqual(Array.from(after[n]), Array.from(before[n]), `the model's ${n} moved`);
  }
  opt.dispose();
  model.dispose();
  copy.dispose();
});

test('activation checkpointing per block: the same loss and gradients for every architecture, dropout included, and no leak', async () => {
  await wasm();
  for (const [arch, cfg] of Object.entries(ARCHS)) {
    const model = new Transformer(cfg, 5);
    const batch = benchBatch(2, 3, 12, 23);
    const grads = (checkpointBlocks: boolean) => {
      const r = lossAndGrads(model, batch, { forward: { training: true, dropoutSeed: 11, checkpointBlocks } });
      const values = Object.fromEntries(Object.entries(r.grads).map(([n, g]) => [n, g.dataSync().slice()]));
      tf.dispose(Object.values(r.grads));
      return { loss: r.loss, values };
    };
    const plain = grads(false);
    const n0 = tf.memory().numTensors;
    const ckpt = grads(true);
    assert.equal(tf.memory().numTensors, n0, `${arch}: no tensor left behind by the recomputation`);
    assert.equal(ckpt.loss, plain.loss, `${arch}: loss`);
    assert.deepEqual(Object.keys(ckpt.values).sort(), Object.keys(plain.values).sort());
    for (const n of Object.keys(plain.values)) assert.deepEqual(Array.from(ckpt.values[n]), Array.from(plain.values[n]), `${arch}: d loss / d ${n}`);
    assert.throws(() => model.forward([[1, 2, 3]], { checkpointBlocks: true, cache: true }), /checkpointBlocks/);
    model.dispose();
  }
});

const toyConfig = (steps: number): TrainConfigInput => ({ steps, batchSize: 3, optimizer: { kind: 'adamw', lr: 3e-3 }, schedule: { kind: 'cosine', warmupFrac: 0.2 }, logEvery: 1 });
const sampler = (step: number, B: number) => benchBatch(step, B, 12, 23);

test('train() with every measure on follows the plain run step for step, and reports its memory (memory.json)', async () => {
  await wasm();
  const go = async (memory: Parameters<typeof train>[0]['memory'], run?: Run) => {
    const model = new Transformer(gpt2Like, 6);
    const r = await train({ model, sampler, config: toyConfig(5), seed: 6, memory, run });
    const weights = model.getWeights();
    model.dispose();
    return { r, weights };
  };
  const plain = await go({ optimizerState: 'heap' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-memory-'));
  const run = Run.open({ name: 'memory-test' }, { dir });
  const lean = await go({ optimizerState: 'host', checkpointBlocks: true }, run);
  assert.deepEqual(lean.r.metrics.map((m) => m.loss), plain.r.metrics.map((m) => m.loss));
  for (const n of Object.keys(plain.weights)) assert.deepEqual(Array.from(lean.weights[n]), Array.from(plain.weights[n]), n);
  assert.equal(plain.r.memory.optimizerState, 'heap');
  assert.equal(lean.r.memory.optimizerState, 'host');
  assert.ok(lean.r.memory.checkpointBlocks);
  assert.ok(lean.r.memory.heapMB! > 0 && lean.r.memory.peakRssMB > 0 && lean.r.memory.estimateMB > 0);
  const written = JSON.parse(fs.readFileSync(run.file('memory.json'), 'utf8'));
  assert.equal(written.optimizerState, 'host');
  assert.equal(written.trainableParams, lean.r.memory.trainableParams);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('freezeEmbeddings trains exactly the other parameters (with tied weights the unembedding stays too)', async () => {
  await wasm();
  for (const cfg of [gpt2Like, ARCHS.llama]) {
    const go = async (opts: { memory?: { freezeEmbeddings: boolean }; trainable?: (n: string) => boolean }) => {
      const model = new Transformer(cfg, 7);
      const before = model.getWeights();
      const r = await train({ model, sampler, config: toyConfig(3), seed: 7, ...opts });
      const after = model.getWeights();
      model.dispose();
      return { r, before, after };
    };
    const frozen = await go({ memory: { freezeEmbeddings: true } });
    const byHand = await go({ trainable: (n) => n !== 'embed.W_E' && n !== 'pos_embed.W_pos' });
    for (const n of Object.keys(frozen.after)) {
      assert.deepEqual(Array.from(frozen.after[n]), Array.from(byHand.after[n]), n);
      const fixed = n === 'embed.W_E' || n === 'pos_embed.W_pos';
      if (fixed) assert.deepEqual(Array.from(frozen.after[n]), Array.from(frozen.before[n]), `${n} is frozen`);
    }
    assert.equal(frozen.r.memory.trainableParams, byHand.r.memory.trainableParams);
    assert.ok(frozen.r.memory.freezeEmbeddings);
  }
});

test('a step that cannot fit the wasm heap is refused before training, naming what would fit', async () => {
  await wasm();
  const model = new Transformer({ vocabSize: 50000, contextLength: 512, dModel: 32, nLayers: 2, nHeads: 2 }, 8);
  const before = model.getWeights();
  const n0 = tf.memory().numTensors;
  // 64 x 512 positions of 50,000 logits: ~46 GiB of logits alone; batch 1 fits.
  const config: TrainConfigInput = { steps: 2, batchSize: 64, optimizer: { kind: 'adamw', lr: 1e-3 }, schedule: { kind: 'constant' } };
  const big = (step: number, B: number) => benchBatch(step, B, 512, 50000);
  await assert.rejects(train({ model, sampler: big, config, seed: 1, label: 'big-step' }), (e: Error) => {
    assert.ok(e instanceof WraplabError, 'a WraplabError');
    assert.match(e.message, /^big-step: one training step at batch 64x512 needs about [\d.]+ GiB of the wasm heap/);
    assert.match(e.message, /logits [\d.]+ GiB/);
    assert.match(e.message, /These fit: batch size \d+/);
    return true;
  });
  assert.equal(tf.memory().numTensors, n0, 'nothing was allocated');
  const after = model.getWeights();
  for (const n of Object.keys(before)) assert.deepEqual(Array.from(after[n]), Array.from(before[n]), `${n} unchanged`);
  // The estimate grows with each measure switched off, and the limit is the 32-bit heap's.
  const shape = { batchSize: 4, seqLen: 128, trainableParams: model.numParams(), optimizer: 'adamw' as const };
  const lean = estimateStepBytes(model, { ...shape, optimizerState: 'host', checkpointBlocks: true }).total;
  const heapState = estimateStepBytes(model, { ...shape, optimizerState: 'heap', checkpointBlocks: true }).total;
  const full = estimateStepBytes(model, { ...shape, optimizerState: 'heap', checkpointBlocks: false }).total;
  assert.ok(lean < heapState && heapState < full);
  assert.equal(heapState - lean, 8 * model.numParams());
  assert.ok(WASM_HEAP_LIMIT > 4e9 && WASM_HEAP_LIMIT < 2 ** 32);
  assert.doesNotThrow(() => checkTrainingFits(model, { ...shape, optimizerState: 'heap', checkpointBlocks: false, freezeEmbeddings: false, embeddingParams: 0, label: 'ok' }));
  model.dispose();
});

test("the step estimate stays within 25% of the measured peak (tf.profile) on shapes it was not fit to", async () => {
  await wasm();
  const shapes: (ModelConfigInput & { B: number })[] = [
    { vocabSize: 3000, contextLength: 96, dModel: 96, nLayers: 3, nHeads: 6, B: 3 },
    { vocabSize: 1200, contextLength: 64, dModel: 64, nLayers: 2, nHeads: 4, nKVHeads: 2, activation: 'swiglu', norm: 'rmsnorm', positions: 'rope', B: 2 },
  ];
  for (const { B, ...cfg } of shapes) {
    for (const checkpointBlocks of [false, true]) {
      const model = new Transformer(cfg, 9);
      const T = cfg.contextLength!;
      const batch = benchBatch(3, B, T, cfg.vocabSize!);
      const base = tf.memory().numBytes - 4 * model.numParams();
      const prof = await tf.profile(() => {
        const { grads } = lossAndGrads(model, batch, { forward: { checkpointBlocks } });
        tf.dispose(Object.values(grads));
      });
      const measured = prof.peakBytes - base;
      const est = estimateStepBytes(model, { batchSize: B, seqLen: T, trainableParams: model.numParams(), optimizer: 'adamw', optimizerState: 'host', checkpointBlocks }).total;
      const ratio = est / measured;
      assert.ok(ratio > 0.75 && ratio < 1.25, `${cfg.activation ?? 'gelu'} checkpointBlocks=${checkpointBlocks}: estimate ${est} vs measured ${measured} (${ratio.toFixed(2)})`);
      model.dispose();
    }
  }
});
