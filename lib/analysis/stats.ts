/**
 * Uncertainty of the numbers an analysis reports: a percentile bootstrap for means over examples, and the Wilson
 * interval for a proportion (accuracy on n examples). Both are 95% intervals by default.
 */
import { Rng } from '../engine/rng';

export interface Estimate {
  value: number;
  lo: number;
  hi: number;
  /** How many independent units (examples, seeds) the estimate rests on. */
  n: number;
}

/** Mean of `xs` with a percentile-bootstrap interval (seeded, so the same data give the same interval). */
export function bootstrapMean(xs: ArrayLike<number>, opts: { seed?: number; resamples?: number; level?: number } = {}): Estimate {
  const n = xs.length;
  if (n === 0) return { value: NaN, lo: NaN, hi: NaN, n: 0 };
  let sum = 0;
  for (let i = 0; i < n; i++) sum += xs[i];
  const resamples = opts.resamples ?? 1000;
  const level = opts.level ?? 0.95;
  const rng = Rng.derive(opts.seed ?? 0, 'bootstrap');
  const means = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += xs[rng.int(0, n)];
    means[r] = s / n;
  }
  means.sort();
  const at = (q: number) => means[Math.min(resamples - 1, Math.max(0, Math.floor(q * resamples)))];
  return { value: sum / n, lo: at((1 - level) / 2), hi: at(1 - (1 - level) / 2), n };
}

/** The Wilson score interval of k successes in n trials (z = 1.96: 95%). */
export function wilson(k: number, n: number, z = 1.96): Estimate {
  if (n === 0) return { value: NaN, lo: NaN, hi: NaN, n: 0 };
  const p = k / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
  return { value: p, lo: Math.max(0, centre - half), hi: Math.min(1, centre + half), n };
}

/** Mean over seeds with a t interval (n - 1 degrees of freedom); one seed gives an unbounded interval. */
export function tMean(xs: readonly number[]): Estimate {
  const n = xs.length;
  if (n === 0) return { value: NaN, lo: NaN, hi: NaN, n: 0 };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { value: mean, lo: -Infinity, hi: Infinity, n };
  const sd = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1));
  const half = T975[Math.min(n - 1, T975.length) - 1] * (sd / Math.sqrt(n));
  return { value: mean, lo: mean - half, hi: mean + half, n };
}

// Two-sided 95% Student t quantiles for 1..30 degrees of freedom (then ~1.96).
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042, 1.96];

/** What an interval says about a claim "the value is above (or below) a threshold". */
export type ClaimVerdict = 'yes' | 'no' | 'within noise';

/**
 * `yes` when the whole interval lies on the claim's side of the threshold, `no` when the whole of it lies on the
 * other side, `within noise` when it straddles the threshold (one seed's t interval is unbounded: always noise).
 */
export function decide(est: Estimate, claim: { threshold: number; direction: 'above' | 'below' }): ClaimVerdict {
  if (!Number.isFinite(est.value)) return 'within noise';
  const above = est.lo > claim.threshold;
  const below = est.hi < claim.threshold;
  if (claim.direction === 'above') return above ? 'yes' : below ? 'no' : 'within noise';
  return below ? 'yes' : above ? 'no' : 'within noise';
}
