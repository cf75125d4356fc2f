/**
 * Seeds as an axis of every figure and table: the same figure set drawn from several seeds' tables becomes one
 * figure whose traces are the seed mean with 95% t-interval error bars, and one CSV whose measured columns gain
 * `<col>_lo` / `<col>_hi` columns and a `seeds` count. Figures and tables stay pure functions of one seed's tables;
 * this merges what they drew, trace by trace and cell by cell, so no figure needs its own seed code.
 *
 * What cannot be averaged is kept apart, never blurred: a heat map whose axes differ between seeds (different
 * prompts) keeps seed 0's map and says so; a curve whose x values differ is drawn once per seed, faint beyond the
 * first; tables whose rows do not line up become one long table with a `seed` column.
 */
import { tMean, type Estimate } from '../analysis/stats';
import type { Figure } from './figure';
import { DataFrame, danfo } from './table';

type Cell = string | number | boolean | null;

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
/** A table cell as a number: numbers, and strings that spell one (tables often hold CSV-ready text such as '67.0'); else null. */
const cellNumber = (v: unknown): number | null => (isNum(v) ? v : typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : null);
/** Missing: null, or the empty string a table writes for "no value". */
const isMissing = (v: unknown) => v === null || v === '';
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The t interval of the finite values among `xs` (null when there are none). */
function estimate(xs: readonly unknown[]): Estimate | null {
  const v = xs.map(cellNumber).filter((x): x is number => x !== null);
  return v.length ? tMean(v) : null;
}

/** Rounds away float noise from the mean and bounds so CSVs stay stable and readable. */
const tidy = (x: number) => (Number.isFinite(x) ? Number(x.toPrecision(6)) : x);

// ---------------------------------------------------------------------------------------------------- tables

export interface SeedTable {
  columns: string[];
  rows: Cell[][];
}

function plain(df: DataFrame): SeedTable {
  return { columns: [...(df.columns as string[])], rows: (df.values as Cell[][]).map((r) => [...r]) };
}

/**
 * One table from the same table drawn for each seed. Rows line up by position; a column whose values differ
 * between seeds in any row is a measurement: it becomes the mean, with `<col>_lo` and `<col>_hi` (95% t interval
 * over seeds) beside it. Columns equal on every seed (labels, learning rates, steps) stay as they are. A `seeds`
 * column counts the seeds behind each row; a measured column some seeds leave empty adds `<col>_n`. Tables whose shape or labels differ are stacked with a `seed` column.
 */
export function mergeSeedRows(tables: readonly SeedTable[], seeds: readonly number[]): SeedTable {
  if (tables.length !== seeds.length || tables.length === 0) throw new Error(`mergeSeedRows: ${tables.length} tables for ${seeds.length} seeds`);
  const [first] = tables;
  if (tables.length === 1) return { columns: [...first.columns, 'seeds'], rows: first.rows.map((r) => [...r, 1]) };
  const aligned = tables.every((t) => same(t.columns, first.columns) && t.rows.length === first.rows.length);
  const measured = first.columns.map((_, c) => aligned && first.rows.some((_, r) => tables.some((t) => !same(t.rows[r][c], first.rows[r][c]))));
  // A varying column that is not numeric (a label that depends on the seed) means the rows are not the same rows.
  const numeric = measured.every((m, c) => !m || tables.every((t) => t.rows.every((row) => isMissing(row[c]) || cellNumber(row[c]) !== null)));
  if (!aligned || !numeric) {
    return { columns: ['seed', ...first.columns], rows: tables.flatMap((t, i) => t.rows.map((r) => [seeds[i], ...r])) };
  }
  // A measured cell may rest on fewer seeds than the table (a threshold some seeds never reach): such columns get
  // `<col>_n`, the seeds behind each mean, so a mean over the seeds that reached it is not read as all of them.
  const finite = (r: number, c: number) => tables.filter((t) => cellNumber(t.rows[r][c]) !== null).length;
  const partial = first.columns.map((_, c) => measured[c] && first.rows.some((_, r) => finite(r, c) < tables.length));
  const columns: string[] = [];
  first.columns.forEach((name, c) => {
    if (!measured[c]) return void columns.push(name);
    columns.push(name, `${name}_lo`, `${name}_hi`, ...(partial[c] ? [`${name}_n`] : []));
  });
  columns.push('seeds');
  const rows = first.rows.map((row, r) => {
    const out: Cell[] = [];
    row.forEach((cell, c) => {
      if (!measured[c]) return void out.push(cell);
      const e = estimate(tables.map((t) => t.rows[r][c]));
      out.push(e ? tidy(e.value) : null, e && e.n > 1 ? tidy(e.lo) : null, e && e.n > 1 ? tidy(e.hi) : null, ...(partial[c] ? [e?.n ?? 0] : []));
    });
    out.push(tables.length);
    return out;
  });
  return { columns, rows };
}

