import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FIGURE_SETS, generateFigures, matchesPattern } from '../../lib/figures/sets';
import * as pcfgFigures from '../../lib/figures/pcfg';
import { PCFG_PLANS, dataStudy, type FinetuneTable } from '../../lib/studies/pcfg';
import { runStudy } from '../../lib/studies/study';
import { toCsv, toDataFrame } from '../../lib/figures/table';

test('figure sets: one study each, ids unique, --only matches ids, groups and globs; an unknown pattern names the sets', async () => {
  const ids = FIGURE_SETS.map((s) => s.id);
  assert.equal(new Set(ids).size, ids.length);
  assert.ok(FIGURE_SETS.every((s) => typeof s.study.plan === 'function' && s.title === s.study.title));
  assert.deepEqual(FIGURE_SETS.filter((s) => matchesPattern(s, 'tracr')).map((s) => s.id).sort(), ['tracr-finetune', 'tracr-prune', 'tracr-reft']);
  assert.deepEqual(FIGURE_SETS.filter((s) => matchesPattern(s, 'pcfg-*ing')).map((s) => s.id).sort(), ['pcfg-probing', 'pcfg-pruning']);
  await assert.rejects(generateFigures({ preset: 'smoke', only: 'nope' }), /no figure set matches "nope"; known: .*engine-demo \(engine\)/);
});

test('a set writes what its study table gives: the CSV is the figure module applied to the study table', async () => {
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-figures-'));
  const logs: string[] = [];
  const written = await generateFigures({ preset: 'smoke', seed: 3, only: 'pcfg-data', outDir, images: false, jobs: 1, log: (s) => logs.push(s) });
  assert.deepEqual(written.map((f) => path.basename(f)).sort(), ['fig16_label_distributions.csv', 'fig16_label_distributions.html']);
  const table = await runStudy(dataStudy, { preset: 'smoke', seed: 3 });
  assert.equal(fs.readFileSync(path.join(outDir, 'fig16_label_distributions.csv'), 'utf8'), toCsv(toDataFrame(pcfgFigures.fig16Rows(table))));
  assert.ok(logs.some((l) => /^figures: pcfg-data drawn in \d+ s$/.test(l)), logs.join('\n'));
  fs.rmSync(outDir, { recursive: true, force: true });
});

