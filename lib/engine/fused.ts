/**
 * Fused training ops: one kernel call where the plain tf.js formulation takes 5-30 small ops.
 *
 * At wraplab's sizes a training step runs ~2,000 kernels, and each costs tens of microseconds of engine
 * overhead (tape, tensor bookkeeping, a wasm allocation) besides its arithmetic. The ops below are plain JS
 * loops over zero-copy views of the wasm heap, registered as wasm-backend kernels (so tf.profile sees them
 * and memory is managed by the engine):
 * - AdamW / SGD update of one parameter: one pass over param, grad and moments (was ~12 ops each).
 * - Sum of squares of a gradient (for the global-norm clip), read straight off the heap.
 * - Layernorm forward (y, plus the row mean and 1/std it saves) and backward (dx, dw, db); RMSNorm likewise.
 * - Rotary position embedding (forward and gradient), bit-identical to the slice/neg/concat formulation.
 * - SwiGLU's silu(gate) * up and its gradient.
 * - Weighted softmax cross-entropy (the loss from the wasm softmax, which it saves) and its gradient.
 *
 * The optimizer kernels repeat the plain path's float32 roundings step by step (Math.fround after every
 * operation), so updates are bit-identical to it. Layernorm and cross-entropy accumulate row sums in float64,
 * so they agree with the plain path to float32 rounding. Everything falls back to the plain ops on other
 * backends, and when `setWasmOverridesEnabled(false)` switches the fast paths off (tests compare both).
 * Where the native provider built its C kernels (native/kernels.c), AdamW and the norms run there: the same
 * loops, bit for bit.
 */
import * as tf from '@tensorflow/tfjs';
import { activeCKernels } from './native/provider';

let overridesEnabled = true;
/** Switches every fast wasm path (kernel overrides and fused ops) on or off, to measure or compare with stock. */
export function setWasmOverridesEnabled(on: boolean): void {
  overridesEnabled = on;
}
export function wasmOverridesEnabled(): boolean {
  return overridesEnabled;
}

let fusedEnabled = true;
/** Switches only the fused ops below on or off (the kernel overrides stay), to compare with the plain ops. */
export function setFusedOpsEnabled(on: boolean): void {
  fusedEnabled = on;
}

/** True when the fused kernels below can run: wasm backend, registered, and not switched off. */
export function fusedOpsActive(): boolean {
  return overridesEnabled && fusedEnabled && fusedRegistered && tf.getBackend() === 'wasm';
}

/** The parts of the wasm backend object the kernels touch. */
export interface HeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array;
}
type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs: tf.NamedAttrMap; backend: unknown };

const f32 = Math.fround;
const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Allocates every output first (an allocation can grow the wasm memory and so detach views taken
 * earlier), then hands float32 views of the named inputs and of the outputs to `body`.
 */
function withViews(args: KernelArgs, inputNames: string[], outShapes: number[][], body: (ins: Float32Array[], outs: Float32Array[]) => void): tf.TensorInfo[] {
  const be = args.backend as HeapBackend;
  const outs = outShapes.map((s) => be.makeOutput(s, 'float32'));
  const inViews = inputNames.map((n) => be.typedArrayFromHeap(args.inputs[n] as tf.TensorInfo) as Float32Array);
  body(inViews, outs.map((o) => be.typedArrayFromHeap(o) as Float32Array));
  return outs;
}

// ---------------------------------------------------------------------------------------------------
// Optimizer updates. Each line mirrors one tf op of Optimizer.apply's plain path, rounded to float32.
// ---------------------------------------------------------------------------------------------------

export interface AdamWAttrs {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  step: number;
  gradScale: number;
}

function adamwKernel(args: KernelArgs): tf.TensorInfo[] {
  const a = args.attrs as unknown as AdamWAttrs;
  const shape = (args.inputs.p as tf.TensorInfo).shape;
  return withViews(args, ['p', 'g', 'm', 'v'], [shape, shape, shape], ([P, G, M, V], [P1, M1, V1]) => adamwLoop(P, G, M, V, P1, M1, V1, a));
}

