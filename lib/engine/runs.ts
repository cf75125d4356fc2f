/**
 * The run cache. Every run lives in `data/runs/<hash of its resolved config>/`:
 *   config.json        the resolved config (what the hash names)
 *   metrics.jsonl      one JSON object per logged step
 *   checkpoint/        the latest training checkpoint (model + optimizer + state.json), for resuming
 *   model.safetensors  the final model, once training finished
 *   results.json       the run's results; its presence marks the run finished
 * A finished run is reused as is; an interrupted one resumes from its last checkpoint. Every file is written
 * atomically (temp file + rename), and state.json is written last, so a kill at any moment leaves a usable run.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { canonicalJson, readJson, writeFileAtomic, writeJsonAtomic } from './fsutil';
import { loadWeightsInto, saveModel } from './checkpoint';
import type { Transformer } from './model';
import type { MetricRow } from './metrics';
import type { Optimizer } from './optim';
import { decodeSafetensors, encodeSafetensors, SafeTensor } from './safetensors';

/** The project root: the nearest folder above this file whose package.json is wraplab's. */
export function projectRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      try {
        if (readJson<{ name?: string }>(pkg).name === 'wraplab') return dir;
      } catch {
        // unreadable package.json: keep walking up
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
}

/** Where generated data lives: $WRAPLAB_DATA, else <project>/data. */
export function dataDir(): string {
  return process.env.WRAPLAB_DATA ? path.resolve(process.env.WRAPLAB_DATA) : path.join(projectRoot(), 'data');
}

export function hashConfig(config: unknown): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex').slice(0, 16);
}

export type { MetricRow } from './metrics';

interface CheckpointState {
  step: number;
  model: string;
  optimizer: string;
  optimizerStep: number;
}

export class Run {
  readonly dir: string;
  readonly hash: string;
  readonly config: unknown;

  private constructor(dir: string, hash: string, config: unknown) {
    this.dir = dir;
    this.hash = hash;
    this.config = config;
  }

  /** Opens (creating if needed) the run for a config under `root` (default data/runs), or at an explicit dir. */
  static open(config: unknown, opts: { root?: string; dir?: string } = {}): Run {
    const hash = hashConfig(config);
    const dir = opts.dir ?? path.join(opts.root ?? path.join(dataDir(), 'runs'), hash);
    fs.mkdirSync(dir, { recursive: true });
    const configFile = path.join(dir, 'config.json');
    if (fs.existsSync(configFile)) {
      let existing: unknown;
      try {
        existing = readJson(configFile);
      } catch {
        existing = undefined;
      }
      if (canonicalJson(existing) !== canonicalJson(config)) {
        if (opts.dir) throw new Error(`${dir} holds a different run (config.json differs); choose another --out directory or delete it`);
        writeJsonAtomic(configFile, config); // a hash collision is practically impossible: treat as a damaged file
      }
    } else {
      writeJsonAtomic(configFile, config);
    }
    return new Run(dir, hash, config);
  }

  /** Opens an existing run directory (e.g. one a notebook got from run). */
  static at(dir: string): Run {
    const configFile = path.join(dir, 'config.json');
    if (!fs.existsSync(configFile)) throw new Error(`${dir} is not a run directory (no config.json)`);
    return Run.open(readJson(configFile), { dir });
  }

  file(name: string): string {
    return path.join(this.dir, name);
  }

  get resultsFile(): string {
    return this.file('results.json');
  }

  get complete(): boolean {
    return fs.existsSync(this.resultsFile);
  }

  readResults<T>(): T {
    return readJson<T>(this.resultsFile);
  }

  writeResults(results: unknown): void {
    writeJsonAtomic(this.resultsFile, results);
  }

  appendMetric(row: MetricRow): void {
    fs.appendFileSync(this.file('metrics.jsonl'), JSON.stringify(row) + '\n');
  }

  metrics(): MetricRow[] {
    const f = this.file('metrics.jsonl');
    if (!fs.existsSync(f)) return [];
    const rows: MetricRow[] = [];
    for (const line of fs.readFileSync(f, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        rows.push(JSON.parse(line) as MetricRow);
      } catch {
        // a line cut by a kill mid-write: everything after the last checkpoint is dropped on resume anyway
      }
    }
    return rows;
  }

  /** Keeps only metric rows up to `step` (after resuming from a checkpoint at `step`). */
  truncateMetrics(step: number): void {
    const kept = this.metrics().filter((r) => r.step <= step);
    writeFileAtomic(this.file('metrics.jsonl'), kept.map((r) => JSON.stringify(r) + '\n').join(''));
  }

  /** Saves model + optimizer for resuming. Files are step-named; state.json (written last) points at them. */
  saveCheckpoint(model: Transformer, optimizer: Optimizer, step: number): void {
    const dir = this.file('checkpoint');
    const tag = String(step).padStart(8, '0');
    const modelName = `model-${tag}.safetensors`;
    const optimName = `optimizer-${tag}.safetensors`;
    saveModel(model, path.join(dir, modelName), { step: String(step) });
    const state = optimizer.getState();
    const tensors: Record<string, SafeTensor> = {};
    const params = model.parameters();
    for (const [name, data] of Object.entries(state.tensors)) {
      const pname = name.slice(2);
      tensors[name] = { dtype: 'F32', shape: params.get(pname)?.shape ?? [data.length], data };
    }
    writeFileAtomic(path.join(dir, optimName), encodeSafetensors(tensors, { step: String(state.step) }));
    const previous = this.checkpointState();
    writeJsonAtomic(path.join(dir, 'state.json'), { step, model: modelName, optimizer: optimName, optimizerStep: state.step } satisfies CheckpointState);
    if (previous && previous.model !== modelName) {
      fs.rmSync(path.join(dir, previous.model), { force: true });
      fs.rmSync(path.join(dir, previous.optimizer), { force: true });
    }
  }

