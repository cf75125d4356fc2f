/**
 * The figure registry behind `wraplab figures`: each entry regenerates some of the paper's figures and
 * tables from the library (running, or reusing, the cached experiments they need). No Jupyter involved.
 */
import * as path from 'node:path';
import type { Preset } from '../experiments/registry';
import { projectRoot } from '../engine/runs';
import { GridWork, gridWork } from '../experiments/grid';
import { Figure, saveFigure } from './figure';
import { DataFrame, saveTable } from './table';
import { closeRenderer } from './render';

export interface FigureOutputs {
  figures: { name: string; figure: Figure; width?: number; height?: number }[];
  tables: { name: string; table: DataFrame }[];
}

export interface FigureSet {
  /** e.g. 'engine-demo-loss'; --only matches ids and groups. */
  id: string;
  /** 'engine' | 'pcfg' | 'tracr' | 'tinystories' */
  group: string;
  title: string;
  build(preset: Preset, seed: number): Promise<FigureOutputs>;
}

const sets = new Map<string, FigureSet>();

export function registerFigures(set: FigureSet): FigureSet {
  if (sets.has(set.id)) throw new Error(`figure set ${set.id} is registered twice`);
  sets.set(set.id, set);
  return set;
}

/**
 * Shared stages of a group, trained before its sets when several of them are regenerated together: e.g. every
 * PCFG pretraining in one grid, longest first, so two workers share them instead of each set's grid waiting on
 * its own (the P^H pretraining alone is ~12 minutes).
 */
const prefetches = new Map<string, (preset: Preset, seed: number) => Promise<void>>();

export function registerGroupPrefetch(group: string, prefetch: (preset: Preset, seed: number) => Promise<void>): void {
  if (prefetches.has(group)) throw new Error(`group ${group} has a prefetch already`);
  prefetches.set(group, prefetch);
}

export function listFigureSets(): FigureSet[] {
  return [...sets.values()].sort((a, b) => a.id.localeCompare(b.id));
}

/** Figures of the default preset go to figures/; other presets to data/figures/<preset>/ (kept out of git). */
export function figuresDir(preset: Preset): string {
  const root = projectRoot();
  return preset === 'laptop' ? path.join(root, 'figures') : path.join(root, 'data', 'figures', preset);
}

/** Glob-ish match: `*` wildcards; a plain word matches as a substring of the id or the group. */
export function matchesPattern(set: FigureSet, pattern: string | undefined): boolean {
  if (!pattern) return true;
  if (pattern.includes('*')) {
    const re = new RegExp('^' + pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
    return re.test(set.id) || re.test(set.group);
  }
  return set.id.includes(pattern) || set.group === pattern;
}

/** "; N runs computed, their run times summed S s" for the grid work done since `from` (empty if none). */
function workSince(from: GridWork): string {
  const now = gridWork();
  const runs = now.runs - from.runs;
  return runs ? `; ${runs} runs computed, their run times summed ${((now.runMs - from.runMs) / 1000).toFixed(0)} s` : '';
}

export async function generateFigures(opts: { preset: Preset; seed?: number; only?: string; outDir?: string; images?: boolean; log?: (s: string) => void }): Promise<string[]> {
  const chosen = listFigureSets().filter((s) => matchesPattern(s, opts.only));
  if (chosen.length === 0) {
    throw new Error(`no figure set matches "${opts.only}"; known: ${listFigureSets().map((s) => `${s.id} (${s.group})`).join(', ')}`);
  }
  const dir = opts.outDir ?? figuresDir(opts.preset);
  const written: string[] = [];
  const started = performance.now();
  const workAtStart = gridWork();
  const seconds = (since: number) => ((performance.now() - since) / 1000).toFixed(0);
  try {
    const groups = [...new Set(chosen.map((s) => s.group))];
    for (const group of groups) {
      const prefetch = prefetches.get(group);
      if (!prefetch || chosen.filter((s) => s.group === group).length < 2) continue;
      opts.log?.(`figures: ${group} — shared stages first`);
      const stageStarted = performance.now();
      const workBefore = gridWork();
      await prefetch(opts.preset, opts.seed ?? 0);
      opts.log?.(`figures: ${group} shared stages done in ${seconds(stageStarted)} s${workSince(workBefore)}`);
    }
    for (const set of chosen) {
      opts.log?.(`figures: ${set.id} — ${set.title}`);
      const setStarted = performance.now();
      const workBefore = gridWork();
      const out = await set.build(opts.preset, opts.seed ?? 0);
      for (const f of out.figures) written.push(...(await saveFigure(f.figure, dir, f.name, { images: opts.images, width: f.width, height: f.height })));
      for (const t of out.tables) written.push(saveTable(t.table, dir, t.name));
      // Wall times per set: what the README's "regenerating takes" numbers are read from.
      // and the runs' own times summed: what a single worker would have needed (before the parallel grid).
      opts.log?.(`figures: ${set.id} done in ${seconds(setStarted)} s${workSince(workBefore)}`);
    }
    if (chosen.length > 1) opts.log?.(`figures: ${chosen.length} sets done in ${seconds(started)} s${workSince(workAtStart)}`);
  } finally {
    await closeRenderer();
  }
  return written;
}
