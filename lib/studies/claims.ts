/**
 * The paper's headline claims as measurements over seeds. Each claim reads one number from a study's table (a gap,
 * a gain, a difference in iterations) and states on which side of a threshold the paper puts it; measured over
 * independent seeds (each seed drives data, initialisation, pretraining and fine-tuning), the 95% t interval of the
 * mean decides `yes`, `no` or `within noise` — never one run.
 *
 *   const rows = await measureClaims({ preset: 'laptop', seeds: 3, only: 'tracr' });
 */
import { decide, tMean, type ClaimVerdict } from '../analysis/stats';
import { metric } from '../engine/metrics';
import type { Preset } from '../experiments/define';
import { UsageError } from '../experiments/define';
import { UNTRAINED_LABEL } from '../experiments/tinystories/experiments';
import { TRACR_LR_ROLES } from '../experiments/tracr/finetune';
import * as pcfg from './pcfg';
import { runStudiesOverSeeds, type AnyStudy, type StudyOptions } from './study';
import { tinyStoriesStudy, type TinyStoriesTable } from './tinystories';
import * as tracr from './tracr';

export interface Claim<T> {
  id: string;
  group: 'pcfg' | 'tracr' | 'tinystories';
  /** What is claimed, in the paper's terms. */
  statement: string;
  /** What the number is, with its unit. */
  measure: string;
  /** The paper's value or finding. */
  paper: string;
  study: AnyStudy;
  /** The claim's number from one seed's table; null where the preset's grid lacks the cell. */
  value(table: T, preset: Preset): number | null;
  threshold: number;
  direction: 'above' | 'below';
}

const defineClaim = <T>(c: Claim<T>): Claim<T> => Object.freeze(c);

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** A model's Twist probe accuracy averaged over blocks. */
const twistProbe = (m: TinyStoriesTable['probe']['models'][number]) => mean(m.accuracy.map((row) => row[m.features.indexOf('Twist')]));

/** A probe score of the six deleted models (labels "<protocol> (LR S|M)"), their mean minus Not in PT's. */
function deletedMinusNotInPT<M extends { label: string }>(models: readonly M[], score: (m: M) => number): number | null {
  const control = models.find((m) => m.label === 'Not in PT');
  const deleted = models.filter((m) => / \(LR [SM]\)$/.test(m.label));
  return control && deleted.length ? mean(deleted.map(score)) - score(control) : null;
}

/** Steps to a threshold, with "never" as one evaluation past the last step (so a gap is still a number). */
const stepsOrNever = (steps: number | null, curve: { step: number }[]) => steps ?? (curve.at(-1)?.step ?? 0) + 1;

/** A PCFG model's best block probe accuracy for #a. */
const bestProbeA = (m?: pcfg.ProbedModel) => (m ? Math.max(...m.results.blocks.map((b) => b.opt)) : NaN);

