/**
 * Stage 3: one block per S-Op, as small matrices between named spaces (Tracr's "craft" layer).
 *
 * - MLP block: hidden = ReLU(x_in @ W1); out = hidden @ W2. No biases: the constant direction `one`
 *   (1 at every position) plays the bias.
 * - Attention block (one head): score(q, k) = x_q @ W_QK @ x_k^T over (query space) x (key space);
 *   out = softmax(scores) @ (x_k @ W_OV). Scores here are final (no 1/sqrt(d) — assembly compensates).
 *
 * The BOS trick: BOS (position 0) is a real token whose `bos` direction is always present in the key
 * space. Every query scores BOS at c/2 (through `one`), a selected key at c, an unselected key at 0; so
 * BOS wins exactly when nothing is selected, and BOS's value maps to zero = the aggregate's default.
 */
import { Direction, dir, NamedMatrix, Space } from './basis';
import { Predicate, Value } from './rasp';

export interface MlpBlock {
  kind: 'mlp';
  /** Label of the S-Op this block computes. */
  label: string;
  input: Space;
  hidden: Space;
  output: Space;
  /** [input, hidden] */
  W1: NamedMatrix;
  /** [hidden, output] */
  W2: NamedMatrix;
}

export interface AttentionBlock {
  kind: 'attn';
  label: string;
  query: Space;
  key: Space;
  /** [query, key]: bilinear score form. */
  W_QK: NamedMatrix;
  value: Space;
  output: Space;
  /** [value, output] */
  W_OV: NamedMatrix;
}

export type Block = MlpBlock | AttentionBlock;

/** Directions shared by all blocks. */
export interface SpecialDirections {
  one: Direction;
  bos: Direction;
}

/** The directions of an S-Op: one per value (categorical) or a single scalar one (numerical). */
export function sopSpace(label: string, encoding: 'categorical' | 'numerical', values: readonly Value[]): Space {
  return encoding === 'numerical' ? new Space([dir(label)]) : new Space(values.map((v) => dir(label, v)));
}

function hiddenSpace(label: string, n: number): Space {
  return new Space(Array.from({ length: n }, (_, i) => dir(`${label}.hidden`, i)));
}

// ---------------------------------------------------------------------------------------------
// MLPs

/** Categorical -> categorical map: one hidden unit per output value; W1 is the lookup table f. */
export function categoricalMlp(label: string, inLabel: string, inValues: readonly Value[], outValues: readonly Value[], f: (x: Value) => Value | null): MlpBlock {
  const input = sopSpace(inLabel, 'categorical', inValues);
  const output = sopSpace(label, 'categorical', outValues);
  const hidden = hiddenSpace(label, outValues.length);
  const W1 = new NamedMatrix(input, hidden);
  const W2 = new NamedMatrix(hidden, output);
  outValues.forEach((y, i) => W2.set(hidden.dirs[i], dir(label, y), 1));
  const unitOf = new Map(outValues.map((y, i) => [`${typeof y}:${String(y)}`, i]));
  for (const x of inValues) {
    const y = f(x);
    if (y === null) continue; // None: nothing written
    W1.set(dir(inLabel, x), hidden.dirs[unitOf.get(`${typeof y}:${String(y)}`)!], 1);
  }
  return { kind: 'mlp', label, input, hidden, output, W1, W2 };
}

/**
 * Categorical -> numerical map. Two units, ReLU(f) - ReLU(-f), so negative outputs survive
 * (Tracr's single unit drops them: its issue #24). A unit no input needs is left out.
 */
export function categoricalToNumericalMlp(label: string, inLabel: string, inValues: readonly Value[], f: (x: Value) => Value | null): MlpBlock {
  const input = sopSpace(inLabel, 'categorical', inValues);
  const output = new Space([dir(label)]);
  const ys = inValues.map((x) => {
    const y = f(x);
    return y === null ? 0 : Number(y);
  });
  const signs = [1, -1].filter((s) => ys.some((y) => s * y > 0));
  const hidden = hiddenSpace(label, Math.max(1, signs.length));
  const W1 = new NamedMatrix(input, hidden);
  const W2 = new NamedMatrix(hidden, output);
  signs.forEach((s, u) => {
    W2.set(hidden.dirs[u], dir(label), s);
    inValues.forEach((x, i) => {
      if (s * ys[i] > 0) W1.set(dir(inLabel, x), hidden.dirs[u], s * ys[i]);
    });
  });
  return { kind: 'mlp', label, input, hidden, output, W1, W2 };
}

/**
 * Categorical sequenceMap f(x, y): one unit per pair, ReLU(x_i + y_j - 1) (an AND; `one` gives the -1),
 * then a lookup into f's output (one-hot, or the scalar for a numerical output).
 */
