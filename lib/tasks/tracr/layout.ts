/**
 * The residual stream of a compiled program, by name: which S-Op (and which of its values) each residual
 * dimension stands for, and where in the model each S-Op first appears. Decodes any residual activation
 * back to RASP values, per S-Op and position — the exact "probe" of a compiled model.
 */
import { actName } from '../../engine/model/names';
import { Direction, dirToString, Space } from './basis';
import { Encoding, MaybeValue, Value } from './rasp';

/** Where an S-Op is written: by the embeddings, or by the attention/MLP half of a layer. */
export type WrittenBy = { kind: 'embed' } | { kind: 'attn' | 'mlp'; layer: number };

export interface SOpLayout {
  label: string;
  encoding: Encoding;
  /** Categorical: the values, aligned with dims. Numerical: empty. */
  values: Value[];
  /** Residual dimensions (one per value, or the single scalar one). */
  dims: number[];
  writtenBy: WrittenBy;
}

export class ResidualLayout {
  readonly dModel: number;

  constructor(
    /** The residual basis, in order. */
    readonly space: Space,
    /** Every S-Op that has residual directions, by label. */
    readonly sops: Map<string, SOpLayout>,
  ) {
    this.dModel = space.size;
  }

  /** Readable name of residual dimension i, e.g. "count:3" or "one". */
  dimName(i: number): string {
    return dirToString(this.space.dirs[i]);
  }

  dimNames(): string[] {
    return this.space.dirs.map(dirToString);
  }

  index(d: Direction): number {
    return this.space.index(d);
  }

  /**
   * The first engine activation (cache name) whose residual holds this S-Op: `blocks.0.resid_pre` for
   * embeddings, `blocks.l.resid_mid` after an attention half, `blocks.l.resid_post` after an MLP half.
   */
  activationWith(label: string): string {
    const w = this.sop(label).writtenBy;
    if (w.kind === 'embed') return actName('resid_pre', 0);
    return actName(w.kind === 'attn' ? 'resid_mid' : 'resid_post', w.layer);
  }

  sop(label: string): SOpLayout {
    const s = this.sops.get(label);
    if (!s) throw new Error(`no S-Op labelled ${label} in this layout (known: ${[...this.sops.keys()].join(', ')})`);
    return s;
  }

  /**
   * Value of one S-Op at every position of a residual activation `residual` ([T, dModel] row-major; a
   * batch's row b can be passed as a subarray). Categorical: the value whose direction is largest, or
   * null when none reaches 0.5 (the zero vector is how a default/None aggregate looks). Numerical: the
   * scalar. With `dropBos` (default), position 0 is skipped so index i = RASP index i.
   */
  decodeSOp(label: string, residual: ArrayLike<number>, T: number, { dropBos = true } = {}): MaybeValue[] {
    const s = this.sop(label);
    const out: MaybeValue[] = [];
    for (let t = dropBos ? 1 : 0; t < T; t++) {
      const row = t * this.dModel;
      if (s.encoding === 'numerical') {
        out.push(residual[row + s.dims[0]]);
        continue;
      }
      let best = -1;
      let bestValue = -Infinity;
      s.dims.forEach((d, i) => {
        const v = residual[row + d];
        if (v > bestValue) {
          bestValue = v;
          best = i;
        }
      });
      out.push(best >= 0 && bestValue >= 0.5 ? s.values[best] : null);
    }
    return out;
  }

  /** decodeSOp for every S-Op present in the given activation (or all, if `labels` is given). */
  decode(residual: ArrayLike<number>, T: number, labels: readonly string[] = [...this.sops.keys()], opts = { dropBos: true }): Map<string, MaybeValue[]> {
    return new Map(labels.map((l) => [l, this.decodeSOp(l, residual, T, opts)]));
  }
}
