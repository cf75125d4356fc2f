/**
 * Kernels the wasm backend of tfjs 4.22 lacks or runs slowly, registered over the stock ones.
 *
 * - UnsortedSegmentSum: the gradient of `gather` (token embeddings); not shipped for wasm. Scatter-add in JS
 *   on the wasm heap: O(rows * width), cheaper than the one-hot matmul it replaces.
 * - GatherV2 of whole rows (embeddings): row copies instead of the stock element-by-element walk.
 * - BatchMatMul: the stock kernel hands a matmul to XNNPACK only when neither side is transposed and the
 *   batch is 1; anything else falls to a naive blocked triple loop, 10-25x slower. Every dense layer's
 *   backward pass asks for a transposed side (dx = dy @ W^T, dW = x^T @ dy), so this override materialises
 *   the transposed operand with the (fast) wasm Transpose kernel and then calls the stock kernel on the
 *   XNNPACK path. Batched products (attention) go through `batchedMatMul` below. Where the native provider
 *   loaded (native/provider.ts), float32 products go to the system BLAS instead (native/gemm.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { registerFusedWasmKernels, setWasmOverridesEnabled, wasmOverridesEnabled } from './fused';
import { installWasmThreads } from './wasmThreads';
import { blasBatchMatMul } from './native/gemm';
import { activeBlas, activeCKernels, threadsFromEnv } from './native/provider';

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

// The fast paths can be switched off to measure or compare against stock; the switch lives with the fused ops.
export { setWasmOverridesEnabled, wasmOverridesEnabled };

function override(kernelName: string, kernelFunc: (args: KernelArgs, stockFunc: Kernel) => tf.TensorInfo): void {
  const original = tf.getKernel(kernelName, 'wasm');
  if (!original) throw new Error(`wasm backend has no ${kernelName} kernel to override`);
  const stockFunc = original.kernelFunc as unknown as Kernel;
  stock[kernelName] = stockFunc;
  tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel({
    ...original,
    kernelFunc: ((args: KernelArgs) => (wasmOverridesEnabled() ? kernelFunc(args, stockFunc) : stockFunc(args))) as unknown as tf.KernelFunc,
  });
}

/** Swaps the last two axes (with the fast transpose below). */
function transposeLastTwo(x: tf.TensorInfo, backend: unknown): tf.TensorInfo {
  const r = x.shape.length;
  const perm = [...Array(r).keys()];
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return transpose({ inputs: { x }, attrs: { perm }, backend }, stock.Transpose);
}

// ---------------------------------------------------------------------------------------------------
// Transpose. The stock kernel walks the output with a stride of a whole row per element (40 ns/element
// for a 2048x512 matrix: every write misses the cache). Swapping two adjacent axes, the only transposes
// a transformer needs, is done here in JS on the heap: 4x4 tiles when the moved unit is one element
// (~1 ns/element), contiguous row copies when it is a run of elements (attention heads).
// ---------------------------------------------------------------------------------------------------

/** [outer, R, C, inner] for a perm that swaps two adjacent axes p, p+1; null for any other perm. */
function adjacentSwap(shape: number[], perm: number[]): [number, number, number, number] | null {
  const moved = perm.map((q, i) => (q !== i ? i : -1)).filter((i) => i >= 0);
  if (moved.length !== 2 || moved[1] !== moved[0] + 1 || perm[moved[0]] !== moved[1]) return null;
  const p = moved[0];
  const prod = (xs: number[]) => xs.reduce((a, b) => a * b, 1);
  return [prod(shape.slice(0, p)), shape[p], shape[p + 1], prod(shape.slice(p + 2))];
}

/** dst[o][j][i] = src[o][i][j] for o < outer, i < R, j < C (4-byte elements, int32 views of the heap). */
function transposeMatrices(src: Int32Array, dst: Int32Array, outer: number, R: number, C: number): void {
  const R4 = R - (R % 4);
  const C4 = C - (C % 4);
  for (let o = 0, base = 0; o < outer; o++, base += R * C) {
    for (let i = 0; i < R4; i += 4) {
      for (let j = 0; j < C4; j += 4) {
        const a = base + i * C + j;
        for (let jj = 0; jj < 4; jj++) {
          const w = base + (j + jj) * R + i;
          dst[w] = src[a + jj];
          dst[w + 1] = src[a + C + jj];
          dst[w + 2] = src[a + 2 * C + jj];
          dst[w + 3] = src[a + 3 * C + jj];
        }
      }
    }
    // Ragged edges: the last R % 4 rows, then the last C % 4 columns of the other rows.
    for (let i = R4; i < R; i++) for (let j = 0; j < C; j++) dst[base + j * R + i] = src[base + i * C + j];
    for (let i = 0; i < R4; i++) for (let j = C4; j < C; j++) dst[base + j * R + i] = src[base + i * C + j];
  }
}

/** dst[o][j][i][:] = src[o][i][j][:] for runs of `inner` elements. */
function transposeRuns(src: Int32Array, dst: Int32Array, outer: number, R: number, C: number, inner: number): void {
  for (let o = 0; o < outer; o++) {
    const base = o * R * C * inner;
    for (let i = 0; i < R; i++) {
      for (let j = 0; j < C; j++) {
        const from = base + (i * C + j) * inner;
        const to = base + (j * R + i) * inner;
        for (let k = 0; k < inner; k++) dst[to + k] = src[from + k];
      }
    }
  }
}

function heapInt32(be: WasmBackendLike, info: tf.TensorInfo): Int32Array {
  const f = be.typedArrayFromHeap(info);
  return new Int32Array(f.buffer, f.byteOffset, f.length);
}

