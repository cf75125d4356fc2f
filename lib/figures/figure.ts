/**
 * Figures are plain plotly.js specs ({data, layout}). One spec becomes:
 * - an interactive HTML file beside one shared plotly.min.js (opens offline; `html: 'standalone'` inlines it),
 * - PNG and SVG files rendered by headless Chromium (see render.ts),
 * - an inline display in a tslab notebook (interactive plotly JSON where the front end renders it —
 *   VS Code, JupyterLab with the plotly extension — with a PNG fallback for the others).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../engine/fsutil';
import { tslab } from '../notebook';
import { renderImages } from './render';

export interface Figure {
  data: Record<string, unknown>[];
  layout: Record<string, unknown>;
  /** The size it reads best at (grids of panels know theirs); saving and showing default to it. */
  size?: { width: number; height: number };
  /**
   * Its fixed y ranges were fitted to the values it draws (not a whole scale such as 0-100%): drawn over seeds, the
   * seeds' bars may reach past them, so the merge widens them (lib/figures/seeds.ts).
   */
  fittedY?: boolean;
}

/** A figure of a set, by file name; width and height override the figure's own size. */
export interface NamedFigure {
  name: string;
  figure: Figure;
  width?: number;
  height?: number;
}

export const DEFAULT_SIZE = { width: 800, height: 500 };

let plotlySource: string | null = null;
export function plotlyJs(): string {
  if (!plotlySource) plotlySource = fs.readFileSync(PLOTLY_FILE, 'utf8');
  return plotlySource;
}

const PLOTLY_FILE = require.resolve('plotly.js-dist-min/plotly.min.js');
/** The file HTML figures share in their folder. */
export const SHARED_PLOTLY = 'plotly.min.js';

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Safe to embed in a <script>: no "</script>" can end it early. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c');
}

/** The figure as an HTML page: plotly.js inlined, or (`plotlySrc`) loaded from a file beside it. */
export function figureHtml(fig: Figure, title = String((fig.layout.title as { text?: string })?.text ?? 'wraplab figure'), plotlySrc?: string): string {
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
${plotlySrc ? `<script src="${escapeHtml(plotlySrc)}"></script>` : `<script>${plotlyJs()}</script>`}</head>
<body style="margin:0"><div id="fig" style="width:100%;height:100vh"></div>
<script>Plotly.newPlot('fig', ${scriptJson(fig.data)}, ${scriptJson({ ...fig.layout, autosize: true })}, {responsive: true});</script>
</body></html>
`;
}

export interface SaveOptions {
  /** Also write PNG and SVG (needs Chromium). Default true. */
  images?: boolean;
  /** 'shared' (default): the HTML loads plotly.min.js written once into the same folder; 'standalone': inlined
   *  (~4.6 MB per file, opens alone anywhere). */
  html?: 'shared' | 'standalone';
  width?: number;
  height?: number;
}

/** Writes <dir>/<name>.html (+ .png, .svg); returns the paths written. */
export async function saveFigure(fig: Figure, dir: string, name: string, opts: SaveOptions = {}): Promise<string[]> {
  fs.mkdirSync(dir, { recursive: true });
  const base = path.join(dir, name);
  const written: string[] = [];
  if (opts.html === 'standalone') writeFileAtomic(`${base}.html`, figureHtml(fig));
  else {
    const shared = path.join(dir, SHARED_PLOTLY);
    if (!fs.existsSync(shared) || fs.statSync(shared).size !== fs.statSync(PLOTLY_FILE).size) fs.copyFileSync(PLOTLY_FILE, shared);
    writeFileAtomic(`${base}.html`, figureHtml(fig, undefined, SHARED_PLOTLY));
  }
  written.push(`${base}.html`);
  if (opts.images !== false) {
    const size = { width: opts.width ?? fig.size?.width ?? DEFAULT_SIZE.width, height: opts.height ?? fig.size?.height ?? DEFAULT_SIZE.height };
    const { png, svg } = await renderImages(fig, size);
    writeFileAtomic(`${base}.png`, png);
    writeFileAtomic(`${base}.svg`, svg);
    written.push(`${base}.png`, `${base}.svg`);
  }
  return written;
}

let plotlySentToNotebook = false;
let notebookFigures = 0;

/**
 * The HTML of a figure in a notebook output: a div holding the PNG (what an untrusted notebook, nbconvert or a
 * page without scripts shows) that a script replaces with the interactive plot. plotly.js travels once per kernel,
 * in the first figure's output, registered with the classic Notebook's RequireJS as `wraplab-plotly` (or as
 * window.Plotly where there is no RequireJS); later figures only require it.
 */
export function notebookFigureHtml(fig: Figure, opts: { id: string; height: number; pngBase64?: string; includePlotly: boolean }): string {
  // One copy of plotly.js, as a module factory: RequireJS defines it, or it runs at once where there is none.
  const loader = opts.includePlotly
    ? `<script type="text/javascript">(function () { var load = function (require, exports, module) {\n${plotlyJs()}\n};
if (typeof window.define === 'function' && window.define.amd) window.define('wraplab-plotly', load); else if (!window.Plotly) load(); })();</script>\n`
    : '';
  const img = opts.pngBase64 ? `<img src="data:image/png;base64,${opts.pngBase64}" style="max-width:100%" alt="figure">` : '';
  return `${loader}<div id="${opts.id}" class="wraplab-figure" style="width:100%;min-height:${opts.height}px">${img}</div>
<script type="text/javascript">(function () {
  var draw = function (Plotly) { var el = document.getElementById('${opts.id}'); if (!el || !Plotly) return; el.innerHTML = ''; el.style.height = '${opts.height}px'; Plotly.newPlot(el, ${scriptJson(fig.data)}, ${scriptJson({ ...fig.layout, autosize: true })}, {responsive: true}); };
  if (window.Plotly) draw(window.Plotly);
  else if (typeof window.requirejs === 'function') window.requirejs(['wraplab-plotly'], draw, function () {});
})();</script>`;
}

/**
 * Shows a figure inline in a notebook (no-op outside one). One display with three forms, so every front end
 * shows something: HTML that draws the interactive plot in the classic Notebook (plotly.js sent once per kernel),
 * plotly's own mime type (JupyterLab with its plotly extension, VS Code) and a PNG (GitHub, nbconvert) when
 * Chromium is available.
 */
export async function showFigure(fig: Figure, opts: { width?: number; height?: number } = {}): Promise<void> {
  const nb = tslab();
  if (!nb) return;
  const height = opts.height ?? fig.size?.height ?? DEFAULT_SIZE.height;
  const width = opts.width ?? fig.size?.width ?? DEFAULT_SIZE.width;
  const data: Record<string, unknown> = { 'application/vnd.plotly.v1+json': { data: fig.data, layout: fig.layout } };
  let png: string | undefined;
  try {
    png = Buffer.from((await renderImages(fig, { width, height }, { svg: false })).png).toString('base64');
    data['image/png'] = png;
  } catch (e) {
    data['text/plain'] = `(figure: the static PNG needs Chromium: ${(e as Error).message})`;
  }
  const id = `wraplab-fig-${createHash('sha256').update(JSON.stringify(fig)).digest('hex').slice(0, 10)}-${++notebookFigures}`;
  data['text/html'] = notebookFigureHtml(fig, { id, height, pngBase64: png, includePlotly: !plotlySentToNotebook });
  plotlySentToNotebook = true;
  const jupyter = require('tslab/dist/jupyter') as { lastWriteDisplayData: (d: unknown, update: boolean) => void };
  jupyter.lastWriteDisplayData({ data, metadata: {}, transient: {} }, false);
}
