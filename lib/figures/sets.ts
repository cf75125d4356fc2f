/**
 * The figure sets behind `wraplab figures`: each pairs a study (its runs and tables) with what to draw from the
 * tables. Regenerating several sets schedules all their runs as one graph first (shared stages once, both cores
 * busy), then draws each set. No Jupyter involved.
 */
import { UsageError } from '../experiments/define';
import * as path from 'node:path';
import { dataDir, projectRoot } from '../engine/runs';
import type { Preset } from '../experiments/define';
import { demoStudy } from '../studies/engine';
import * as pcfgStudies from '../studies/pcfg';
import { runStudiesOverSeeds, type AnyStudy } from '../studies/study';
import { tinyStoriesStudy } from '../studies/tinystories';
import * as tracrStudies from '../studies/tracr';
import { workDone, type Work } from '../sweep/schedule';
import { defaultJobs } from '../sweep/pool';
import * as engine from './engine';
import { type Figure, type NamedFigure, saveFigure } from './figure';
import * as pcfg from './pcfg';
import { closeRenderer } from './render';
import { SEED_SUBTITLE_PX, mergeSeedFigures, mergeSeedTables } from './seeds';
import { DataFrame, saveTable, toDataFrame } from './table';
import * as tinystories from './tinystories';
import * as tracr from './tracr';

export interface FigureOutputs {
  figures: NamedFigure[];
  tables: { name: string; table: DataFrame }[];
}

export interface FigureSet<T = unknown> {
  /** e.g. 'engine-demo'; --only matches ids and groups. */
  id: string;
  group: 'engine' | 'pcfg' | 'tracr' | 'tinystories';
  title: string;
  study: AnyStudy;
  draw(table: T): FigureOutputs;
}

const set = <T>(s: { id: string; group: FigureSet['group']; study: { title: string; table: (...a: never[]) => T | Promise<T> } & AnyStudy; draw(table: T): FigureOutputs }): FigureSet<T> => ({ ...s, title: s.study.title });

