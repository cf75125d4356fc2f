/**
 * Attention heat maps that read at a glance: one square panel per pattern on a grid (at most `cols` across),
 * query positions down and key positions across with their tokens as tick labels, the panel's name above it,
 * one 0–1 colour scale shared by all panels, and hover text naming both tokens and the weight.
 */
import type { Figure } from './figure';

export interface AttentionPanel {
  name: string;
  /** pattern[query][key], rows summing to 1 over the visible keys. */
  pattern: number[][];
}

export interface AttentionGridOptions {
  /** Panels per row (default 3). */
  cols?: number;
  /** Side of one panel in pixels (default 300). */
  panelPx?: number;
}

/** Light for "almost no attention", dark for "all of it": weights near 1/T stay visible without capping the scale. */
const ATTENTION_SCALE: [number, string][] = [[0, '#ffffff'], [0.05, '#deebf7'], [0.25, '#9ecae1'], [0.5, '#4292c6'], [1, '#08306b']];

/** Tick labels "position:token" (positions keep repeated tokens apart). */
export const positionLabels = (tokens: readonly string[]) => tokens.map((t, i) => `${i}:${t}`);

export function attentionGrid(panels: readonly AttentionPanel[], tokens: readonly string[], title: string, opts: AttentionGridOptions = {}): Figure {
  const n = panels.length;
  const cols = Math.max(1, Math.min(opts.cols ?? 3, n));
  const rows = Math.ceil(n / cols);
  const side = opts.panelPx ?? 300;
  const labels = positionLabels(tokens);
  const tickSize = tokens.length > 16 ? 8 : 11;
  const data = panels.map((p, i) => ({
    type: 'heatmap',
    name: p.name,
    z: p.pattern,
    x: labels,
    y: labels,
    zmin: 0,
    zmax: 1,
    colorscale: ATTENTION_SCALE,
    showscale: i === 0,
    colorbar: { title: { text: 'attention' }, len: 0.6, thickness: 14, tickvals: [0, 0.25, 0.5, 0.75, 1] },
    xgap: 1,
    ygap: 1,
    hovertemplate: 'query %{y} → key %{x}<br>weight %{z:.3f}',
    xaxis: `x${i + 1}`,
    yaxis: `y${i + 1}`,
  }));
  const annotations: Record<string, unknown>[] = [];
  const layout: Record<string, unknown> = {
    title: { text: title },
    grid: { rows, columns: cols, pattern: 'independent', xgap: 0.18, ygap: 0.3 },
    annotations,
    margin: { t: 90, l: 70, r: 40, b: 70 },
  };
  panels.forEach((p, i) => {
    const a = i + 1;
    const firstCol = i % cols === 0;
    layout[`xaxis${a}`] = { title: { text: 'key', font: { size: 11 } }, tickfont: { size: tickSize }, tickangle: -60, constrain: 'domain' };
    layout[`yaxis${a}`] = { title: { text: firstCol ? 'query' : '', font: { size: 11 } }, tickfont: { size: tickSize }, autorange: 'reversed', scaleanchor: `x${a}`, constrain: 'domain' };
    annotations.push({ text: p.name, xref: `x${a} domain`, yref: `y${a} domain`, x: 0.5, y: 1.04, xanchor: 'center', yanchor: 'bottom', showarrow: false, font: { size: 12 } });
  });
  return { data, layout, size: { width: cols * (side + 90) + 160, height: rows * (side + 110) + 110 } };
}
