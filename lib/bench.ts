/**
 * `wraplab bench`: times full training steps (forward, backward, clip, AdamW) of the library's own model
 * and trainer, and the same step in PyTorch (bench/torch_reference.py) when `/usr/bin/python3 -c "import
 * torch"` works. Both start from the same weights (handed over as safetensors) on the same batch, so the
 * first losses must agree (`loss_check`): the comparison is like for like.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend, tf } from './engine/backend';
import type { Batch } from './engine/data';
import { Transformer, type ModelConfig } from './engine/model';
import { Optimizer, type OptimizerConfigInput } from './engine/optim';
import { Rng } from './engine/rng';
import { projectRoot } from './engine/runs';
import { encodeSafetensors, type SafeTensor } from './engine/safetensors';
import { trainStep } from './engine/train';
import { activeBlas, describeNative } from './engine/native/provider';
import { wasmThreadCount } from './engine/wasmThreads';
import { PCFG_SCALES } from './experiments/pcfg/config';
import { TINYSTORIES_PRESETS } from './experiments/tinystories/experiments';
import * as pcfg from './tasks/pcfg';

export type BenchConfigName = 'bench' | 'pcfg-laptop' | 'tinystories-laptop';

export interface BenchSetup {
  model: Partial<ModelConfig> & Pick<ModelConfig, 'vocabSize' | 'contextLength'>;
  batchSize: number;
  optimizer: OptimizerConfigInput;
}

const ADAMW: OptimizerConfigInput = { kind: 'adamw', lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, clipNorm: 1 };
const GPT_BLOCK = { norm: 'layernorm', activation: 'gelu', positions: 'learned', causal: true, bias: true, dropout: 0, initStd: 0.02 } as const;

/** The issue's bench config, and the laptop presets' pretraining shapes (read from their modules). */
export function benchSetup(name: BenchConfigName): BenchSetup {
  if (name === 'bench') {
    return { model: { ...GPT_BLOCK, vocabSize: 32, contextLength: 64, dModel: 128, nLayers: 4, nHeads: 4, dMlp: 512 }, batchSize: 32, optimizer: ADAMW };
  }
  if (name === 'pcfg-laptop') {
    const stage = PCFG_SCALES.laptop.pretrain;
    const contextLength = pcfg.contextLength(pcfg.PCFG_PRESETS.laptop);
    return {
      model: { ...GPT_BLOCK, vocabSize: pcfg.VOCAB_SIZE, contextLength, ...stage.model },
      batchSize: stage.train.batchSize,
      optimizer: { ...ADAMW, ...stage.train.optimizer },
    };
  }
  if (name === 'tinystories-laptop') {
    const cfg = TINYSTORIES_PRESETS.laptop;
    // Pretraining rows are trimmed to the batch's longest story; the full context is the worst case timed here.
    return {
      model: { causal: true, bias: false, initStd: 0.02, ...cfg.model, vocabSize: cfg.corpus.vocabSize, contextLength: cfg.contextLength },
      batchSize: cfg.pretrain.batchSize,
      optimizer: { ...ADAMW, ...cfg.pretrain.optimizer },
    };
  }
  throw new Error(`unknown bench config ${name}; use bench, pcfg-laptop or tinystories-laptop`);
}

export interface BenchOptions {
  config?: BenchConfigName | string;
  /** Timed steps (default 10), after `warmup` untimed ones (default 3). */
  steps?: number;
  warmup?: number;
  /** Run the PyTorch reference: 'auto' (default) when python3 + torch import, or never. */
  torch?: 'auto' | 'never';
  /**
   * Thread counts to run PyTorch with, one process each with OPENBLAS_NUM_THREADS and OMP_NUM_THREADS bound
   * (default: wraplab's own count, so the ratio is like for like). `ratio` compares with the run of wraplab's
   * count when there is one, else the fastest.
   */
  torchThreads?: number[];
  /** Also profile one step per kernel (tf.profile) and return the table. */
  profile?: boolean;
  seed?: number;
  log?: (msg: string) => void;
}

export interface KernelRow {
  kernel: string;
  calls: number;
  ms: number;
}

/** One PyTorch run: its thread count and what its OpenBLAS reported (null: torch loaded no OpenBLAS). */
export interface TorchRunInfo {
  threads: number;
  ms_per_step: number;
  blas: { library: string; core: string; threads: number } | null;
}