export const FIGURE_SETS: readonly FigureSet<never>[] = [
  set({
    id: 'engine-demo',
    group: 'engine',
    study: demoStudy,
    draw: (t) => ({
      figures: [
        { name: 'engine_demo_loss', figure: engine.demoLoss(t) },
        { name: 'engine_demo_attention', figure: engine.demoAttention(t) },
      ],
      tables: [{ name: 'engine_demo_results', table: engine.demoResults(t) }],
    }),
  }),
  set({
    id: 'pcfg-finetune',
    group: 'pcfg',
    study: pcfgStudies.finetuneStudy,
    draw: (t) => ({
      figures: [
        { name: 'fig5_finetune_acc_oft', figure: pcfg.fig5(t), width: 900, height: 280 * t.plan.priors.length + 150 },
        { name: 'fig6_finetune_acc_opt', figure: pcfg.fig6(t), width: 900, height: 300 * t.plan.lrs.length + 150 },
      ],
      tables: [
        { name: 'table5_pretrain_acc', table: toDataFrame(pcfg.accPTRows(t)) },
        { name: 'table5_counter', table: toDataFrame(pcfg.table5Rows(t)) },
      ],
    }),
  }),
  set({
    id: 'pcfg-pruning',
    group: 'pcfg',
    study: pcfgStudies.pruningStudy,
    draw: (t) => ({
      figures: [
        { name: 'fig7_pruning', figure: pcfg.fig7Main(t), width: 1200, height: 700 },
        { name: 'fig79_pruning_wide', figure: pcfg.fig7Wide(t), width: 900, height: 700 },
        { name: 'fig79_pruning_oneshot_all', figure: pcfg.fig7OneShot(t), width: 900, height: 700 },
      ],
      tables: [{ name: 'fig7_pruning', table: toDataFrame(pcfg.pruningRows(t)) }],
    }),
  }),
  set({
    id: 'pcfg-probing',
    group: 'pcfg',
    study: pcfgStudies.probingStudy,
    draw: (t) => ({ figures: [{ name: 'fig8_probing', figure: pcfg.fig8(t), width: pcfg.fig8Width(t), height: 650 }], tables: [{ name: 'fig8_probing', table: toDataFrame(pcfg.probingRows(t)) }] }),
  }),
  set({
    id: 'pcfg-reft',
    group: 'pcfg',
    study: pcfgStudies.reftStudy,
    draw: (t) => ({ figures: [{ name: 'fig9_reft', figure: pcfg.fig9(t), width: 1200, height: 520 }], tables: [{ name: 'fig9_reft', table: toDataFrame(pcfg.reftRows(t)) }] }),
  }),
  set({ id: 'pcfg-indexer', group: 'pcfg', study: pcfgStudies.indexerStudy, draw: (t) => ({ figures: [], tables: [{ name: 'table7_indexer', table: toDataFrame(pcfg.table7Rows(t)) }] }) }),
  set({
    id: 'pcfg-data',
    group: 'pcfg',
    study: pcfgStudies.dataStudy,
    draw: (t) => ({ figures: [{ name: 'fig16_label_distributions', figure: pcfg.fig16(t), width: 1000, height: 700 }], tables: [{ name: 'fig16_label_distributions', table: toDataFrame(pcfg.fig16Rows(t)) }] }),
  }),
  set({
    id: 'pcfg-appendix',
    group: 'pcfg',
    study: pcfgStudies.appendixStudy,
    draw: (t) => ({
      figures: [
        { name: 'fig18_mixing', figure: pcfg.fig18(t), width: 900, height: 450 },
        { name: 'fig24_jailbreak', figure: pcfg.fig24(t), width: 1200, height: 380 * t.plan.jailbreak.lrs.length + 120 },
      ],
      tables: [{ name: 'fig18_fig24_appendix', table: toDataFrame(pcfg.appendixRows(t)) }],
    }),
  }),
  set({
    id: 'tracr-finetune',
    group: 'tracr',
    study: tracrStudies.finetuneStudy,
    draw: (t) => ({ figures: tracr.finetuneFigures(t), tables: [{ name: 'table3_tracr_finetune', table: toDataFrame(tracr.tracrTable3Rows(t.finetuned)) }] }),
  }),
  set({
    id: 'tracr-prune',
    group: 'tracr',
    study: tracrStudies.pruneStudy,
    draw: (t) => {
      const { figures, rows } = tracr.pruneFigures(t);
      return {
        figures,
        tables: [
          { name: 'figs55-58_tracr_pruning', table: toDataFrame(rows) },
          ...(t.scan ? [{ name: 'figs55-58_counter_weight_scan', table: toDataFrame(tracr.weightScanRows(t.scan)) }] : []),
        ],
      };
    },
  }),
  set({
    id: 'tracr-reft',
    group: 'tracr',
    study: tracrStudies.reftStudy,
    draw: (t) => {
      const { figures, rows } = tracr.reftFigures(t);
      return { figures, tables: [{ name: 'table4_tracr_reft', table: toDataFrame(rows) }] };
    },
  }),
  set({
    id: 'tinystories',
    group: 'tinystories',
    study: tinyStoriesStudy,
    draw: (t) => ({
      figures: tinystories.tinyStoriesFigures(t),
      tables: [
        { name: 'table1_tinystories_reft_twist_rate', table: toDataFrame(tinystories.table1Rows(t.reft)) },
        { name: 'tinystories_pretrained', table: toDataFrame(tinystories.pretrainedRows(t)) },
        { name: 'tinystories_probe_accuracy', table: toDataFrame(tinystories.probeRows(t.probe)) },
        ...(t.probe.structure ? [{ name: 'tinystories_structure_probe', table: toDataFrame(tinystories.structureProbeRows(t.probe.structure)) }] : []),
      ],
    }),
  }),
] as unknown as FigureSet<never>[];

export function listFigureSets(): FigureSet<never>[] {
  return [...FIGURE_SETS].sort((a, b) => a.id.localeCompare(b.id));
}

/** Figures of the default preset go to figures/ (committed); other presets under the data folder
 *  (WRAPLAB_DATA, else data/): <data>/figures/<preset>/. */
