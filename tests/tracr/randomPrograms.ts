/**
 * Random small valid RASP programs for the property test: every primitive (categorical and numerical
 * maps both ways, sequenceMap, select with every comparison, selectorWidth, both aggregates), built so
 * that the validator's rules hold (0/1 inputs to numerical aggregates, one value type per S-Op, keys
 * and queries of types that Python can order when the comparison orders).
 */
import { Rng } from '../../lib/engine/rng';
import {
  aggregate,
  buildGraph,
  Comparison,
  ComparisonName,
  indices,
  map,
  numerical,
  select,
  selectorWidth,
  sequenceMap,
  SOp,
  tokens,
  Value,
} from '../../lib/tasks/tracr';

/** What an S-Op holds: categorical strings / integers / booleans, or a numerical 0/1 or any-number scalar. */
type Kind = 'str' | 'int' | 'bool' | 'num01' | 'num';
interface Entry {
  sop: SOp;
  kind: Kind;
}

export interface RandomProgram {
  program: SOp;
  /** The constructs used, e.g. 'map:cat->num', 'aggregate:numerical', 'select:LT'. */
  ops: string[];
}

const ALL: ComparisonName[] = ['EQ', 'NEQ', 'LT', 'LEQ', 'GT', 'GEQ', 'TRUE', 'FALSE'];
const UNORDERED: ComparisonName[] = ['EQ', 'NEQ', 'TRUE', 'FALSE'];
const isCat = (k: Kind) => k === 'str' || k === 'int' || k === 'bool';
const key = (v: Value) => `${typeof v}:${String(v)}`;

/** A random categorical output value of a kind (small sets, so value sets stay small). */
function catValue(rng: Rng, kind: Kind): Value {
  if (kind === 'str') return rng.pick(['x', 'y', 'z']);
  if (kind === 'int') return rng.int(0, 4);
  return rng.bernoulli(0.5);
}

/** A random lookup table over `inputs`; with `nulls`, about 1 in 10 entries is null (None), never all. */
function table<T>(rng: Rng, inputs: T[], keyOf: (x: T) => string, out: () => Value, nulls = true): (x: T) => Value | null {
  const t = new Map(inputs.map((x) => [keyOf(x), nulls && rng.bernoulli(0.1) ? null : out()] as [string, Value | null]));
  if ([...t.values()].every((v) => v === null)) t.set(keyOf(inputs[0]), out());
  return (x) => t.get(keyOf(x)) ?? null;
}

export function randomProgram(rng: Rng, vocab: readonly Value[], maxSeqLen: number): RandomProgram {
  const pool: Entry[] = [
    { sop: tokens, kind: 'str' },
    { sop: indices, kind: 'int' },
  ];
  const ops: string[] = [];
  const valuesOf = (s: SOp): Value[] => buildGraph(s, { vocab, maxSeqLen }).valueSets.get(s as never)!;
  const pickWhere = (ok: (k: Kind) => boolean): Entry | undefined => {
    const c = pool.filter((e) => ok(e.kind));
    return c.length ? rng.pick(c) : undefined;
  };
  const randomSelect = () => {
    const k = pickWhere(isCat)!;
    const q = pickWhere(isCat)!;
    const ordered = k.kind === q.kind || (k.kind !== 'str' && q.kind !== 'str');
    const name = rng.pick(ordered ? ALL : UNORDERED);
    ops.push(`select:${name}`);
    return select(k.sop, q.sop, Comparison[name]);
  };
  const steps = rng.int(2, 7);
  for (let i = 0; i < steps; i++) {
    let made: Entry | undefined;
    switch (rng.int(0, 7)) {
      case 0: {
        const x = pickWhere(isCat)!;
        const kind = rng.pick<Kind>(['str', 'int', 'bool']);
        made = { sop: map(table(rng, valuesOf(x.sop), key, () => catValue(rng, kind)), x.sop), kind };
        ops.push('map:cat->cat');
        break;
      }
      case 1: {
        const x = pickWhere(isCat)!;
        const kind = rng.pick<Kind>(['num01', 'num']);
        const out = () => (kind === 'num01' ? rng.int(0, 2) : rng.pick([-1, -0.5, 0, 0.5, 2]));
        // A numerical S-Op cannot hold None (the validator rejects it), so no nulls here.
        made = { sop: numerical(map(table(rng, valuesOf(x.sop), key, out, false), x.sop)), kind };
        ops.push('map:cat->num');
        break;
      }
      case 2: {
        const x = pickWhere((k) => !isCat(k));
        if (!x) break;
        // A threshold between two of the input's values.
        const pts = valuesOf(x.sop).map(Number);
        const t = rng.pick(pts) - 1e-3;
        if (rng.bernoulli(0.5)) {
          const kind = rng.pick<Kind>(['str', 'int', 'bool']);
          const [lo, hi] = [catValue(rng, kind), catValue(rng, kind)];
          made = { sop: map((v) => (Number(v) > t ? hi : lo), x.sop), kind };
          ops.push('map:num->cat');
        } else if (rng.bernoulli(0.5)) {
          made = { sop: numerical(map((v) => (Number(v) > t ? 1 : 0), x.sop)), kind: 'num01' };
          ops.push('map:num->num');
        } else {
          made = { sop: numerical(map((v) => 2 * Number(v) - 1, x.sop)), kind: 'num' };
          ops.push('map:num->num');
        }
        break;
      }
      case 3: {
        const a = pickWhere(isCat)!;
        const b = pickWhere(isCat)!;
        const [va, vb] = [valuesOf(a.sop), valuesOf(b.sop)];
        if (va.length * vb.length > 30) break;
        const pairKey = ([x, y]: [Value, Value]) => `${key(x)}|${key(y)}`;
        const pairs = va.flatMap((x) => vb.map((y) => [x, y] as [Value, Value]));
        const numOut = rng.bernoulli(0.3);
        const kind: Kind = numOut ? 'num01' : rng.pick<Kind>(['str', 'int', 'bool']);
        const f = table(rng, pairs, pairKey, () => (numOut ? rng.int(0, 2) : catValue(rng, kind)), !numOut);
        made = { sop: sequenceMap((x, y) => f([x, y]), a.sop, b.sop, numOut ? 'numerical' : 'categorical'), kind };
        ops.push(`sequence_map:${numOut ? 'numerical' : 'categorical'}`);
        break;
      }
      case 4:
        made = { sop: selectorWidth(randomSelect()), kind: 'int' };
        ops.push('selector_width');
        break;
      case 5: {
        const x = pickWhere(isCat)!;
        made = { sop: aggregate(randomSelect(), x.sop), kind: x.kind };
        ops.push('aggregate:categorical');
        break;
      }
      case 6: {
        const x = pickWhere((k) => k === 'num01');
        if (!x) break;
        made = { sop: numerical(aggregate(randomSelect(), x.sop)), kind: 'num' };
        ops.push('aggregate:numerical');
        break;
      }
    }
    if (made) pool.push(made);
  }
  // The output: the last S-Op made (or a map of tokens when every step was skipped).
  const last = pool.length > 2 ? pool[pool.length - 1].sop : map((x) => x === vocab[0], tokens);
  return { program: last, ops };
}
