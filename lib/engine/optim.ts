/**
 * Optimizers and learning-rate schedules, with PyTorch's semantics so numbers carry over from the paper:
 * - AdamW: decoupled weight decay (p -= lr * wd * p), bias-corrected moments (torch.optim.AdamW).
 * - SGD with momentum: buf = mu * buf + g; p -= lr * buf; optional L2 weight decay added to g (torch.optim.SGD).
 * - Schedules: linear warmup then cosine decay to minLrRatio * lr, or constant (after warmup).
 * Optimizer state is exportable so a resumed run continues bit-exactly.
 *
 * Where the optimizer keeps its moments (OptimizerStateLocation): on the wasm backend, 'host' keeps them in Node's
 * memory and updates each parameter where it lies on the wasm heap, so the 4 GiB heap holds only weights, gradients
 * and activations (AdamW's two moments are twice the model), and an update allocates nothing there. 'heap' keeps
 * them as tensors, as every other backend does. Both give the same numbers, bit for bit.
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { adamwInPlace, fusedAdamW, fusedOpsActive, fusedSgd, heapSumOfSquares, ownsHeapBytes, sgdInPlace } from './fused';

export const OptimizerConfigSchema = z
  .object({
    kind: z.enum(['adamw', 'sgd']),
    lr: z.number().positive(),
    beta1: z.number().min(0).max(1).default(0.9),
    beta2: z.number().min(0).max(1).default(0.95),
    eps: z.number().positive().default(1e-8),
    weightDecay: z.number().min(0).default(0.1),
    momentum: z.number().min(0).max(1).default(0.9),
    /** Global gradient-norm clip; 0 disables. */
    clipNorm: z.number().min(0).default(1.0),
  })
  .strict();
export type OptimizerConfig = z.output<typeof OptimizerConfigSchema>;
export type OptimizerConfigInput = z.input<typeof OptimizerConfigSchema>;

export const ScheduleConfigSchema = z
  .object({
    kind: z.enum(['cosine', 'constant']),
    /** Fraction of the run spent in linear warmup. */
    warmupFrac: z.number().min(0).max(1).default(0),
    /** Cosine decays to minLrRatio * lr. */
    minLrRatio: z.number().min(0).max(1).default(0.1),
  })
  .strict();
export type ScheduleConfig = z.output<typeof ScheduleConfigSchema>;
export type ScheduleConfigInput = z.input<typeof ScheduleConfigSchema>;

/** Learning rate for 0-based `step` of a run of `totalSteps`. */
export function learningRate(schedule: ScheduleConfig, maxLr: number, step: number, totalSteps: number): number {
  const warmup = Math.floor(schedule.warmupFrac * totalSteps);
  if (step < warmup) return (maxLr * (step + 1)) / warmup;
  if (schedule.kind === 'constant') return maxLr;
  const minLr = schedule.minLrRatio * maxLr;
  const span = Math.max(1, totalSteps - warmup);
  const progress = Math.min(1, (step - warmup) / span);
  return minLr + 0.5 * (maxLr - minLr) * (1 + Math.cos(Math.PI * progress));
}

/** Global L2 norm of all gradients (read straight off the wasm heap when the fused ops are active). */
export function globalGradNorm(grads: Record<string, tf.Tensor>): number {
  const gs = Object.values(grads);
  if (fusedOpsActive() && gs.every((g) => g.dtype === 'float32')) {
    let s = 0;
    for (const g of gs) s += heapSumOfSquares(g);
    return Math.sqrt(s);
  }
  const normT = tf.tidy(() => tf.sqrt(tf.addN(gs.map((g) => tf.sum(tf.square(g))))));
  const norm = normT.dataSync()[0];
  normT.dispose();
  return norm;
}

/** The factor torch.nn.utils.clip_grad_norm_ scales gradients by: max_norm / (norm + 1e-6) when norm > max_norm, else 1. */
export function clipScale(norm: number, maxNorm: number): number {
  return maxNorm > 0 && norm > maxNorm ? maxNorm / (norm + 1e-6) : 1;
}

/** Scales gradients in place of the originals so their global L2 norm is at most maxNorm; returns the norm before. */
export function clipByGlobalNorm(grads: Record<string, tf.Tensor>, maxNorm: number): { grads: Record<string, tf.Tensor>; norm: number } {
  const norm = globalGradNorm(grads);
  const scale = clipScale(norm, maxNorm);
  if (scale === 1) return { grads, norm };
  const out: Record<string, tf.Tensor> = {};
  for (const [n, g] of Object.entries(grads)) {
    out[n] = tf.mul(g, scale);
    g.dispose();
  }
  return { grads: out, norm };
}

