/**
 * Kernels the wasm backend of tfjs 4.22 lacks or runs slowly, registered over the stock ones.
 *
 * - UnsortedSegmentSum: the gradient of `gather` (token embeddings); not shipped for wasm. Scatter-add in JS
 *   on the wasm heap: O(rows * width), cheaper than the one-hot matmul it replaces.
 * - BatchMatMul: the stock kernel hands a matmul to XNNPACK only when neither side is transposed and the
 *   batch is 1; anything else falls to a naive blocked triple loop, 10-25x slower. Every dense layer's
 *   backward pass asks for a transposed side (dx = dy @ W^T, dW = x^T @ dy), so this override materialises
 *   the transposed operand with the (fast) wasm Transpose kernel and then calls the stock kernel on the
 *   XNNPACK path. Batched products (attention) go through `batchedMatMul` below.
 */
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { installWasmThreads } from './wasmThreads';

/** The parts of the wasm backend object the kernels below touch. */
interface WasmBackendLike {
  wasm: {
    cwrap(name: string, ret: null, args: string[]): (...args: unknown[]) => void;
    tfjs: { registerTensor(id: number, size: number, offset: number): void; disposeData(id: number): void };
  };
  dataIdMap: { get(dataId: object): { id: number; memoryOffset: number }; set(dataId: object, v: object): void; delete(dataId: object): void };
  dataIdNextNumber: number;
  readSync(dataId: object): ArrayLike<number>;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array;
  disposeData(dataId: object, force?: boolean): boolean;
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs: tf.NamedAttrMap; backend: unknown };
type Kernel = (args: KernelArgs) => tf.TensorInfo;

let registered = false;
/** The stock kernels this module wraps, kept so the overrides can delegate (and tests can compare). */
const stock: Record<string, Kernel> = {};

/** True once the fast overrides are active (they can be switched off to measure or compare against stock). */
let overridesEnabled = true;
export function setWasmOverridesEnabled(on: boolean): void {
  overridesEnabled = on;
}
export function wasmOverridesEnabled(): boolean {
  return overridesEnabled;
}

function override(kernelName: string, kernelFunc: (args: KernelArgs, stockFunc: Kernel) => tf.TensorInfo): void {
  const original = tf.getKernel(kernelName, 'wasm');
  if (!original) throw new Error(`wasm backend has no ${kernelName} kernel to override`);
  const stockFunc = original.kernelFunc as unknown as Kernel;
  stock[kernelName] = stockFunc;
  tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel({
    ...original,
    kernelFunc: ((args: KernelArgs) => (overridesEnabled ? kernelFunc(args, stockFunc) : stockFunc(args))) as unknown as tf.KernelFunc,
  });
}

/** Swaps the last two axes with the stock wasm Transpose kernel. */
function transposeLastTwo(x: tf.TensorInfo, backend: unknown): tf.TensorInfo {
  const r = x.shape.length;
  const perm = [...Array(r).keys()];
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return stock.Transpose({ inputs: { x }, attrs: { perm }, backend });
}

/** The C entry point of the wasm BatchMatMul (rank-3 operands, ids of registered tensors). */
let wasmMatMul: ((...args: unknown[]) => void) | null = null;

/**
 * A float32 tensor registered at `offset` inside memory another tensor owns. Dispose it with
 * `disposeView` (never backend.disposeData, which would free the owner's memory).
 */
function makeView(be: WasmBackendLike, offset: number, shape: number[]): { id: number; dataId: object } {
  const id = be.dataIdNextNumber++;
  const dataId = { id };
  be.dataIdMap.set(dataId, { id, memoryOffset: offset, shape, dtype: 'float32', refCount: 1 });
  be.wasm.tfjs.registerTensor(id, shape.reduce((p, q) => p * q, 1), offset);
  return { id, dataId };
}
function disposeView(be: WasmBackendLike, view: { id: number; dataId: object }): void {
  be.wasm.tfjs.disposeData(view.id); // also drops the XNNPACK operator cached on this id
  be.dataIdMap.delete(view.dataId);
}

const int32Bytes = (xs: number[]) => new Uint8Array(new Int32Array(xs).buffer);

/**
 * out[i] = a[i] @ b[i] for every batch index, each product on the XNNPACK path, via views of the operands
 * (no copies). a: [batchA, M, K], b: [batchB, K, N] with batchA == batchB or one of them 1 (broadcast).
 */