export interface SgdAttrs {
  lr: number;
  momentum: number;
  weightDecay: number;
  gradScale: number;
}

function sgdKernel(args: KernelArgs): tf.TensorInfo[] {
  const a = args.attrs as unknown as SgdAttrs;
  const shape = (args.inputs.p as tf.TensorInfo).shape;
  return withViews(args, ['p', 'g', 'm'], [shape, shape], ([P, G, M], [P1, M1]) => sgdLoop(P, G, M, P1, M1, a));
}

/** The float32 constants of one AdamW step, rounded as the plain path rounds them. */
function adamwConstants(a: AdamWAttrs) {
  return {
    b1: f32(a.beta1),
    nb1: f32(1 - a.beta1),
    b2: f32(a.beta2),
    nb2: f32(1 - a.beta2),
    sqrtBc2: f32(Math.sqrt(1 - Math.pow(a.beta2, a.step))),
    stepSize: f32(a.lr / (1 - Math.pow(a.beta1, a.step))),
    eps: f32(a.eps),
    keep: f32(1 - a.lr * a.weightDecay),
    decays: a.weightDecay > 0,
    scaled: a.gradScale !== 1,
    scale: f32(a.gradScale),
  };
}

/** The AdamW loop on views; P1/M1/V1 may alias P/M/V (each element is read before it is written). */
function adamwLoop(P: Float32Array, G: Float32Array, M: Float32Array, V: Float32Array, P1: Float32Array, M1: Float32Array, V1: Float32Array, a: AdamWAttrs): void {
  const k = adamwConstants(a);
  const c = activeCKernels(); // the same loop in C (native/kernels.c), bit-identical
  if (c) return c.adamw(P, G, M, V, P1, M1, V1, P.length, k.b1, k.nb1, k.b2, k.nb2, k.sqrtBc2, k.stepSize, k.eps, k.keep, +k.decays, +k.scaled, k.scale);
  for (let i = 0; i < P.length; i++) {
    const g = k.scaled ? f32(G[i] * k.scale) : G[i];
    const m = f32(f32(M[i] * k.b1) + f32(g * k.nb1));
    const v = f32(f32(V[i] * k.b2) + f32(f32(g * g) * k.nb2));
    const denom = f32(f32(f32(Math.sqrt(v)) / k.sqrtBc2) + k.eps);
    const p = k.decays ? f32(P[i] * k.keep) : P[i];
    P1[i] = f32(p - f32(f32(m / denom) * k.stepSize));
    M1[i] = m;
    V1[i] = v;
  }
}

/** The SGD loop on views; P1/M1 may alias P/M. */
function sgdLoop(P: Float32Array, G: Float32Array, M: Float32Array, P1: Float32Array, M1: Float32Array, a: SgdAttrs): void {
  const wd = f32(a.weightDecay);
  const mu = f32(a.momentum);
  const lr = f32(a.lr);
  const scaled = a.gradScale !== 1;
  const scale = f32(a.gradScale);
  for (let i = 0; i < P.length; i++) {
    let g = scaled ? f32(G[i] * scale) : G[i];
    if (a.weightDecay > 0) g = f32(g + f32(P[i] * wd));
    const buf = a.momentum > 0 ? f32(f32(M[i] * mu) + g) : g;
    M1[i] = a.momentum > 0 ? buf : M[i];
    P1[i] = f32(P[i] - f32(buf * lr));
  }
}

/** The wasm backend's view of how many tensors share a tensor's bytes. */
interface RefCountingBackend extends HeapBackend {
  refCount(dataId: object): number;
}

/**
 * True when `p`'s bytes on the wasm heap belong to it alone, so an update may write them in place. A variable
 * shares its bytes after `v.assign(t)` while `t` lives, and with the copy `model.clone()` makes.
 */
export function ownsHeapBytes(p: tf.Tensor): boolean {
  return (tf.backend() as unknown as RefCountingBackend).refCount(p.dataId) === 1;
}

/** The wasm backend's tensor registry (the C side keeps an id -> memory table of its own). */
interface RegistryBackend {
  dataIdMap: { get(dataId: object): { id: number; memoryOffset: number } };
  wasm: { tfjs: { registerTensor(id: number, size: number, offset: number): void; disposeData(id: number): void } };
}