/** 'auto': 'host' where it works (wasm backend with the fused ops), else 'heap'. */
export type OptimizerStateLocation = 'auto' | 'heap' | 'host';

export class Optimizer {
  readonly config: OptimizerConfig;
  /** Where the moments live (resolved from the option: never 'auto'). */
  readonly stateLocation: 'heap' | 'host';
  private readonly params: Map<string, tf.Variable>;
  private readonly decay: Set<string>;
  /** Adam first/second moments, or the SGD momentum buffer (in m), as tensors ('heap')... */
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  /** ...or in host memory ('host'). */
  private readonly hm = new Map<string, Float32Array>();
  private readonly hv = new Map<string, Float32Array>();
  stepCount = 0;

  /** Where 'auto' puts the moments for these parameters now; an error for 'host' where it cannot work. */
  static resolveStateLocation(state: OptimizerStateLocation, params: Map<string, tf.Variable>): 'heap' | 'host' {
    const hostable = fusedOpsActive() && [...params.values()].every((p) => p.dtype === 'float32');
    if (state === 'host' && !hostable) {
      throw new Error(`optimizer state 'host' needs the wasm backend with its fused ops (backend ${tf.getBackend()}); use 'auto' or 'heap'`);
    }
    return state === 'auto' ? (hostable ? 'host' : 'heap') : state;
  }

  /** `decayNames`: the parameters weight decay applies to (minGPT: matrices of linear maps). */
  constructor(config: OptimizerConfigInput, params: Map<string, tf.Variable>, decayNames: Iterable<string>, { state = 'auto' }: { state?: OptimizerStateLocation } = {}) {
    this.config = OptimizerConfigSchema.parse(config);
    this.params = params;
    this.decay = new Set(decayNames);
    this.stateLocation = Optimizer.resolveStateLocation(state, params);
    if (this.stateLocation === 'host') {
      for (const [name, p] of params) {
        this.hm.set(name, new Float32Array(p.size));
        if (this.config.kind === 'adamw') this.hv.set(name, new Float32Array(p.size));
      }
      return;
    }
    // tf.variable shares (and references) its initial tensor's data: dispose the initial tensor, or the moments'
    // memory is never freed (it leaked 2x the model per train() call before).
    const zeros = (p: tf.Variable) => {
      const z = tf.zerosLike(p);
      const v = tf.variable(z, false);
      z.dispose();
      return v;
    };
    for (const [name, p] of params) {
      this.m.set(name, zeros(p));
      if (this.config.kind === 'adamw') this.v.set(name, zeros(p));
    }
  }

  /**
   * One update with the given gradients (by parameter name) times `gradScale` (the clip factor; 1 = as
   * given) at learning rate lr. Disposes nothing it was given.
   */
  apply(grads: Record<string, tf.Tensor>, lr: number, gradScale = 1): void {
    this.stepCount++;
    if (this.stateLocation === 'host') return this.applyInPlace(grads, lr, gradScale);
    const fused = fusedOpsActive();
    tf.tidy(() => {
      for (const [name, g] of Object.entries(grads)) {
        const p = this.params.get(name);
        if (!p) throw new Error(`optimizer: gradient for unknown parameter ${name}`);
        if (fused && g.dtype === 'float32') this.updateFused(name, p, g, lr, gradScale);
        else this.updatePlain(name, p, gradScale === 1 ? g : tf.mul(g, gradScale), lr);
      }
    });
  }

  /** The update as tf ops (every backend); the fused kernels reproduce it rounding for rounding. */
  private updatePlain(name: string, p: tf.Variable, g: tf.Tensor, lr: number): void {
    const c = this.config;
    const wd = this.decay.has(name) ? c.weightDecay : 0;
    const m = this.m.get(name)!;
    if (c.kind === 'adamw') {
      const v = this.v.get(name)!;
      const m1 = tf.add(tf.mul(m, c.beta1), tf.mul(g, 1 - c.beta1));
      const v1 = tf.add(tf.mul(v, c.beta2), tf.mul(tf.square(g), 1 - c.beta2));
      const bc1 = 1 - Math.pow(c.beta1, this.stepCount);
      const bc2 = 1 - Math.pow(c.beta2, this.stepCount);
      // torch: p *= 1 - lr*wd; p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps)
      const denom = tf.add(tf.div(tf.sqrt(v1), Math.sqrt(bc2)), c.eps);
      let next: tf.Tensor = wd > 0 ? tf.mul(p, 1 - lr * wd) : p;
      next = tf.sub(next, tf.mul(tf.div(m1, denom), lr / bc1));
      m.assign(m1);
      v.assign(v1);
      p.assign(next);
    } else {
      const gg = wd > 0 ? tf.add(g, tf.mul(p, wd)) : g;
      const buf = c.momentum > 0 ? tf.add(tf.mul(m, c.momentum), gg) : gg;
      if (c.momentum > 0) m.assign(buf);
      p.assign(tf.sub(p, tf.mul(buf, lr)));
    }
  }