export function sequenceMapMlp(
  label: string,
  encoding: 'categorical' | 'numerical',
  first: { label: string; values: readonly Value[] },
  second: { label: string; values: readonly Value[] },
  outValues: readonly Value[],
  f: (x: Value, y: Value) => Value | null,
  special: SpecialDirections,
): MlpBlock {
  const input = new Space([...sopSpace(first.label, 'categorical', first.values).dirs, ...sopSpace(second.label, 'categorical', second.values).dirs, special.one]);
  const output = sopSpace(label, encoding, outValues);
  const hidden = hiddenSpace(label, first.values.length * second.values.length);
  const W1 = new NamedMatrix(input, hidden);
  const W2 = new NamedMatrix(hidden, output);
  let u = 0;
  for (const x of first.values) {
    for (const y of second.values) {
      const h = hidden.dirs[u++];
      W1.add(dir(first.label, x), h, 1);
      W1.add(dir(second.label, y), h, 1);
      W1.add(special.one, h, -1);
      const z = f(x, y);
      if (z === null) continue;
      if (encoding === 'numerical') W2.set(h, dir(label), Number(z));
      else W2.set(h, dir(label, z), 1);
    }
  }
  return { kind: 'mlp', label, input, hidden, output, W1, W2 };
}

/** Compile's default discretisation slope: the smallest that keeps every SelectorWidth exact (2N(N+1)), at least 100. */
export function defaultMlpLargeNumber(maxSeqLen: number): number {
  return Math.max(100, 2 * maxSeqLen * (maxSeqLen + 1));
}

/**
 * Discretising MLP: reads a scalar x known to take one of `points` (sorted, distinct) and writes
 * out(v) for the point v it is at. Midpoints t_k between neighbours; units a_k = ReLU(L(x - t_k) + 1)
 * and b_k = ReLU(L(x - t_k)); a_k - b_k is a step that is exactly 1 for x >= t_k and exactly 0 for
 * x <= t_k - 1/L. Output = out(v_0) (via a "start" unit on `one`) + sum_k (out(v_k) - out(v_{k-1}))(a_k - b_k).
 * Exact when every gap between neighbours is at least 2/L.
 */
export function discretisingMlp(opts: {
  label: string;
  inputDir: Direction;
  points: readonly number[];
  output: Space;
  /** The output vector for a point, as (direction, weight) pairs. */
  outputOf: (v: number) => [Direction, number][];
  largeNumber: number;
  special: SpecialDirections;
  /** Extra hidden units appended after the discretisation (e.g. SelectorWidth's BOS clean-up). */
  extraUnits?: number;
}): MlpBlock {
  const { label, inputDir, points, output, outputOf, largeNumber: L, special } = opts;
  for (let k = 1; k < points.length; k++) {
    if (!(points[k] > points[k - 1])) throw new Error(`${label}: discretising points must be sorted and distinct`);
  }
  const nSteps = points.length - 1;
  const input = new Space([inputDir, special.one, special.bos]);
  const hidden = hiddenSpace(label, 1 + 2 * nSteps + (opts.extraUnits ?? 0));
  const W1 = new NamedMatrix(input, hidden);
  const W2 = new NamedMatrix(hidden, output);
  const start = hidden.dirs[0];
  W1.set(special.one, start, 1);
  for (const [d, w] of outputOf(points[0])) W2.add(start, d, w);
  for (let k = 1; k <= nSteps; k++) {
    const t = (points[k - 1] + points[k]) / 2;
    const a = hidden.dirs[2 * k - 1];
    const b = hidden.dirs[2 * k];
    W1.set(inputDir, a, L);
    W1.set(special.one, a, -L * t + 1);
    W1.set(inputDir, b, L);
    W1.set(special.one, b, -L * t);
    for (const [d, w] of outputOf(points[k])) {
      W2.add(a, d, w);
      W2.add(b, d, -w);
    }
    for (const [d, w] of outputOf(points[k - 1])) {
      W2.add(a, d, -w);
      W2.add(b, d, w);
    }
  }
  return { kind: 'mlp', label, input, hidden, output, W1, W2 };
}

/**
 * Numerical -> numerical/categorical map through a discretising MLP over the input's value set.
 * Every unit is switched off at BOS (x = 0 there, but `one` is 1): otherwise BOS would hold out(v_0),
 * which a later head reads when it falls back to BOS (its default) or selects on this S-Op.
 */
export function numericalMlp(
  label: string,
  encoding: 'categorical' | 'numerical',
  inLabel: string,
  inValues: readonly Value[],
  outValues: readonly Value[],
  f: (x: Value) => Value | null,
  largeNumber: number,
  special: SpecialDirections,
): MlpBlock {
  const output = sopSpace(label, encoding, outValues);
  const points = [...new Set(inValues.map(Number))].sort((a, b) => a - b);
  const mlp = discretisingMlp({
    label,
    inputDir: dir(inLabel),
    points,
    output,
    outputOf: (v) => {
      const y = f(v);
      if (y === null) return [];
      return encoding === 'numerical' ? [[dir(label), Number(y)]] : [[dir(label, y), 1]];
    },
    largeNumber,
    special,
  });
  for (const h of mlp.hidden.dirs) mlp.W1.set(special.bos, h, -(Math.abs(mlp.W1.get(special.one, h)) + 1));
  return mlp;
}

