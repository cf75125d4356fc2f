/**
 * Figures: plotly specs (HTML, PNG, SVG, inline in notebooks) and danfojs tables (CSV), drawn as pure functions
 * of the studies' tables; the figure sets `wraplab figures` regenerates.
 */
export { DEFAULT_SIZE, figureHtml, saveFigure, showFigure } from './figure';
export type { Figure } from './figure';
export { panelFigure } from './panels';
export type { Panel, PanelGridOptions } from './panels';
export { ChromiumMissingError, findChromium, renderImages } from './render';
export { saveTable, showTable, tableHtml, toCsv, toDataFrame } from './table';
export type { DataFrame } from './table';
export { FIGURE_SETS, figuresDir, generateFigures, listFigureSets, matchesPattern } from './sets';
export type { FigureOutputs, FigureSet, GenerateOptions } from './sets';
export * as engine from './engine';
export * as pcfg from './pcfg';
export * as tracr from './tracr';
export * as tinystories from './tinystories';
