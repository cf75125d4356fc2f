/**
 * Scale benchmark for real checkpoint shapes (GPT-2 small, Pythia-70m, TinyStories-33M, SmolLM-135M): a model of
 * exactly each shape with random weights is written in its Hub dtype, then a fresh process loads it, runs forward
 * passes and AdamW steps. Each phase runs in its own process so peak RSS belongs to that phase alone.
 *
 *   npx wraplab models --bench [--shapes gpt2,SmolLM-135M] [--batch 4] [--steps 20] [--memory plain,lean]
 *
 * Memory modes of the training phase (memory.ts): `plain` keeps AdamW's moments on the wasm heap and every activation
 * (the engine before the memory work, without the fit check, so it shows what fails); `host` keeps the moments in host
 * memory with in-place updates; `checkpoint` recomputes activations per block; `lean` does both. The training phase repeats one fixed batch,
 * so the loss must fall.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend, tf } from '../engine/backend';
import { Transformer } from '../engine/model';
import { Optimizer } from '../engine/optim';
import { makeBatch } from '../engine/data';
import { trainStep } from '../engine/train';
import { peakRssMB, wasmHeapBytes } from '../engine/memory';
import { Rng } from '../engine/rng';
import { loadCheckpointDir, savePretrained, configFromHf } from './checkpoint';
import { REAL_SHAPES } from './shapes';

export interface PretrainedBenchRow {
  shape: string;
  family: string;
  params: number;
  dtype: string;
  fileMB: number;
  loadSeconds: number;
  /** Peak resident memory of the process before loading (Node, TensorFlow.js, the wasm module). */
  baseRssMB: number;
  /** Peak resident memory of the loading process once the model is in memory. */
  loadPeakRssMB: number;
  /** float32 bytes of the weights: what loading must not exceed by much (no second copy). */
  weightsMB: number;
  forwardTokensPerSecond: number;
  seqLen: number;
  trainBatch: number;
  /** One entry per memory mode. */
  train: PretrainedTrainRow[];
}

/** plain: moments on the heap, every activation kept; host: moments in host memory (in-place updates);
 * checkpoint: activation checkpointing per block; lean: both. */
export type BenchMemoryMode = 'plain' | 'host' | 'checkpoint' | 'lean';
export const BENCH_MEMORY_MODES: readonly BenchMemoryMode[] = ['plain', 'host', 'checkpoint', 'lean'];

export interface PretrainedTrainRow {
  memory: BenchMemoryMode;
  steps: number;
  /** Over the steps after the first (kernel set-up and table building fall in the first); null when a step failed. */
  secondsPerStep: number | null;
  tokensPerSecond: number | null;
  peakRssMB: number | null;
  /** The wasm heap's size at the end (it only grows: the peak). */
  peakHeapMB: number | null;
  firstLoss: number | null;
  lastLoss: number | null;
  error?: string;
}

export interface PretrainedBenchOptions {
  shapes?: string[];
  seqLen?: number;
  trainBatch?: number;
  trainSteps?: number;
  memory?: BenchMemoryMode[];
  log?: (s: string) => void;
}

const MB = 1024 * 1024;

function childRun(args: string[]): Record<string, unknown> {
  const r = spawnSync(process.execPath, ['--max-old-space-size=8192', __filename, ...args], { encoding: 'utf8', maxBuffer: 64 * MB, env: process.env });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last);
  } catch {
    return { error: `exit ${r.status ?? r.signal}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}` };
  }
}

export async function benchPretrained(opts: PretrainedBenchOptions = {}): Promise<PretrainedBenchRow[]> {
  const shapes = opts.shapes ?? Object.keys(REAL_SHAPES);
  for (const s of shapes) if (!REAL_SHAPES[s]) throw new Error(`unknown shape ${s}; known: ${Object.keys(REAL_SHAPES).join(', ')}`);
  const seqLen = opts.seqLen ?? 128;
  const trainBatch = opts.trainBatch ?? 2;
  const trainSteps = opts.trainSteps ?? 3;
  const modes = opts.memory ?? ['plain', 'lean'];
  const log = opts.log ?? (() => {});
  const rows: PretrainedBenchRow[] = [];
  for (const shape of shapes) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `wraplab-bench-${shape}-`));
    try {
      log(`${shape}: writing a random model of the real shape in ${REAL_SHAPES[shape].dtype}`);
      const written = childRun(['write', shape, dir]);
      if (written.error) throw new Error(`${shape}: writing failed: ${written.error}`);
      log(`${shape}: loading, forward at 1x${seqLen}`);
      const loaded = childRun(['load', shape, path.join(dir, 'model'), String(seqLen)]);
      if (loaded.error) throw new Error(`${shape}: loading failed: ${loaded.error}`);
      const train: PretrainedTrainRow[] = [];
      for (const memory of modes) {
        log(`${shape}: AdamW at ${trainBatch}x${seqLen}, ${trainSteps} steps on one batch, memory ${memory}`);
        const t = childRun(['train', shape, path.join(dir, 'model'), String(seqLen), String(trainBatch), String(trainSteps), memory]);
        const num = (k: string) => (t.error || t[k] === null || t[k] === undefined ? null : Number(t[k]));
        train.push({
          memory,
          steps: trainSteps,
          secondsPerStep: num('secondsPerStep'),
          tokensPerSecond: num('tokensPerSecond'),
          peakRssMB: num('peakRssMB'),
          peakHeapMB: num('peakHeapMB'),
          firstLoss: num('firstLoss'),
          lastLoss: num('lastLoss'),
          ...(t.error ? { error: String(t.error) } : {}),
        });
        log(JSON.stringify(train[train.length - 1]));
      }
      const row: PretrainedBenchRow = {
        shape,
        family: String(written.family),
        params: Number(written.params),
        dtype: REAL_SHAPES[shape].dtype,
        fileMB: Number(written.fileMB),
        loadSeconds: Number(loaded.loadSeconds),
        baseRssMB: Number(loaded.baseRssMB),
        loadPeakRssMB: Number(loaded.peakRssMB),
        weightsMB: (Number(written.params) * 4) / MB,
        forwardTokensPerSecond: Number(loaded.forwardTokensPerSecond),
        seqLen,
        trainBatch,
        train,
      };
      log(JSON.stringify(row));
      rows.push(row);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
}

