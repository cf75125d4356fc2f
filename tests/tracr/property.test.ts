import test from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../lib/engine/rng';
import {
  aggregate,
  compile,
  evaluate,
  indices,
  map,
  numerical,
  select,
  selectorWidth,
  tokens,
  validate,
  Value,
} from '../../lib/tasks/tracr';
import { assertMatchesEvaluator, randomSeq, runReference } from './helpers';
import { randomProgram } from './randomPrograms';

/**
 * Property: every random valid program compiles, and the compiled model equals the evaluator at every
 * defined position of every input on which `validate` finds nothing (Tracr's own contract).
 */
function checkRandomPrograms(seed: number, count: number, vocab: Value[], N: number) {
  const uses = new Map<string, number>();
  let compared = 0;
  let flagged = 0;
  for (let p = 0; p < count; p++) {
    const rng = Rng.derive(seed, 'tracr', 'property', p);
    const { program, ops } = randomProgram(rng, vocab, N);
    const causal = rng.bernoulli(0.25);
    const cp = compile(program, { vocab, maxSeqLen: N, causal });
    for (let i = 0; i < 12; i++) {
      const xs = randomSeq(rng, vocab, rng.int(1, N + 1));
      if (validate(program, [xs], { vocab, maxSeqLen: N, causal }).length > 0) {
        flagged++;
        continue;
      }
      compared += assertMatchesEvaluator(cp, program, xs, { tolerance: 1e-6 });
    }
    for (const op of new Set([...ops, causal ? 'causal' : 'bidirectional'])) uses.set(op, (uses.get(op) ?? 0) + 1);
  }
  return { uses, compared, flagged };
}

// More programs for a longer search: WRAPLAB_TRACR_PROGRAMS=3000 node --test dist/tests/tracr/property.test.js
const PROGRAMS = Number(process.env.WRAPLAB_TRACR_PROGRAMS ?? 150);

test(`property: ${PROGRAMS} random programs over {a,b,c}, N = 4: compiled == evaluate on random inputs`, (t) => {
  const { uses, compared, flagged } = checkRandomPrograms(1, PROGRAMS, ['a', 'b', 'c'], 4);
  t.diagnostic(`${PROGRAMS} programs, ${compared} positions compared, ${flagged} inputs flagged by validate and skipped`);
  // The sample must exercise every construct, or the property says little.
  for (const op of ['map:cat->cat', 'map:cat->num', 'map:num->cat', 'map:num->num', 'sequence_map:categorical', 'sequence_map:numerical', 'selector_width', 'aggregate:categorical', 'aggregate:numerical', 'select:LT', 'select:GEQ', 'select:NEQ', 'select:TRUE', 'select:FALSE', 'causal']) {
    assert.ok((uses.get(op) ?? 0) >= 3, `${op} used in ${uses.get(op) ?? 0} programs`);
  }
  assert.ok(compared > 2000, `compared ${compared} positions`);
  assert.ok(flagged < compared / 5, `validate flagged ${flagged} inputs`);
});

test(`property: ${Math.ceil(PROGRAMS / 4)} random programs over {a,b,c,d}, N = 6`, (t) => {
  const n = Math.ceil(PROGRAMS / 4);
  const { compared, flagged } = checkRandomPrograms(2, n, ['a', 'b', 'c', 'd'], 6);
  t.diagnostic(`${n} programs, ${compared} positions compared, ${flagged} inputs flagged by validate and skipped`);
  assert.ok(compared > 1000, `compared ${compared} positions`);
});

test('validate reports a None entering a numerical S-Op: the model holds 0 there and a later map revives it', () => {
  // prev = the previous token (None at index 0); its numerical image is 0 there in the model.
  const prev = aggregate(select(indices, indices, (k, q) => Number(k) === Number(q) - 1), tokens).named('prev');
  const weight = numerical(map((x) => (x === 'a' ? 1 : 2), prev)).named('weight');
  const level = map((v) => (Number(v) > 1.5 ? 'hi' : 'lo'), weight).named('level');
  const same = selectorWidth(select(level, level, (k, q) => k === q)).named('same');
  const xs = ['a', 'a', 'b'];
  // Evaluator: level = [None, lo, lo]; the model reads index 0's 0 as 'lo' and counts it.
  assert.deepEqual(evaluate(same, xs), [0, 2, 2]);
  const cp = compile(same, { vocab: ['a', 'b'], maxSeqLen: 4 });
  assert.deepEqual(runReference(cp, xs).outputs, [3, 3, 3]);
  const findings = validate(same, [xs], { vocab: ['a', 'b'], maxSeqLen: 4 });
  assert.deepEqual(findings.map((f) => [f.rule, f.label, f.position]), [['numerical-none', 'weight', 0]]);
  assert.match(findings[0].message, /reads None from "prev"/);
});
