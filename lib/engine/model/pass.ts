/**
 * One forward pass's state: the hook points (mask, hook, cache), the parameters as this pass sees them (masked
 * where a mask names them), dropout, and the chosen kernels. The units (units.ts) do their maths through it.
 */
import * as tf from '@tensorflow/tfjs';
import type { ResolvedModelConfig } from './config';
import type { Kernels } from './kernels';

/** A function that sees (and may replace) the activation at a hook point. It must keep the shape. */
export type Hook = (activation: tf.Tensor, name: string) => tf.Tensor;

export interface PassOptions {
  /** Which activations to keep. */
  cache: (name: string) => boolean;
  /** Multiplicative masks by activation or parameter name (see ForwardOptions.masks). */
  masks: Record<string, tf.Tensor>;
  hooks: Record<string, Hook>;
  training: boolean;
  dropoutSeed: number;
}

export class ForwardPass {
  readonly cache: Record<string, tf.Tensor> = {};
  private dropoutCalls = 0;

  constructor(
    readonly config: ResolvedModelConfig,
    readonly kernels: Kernels,
    private readonly param: (name: string) => tf.Tensor,
    private readonly opts: PassOptions,
  ) {}

  /** How many dropout draws this pass has made (activation checkpointing replays a block from a count). */
  get dropoutCount(): number {
    return this.dropoutCalls;
  }

  set dropoutCount(n: number) {
    this.dropoutCalls = n;
  }

  /**
   * The same pass (config, kernels, masks, hooks, dropout) over other parameter tensors, caching nothing, its dropout
   * draws numbered from `dropoutStart`: activation checkpointing runs a block with it, and reruns it identically.
   */
  fork(param: (name: string) => tf.Tensor, dropoutStart: number): ForwardPass {
    const f = new ForwardPass(this.config, this.kernels, param, { ...this.opts, cache: () => false });
    f.dropoutCalls = dropoutStart;
    return f;
  }

  /** The hook point: mask, hook, cache — in that order. `unitAxes` are the axes a unit mask spans. */
  point<R extends tf.Tensor>(name: string, x: R, unitAxes: number[] = [x.rank - 1]): R {
    let y: tf.Tensor = x;
    const mask = this.opts.masks[name];
    if (mask) y = tf.mul(y, broadcastUnitMask(mask, y.shape, unitAxes, name));
    const hook = this.opts.hooks[name];
    if (hook) {
      y = hook(y, name);
      if (!arraysEqual(y.shape, x.shape)) throw new Error(`hook ${name} changed the shape [${x.shape}] -> [${y.shape}]`);
    }
    if (this.opts.cache(name)) this.cache[name] = y;
    return y as R;
  }

  /** A parameter as this pass uses it: times its mask when one names it (whole rows, or single weights). */
  W(name: string): tf.Tensor {
    const p = this.param(name);
    const mask = this.opts.masks[name];
    if (!mask) return p;
    if (arraysEqual(mask.shape, p.shape)) return tf.mul(p, mask);
    if (p.rank === 2 && mask.rank === 1 && mask.shape[0] === p.shape[0]) return tf.mul(p, tf.reshape(mask, [p.shape[0], 1]));
    throw new Error(`mask for ${name} must have shape [${p.shape}] or [${p.shape[0]}], got [${mask.shape}]`);
  }

  /** x [B, n, k] @ W [k, m] (+ b) -> [B, n, m], as one 2-D matmul (the fast path on every backend). */
  linear(x: tf.Tensor, wName: string, bName: string | null, transposeW = false): tf.Tensor3D {
    const w = this.W(wName) as tf.Tensor2D;
    const [nIn, nOut] = transposeW ? [w.shape[1], w.shape[0]] : w.shape;
    const [B, rows] = [x.shape[0] as number, x.shape[1] as number];
    let y = tf.matMul(tf.reshape(x, [B * rows, nIn]), w, false, transposeW);
    if (bName) y = tf.add(y, this.W(bName));
    return tf.reshape(y, [B, rows, nOut]);
  }

  /** Dropout, active only while training with config.dropout > 0; each call draws its own seeded noise. */
  dropout(x: tf.Tensor): tf.Tensor {
    if (!this.opts.training || this.config.dropout === 0) return x;
    this.dropoutCalls++;
    return tf.dropout(x, this.config.dropout, undefined, this.opts.dropoutSeed * 7919 + this.dropoutCalls);
  }
}

/** Reshapes a unit mask so it broadcasts over an activation whose unit axes are `unitAxes`. */
function broadcastUnitMask(mask: tf.Tensor, shape: number[], unitAxes: number[], name: string): tf.Tensor {
  const unitShape = unitAxes.map((a) => shape[a]);
  const target = shape.map((n, a) => (unitAxes.includes(a) ? n : 1));
  if (arraysEqual(mask.shape, unitShape)) return tf.reshape(mask, target);
  // A mask over the first unit axis only (e.g. whole heads of attn.z [nHeads] of [nHeads, dHead]).
  if (mask.rank === 1 && mask.shape[0] === unitShape[0]) {
    return tf.reshape(mask, shape.map((n, a) => (a === unitAxes[0] ? n : 1)));
  }
  throw new Error(`mask for ${name} must have shape [${unitShape}] (or [${unitShape[0]}]), got [${mask.shape}]`);
}

export function arraysEqual(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