function tokens(rng: Rng, rows: number, len: number, vocab: number): number[][] {
  return Array.from({ length: rows }, () => Array.from({ length: len }, () => rng.int(0, vocab)));
}

async function child(argv: string[]): Promise<Record<string, unknown>> {
  await initBackend();
  const [mode, shapeName, dir] = argv;
  const shape = REAL_SHAPES[shapeName];
  if (mode === 'write') {
    const { config } = configFromHf(shape.config);
    const model = new Transformer(config, 0);
    const out = savePretrained(model, path.join(dir, 'model'), { dtype: shape.dtype });
    const bytes = out.files.reduce((n, f) => n + fs.statSync(path.join(out.dir, f)).size, 0);
    return { family: out.family, params: model.numParams(), fileMB: bytes / MB };
  }
  const seqLen = Number(argv[3]);
  const baseRssMB = peakRssMB();
  const t0 = performance.now();
  const { model } = loadCheckpointDir(dir);
  const loadSeconds = (performance.now() - t0) / 1000;
  const loadPeak = peakRssMB();
  const rng = new Rng(1);
  const V = model.config.vocabSize;
  if (mode === 'load') {
    const input = tokens(rng, 1, seqLen, V);
    // Read the logits outside tidy: tidy walks a returned typed array element by element (seconds at 50k vocab).
    const once = () => {
      const logits = tf.tidy(() => model.forward(input).logits);
      logits.dataSync();
      logits.dispose();
    };
    once(); // warm-up: kernels and cached tables
    const reps = 3;
    const t1 = performance.now();
    for (let i = 0; i < reps; i++) once();
    const forwardTokensPerSecond = (reps * seqLen) / ((performance.now() - t1) / 1000);
    return { loadSeconds, baseRssMB, peakRssMB: loadPeak, forwardTokensPerSecond };
  }
  const batchSize = Number(argv[4]);
  const steps = Number(argv[5]);
  const memoryMode = argv[6] as BenchMemoryMode;
  const host = memoryMode === 'host' || memoryMode === 'lean';
  const checkpointBlocks = memoryMode === 'checkpoint' || memoryMode === 'lean';
  const batch = makeBatch(batchSize, seqLen);
  for (let i = 0; i < batch.tokens.length; i++) {
    batch.tokens[i] = rng.int(0, V);
    batch.targets[i] = rng.int(0, V);
    batch.weights[i] = 1;
  }
  const decay = model.specs.filter((s) => s.decay).map((s) => s.name);
  const optimizer = new Optimizer({ kind: 'adamw', lr: 5e-4 }, model.parameters(), decay, { state: host ? 'host' : 'heap' });
  const losses: number[] = [];
  const heap = () => (wasmHeapBytes() ?? 0) / MB;
  try {
    const forward = { checkpointBlocks };
    losses.push(trainStep(model, optimizer, batch, 5e-4, { forward }).loss); // the first step also sets kernels up
    const t1 = performance.now();
    for (let i = 1; i < steps; i++) losses.push(trainStep(model, optimizer, batch, 5e-4, { forward }).loss);
    const secondsPerStep = steps > 1 ? (performance.now() - t1) / 1000 / (steps - 1) : null;
    return {
      secondsPerStep,
      tokensPerSecond: secondsPerStep ? (batchSize * seqLen) / secondsPerStep : null,
      peakRssMB: peakRssMB(),
      peakHeapMB: heap(),
      firstLoss: losses[0],
      lastLoss: losses[losses.length - 1],
    };
  } catch (e) {
    return { error: `${(e as Error).message.split('\n')[0]} (after ${losses.length} steps; heap ${heap().toFixed(0)} MB)` };
  }
}

if (require.main === module) {
  child(process.argv.slice(2)).then(
    (r) => console.log(JSON.stringify(r)),
    (e) => {
      console.log(JSON.stringify({ error: (e as Error).message.split('\n')[0] }));
      process.exitCode = 1;
    },
  );
}