  /** The same update as one pass over param, gradient and moments (fused.ts). */
  private updateFused(name: string, p: tf.Variable, g: tf.Tensor, lr: number, gradScale: number): void {
    const c = this.config;
    const weightDecay = this.decay.has(name) ? c.weightDecay : 0;
    const m = this.m.get(name)!;
    if (c.kind === 'adamw') {
      const v = this.v.get(name)!;
      const [p1, m1, v1] = fusedAdamW(p, g, m, v, { lr, beta1: c.beta1, beta2: c.beta2, eps: c.eps, weightDecay, step: this.stepCount, gradScale });
      p.assign(p1);
      m.assign(m1);
      v.assign(v1);
    } else {
      const [p1, m1] = fusedSgd(p, g, m, { lr, momentum: c.momentum, weightDecay, gradScale });
      p.assign(p1);
      m.assign(m1);
    }
  }

  /** The update on the wasm heap in place, moments in host memory: nothing is allocated per step. */
  private applyInPlace(grads: Record<string, tf.Tensor>, lr: number, gradScale: number): void {
    const c = this.config;
    if (!fusedOpsActive()) throw new Error(`optimizer state 'host' needs the wasm backend with its fused ops (now: backend ${tf.getBackend()})`);
    for (const [name, g] of Object.entries(grads)) {
      const p = this.params.get(name);
      if (!p) throw new Error(`optimizer: gradient for unknown parameter ${name}`);
      // A parameter whose bytes another tensor shares (a clone of the model, the tensor it was assigned from)
      // gets bytes of its own first, so the in-place write changes this parameter only.
      if (!ownsHeapBytes(p)) {
        const copy = tf.mul(p, 1);
        p.assign(copy);
        copy.dispose();
      }
      const weightDecay = this.decay.has(name) ? c.weightDecay : 0;
      if (c.kind === 'adamw') {
        adamwInPlace(p, g, this.hm.get(name)!, this.hv.get(name)!, { lr, beta1: c.beta1, beta2: c.beta2, eps: c.eps, weightDecay, step: this.stepCount, gradScale });
      } else {
        sgdInPlace(p, g, this.hm.get(name)!, { lr, momentum: c.momentum, weightDecay, gradScale });
      }
    }
  }

  /** Bytes the moments take, and where. */
  stateBytes(): { heap: number; host: number } {
    let heap = 0;
    let host = 0;
    for (const t of [...this.m.values(), ...this.v.values()]) heap += t.size * 4;
    for (const a of [...this.hm.values(), ...this.hv.values()]) host += a.byteLength;
    return { heap, host };
  }

  /** Moments and step count, for checkpoints (host-memory moments are returned as they are, not copied). */
  getState(): { step: number; tensors: Record<string, Float32Array> } {
    const tensors: Record<string, Float32Array> = {};
    for (const [n, a] of this.hm) tensors[`m.${n}`] = a;
    for (const [n, a] of this.hv) tensors[`v.${n}`] = a;
    for (const [n, t] of this.m) tensors[`m.${n}`] = t.dataSync() as Float32Array;
    for (const [n, t] of this.v) tensors[`v.${n}`] = t.dataSync() as Float32Array;
    return { step: this.stepCount, tensors };
  }

  setState(state: { step: number; tensors: Record<string, ArrayLike<number>> }): void {
    for (const [prefix, store] of [['m', this.hm], ['v', this.hv]] as const) {
      for (const [n, a] of store) {
        const values = state.tensors[`${prefix}.${n}`];
        if (!values || values.length !== a.length) throw new Error(`optimizer state lacks ${prefix}.${n} (or its size differs)`);
        a.set(values);
      }
    }
    for (const [prefix, store] of [['m', this.m], ['v', this.v]] as const) {
      for (const [n, t] of store) {
        const values = state.tensors[`${prefix}.${n}`];
        if (!values || values.length !== t.size) throw new Error(`optimizer state lacks ${prefix}.${n} (or its size differs)`);
        const x = tf.tensor(Float32Array.from(values), t.shape);
        t.assign(x);
        x.dispose();
      }
    }
    this.stepCount = state.step;
  }

  dispose(): void {
    for (const t of this.m.values()) t.dispose();
    for (const t of this.v.values()) t.dispose();
    this.hm.clear();
    this.hv.clear();
  }
}
