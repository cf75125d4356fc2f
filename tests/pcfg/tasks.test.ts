import test from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../lib/engine/rng';
import {
  PCFG_PRESETS,
  PRIORS,
  PcfgConfig,
  TOK,
  TaskFamily,
  computeAnswer,
  contextLength,
  decode,
  exampleTokens,
  layout,
  makeExample,
  sampleExample,
  sampleQuestion,
  textFromString,
  textToString,
  tokenId,
  validateConfig,
} from '../../lib/tasks/pcfg';
import { withinBinomial } from './helpers';


const ALL: PcfgConfig = { ...PCFG_PRESETS.paper, textLength: 48, countWindow: 20, occurrence: 3, prior: 'H' };

/** The answers again, computed a different way: on strings, with string searches. */
function referenceAnswer(text: string, family: TaskFamily, operand: string, arg: number): number {
  const n = text.length;
  if (family === 'tokenAtIndex') return 'abc'.indexOf(text[n - arg]);
  const window = text.slice(n - arg);
  if (family.startsWith('counting')) {
    let count = 0;
    for (let i = window.indexOf(operand); i >= 0; i = window.indexOf(operand, i + 1)) count++;
    return count;
  }
  // Index families: occurrences of the operand, nearest to EOT first, as distance from EOT of its start.
  const starts: number[] = [];
  for (let i = text.lastIndexOf(operand); i >= 0; i = i === 0 ? -1 : text.lastIndexOf(operand, i - 1)) starts.push(i);
  return starts.length >= arg ? n - starts[arg - 1] : -1;
}

test('tasks: hand-checked answers, including overlap and "no such occurrence"', () => {
  const text = textFromString('caaabcab'); // distances from EOT: b1 a2 c3 b4 a5 a6 a7 c8
  assert.equal(computeAnswer(text, 'counting', 'a', 4), 1);
  assert.equal(computeAnswer(text, 'counting', 'a', 8), 4);
  assert.equal(computeAnswer(text, 'countingComposition', 'aa', 8), 2); // overlapping "aaa"
  assert.equal(computeAnswer(text, 'countingComposition', 'ab', 3), 1);
  assert.equal(computeAnswer(text, 'countingComposition', 'ca', 2), 0); // pair must fit in the window
  assert.equal(computeAnswer(text, 'indexOfOccurrence', 'a', 1), 2);
  assert.equal(computeAnswer(text, 'indexOfOccurrence', 'a', 3), 6);
  assert.equal(computeAnswer(text, 'indexOfOccurrence', 'b', 3), -1);
  assert.equal(computeAnswer(text, 'indexOfComposition', 'aa', 1), 6);
  assert.equal(computeAnswer(text, 'indexOfComposition', 'ab', 1), 2);
  assert.equal(computeAnswer(text, 'indexOfComposition', 'ab', 2), 5);
  assert.equal(computeAnswer(text, 'tokenAtIndex', 'NULL', 3), 2);
  assert.throws(() => computeAnswer(text, 'counting', 'aa', 4), /one of a, b, c/);
  assert.throws(() => computeAnswer(text, 'indexOfComposition', 'a', 4), /pair/);
  assert.throws(() => computeAnswer(text, 'tokenAtIndex', 'a', 4), /NULL/);
});

test('tasks: sequence format SOS T O O\' SOT text EOT ART Ans EOS', () => {
  const cfg = PCFG_PRESETS.laptop;
  const ex = makeExample(cfg, 'counting', 'a', textFromString('abcabcabcabcabcabcabcabcabcabcab'));
  const ids = exampleTokens(ex);
  assert.equal(ids.length, contextLength(cfg));
  assert.equal(contextLength(cfg), 41);
  assert.equal(contextLength(PCFG_PRESETS.paper), 259);
  const toks = decode(ids);
  assert.deepEqual(toks.slice(0, 5), ['SOS', 'T_C', 'a', '16', 'SOT']);
  // The last 16 text tokens are "bcabcabcabcabcab": 5 a's.
  assert.deepEqual(toks.slice(-4), ['EOT', 'ART', '5', 'EOS']);
  assert.equal(ex.answer, 5);
  const L = layout(cfg.textLength);
  assert.equal(ids[L.art], TOK.ART);
  assert.equal(ids[L.answer], ex.answerId);
  const nullEx = makeExample(cfg, 'indexOfOccurrence', 'b', textFromString('a'.repeat(32)));
  assert.equal(nullEx.answer, -1);
  assert.equal(nullEx.answerId, TOK.NULL);
  const tokEx = makeExample(cfg, 'tokenAtIndex', 'NULL', textFromString('c' + 'a'.repeat(31)));
  assert.equal(decode([tokEx.answerId])[0], 'a');
});

