/**
 * RASP: the language Tracr compiles. Programs are expression graphs built from two primitive sequences
 * (`tokens`, `indices`), elementwise maps, selectors (which key positions each query position reads)
 * and the two ways to read through a selector (`aggregate`: the mean of the selected values;
 * `selectorWidth`: how many keys are selected).
 *
 * Semantics follow Tracr's Python RASP, including Python's `True == 1` (see `pyEq`): the paper's two
 * programs depend on it. The reference evaluator lives in evaluate.ts.
 */

/** A value an S-Op can hold at one position. `null` (Python's None) is kept separate: "undefined here". */
import { WraplabError } from '../../engine/errors';
export type Value = string | number | boolean;
export type MaybeValue = Value | null;

/** categorical: one-hot over the value set (one residual direction per value); numerical: one scalar direction. */
export type Encoding = 'categorical' | 'numerical';

/**
 * A program the compiler cannot turn into exact weights. `label` names the offending expression (or
 * describes what was passed), `rule` is the validator rule it breaks (see validate.ts).
 */
export class TracrCompileError extends WraplabError {
  constructor(
    readonly label: string,
    readonly rule: string,
    message: string,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------
// Python-like comparisons

/** Python `==` on RASP values: booleans count as 0/1 against numbers (True == 1), strings only equal strings. */
export function pyEq(a: MaybeValue, b: MaybeValue): boolean {
  if (a === null || b === null) return a === b;
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  return Number(a) === Number(b);
}

/** Python's ordering (-1/0/1): numbers and booleans numerically, strings by code point; mixing them throws like Python. */
export function pyCompare(a: Value, b: Value): number {
  const aStr = typeof a === 'string';
  const bStr = typeof b === 'string';
  if (aStr !== bStr) throw new TypeError(`cannot order ${JSON.stringify(a)} and ${JSON.stringify(b)} (Python raises TypeError)`);
  if (aStr && bStr) return a < b ? -1 : a > b ? 1 : 0;
  const x = Number(a);
  const y = Number(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** A selection rule, called as test(key, query) like Tracr's predicates. */
export interface Predicate {
  readonly name: string;
  test(key: Value, query: Value): boolean;
}

/** Tracr's `Comparison`: for LT the test is key < query. EQ/NEQ use pyEq. */
export type ComparisonName = 'EQ' | 'NEQ' | 'LT' | 'LEQ' | 'GT' | 'GEQ' | 'TRUE' | 'FALSE';

export const Comparison: Readonly<Record<ComparisonName, Predicate>> = {
  EQ: { name: 'EQ', test: (k: Value, q: Value) => pyEq(k, q) },
  NEQ: { name: 'NEQ', test: (k: Value, q: Value) => !pyEq(k, q) },
  LT: { name: 'LT', test: (k: Value, q: Value) => pyCompare(k, q) < 0 },
  LEQ: { name: 'LEQ', test: (k: Value, q: Value) => pyCompare(k, q) <= 0 },
  GT: { name: 'GT', test: (k: Value, q: Value) => pyCompare(k, q) > 0 },
  GEQ: { name: 'GEQ', test: (k: Value, q: Value) => pyCompare(k, q) >= 0 },
  TRUE: { name: 'TRUE', test: () => true },
  FALSE: { name: 'FALSE', test: () => false },
};

/** A custom predicate with a readable name, e.g. predicate('flag_at_1', (flag, idx) => flag === true && idx === 1). */
export function predicate(name: string, test: (key: Value, query: Value) => boolean): Predicate {
  return { name, test };
}

// ---------------------------------------------------------------------------------------------
// Expressions

let nextId = 1;

/** Base of every RASP expression: a unique id and a label (Tracr style `map_3`, or a name you give it). */
export abstract class RaspExpr {
  readonly id: number;
  label: string;
  abstract readonly kind: string;

  constructor(defaultName: string) {
    this.id = nextId++;
    this.label = `${defaultName}_${this.id}`;
  }

  /** Sets the label (used for residual directions and decoding); returns this for chaining. */
  named(label: string): this {
    this.label = label;
    return this;
  }

  /** The expressions this one reads. */
  abstract children(): RaspExpr[];
}

/** A sequence operation: maps the input sequence to one value per position. */
export abstract class SOp extends RaspExpr {
  encoding: Encoding = 'categorical';
}

export class TokensSOp extends SOp {
  readonly kind = 'tokens';
  constructor() {
    super('tokens');
    this.label = 'tokens';
  }
  children(): RaspExpr[] {
    return [];
  }
}

export class IndicesSOp extends SOp {
  readonly kind = 'indices';
  constructor() {
    super('indices');
    this.label = 'indices';
  }
  children(): RaspExpr[] {
    return [];
  }
}

export class MapSOp extends SOp {
  readonly kind = 'map';
  constructor(
    readonly f: (x: Value) => Value | null,
    readonly inner: SOp,
  ) {
    super('map');
  }
  children(): RaspExpr[] {
    return [this.inner];
  }
}

export class SequenceMapSOp extends SOp {
  readonly kind = 'sequence_map';
  constructor(
    readonly f: (x: Value, y: Value) => Value | null,
    readonly first: SOp,
    readonly second: SOp,
  ) {
    super('sequence_map');
  }
  children(): RaspExpr[] {
    return [this.first, this.second];
  }
}

/** Which keys each query reads: selected[q][k] = predicate(keys[k], queries[q]). */
export class Select extends RaspExpr {
  readonly kind = 'select';
  constructor(
    readonly keys: SOp,
    readonly queries: SOp,
    readonly predicate: Predicate,
  ) {
    super('select');
  }
  children(): RaspExpr[] {
    return [this.keys, this.queries];
  }
}

export class SelectorWidthSOp extends SOp {
  readonly kind = 'selector_width';
  constructor(readonly selector: Select) {
    super('selector_width');
  }
  children(): RaspExpr[] {
    return [this.selector];
  }
}

export class AggregateSOp extends SOp {
  readonly kind = 'aggregate';
  constructor(
    readonly selector: Select,
    readonly sop: SOp,
    readonly defaultValue: MaybeValue,
  ) {
    super('aggregate');
  }
  children(): RaspExpr[] {
    return [this.selector, this.sop];
  }
}

export type AnySOp = TokensSOp | IndicesSOp | MapSOp | SequenceMapSOp | SelectorWidthSOp | AggregateSOp;
export type AnyExpr = AnySOp | Select;

// ---------------------------------------------------------------------------------------------
// Builders (the public way to write programs)

/** The input sequence. */
export const tokens = new TokensSOp();
/** 0, 1, 2, ... on the real tokens (the compiled model's BOS position has no index). */
export const indices = new IndicesSOp();

/** Elementwise f over one S-Op. Output encoding defaults to categorical. */
export function map(f: (x: Value) => Value | null, sop: SOp, encoding: Encoding = 'categorical'): MapSOp {
  const m = new MapSOp(f, sop);
  m.encoding = encoding;
  return m;
}

/** Elementwise f over two categorical S-Ops (compiles to an MLP with one hidden unit per input pair). */
export function sequenceMap(f: (x: Value, y: Value) => Value | null, first: SOp, second: SOp, encoding: Encoding = 'categorical'): SequenceMapSOp {
  const m = new SequenceMapSOp(f, first, second);
  m.encoding = encoding;
  return m;
}

/** A selector; `pred` is a Comparison, a Predicate, or a plain function (key, query) => boolean. */
export function select(keys: SOp, queries: SOp, pred: Predicate | ((key: Value, query: Value) => boolean)): Select {
  const p = typeof pred === 'function' ? predicate(pred.name || 'custom', pred) : pred;
  return new Select(keys, queries, p);
}

/** Number of keys each query selects (0..N). Categorical output. */
export function selectorWidth(selector: Select): SelectorWidthSOp {
  return new SelectorWidthSOp(selector);
}

/**
 * Mean of the selected values, or the default when nothing is selected. Encoding follows the input:
 * categorical (default null; must select one value, or keys that all hold the same value) or numerical (default 0).
 */
export function aggregate(selector: Select, sop: SOp, defaultValue?: MaybeValue): AggregateSOp {
  const dflt = defaultValue !== undefined ? defaultValue : sop.encoding === 'numerical' ? 0 : null;
  const a = new AggregateSOp(selector, sop, dflt);
  a.encoding = sop.encoding;
  return a;
}

/** Marks an S-Op numerical (one scalar residual direction); returns it. */
export function numerical<T extends SOp>(sop: T): T {
  sop.encoding = 'numerical';
  return sop;
}

/** Marks an S-Op categorical (one direction per value); returns it. */
export function categorical<T extends SOp>(sop: T): T {
  sop.encoding = 'categorical';
  return sop;
}

/**
 * Boolean combinations of two selectors. Compilable only when both read the same keys and queries
 * (they fuse into one Select with the combined predicate, as Tracr simplifies them).
 */
export function selectAnd(a: Select, b: Select): Select {
  assertSameOperands(a, b, 'selectAnd');
  return new Select(a.keys, a.queries, predicate(`(${a.predicate.name} AND ${b.predicate.name})`, (k, q) => a.predicate.test(k, q) && b.predicate.test(k, q)));
}

export function selectOr(a: Select, b: Select): Select {
  assertSameOperands(a, b, 'selectOr');
  return new Select(a.keys, a.queries, predicate(`(${a.predicate.name} OR ${b.predicate.name})`, (k, q) => a.predicate.test(k, q) || b.predicate.test(k, q)));
}

export function selectNot(a: Select): Select {
  return new Select(a.keys, a.queries, predicate(`NOT ${a.predicate.name}`, (k, q) => !a.predicate.test(k, q)));
}

function assertSameOperands(a: Select, b: Select, what: string): void {
  if (a.keys !== b.keys || a.queries !== b.queries) {
    throw new Error(`${what}: both selectors must read the same keys and queries to be compilable`);
  }
}
