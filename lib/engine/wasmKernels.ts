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
import * as tf from '@tensorflow/tfjs';

/** The parts of the wasm backend object the kernels below touch. */
interface WasmBackendLike {
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

export function registerWasmTrainingKernels(): void {
  if (registered) return;
  registered = true;
  if (!tf.getKernel('UnsortedSegmentSum', 'wasm')) {
    tf.registerKernel({ kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: unsortedSegmentSum as unknown as tf.KernelFunc });
  }
  stock.Transpose = tf.getKernel('Transpose', 'wasm')!.kernelFunc as unknown as Kernel;
  override('BatchMatMul', batchMatMul);
}
