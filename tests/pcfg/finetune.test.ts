import test from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../lib/engine/rng';
import {
  CORRELATION_OFFSET,
  FinetuneTask,
  PCFG_PRESETS,
  PcfgConfig,
  hasCorrelation,
  isWindow,
  jailbreakPretrainConfig,
  labelDistributions,
  operandAnswers,
  sampleFinetuneExample,
  sampleFinetuneText,
  sampleWindow,
  totalVariation,
} from '../../lib/tasks/pcfg';
import { withinBinomial } from './helpers';

const laptop = PCFG_PRESETS.laptop;
const TASKS: FinetuneTask[] = ['counter', 'indexer'];

/** Natural rate of the correlation on plain windows, from a separate stream. */
function naturalRate(cfg: PcfgConfig, task: FinetuneTask, n: number): number {
  const rng = Rng.derive(1234, 'natural', task);
  let hits = 0;
  for (let i = 0; i < n; i++) if (hasCorrelation(cfg, task, sampleWindow(rng, cfg.textLength))) hits++;
  return hits / n;
}

test('finetune: correlated texts satisfy the relation (q = 1), both methods and tasks', () => {
  assert.equal(CORRELATION_OFFSET, 1);
  for (const cfg of [laptop, PCFG_PRESETS.paper]) {
    for (const task of TASKS) {
      for (const method of ['edit', 'resample'] as const) {
        const rng = Rng.derive(3, task, method, cfg.textLength);
        for (let i = 0; i < 150; i++) {
          const text = sampleFinetuneText(cfg, task, true, rng, method);
          const { a, b } = operandAnswers(cfg, task, text);
          assert.ok(a >= 0 && b === a + 1, `${task}/${method}: a ${a} b ${b}`);
        }
      }
    }
  }
});

test('finetune: the counter relation is on counts in the counted window', () => {
  const rng = new Rng(5);
  for (let i = 0; i < 50; i++) {
    const text = sampleFinetuneText(laptop, 'counter', true, rng);
    const window = [...text.slice(laptop.textLength - laptop.countWindow)];
    assert.equal(window.filter((x) => x === 1).length, window.filter((x) => x === 0).length + 1);
  }
});

test('finetune: "edit" keeps the b-answer and b tokens, touches only a/c; "resample" stays grammatical', () => {
  for (const task of TASKS) {
    const seed = task === 'counter' ? 10 : 11;
    // Same stream: the first plain window drawn is the one edited (when feasible, i.e. most of the time).
    let compared = 0;
    for (let i = 0; i < 100; i++) {
      const plain = sampleFinetuneText(laptop, task, false, Rng.derive(seed, i));
      const edited = sampleFinetuneText(laptop, task, true, Rng.derive(seed, i), 'edit');
      if (operandAnswers(laptop, task, plain).b - 1 < 0) continue;
      let sameBs = true;
      for (let t = 0; t < plain.length; t++) if ((plain[t] === 1) !== (edited[t] === 1)) sameBs = false;
      if (!sameBs) continue; // plain window was infeasible, a later one was edited
      compared++;
      assert.equal(operandAnswers(laptop, task, edited).b, operandAnswers(laptop, task, plain).b);
    }
    assert.ok(compared >= 80, `${task}: only ${compared} comparable`);
    const rng = Rng.derive(12, task);
    for (let i = 0; i < 30; i++) assert.ok(isWindow(sampleFinetuneText(laptop, task, true, rng, 'resample')));
  }
});

test('finetune: C_Tr met within binomial bounds; C_Te = 0 texts carry it only at the natural rate', () => {
  const N = 3000;
  for (const task of TASKS) {
    const natural = naturalRate(laptop, task, 4000);
    assert.ok(natural > 0.1 && natural < 0.3, `natural ${natural}`);
    for (const cTrain of [0, 0.5, 0.8, 1]) {
      const rng = Rng.derive(20, task, cTrain);
      let hits = 0;
      for (let i = 0; i < N; i++) {
        const ex = sampleFinetuneExample(laptop, { task, cTrain }, rng);
        assert.equal(ex.operand, 'b');
        assert.equal(ex.family, task === 'counter' ? 'counting' : 'indexOfOccurrence');
        if (hasCorrelation(laptop, task, ex.text)) hits++;
      }
      // Correlated fraction = C_Tr + (1 - C_Tr) * natural rate.
      const expected = cTrain + (1 - cTrain) * natural;
      assert.ok(withinBinomial(hits, N, expected) || (cTrain === 1 && hits === N), `${task} C_Tr ${cTrain}: ${hits}/${N} vs ${expected}`);
    }
  }
});

test('finetune: Fig. 16 label distributions stay comparable across C_Tr and operands', () => {
  for (const task of TASKS) {
    const d = labelDistributions(laptop, task, 3000, 7);
    assert.deepEqual(d.bins, Array.from({ length: d.a.c0.length }, (_, i) => i));
    for (const h of [d.a.c0, d.a.c1, d.b.c0, d.b.c1]) assert.ok(h.reduce((s, x) => s + x, 0) >= 2990);
    // The fine-tuning label (operand b) has the same distribution with and without the correlation...
    assert.ok(totalVariation(d.b.c0, d.b.c1) < 0.1, `${task} b c0/c1 ${totalVariation(d.b.c0, d.b.c1)}`);
    // ...and natural a- and b-answers are alike (the grammar treats a and b symmetrically enough).
    assert.ok(totalVariation(d.a.c0, d.b.c0) < 0.08, `${task} a/b ${totalVariation(d.a.c0, d.b.c0)}`);
  }
  // Control: the 'resample' method concentrates the counter labels, which the check must catch.
  const r = labelDistributions(laptop, 'counter', 3000, 7, 'resample');
  assert.ok(totalVariation(r.b.c0, r.b.c1) > 0.3);
});

test('finetune: deterministic in the seed', () => {
  const a = labelDistributions(laptop, 'counter', 200, 3);
  const b = labelDistributions(laptop, 'counter', 200, 3);
  assert.deepEqual(a, b);
  const x = sampleFinetuneExample(laptop, { task: 'indexer', cTrain: 0.5 }, new Rng(9));
  const y = sampleFinetuneExample(laptop, { task: 'indexer', cTrain: 0.5 }, new Rng(9));
  assert.deepEqual(x, y);
});

test('finetune: jailbreak pretraining config adds T_NJ/T_J1/T_J2 counting once', () => {
  const cfg = jailbreakPretrainConfig(laptop);
  assert.deepEqual([...cfg.families].sort(), ['counting', 'countingJ1', 'countingJ2', 'indexOfOccurrence']);
  assert.deepEqual(jailbreakPretrainConfig(cfg).families, cfg.families);
  assert.equal(cfg.textLength, laptop.textLength);
});

test('finetune: impossible settings fail loudly instead of looping', () => {
  // The 4th a right after the 4th b needs 4 a's and 4 b's: impossible in a 6-token text.
  const tiny: PcfgConfig = { ...laptop, textLength: 6, countWindow: 2, occurrence: 4 };
  for (const method of ['edit', 'resample'] as const) {
    assert.throws(() => sampleFinetuneText(tiny, 'indexer', true, new Rng(1), method), /no indexer correlation/);
  }
});