export interface BenchResult {
  backend: string;
  /** The kernel provider under the wasm backend: "openblas (Cooperlake, 1 thread)" or why the stock kernels run. */
  kernels_provider: string;
  /** Threads of the step: XNNPACK's (wasm backend; 1 elsewhere) and the native BLAS's (0 without one). */
  threads: number;
  blas_threads: number;
  /** The OpenBLAS kernel family wraplab's BLAS uses (OPENBLAS_CORETYPE picks it), or null. */
  blas_core: string | null;
  config: { name: string; model: BenchSetup['model']; batchSize: number; optimizer: OptimizerConfigInput; activation: string };
  steps: number;
  ms_per_step: number;
  spread: { p10: number; p90: number };
  tokens_per_s: number;
  torch_ms_per_step: number | null;
  torch_threads: number | null;
  /** What the compared PyTorch run's OpenBLAS reported: its bound thread count and kernel family. */
  torch_blas_threads: number | null;
  torch_blas_core: string | null;
  torch_version: string | null;
  torch_runs: TorchRunInfo[];
  ratio: number | null;
  /** First losses of both from the same weights and batch (the second one checks the optimizer too). */
  loss_check: { wraplab: number[]; torch: number[]; max_abs_diff: number } | null;
  kernels?: KernelRow[];
}

/** Debian's python3 (where apt's python3-torch lives), not a pyenv one on PATH; WRAPLAB_TORCH_PYTHON overrides. */
const PYTHON = process.env.WRAPLAB_TORCH_PYTHON || '/usr/bin/python3';
// From the package root, so it is found from sources (tsx) and from dist/ alike.
const TORCH_SCRIPT = path.join(projectRoot(), 'bench', 'torch_reference.py');

export function torchAvailable(): boolean {
  if (!fs.existsSync(PYTHON)) return false;
  return spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
}

/** A fixed random batch: every position is a next-token prediction with weight 1. */
export function benchBatch(seed: number, batchSize: number, contextLength: number, vocabSize: number): Batch {
  const rng = Rng.derive(seed, 'bench', 'batch');
  const n = batchSize * contextLength;
  const tokens = new Int32Array(n);
  const targets = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    tokens[i] = rng.int(0, vocabSize);
    targets[i] = rng.int(0, vocabSize);
  }
  return { batchSize, contextLength, tokens, targets, weights: new Float32Array(n).fill(1) };
}

export function percentile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

/** Per-kernel totals of one profiled call, slowest first. */
export async function profileKernels(f: () => void): Promise<KernelRow[]> {
  const info = await tf.profile(() => {
    f();
  });
  const rows = new Map<string, KernelRow>();
  for (const k of info.kernels) {
    const key = `${k.name} ${JSON.stringify(k.inputShapes)}`;
    const row = rows.get(key) ?? { kernel: key, calls: 0, ms: 0 };
    row.calls++;
    row.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    rows.set(key, row);
  }
  return [...rows.values()].sort((a, b) => b.ms - a.ms);
}

function decayNames(model: Transformer): string[] {
  return model.specs.filter((s) => s.decay).map((s) => s.name);
}

/** Writes the initial weights, the batch and the hyper-parameters for bench/torch_reference.py. */
function writeTorchInput(file: string, model: Transformer, batch: Batch, opt: Required<Omit<OptimizerConfigInput, 'kind' | 'momentum'>>): void {
  const tensors: Record<string, SafeTensor> = {};
  const weights = model.getWeights();
  for (const spec of model.specs) tensors[spec.name] = { dtype: 'F32', shape: spec.shape, data: weights[spec.name] };
  const shape = [batch.batchSize, batch.contextLength];
  tensors['batch.tokens'] = { dtype: 'I32', shape, data: batch.tokens };
  tensors['batch.targets'] = { dtype: 'I32', shape, data: batch.targets };
  tensors['batch.weights'] = { dtype: 'F32', shape, data: batch.weights };
  const c = model.config;
  const meta: Record<string, string> = {
    nLayers: String(c.nLayers),
    nHeads: String(c.nHeads),
    dHead: String(c.dHead),
    decay: JSON.stringify(decayNames(model)),
    lr: String(opt.lr),
    beta1: String(opt.beta1),
    beta2: String(opt.beta2),
    eps: String(opt.eps),
    weightDecay: String(opt.weightDecay),
    clipNorm: String(opt.clipNorm),
  };
  fs.writeFileSync(file, encodeSafetensors(tensors, meta));
}

interface TorchRun extends TorchRunInfo {
  version: string;
  losses: number[];
}

/** One PyTorch process with `threads` bound where Debian's OpenBLAS reads it (torch.set_num_threads does not). */
function runTorch(file: string, steps: number, warmup: number, threads: number, log: (m: string) => void): TorchRun {
  const n = String(threads);
  const res = spawnSync(PYTHON, [TORCH_SCRIPT, file, '--steps', String(steps), '--warmup', String(warmup), '--threads', n], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, OPENBLAS_NUM_THREADS: n, OMP_NUM_THREADS: n, MKL_NUM_THREADS: n },
  });
  if (res.status !== 0) throw new Error(`bench/torch_reference.py failed (exit ${res.status}): ${res.stderr.slice(-2000)}`);
  const lines = res.stdout.trim().split('\n');
  for (const line of lines.slice(0, -1)) log(line);
  type Out = { torch_version: string; best: { threads: number; ms_per_step: number; losses: number[]; blas: TorchRun['blas'] } };
  const { torch_version: version, best } = JSON.parse(lines[lines.length - 1]) as Out;
  if (best.blas) log(`torch threads=${threads}: OpenBLAS ${best.blas.core}, ${best.blas.threads} thread(s)`);
  return { version, threads: best.threads, ms_per_step: best.ms_per_step, losses: best.losses, blas: best.blas };
}

