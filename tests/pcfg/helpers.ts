/** Shared test helpers (not a test file). */

/** |observed - expected| within 5 binomial standard deviations (+1 for tiny p): false alarms ~1e-6. */
export function withinBinomial(k: number, n: number, p: number): boolean {
  return Math.abs(k - n * p) <= 5 * Math.sqrt(n * p * (1 - p)) + 1;
}
