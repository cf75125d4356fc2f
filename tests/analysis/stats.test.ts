import test from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapMean, decide, tMean, wilson } from '../../lib/analysis/stats';
import { Rng } from '../../lib/engine/rng';

/** n draws of a normal(mean, sd) (Box-Muller on the project's seeded RNG). */
function draws(n: number, mean: number, sd: number, seed: number): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => mean + sd * Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next()));
}

test('the t interval over seeds narrows as seeds are added and covers the true mean about 95% of the time', () => {
  const width = (n: number) => {
    let w = 0;
    for (let rep = 0; rep < 200; rep++) {
      const e = tMean(draws(n, 0.5, 0.1, 1000 * n + rep));
      w += e.hi - e.lo;
    }
    return w / 200;
  };
  const [w3, w6, w12] = [width(3), width(6), width(12)];
  assert.ok(w3 > w6 && w6 > w12, `widths ${w3} > ${w6} > ${w12}`);
  assert.ok(Math.abs(w12 / w3 - 0.25) < 0.12, `12 seeds vs 3: ~1/4 the width (t quantiles and sqrt n), got ${w12 / w3}`);
  let covered = 0;
  for (let rep = 0; rep < 400; rep++) {
    const e = tMean(draws(4, 0.5, 0.1, rep));
    if (e.lo <= 0.5 && 0.5 <= e.hi) covered++;
  }
  assert.ok(covered / 400 > 0.91 && covered / 400 < 0.99, `coverage ${covered / 400}`);
  const one = tMean([0.7]);
  assert.deepEqual([one.value, one.lo, one.hi], [0.7, -Infinity, Infinity], 'one seed: no interval');
});

test('a planted effect is found and a null effect is not: the verdict comes from the interval', () => {
  const claim = { threshold: 0, direction: 'above' as const };
  let planted = 0;
  let nullYes = 0;
  for (let rep = 0; rep < 100; rep++) {
    if (decide(tMean(draws(3, 0.3, 0.05, rep)), claim) === 'yes') planted++;
    if (decide(tMean(draws(3, 0, 0.05, 500 + rep)), claim) === 'yes') nullYes++;
  }
  assert.ok(planted >= 95, `a 6-sd effect over 3 seeds is found (${planted}/100)`);
  assert.ok(nullYes <= 6, `a null effect is called "yes" at most ~2.5% + noise of the time (${nullYes}/100)`);
  assert.equal(decide(tMean([-0.3, -0.31, -0.29]), claim), 'no', 'an interval wholly on the other side says no');
  assert.equal(decide(tMean([0.3]), claim), 'within noise', 'one seed decides nothing');
  assert.equal(decide(tMean([-0.3, -0.31, -0.29]), { threshold: 0, direction: 'below' }), 'yes');
});

test('Wilson and bootstrap intervals: proportions and means over examples', () => {
  const w = wilson(86, 100);
  assert.ok(w.lo < 0.86 && w.hi > 0.86 && w.hi - w.lo > 0.1 && w.hi - w.lo < 0.16, `${w.lo}..${w.hi}`);
  assert.ok(wilson(860, 1000).hi - wilson(860, 1000).lo < (w.hi - w.lo) / 2.5, 'ten times the examples: ~1/3 the width');
  const b1 = bootstrapMean(draws(50, 1, 0.2, 3), { seed: 1 });
  assert.deepEqual(b1, bootstrapMean(draws(50, 1, 0.2, 3), { seed: 1 }), 'seeded: the same data give the same interval');
  assert.ok(b1.lo < 1.05 && b1.hi > 0.95);
});
