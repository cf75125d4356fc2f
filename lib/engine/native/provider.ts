/**
 * The native kernel provider for the wasm backend: a system BLAS (OpenBLAS) for the matrix products and
 * wraplab's own C kernels (kernels.c, built by scripts/build-native.js) for the elementwise work that dominates
 * after them, both called through koffi's FFI on the wasm heap in place (a tensor's bytes live in the module's
 * memory, so a native kernel reads and writes them directly).
 *
 * Chosen once per process, before the first kernel runs:
 *   WRAPLAB_NATIVE=auto (default)  use OpenBLAS where it loads, else the stock kernels with one line saying why
 *   WRAPLAB_NATIVE=on              require it (an error naming what is missing)
 *   WRAPLAB_NATIVE=off             the stock wasm kernels
 *   WRAPLAB_BLAS_LIB=<file>        the library to load (default: libopenblas.so.0 and its usual names)
 *   WRAPLAB_BLAS_THREADS=<n>       BLAS threads per process (default 1: the grid runner already fills the cores)
 *   WRAPLAB_C_KERNELS=<file>       the C kernel library (default: the one npm run build puts beside this file)
 *
 * OpenBLAS's numerics differ from XNNPACK's in the last bits (another summation order), and the C GELU from the
 * plain one's (expf, not XNNPACK's sigmoid), so `nativeTag()` names both in every run-cache key: runs with
 * different providers never share an entry. The other C kernels are bit-identical to the JS kernels they
 * replace (tests/engine/native.test.ts).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { envInt } from '../env';
import { EnvError } from '../errors';

export type NativeMode = 'auto' | 'on' | 'off';

/** The loaded BLAS: the entry points the kernels call and what it reports about itself. */
export interface Blas {
  /** cblas_sgemm(order, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) on float32 views. */
  sgemm(order: number, ta: number, tb: number, m: number, n: number, k: number, alpha: number, a: Float32Array, lda: number, b: Float32Array, ldb: number, beta: number, c: Float32Array, ldc: number): void;
  /** The library file that loaded. */
  library: string;
  /** The kernel family OpenBLAS picked for this CPU (Haswell = AVX2, SkylakeX/Cooperlake = AVX-512, ...). */
  core: string;
  /** OpenBLAS's build string (version and options). */
  config: string;
  threads: number;
}

/** wraplab's C kernels (kernels.c); every pointer argument is a float32 (or uint32) view of the wasm heap. */
export interface CKernels {
  adamw(P: Float32Array, G: Float32Array, M: Float32Array, V: Float32Array, P1: Float32Array, M1: Float32Array, V1: Float32Array, n: number,
    b1: number, nb1: number, b2: number, nb2: number, sqrtBc2: number, stepSize: number, eps: number, keep: number, decays: number, scaled: number, scale: number): void;
  layernorm(X: Float32Array, W: Float32Array, B: Float32Array, Y: Float32Array, MEAN: Float32Array, RSTD: Float32Array, rows: number, D: number, eps: number): void;
  layernormGrad(DY: Float32Array, X: Float32Array, W: Float32Array, MEAN: Float32Array, RSTD: Float32Array, DX: Float32Array, DW: Float32Array, DB: Float32Array, rows: number, D: number): number;
  rmsnorm(X: Float32Array, W: Float32Array, Y: Float32Array, RSTD: Float32Array, rows: number, D: number, eps: number): void;
  rmsnormGrad(DY: Float32Array, X: Float32Array, W: Float32Array, RSTD: Float32Array, DX: Float32Array, DW: Float32Array, rows: number, D: number): number;
  sumRows(src: Float32Array, dst: Float32Array, rows: number, width: number): void;
  transpose32(src: Int32Array, dst: Int32Array, outer: number, R: number, C: number, inner: number): void;
  gelu(X: Float32Array, Y: Float32Array, G: Float32Array, n: number, c1: number, c2: number): void;
  geluGrad(DY: Float32Array, X: Float32Array, G: Float32Array, DX: Float32Array, n: number, d1: number, d2: number): void;
  library: string;
}

/** What was chosen: each part of the provider, or why it is missing (one line each). */
export interface NativeChoice {
  blas: Blas | null;
  blasReason?: string;
  c: CKernels | null;
  cReason?: string;
}

export const CBLAS_ROW_MAJOR = 101;
export const CBLAS_NO_TRANS = 111;
export const CBLAS_TRANS = 112;

/** The names OpenBLAS goes by on Debian/Ubuntu, other Linux, macOS (Homebrew) and Windows. */
const DEFAULT_LIBRARIES: Record<string, string[]> = {
  linux: ['libopenblas.so.0', 'libopenblas.so', 'libopenblasp-r0.3.so'],
  darwin: ['libopenblas.dylib', '/opt/homebrew/opt/openblas/lib/libopenblas.dylib', '/usr/local/opt/openblas/lib/libopenblas.dylib'],
  win32: ['libopenblas.dll', 'openblas.dll'],
};