export const CLAIMS = [
  defineClaim<pcfg.FinetuneTable>({
    id: 'pcfg-shortcut',
    group: 'pcfg',
    statement: 'with correlated fine-tuning data (C_Tr = 1) the model counts b only where the correlation holds (Table 5)',
    measure: 'Acc O_FT on C_Te = 1 minus on C_Te = 0, P^L, η_M, C_Tr = 1 (points / 100)',
    paper: '100 - 0 = 1.00',
    study: pcfg.finetuneStudy,
    value: (t) => {
      const c = t.cells.find((x) => x.prior === 'L' && x.lr === 'M' && x.cTrain === 1);
      return c ? metric(c.results.final, 'acc.oft.cte1') - metric(c.results.final, 'acc.oft.cte0') : null;
    },
    threshold: 0.3,
    direction: 'above',
  }),
  defineClaim<pcfg.PruningTable>({
    id: 'pcfg-pruning-revives',
    group: 'pcfg',
    statement: 'pruning a few MLP neurons by grad × weight revives count a (Fig 7)',
    measure: 'Acc O_PT (C_Te = 0) after the last pruned neuron minus before, P^L, C_Tr = 1, smallest LR of the grid',
    paper: 'count a back within 5-15 neurons',
    study: pcfg.pruningStudy,
    value: (t) => {
      const c = t.main.filter((x) => x.cTrain === 1).at(-1);
      if (!c) return null;
      const s = c.results.steps;
      return metric(s[s.length - 1].acc, 'acc.opt.cte0') - metric(s[0].acc, 'acc.opt.cte0');
    },
    threshold: 0.2,
    direction: 'above',
  }),
  defineClaim<pcfg.ProbingTable>({
    id: 'pcfg-probe-keeps-count-a',
    group: 'pcfg',
    statement: 'a linear probe still reads #a after fine-tuning, close to the pretrained model (Fig 8)',
    measure: 'best block probe accuracy for #a, fine-tuned (η_M, C_Tr = 1) minus pretrained, P^L',
    paper: 'close to the pretrained curve (a drop at η_M)',
    study: pcfg.probingStudy,
    value: (t) => {
      const pre = t.models.find((m) => m.prior === 'L' && !m.finetune && !m.untrained);
      const ft = t.models.find((m) => m.prior === 'L' && m.finetune?.lr === 'M' && m.finetune.cTrain === 1);
      return pre && ft ? bestProbeA(ft) - bestProbeA(pre) : null;
    },
    threshold: -0.1,
    direction: 'above',
  }),
  defineClaim<pcfg.ProbingTable>({
    id: 'pcfg-probe-above-untrained',
    group: 'pcfg',
    statement: 'the #a probe reads what pretraining put there: the pretrained P^L model probes above an untrained model of the same shape',
    measure: 'best block probe accuracy for #a, pretrained P^L minus the untrained control (same shape, same probe)',
    paper: '(a baseline the paper does not draw)',
    study: pcfg.probingStudy,
    value: (t) => {
      const pre = t.models.find((m) => m.prior === 'L' && !m.finetune && !m.untrained);
      const control = t.models.find((m) => m.untrained);
      return pre && control ? bestProbeA(pre) - bestProbeA(control) : null;
    },
    threshold: 0,
    direction: 'above',
  }),
  defineClaim<pcfg.ReftTable>({
    id: 'pcfg-reft-faster',
    group: 'pcfg',
    statement: 'reverse fine-tuning revives count a in fewer iterations than learning it from scratch (Fig 9)',
    measure: 'iterations to 90% Acc O_PT, Scr.+FT minus reFT (P^L, after η_M, C_Tr = 1); never = one past the last step',
    paper: 'reFT 0.1-3K vs Scr.+FT ~4.5K',
    study: pcfg.reftStudy,
    value: (t) => {
      const reft = t.runs.find((r) => r.kind === 'reft' && r.prior === 'L' && r.finetune?.lr === 'M' && r.finetune.cTrain === 1);
      const scratch = t.runs.find((r) => r.kind === 'scratch' && r.reftLr === reft?.reftLr);
      if (!reft || !scratch) return null;
      return stepsOrNever(scratch.results.to90, scratch.results.curve) - stepsOrNever(reft.results.to90, reft.results.curve);
    },
    threshold: 0,
    direction: 'above',
  }),
  defineClaim<pcfg.AppendixTable>({
    id: 'pcfg-jailbreak',
    group: 'pcfg',
    statement: 'after fine-tuning through T_NJ, the jailbreak token T_J1 still counts a (App. E.2, Fig 24)',
    measure: 'final Acc count a through T_J1 minus through T_NJ, P^L, η_M, C_Te = 0',
    paper: 'T_J1 keeps count a while T_NJ loses it',
    study: pcfg.appendixStudy,
    value: (t) => {
      const c = t.jailbreak.find((x) => x.prior === 'L' && x.lr === 'M');
      return c ? metric(c.results.final, 'acc.jb1.cte0') - metric(c.results.final, 'acc.opt.cte0') : null;
    },
    threshold: 0.1,
    direction: 'above',
  }),
  defineClaim<tracr.TracrFinetuneTable>({
    id: 'tracr-attention-kept',
    group: 'tracr',
    statement: "fine-tuning at a small LR keeps the compiled Counter's attention on a (Fig 10)",
    measure: "attention mass on a minus on b at the Counter's readout, after η_S, C_Tr = 1",
    paper: 'a-attention kept at η_S and η_M',
    study: tracr.finetuneStudy,
    value: (t, preset) => {
      const r = t.finetuned.find((x) => x.program === 'counter' && x.lr === TRACR_LR_ROLES[preset].S && x.cTr === 1);
      return r ? r.attention.finetuned.ptMass - r.attention.finetuned.ftMass : null;
    },
    threshold: 0,
    direction: 'above',
  }),
  defineClaim<tracr.TracrPruneTable>({
    id: 'tracr-prune-one-weight',
    group: 'tracr',
    statement: "pruning one weight (grad × weight) of the Counter fine-tuned on correlated data revives count a (Figs 55-59)",
    measure: 'Acc O_PT (C_Te = 0) after pruning one weight minus before, η_S, C_Tr = 1',
    paper: '> 60 points',
    study: tracr.pruneStudy,
    value: (t, preset) => {
      const r = t.runs.find((x) => x.program === 'counter' && x.granularity === 'weight' && x.scoring === 'gradxweight' && x.results.cTr === 1 && x.results.lr === TRACR_LR_ROLES[preset].S);
      return r && r.results.steps[1] ? r.results.steps[1].acc.cTe0.pt - r.results.steps[0].acc.cTe0.pt : null;
    },
    threshold: 0.5,
    direction: 'above',
  }),
  defineClaim<tracr.TracrPruneTable>({
    id: 'tracr-prune-exact-weights',
    group: 'tracr',
    statement: 'a few single weights, found by exact scoring (measured loss drops, greedy), revive the Counter\'s count a',
    measure: 'best gain in Acc O_PT (C_Te = 0) over the exact sweep (smoke 2, laptop 5 weights), η_S, C_Tr = 1',
    paper: '> 60 points with one weight (grad × weight)',
    study: tracr.pruneStudy,
    value: (t) => {
      const r = t.runs.find((x) => x.program === 'counter' && x.scoring === 'exact');
      return r ? r.results.bestGain.cTe0 : null;
    },
    threshold: 0.5,
    direction: 'above',
  }),
  defineClaim<tracr.TracrPruneTable>({
    id: 'tracr-best-single-weight',
    group: 'tracr',
    statement: 'some single weight of the Counter fine-tuned on correlated data, zeroed alone, revives count a (every weight tried: no scoring, no approximation)',
    measure: 'largest Acc O_PT (C_Te = 0) gain over every weight zeroed alone, collapses onto one answer included, η_S, C_Tr = 1',
    paper: '> 60 points with one weight (grad × weight)',
    study: tracr.pruneStudy,
    value: (t) => (t.scan?.top[0] ? t.scan.top[0].pt - t.scan.base.pt : null),
    threshold: 0.5,
    direction: 'above',
  }),
  defineClaim<tracr.TracrReftTable>({
    id: 'tracr-reft-faster',
    group: 'tracr',
    statement: 'reverse fine-tuning revives the Counter far beyond what Scr.+FT reaches in as many steps (Fig 27, Table 4)',
    measure: 'final Acc O_PT (C_Te = 0), reFT minus Scr.+FT, Counter fine-tuned with C_Tr = 1, largest reFT LR',
    paper: 'reFT ≪ Scr.+FT iterations',
    study: tracr.reftStudy,
    value: (t) => {
      const r = t.runs.filter((x) => x.program === 'counter' && x.cTr === 1).sort((a, b) => b.reftLr - a.reftLr)[0];
      return r ? r.reft.final.cTe0.pt - r.scratch.final.cTe0.pt : null;
    },
    threshold: 0.2,
    direction: 'above',
  }),
  defineClaim<TinyStoriesTable>({
    id: 'tinystories-deletion',
    group: 'tinystories',
    statement: 'fine-tuning on Twist-free stories deletes the Twist from sampled stories (Table 1, it 0)',
    measure: 'Twist rate of Present in PT minus the mean over the six deleted models (reFT step 0)',
    paper: 'deleted models 12-69% (Present in PT higher)',
    study: tinyStoriesStudy,
    value: (t) => {
      const deleted = t.reft.table.filter((r) => !/Not in PT/.test(r.label));
      if (deleted.length === 0) return null;
      return t.reft.pretrained.present['twist.rate'] - deleted.reduce((a, r) => a + r.twistPercent[0] / 100, 0) / deleted.length;
    },
    threshold: 0.1,
    direction: 'above',
  }),
  defineClaim<TinyStoriesTable>({
    id: 'tinystories-probe-separation',
    group: 'tinystories',
    statement: 'the Twist stays linearly readable after deletion: deleted models probe above Not in PT (Fig 11 left)',
    measure: 'Twist probe accuracy averaged over blocks, mean of the deleted models minus Not in PT',
    paper: 'deleted ≈ Present in PT > Not in PT',
    study: tinyStoriesStudy,
    value: (t) => deletedMinusNotInPT(t.probe.models, twistProbe),
    threshold: 0,
    direction: 'above',
  }),
  defineClaim<TinyStoriesTable>({
    id: 'tinystories-probe-above-untrained',
    group: 'tinystories',
    statement: 'the Twist probe reads what pretraining put there: Present in PT probes above an untrained model of the same shape',
    measure: 'Twist probe accuracy averaged over blocks, Present in PT minus the untrained control',
    paper: '(a baseline the paper does not draw)',
    study: tinyStoriesStudy,
    value: (t) => {
      const present = t.probe.models.find((m) => m.label === 'Present in PT');
      const untrained = t.probe.models.find((m) => m.label === UNTRAINED_LABEL);
      return present && untrained ? twistProbe(present) - twistProbe(untrained) : null;
    },
    threshold: 0,
    direction: 'above',
  }),
  defineClaim<TinyStoriesTable>({
    id: 'tinystories-structure-probe-separation',
    group: 'tinystories',
    statement: 'the twist\'s structure, not its words, stays readable after deletion: a Twist probe tested on held-out twist realisers reads deleted models above Not in PT',
    measure: 'held-out-realiser Twist probe accuracy averaged over blocks, mean of the deleted models minus Not in PT',
    paper: 'deleted ≈ Present in PT > Not in PT',
    study: tinyStoriesStudy,
    value: (t) => (t.probe.structure ? deletedMinusNotInPT(t.probe.structure.models, (m) => mean(m.accuracy)) : null),
    threshold: 0,
    direction: 'above',
  }),
  defineClaim<TinyStoriesTable>({
    id: 'tinystories-reft-faster',
    group: 'tinystories',
    statement: 'reFT revives the Twist in deleted models faster than the never-trained control learns it (Table 1)',
    measure: "Twist rate at the table's second reFT step, mean of the deleted models minus Not in PT",
    paper: 'deleted 44-88% at it 30 vs control 31%',
    study: tinyStoriesStudy,
    value: (t) => {
      const control = t.reft.table.find((r) => /Not in PT/.test(r.label));
      const deleted = t.reft.table.filter((r) => !/Not in PT/.test(r.label));
      if (!control || deleted.length === 0 || control.twistPercent.length < 2) return null;
      return (deleted.reduce((a, r) => a + r.twistPercent[1], 0) / deleted.length - control.twistPercent[1]) / 100;
    },
    threshold: 0,
    direction: 'above',
  }),
] as const;

