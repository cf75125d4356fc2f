/**
 * Backend selection: tensorflow (tfjs-node-gpu / tfjs-node, when installed) > wasm > cpu.
 * `WRAPLAB_BACKEND=tensorflow|wasm|cpu` forces one. The choice is reported once per process
 * ("wraplab: backend wasm + openblas (Cooperlake, 1 thread)").
 * The wasm backend lacks a few kernels that training needs; `wasmKernels.ts` registers them, and the native
 * provider (`native/provider.ts`, WRAPLAB_NATIVE=auto|on|off) hands its matrix products to a system BLAS.
 */
import * as tf from '@tensorflow/tfjs';
import { describeNative, nativeChoice, nativeTag } from './native/provider';
import { EnvError, WraplabError, isUserError } from './errors';
import { registerWasmTrainingKernels, wasmThreadsWanted } from './wasmKernels';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export const BACKENDS: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

let chosen: Promise<BackendName> | null = null;

let tensorflowPackage: string | null | undefined;
/** Loads a native TensorFlow binding once; returns the package name that loaded, or null. */
function loadNative(): string | null {
  if (tensorflowPackage !== undefined) return tensorflowPackage;
  tensorflowPackage = null;
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      require(pkg);
      return (tensorflowPackage = pkg);
    } catch {
      // not installed (it is optional), or its native library failed to load
    }
  }
  return null;
}

function forcedBackend(): BackendName | undefined {
  const forced = process.env.WRAPLAB_BACKEND;
  if (forced === undefined || forced === '') return undefined;
  if (!BACKENDS.includes(forced as BackendName)) {
    throw new EnvError(`WRAPLAB_BACKEND=${forced} is not a backend; use one of ${BACKENDS.join(', ')} (or unset it)`);
  }
  return forced as BackendName;
}

/**
 * What this process's numerics depend on beyond the config, for run-cache keys, decided without starting
 * the backend (keys are computed before training): null for the wasm backend's stock kernels (the key every
 * earlier run has), the native provider's tag for wasm with it ("openblas/Cooperlake+c1", native/provider.ts
 * nativeTag), "tensorflow" or "cpu" otherwise.
 */
export function kernelsTag(): string | null {
  const want = forcedBackend();
  const backend = want ?? (loadNative() ? 'tensorflow' : 'wasm');
  return backend === 'wasm' ? nativeTag() : backend;
}

/** true, or why the wasm backend did not start (one line). A user's mistake (a bad variable) is thrown, never swallowed. */
async function tryWasm(): Promise<true | string> {
  try {
    require('@tensorflow/tfjs-backend-wasm');
    registerWasmTrainingKernels();
    return (await tf.setBackend('wasm')) || 'tf.setBackend("wasm") returned false';
  } catch (e) {
    if (isUserError(e)) throw e;
    return (e as Error).message.split('\n')[0];
  }
}

let wasmFailure: string | undefined;

async function select(log: (msg: string) => void): Promise<BackendName> {
  const want = forcedBackend();
  if (!want || want === 'tensorflow') {
    const pkg = loadNative();
    if (pkg && (await tf.setBackend('tensorflow'))) {
      log(`wraplab: backend tensorflow (${pkg})`);
      return 'tensorflow';
    }
    if (want === 'tensorflow') {
      throw new Error(
        'WRAPLAB_BACKEND=tensorflow but @tensorflow/tfjs-node(-gpu) is not installed or failed to load; ' +
          'install it with `npm install @tensorflow/tfjs-node` on a machine with internet, or unset WRAPLAB_BACKEND',
      );
    }
  }
  if (!want || want === 'wasm') {
    const native = nativeChoice(); // throws for WRAPLAB_NATIVE=on without a BLAS: before any work
    wasmThreadsWanted(); // a bad WRAPLAB_WASM_THREADS is the user's to fix, not a reason to fall back to cpu
    const wasm = await tryWasm();
    if (wasm === true) {
      log(native.blas || native.c ? `wraplab: backend wasm + ${describeNative(native)}` : `wraplab: backend wasm (${describeNative(native)})`);
      return 'wasm';
    }
    if (want === 'wasm') throw new WraplabError(`WRAPLAB_BACKEND=wasm but the wasm backend failed to initialise: ${wasm}; reinstall with npm ci, or unset WRAPLAB_BACKEND`);
    wasmFailure = wasm;
  }
  await tf.setBackend('cpu');
  log(`wraplab: backend cpu (slow; the wasm backend failed to load: ${wasmFailure ?? 'not tried'})`);
  return 'cpu';
}

/**
 * Selects and initialises the best backend once per process; later calls return the same choice.
 * Set WRAPLAB_QUIET=1 to silence the one-line report.
 */
export function initBackend(): Promise<BackendName> {
  if (!chosen) {
    const quiet = process.env.WRAPLAB_QUIET === '1';
    // In a notebook the line is information, not an error: stdout, not Jupyter's red stderr box.
    const { info } = require('../notebook') as typeof import('../notebook');
    chosen = select(quiet ? () => {} : info).then(async (b) => {
      await tf.ready();
      return b;
    });
    chosen.catch(() => {
      chosen = null;
    });
  }
  return chosen;
}

/**
 * Switches to the wasm backend with wraplab's kernels, whatever `initBackend` would pick (tfjs-node present or
 * not): the wasm backend is a required dependency, so its fused kernels can always be tested and compared.
 */
export async function useWasmBackend(): Promise<void> {
  await initBackend();
  require('@tensorflow/tfjs-backend-wasm');
  registerWasmTrainingKernels();
  if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend failed to initialise');
  await tf.ready();
}

export { tf };