export function nativeMode(): NativeMode {
  const v = (process.env.WRAPLAB_NATIVE ?? '').trim().toLowerCase();
  if (v === '' || v === 'auto') return 'auto';
  if (v === 'on' || v === '1' || v === 'true') return 'on';
  if (v === 'off' || v === '0' || v === 'false') return 'off';
  throw new EnvError(`WRAPLAB_NATIVE=${process.env.WRAPLAB_NATIVE} is not one of auto, on, off (or unset it)`);
}

/** A thread count from the environment: `fallback` when unset, else a positive integer or one clear error. */
export function threadsFromEnv(name: string, fallback: number): number {
  return envInt(name, fallback, { min: 1, max: 256 });
}

export const blasThreadsWanted = (): number => threadsFromEnv('WRAPLAB_BLAS_THREADS', 1);

type Koffi = typeof import('koffi');
/** koffi, or why it did not load (one line). */
function requireKoffi(): Koffi | string {
  try {
    return require('koffi') as Koffi;
  } catch (e) {
    return `the koffi FFI package did not load (${(e as Error).message.split('\n')[0]}); reinstall with npm ci`;
  }
}

const SGEMM = 'void cblas_sgemm(int, int, int, int, int, int, float, float *, int, float *, int, float, float *, int)';

function loadBlas(threads: number): Blas | string {
  const koffi = requireKoffi();
  if (typeof koffi === 'string') return koffi;
  // OpenBLAS starts its thread pool when it loads, sized by this variable: set it first so no spare threads spin.
  if (process.env.OPENBLAS_NUM_THREADS === undefined) process.env.OPENBLAS_NUM_THREADS = String(threads);
  const wanted = process.env.WRAPLAB_BLAS_LIB;
  const candidates = wanted ? [wanted] : (DEFAULT_LIBRARIES[os.platform()] ?? DEFAULT_LIBRARIES.linux);
  const errors: string[] = [];
  for (const library of candidates) {
    let lib: ReturnType<typeof koffi.load>;
    try {
      lib = koffi.load(library);
    } catch (e) {
      errors.push(`${library}: ${(e as Error).message.split('\n')[0]}`);
      continue;
    }
    try {
      const sgemm = lib.func(SGEMM) as Blas['sgemm'];
      /** An OpenBLAS extension, or null in another CBLAS (reference BLAS, BLIS). */
      const extension = <F>(decl: string): F | null => {
        try {
          return lib.func(decl) as F;
        } catch {
          return null;
        }
      };
      extension<(n: number) => void>('void openblas_set_num_threads(int)')?.(threads);
      const text = (decl: string) => String(extension<() => string | null>(decl)?.() ?? '').trim();
      return {
        sgemm,
        library,
        core: text('const char *openblas_get_corename()') || 'unknown',
        config: text('const char *openblas_get_config()'),
        threads: extension<() => number>('int openblas_get_num_threads()')?.() ?? threads,
      };
    } catch (e) {
      errors.push(`${library}: no cblas_sgemm (${(e as Error).message.split('\n')[0]})`);
    }
  }
  const fix = os.platform() === 'linux' ? 'apt-get install libopenblas0-pthread (scripts/install.sh does)' : 'install OpenBLAS (e.g. brew install openblas)';
  return `${errors.join('; ')}; ${fix}, or point WRAPLAB_BLAS_LIB at a CBLAS library`;
}

/** ABI version of kernels.c (its wl_version()): a stale build from another version is not called. */
const C_KERNELS_VERSION = 1;
const DEFAULT_C_LIBRARY = path.join(__dirname, `libwraplab_kernels.${os.platform() === 'darwin' ? 'dylib' : os.platform() === 'win32' ? 'dll' : 'so'}`);