export function mergeSeedTables(tables: readonly DataFrame[], seeds: readonly number[]): DataFrame {
  const merged = mergeSeedRows(tables.map(plain), seeds);
  const dfd = danfo();
  return new dfd.DataFrame(merged.rows, { columns: merged.columns });
}

// ---------------------------------------------------------------------------------------------------- figures

type Trace = Record<string, unknown>;

/** Pixels the seeds' subtitle line adds above a merged figure (its margin and height grow by this). */
export const SEED_SUBTITLE_PX = 30;

const numericArray = (v: unknown): v is (number | null)[] => Array.isArray(v) && v.every((x) => x === null || isNum(x));

/** Mean and interval of numeric arrays of one length, position by position. */
function meanArrays(arrays: (number | null)[][]): { mean: (number | null)[]; plus: number[]; minus: number[] } {
  const mean: (number | null)[] = [];
  const plus: number[] = [];
  const minus: number[] = [];
  arrays[0].forEach((_, i) => {
    const e = estimate(arrays.map((a) => a[i]));
    mean.push(e ? e.value : null);
    plus.push(e && e.n > 1 ? e.hi - e.value : 0);
    minus.push(e && e.n > 1 ? e.value - e.lo : 0);
  });
  return { mean, plus, minus };
}

/** Keys whose values may differ between seeds without making traces different traces (they are recomputed). */
const MEASURED_KEYS = new Set(['x', 'y', 'z', 'text', 'customdata', 'error_x', 'error_y', 'hovertext']);

function mergeTrace(traces: Trace[]): { traces: Trace[]; kept: 'bars' | 'map' | 'first' | 'all' } {
  const [t0] = traces;
  const style = (t: Trace) => JSON.stringify(Object.keys(t).filter((k) => !MEASURED_KEYS.has(k)).map((k) => [k, t[k]]));
  const style0 = style(t0);
  const styleSame = traces.every((t) => style(t) === style0);
  const type = String(t0.type ?? 'scatter');
  const drop = (t: Trace, ...keys: string[]) => Object.fromEntries(Object.entries(t).filter(([k]) => !keys.includes(k)));
  const textSame = traces.every((t) => same(t.text, t0.text) && same(t.customdata, t0.customdata) && same(t.hovertext, t0.hovertext));
  const textless = (t: Trace) => (textSame ? t : drop(t, 'text', 'customdata', 'hovertext', 'texttemplate'));

  if (type === 'heatmap') {
    const z = traces.map((t) => t.z as unknown[][]);
    const ok = styleSame && traces.every((t) => same(t.x, t0.x) && same(t.y, t0.y)) && z.every((m) => Array.isArray(m) && m.length === z[0].length && m.every((row, i) => numericArray(row) && row.length === z[0][i].length));
    if (!ok) return { traces: [t0], kept: 'first' };
    const mean = z[0].map((row, i) => meanArrays(z.map((m) => m[i] as (number | null)[])).mean);
    return { traces: [{ ...textless(t0), z: mean }], kept: 'map' };
  }
  // Bars and scatter: the value axis is y, or x for horizontal bars.
  const [along, value, err] = t0.orientation === 'h' ? ['y', 'x', 'error_x'] : ['x', 'y', 'error_y'];
  const ok = styleSame && traces.every((t) => same(t[along], t0[along]) && numericArray(t[value]) && (t[value] as unknown[]).length === (t0[value] as unknown[]).length);
  if (!ok) {
    // Curves on different x grids: each seed drawn, the first as it was, the others faint and out of the legend.
    return { traces: traces.map((t, i) => (i === 0 ? t : { ...t, opacity: 0.35, showlegend: false, name: `${String(t.name ?? '')} (seed ${i})` })), kept: 'all' };
  }
  const { mean, plus, minus } = meanArrays(traces.map((t) => t[value] as (number | null)[]));
  const color = (t0.marker as { color?: unknown } | undefined)?.color ?? (t0.line as { color?: unknown } | undefined)?.color;
  const bars = { type: 'data', symmetric: false, array: plus, arrayminus: minus, thickness: 1.2, width: 3, ...(typeof color === 'string' ? { color } : {}) };
  return { traces: [{ ...textless(t0), [value]: mean, [err]: bars }], kept: 'bars' };
}