/**
 * After writing a tensor's bytes in place: XNNPACK caches an operator with a packed copy of a matmul's weights per
 * tensor id, which would now be stale. Unregistering the id on the C side drops those operators (and frees nothing:
 * the memory belongs to the JS side); registering it again at the same place makes the tensor usable as before.
 */
function forgetPackedCopies(t: tf.Tensor): void {
  const be = tf.backend() as unknown as RegistryBackend;
  const { id, memoryOffset } = be.dataIdMap.get(t.dataId);
  be.wasm.tfjs.disposeData(id);
  be.wasm.tfjs.registerTensor(id, t.size, memoryOffset);
}

/**
 * One AdamW step in place: the parameter's bytes on the wasm heap are overwritten (the caller makes sure nothing
 * else shares them: ownsHeapBytes), and the moments live in host memory, outside the 4 GiB wasm heap. The same
 * arithmetic as fusedAdamW, bit for bit, without allocating anything on the heap.
 */
export function adamwInPlace(p: tf.Tensor, g: tf.Tensor, m: Float32Array, v: Float32Array, attrs: AdamWAttrs): void {
  const be = tf.backend() as unknown as HeapBackend;
  const P = be.typedArrayFromHeap(p) as Float32Array;
  adamwLoop(P, be.typedArrayFromHeap(g) as Float32Array, m, v, P, m, v, attrs);
  forgetPackedCopies(p);
}

/** One SGD step in place (see adamwInPlace); the momentum buffer lives in host memory. */
export function sgdInPlace(p: tf.Tensor, g: tf.Tensor, m: Float32Array, attrs: SgdAttrs): void {
  const be = tf.backend() as unknown as HeapBackend;
  const P = be.typedArrayFromHeap(p) as Float32Array;
  sgdLoop(P, be.typedArrayFromHeap(g) as Float32Array, m, P, m, attrs);
  forgetPackedCopies(p);
}

/** New [param, m, v] after one AdamW step on gradient g * gradScale (step counts from 1). */
export function fusedAdamW(p: tf.Tensor, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor, attrs: AdamWAttrs): [tf.Tensor, tf.Tensor, tf.Tensor] {
  return tf.engine().runKernel('WraplabAdamW', { p, g, m, v }, attrs as unknown as tf.NamedAttrMap) as unknown as [tf.Tensor, tf.Tensor, tf.Tensor];
}

/** New [param, momentum buffer] after one SGD step on gradient g * gradScale. */
export function fusedSgd(p: tf.Tensor, g: tf.Tensor, m: tf.Tensor, attrs: SgdAttrs): [tf.Tensor, tf.Tensor] {
  return tf.engine().runKernel('WraplabSgd', { p, g, m }, attrs as unknown as tf.NamedAttrMap) as unknown as [tf.Tensor, tf.Tensor];
}

/** Sum of x^2 over a float32 tensor, read off the wasm heap and accumulated in float64. */
export function heapSumOfSquares(x: tf.Tensor): number {
  const be = tf.backend() as unknown as HeapBackend;
  const view = be.typedArrayFromHeap(x) as Float32Array;
  let s = 0;
  for (let i = 0; i < view.length; i++) s += view[i] * view[i];
  return s;
}

// ---------------------------------------------------------------------------------------------------
// Layernorm over the last axis: y = (x - mean) / sqrt(var + eps) * w + b, var the population variance.
// ---------------------------------------------------------------------------------------------------