function loadCKernels(): CKernels | string {
  const C_LIBRARY = process.env.WRAPLAB_C_KERNELS || DEFAULT_C_LIBRARY;
  if (!fs.existsSync(C_LIBRARY)) return `${path.basename(C_LIBRARY)} is not built (npm run build compiles it; it needs a C compiler: apt-get install gcc)`;
  const koffi = requireKoffi();
  if (typeof koffi === 'string') return koffi;
  try {
    const lib = koffi.load(C_LIBRARY);
    const version = (lib.func('int wl_version()') as () => number)();
    if (version !== C_KERNELS_VERSION) return `${C_LIBRARY} is version ${version}, this code needs ${C_KERNELS_VERSION}: rebuild with npm run build`;
    const f = (decl: string) => lib.func(decl) as never;
    return {
      adamw: f('void wl_adamw(float *, float *, float *, float *, float *, float *, float *, int, float, float, float, float, float, float, float, float, int, int, float)'),
      layernorm: f('void wl_layernorm(float *, float *, float *, float *, float *, float *, int, int, double)'),
      layernormGrad: f('int wl_layernorm_grad(float *, float *, float *, float *, float *, float *, float *, float *, int, int)'),
      rmsnorm: f('void wl_rmsnorm(float *, float *, float *, float *, int, int, double)'),
      rmsnormGrad: f('int wl_rmsnorm_grad(float *, float *, float *, float *, float *, float *, int, int)'),
      sumRows: f('void wl_sum_rows(float *, float *, int, int)'),
      transpose32: f('void wl_transpose32(int32_t *, int32_t *, int, int, int, int)'),
      gelu: f('void wl_gelu(float *, float *, float *, int, float, float)'),
      geluGrad: f('void wl_gelu_grad(float *, float *, float *, float *, int, float, float)'),
      library: C_LIBRARY,
    };
  } catch (e) {
    return `${C_LIBRARY} did not load (${(e as Error).message.split('\n')[0]}); rebuild with npm run build`;
  }
}

let choice: NativeChoice | null = null;

/** The provider for this process (loaded on the first call; the same answer afterwards). */
export function nativeChoice(): NativeChoice {
  if (choice) return choice;
  const mode = nativeMode();
  if (mode === 'off') return (choice = { blas: null, blasReason: 'WRAPLAB_NATIVE=off', c: null, cReason: 'WRAPLAB_NATIVE=off' });
  const blas = loadBlas(blasThreadsWanted());
  const c = loadCKernels();
  if (mode === 'on' && typeof blas === 'string') throw new EnvError(`WRAPLAB_NATIVE=on but no BLAS loaded: ${blas}; install OpenBLAS (scripts/install.sh) or set WRAPLAB_NATIVE=auto`);
  if (mode === 'on' && typeof c === 'string') throw new Error(`WRAPLAB_NATIVE=on but the C kernels did not load: ${c}`);
  return (choice = {
    blas: typeof blas === 'string' ? null : blas,
    blasReason: typeof blas === 'string' ? blas : undefined,
    c: typeof c === 'string' ? null : c,
    cReason: typeof c === 'string' ? c : undefined,
  });
}

let enabled = true;
/** Switches the native kernels off (and on again) within a process: tests compare them with the stock ones. */
export function setNativeKernelsEnabled(on: boolean): void {
  enabled = on;
}

/** The BLAS the kernels call now, or null (none loaded, or switched off). */
export function activeBlas(): Blas | null {
  return enabled ? nativeChoice().blas : null;
}

/** The C kernels the wasm kernels call now, or null (not built, or switched off). */
export function activeCKernels(): CKernels | null {
  return enabled ? nativeChoice().c : null;
}

/**
 * For the backend report: "openblas (Cooperlake, 1 thread) + C kernels", or what runs instead and why
 * ("stock kernels: WRAPLAB_NATIVE=off").
 */
export function describeNative(c: NativeChoice = nativeChoice()): string {
  if (!c.blas && !c.c) return c.blasReason === c.cReason ? `stock kernels: ${c.blasReason}` : `stock kernels: ${c.blasReason}; ${c.cReason}`;
  const parts = [
    c.blas ? `openblas (${c.blas.core}, ${c.blas.threads} thread${c.blas.threads === 1 ? '' : 's'})` : `XNNPACK GEMM (no BLAS: ${c.blasReason})`,
    c.c ? 'C kernels' : `JS kernels (${c.cReason})`,
  ];
  return parts.join(' + ');
}

/**
 * What the kernels' numerics depend on, for run-cache keys: null for the stock wasm kernels (the keys every
 * earlier run has), else the provider and its CPU kernel family ("openblas/Cooperlake+c1": AVX2 and AVX-512
 * kernels sum in different orders; c1 = the C kernels' version, for their GELU).
 */
export function nativeTag(): string | null {
  const c = nativeChoice();
  // More than one BLAS thread may split a product differently (measured: OpenBLAS's Haswell kernels on an AVX-512
  // EPYC give other bits with 2 threads than with 1), so such runs get their own cache entries; 1 keeps the old keys.
  const threads = blasThreadsWanted();
  const parts = [c.blas ? `openblas/${c.blas.core}${threads > 1 ? `/t${threads}` : ''}` : null, c.c ? `c${C_KERNELS_VERSION}` : null].filter((p) => p !== null);
  return parts.length ? parts.join('+') : null;
}
