/**
 * Training memory: what a step needs, whether it fits the wasm heap, and what a run used.
 *
 * The wasm backend keeps every tensor in one 32-bit heap of at most 4 GiB. A training step holds the weights, their
 * gradients, the optimizer's moments (unless they live in host memory: Optimizer's 'host' state), the activations
 * the backward pass needs, and the logits with their gradient. The measures that shrink it (TrainMemoryOptions):
 * moments in host memory, activation checkpointing per block, frozen embeddings. `checkTrainingFits` refuses a
 * configuration before its first step when the estimate passes the heap, naming the options that would fit.
 *
 * The activation coefficients are measured (tf.profile's peak bytes over one step, 11 model shapes, gelu/swiglu,
 * learned/rotary positions; fit within ±12%), in float32 values per token:
 *   per block:            39 per MLP unit + 6 per attention score (heads x keys)
 *   checkpointed:         one block's worth, plus 10 per residual unit per block (the kept block inputs)
 *   logits and the loss:  7.5 per output unit (per position that enters the loss)
 */
import * as tf from '@tensorflow/tfjs';
import type { Transformer } from './model';
import type { OptimizerStateLocation } from './optim';
import { WraplabError } from './errors';

/** The measures a training run may take to fit (see the module comment). All leave the numbers unchanged except
 * `freezeEmbeddings`, which trains fewer parameters. */
export interface TrainMemoryOptions {
  /** Where AdamW/SGD keep their moments: 'auto' (host memory on the wasm backend), 'heap' or 'host'. */
  optimizerState?: OptimizerStateLocation;
  /** Activation checkpointing per block: the backward pass recomputes each block (about +30% time). */
  checkpointBlocks?: boolean;
  /** Keep the token and position embeddings fixed (with tied embeddings, the unembedding too). */
  freezeEmbeddings?: boolean;
}

/** What a run used, in MiB: written to the run's `memory.json` and returned by train(). */
export interface MemoryReport {
  backend: string;
  /** The wasm heap's size after training; it only grows, so this is the process's peak (null off wasm). */
  heapMB: number | null;
  heapLimitMB: number | null;
  /** The estimate checkTrainingFits made for one step (weights included). */
  estimateMB: number;
  /** Peak resident memory of the process so far. */
  peakRssMB: number;
  /** Live tensor bytes after training (weights and anything else the process holds). */
  tensorsMB: number;
  optimizerState: 'heap' | 'host';
  optimizerStateMB: number;
  checkpointBlocks: boolean;
  freezeEmbeddings: boolean;
  trainableParams: number;
}

/** Emscripten's cap on the tfjs-wasm heap: 4 GiB less one 64 KiB page. */
export const WASM_HEAP_LIMIT = 4294901760;
const MB = 1024 * 1024;

/** The wasm heap's current size in bytes, or null on another backend. */
export function wasmHeapBytes(): number | null {
  if (tf.getBackend() !== 'wasm') return null;
  const be = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return be.wasm?.HEAPU8?.buffer.byteLength ?? null;
}

export function peakRssMB(): number {
  return (process.resourceUsage().maxRSS * 1024) / MB;
}

/** Token and position embeddings: what freezeEmbeddings keeps fixed. */
export function embeddingParamNames(model: Transformer): string[] {
  return model.specs.map((s) => s.name).filter((n) => n === 'embed.W_E' || n === 'pos_embed.W_pos');
}

export interface StepShape {
  batchSize: number;
  seqLen: number;
  /** Positions per row whose logits enter the loss (an answer-only loss: 1). Default seqLen. */
  logitRows?: number;
  /** Parameters that get gradients and moments. */
  trainableParams: number;
  optimizer: 'adamw' | 'sgd';
  optimizerState: 'heap' | 'host';
  checkpointBlocks: boolean;
}

export interface StepEstimate {
  weights: number;
  gradients: number;
  optimizerHeap: number;
  activations: number;
  logits: number;
  /** Bytes on the heap at the step's peak. */
  total: number;
}

