/**
 * Named basis directions: the compiler's coordinate system. Every residual dimension, every hidden unit
 * and every attention-head coordinate is a direction `{name, value?}`: `(count, 3)` is "the S-Op labelled
 * count holds 3", `(one)` is the constant direction. Blocks are matrices between spaces of directions,
 * so they can be written, tested and read by name before any weight tensor exists.
 */
import { pyCompare, Value } from './rasp';

export interface Direction {
  readonly name: string;
  /** Absent for numerical S-Ops and scalar helpers (one direction per name). */
  readonly value?: Value;
}

export function dir(name: string, value?: Value): Direction {
  return value === undefined ? { name } : { name, value };
}

/** A unique string per direction; the type tag keeps 1, '1' and true apart. */
export function dirKey(d: Direction): string {
  if (d.value === undefined) return d.name;
  return `${d.name}:${typeof d.value}:${String(d.value)}`;
}

export function dirToString(d: Direction): string {
  return d.value === undefined ? d.name : `${d.name}:${String(d.value)}`;
}

const TYPE_ORDER: Record<string, number> = { undefined: 0, boolean: 1, number: 2, string: 3 };

/** Total order on values: booleans < numbers < strings, then by value (Tracr sorts with a fallback too). */
export function compareValues(a: Value | undefined, b: Value | undefined): number {
  const ta = TYPE_ORDER[typeof a];
  const tb = TYPE_ORDER[typeof b];
  if (ta !== tb) return ta - tb;
  if (a === undefined || b === undefined) return 0;
  return pyCompare(a, b);
}

/** Residual order: by name, then value (like Tracr's sorted residual space). */
export function compareDirections(a: Direction, b: Direction): number {
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  return compareValues(a.value, b.value);
}

/** An ordered set of directions with O(1) lookup. */
export class Space {
  readonly dirs: readonly Direction[];
  private readonly indexOf = new Map<string, number>();

  constructor(dirs: readonly Direction[]) {
    const unique: Direction[] = [];
    for (const d of dirs) {
      const key = dirKey(d);
      if (this.indexOf.has(key)) continue;
      this.indexOf.set(key, unique.length);
      unique.push(d);
    }
    this.dirs = unique;
  }

  /** The sorted union of several spaces. */
  static join(...spaces: Space[]): Space {
    return new Space(spaces.flatMap((s) => s.dirs).sort(compareDirections));
  }

  get size(): number {
    return this.dirs.length;
  }

  has(d: Direction): boolean {
    return this.indexOf.has(dirKey(d));
  }

  /** Index of a direction; throws if absent (a compiler bug, never a user error). */
  index(d: Direction): number {
    const i = this.indexOf.get(dirKey(d));
    if (i === undefined) throw new Error(`direction ${dirToString(d)} is not in this space`);
    return i;
  }
}

/** A dense float64 matrix whose rows and columns are named by two spaces. */
export class NamedMatrix {
  readonly data: Float64Array;

  constructor(
    readonly rows: Space,
    readonly cols: Space,
  ) {
    this.data = new Float64Array(rows.size * cols.size);
  }

  get(r: Direction, c: Direction): number {
    return this.data[this.rows.index(r) * this.cols.size + this.cols.index(c)];
  }

  set(r: Direction, c: Direction, v: number): void {
    this.data[this.rows.index(r) * this.cols.size + this.cols.index(c)] = v;
  }

  /** Accumulates (an input feeding the same unit twice adds up, e.g. sequenceMap(f, x, x)). */
  add(r: Direction, c: Direction, v: number): void {
    this.data[this.rows.index(r) * this.cols.size + this.cols.index(c)] += v;
  }

  /** x (a vector over rows, as a direction->value lookup) times this matrix: a vector over cols. */
  apply(x: (d: Direction) => number): Float64Array {
    const out = new Float64Array(this.cols.size);
    this.rows.dirs.forEach((r, i) => {
      const xi = x(r);
      if (xi === 0) return;
      for (let j = 0; j < this.cols.size; j++) out[j] += xi * this.data[i * this.cols.size + j];
    });
    return out;
  }
}