test('tasks: every sampled answer equals a direct string computation (all families)', () => {
  const cfg: PcfgConfig = { ...ALL, families: ['counting', 'countingComposition', 'indexOfOccurrence', 'indexOfComposition', 'tokenAtIndex', 'countingJ1', 'countingJ2'] };
  const rng = new Rng(4);
  const seen = new Set<TaskFamily>();
  for (let i = 0; i < 1500; i++) {
    const ex = sampleExample(cfg, rng);
    seen.add(ex.family);
    const expected = referenceAnswer(textToString(ex.text), ex.family, ex.operand, ex.argument);
    assert.equal(ex.answer, expected, `${ex.family} ${ex.operand} ${ex.argument} ${textToString(ex.text)}`);
    const ids = exampleTokens(ex);
    const L = layout(cfg.textLength);
    assert.equal(ids[L.family], tokenId({ counting: 'T_C', countingComposition: 'T_CC', indexOfOccurrence: 'T_I', indexOfComposition: 'T_IC', tokenAtIndex: 'T_T', countingJ1: 'T_J1', countingJ2: 'T_J2' }[ex.family]));
    assert.equal(ids[L.operand], tokenId(ex.operand));
  }
  assert.equal(seen.size, 7);
});

test('tasks: families uniform and operands follow the prior (binomial bounds)', () => {
  const N = 20000;
  for (const name of ['H', 'M', 'a0.7'] as const) {
    const cfg: PcfgConfig = { ...ALL, prior: name };
    const rng = Rng.derive(7, name);
    const family = new Map<string, number>();
    const operand = [0, 0, 0];
    let singles = 0;
    for (let i = 0; i < N; i++) {
      const q = sampleQuestion(cfg, rng);
      family.set(q.family, (family.get(q.family) ?? 0) + 1);
      if (q.family === 'counting' || q.family === 'indexOfOccurrence') {
        operand['abc'.indexOf(q.operand)]++;
        singles++;
      }
      if (q.family === 'tokenAtIndex') assert.equal(q.operand, 'NULL');
      if (q.family.includes('Composition')) assert.equal(q.operand.length, 2);
    }
    for (const f of cfg.families) assert.ok(withinBinomial(family.get(f) ?? 0, N, 1 / cfg.families.length), f);
    PRIORS[name].forEach((p, k) => assert.ok(withinBinomial(operand[k], singles, p), `${name} operand ${k}: ${operand[k]}/${singles}`));
  }
  // L: b about 1 in 1000, c never.
  const rng = new Rng(8);
  const counts = [0, 0, 0];
  const cfgL: PcfgConfig = { ...PCFG_PRESETS.laptop, families: ['counting'] };
  for (let i = 0; i < N; i++) counts['abc'.indexOf(sampleQuestion(cfgL, rng).operand)]++;
  assert.equal(counts[2], 0);
  assert.ok(withinBinomial(counts[1], N, 0.001), `b ${counts[1]}`);
});

test('tasks: jailbreak counting tokens always take operand a', () => {
  const cfg: PcfgConfig = { ...PCFG_PRESETS.laptop, families: ['countingJ1', 'countingJ2'], prior: 'H' };
  const rng = new Rng(2);
  for (let i = 0; i < 200; i++) assert.equal(sampleQuestion(cfg, rng).operand, 'a');
});

test('tasks: deterministic in the seed', () => {
  const a = exampleTokens(sampleExample(ALL, new Rng(42)));
  const b = exampleTokens(sampleExample(ALL, new Rng(42)));
  assert.deepEqual(a, b);
});

test('tasks: config validation', () => {
  validateConfig(PCFG_PRESETS.paper);
  validateConfig(PCFG_PRESETS.laptop);
  assert.throws(() => validateConfig({ ...PCFG_PRESETS.laptop, countWindow: 33 }), /countWindow/);
  assert.throws(() => validateConfig({ ...PCFG_PRESETS.laptop, textLength: 251 }), /textLength/);
  assert.throws(() => validateConfig({ ...PCFG_PRESETS.laptop, families: [] }), /at least one/);
  assert.throws(() => validateConfig({ ...PCFG_PRESETS.laptop, prior: [0.5, 0.6, 0] }), /sum/);
  assert.throws(() => validateConfig({ ...PCFG_PRESETS.laptop, prior: 'X' as never }), /unknown prior/);
});