function batchedMatMulXnn(be: WasmBackendLike, a: tf.TensorInfo, b: tf.TensorInfo, outShape: number[]): tf.TensorInfo {
  const [M, K] = a.shape.slice(-2);
  const N = b.shape[b.shape.length - 1];
  const batchA = a.shape.slice(0, -2).reduce((p, q) => p * q, 1);
  const batchB = b.shape.slice(0, -2).reduce((p, q) => p * q, 1);
  const batch = Math.max(batchA, batchB);
  if (!wasmMatMul) {
    wasmMatMul = be.wasm.cwrap('BatchMatMul', null, ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number']);
  }
  const out = be.makeOutput(outShape, 'float32');
  const aBase = be.dataIdMap.get(a.dataId).memoryOffset;
  const bBase = be.dataIdMap.get(b.dataId).memoryOffset;
  const oBase = be.dataIdMap.get(out.dataId).memoryOffset;
  const aShape = int32Bytes([1, M, K]);
  const bShape = int32Bytes([1, K, N]);
  let bView: { id: number; dataId: object } | null = null;
  for (let i = 0; i < batch; i++) {
    const aView = makeView(be, aBase + 4 * (batchA === 1 ? 0 : i) * M * K, [1, M, K]);
    // A broadcast b keeps one view, so XNNPACK packs it once.
    if (!bView || batchB !== 1) bView = makeView(be, bBase + 4 * (batchB === 1 ? 0 : i) * K * N, [1, K, N]);
    const oView = makeView(be, oBase + 4 * i * M * N, [1, M, N]);
    wasmMatMul(aView.id, aShape, 3, bView.id, bShape, 3, false, false, oView.id);
    disposeView(be, aView);
    if (batchB !== 1) disposeView(be, bView);
    disposeView(be, oView);
  }
  if (bView && batchB === 1) disposeView(be, bView);
  return out;
}

function batchMatMul(args: KernelArgs, stockFunc: Kernel): tf.TensorInfo {
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
  const be = args.backend as WasmBackendLike;
  const temps: tf.TensorInfo[] = [];
  let a2 = a;
  let b2 = b;
  if (transposeA) temps.push((a2 = transposeLastTwo(a, be)));
  if (transposeB) temps.push((b2 = transposeLastTwo(b, be)));
  try {
    const batchA = a2.shape.slice(0, -2).reduce((p, q) => p * q, 1);
    const batchB = b2.shape.slice(0, -2).reduce((p, q) => p * q, 1);
    const [M, K] = a2.shape.slice(-2);
    const N = b2.shape[b2.shape.length - 1];
    // Batched products: the stock kernel's naive loop runs at ~2.5 GFLOP/s; one XNNPACK call per batch
    // index wins once each product is bigger than the per-call overhead (a few microseconds).
    const outBatch = tf.broadcast_util.assertAndGetBroadcastShape(a2.shape.slice(0, -2), b2.shape.slice(0, -2));
    const outSize = outBatch.reduce((p, q) => p * q, 1);
    const broadcastsSimply = (batchA === outSize || batchA === 1) && (batchB === outSize || batchB === 1);
    if (outSize > 1 && broadcastsSimply && M * N * K >= 4096 && a2.dtype === 'float32') {
      return batchedMatMulXnn(be, a2, b2, [...outBatch, M, N]);
    }
    return stockFunc({ ...args, inputs: { a: a2, b: b2 }, attrs: { ...args.attrs, transposeA: false, transposeB: false } });
  } finally {
    for (const t of temps) be.disposeData(t.dataId);
  }
}

function unsortedSegmentSum({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo {
  const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const numSegments = (attrs as unknown as { numSegments: number }).numSegments;
  const be = backend as WasmBackendLike;
  const xs = be.readSync(x.dataId);
  const ids = be.readSync(segmentIds.dataId);
  const rows = segmentIds.shape.reduce((p, q) => p * q, 1);
  const width = rows === 0 ? 0 : xs.length / rows;
  const outShape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
  const out = be.makeOutput(outShape, x.dtype);
  const o = be.typedArrayFromHeap(out);
  o.fill(0);
  for (let r = 0; r < rows; r++) {
    const seg = ids[r];
    if (seg < 0 || seg >= numSegments) continue; // like TF: out-of-range ids are dropped
    const src = r * width;
    const dst = seg * width;
    for (let j = 0; j < width; j++) o[dst + j] += xs[src + j];
  }
  return out;
}

/** Threads for XNNPACK: WRAPLAB_WASM_THREADS, else one per core (at most 4). */
export function wasmThreadsWanted(): number {
  const env = process.env.WRAPLAB_WASM_THREADS;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new Error(`WRAPLAB_WASM_THREADS=${env} must be a positive integer`);
    return n;
  }
  return Math.min(4, os.availableParallelism());
}

/**
 * Registers the kernels above and asks for the threaded module. Call after requiring
 * '@tensorflow/tfjs-backend-wasm' and before `tf.setBackend('wasm')` (backend.ts does).
 */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  registered = true;
  installWasmThreads(wasmThreadsWanted());
  if (!tf.getKernel('UnsortedSegmentSum', 'wasm')) {
    tf.registerKernel({ kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: unsortedSegmentSum as unknown as tf.KernelFunc });
  }
  stock.Transpose = tf.getKernel('Transpose', 'wasm')!.kernelFunc as unknown as Kernel;
  override('BatchMatMul', batchMatMul);
}