function layerNormKernel(args: KernelArgs): tf.TensorInfo[] {
  const x = args.inputs.x as tf.TensorInfo;
  const eps = (args.attrs as unknown as { eps: number }).eps;
  const D = x.shape[x.shape.length - 1];
  const rows = sizeOf(x.shape) / D;
  return withViews(args, ['x', 'w', 'b'], [x.shape, [rows], [rows]], ([X, W, B], [Y, MEAN, RSTD]) => {
    const c = activeCKernels();
    if (c) return c.layernorm(X, W, B, Y, MEAN, RSTD, rows, D, eps);
    for (let r = 0, o = 0; r < rows; r++, o += D) {
      let s = 0;
      for (let j = 0; j < D; j++) s += X[o + j];
      const mean = s / D;
      let ss = 0;
      for (let j = 0; j < D; j++) {
        const d = X[o + j] - mean;
        ss += d * d;
      }
      const rstd = 1 / Math.sqrt(ss / D + eps);
      MEAN[r] = mean;
      RSTD[r] = rstd;
      for (let j = 0; j < D; j++) Y[o + j] = (X[o + j] - mean) * rstd * W[j] + B[j];
    }
  });
}

/** dx = rstd (g - mean(g) - xhat mean(g xhat)) with g = dy w; dw = sum over rows of dy xhat; db = sum of dy. */
function layerNormGradKernel(args: KernelArgs): tf.TensorInfo[] {
  const x = args.inputs.x as tf.TensorInfo;
  const D = x.shape[x.shape.length - 1];
  const rows = sizeOf(x.shape) / D;
  return withViews(args, ['dy', 'x', 'w', 'mean', 'rstd'], [x.shape, [D], [D]], ([DY, X, W, MEAN, RSTD], [DX, DW, DB]) => {
    const c = activeCKernels();
    if (c && c.layernormGrad(DY, X, W, MEAN, RSTD, DX, DW, DB, rows, D) === 0) return;
    const dw = new Float64Array(D);
    const db = new Float64Array(D);
    const xhat = new Float64Array(D);
    for (let r = 0, o = 0; r < rows; r++, o += D) {
      const mean = MEAN[r];
      const rstd = RSTD[r];
      let sumG = 0;
      let sumGX = 0;
      for (let j = 0; j < D; j++) {
        const xh = (X[o + j] - mean) * rstd;
        const dy = DY[o + j];
        const g = dy * W[j];
        xhat[j] = xh;
        sumG += g;
        sumGX += g * xh;
        dw[j] += dy * xh;
        db[j] += dy;
      }
      const meanG = sumG / D;
      const meanGX = sumGX / D;
      for (let j = 0; j < D; j++) DX[o + j] = rstd * (DY[o + j] * W[j] - meanG - xhat[j] * meanGX);
    }
    DW.set(dw);
    DB.set(db);
  });
}