test('HTML figures share one plotly.min.js beside them (standalone inlines it); the same figure renders to identical SVG and PNG bytes; other presets write under WRAPLAB_DATA', async () => {
  const { saveFigure, SHARED_PLOTLY } = await import('../../lib/figures/figure');
  const { closeRenderer, deterministicSvg } = await import('../../lib/figures/render');
  const { figuresDir } = await import('../../lib/figures/sets');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-figshare-'));
  const fig = { data: [{ type: 'scatter', x: [1, 2, 3], y: [3, 1, 2], name: 'a' }, { type: 'bar', x: [1, 2], y: [2, 2], name: 'b' }], layout: { title: { text: 't' } } };
  try {
    await saveFigure(fig, dir, 'one', { images: false });
    await saveFigure(fig, dir, 'two', { images: false });
    await saveFigure(fig, dir, 'alone', { images: false, html: 'standalone' });
    const shared = fs.readFileSync(path.join(dir, 'one.html'), 'utf8');
    assert.ok(shared.includes(`<script src="${SHARED_PLOTLY}"></script>`) && shared.length < 10_000, 'the shared HTML is small and loads the file beside it');
    assert.ok(fs.statSync(path.join(dir, SHARED_PLOTLY)).size > 1e6);
    assert.ok(fs.statSync(path.join(dir, 'alone.html')).size > 1e6, 'standalone inlines plotly');
    let haveChromium = true;
    try {
      await saveFigure(fig, dir, 'r1');
      await saveFigure(fig, dir, 'r2');
    } catch (e) {
      if (!/Chromium/.test((e as Error).message)) throw e;
      haveChromium = false;
    }
    if (haveChromium) {
      const svg = fs.readFileSync(path.join(dir, 'r1.svg'), 'utf8');
      assert.equal(svg, fs.readFileSync(path.join(dir, 'r2.svg'), 'utf8'), 'identical SVG bytes');
      assert.ok(fs.readFileSync(path.join(dir, 'r1.png')).equals(fs.readFileSync(path.join(dir, 'r2.png'))), 'identical PNG bytes');
      assert.ok(!/(clip|defs-|trace)[0-9a-f]{6}[^0-9a-f]/.test(svg), 'no random ids left');
    }
    assert.equal(deterministicSvg('<defs id="defs-0a33d4"/><clipPath id="clip0a33d4xyplot"/><rect fill="#0a33d4"/>'), '<defs id="defs-wl0"/><clipPath id="clipwl0xyplot"/><rect fill="#0a33d4"/>', 'a colour that spells the id is left alone');
  } finally {
    await closeRenderer();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const prev = process.env.WRAPLAB_DATA;
  process.env.WRAPLAB_DATA = '/tmp/wl-elsewhere';
  try {
    assert.equal(figuresDir('smoke'), path.join('/tmp/wl-elsewhere', 'figures', 'smoke'));
  } finally {
    if (prev === undefined) delete process.env.WRAPLAB_DATA;
    else process.env.WRAPLAB_DATA = prev;
  }
});

test('figures are pure functions of tables: Fig 5 draws exactly the cells it is given', () => {
  const curve = [0, 10, 20].map((step) => ({ step, 'acc.oft.cte0': step / 100, 'acc.oft.cte1': step / 50, 'acc.opt.cte0': 1 - step / 100 }));
  const results = { accPT: {}, early: {}, earlyStep: 10, final: {}, curve };
  const table: FinetuneTable = { preset: 'smoke', plan: PCFG_PLANS.smoke, accPT: {}, cells: [{ prior: 'L', lr: 'M', cTrain: 1, results }], tableCells: [] };
  const fig = pcfgFigures.fig5(table);
  const traces = fig.data as { name: string; x: number[]; y: number[]; xaxis: string }[];
  assert.equal(traces.length, 2, 'one trace per C_Te panel');
  assert.deepEqual(traces.map((t) => [t.xaxis, t.y]), [['x1', [0, 0.1, 0.2]], ['x2', [0, 0.2, 0.4]]]);
  assert.equal(traces[0].name, 'C_Tr=1, η_M', 'a short legend entry');
  assert.match(String((fig.layout.legend as { title: { text: string } }).title.text), /η_M=0\.001/, 'the LR values once, in the legend title');
  assert.deepEqual(pcfgFigures.fig6(table).data.map((t) => (t as { y: number[] }).y), [[1, 0.9, 0.8]]);
});

test('attention heat maps: a grid of square panels with query / key axes, token tick labels, hover naming both tokens, one 0-1 scale', async () => {
  const { attentionGrid } = await import('../../lib/figures/heatmaps');
  const pattern = [[1, 0, 0], [0.5, 0.5, 0], [0.2, 0.3, 0.5]];
  const fig = attentionGrid(['a', 'b', 'c', 'd', 'e'].map((name) => ({ name, pattern })), ['BOS', 'x', 'y'], 't');
  const data = fig.data as { name: string; x: string[]; y: string[]; zmin: number; zmax: number; hovertemplate: string; showscale: boolean }[];
  assert.equal(data.length, 5);
  assert.deepEqual(data[0].x, ['0:BOS', '1:x', '2:y']);
  assert.ok(data.every((d) => d.zmin === 0 && d.zmax === 1 && /query %\{y\}/.test(d.hovertemplate) && /key %\{x\}/.test(d.hovertemplate)));
  assert.deepEqual(data.map((d) => d.name), ['a', 'b', 'c', 'd', 'e'], 'hover names the panel, not "trace 0"');
  assert.equal(data.filter((d) => d.showscale).length, 1, 'one colour bar');
  const grid = fig.layout.grid as { rows: number; columns: number };
  assert.deepEqual([grid.rows, grid.columns], [2, 3]);
  const y1 = fig.layout.yaxis1 as { title: { text: string }; scaleanchor: string; autorange: string };
  assert.deepEqual([y1.title.text, y1.scaleanchor, y1.autorange], ['query', 'x1', 'reversed'], 'square panels, query rows top-down');
  assert.equal((fig.layout.xaxis5 as { title: { text: string } }).title.text, 'key');
  assert.equal((fig.layout.annotations as { text: string }[]).map((a) => a.text).join(), 'a,b,c,d,e', 'each panel titled');
  assert.ok(fig.size && fig.size.height > fig.size.width / 3 && fig.size.width < 1500, 'the figure knows its size: two rows, not a 3360-px strip');
});

test('log axes tick 1 2 5 10 20 50 100, written out', async () => {
  const { logTicks } = await import('../../lib/figures/panels');
  assert.deepEqual(logTicks([1, 3, 150]), { tickvals: [1, 2, 5, 10, 20, 50, 100, 200], ticktext: ['1', '2', '5', '10', '20', '50', '100', '200'] });
  assert.deepEqual(logTicks([]).tickvals, []);
  assert.deepEqual(logTicks([0.5, 3, 100], 0.5), { tickvals: [0.5, 1, 2, 5, 10, 20, 50, 100], ticktext: ['0', '1', '2', '5', '10', '20', '50', '100'] }, 'step 0 drawn at 0.5 reads 0, nothing below');
});

test('the TinyStories probe figure draws the majority baseline, 95% intervals, and a y axis that shows both', async () => {
  const tsFigures = await import('../../lib/figures/tinystories');
  const labels = ['Present in PT', 'Not in PT', ...['F', 'F+R', 'F+MM'].flatMap((p) => [`${p} (LR S)`, `${p} (LR M)`])];
  const models = labels.map((label, i) => ({ label, layers: ['blocks.0.resid_post', 'blocks.1.resid_post'], features: ['Twist'], accuracy: [[0.86 + i / 100], [0.88]], positiveRate: [0.25], testSize: 1000 }));
  const fig = tsFigures.probeFigure({ models }, 'Twist', 't');
  const traces = fig.data as { name: string; y: number[]; error_y?: { array: number[]; arrayminus: number[] }; xaxis: string }[];
  const base = traces.filter((t) => /majority/.test(t.name));
  assert.equal(base.length, 2, 'a baseline in each panel');
  assert.deepEqual(base[0].y, [0.75, 0.75]);
  const present = traces.find((t) => t.name === 'Present in PT')!;
  const half = present.error_y!.array[0] + present.error_y!.arrayminus[0];
  assert.ok(half > 0.03 && half < 0.05, `a Wilson interval at n=1000 around 0.86 is ~0.043 wide, got ${half}`);
  const range = (fig.layout.yaxis1 as { range: [number, number] }).range;
  assert.ok(range[0] < 0.75 && range[1] > 0.9, `y range ${range} shows the baseline and the intervals`);
});

test('the held-out-realiser Twist probe figure draws chance, the words-alone baseline and a y axis that shows them', async () => {
  const tsFigures = await import('../../lib/figures/tinystories');
  const labels = ['Present in PT', 'Not in PT', 'untrained (same shape)', ...['F', 'F+R', 'F+MM'].flatMap((p) => [`${p} (LR S)`, `${p} (LR M)`])];
  const layers = ['blocks.0.resid_post', 'blocks.1.resid_post', 'blocks.2.resid_post'];
  const models = labels.map((label, i) => ({ label, layers, accuracy: [0.7 + i / 100, 0.75, 0.72], testSize: 2900, folds: [] }));
  const structure = { models, words: { accuracy: 0.535, testSize: 2900, folds: [] } };
  const fig = tsFigures.structureProbeFigure(structure, 't');
  const traces = fig.data as { name: string; y: number[]; error_y?: { array: number[]; arrayminus: number[] }; xaxis: string }[];
  const chance = traces.filter((t) => t.name === 'chance');
  const words = traces.filter((t) => /words alone/.test(t.name));
  assert.equal(chance.length, 2, 'chance in each panel');
  assert.deepEqual(chance[0].y, [0.5, 0.5, 0.5]);
  assert.deepEqual(words[0].y, [0.535, 0.535, 0.535]);
  // Each panel: its LR's three deleted models, the two pretrained models and the untrained control, then the two lines.
  assert.equal(traces.length, 2 * (3 + 3 + 2));
  const untrained = traces.find((t) => t.name === 'untrained (same shape)')!;
  assert.equal(untrained.y.length, 3);
  const half = untrained.error_y!.array[0] + untrained.error_y!.arrayminus[0];
  assert.ok(half > 0.025 && half < 0.04, `a Wilson interval at n=2900 around 0.72 is ~0.033 wide, got ${half}`);
  const range = (fig.layout.yaxis1 as { range: [number, number] }).range;
  assert.ok(range[0] < 0.5 && range[1] > 0.75, `y range ${range} shows chance and the intervals`);
  assert.equal(fig.fittedY, true, 'its range is fitted to its values, so a merge over seeds may widen it');
  const rows = tsFigures.structureProbeRows(structure);
  assert.equal(rows.length, labels.length * 3 + 1);
  assert.deepEqual(rows.at(-1), { model: 'words alone (bag of words)', block: '', accuracy: 0.535, testStories: 2900 });
});
