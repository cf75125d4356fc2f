/**
 * Sampling from a Transformer: batched, seeded, with a key/value cache.
 *
 * `Transformer.forward` recomputes the whole prefix, so a story of n tokens costs n full passes. Here an
 * `IncrementalDecoder` runs the same maths (same parameters, same norm / activation / position kinds)
 * one new position at a time, keeping each layer's keys and values. Prompts of different lengths are
 * left-padded into one batch; pad columns are masked out of attention, and every row's positions
 * count from its own first token, so a row's logits do not depend on its neighbours (tests compare
 * them with `forward` on the unpadded row). No hooks or masks here: this is for producing text, the
 * analyses use `forward`.
 */
import * as tf from '@tensorflow/tfjs';
import { fusedOpsActive, fusedRmsNorm, fusedRope, fusedSwiGlu } from './fused';
import { Transformer, gelu } from './model';
import { Rng } from './rng';

export interface GenerateOptions {
  /** Most tokens to add per prompt (the prompt plus these must fit the context length). */
  maxNewTokens: number;
  /** Softmax temperature; 0 = greedy (argmax). */
  temperature?: number;
  /** Row b samples from Rng.derive(seed, 'generate', b): same seed and prompts, same output. */
  seed: number;
  /** A row stops after sampling this id (e.g. EOS); the id is not included in the output. */
  stopId?: number;
}

/** Keys/values of every layer so far: [B, H, t, dHead]. */
interface LayerCache {
  k: tf.Tensor4D;
  v: tf.Tensor4D;
}

/**
 * Runs a model position by position over a batch. `prefill(prompts)` consumes the (left-padded) prompts
 * and returns the logits of each prompt's last position; `step(tokens)` appends one token per row and
 * returns the logits there. Call `dispose()` when done.
 */
export class IncrementalDecoder {
  private readonly model: Transformer;
  private cache: LayerCache[] = [];
  /** [B, t] additive attention bias per key column: 0 for real tokens, -1e9 for left padding. */
  private keyBias: tf.Tensor2D | null = null;
  /** Next position id of each row (its number of real tokens so far). */
  private positions: number[] = [];
  private columns = 0;

  constructor(model: Transformer) {
    this.model = model;
  }

  get length(): number {
    return this.columns;
  }

  /** Consumes the prompts (each at least one token). Returns logits [B, outputSize] at each prompt's end. */
  prefill(prompts: readonly (readonly number[])[]): Float32Array {
    if (this.columns > 0) throw new Error('IncrementalDecoder: prefill once, then step');
    if (prompts.length === 0 || prompts.some((p) => p.length === 0)) throw new Error('IncrementalDecoder: every prompt needs at least one token');
    const B = prompts.length;
    const P = Math.max(...prompts.map((p) => p.length));
    const tokens = new Int32Array(B * P);
    const pos = new Int32Array(B * P);
    const bias = new Float32Array(B * P);
    prompts.forEach((p, b) => {
      const pad = P - p.length;
      for (let t = 0; t < P; t++) {
        tokens[b * P + t] = t < pad ? p[0] : p[t - pad];
        pos[b * P + t] = Math.max(0, t - pad);
        bias[b * P + t] = t < pad ? -1e9 : 0;
      }
    });
    this.positions = prompts.map((p) => p.length);
    return this.run(tokens, pos, bias, B, P);
  }

  /** Appends one token per row; returns logits [B, outputSize] at the new position. */
  step(next: readonly number[]): Float32Array {
    const B = this.positions.length;
    if (next.length !== B) throw new Error(`IncrementalDecoder.step: ${next.length} tokens for ${B} rows`);
    const pos = Int32Array.from(this.positions);
    this.positions = this.positions.map((p) => p + 1);
    return this.run(Int32Array.from(next), pos, new Float32Array(B), B, 1);
  }

  dispose(): void {
    for (const c of this.cache) tf.dispose([c.k, c.v]);
    this.keyBias?.dispose();
    this.cache = [];
    this.keyBias = null;
  }