// ---------------------------------------------------------------------------------------------
// Attention

/**
 * The score form of a categorical selector: W_QK[(query, v), (key, u)] = c * predicate(u, v), plus the
 * BOS entry W_QK[one, bos] = c/2 (default-to-BOS) or c (always attend to BOS, for SelectorWidth).
 */
function selectorScores(
  sel: { keyLabel: string; keyValues: readonly Value[]; queryLabel: string; queryValues: readonly Value[]; predicate: Predicate },
  coldness: number,
  alwaysAttendBos: boolean,
  special: SpecialDirections,
): { query: Space; key: Space; W_QK: NamedMatrix } {
  const query = new Space([...sopSpace(sel.queryLabel, 'categorical', sel.queryValues).dirs, special.one]);
  const key = new Space([...sopSpace(sel.keyLabel, 'categorical', sel.keyValues).dirs, special.bos]);
  const W_QK = new NamedMatrix(query, key);
  for (const v of sel.queryValues) {
    for (const u of sel.keyValues) {
      let selected: boolean;
      try {
        selected = sel.predicate.test(u, v);
      } catch (err) {
        throw new Error(`predicate ${sel.predicate.name} fails on key ${JSON.stringify(u)}, query ${JSON.stringify(v)}: ${(err as Error).message}`);
      }
      if (selected) W_QK.set(dir(sel.queryLabel, v), dir(sel.keyLabel, u), coldness);
    }
  }
  W_QK.set(special.one, special.bos, alwaysAttendBos ? coldness : coldness / 2);
  return { query, key, W_QK };
}

export interface SelectorSpec {
  keyLabel: string;
  keyValues: readonly Value[];
  queryLabel: string;
  queryValues: readonly Value[];
  predicate: Predicate;
}

/** Aggregate: a head that moves the selected keys' `sop` value into the output S-Op's directions. */
export function aggregateAttention(
  label: string,
  encoding: 'categorical' | 'numerical',
  selector: SelectorSpec,
  sop: { label: string; values: readonly Value[] },
  coldness: number,
  special: SpecialDirections,
): AttentionBlock {
  const { query, key, W_QK } = selectorScores(selector, coldness, false, special);
  const value = sopSpace(sop.label, encoding, sop.values);
  const output = sopSpace(label, encoding, sop.values);
  const W_OV = new NamedMatrix(value, output);
  if (encoding === 'numerical') W_OV.set(dir(sop.label), dir(label), 1);
  else for (const u of sop.values) W_OV.set(dir(sop.label, u), dir(label, u), 1);
  return { kind: 'attn', label, query, key, W_QK, value, output, W_OV };
}

/** The scalar helper direction SelectorWidth's head writes 1/(w+1) into. */
export function selectorWidthHelperDir(label: string): Direction {
  return dir(`${label}_selector_width_attn_output`);
}

/**
 * SelectorWidth: (1) a head that always attends to BOS as strongly as to any selected key and copies
 * BOS's `bos` coordinate, so it writes z = 1/(w+1); (2) a discretising MLP z -> one-hot w, using the
 * points 1/(N+1) < ... < 1/2 < 1; (3) one extra unit ReLU(bos) that erases what (1) and (2) wrote at the
 * BOS position (z = 1 and w = 0 there), so later selectors see a clean BOS.
 */
export function selectorWidthBlocks(
  label: string,
  selector: SelectorSpec,
  maxSeqLen: number,
  coldness: number,
  largeNumber: number,
  special: SpecialDirections,
): { attn: AttentionBlock; mlp: MlpBlock } {
  const z = selectorWidthHelperDir(label);
  const { query, key, W_QK } = selectorScores(selector, coldness, true, special);
  const value = new Space([special.bos]);
  const attnOut = new Space([z]);
  const W_OV = new NamedMatrix(value, attnOut);
  W_OV.set(special.bos, z, 1);
  const attn: AttentionBlock = { kind: 'attn', label, query, key, W_QK, value, output: attnOut, W_OV };

  const widths = Array.from({ length: maxSeqLen + 1 }, (_, w) => w);
  const outSpace = new Space([...widths.map((w) => dir(label, w)), z]);
  // Points ascending: w = N first (1/(N+1)), w = 0 last (1).
  const points = widths.map((w) => 1 / (w + 1)).reverse();
  const mlp = discretisingMlp({
    label,
    inputDir: z,
    points,
    output: outSpace,
    outputOf: (v) => [[dir(label, Math.round(1 / v - 1)), 1]],
    largeNumber,
    special,
    extraUnits: 1,
  });
  const clean = mlp.hidden.dirs[mlp.hidden.size - 1];
  mlp.W1.set(special.bos, clean, 1);
  mlp.W2.set(clean, dir(label, 0), -1);
  mlp.W2.set(clean, z, -1);
  return { attn, mlp };
}