function transpose(args: KernelArgs, stockFunc: Kernel): tf.TensorInfo {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const perm = (args.attrs as unknown as { perm: number[] }).perm;
  const swap = adjacentSwap(x.shape, perm);
  if (!swap || (x.dtype !== 'float32' && x.dtype !== 'int32') || swap[1] * swap[2] * swap[3] < 1024) return stockFunc(args);
  const be = args.backend as WasmBackendLike;
  const out = be.makeOutput(perm.map((q) => x.shape[q]), x.dtype);
  const [outer, R, C, inner] = swap;
  const c = activeCKernels();
  if (c) c.transpose32(heapInt32(be, x), heapInt32(be, out), outer, R, C, inner);
  else if (inner === 1) transposeMatrices(heapInt32(be, x), heapInt32(be, out), outer, R, C);
  else transposeRuns(heapInt32(be, x), heapInt32(be, out), outer, R, C, inner);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Sum over leading axes (bias gradients: sum over batch and position). The stock kernel first transposes
// the reduced axes to the end with the slow transpose. Column sums in row order read memory once; they
// accumulate in float32 row by row (the stock kernel's vectorised order differs only in rounding).
// ---------------------------------------------------------------------------------------------------

function sum(args: KernelArgs, stockFunc: Kernel): tf.TensorInfo {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
  const rank = x.shape.length;
  const axes = [...new Set((Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + rank : a)))].sort((a, b) => a - b);
  const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
  if (!leading || x.dtype !== 'float32') return stockFunc(args);
  const be = args.backend as WasmBackendLike;
  const rows = x.shape.slice(0, axes.length).reduce((a, b) => a * b, 1);
  const kept = x.shape.slice(axes.length);
  const out = be.makeOutput(keepDims ? [...axes.map(() => 1), ...kept] : kept, 'float32');
  const src = be.typedArrayFromHeap(x) as Float32Array;
  const dst = be.typedArrayFromHeap(out) as Float32Array;
  const width = dst.length;
  const c = activeCKernels();
  if (c) {
    c.sumRows(src, dst, rows, width);
    return out;
  }
  dst.fill(0);
  for (let r = 0; r < rows; r++) {
    const row = r * width;
    for (let j = 0; j < width; j++) dst[j] += src[row + j];
  }
  return out;
}

// Identity copies its input; the stock kernel uses TypedArray.set between two views of the same heap,
// which V8 treats as possibly overlapping and copies slowly (~12 ms for 4 MB). copyWithin is a memmove.
function identity(args: KernelArgs, stockFunc: Kernel): tf.TensorInfo {
  const { x } = args.inputs as { x: tf.TensorInfo };
  if (x.dtype === 'string' || x.dtype === 'complex64') return stockFunc(args);
  const be = args.backend as WasmBackendLike;
  const out = be.makeOutput(x.shape, x.dtype);
  const from = be.typedArrayFromHeap(x);
  const to = be.typedArrayFromHeap(out);
  new Uint8Array(from.buffer).copyWithin(to.byteOffset, from.byteOffset, from.byteOffset + from.byteLength);
  return out;
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
  const blas = activeBlas();
  const native = blas ? blasBatchMatMul(blas, be, a, b, transposeA, transposeB) : null;
  if (native) return native;
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

// Gather of whole rows (embedding lookups: axis 0, no batch dims). The stock kernel walks element by element
// through strides (~30 ns/element); a row is one contiguous run, copied with copyWithin. Same bytes.
function gatherV2(args: KernelArgs, stockFunc: Kernel): tf.TensorInfo {
  const { x, indices } = args.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
  const { axis, batchDims } = args.attrs as unknown as { axis: number; batchDims: number };
  const rank = x.shape.length;
  if ((axis !== 0 && axis !== -rank) || (batchDims ?? 0) !== 0 || (x.dtype !== 'float32' && x.dtype !== 'int32') || rank < 1) return stockFunc(args);
  const be = args.backend as WasmBackendLike;
  const ids = be.readSync(indices.dataId);
  const n = x.shape[0];
  for (let i = 0; i < ids.length; i++) if (!(ids[i] >= 0 && ids[i] < n)) return stockFunc(args); // its error message
  const width = x.shape.slice(1).reduce((p, q) => p * q, 1);
  const out = be.makeOutput([...indices.shape, ...x.shape.slice(1)], x.dtype);
  if (ids.length * width === 0) return out;
  const src = be.typedArrayFromHeap(x);
  const dst = be.typedArrayFromHeap(out);
  const heap = new Uint8Array(src.buffer);
  const rowBytes = 4 * width;
  for (let i = 0; i < ids.length; i++) {
    const from = src.byteOffset + ids[i] * rowBytes;
    heap.copyWithin(dst.byteOffset + i * rowBytes, from, from + rowBytes);
  }
  return out;
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

/**
 * Threads for XNNPACK: WRAPLAB_WASM_THREADS, else 1. More threads buy ~5% on an idle 2-core machine, but the
 * pool spin-waits, so on a busy one (parallel grid workers, a notebook beside a sweep) a step gets up to
 * 5x slower (docs/speed.md, round 3); set WRAPLAB_WASM_THREADS=2 on a machine you have to yourself.
 */
export function wasmThreadsWanted(): number {
  return threadsFromEnv('WRAPLAB_WASM_THREADS', 1);
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
  override('Transpose', transpose);
  override('Sum', sum);
  override('Identity', identity);
  override('BatchMatMul', batchMatMul);
  override('GatherV2', gatherV2);
  registerFusedWasmKernels();
}