  /** One forward over `n` new columns (tokens, position ids, key bias all [B, n]); returns the last column's logits. */
  private run(tokens: Int32Array, pos: Int32Array, bias: Float32Array, B: number, n: number): Float32Array {
    const model = this.model;
    const c = model.config;
    if (this.columns + n > c.contextLength) throw new Error(`generate: ${this.columns + n} positions exceed the context length ${c.contextLength}`);
    const W = (name: string) => model.param(name);
    const H = c.nHeads;
    const dh = c.dHead;

    const newBias = tf.tensor2d(bias, [B, n]);
    const keyBias = this.keyBias ? tf.concat([this.keyBias, newBias], 1) : newBias.clone();
    newBias.dispose();
    this.keyBias?.dispose();
    this.keyBias = keyBias as tf.Tensor2D;
    const t0 = this.columns;
    const T = t0 + n;

    const kept: LayerCache[] = [];
    // The same fused kernels as Transformer.forward (fewer, bigger ops per decoded token on wasm).
    const fused = fusedOpsActive();
    const out = tf.tidy(() => {
      const linear = (x: tf.Tensor, w: string, b: string | null): tf.Tensor => {
        const weight = W(w) as tf.Tensor2D;
        const rows = x.size / weight.shape[0];
        let y = tf.matMul(tf.reshape(x, [rows, weight.shape[0]]), weight);
        if (b && c.bias) y = tf.add(y, W(b));
        return tf.reshape(y, [B, rows / B, weight.shape[1]]);
      };
      const norm = (x: tf.Tensor, prefix: string): tf.Tensor => {
        if (c.norm === 'none') return x;
        if (c.norm === 'rmsnorm' && fused) return fusedRmsNorm(x, W(`${prefix}.w`), 1e-5);
        if (c.norm === 'rmsnorm') return tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), 1e-5))), W(`${prefix}.w`));
        const { mean, variance } = tf.moments(x, -1, true);
        return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), W(`${prefix}.w`)), W(`${prefix}.b`));
      };
      const posIds = tf.tensor1d(pos, 'int32');
      let x: tf.Tensor = tf.reshape(tf.gather(W('embed.W_E'), tf.tensor1d(tokens, 'int32')), [B, n, c.dModel]);
      if (c.positions === 'learned') x = tf.add(x, tf.reshape(tf.gather(W('pos_embed.W_pos'), posIds), [B, n, c.dModel]));
      // Rotary tables per (row, column) position, [B, 1, n, dHead], in Transformer.rope's rotate-half layout.
      let cos: tf.Tensor | null = null;
      let sin: tf.Tensor | null = null;
      if (c.positions === 'rope') {
        const half = dh / 2;
        const cs = new Float32Array(B * n * dh);
        const sn = new Float32Array(B * n * dh);
        for (let i = 0; i < B * n; i++) {
          for (let j = 0; j < half; j++) {
            const angle = pos[i] * Math.pow(10000, (-2 * j) / dh);
            cs[i * dh + j] = cs[i * dh + j + half] = Math.cos(angle);
            sn[i * dh + j] = sn[i * dh + j + half] = Math.sin(angle);
          }
        }
        cos = tf.tensor4d(cs, [B, 1, n, dh]);
        sin = tf.tensor4d(sn, [B, 1, n, dh]);
      }
      const rope = (q: tf.Tensor): tf.Tensor => {
        if (!cos || !sin) return q;
        if (fused) return fusedRope(q, cos, sin);
        const x1 = tf.slice(q, [0, 0, 0, 0], [-1, -1, -1, dh / 2]);
        const x2 = tf.slice(q, [0, 0, 0, dh / 2], [-1, -1, -1, dh / 2]);
        return tf.add(tf.mul(q, cos), tf.mul(tf.concat([tf.neg(x2), x1], -1), sin));
      };
      // Attention bias [B, 1, n, T]: padding keys, and (for a multi-column prefill) keys after the query.
      let attnBias: tf.Tensor = tf.reshape(keyBias, [B, 1, 1, T]);
      if (n > 1) {
        const causal = new Float32Array(n * T);
        for (let i = 0; i < n; i++) for (let j = t0 + i + 1; j < T; j++) causal[i * T + j] = -1e9;
        attnBias = tf.add(attnBias, tf.tensor4d(causal, [1, 1, n, T]));
      }
      for (let i = 0; i < c.nLayers; i++) {
        const p = `blocks.${i}`;
        const h = norm(x, `${p}.ln1`);
        const heads = (m: string) => tf.transpose(tf.reshape(linear(h, `${p}.attn.W_${m}`, `${p}.attn.b_${m}`), [B, n, H, dh]), [0, 2, 1, 3]);
        const q = rope(heads('Q'));
        let k = rope(heads('K'));
        let v = heads('V');
        const prev = this.cache[i];
        if (prev) {
          k = tf.concat([prev.k, k], 2);
          v = tf.concat([prev.v, v], 2);
        }
        kept.push({ k: tf.keep(k) as tf.Tensor4D, v: tf.keep(v) as tf.Tensor4D });
        const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(dh)), attnBias);
        const z = tf.transpose(tf.matMul(tf.softmax(scores), v), [0, 2, 1, 3]);
        x = tf.add(x, linear(z, `${p}.attn.W_O`, `${p}.attn.b_O`));
        const h2 = norm(x, `${p}.ln2`);
        const pre = linear(h2, `${p}.mlp.W_in`, `${p}.mlp.b_in`);
        let hidden: tf.Tensor;
        if (c.activation === 'relu') hidden = tf.relu(pre);
        else if (c.activation === 'gelu') hidden = gelu(pre);
        else {
          const gate = linear(h2, `${p}.mlp.W_gate`, `${p}.mlp.b_gate`);
          hidden = fused ? fusedSwiGlu(gate, pre) : tf.mul(tf.mul(gate, tf.sigmoid(gate)), pre);
        }
        x = tf.add(x, linear(hidden, `${p}.mlp.W_out`, `${p}.mlp.b_out`));
      }
      const last = tf.slice(x, [0, n - 1, 0], [B, 1, c.dModel]);
      return linear(norm(last, 'ln_final'), 'unembed.W_U', 'unembed.b_U');
    });
    const logits = out.dataSync() as Float32Array;
    out.dispose();
    for (const old of this.cache) tf.dispose([old.k, old.v]);
    this.cache = kept;
    this.columns = T;
    return logits;
  }
}

