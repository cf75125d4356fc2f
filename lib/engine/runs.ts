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
import { EnvError, RunFileError, WraplabError } from './errors';
import { canonicalJson, ensureDir, readJson, removeStaleTempFiles, writeFileAtomic, writeJsonAtomic } from './fsutil';
import { CheckpointError, readModelFile, saveModel } from './checkpoint';
import type { Transformer } from './model';
import type { MetricRow } from './metrics';
import type { Optimizer } from './optim';
import { decodeSafetensors, encodeSafetensors, SafeTensor, SafetensorsError } from './safetensors';

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

/** Creates `dir` under the data folder, naming WRAPLAB_DATA (and the fix) when that folder cannot hold it. */
function ensureDataSubdir(dir: string): void {
  try {
    ensureDir(dir);
  } catch (e) {
    const why = (e as Error).message;
    if (process.env.WRAPLAB_DATA && isInside(dir, dataDir())) {
      throw new EnvError(`WRAPLAB_DATA=${process.env.WRAPLAB_DATA} cannot hold wraplab's runs (${why}); point it at a writable folder, or unset it to use ${path.join(projectRoot(), 'data')}`);
    }
    throw new WraplabError(`cannot create the run directory ${dir} (${why}); choose a writable place (--out, or WRAPLAB_DATA for the whole cache)`);
  }
}

const isInside = (child: string, parent: string) => {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
};

/**
 * A run directory's JSON file, read for what it must hold: one RunFileError naming the file, what is wrong with it
 * (empty, not JSON, the wrong shape) and the fix, instead of a bare "Unexpected end of JSON input".
 */
export function readRunJson<T>(file: string, check: (v: unknown) => string | null = isPlainObject, fix = 'delete it, or rerun with --force to recompute'): T {
  const problem = runJsonProblem(file, check);
  if (problem) throw new RunFileError(`${file} ${problem}; ${fix}`);
  return readJson<T>(file);
}

