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
  /** Fixed y range for every panel; default [-0.02, 1.02] (accuracies); 'auto' lets plotly choose. */
  yRange?: [number, number] | 'auto';
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
    legend: { orientation: 'h', y: -0.15 },
    annotations,
    margin: { t: 80 },
  };
  panels.forEach((p, i) => {
    const n = i + 1;
    for (const t of p.traces) {
      const name = String(t.name);
      data.push({ type: 'scatter', mode: 'lines+markers', ...t, xaxis: `x${n}`, yaxis: `y${n}`, legendgroup: name, showlegend: !seen.has(name) });
      seen.add(name);
    }
    layout[`xaxis${n}`] = { title: { text: opts.xTitle, font: { size: 10 } }, ...(opts.xLog ? { type: 'log' } : {}) };
    layout[`yaxis${n}`] = { title: { text: opts.yTitle, font: { size: 10 } }, ...(yRange === 'auto' ? {} : { range: yRange }) };
    annotations.push({ text: p.title, xref: `x${n} domain`, yref: `y${n} domain`, x: 0.5, y: 1.12, showarrow: false, font: { size: 11 } });
  });
  return { data, layout };
}
