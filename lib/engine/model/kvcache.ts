/**
 * The key/value cache of incremental decoding. A forward pass given a cache attends to the keys and values of
 * every earlier pass as well as its own, numbers its positions after the earlier ones, and appends its keys and
 * values. Sampling (generate.ts) is nothing but forward passes through one cache, so hooks and masks act while
 * generating exactly as in any other pass.
 *
 * Padding: a pass may mark tokens as padding (left-padded prompts of different lengths). A padded key is masked
 * out of every later query, and a row's positions count only its real tokens, so a row's outputs do not depend on
 * how much padding its batch needed.
 */
import * as tf from '@tensorflow/tfjs';

interface LayerEntry {
  k: tf.Tensor4D;
  v: tf.Tensor4D;
}

export class KVCache {
  private layers: (LayerEntry | undefined)[] = [];
  private pending: (LayerEntry | undefined)[] = [];
  /** Per row and column so far: 1 = padding. */
  private padRows: Uint8Array[] = [];
  /** Per row: real tokens so far (the next real token's position id). */
  private realCounts: number[] = [];
  private columnCount = 0;
  private sawPadding = false;

  constructor(readonly batchSize: number) {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`KVCache: batch size must be a positive integer, got ${batchSize}`);
    this.padRows = Array.from({ length: batchSize }, () => new Uint8Array(0));
    this.realCounts = new Array(batchSize).fill(0);
  }

  /** Columns (positions, padding included) held so far. */
  get length(): number {
    return this.columnCount;
  }

  /** Keys and values of a layer so far ([B, nKVHeads, length, dHead]), or undefined before the first pass. */
  entry(layer: number): LayerEntry | undefined {
    return this.layers[layer];
  }

  /**
   * Position ids of the next `n` columns and the key padding of every column (old and new), for one pass.
   * `padding` ([B][n], true = padding) is optional.
   */
  plan(n: number, padding?: readonly (readonly boolean[])[]): { positions: Int32Array; keyPadding: Uint8Array[] | null } {
    const B = this.batchSize;
    if (padding && (padding.length !== B || padding.some((r) => r.length !== n))) {
      throw new Error(`padding must be [${B}][${n}] (one flag per token), got [${padding.length}][${padding[0]?.length}]`);
    }
    const positions = new Int32Array(B * n);
    const keyPadding = padding || this.sawPadding ? [] as Uint8Array[] : null;
    for (let b = 0; b < B; b++) {
      let real = this.realCounts[b];
      const row = keyPadding ? new Uint8Array(this.columnCount + n) : null;
      if (row) row.set(this.padRows[b]);
      for (let t = 0; t < n; t++) {
        const pad = padding?.[b][t] ?? false;
        positions[b * n + t] = real;
        if (!pad) real++;
        if (row) row[this.columnCount + t] = pad ? 1 : 0;
      }
      if (row) keyPadding!.push(row);
    }
    return { positions, keyPadding };
  }

  /** Holds a layer's full keys and values of the pass in progress (kept from the pass's tidy). */
  stage(layer: number, k: tf.Tensor4D, v: tf.Tensor4D): void {
    const old = this.pending[layer];
    if (old) tf.dispose([old.k, old.v]);
    this.pending[layer] = { k: tf.keep(k), v: tf.keep(v) };
  }

  /** Ends a pass: its keys and values replace the earlier ones, its columns are appended. */
  commit(n: number, padding?: readonly (readonly boolean[])[]): void {
    for (let i = 0; i < this.pending.length; i++) {
      const next = this.pending[i];
      if (!next) continue;
      const old = this.layers[i];
      if (old) tf.dispose([old.k, old.v]);
      this.layers[i] = next;
    }
    this.pending = [];
    for (let b = 0; b < this.batchSize; b++) {
      const row = new Uint8Array(this.columnCount + n);
      row.set(this.padRows[b]);
      for (let t = 0; t < n; t++) {
        const pad = padding?.[b][t] ?? false;
        row[this.columnCount + t] = pad ? 1 : 0;
        if (!pad) this.realCounts[b]++;
      }
      this.padRows[b] = row;
    }
    if (padding?.some((r) => r.some(Boolean))) this.sawPadding = true;
    this.columnCount += n;
  }

  /** Drops a pass that failed half-way (its staged tensors), leaving the cache as it was. */
  abort(): void {
    for (const e of this.pending) if (e) tf.dispose([e.k, e.v]);
    this.pending = [];
  }

  dispose(): void {
    this.abort();
    for (const e of this.layers) if (e) tf.dispose([e.k, e.v]);
    this.layers = [];
  }
}
