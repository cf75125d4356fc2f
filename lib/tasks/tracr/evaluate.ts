/**
 * The reference RASP evaluator: the test oracle every compiled model is checked against.
 *
 * Rules (Tracr's DefaultRASPEvaluator, plus what its dynamic validator flags):
 * - Map/SequenceMap: f per position; null (Python None) propagates.
 * - Select: selected[q][k] = predicate(key_k, query_q); a null key or query selects nothing.
 *   With `causal`, keys after the query are never selected (what a causal compiled model computes).
 * - SelectorWidth: the number of selected keys.
 * - Aggregate: default when nothing is selected; categorical: the selected value when all selected
 *   keys hold the same value, otherwise *ambiguous* (null, or an error with `strict`) because the
 *   compiled head would output a mixture; numerical: the mean (booleans count as 0/1).
 */
import { AnyExpr, AnySOp, MaybeValue, pyEq, Select, SOp, Value } from './rasp';

export interface EvalOptions {
  /** Mask keys after the query position, as a causal compiled model does. Default false (plain RASP). */
  causal?: boolean;
  /** Throw on an ambiguous categorical Aggregate instead of returning null there. */
  strict?: boolean;
}

export class AmbiguousAggregateError extends Error {}

/** Value of `program` at every position of `input`. */
export function evaluate(program: SOp, input: readonly Value[], opts: EvalOptions = {}): MaybeValue[] {
  return new Evaluator(input, opts).sop(program as AnySOp);
}

/** Values of every S-Op the program reads, by label (for checking intermediate residual contents). */
export function evaluateAll(program: SOp, input: readonly Value[], opts: EvalOptions = {}): Map<string, MaybeValue[]> {
  const out = new Map<string, MaybeValue[]>();
  for (const [expr, value] of evaluateTrace(program, input, opts)) {
    if (expr.kind !== 'select') out.set(expr.label, value as MaybeValue[]);
  }
  return out;
}

/** Every expression's value: an S-Op's values per position, a Select's matrix selected[query][key]. */
export function evaluateTrace(program: SOp, input: readonly Value[], opts: EvalOptions = {}): Map<AnyExpr, MaybeValue[] | boolean[][]> {
  const ev = new Evaluator(input, opts);
  ev.sop(program as AnySOp);
  return ev.memo;
}

class Evaluator {
  readonly memo = new Map<AnyExpr, MaybeValue[] | boolean[][]>();
  constructor(
    private readonly input: readonly Value[],
    private readonly opts: EvalOptions,
  ) {}

  sop(e: AnySOp): MaybeValue[] {
    const hit = this.memo.get(e);
    if (hit) return hit as MaybeValue[];
    const value = this.compute(e);
    this.memo.set(e, value);
    return value;
  }

  selector(s: Select): boolean[][] {
    const hit = this.memo.get(s);
    if (hit) return hit as boolean[][];
    const keys = this.sop(s.keys as AnySOp);
    const queries = this.sop(s.queries as AnySOp);
    const matrix = queries.map((q, qi) =>
      keys.map((k, ki) => {
        if (this.opts.causal && ki > qi) return false;
        if (k === null || q === null) return false;
        return s.predicate.test(k, q);
      }),
    );
    this.memo.set(s, matrix);
    return matrix;
  }

  private compute(e: AnySOp): MaybeValue[] {
    const n = this.input.length;
    switch (e.kind) {
      case 'tokens':
        return [...this.input];
      case 'indices':
        return Array.from({ length: n }, (_, i) => i);
      case 'map': {
        const xs = this.sop(e.inner as AnySOp);
        return xs.map((x) => (x === null ? null : e.f(x)));
      }
      case 'sequence_map': {
        const xs = this.sop(e.first as AnySOp);
        const ys = this.sop(e.second as AnySOp);
        return xs.map((x, i) => {
          const y = ys[i];
          return x === null || y === null ? null : e.f(x, y);
        });
      }
      case 'selector_width':
        return this.selector(e.selector).map((row) => row.filter(Boolean).length);
      case 'aggregate': {
        const sel = this.selector(e.selector);
        const values = this.sop(e.sop as AnySOp);
        return sel.map((row, qi) => {
          const picked = values.filter((_, ki) => row[ki]);
          if (picked.length === 0) return e.defaultValue;
          if (picked.some((v) => v === null)) return null;
          const vs = picked as Value[];
          if (e.encoding === 'numerical') {
            if (vs.some((v) => typeof v === 'string')) throw new Error(`${e.label}: numerical aggregate of non-numeric values`);
            return vs.reduce((s: number, v) => s + Number(v), 0) / vs.length;
          }
          if (vs.every((v) => pyEq(v, vs[0]))) return vs[0];
          if (this.opts.strict) {
            throw new AmbiguousAggregateError(`${e.label}: query ${qi} would average different values ${JSON.stringify(vs)}`);
          }
          return null;
        });
      }
    }
  }
}
