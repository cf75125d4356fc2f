/**
 * One metric vocabulary for every testbed, typed. The paper's questions: O_PT (the pretraining capability, "opt")
 * and O_FT (the fine-tuning one, "oft"), read on test data without (C_Te = 0, "cte0") and with (C_Te = 1, "cte1")
 * the spurious correlation. So `acc.opt.cte0` means the same in the PCFG, Tracr and TinyStories testbeds, and a
 * misspelt key is a compile error.
 */

/** What an accuracy measures: O_PT, O_FT, or counting a behind a jailbreak token (App. E.2). */
export type Question = 'opt' | 'oft' | 'jb1' | 'jb2';
/** C_Te = 0 (plain texts) or 1 (texts with the spurious correlation). */
export type TestSplit = 'cte0' | 'cte1';
export type AccuracyKey = `acc.${Question}.${TestSplit}`;

export function accKey(question: Question, cTe: 0 | 1): AccuracyKey {
  return `acc.${question}.cte${cTe}`;
}

/** PCFG pretraining accuracies: Counting / Index of occurrence of operand a or b (C_Te = 0). */
export type PretrainTask = 'count' | 'index';
export type PretrainAccuracyKey = `acc.${PretrainTask}.${'a' | 'b'}`;

/** TinyStories: losses on held-out stories, and the share of sampled stories with a Twist under each judge. */
export type TwistKey = 'loss.twist' | 'loss.no_twist' | 'loss.adversarial' | 'twist.rate' | 'twist.rate.exact' | 'twist.rate.classifier';

/** The demo and other next-token tasks. */
export type TokenKey = 'acc.token' | 'loss.eval';

export type MetricKey = AccuracyKey | PretrainAccuracyKey | TwistKey | TokenKey;

/** Measured values by metric key (a testbed fills the keys it measures). */
export type Metrics = { [K in MetricKey]?: number };

/** One logged row: the step, the training loss and learning rate where logged, and any metrics measured there. */
export type MetricRow = { step: number; loss?: number; lr?: number } & Metrics;

/** The value of a metric in a row, or NaN where it was not measured. */
export function metric(row: Metrics | undefined, key: MetricKey): number {
  const v = row?.[key];
  return typeof v === 'number' ? v : NaN;
}

/** Only the metric keys of a row (no step, loss, lr). */
export function metricsOf(row: MetricRow): Metrics {
  const { step: _step, loss: _loss, lr: _lr, ...rest } = row;
  return rest;
}
