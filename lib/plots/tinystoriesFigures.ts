/**
 * TinyStories figures (paper §5): Fig 11 (Twist probe vs block; reFT loss vs iterations), the Table 1
 * analog (% of sampled stories with a Twist during reFT), and the appendix views: Figs 31-34 (losses and
 * Twist rate during deletion and reFT) and Figs 35-38 (probes for Twist, Foreshadowing, MoralValue,
 * BadEnding).
 */
import { runGrid } from '../experiments/grid';
import { Panel, panelFigure } from './panels';
import type { Preset } from '../experiments/registry';
import { tinyStoriesStageWaves, type CurveRow, type TinyStoriesProbeResults, type TinyStoriesReftResults } from '../experiments/tinystories';
import { DELETION_PROTOCOLS } from '../experiments/tinystoriesStages';
import { Figure } from './figure';
import { registerFigures } from './registry';
import { toDataFrame } from './table';

export interface StorySeries {
  name: string;
  x: number[];
  y: number[];
  dash?: string;
}

export interface StoryPanel {
  title: string;
  series: StorySeries[];
}

const COLOURS: Record<string, string> = {
  F: '#1f77b4',
  'F+R': '#d62728',
  'F+MM': '#2ca02c',
  'Not in PT': '#7f7f7f',
  'Present in PT': '#000000',
};

function colourOf(name: string): string | undefined {
  return COLOURS[name.replace(/ \(LR [SM]\)$/, '')];
}

/** Side-by-side panels sharing a legend; `logX` plots step 0 at 0.5 (a log axis has no 0). */
export function storyPanelsFigure(panels: StoryPanel[], opts: { title: string; xTitle: string; yTitle: string; logX?: boolean }): Figure {
  const asPanels: Panel[] = panels.map((p) => ({
    title: p.title,
    traces: p.series.map((s) => ({
      name: s.name.replace(/ \(LR [SM]\)$/, ''),
      x: opts.logX ? s.x.map((v) => (v === 0 ? 0.5 : v)) : s.x,
      y: s.y,
      line: { color: colourOf(s.name), dash: s.dash },
    })),
  }));
  return panelFigure(opts.title, asPanels, { rows: 1, cols: panels.length, xTitle: opts.xTitle, yTitle: opts.yTitle, xLog: opts.logX, yRange: 'auto' });
}

type Curve = keyof Omit<CurveRow, 'step'>;

function curveSeries(name: string, rows: CurveRow[], key: Curve, scale = 1): StorySeries {
  return { name, x: rows.map((r) => r.step), y: rows.map((r) => r[key] * scale) };
}

/** Probe accuracy vs block for one feature; panels LR M and LR S, as in the paper's Fig 11 left. */
export function probeFigure(probe: TinyStoriesProbeResults, feature: string, title: string): Figure {
  const byLabel = new Map(probe.models.map((m) => [m.label, m]));
  const series = (label: string): StorySeries => {
    const m = byLabel.get(label)!;
    const j = m.features.indexOf(feature);
    return { name: label, x: m.layers.map((_, i) => i), y: m.accuracy.map((row) => row[j]), dash: label.endsWith('in PT') ? 'dot' : undefined };
  };
  const panels = (['M', 'S'] as const).map((lr) => ({
    title: `LR ${lr}`,
    series: [...DELETION_PROTOCOLS.map((p) => series(`${p} (LR ${lr})`)), series('Not in PT'), series('Present in PT')],
  }));
  return storyPanelsFigure(panels, { title, xTitle: 'block', yTitle: `${feature} probe accuracy` });
}

/** reFT curves of one metric; panels LR S and LR M (the deleted models at that LR, plus the control). */
export function reftFigure(reft: TinyStoriesReftResults, key: Curve, title: string, yTitle: string, scale = 1): Figure {
  const control = reft.reft.find((r) => r.protocol === null)!;
  const panels = (['S', 'M'] as const).map((lr) => ({
    title: `deletion LR ${lr}`,
    series: [...reft.reft.filter((r) => r.lr === lr).map((r) => curveSeries(r.label, r.curve, key, scale)), curveSeries('Not in PT', control.curve, key, scale)],
  }));
  return storyPanelsFigure(panels, { title, xTitle: 'reFT iteration (0 drawn at 0.5)', yTitle, logX: true });
}

