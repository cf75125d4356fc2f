/**
 * Stage 1-2 of the compiler: the program's expression graph and every S-Op's value set.
 *
 * Value sets decide the residual layout (one direction per value of a categorical S-Op) and the
 * MLP tables, exactly as Tracr's basis inference does:
 *   tokens = vocab; indices = 0..N-1; selectorWidth = 0..N; map = f(each input value);
 *   sequenceMap = f over the product; categorical aggregate = its input's set;
 *   numerical aggregate of 0/1 values = every fraction j/k (k = 1..N), and 0 (the default).
 */
import { compareValues } from './basis';
import { AnyExpr, AnySOp, Select, SOp, TracrCompileError, Value } from './rasp';

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

/**
 * Walks the program from its output and infers value sets. It assumes a well-formed program: compile
 * runs validate.ts's `checkProgram` first, which checks structure and encodings before calling this and
 * the value-set rules after.
 */
export function buildGraph(program: SOp, opts: GraphOptions): ProgramGraph {
  const order = postOrder(program);
  const sops = order.filter((e): e is AnySOp => e.kind !== 'select');
  const selects = order.filter((e): e is Select => e.kind === 'select');

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
        values = get(s.inner).map((x) => applyF(s, () => s.f(x), [x])).filter(notNull);
        break;
      case 'sequence_map':
        values = get(s.first).flatMap((x) => get(s.second).map((y) => applyF(s, () => s.f(x, y), [x, y]))).filter(notNull);
        break;
      case 'aggregate':
        values = s.encoding === 'categorical' ? get(s.sop) : numericalAggregateValues(N);
        break;
    }
    valueSets.set(s, sortUnique(values));
  }
  return { output: program as AnySOp, sops, selects, valueSets };
}

/** Every expression the program reads, children before parents, each once. */
export function postOrder(program: SOp): AnyExpr[] {
  const order: AnyExpr[] = [];
  const seen = new Set<AnyExpr>();
  const visit = (e: AnyExpr): void => {
    if (seen.has(e)) return;
    seen.add(e);
    for (const c of e.children()) visit(c as AnyExpr);
    order.push(e);
  };
  visit(program as AnySOp);
  return order;
}

/** Calls a map's f on one input value; a throw or a result RASP cannot hold is the user's to fix, by name. */
function applyF(s: AnySOp, call: () => unknown, args: Value[]): Value | null {
  const at = `${s.kind} "${s.label}" on input ${args.map((a) => JSON.stringify(a)).join(', ')}`;
  let y: unknown;
  try {
    y = call();
  } catch (err) {
    throw new TracrCompileError(s.label, 'function-throws', `${at}: f throws (${(err as Error).message}). Every value of the input's value set reaches f at compile time; make f total on them (return null for "undefined here").`);
  }
  if (y === null || typeof y === 'string' || typeof y === 'boolean' || (typeof y === 'number' && Number.isFinite(y))) return y;
  throw new TracrCompileError(s.label, 'bad-value', `${at}: f returned ${typeof y === 'number' ? String(y) : typeof y}, which no residual direction can hold. Return a string, a finite number, a boolean, or null.`);
}

/**
 * Means a numerical head can output over 0/1 inputs: 0 (the default) and every j/k, k = 1..N. The
 * validator rejects numerical aggregates over other inputs, whose means this set would not cover.
 */
function numericalAggregateValues(N: number): Value[] {
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