/** Layernorm over the last axis with weight w and bias b ([D] each); differentiable in x, w and b. */
export function fusedLayerNorm(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor {
  const op = tf.customGrad(((xIn: tf.Tensor, wIn: tf.Tensor, bIn: tf.Tensor, save: tf.GradSaveFunc) => {
    const [y, mean, rstd] = tf.engine().runKernel('WraplabLayerNorm', { x: xIn, w: wIn, b: bIn }, { eps }) as unknown as tf.Tensor[];
    save([xIn, wIn, mean, rstd]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws, means, rstds] = saved;
      return tf.engine().runKernel('WraplabLayerNormGrad', { dy, x: xs, w: ws, mean: means, rstd: rstds }, {}) as unknown as tf.Tensor[];
    };
    return { value: y, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (op as unknown as (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.Tensor)(x, w, b);
}

// ---------------------------------------------------------------------------------------------------
// RMSNorm over the last axis: y = x / sqrt(mean(x^2) + eps) * w (LLaMA's norm; no mean, no bias).
// ---------------------------------------------------------------------------------------------------

function rmsNormKernel(args: KernelArgs): tf.TensorInfo[] {
  const x = args.inputs.x as tf.TensorInfo;
  const eps = (args.attrs as unknown as { eps: number }).eps;
  const D = x.shape[x.shape.length - 1];
  const rows = sizeOf(x.shape) / D;
  return withViews(args, ['x', 'w'], [x.shape, [rows]], ([X, W], [Y, RSTD]) => {
    const c = activeCKernels();
    if (c) return c.rmsnorm(X, W, Y, RSTD, rows, D, eps);
    for (let r = 0, o = 0; r < rows; r++, o += D) {
      let ss = 0;
      for (let j = 0; j < D; j++) ss += X[o + j] * X[o + j];
      const rstd = 1 / Math.sqrt(ss / D + eps);
      RSTD[r] = rstd;
      for (let j = 0; j < D; j++) Y[o + j] = X[o + j] * rstd * W[j];
    }
  });
}

/** dx = rstd (g - xhat mean(g xhat)) with g = dy w, xhat = x rstd; dw = sum over rows of dy xhat. */
function rmsNormGradKernel(args: KernelArgs): tf.TensorInfo[] {
  const x = args.inputs.x as tf.TensorInfo;
  const D = x.shape[x.shape.length - 1];
  const rows = sizeOf(x.shape) / D;
  return withViews(args, ['dy', 'x', 'w', 'rstd'], [x.shape, [D]], ([DY, X, W, RSTD], [DX, DW]) => {
    const c = activeCKernels();
    if (c && c.rmsnormGrad(DY, X, W, RSTD, DX, DW, rows, D) === 0) return;
    const dw = new Float64Array(D);
    for (let r = 0, o = 0; r < rows; r++, o += D) {
      const rstd = RSTD[r];
      let sumGX = 0;
      for (let j = 0; j < D; j++) {
        const xh = X[o + j] * rstd;
        sumGX += DY[o + j] * W[j] * xh;
        dw[j] += DY[o + j] * xh;
      }
      const meanGX = sumGX / D;
      for (let j = 0; j < D; j++) DX[o + j] = rstd * (DY[o + j] * W[j] - X[o + j] * rstd * meanGX);
    }
    DW.set(dw);
  });
}

/** RMSNorm over the last axis with weight w [D]; differentiable in x and w. */
export function fusedRmsNorm(x: tf.Tensor, w: tf.Tensor, eps: number): tf.Tensor {
  const op = tf.customGrad(((xIn: tf.Tensor, wIn: tf.Tensor, save: tf.GradSaveFunc) => {
    const [y, rstd] = tf.engine().runKernel('WraplabRmsNorm', { x: xIn, w: wIn }, { eps }) as unknown as tf.Tensor[];
    save([xIn, wIn, rstd]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws, rstds] = saved;
      return tf.engine().runKernel('WraplabRmsNormGrad', { dy, x: xs, w: ws, rstd: rstds }, {}) as unknown as tf.Tensor[];
    };
    return { value: y, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (op as unknown as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor)(x, w);
}

// ---------------------------------------------------------------------------------------------------
// Rotary position embedding, rotate-half form: y = x cos + rotate(x) sin with rotate(x) = [-x2, x1]
// (x1, x2 the two halves of the last axis). The plain formulation takes two slices, a negation, a concat,
// two multiplies and an add, each a full pass with its own gradient. Every line below repeats the plain
// path's float32 roundings, so forward and gradient are bit-identical to it.
// ---------------------------------------------------------------------------------------------------

/** Visits every row of x [B, H, T, d] with the offset of its cos/sin row in tables [1 or B, 1, T, d]. */
function forEachRopeRow(x: tf.TensorInfo, table: tf.TensorInfo, visit: (row: number, tableRow: number) => void): void {
  const [B, H, T, d] = x.shape;
  const perBatch = table.shape[0] === 1 ? 0 : T * d;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < T; t++) visit(((b * H + h) * T + t) * d, b * perBatch + t * d);
    }
  }
}

function ropeKernel(args: KernelArgs): tf.TensorInfo[] {
  const x = args.inputs.x as tf.TensorInfo;
  const d = x.shape[3];
  const half = d / 2;
  return withViews(args, ['x', 'cos', 'sin'], [x.shape], ([X, COS, SIN], [Y]) => {
    forEachRopeRow(x, args.inputs.cos as tf.TensorInfo, (o, c) => {
      for (let j = 0; j < half; j++) {
        const x1 = X[o + j];
        const x2 = X[o + j + half];
        Y[o + j] = f32(f32(x1 * COS[c + j]) - f32(x2 * SIN[c + j]));
        Y[o + j + half] = f32(f32(x2 * COS[c + j + half]) + f32(x1 * SIN[c + j + half]));
      }
    });
  });
}

/** dx = dy cos + rotate^T(dy sin), rotate^T(u) = [u2, -u1]. */
function ropeGradKernel(args: KernelArgs): tf.TensorInfo[] {
  const dy = args.inputs.dy as tf.TensorInfo;
  const d = dy.shape[3];
  const half = d / 2;
  return withViews(args, ['dy', 'cos', 'sin'], [dy.shape], ([DY, COS, SIN], [DX]) => {
    forEachRopeRow(dy, args.inputs.cos as tf.TensorInfo, (o, c) => {
      for (let j = 0; j < half; j++) {
        const g1 = DY[o + j];
        const g2 = DY[o + j + half];
        DX[o + j] = f32(f32(g1 * COS[c + j]) + f32(g2 * SIN[c + j + half]));
        DX[o + j + half] = f32(f32(g2 * COS[c + j + half]) - f32(g1 * SIN[c + j]));
      }
    });
  });
}

/**
 * Rotary embedding of x [B, H, T, d] with cos/sin tables [1 or B, 1, T, d] (rotate-half layout, as
 * the Transformer's tables, shared or per row); differentiable in x (the tables are constants).
 */
export function fusedRope(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor {
  if (x.rank !== 4 || cos.rank !== 4 || (x.shape[3] as number) % 2 !== 0) throw new Error(`fusedRope: x [B,H,T,d] with even d and 4-D tables, got [${x.shape}] and [${cos.shape}]`);
  const op = tf.customGrad(((xIn: tf.Tensor, save: tf.GradSaveFunc) => {
    const [y] = tf.engine().runKernel('WraplabRope', { x: xIn, cos, sin }, {}) as unknown as tf.Tensor[];
    // The tables are saved: they may be intermediates (a slice of the model's table) that the gradient scope
    // would otherwise dispose before backprop reaches this op.
    save([cos, sin]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) =>
      (tf.engine().runKernel('WraplabRopeGrad', { dy, cos: saved[0], sin: saved[1] }, {}) as unknown as tf.Tensor[])[0];
    return { value: y, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (op as unknown as (a: tf.Tensor) => tf.Tensor)(x);
}

// ---------------------------------------------------------------------------------------------------
// SwiGLU's gating: h = silu(gate) * up, silu(g) = g sigmoid(g). Sigmoid stays the wasm kernel (XNNPACK,
// vectorised: a JS exp costs ~10 ns and V8's Math.exp ~20-30 ns per element, XNNPACK's ~1-2 ns); the
// kernels below fuse the products around it, forward bit-identical to the plain mul(mul(g, s), up).
// ---------------------------------------------------------------------------------------------------

function swiGluKernel(args: KernelArgs): tf.TensorInfo[] {
  const gate = args.inputs.gate as tf.TensorInfo;
  return withViews(args, ['gate', 'sig', 'up'], [gate.shape], ([G, S, U], [Y]) => {
    for (let i = 0; i < G.length; i++) Y[i] = f32(G[i] * S[i]) * U[i];
  });
}

/** dgate = dy up s (1 + g (1 - s)), dup = dy g s, with s = sigmoid(g). */
function swiGluGradKernel(args: KernelArgs): tf.TensorInfo[] {
  const gate = args.inputs.gate as tf.TensorInfo;
  return withViews(args, ['dy', 'gate', 'sig', 'up'], [gate.shape, gate.shape], ([DY, G, S, U], [DG, DU]) => {
    for (let i = 0; i < G.length; i++) {
      const g = G[i];
      const s = S[i];
      DG[i] = DY[i] * U[i] * s * (1 + g * (1 - s));
      DU[i] = DY[i] * g * s;
    }
  });
}

/** silu(gate) * up (same shapes); differentiable in both. */
export function fusedSwiGlu(gate: tf.Tensor, up: tf.Tensor): tf.Tensor {
  const op = tf.customGrad(((g: tf.Tensor, u: tf.Tensor, save: tf.GradSaveFunc) => {
    const sig = tf.sigmoid(g);
    const [y] = tf.engine().runKernel('WraplabSwiGlu', { gate: g, sig, up: u }, {}) as unknown as tf.Tensor[];
    save([g, sig, u]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) =>
      tf.engine().runKernel('WraplabSwiGluGrad', { dy, gate: saved[0], sig: saved[1], up: saved[2] }, {}) as unknown as tf.Tensor[];
    return { value: y, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (op as unknown as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor)(gate, up);
}

// ---------------------------------------------------------------------------------------------------
// Weighted softmax cross-entropy: loss = -sum_r w_r log softmax(logits_r)[t_r] / max(sum_r w_r, 1e-9).
// A target outside [0, V) contributes nothing (like the one-hot formulation it replaces).
// ---------------------------------------------------------------------------------------------------

function int32View(args: KernelArgs, name: string): Int32Array {
  return (args.backend as HeapBackend).typedArrayFromHeap(args.inputs[name] as tf.TensorInfo) as Int32Array;
}

/**
 * The loss from softmax(logits), computed beforehand by the wasm Softmax kernel (XNNPACK: vectorised, ~10x
 * faster than one JS exp per logit). With m the row's argmax, p_m = 1 / sum_j exp(L_j - L_m), so
 * log p_t = (L_t - L_m) + log p_m: exact to float32 rounding even where p_t itself underflows.
 */
function softmaxCrossEntropyKernel(args: KernelArgs): tf.TensorInfo[] {
  const logits = args.inputs.logits as tf.TensorInfo;
  const V = logits.shape[logits.shape.length - 1];
  const rows = sizeOf(logits.shape) / V;
  return withViews(args, ['logits', 'probs', 'weights'], [[]], ([L, P, Wt], [LOSS]) => {
    const T = int32View(args, 'targets');
    let total = 0;
    let weightSum = 0;
    for (let r = 0, o = 0; r < rows; r++, o += V) {
      weightSum += Wt[r];
      const t = T[r];
      if (!(t >= 0 && t < V) || Wt[r] === 0) continue;
      let m = o;
      for (let j = o + 1; j < o + V; j++) if (P[j] > P[m]) m = j;
      total += Wt[r] * (L[o + t] - L[m] + Math.log(P[m]));
    }
    LOSS[0] = -total / Math.max(weightSum, 1e-9);
  });
}

/** dlogits = dy * w_r / max(sum w, 1e-9) * (softmax(logits_r) - onehot(t_r)). */
function softmaxCrossEntropyGradKernel(args: KernelArgs): tf.TensorInfo[] {
  const probs = args.inputs.probs as tf.TensorInfo;
  const V = probs.shape[probs.shape.length - 1];
  const rows = sizeOf(probs.shape) / V;
  return withViews(args, ['dy', 'probs', 'weights'], [probs.shape], ([DY, P, Wt], [DL]) => {
    const T = int32View(args, 'targets');
    let weightSum = 0;
    for (let r = 0; r < rows; r++) weightSum += Wt[r];
    const scale = DY[0] / Math.max(weightSum, 1e-9);
    for (let r = 0, o = 0; r < rows; r++, o += V) {
      const c = scale * Wt[r];
      for (let j = 0; j < V; j++) DL[o + j] = c * P[o + j];
      const t = T[r];
      if (t >= 0 && t < V) DL[o + t] = c * (P[o + t] - 1);
    }
  });
}

/**
 * sum_r w_r CE(logits_r, t_r) / sum_r w_r for logits [..., V], int32 targets and float32 weights of the
 * leading shape. Differentiable in logits only (targets and weights are data).
 */
export function fusedWeightedCrossEntropy(logits: tf.Tensor, targets: tf.Tensor, weights: tf.Tensor): tf.Scalar {
  const op = tf.customGrad(((lg: tf.Tensor, save: tf.GradSaveFunc) => {
    const probs = tf.softmax(lg);
    const [loss] = tf.engine().runKernel('WraplabSoftmaxCrossEntropy', { logits: lg, probs, targets, weights }, {}) as unknown as tf.Tensor[];
    // targets and weights are saved too: they may be intermediates (a logit span's slices) that the
    // gradient scope would otherwise dispose before backprop reaches this op.
    save([probs, targets, weights]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) =>
      tf.engine().runKernel('WraplabSoftmaxCrossEntropyGrad', { dy, probs: saved[0], targets: saved[1], weights: saved[2] }, {}) as unknown as tf.Tensor;
    return { value: loss, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (op as unknown as (a: tf.Tensor) => tf.Scalar)(logits);
}

// ---------------------------------------------------------------------------------------------------
// GELU (tanh approximation) in one native pass each way, where the C kernels loaded (native/kernels.c
// wl_gelu: x * sigmoid(x (c1 x^2 + c2)), the plain formulation of model/kernels.ts, saving the sigmoid).
// ---------------------------------------------------------------------------------------------------

const GELU_C1 = f32(2 * Math.sqrt(2 / Math.PI) * 0.044715);
const GELU_C2 = f32(2 * Math.sqrt(2 / Math.PI));
const GELU_D1 = f32(6 * Math.sqrt(2 / Math.PI) * 0.044715);

function geluKernel(args: KernelArgs): tf.TensorInfo[] {
  const x = args.inputs.x as tf.TensorInfo;
  const c = activeCKernels();
  if (!c) throw new Error('WraplabGelu needs the native C kernels (fusedKernels.gelu checks nativeGeluActive first)');
  return withViews(args, ['x'], [x.shape, x.shape], ([X], [Y, G]) => c.gelu(X, Y, G, X.length, GELU_C1, GELU_C2));
}

function geluGradKernel(args: KernelArgs): tf.TensorInfo[] {
  const x = args.inputs.x as tf.TensorInfo;
  const c = activeCKernels();
  if (!c) throw new Error('WraplabGeluGrad needs the native C kernels');
  return withViews(args, ['dy', 'x', 'g'], [x.shape], ([DY, X, G], [DX]) => c.geluGrad(DY, X, G, DX, X.length, GELU_D1, GELU_C2));
}

/** True when GELU runs as one native kernel (the fused path with the C kernels loaded). */
export function nativeGeluActive(): boolean {
  return fusedOpsActive() && activeCKernels() !== null;
}

/** GELU (tanh approximation) through the native kernel pair; call only where nativeGeluActive(). */
export function nativeGelu(x: tf.Tensor): tf.Tensor {
  const op = tf.customGrad(((xIn: tf.Tensor, save: tf.GradSaveFunc) => {
    const [y, g] = tf.engine().runKernel('WraplabGelu', { x: xIn }, {}) as unknown as tf.Tensor[];
    save([xIn, g]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) =>
      tf.engine().runKernel('WraplabGeluGrad', { dy, x: saved[0], g: saved[1] }, {}) as unknown as tf.Tensor;
    return { value: y, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (op as unknown as (a: tf.Tensor) => tf.Tensor)(x);
}

let fusedRegistered = false;

/** Registers the fused kernels on the wasm backend (wasmKernels.registerWasmTrainingKernels calls this). */
export function registerFusedWasmKernels(): void {
  if (fusedRegistered) return;
  fusedRegistered = true;
  const kernels: [string, (args: KernelArgs) => tf.TensorInfo[]][] = [
    ['WraplabAdamW', adamwKernel],
    ['WraplabSgd', sgdKernel],
    ['WraplabLayerNorm', layerNormKernel],
    ['WraplabLayerNormGrad', layerNormGradKernel],
    ['WraplabRmsNorm', rmsNormKernel],
    ['WraplabRmsNormGrad', rmsNormGradKernel],
    ['WraplabRope', ropeKernel],
    ['WraplabRopeGrad', ropeGradKernel],
    ['WraplabSwiGlu', swiGluKernel],
    ['WraplabSwiGluGrad', swiGluGradKernel],
    ['WraplabSoftmaxCrossEntropy', softmaxCrossEntropyKernel],
    ['WraplabSoftmaxCrossEntropyGrad', softmaxCrossEntropyGradKernel],
    ['WraplabGelu', geluKernel],
    ['WraplabGeluGrad', geluGradKernel],
  ];
  for (const [kernelName, kernelFunc] of kernels) {
    if (!tf.getKernel(kernelName, 'wasm')) tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  }
}
