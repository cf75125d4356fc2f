/**
 * Tables as danfojs DataFrames: built from plain rows, shown as HTML in notebooks, saved as CSV beside the
 * figures. danfojs (the universal build, sharing the project's one tfjs) loads lazily: it is heavy and only
 * tables need it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../engine/fsutil';
import { tslab } from '../notebook';

type Row = Record<string, string | number | boolean | null>;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type DataFrame = any;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function danfo(): any {
  return require('danfojs');
}

export function toDataFrame(rows: Row[]): DataFrame {
  if (rows.length === 0) throw new Error('toDataFrame: no rows');
  const dfd = danfo();
  return new dfd.DataFrame(rows);
}

function rowsOf(df: DataFrame): { columns: string[]; values: unknown[][] } {
  return { columns: df.columns as string[], values: df.values as unknown[][] };
}

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(df: DataFrame): string {
  const { columns, values } = rowsOf(df);
  return [columns.map(csvCell).join(','), ...values.map((r) => r.map(csvCell).join(','))].join('\n') + '\n';
}

/** Writes <dir>/<name>.csv; returns the path. */
export function saveTable(df: DataFrame, dir: string, name: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.csv`);
  writeFileAtomic(file, toCsv(df));
  return file;
}

function fmt(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(3);
  return String(v ?? '');
}

export function tableHtml(df: DataFrame, caption?: string): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const { columns, values } = rowsOf(df);
  const head = columns.map((c) => `<th>${esc(c)}</th>`).join('');
  const body = values.map((r) => `<tr>${r.map((v) => `<td>${esc(fmt(v))}</td>`).join('')}</tr>`).join('');
  return `<table>${caption ? `<caption>${esc(caption)}</caption>` : ''}<thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

/** Shows a DataFrame in a notebook; prints it in a terminal. */
export function showTable(df: DataFrame, caption?: string): void {
  const nb = tslab();
  if (nb) nb.display.html(tableHtml(df, caption));
  else df.print();
}
