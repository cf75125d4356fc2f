/**
 * Stage 1-2 of the compiler: the program's expression graph and every S-Op's value set.
 *
 * Value sets decide the residual layout (one direction per value of a categorical S-Op) and the
 * MLP tables, exactly as Tracr's basis inference does:
 *   tokens = vocab; indices = 0..N-1; selectorWidth = 0..N; map = f(each input value);
 *   sequenceMap = f over the product; categorical aggregate = its input's set;
 *   numerical aggregate of 0/1 values = every fraction j/k (k = 1..N), and 0 (the default).
 */
import { WraplabError } from '../../engine/errors';
import { compareValues } from './basis';
import { AnyExpr, AnySOp, Select, SOp, Value } from './rasp';

export interface GraphOptions {
  vocab: readonly Value[];
  maxSeqLen: number;
}

export interface ProgramGraph {
  output: AnySOp;
  /** Every S-Op the output depends on, children before parents (a topological order). */
  sops: AnySOp[];
  selects: Select[];
  /** Sorted, duplicate-free possible values of each S-Op. */
  valueSets: Map<AnySOp, Value[]>;
}

/** Walks the program from its output, checks it is compilable, and infers value sets. */
/** A program the compiler cannot turn into weights that compute exactly what `evaluate` computes. */
export class TracrCompileError extends WraplabError {}

const SOP_KINDS = ['tokens', 'indices', 'map', 'sequence_map', 'aggregate', 'selector_width'];

export function buildGraph(program: SOp, opts: GraphOptions): ProgramGraph {
  const p = program as unknown as { kind?: unknown; label?: unknown } | null;
  if (!p || typeof p !== 'object' || !SOP_KINDS.includes(p.kind as string)) {
    const what = p && typeof p === 'object' && p.kind === 'select' ? `a Select (${String(p.label)})` : p === null ? 'null' : typeof p === 'object' ? `an object of kind ${JSON.stringify(p.kind)}` : `${typeof p} ${JSON.stringify(p)}`;
    throw new TracrCompileError(`compile needs an S-Op (tokens, indices, map, sequenceMap, aggregate, selectorWidth) as the program, got ${what}; a Select becomes an S-Op through aggregate(...) or selectorWidth(...)`);
  }
  const order: AnyExpr[] = [];
  const seen = new Set<AnyExpr>();
  const visit = (e: AnyExpr): void => {
    if (seen.has(e)) return;
    seen.add(e);
    for (const c of e.children()) visit(c as AnyExpr);
    order.push(e); // post-order: children first
  };
  visit(program as AnySOp);

  const byLabel = new Map<string, AnyExpr>();
  for (const e of order) {
    const other = byLabel.get(e.label);
    if (other && other !== e) throw new Error(`two different expressions are labelled "${e.label}"; labels must be unique`);
    byLabel.set(e.label, e);
    if (e.label === 'one') throw new Error('the label "one" is reserved for the constant residual direction');
    if ((e.label === 'tokens' && e.kind !== 'tokens') || (e.label === 'indices' && e.kind !== 'indices')) {
      throw new Error(`the label "${e.label}" is reserved for the primitive`);
    }
  }

  const sops = order.filter((e): e is AnySOp => e.kind !== 'select');
  const selects = order.filter((e): e is Select => e.kind === 'select');
  for (const s of selects) validateSelect(s);
  for (const s of sops) validateSOp(s);

  const valueSets = new Map<AnySOp, Value[]>();
  const N = opts.maxSeqLen;
  const get = (s: SOp): Value[] => valueSets.get(s as AnySOp)!;
  for (const s of sops) {
    let values: Value[];
    switch (s.kind) {
      case 'tokens':
        values = [...opts.vocab];
        break;
      case 'indices':
        values = range(N);
        break;
      case 'selector_width':
        values = range(N + 1);
        break;
      case 'map':
        values = get(s.inner).map((x) => s.f(x)).filter(notNull);
        break;
      case 'sequence_map':
        values = get(s.first).flatMap((x) => get(s.second).map((y) => s.f(x, y))).filter(notNull);
        break;
      case 'aggregate':
        if (s.encoding === 'numerical' && !get(s.sop).every((v) => v === 0 || v === 1)) {
          // A mean over values other than 0/1 can take values outside any set this compiler tracks (2 and 0 average
          // to 0.5, 0.667, ...), so later MLPs would read it wrongly. Tracr's validator flags the same.
          throw new TracrCompileError(
            `${s.label}: a numerical aggregate averages only 0/1 values, but ${s.sop.label} takes ${JSON.stringify(get(s.sop))}; ` +
              'map its input to 0/1 first (e.g. numerical(map(x => x === v ? 1 : 0, ...))) and scale after the aggregate',
          );
        }
        values = s.encoding === 'categorical' ? get(s.sop) : numericalAggregateValues(get(s.sop), N);
        break;
    }
    valueSets.set(s, sortUnique(values));
  }
  return { output: program as AnySOp, sops, selects, valueSets };
}

function validateSelect(s: Select): void {
  for (const side of [s.keys, s.queries]) {
    if (side.encoding !== 'categorical') throw new TracrCompileError(`${s.label}: keys and queries must be categorical (${side.label} is numerical)`);
  }
}

function validateSOp(s: AnySOp): void {
  if (s.kind === 'tokens' || s.kind === 'indices') {
    if (s.encoding !== 'categorical') throw new TracrCompileError(`${s.label} must stay categorical`);
  }
  if (s.kind === 'selector_width' && s.encoding !== 'categorical') throw new TracrCompileError(`${s.label}: selectorWidth output must be categorical`);
  if (s.kind === 'sequence_map') {
    if (s.first.encoding !== 'categorical' || s.second.encoding !== 'categorical') {
      throw new TracrCompileError(`${s.label}: sequenceMap inputs must be categorical`);
    }
  }
  if (s.kind === 'aggregate') {
    if (s.encoding !== s.sop.encoding) throw new TracrCompileError(`${s.label}: aggregate encoding must match its input's`);
    if (s.encoding === 'categorical' && s.defaultValue !== null) throw new TracrCompileError(`${s.label}: a categorical aggregate's default must be null`);
    if (s.encoding === 'numerical' && s.defaultValue !== 0) throw new TracrCompileError(`${s.label}: a numerical aggregate's default must be 0`);

  }
}

/** Means a numerical head can output over 0/1 inputs (the only ones buildGraph admits): every j/k, and 0. */
function numericalAggregateValues(_input: Value[], N: number): Value[] {
  const out: number[] = [0];
  for (let k = 1; k <= N; k++) for (let j = 0; j <= k; j++) out.push(j / k);
  return out;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function notNull(v: Value | null): v is Value {
  return v !== null;
}

/** Sorted (booleans, numbers, strings) and unique by type and value. */
export function sortUnique(values: readonly Value[]): Value[] {
  const seen = new Set<string>();
  const out: Value[] = [];
  for (const v of values) {
    const k = `${typeof v}:${String(v)}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(v);
  }
  return out.sort(compareValues);
}
