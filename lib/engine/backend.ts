/**
 * Backend selection: tensorflow (tfjs-node-gpu / tfjs-node, when installed) > wasm > cpu.
 * `WRAPLAB_BACKEND=tensorflow|wasm|cpu` forces one. The choice is reported once per process.
 * The wasm backend lacks a few kernels that training needs; `wasmKernels.ts` registers them.
 */
import * as tf from '@tensorflow/tfjs';
import { registerWasmTrainingKernels } from './wasmKernels';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export const BACKENDS: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

let chosen: Promise<BackendName> | null = null;

/** Tries to load a native TensorFlow binding; returns the package name that loaded, or null. */
function loadNative(): string | null {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      require(pkg);
      return pkg;
    } catch {
      // not installed (it is optional), or its native library failed to load
    }
  }
  return null;
}

async function tryWasm(): Promise<boolean> {
  try {
    require('@tensorflow/tfjs-backend-wasm');
    registerWasmTrainingKernels();
    return await tf.setBackend('wasm');
  } catch {
    return false;
  }
}

async function select(forced: string | undefined, log: (msg: string) => void): Promise<BackendName> {
  if (forced !== undefined && forced !== '' && !BACKENDS.includes(forced as BackendName)) {
    throw new Error(`WRAPLAB_BACKEND=${forced} is not a backend; use one of ${BACKENDS.join(', ')} (or unset it)`);
  }
  const want = forced as BackendName | undefined;
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
    if (await tryWasm()) {
      log('wraplab: backend wasm');
      return 'wasm';
    }
    if (want === 'wasm') throw new Error('WRAPLAB_BACKEND=wasm but the wasm backend failed to initialise');
  }
  await tf.setBackend('cpu');
  log('wraplab: backend cpu (slow; the wasm backend failed to load)');
  return 'cpu';
}

/**
 * Selects and initialises the best backend once per process; later calls return the same choice.
 * Set WRAPLAB_QUIET=1 to silence the one-line report.
 */
export function initBackend(): Promise<BackendName> {
  if (!chosen) {
    const quiet = process.env.WRAPLAB_QUIET === '1';
    chosen = select(process.env.WRAPLAB_BACKEND, quiet ? () => {} : (m) => console.error(m)).then(async (b) => {
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
