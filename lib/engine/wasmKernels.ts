/**
 * Kernels the wasm backend of tfjs 4.22 does not ship but training needs.
 * - UnsortedSegmentSum: the gradient of `gather` (token embeddings). Scatter-add in JS on the wasm heap:
 *   O(rows * width), cheaper than the one-hot matmul it replaces.
 */
import * as tf from '@tensorflow/tfjs';

interface WasmBackendLike {
  readSync(dataId: object): ArrayLike<number>;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array;
}

let registered = false;

export function registerWasmTrainingKernels(): void {
  if (registered) return;
  registered = true;
  if (!tf.getKernel('UnsortedSegmentSum', 'wasm')) {
    tf.registerKernel({
      kernelName: 'UnsortedSegmentSum',
      backendName: 'wasm',
      kernelFunc: ({ inputs, attrs, backend }) => {
        const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
        const numSegments = (attrs as unknown as { numSegments: number }).numSegments;
        const be = backend as unknown as WasmBackendLike;
        const xs = be.readSync(x.dataId);
        const ids = be.readSync(segmentIds.dataId);
        const rows = segmentIds.shape.reduce((a, b) => a * b, 1);
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
      },
    });
  }
}