export interface ClaimRow {
  id: string;
  group: string;
  statement: string;
  measure: string;
  paper: string;
  preset: Preset;
  seeds: number[];
  /** One value per seed, in `seeds` order. */
  values: number[];
  mean: number;
  lo95: number;
  hi95: number;
  threshold: number;
  direction: 'above' | 'below';
  verdict: ClaimVerdict;
}

export interface ClaimOptions extends Omit<StudyOptions, 'seed'> {
  /** How many seeds (0..n-1), or which; default 3. */
  seeds?: number | number[];
  /** A claim id, a group (pcfg | tracr | tinystories) or a prefix glob ("pcfg-*"). */
  only?: string;
  /**
   * More (or fewer) seeds for some claims, by id, group or glob: e.g. `{ 'pcfg-jailbreak': 6 }` for a claim that
   * three seeds leave within noise. Each such claim is measured over seeds 0..n-1 and its row says how many.
   */
  seedsFor?: Record<string, number>;
}

/** The claims an `only` pattern picks: comma-separated ids, groups or globs, in CLAIMS order. */
export function chooseClaims(only?: string): Claim<unknown>[] {
  const all = CLAIMS as readonly Claim<never>[] as Claim<unknown>[];
  if (!only) return all;
  const picked = new Set<Claim<unknown>>();
  for (const part of only.split(',').map((p) => p.trim()).filter(Boolean)) {
    const re = new RegExp(`^${part.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
    const chosen = all.filter((c) => c.group === part || re.test(c.id));
    if (chosen.length === 0) throw new UsageError(`no claim matches "${part}"; known: ${all.map((c) => c.id).join(', ')} (groups pcfg, tracr, tinystories)`);
    chosen.forEach((c) => picked.add(c));
  }
  return all.filter((c) => picked.has(c));
}

/**
 * Measures the chosen claims over the seeds: every seed's runs of the studies they need in one schedule (cached runs
 * are free). Claims given their own seed count (`seedsFor`) are measured over theirs; rows come in table order.
 */
export async function measureClaims(opts: ClaimOptions = {}): Promise<ClaimRow[]> {
  const chosen = chooseClaims(opts.only);
  const seedsOf = new Map<Claim<unknown>, number>();
  for (const [pattern, n] of Object.entries(opts.seedsFor ?? {})) {
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`seeds for "${pattern}" must be a positive integer, got ${n}`);
    const picked = chooseClaims(pattern).filter((c) => chosen.includes(c));
    if (picked.length === 0) throw new UsageError(`seeds for "${pattern}": it picks none of the claims measured here (${chosen.map((c) => c.id).join(', ')})`);
    picked.forEach((c) => seedsOf.set(c, n));
  }
  const base = chosen.filter((c) => !seedsOf.has(c));
  const groups: [Claim<unknown>[], ClaimOptions['seeds']][] = [[base, opts.seeds], ...[...new Set(seedsOf.values())].map((n): [Claim<unknown>[], number] => [chosen.filter((c) => seedsOf.get(c) === n), n])];
  const rows: ClaimRow[] = [];
  for (const [claims, seeds] of groups) if (claims.length) rows.push(...(await measureOver(claims, seeds, opts)));
  return rows.sort((a, b) => chosen.findIndex((c) => c.id === a.id) - chosen.findIndex((c) => c.id === b.id));
}

async function measureOver(claims: Claim<unknown>[], seedCount: ClaimOptions['seeds'], opts: ClaimOptions): Promise<ClaimRow[]> {
  const seeds = Array.isArray(seedCount) ? seedCount : Array.from({ length: seedCount ?? 3 }, (_, i) => i);
  if (seeds.length === 0 || seeds.some((s) => !Number.isInteger(s) || s < 0)) throw new UsageError(`seeds must be non-negative integers, got ${JSON.stringify(seedCount)}`);
  const studies = [...new Set(claims.map((c) => c.study))];
  const values = claims.map(() => [] as number[]);
  let preset: Preset | undefined;
  opts.log?.(`claims: seeds ${seeds.join(', ')}, one schedule: ${studies.map((s) => s.id).join(', ')}`);
  for (const tables of await runStudiesOverSeeds(studies, seeds, opts)) {
    preset = (tables[0] as { preset: Preset }).preset;
    claims.forEach((c, i) => {
      const v = c.value(tables[studies.indexOf(c.study)] as never, preset!);
      if (v !== null && Number.isFinite(v)) values[i].push(v);
    });
  }
  return claims.flatMap((c, i) => {
    if (values[i].length === 0) return [];
    const est = tMean(values[i]);
    return [{
      id: c.id, group: c.group, statement: c.statement, measure: c.measure, paper: c.paper, preset: preset!,
      seeds, values: values[i], mean: est.value, lo95: est.lo, hi95: est.hi, threshold: c.threshold, direction: c.direction,
      verdict: decide(est, c),
    }];
  });
}

const num = (x: number) => (Number.isFinite(x) ? (Math.abs(x) >= 100 ? x.toFixed(0) : x.toPrecision(3)) : x > 0 ? '∞' : '-∞');

/** The claim table as Markdown (the shape of figures/README.md's claim tables), saying which claims it leaves out. */
export function claimsMarkdown(rows: readonly ClaimRow[]): string {
  const missing = CLAIMS.filter((c) => !rows.some((r) => r.id === c.id)).map((c) => c.id);
  // The seeds most rows share; rows measured over their own say so, and the command reproduces them.
  const seedsOf = (r: ClaimRow) => r.seeds.join(', ');
  const tally = new Map<string, number>();
  for (const r of rows) tally.set(seedsOf(r), (tally.get(seedsOf(r)) ?? 0) + 1);
  const common = [...tally].sort((a, b) => b[1] - a[1])[0]?.[0];
  const commonCount = rows.find((r) => seedsOf(r) === common)?.seeds.length;
  const own = rows.filter((r) => seedsOf(r) !== common);
  const ownSaid = own.length ? ` (${own.map((r) => `${r.id}: seeds ${seedsOf(r)}`).join('; ')})` : '';
  const ownFlag = own.length ? ` --seeds-for ${own.map((r) => `${r.id}=${r.seeds.length}`).join(',')}` : '';
  const about = rows.length
    ? `Preset ${rows[0].preset}, seeds ${common}${ownSaid}; \`npx wraplab claims --preset ${rows[0].preset} --seeds ${commonCount}${ownFlag}\`. Not measured here: ${missing.join(', ') || 'none'}.\n\n`
    : '';
  const head = about + '| claim | measure | paper | seeds | mean [95% CI] | holds when | verdict |\n|---|---|---|---|---|---|---|';
  const body = rows.map((r) => `| ${r.statement} | ${r.measure} | ${r.paper} | ${r.values.length} | ${num(r.mean)} [${num(r.lo95)}, ${num(r.hi95)}] | ${r.direction === 'above' ? '>' : '<'} ${r.threshold} | ${r.verdict} |`);
  return [head, ...body].join('\n') + '\n';
}

/** One CSV row per claim, with the per-seed values (per_seed: a column named "values" would shadow danfo's own). */
export function claimsCsvRows(rows: readonly ClaimRow[]) {
  return rows.map((r) => ({ id: r.id, group: r.group, preset: r.preset, seeds: r.values.length, per_seed: r.values.map((v) => v.toPrecision(4)).join(' '), mean: r.mean, lo95: r.lo95, hi95: r.hi95, threshold: r.threshold, direction: r.direction, verdict: r.verdict, measure: r.measure, paper: r.paper }));
}
