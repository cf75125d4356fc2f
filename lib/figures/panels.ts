/** Grids of line-chart panels sharing a legend and axis titles: the shape of most of the paper's figures. */
import type { Figure } from './figure';

export interface Panel {
  title: string;
  /** plotly scatter traces; a name's legend entry shows once (legendgroup = name). */
  traces: Record<string, unknown>[];
}

export interface PanelGridOptions {
  rows?: number;
  cols?: number;
  xTitle: string;
  yTitle: string;
  xLog?: boolean;
  /** With xLog: the x where the data draws step 0 (ticked as 0). */
  xLogZeroAt?: number;
  /** Tick spacing on x (1 for blocks and layers, which are whole numbers). */
  xDtick?: number;
  /** Fixed y range for every panel; default [-0.02, 1.02] (accuracies); 'auto' lets plotly choose. */
  yRange?: [number, number] | 'auto';
  /** The fixed yRange was fitted to the values drawn (Figure.fittedY): a merge over seeds may widen it. */
  yFitted?: boolean;
  /** Said once above the legend (what all entries share, e.g. the learning rates' values), so entries stay short. */
  legendTitle?: string;
}

/** Log-axis ticks 1, 2, 5, 10, 20, 50, ... over the data's range, written out (plotly's own read "1 2 5 10 2 5 100"). */
export function logTicks(xs: readonly number[], zeroAt?: number): { tickvals: number[]; ticktext: string[] } {
  // zeroAt: where the data draws step 0 (a log axis has no 0); its tick reads 0 and nothing is ticked below it.
  const pos = xs.filter((x) => x > 0 && Number.isFinite(x) && (zeroAt === undefined || x >= zeroAt));
  if (pos.length === 0) return { tickvals: [], ticktext: [] };
  const lo = Math.min(...pos);
  const hi = Math.max(...pos);
  const tickvals: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = Number((m * 10 ** e).toPrecision(1));
      if (v >= (zeroAt ?? lo / 1.5) && v <= hi * 1.5) tickvals.push(v);
    }
  }
  return { tickvals, ticktext: tickvals.map((v) => (v === zeroAt ? '0' : v >= 1e5 || v < 1e-3 ? v.toExponential(0) : String(v))) };
}

export function panelFigure(title: string, panels: Panel[], opts: PanelGridOptions): Figure {
  const rows = opts.rows ?? 1;
  const cols = opts.cols ?? Math.ceil(panels.length / rows);
  const yRange = opts.yRange ?? [-0.02, 1.02];
  const seen = new Set<string>();
  const data: Record<string, unknown>[] = [];
  const annotations: Record<string, unknown>[] = [];
  const layout: Record<string, unknown> = {
    title: { text: title },
    grid: { rows, columns: cols, pattern: 'independent', ygap: 0.35, xgap: 0.12 },
    legend: { orientation: 'h', y: -0.15, ...(opts.legendTitle ? { title: { text: opts.legendTitle, side: 'top' } } : {}) },
    annotations,
    margin: { t: 100 },
  };
  panels.forEach((p, i) => {
    const n = i + 1;
    for (const t of p.traces) {
      const name = String(t.name);
      data.push({ type: 'scatter', mode: 'lines+markers', hovertemplate: `${opts.xTitle} %{x}<br>${opts.yTitle} %{y:.3~g}`, ...t, xaxis: `x${n}`, yaxis: `y${n}`, legendgroup: name, showlegend: t.showlegend ?? !seen.has(name) });
      seen.add(name);
    }
    const xs = p.traces.flatMap((t) => (Array.isArray(t.x) ? (t.x as unknown[]).filter((v): v is number => typeof v === 'number') : []));
    layout[`xaxis${n}`] = { title: { text: opts.xTitle, font: { size: 10 } }, ...(opts.xLog ? { type: 'log', tickmode: 'array', ...logTicks(xs, opts.xLogZeroAt) } : {}), ...(opts.xDtick ? { dtick: opts.xDtick } : {}) };
    layout[`yaxis${n}`] = { title: { text: opts.yTitle, font: { size: 10 } }, ...(yRange === 'auto' ? {} : { range: yRange }) };
    annotations.push({ text: p.title, xref: `x${n} domain`, yref: `y${n} domain`, x: 0.5, y: 1.12, showarrow: false, font: { size: 11 } });
  });
  return { data, layout, ...(opts.yFitted ? { fittedY: true } : {}) };
}