/** Heap bytes one training step needs at its peak (the module comment says where the coefficients come from). */
export function estimateStepBytes(model: Transformer, s: StepShape): StepEstimate {
  const c = model.config;
  const tokens = s.batchSize * s.seqLen;
  const perBlock = 39 * c.dMlp + 6 * c.nHeads * s.seqLen;
  const activations = 4 * tokens * (s.checkpointBlocks ? perBlock + 10 * c.dModel * c.nLayers : perBlock * c.nLayers);
  const logits = 4 * s.batchSize * (s.logitRows ?? s.seqLen) * 7.5 * c.outputSize;
  const weights = 4 * model.numParams();
  const gradients = 4 * s.trainableParams;
  const optimizerHeap = s.optimizerState === 'heap' ? 4 * s.trainableParams * (s.optimizer === 'adamw' ? 2 : 1) : 0;
  return { weights, gradients, optimizerHeap, activations, logits, total: weights + gradients + optimizerHeap + activations + logits };
}

const fmt = (bytes: number) => `${(bytes / 2 ** 30).toFixed(2)} GiB`;

/**
 * Throws before training when one step of this shape cannot fit the wasm heap (beside what else is live on it),
 * naming the options that would make it fit; does nothing off wasm. `embeddingParams`: how many of the trainable
 * parameters freezeEmbeddings would fix. Returns the estimate.
 */
export function checkTrainingFits(model: Transformer, s: StepShape & { freezeEmbeddings: boolean; embeddingParams: number; label: string }): StepEstimate {
  const est = estimateStepBytes(model, s);
  if (tf.getBackend() !== 'wasm') return est;
  // Tensors other than this model's weights (a second model, cached activations) share the heap.
  const others = Math.max(0, tf.memory().numBytes - est.weights);
  const fits = (e: StepEstimate) => e.total + others <= WASM_HEAP_LIMIT;
  if (fits(est)) return est;
  const tries: { what: string; shape: StepShape }[] = [];
  if (s.optimizerState === 'heap') tries.push({ what: "memory.optimizerState 'host' (or 'auto')", shape: { ...s, optimizerState: 'host' } });
  if (!s.checkpointBlocks) tries.push({ what: 'memory.checkpointBlocks', shape: { ...s, checkpointBlocks: true } });
  const all: StepShape = { ...s, optimizerState: 'host', checkpointBlocks: true };
  if (tries.length > 1) tries.push({ what: "memory.optimizerState 'host' with memory.checkpointBlocks", shape: all });
  if (!s.freezeEmbeddings && s.embeddingParams > 0) {
    tries.push({ what: 'memory.freezeEmbeddings (with the two above)', shape: { ...all, trainableParams: s.trainableParams - s.embeddingParams } });
  }
  for (let b = Math.floor(s.batchSize / 2); b >= 1; b = Math.floor(b / 2)) {
    if (fits(estimateStepBytes(model, { ...all, batchSize: b }))) {
      tries.push({ what: `batch size ${b} (with the first two)`, shape: { ...all, batchSize: b } });
      break;
    }
  }
  const fitting = tries.filter((t) => fits(estimateStepBytes(model, t.shape))).map((t) => `${t.what}: ${fmt(estimateStepBytes(model, t.shape).total)}`);
  const parts = `weights ${fmt(est.weights)}, gradients ${fmt(est.gradients)}, optimizer moments ${fmt(est.optimizerHeap)}, activations ${fmt(est.activations)}, logits ${fmt(est.logits)}`;
  throw new WraplabError(
    `${s.label}: one training step at batch ${s.batchSize}x${s.seqLen} needs about ${fmt(est.total)} of the wasm heap (${parts})` +
      `${others > 0 ? ` beside ${fmt(others)} of other tensors` : ''}, more than its ${fmt(WASM_HEAP_LIMIT)}. ` +
      (fitting.length ? `These fit: ${fitting.join('; ')}.` : 'Nothing among optimizerState host, checkpointBlocks, freezeEmbeddings or a smaller batch fits; use tfjs-node or a shorter sequence.'),
  );
}