export async function runBench(opts: BenchOptions = {}): Promise<BenchResult> {
  const name = (opts.config ?? 'bench') as BenchConfigName;
  const steps = opts.steps ?? 10;
  const warmup = Math.max(2, opts.warmup ?? 3); // >= 2: the first two losses are the equivalence check
  const seed = opts.seed ?? 0;
  const log = opts.log ?? (() => {});
  const setup = benchSetup(name);
  const backend = await initBackend();

  const model = new Transformer(setup.model, seed);
  const c = model.config;
  const batch = benchBatch(seed, setup.batchSize, c.contextLength, c.vocabSize);
  const optimizer = new Optimizer(setup.optimizer, model.parameters(), decayNames(model));
  const oc = optimizer.config;
  const torchFile = path.join(os.tmpdir(), `wraplab-bench-${process.pid}.safetensors`);
  const wantTorch = opts.torch !== 'never' && c.norm === 'layernorm' && c.activation === 'gelu' && c.positions === 'learned' && c.bias && torchAvailable();
  if (wantTorch) writeTorchInput(torchFile, model, batch, oc);

  const blas = backend === 'wasm' ? activeBlas() : null;
  const provider = backend === 'wasm' ? describeNative() : 'none (not the wasm backend)';
  const ownThreads = Math.max(backend === 'wasm' ? wasmThreadCount() : 1, blas?.threads ?? 0);
  log(`bench ${name}: backend ${backend}, kernels ${provider}, ${wasmThreadCount()} wasm thread(s), ${model.numParams()} parameters, batch ${setup.batchSize}x${c.contextLength}`);
  const losses: number[] = [];
  const times: number[] = [];
  try {
    for (let i = 0; i < warmup + steps; i++) {
      const t0 = performance.now();
      const { loss } = trainStep(model, optimizer, batch, oc.lr);
      const ms = performance.now() - t0;
      losses.push(loss);
      if (i >= warmup) times.push(ms);
    }
    const kernels = opts.profile ? await profileKernels(() => trainStep(model, optimizer, batch, oc.lr)) : undefined;
    const ms = percentile(times, 0.5);
    log(`wraplab: ${ms.toFixed(1)} ms/step (median of ${steps}), loss ${losses[0].toFixed(5)} -> ${losses[losses.length - 1].toFixed(5)}`);

    const torchRuns = wantTorch ? (opts.torchThreads ?? [ownThreads]).map((n) => runTorch(torchFile, steps, warmup, n, log)) : [];
    const torch =
      torchRuns.find((r) => r.threads === ownThreads) ?? (torchRuns.length ? torchRuns.reduce((a, b) => (b.ms_per_step < a.ms_per_step ? b : a)) : null);
    const check = torch ? [0, 1].map((i) => Math.abs(losses[i] - torch!.losses[i])) : null;
    return {
      backend,
      kernels_provider: provider,
      threads: backend === 'wasm' ? wasmThreadCount() : 1,
      blas_threads: blas?.threads ?? 0,
      blas_core: blas?.core ?? null,
      config: { name, model: setup.model, batchSize: setup.batchSize, optimizer: setup.optimizer, activation: c.activation },
      steps,
      ms_per_step: ms,
      spread: { p10: percentile(times, 0.1), p90: percentile(times, 0.9) },
      tokens_per_s: (setup.batchSize * c.contextLength * 1000) / ms,
      torch_ms_per_step: torch ? torch.ms_per_step : null,
      torch_threads: torch ? torch.threads : null,
      torch_blas_threads: torch?.blas?.threads ?? null,
      torch_blas_core: torch?.blas?.core ?? null,
      torch_version: torch ? torch.version : null,
      torch_runs: torchRuns.map(({ threads, ms_per_step, blas }) => ({ threads, ms_per_step, blas })),
      ratio: torch ? ms / torch.ms_per_step : null,
      loss_check: torch && check ? { wraplab: losses.slice(0, 2), torch: torch.losses.slice(0, 2), max_abs_diff: Math.max(...check) } : null,
      ...(kernels ? { kernels } : {}),
    };
  } finally {
    optimizer.dispose();
    model.dispose();
    fs.rmSync(torchFile, { force: true });
  }
}