/**
 * One figure from the same figure drawn for each seed: each trace the mean over seeds with 95% t-interval error
 * bars (heat maps: the mean map), the title saying so. Traces pair up by position; figures whose trace lists
 * differ are not the same figure and are refused.
 */
export function mergeSeedFigures(figures: readonly Figure[], seeds: readonly number[]): Figure {
  if (figures.length !== seeds.length || figures.length === 0) throw new Error(`mergeSeedFigures: ${figures.length} figures for ${seeds.length} seeds`);
  if (figures.length === 1) return figures[0];
  const [f0] = figures;
  if (!figures.every((f) => f.data.length === f0.data.length)) {
    throw new Error(`mergeSeedFigures: the seeds drew different numbers of traces (${figures.map((f) => f.data.length).join(', ')}); a figure must draw the same traces for every seed`);
  }
  const kept = new Set<string>();
  const data = f0.data.flatMap((_, i) => {
    const m = mergeTrace(figures.map((f) => f.data[i]));
    kept.add(m.kept);
    return m.traces;
  });
  const what = [
    kept.has('bars') || kept.has('map') ? `mean of seeds ${seeds.join(', ')}${kept.has('bars') ? '; bars: 95% t interval over seeds' : ''}` : '',
    kept.has('first') ? `maps that differ by seed: seed ${seeds[0]}` : '',
    kept.has('all') ? 'curves on different grids: one per seed' : '',
  ].filter(Boolean).join('; ');
  const title = f0.layout.title as { text?: string } | string | undefined;
  const text = typeof title === 'string' ? title : (title?.text ?? '');
  // The subtitle's line needs room above the panels' own titles.
  const margin = (f0.layout.margin ?? {}) as { t?: number };
  const layout: Record<string, unknown> = {
    ...f0.layout,
    // Pinned to the top, so its second line does not run into the panels' own titles.
    title: { ...(typeof title === 'object' ? title : {}), text: `${text}<br><sub>${what}</sub>`, yref: 'container', y: 0.96, yanchor: 'top' },
    margin: { ...margin, t: (margin.t ?? 100) + SEED_SUBTITLE_PX },
  };
  // A legend title that said what one seed's bars were (e.g. a Wilson interval) would now mislead: the bars are the seeds'.
  const legend = f0.layout.legend as { title?: { text?: string } } | undefined;
  if (kept.has('bars') && legend?.title?.text && /\bbars\b/.test(legend.title.text)) {
    layout.legend = { ...legend, title: { ...legend.title, text: 'bars: 95% t interval over seeds' } };
  }
  if (f0.fittedY) widenRangesToBars(layout, data);
  const size = f0.size ? { ...f0.size, height: f0.size.height + SEED_SUBTITLE_PX } : undefined;
  return { ...f0, data, layout, ...(size ? { size } : {}) };
}

/**
 * A y range fitted to one seed's values (and its own intervals) can cut the seeds' bars. Widens (never narrows) each
 * fixed linear range so every bar is seen whole, with a 1% margin. Whole-scale ranges (0-100%) are not fitted and
 * stay: a t interval past 100% says the seeds disagree, and the part inside the scale says it.
 */
function widenRangesToBars(layout: Record<string, unknown>, data: readonly Trace[]): void {
  const reach = new Map<string, { lo: number; hi: number }>();
  for (const t of data) {
    const bars = t.error_y as { array?: number[]; arrayminus?: number[] } | undefined;
    if (!bars?.array || !Array.isArray(t.y)) continue;
    const key = `yaxis${String(t.yaxis ?? 'y').slice(1)}`;
    const r = reach.get(key) ?? { lo: Infinity, hi: -Infinity };
    (t.y as unknown[]).forEach((m, i) => {
      if (!isNum(m)) return;
      r.lo = Math.min(r.lo, m - (bars.arrayminus?.[i] ?? bars.array![i] ?? 0));
      r.hi = Math.max(r.hi, m + (bars.array![i] ?? 0));
    });
    reach.set(key, r);
  }
  for (const [key, r] of reach) {
    const axis = layout[key] as { range?: unknown; type?: string } | undefined;
    const range = axis?.range;
    if (!axis || axis.type === 'log' || !Array.isArray(range) || range.length !== 2 || !range.every(isNum) || !Number.isFinite(r.lo)) continue;
    const [lo, hi] = range as [number, number];
    const pad = 0.01 * Math.max(hi - lo, r.hi - r.lo);
    if (r.lo >= lo && r.hi <= hi) continue;
    layout[key] = { ...axis, range: [Math.min(lo, r.lo - pad), Math.max(hi, r.hi + pad)] };
  }
}
