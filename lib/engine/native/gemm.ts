/**
 * BatchMatMul through the native BLAS: one cblas_sgemm per batch index on views of the wasm heap, the
 * transposed operands passed as CblasTrans (no transposed copy, unlike the XNNPACK path), a broadcast operand
 * of batch 1 reused, and a whole [batch, M, K] @ [K, N] product with a shared right side done as one
 * [batch*M, K] @ [K, N] call (every dense layer, forward and backward).
 */
import * as tf from '@tensorflow/tfjs';
import type { HeapBackend } from '../fused';
import { CBLAS_NO_TRANS, CBLAS_ROW_MAJOR, CBLAS_TRANS, type Blas } from './provider';

const prod = (xs: number[]) => xs.reduce((p, q) => p * q, 1);

/**
 * a @ b (each optionally transposed in its last two axes) for float32 operands whose batch shapes are equal
 * or one of them is all ones; null for anything else (the caller's stock path handles it).
 */
export function blasBatchMatMul(blas: Blas, be: HeapBackend, a: tf.TensorInfo, b: tf.TensorInfo, transposeA: boolean, transposeB: boolean): tf.TensorInfo | null {
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return null;
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const [M, K] = transposeA ? [ac, ar] : [ar, ac];
  const [K2, N] = transposeB ? [bc, br] : [br, bc];
  if (K !== K2) return null;
  const batchShapeA = a.shape.slice(0, -2);
  const batchShapeB = b.shape.slice(0, -2);
  const outBatch = tf.broadcast_util.assertAndGetBroadcastShape(batchShapeA, batchShapeB);
  const batch = prod(outBatch);
  const batchA = prod(batchShapeA);
  const batchB = prod(batchShapeB);
  if ((batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) return null;
  const out = be.makeOutput([...outBatch, M, N], 'float32');
  if (batch * M * N === 0) return out;
  // Views after the allocation: growing the wasm memory detaches views taken before it.
  const av = be.typedArrayFromHeap(a) as Float32Array;
  const bv = be.typedArrayFromHeap(b) as Float32Array;
  const ov = be.typedArrayFromHeap(out) as Float32Array;
  if (K === 0) {
    ov.fill(0);
    return out;
  }
  const ta = transposeA ? CBLAS_TRANS : CBLAS_NO_TRANS;
  const tb = transposeB ? CBLAS_TRANS : CBLAS_NO_TRANS;
  const lda = transposeA ? M : K;
  const ldb = transposeB ? K : N;
  if (batchB === 1 && !transposeA && batchA === batch) {
    // Rows of every batch index stacked: one call, one packing of b.
    blas.sgemm(CBLAS_ROW_MAJOR, ta, tb, batch * M, N, K, 1, av, lda, bv, ldb, 0, ov, N);
    return out;
  }
  const sizeA = M * K;
  const sizeB = K * N;
  const sizeO = M * N;
  for (let i = 0; i < batch; i++) {
    const ai = batchA === 1 ? av : av.subarray(i * sizeA, (i + 1) * sizeA);
    const bi = batchB === 1 ? bv : bv.subarray(i * sizeB, (i + 1) * sizeB);
    blas.sgemm(CBLAS_ROW_MAJOR, ta, tb, M, N, K, 1, ai, lda, bi, ldb, 0, ov.subarray(i * sizeO, (i + 1) * sizeO), N);
  }
  return out;
}