/** Why `file` is not a usable run file ('is missing', 'is empty', …), or null. */
export function runJsonProblem(file: string, check: (v: unknown) => string | null = isPlainObject): string | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'is missing' : `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
  }
  if (text.trim() === '') return 'is empty (a write was cut short?)';
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return `is not valid JSON (${(e as Error).message})`;
  }
  const wrong = check(value);
  return wrong ? `is damaged: ${wrong}` : null;
}

export function isPlainObject(v: unknown): string | null {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? null : `it holds ${Array.isArray(v) ? 'an array' : JSON.stringify(v)}, not an object`;
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
    ensureDataSubdir(dir);
    removeStaleTempFiles(dir); // left by a process killed mid-write
    removeStaleTempFiles(path.join(dir, 'checkpoint'));
    const configFile = path.join(dir, 'config.json');
    if (fs.existsSync(configFile)) {
      let existing: unknown;
      try {
        existing = readJson(configFile);
      } catch {
        existing = undefined;
      }
      if (canonicalJson(existing) !== canonicalJson(config)) {
        if (opts.dir) throw new WraplabError(`${dir} holds a different run (config.json differs); choose another --out directory or delete it`);
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
    if (!fs.existsSync(configFile)) throw new RunFileError(`${dir} is not a run directory (no config.json)`);
    return Run.open(readRunJson(configFile, isPlainObject, 'delete the run directory and rerun it'), { dir });
  }

  file(name: string): string {
    return path.join(this.dir, name);
  }

  get resultsFile(): string {
    return this.file('results.json');
  }

  /** Finished: results.json is there and readable. A damaged one (empty, cut short, not an object) is not finished. */
  get complete(): boolean {
    return runJsonProblem(this.resultsFile) === null;
  }

  /** Why results.json is unusable although it exists (e.g. 'is empty …'), or null (absent or fine). */
  get damagedResults(): string | null {
    return fs.existsSync(this.resultsFile) ? runJsonProblem(this.resultsFile) : null;
  }

  readResults<T>(): T {
    return readRunJson<T>(this.resultsFile);
  }

  /**
   * Deletes what a computation produced (results, final model, metrics, checkpoint), keeping config.json and the
   * lock: what --force does before recomputing, so nothing stale (a truncated model, a resumable checkpoint) is reused.
   */
  clearOutputs(): void {
    for (const name of fs.readdirSync(this.dir)) {
      if (name === 'config.json' || name === 'lock') continue;
      fs.rmSync(path.join(this.dir, name), { recursive: true, force: true });
    }
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
  /**
   * Restores model + optimizer from the latest checkpoint; returns its step. Both files are read and checked before
   * either is applied, so a damaged checkpoint (CheckpointError) leaves the model and optimizer as they were.
   */
  loadCheckpoint(model: Transformer, optimizer: Optimizer): number {
    const state = this.checkpointState();
    if (!state) throw new CheckpointError(`${this.dir} has no checkpoint`);
    const dir = this.file('checkpoint');
    const modelFile = readModelFile(path.join(dir, state.model));
    if (canonicalJson(modelFile.config) !== canonicalJson(model.config)) throw new CheckpointError(`${path.join(dir, state.model)} holds a model of another config`);
    const optimFile = path.join(dir, state.optimizer);
    let decoded;
    try {
      if (!fs.existsSync(optimFile)) throw new SafetensorsError(`${optimFile} does not exist`);
      decoded = decodeSafetensors(fs.readFileSync(optimFile), optimFile);
    } catch (e) {
      if (e instanceof SafetensorsError) throw new CheckpointError(e.message);
      throw e;
    }
    const tensors: Record<string, Float32Array> = {};
    for (const [n, t] of Object.entries(decoded.tensors)) tensors[n] = t.data as Float32Array;
    const before = optimizer.getState();
    try {
      optimizer.setState({ step: state.optimizerStep, tensors });
      model.setWeights(modelFile.weights, { strict: true });
    } catch (e) {
      optimizer.setState(before);
      throw new CheckpointError(`${dir}: ${(e as Error).message}`);
    }
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
        fs.writeFileSync(file, JSON.stringify(lockOwner()), { flag: 'wx' });
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

interface LockOwner {
  pid: number;
  host: string;
  /** The kernel's boot and the process's start time (Linux /proc): with them a reused pid is told apart. */
  boot?: string;
  started?: string;
}

/** Linux: the boot id and a process's start time in clock ticks since boot (/proc/<pid>/stat field 22). */
function processIdentity(pid: number): { boot?: string; started?: string } {
  try {
    const boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // the command name may hold spaces
    return { boot, started: fields[19] };
  } catch {
    return {};
  }
}

function lockOwner(): LockOwner {
  return { pid: process.pid, host: os.hostname(), ...processIdentity(process.pid) };
}

/**
 * On this host the holder's identity decides (a busy holder may not touch its lock for minutes: training steps are
 * synchronous, so timers wait): the lock is stale when its pid is gone, is this very process (which would hold it
 * in heldLocks), or is alive but another process — a reused pid after a restart, told by the boot id and the
 * start time. On another host (a shared file system) only the heartbeat can tell.
 */
export function lockIsStale(file: string): boolean {
  try {
    const age = Date.now() - fs.statSync(file).mtimeMs;
    const owner = JSON.parse(fs.readFileSync(file, 'utf8')) as LockOwner;
    if (owner.host !== os.hostname()) return age > 6 * LOCK_HEARTBEAT_MS;
    if (owner.pid === process.pid) return !heldLocks.has(file);
    try {
      process.kill(owner.pid, 0);
    } catch (e) {
      return (e as NodeJS.ErrnoException).code !== 'EPERM';
    }
    const now = processIdentity(owner.pid);
    if (owner.boot && now.boot && owner.boot !== now.boot) return true;
    if (owner.started && now.started && owner.started !== now.started) return true;
    // A lock without an identity (written by an older wraplab, or off Linux): the heartbeat must be recent.
    if (!owner.started && age > 6 * LOCK_HEARTBEAT_MS) return true;
    return false;
  } catch {
    return !fs.existsSync(file) ? false : Date.now() - fs.statSync(file).mtimeMs > 5_000; // half-written by a killed holder
  }
}

/**
 * Runs `compute` once per config: later calls with the same config return the stored results.
 * `compute` gets the Run so it can checkpoint, log metrics and resume.
 */
export async function cachedRun<T>(
  config: unknown,
  compute: (run: Run) => Promise<T>,
  opts: { root?: string; dir?: string; force?: boolean; check?: (v: unknown) => string | null } = {},
): Promise<{ run: Run; results: T; cached: boolean }> {
  const fresh = !fs.existsSync(opts.dir ?? path.join(opts.root ?? path.join(dataDir(), 'runs'), hashConfig(config)));
  const run = Run.open(config, opts);
  const check = opts.check ?? isPlainObject;
  if (!opts.force && fs.existsSync(run.resultsFile)) {
    const problem = runJsonProblem(run.resultsFile, check);
    if (!problem) return { run, results: run.readResults<T>(), cached: true };
    if (process.env.WRAPLAB_QUIET !== '1') console.error(`wraplab: ${run.resultsFile} ${problem}; recomputing the run`);
  }
  let results: T;
  let finishedMeanwhile = false;
  try {
    results = await run.withLock(async () => {
      if (!opts.force && runJsonProblem(run.resultsFile, check) === null) {
        finishedMeanwhile = true; // another process computed it while we waited for the lock
        return run.readResults<T>();
      }
      if (opts.force) run.clearOutputs(); // recompute for real: no stale model, checkpoint or results is reused
      else fs.rmSync(run.resultsFile, { force: true }); // a damaged one
      return compute(run);
    });
  } catch (e) {
    // Nothing half-written: a run this call created and that failed before its first checkpoint leaves no directory.
    if (fresh && !fs.existsSync(run.file('checkpoint'))) fs.rmSync(run.dir, { recursive: true, force: true });
    throw e;
  }
  if (finishedMeanwhile) return { run, results, cached: true };
  run.writeResults(results);
  return { run, results, cached: false };
}
