/** Reading learning curves: reverse fine-tuning's sample-efficiency claim is "iterations to reach X%". */

export interface CurvePoint {
  step: number;
  value: number;
}

/** The first step at which the curve reaches `threshold` (inclusive), or null if it never does. */
export function stepsToReach(curve: readonly CurvePoint[], threshold: number): number | null {
  for (const p of [...curve].sort((a, b) => a.step - b.step)) if (p.value >= threshold) return p.step;
  return null;
}

/** Picks a numeric metric out of metric rows (e.g. the trainer's metrics.jsonl) as a curve. */
export function metricCurve(rows: readonly Record<string, unknown>[], key: string): CurvePoint[] {
  return rows
    .filter((r) => typeof r[key] === 'number' && typeof r.step === 'number')
    .map((r) => ({ step: r.step as number, value: r[key] as number }));
}

/** Log-spaced evaluation steps between 1 and total (inclusive), for curves plotted on a log x axis. */
export function logSpacedSteps(total: number, perDecade = 4): number[] {
  const steps = new Set<number>([0]);
  for (let e = 0; e <= Math.log10(Math.max(1, total)) + 1e-9; e += 1 / perDecade) steps.add(Math.min(total, Math.round(10 ** e)));
  steps.add(total);
  return [...steps].sort((a, b) => a - b);
}