  private checkpointState(): CheckpointState | null {
    const f = path.join(this.file('checkpoint'), 'state.json');
    if (!fs.existsSync(f)) return null;
    try {
      return readJson<CheckpointState>(f);
    } catch {
      return null;
    }
  }

  /** The step of the latest checkpoint, or null. */
  checkpointStep(): number | null {
    return this.checkpointState()?.step ?? null;
  }

  /** Restores model + optimizer from the latest checkpoint; returns its step. */
  loadCheckpoint(model: Transformer, optimizer: Optimizer): number {
    const state = this.checkpointState();
    if (!state) throw new Error(`${this.dir} has no checkpoint`);
    const dir = this.file('checkpoint');
    loadWeightsInto(model, path.join(dir, state.model));
    const optimFile = path.join(dir, state.optimizer);
    const decoded = decodeSafetensors(fs.readFileSync(optimFile), optimFile);
    const tensors: Record<string, Float32Array> = {};
    for (const [n, t] of Object.entries(decoded.tensors)) tensors[n] = t.data as Float32Array;
    optimizer.setState({ step: state.optimizerStep, tensors });
    return state.step;
  }

  /**
   * Runs `fn` holding this run against other processes (parallel grid workers, Slurm tasks) that need the
   * same run, e.g. a pretraining stage shared by several fine-tuning runs: they wait until it is free, then
   * find it finished instead of training it twice into the same files. Re-entrant within a process. The
   * holder touches the lock every LOCK_HEARTBEAT_MS; a lock whose process is gone (same host) or whose
   * heartbeat stopped (any host) is taken over.
   */
  async withLock<T>(fn: () => Promise<T>): Promise<T> {
    const file = this.file('lock');
    if (heldLocks.has(file)) return fn();
    let announced = false;
    for (;;) {
      try {
        fs.writeFileSync(file, JSON.stringify({ pid: process.pid, host: os.hostname() }), { flag: 'wx' });
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      if (lockIsStale(file)) {
        fs.rmSync(file, { force: true });
        continue;
      }
      if (!announced && process.env.WRAPLAB_QUIET !== '1') console.error(`wraplab: waiting for ${this.dir} (another process is computing it)`);
      announced = true;
      await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
    }
    heldLocks.add(file);
    const heartbeat = setInterval(touchHeldLocks, LOCK_HEARTBEAT_MS);
    heartbeat.unref();
    try {
      return await fn();
    } finally {
      clearInterval(heartbeat);
      heldLocks.delete(file);
      fs.rmSync(file, { force: true });
    }
  }

  /** Deletes the resume checkpoint (once the final model and results are written). */
  clearCheckpoint(): void {
    fs.rmSync(this.file('checkpoint'), { recursive: true, force: true });
  }
}

const LOCK_POLL_MS = 500;
const LOCK_HEARTBEAT_MS = 20_000;
const heldLocks = new Set<string>();
let lastTouch = 0;

function touchHeldLocks(): void {
  const now = new Date();
  lastTouch = now.getTime();
  for (const file of heldLocks) {
    try {
      fs.utimesSync(file, now, now);
    } catch {
      // removed under us: nothing to keep alive
    }
  }
}

/**
 * Keeps this process's run locks fresh from inside long synchronous work (the trainer calls it every step),
 * where the interval timer cannot fire. Cheap: touches at most once per heartbeat period.
 */
export function heartbeatLocks(): void {
  if (heldLocks.size > 0 && Date.now() - lastTouch >= LOCK_HEARTBEAT_MS) touchHeldLocks();
}

/**
 * On this host the holder's pid decides (a busy holder may not touch its lock for minutes: training steps are
 * synchronous, so timers wait). On another host (a shared file system) only the heartbeat can tell.
 */
function lockIsStale(file: string): boolean {
  try {
    const age = Date.now() - fs.statSync(file).mtimeMs;
    const owner = JSON.parse(fs.readFileSync(file, 'utf8')) as { pid: number; host: string };
    if (owner.host !== os.hostname()) return age > 6 * LOCK_HEARTBEAT_MS;
    try {
      process.kill(owner.pid, 0);
      return false;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code !== 'EPERM';
    }
  } catch {
    return !fs.existsSync(file) ? false : Date.now() - fs.statSync(file).mtimeMs > 5_000; // half-written by a killed holder
  }
}

/**
 * Runs `compute` once per config: later calls with the same config return the stored results.
 * `compute` gets the Run so it can checkpoint, log metrics and resume.
 */
export async function cachedRun<T>(config: unknown, compute: (run: Run) => Promise<T>, opts: { root?: string; dir?: string; force?: boolean } = {}): Promise<{ run: Run; results: T; cached: boolean }> {
  const run = Run.open(config, opts);
  if (run.complete && !opts.force) return { run, results: run.readResults<T>(), cached: true };
  const results = await compute(run);
  run.writeResults(results);
  return { run, results, cached: false };
}