export function figuresDir(preset: Preset): string {
  return preset === 'laptop' ? path.join(projectRoot(), 'figures') : path.join(dataDir(), 'figures', preset);
}

/** Glob-ish match: `*` wildcards; a plain word matches as a substring of the id or the group. */
export function matchesPattern(s: { id: string; group: string }, pattern: string | undefined): boolean {
  if (!pattern) return true;
  if (pattern.includes('*')) {
    const re = new RegExp('^' + pattern.split('*').map((x) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
    return re.test(s.id) || re.test(s.group);
  }
  return s.id.includes(pattern) || s.group === pattern;
}

/** "; N tasks computed, their run times summed S s" for the work done since `from` (empty if none). */
function workSince(from: Work): string {
  const now = workDone();
  const tasks = now.tasks - from.tasks;
  return tasks ? `; ${tasks} tasks computed, their run times summed ${((now.runMs - from.runMs) / 1000).toFixed(0)} s` : '';
}

export interface GenerateOptions {
  preset: Preset;
  seed?: number;
  /** Draw over these seeds instead (mean and 95% t interval per trace and per measured CSV column); overrides `seed`. */
  seeds?: readonly number[];
  only?: string;
  outDir?: string;
  images?: boolean;
  html?: 'shared' | 'standalone';
  /** Worker processes for the runs (default $WRAPLAB_JOBS, else the number of cores). */
  jobs?: number;
  log?: (s: string) => void;
}

export async function generateFigures(opts: GenerateOptions): Promise<string[]> {
  const chosen = listFigureSets().filter((s) => matchesPattern(s, opts.only));
  if (chosen.length === 0) {
    throw new UsageError(`no figure set matches "${opts.only}"; known: ${listFigureSets().map((s) => `${s.id} (${s.group})`).join(', ')}`);
  }
  const dir = opts.outDir ?? figuresDir(opts.preset);
  const written: string[] = [];
  const started = performance.now();
  const seconds = (since: number) => ((performance.now() - since) / 1000).toFixed(0);
  try {
    // Wall time of the runs and their summed run times (what a single worker would have needed): the numbers the
    // README's "regenerating takes" lines are read from.
    opts.log?.(`figures: ${chosen.map((s) => s.id).join(', ')} — their runs first, as one schedule`);
    const before = workDone();
    const seeds = opts.seeds?.length ? [...opts.seeds] : [opts.seed ?? 0];
    const perSeed = await runStudiesOverSeeds(chosen.map((s) => s.study), seeds, { preset: opts.preset, jobs: opts.jobs ?? defaultJobs(), log: opts.log });
    opts.log?.(`figures: runs done in ${seconds(started)} s${workSince(before)}${seeds.length > 1 ? ` (seeds ${seeds.join(', ')})` : ''}`);
    for (const [i, s] of chosen.entries()) {
      const drawStarted = performance.now();
      const outs = perSeed.map((tables) => s.draw(tables[i] as never));
      const [out] = outs;
      for (const [k, f] of out.figures.entries()) {
        const figure = seeds.length > 1 ? mergeSeedFigures(outs.map((o) => o.figures[k].figure), seeds) : f.figure;
        // The seeds' subtitle line needs room (mergeSeedFigures makes the same room in the figure's own size).
        const height = f.height !== undefined && seeds.length > 1 ? f.height + SEED_SUBTITLE_PX : f.height;
        written.push(...(await saveFigure(figure, dir, f.name, { images: opts.images, html: opts.html, width: f.width, height })));
      }
      for (const [k, t] of out.tables.entries()) {
        const table = seeds.length > 1 ? mergeSeedTables(outs.map((o) => o.tables[k].table), seeds) : t.table;
        written.push(saveTable(table, dir, t.name));
      }
      opts.log?.(`figures: ${s.id} drawn in ${seconds(drawStarted)} s`);
    }
    if (chosen.length > 1) opts.log?.(`figures: ${chosen.length} sets done in ${seconds(started)} s${workSince(before)}`);
  } finally {
    await closeRenderer();
  }
  return written;
}