/** Deletion curves of one metric; panels LR S and LR M. */
export function deletionFigure(reft: TinyStoriesReftResults, key: Curve, title: string, yTitle: string, scale = 1): Figure {
  const panels = (['S', 'M'] as const).map((lr) => ({
    title: `deletion LR ${lr}`,
    series: reft.deletion.filter((d) => d.lr === lr).map((d) => curveSeries(`${d.protocol} (LR ${lr})`, d.curve, key, scale)),
  }));
  return storyPanelsFigure(panels, { title, xTitle: 'deletion fine-tuning iteration', yTitle });
}

/** Table 1 analog rows: one per reFT source, one column per table step. */
export function table1Rows(reft: TinyStoriesReftResults): Record<string, string | number>[] {
  return reft.table.map((t) => {
    const row: Record<string, string | number> = { protocol: t.label };
    t.steps.forEach((s, i) => (row[`it ${s}`] = t.twistPercent[i]));
    t.steps.forEach((s, i) => (row[`it ${s} (exact judge)`] = t.twistPercentExact[i]));
    return row;
  });
}

export async function tinyStoriesResults(preset: Preset, seed: number): Promise<{ reft: TinyStoriesReftResults; probe: TinyStoriesProbeResults }> {
  // Independent stages first, wave by wave, so parallel grid workers share the work; the two aggregates below
  // then read every stage from the run cache.
  for (const wave of tinyStoriesStageWaves()) {
    await runGrid(wave.map((stage) => ({ experiment: 'tinystories-stage', preset, seed, sets: [`stage=${JSON.stringify(stage)}`] })));
  }
  const [reft, probe] = await runGrid([
    { experiment: 'tinystories-reft', preset, seed },
    { experiment: 'tinystories-probe', preset, seed },
  ]);
  return { reft: reft.results as TinyStoriesReftResults, probe: probe.results as TinyStoriesProbeResults };
}

registerFigures({
  id: 'tinystories',
  group: 'tinystories',
  title: 'TinyStories: Fig 11, Table 1, Figs 31-38',
  async build(preset, seed) {
    const { reft, probe } = await tinyStoriesResults(preset, seed);
    const wide = { width: 1000, height: 450 };
    const pre = reft.pretrained;
    return {
      figures: [
        { name: 'fig11_tinystories_probe_twist', figure: probeFigure(probe, 'Twist', `Fig 11 (left): Twist probe accuracy per block (${preset})`), ...wide },
        { name: 'fig11_tinystories_reft_loss', figure: reftFigure(reft, 'lossTwist', `Fig 11 (right): loss on Twist stories during reFT (${preset})`, 'loss on Twist stories'), ...wide },
        { name: 'fig31_tinystories_deletion_loss', figure: deletionFigure(reft, 'lossTwist', `Fig 31: loss on Twist stories during deletion (${preset})`, 'loss on Twist stories'), ...wide },
        { name: 'fig32_tinystories_deletion_twist_rate', figure: deletionFigure(reft, 'twistRate', `Fig 32: % stories with a Twist during deletion (${preset})`, '% with Twist', 100), ...wide },
        { name: 'fig33_tinystories_reft_adversarial_loss', figure: reftFigure(reft, 'lossAdversarial', `Fig 33: adversarial loss during reFT (${preset})`, 'loss, prompts asking for Twist'), ...wide },
        { name: 'fig34_tinystories_reft_twist_rate', figure: reftFigure(reft, 'twistRate', `Fig 34: % stories with a Twist during reFT (${preset})`, '% with Twist', 100), ...wide },
        ...(['Twist', 'Foreshadowing', 'MoralValue', 'BadEnding'] as const).map((f, i) => ({
          name: `fig${35 + i}_tinystories_probe_${f.toLowerCase()}`,
          figure: probeFigure(probe, f, `Fig ${35 + i}: ${f} probe accuracy per block (${preset})`),
          ...wide,
        })),
      ],
      tables: [
        { name: 'table1_tinystories_reft_twist_rate', table: toDataFrame(table1Rows(reft)) },
        {
          name: 'tinystories_pretrained',
          table: toDataFrame((['present', 'absent'] as const).map((v) => ({ model: v === 'present' ? 'Present in PT' : 'Not in PT', ...pre[v], twistPercent: Math.round(100 * pre[v].twistRate) }))),
        },
        {
          name: 'tinystories_probe_accuracy',
          table: toDataFrame(probe.models.flatMap((m) => m.layers.map((layer, i) => {
            const row: Record<string, string | number> = { model: m.label, block: i };
            m.features.forEach((f, j) => (row[f] = m.accuracy[i][j]));
            return row;
          }))),
        },
      ],
    };
  },
});
