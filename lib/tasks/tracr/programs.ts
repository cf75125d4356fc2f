/**
 * RASP programs: the paper's two compiled capabilities (App. B.1, Alg. 1 and 2) and Tracr's usual
 * library programs. Each call builds a fresh expression graph, so programs can be compiled side by side.
 */
import {
  aggregate,
  Comparison,
  indices,
  map,
  numerical,
  predicate,
  select,
  selectorWidth,
  sequenceMap,
  SOp,
  tokens,
  Value,
} from './rasp';

/**
 * Paper Alg. 1, "Counter". bin = (tokens == target); count = SelectorWidth(Select(bin, indices, EQ));
 * out = Aggregate(Select(indices, indices, EQ), count).
 * Because Python's True == 1, the query at **index 1** selects every position holding `target`, so the
 * count of `target` is read out at index 1 (model position 2, after BOS). Index 0 gives the number of
 * other tokens; indices >= 2 give 0. Compiles to 3 layers: M0 | A1 M1 | A2.
 */
export function makeCounter(target: Value = 'a'): SOp {
  const bin = map((x) => x === target, tokens).named('bin');
  const count = selectorWidth(select(bin, indices, Comparison.EQ)).named('count');
  return aggregate(select(indices, indices, Comparison.EQ), count).named('counter');
}

/** Where the paper programs' answer is read: RASP index 1 (the second real token). */
export const PAPER_READOUT_INDEX = 1;

/**
 * Paper Alg. 2, "Max-identifier". nSmaller = SelectorWidth(Select(tokens, tokens, LT)) counts the tokens
 * alphabetically below each token; target = (nSmaller == rank); out = Aggregate(Select(target, indices, EQ), tokens).
 * Via True == 1, index 1 receives the token with exactly `rank` smaller tokens: the (rank+1)-th smallest
 * letter (the paper's "5th largest" for rank 4, under its order a > b > ...). Only index 1 is defined
 * when the letters are distinct. Compiles to 3 layers: A0 M0 | M1 | A2.
 */
export function makeMaxIdentifier(rank = 4): SOp {
  const nSmaller = selectorWidth(select(tokens, tokens, Comparison.LT)).named('n_smaller');
  const target = map((n) => n === rank, nSmaller).named('target');
  return aggregate(select(target, indices, Comparison.EQ), tokens).named('max_identifier');
}

/** Sequence length at every position: SelectorWidth(Select(tokens, tokens, TRUE)). */
export function makeLength(): SOp {
  return selectorWidth(select(tokens, tokens, Comparison.TRUE)).named('length');
}

/** How often each position's token occurs in the sequence. */
export function makeHist(): SOp {
  return selectorWidth(select(tokens, tokens, Comparison.EQ)).named('hist');
}

/** How often `token` occurs in `sop`, at every position (Tracr's make_count: the predicate ignores the query). */
export function makeCount(sop: SOp, token: Value): SOp {
  return selectorWidth(select(sop, sop, predicate(`key==${String(token)}`, (k) => k === token))).named(`count_${String(token)}`);
}

/**
 * Sorts `vals` by `keys` (keys must be unique): the value whose key has i smaller keys moves to index i.
 * Defaults to sorting the tokens themselves.
 */
export function makeSortUnique(vals: SOp = tokens, keys: SOp = tokens): SOp {
  const smaller = select(keys, keys, Comparison.LT);
  const targetPos = selectorWidth(smaller).named('target_pos');
  return aggregate(select(targetPos, indices, Comparison.EQ), vals).named('sort');
}

/** Reverses `sop`: index i reads index length - 1 - i. Needs a categorical sequenceMap (4 layers). */
export function makeReverse(sop: SOp = tokens): SOp {
  const length = makeLength();
  const oppIdx = sequenceMap((l, i) => Number(l) - Number(i), length, indices).named('opp_idx');
  const oppIdxMinus1 = map((x) => Number(x) - 1, oppIdx).named('opp_idx-1');
  return aggregate(select(indices, oppIdxMinus1, Comparison.EQ), sop).named('reverse');
}

/**
 * Fraction of the positions so far (up to and including this one) where `isTarget` holds.
 * Numerical: a categorical->numerical map into 0/1, then a numerical mean over Select(indices, indices, LEQ).
 */
export function makeFracPrevs(isTarget: (x: Value) => boolean, sop: SOp = tokens): SOp {
  const bools = numerical(map((x) => (isTarget(x) ? 1 : 0), sop)).named('is_target');
  return numerical(aggregate(select(indices, indices, Comparison.LEQ), bools, 0)).named('frac_prevs');
}