/** Samples an index from logits at a temperature (0 = argmax). */
export function sampleLogits(logits: ArrayLike<number>, temperature: number, rng: Rng): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  if (temperature <= 0) return best;
  const weights = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) weights[i] = Math.exp((logits[i] - logits[best]) / temperature);
  return rng.categorical(weights);
}

/**
 * Continues every prompt by sampling up to maxNewTokens tokens (or until stopId). Returns the new
 * tokens of each row (prompt and stop token excluded). Deterministic: same model, prompts and seed,
 * same output.
 */
export function generate(model: Transformer, prompts: readonly (readonly number[])[], opts: GenerateOptions): number[][] {
  const temperature = opts.temperature ?? 1;
  const B = prompts.length;
  if (B === 0) return [];
  const room = model.config.contextLength - Math.max(...prompts.map((p) => p.length));
  const steps = Math.min(opts.maxNewTokens, room);
  if (steps < 0) throw new Error(`generate: a prompt is longer than the context length ${model.config.contextLength}`);
  const rngs = prompts.map((_, b) => Rng.derive(opts.seed, 'generate', b));
  const V = model.config.outputSize;
  const out: number[][] = prompts.map(() => []);
  const done = prompts.map(() => steps === 0);
  const decoder = new IncrementalDecoder(model);
  try {
    let logits = decoder.prefill(prompts);
    for (let s = 0; s < steps; s++) {
      const next = new Array<number>(B);
      for (let b = 0; b < B; b++) {
        // A finished row keeps feeding its stop token (its output is no longer read).
        if (done[b]) {
          next[b] = opts.stopId ?? 0;
          continue;
        }
        const id = sampleLogits(logits.subarray(b * V, (b + 1) * V), temperature, rngs[b]);
        next[b] = id;
        if (id === opts.stopId) done[b] = true;
        else out[b].push(id);
        if (out[b].length >= steps) done[b] = true;
      }
      if (done.every(Boolean)) break;
      logits = decoder.step(next);
    }
  } finally {
    decoder.dispose();
  }
  return out;
}
