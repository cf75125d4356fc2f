/**
 * Multi-threaded wasm (XNNPACK on a pthread pool) under Node.
 *
 * tfjs-backend-wasm 4.22 ships a threaded-SIMD build but never picks it in Node, for three reasons:
 * 1. The `WASM_HAS_MULTITHREAD_SUPPORT` flag returns false whenever IS_NODE (tfjs issue 3830).
 * 2. Its loader hands emscripten the pthread worker script and the module factory as `Blob`s turned into
 *    `blob:` URLs; Node's `worker_threads.Worker` cannot load a `blob:` URL, and the worker-side loader
 *    `eval`s the factory source, which refers to the bundle's closure variables (`require$$0..4`,
 *    `commonjsGlobal`) that do not exist in the worker.
 * 3. The C++ side caps the pool at `emscripten_num_logical_cores() / 2` (it assumes two hyper-threads per
 *    core), and in Node that call is `os.cpus().length`: on a 2-core machine the pool gets 1 thread.
 *
 * `installWasmThreads(n)` re-registers the 'wasm' backend factory so that, only while the module is being
 * created: the flag is true; `Blob` is a stand-in that writes its text to a temporary .js file (prefixed
 * with the closure variables the factory source needs) and `URL.createObjectURL` returns that file's
 * path; and `os.cpus()` reports 2n entries so the cap is n. Everything is restored when the factory
 * settles. If the threaded module fails to start, the factory falls back to the single-threaded build.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';

/** Defines, in a pthread worker, what the factory source expects from the bundle it was cut out of. */
const WORKER_PREAMBLE = [
  'var require$$0 = require("fs"), require$$1 = require("path"), require$$3 = require("perf_hooks"), require$$4 = require("os");',
  'var commonjsGlobal = globalThis;',
  // The worker turns a non-string script into a URL itself; our stand-in Blob arrives as {path}.
  'if (typeof URL !== "undefined") { const orig = URL.createObjectURL; URL.createObjectURL = (b) => (b && typeof b.path === "string" ? b.path : orig(b)); URL.revokeObjectURL = () => {}; }',
  '',
].join('\n');

const tempFiles: string[] = [];
let cleanupHooked = false;

function writeTempScript(text: string): string {
  const file = path.join(os.tmpdir(), `wraplab-wasm-${process.pid}-${tempFiles.length}.js`);
  fs.writeFileSync(file, WORKER_PREAMBLE + text);
  tempFiles.push(file);
  if (!cleanupHooked) {
    cleanupHooked = true;
    process.on('exit', () => {
      for (const f of tempFiles) fs.rmSync(f, { force: true });
    });
  }
  return file;
}

/** A Blob stand-in whose content is on disk, so a worker_threads.Worker can load it by path. */
class FileBlob {
  readonly path: string;
  constructor(parts: unknown[]) {
    this.path = writeTempScript(parts.map((p) => String(p)).join(''));
  }
}

/**
 * Emscripten ref()s a worker while its pthread runs; the XNNPACK pool threads run forever (parked on a
 * futex), which would keep Node from exiting. They hold no work of their own between kernel calls.
 */
function unrefPoolWorkers(backend: tf.KernelBackend): void {
  type Pool = { runningWorkers?: { unref(): void }[] };
  const pool = (backend as unknown as { wasm?: { PThread?: Pool } }).wasm?.PThread;
  const unref = () => pool?.runningWorkers?.forEach((w) => w.unref());
  unref();
  setImmediate(unref); // a worker that finished loading after init is started (and ref'd) a tick later
}

let installedThreads: number | null = null;
let threadsInUse = 1;

/** Threads XNNPACK actually got (1 until the backend is initialised with threads). */
export function wasmThreadCount(): number {
  return threadsInUse;
}

/**
 * Makes the next `tf.setBackend('wasm')` create the threaded module with `threads` pthreads.
 * Call after `require('@tensorflow/tfjs-backend-wasm')` and before the backend is initialised. threads <= 1
 * leaves the stock single-threaded module. Returns false if the wasm backend is not registered.
 */
export function installWasmThreads(threads: number): boolean {
  if (threads <= 1 || installedThreads !== null) return installedThreads !== null;
  const original = tf.findBackendFactory('wasm');
  if (!original) return false;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const wasmPkg = require('@tensorflow/tfjs-backend-wasm') as { setThreadsCount(n: number): void; getThreadsCount(): number };
  const priority = (tf.engine().registryFactory as Record<string, { priority: number }>).wasm?.priority ?? 2;
  installedThreads = threads;

  const threadedFactory = async (): Promise<tf.KernelBackend> => {
    const g = globalThis as unknown as { Blob: unknown; URL: { createObjectURL: (b: unknown) => string } };
    const savedBlob = g.Blob;
    const savedCreate = g.URL.createObjectURL;
    // The real module object (a namespace import is a copy): the bundle calls require('os').cpus().
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const osModule = require('node:os') as { cpus: () => os.CpuInfo[] };
    const savedCpus = osModule.cpus;
    const realCpus = savedCpus();
    g.Blob = FileBlob;
    g.URL.createObjectURL = (b: unknown) => (b instanceof FileBlob ? b.path : savedCreate(b as Blob));
    // The C++ cap is cpus/2; report 2 * threads (the pool is still sized by setThreadsCount).
    osModule.cpus = () => Array.from({ length: 2 * threads }, (_, i) => realCpus[i % realCpus.length]);
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    wasmPkg.setThreadsCount(threads);
    try {
      const backend = await original();
      threadsInUse = wasmPkg.getThreadsCount();
      unrefPoolWorkers(backend);
      return backend;
    } catch {
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
      wasmPkg.setThreadsCount(1);
      threadsInUse = 1;
      return original();
    } finally {
      g.Blob = savedBlob;
      g.URL.createObjectURL = savedCreate;
      osModule.cpus = savedCpus;
    }
  };
  tf.removeBackend('wasm');
  tf.registerBackend('wasm', threadedFactory, priority);
  return true;
}
