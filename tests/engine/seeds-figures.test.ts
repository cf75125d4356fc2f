import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mergeSeedFigures, mergeSeedRows, mergeSeedTables } from '../../lib/figures/seeds';
import { generateFigures } from '../../lib/figures/sets';
import { toCsv, toDataFrame } from '../../lib/figures/table';
import type { Figure } from '../../lib/figures/figure';

const T2 = 4.303; // two-sided 95% t quantile, 2 degrees of freedom

test('seed tables: labels stay, a measured column becomes mean with its 95% t interval, seeds counted', () => {
  const seedTable = (acc: number[]) => ({ columns: ['lr', 'name', 'acc'], rows: [[0.1, 'a', acc[0]], [0.01, 'b', acc[1]]] });
  const m = mergeSeedRows([seedTable([0.5, 1]), seedTable([0.6, 1]), seedTable([0.7, 1])], [0, 1, 2]);
  assert.deepEqual(m.columns, ['lr', 'name', 'acc', 'acc_lo', 'acc_hi', 'seeds']);
  const half = (T2 * 0.1) / Math.sqrt(3);
  const [r0, r1] = m.rows as number[][];
  assert.deepEqual(r0.slice(0, 2), [0.1, 'a']);
  assert.ok(Math.abs(r0[2] - 0.6) < 1e-9 && Math.abs(r0[3] - (0.6 - half)) < 1e-5 && Math.abs(r0[4] - (0.6 + half)) < 1e-5, JSON.stringify(r0));
  assert.deepEqual(r1.slice(2), [1, 1, 1, 3], 'a value equal on every seed has a zero-width interval');
  // A threshold one seed never reaches (empty cell): the mean rests on the others, and `_n` says how many.
  const reach = (v: number | null) => ({ columns: ['run', 'stepsTo90'], rows: [['reFT', v]] });
  const partial = mergeSeedRows([reach(100), reach(null), reach(140)], [0, 1, 2]);
  assert.deepEqual(partial.columns, ['run', 'stepsTo90', 'stepsTo90_lo', 'stepsTo90_hi', 'stepsTo90_n', 'seeds']);
  assert.deepEqual([partial.rows[0][1], partial.rows[0][4], partial.rows[0][5]], [120, 2, 3]);
  // CSV-ready text that spells a number ('67.0', '' for none) is a number, as the figures' row helpers write them.
  const text = (v: string) => ({ columns: ['cell', 'acc'], rows: [['a', v]] });
  const fromText = mergeSeedRows([text('60.0'), text(''), text('80.0')], [0, 1, 2]);
  assert.deepEqual(fromText.columns, ['cell', 'acc', 'acc_lo', 'acc_hi', 'acc_n', 'seeds']);
  assert.deepEqual([fromText.rows[0][1], fromText.rows[0][4]], [70, 2]);
  // One seed: the table as it was, with its seed count.
  assert.deepEqual(mergeSeedRows([seedTable([0.5, 1])], [4]).rows[0], [0.1, 'a', 0.5, 1]);
});

test("seed tables that are not the same rows (another length, a seed-dependent label) are stacked with a seed column, never averaged", () => {
  const a = { columns: ['k', 'v'], rows: [['x', 1], ['y', 2]] };
  const longer = { columns: ['k', 'v'], rows: [['x', 1], ['y', 2], ['z', 3]] };
  const relabelled = { columns: ['k', 'v'], rows: [['x', 1], ['w', 2]] };
  for (const other of [longer, relabelled]) {
    const m = mergeSeedRows([a, other], [0, 1]);
    assert.deepEqual(m.columns, ['seed', 'k', 'v']);
    assert.equal(m.rows.length, a.rows.length + other.rows.length);
    assert.deepEqual(m.rows.map((r) => r[0]), [...a.rows.map(() => 0), ...other.rows.map(() => 1)]);
  }
  const df = mergeSeedTables([toDataFrame([{ k: 'x', v: 1 }]), toDataFrame([{ k: 'x', v: 3 }])], [0, 1]);
  assert.equal(toCsv(df), `k,v,v_lo,v_hi,seeds\nx,2,${Number((2 - 12.706).toPrecision(6))},${Number((2 + 12.706).toPrecision(6))},2\n`);
});

test('seed figures: curves become the mean with asymmetric 95% bars; heat maps average cell by cell; what differs by seed is kept apart and said', () => {
  const fig = (ys: number[], z: number[][], keys = ['a', 'b']): Figure => ({
    data: [
      { type: 'scatter', mode: 'lines', name: 'acc', x: [0, 10, 20], y: ys, line: { color: '#123456' } },
      { type: 'bar', orientation: 'h', name: 'gain', y: ['n1'], x: [ys[0]] },
      { type: 'heatmap', z, x: keys, y: keys },
    ],
    layout: { title: { text: 'T' } },
  });
  const figs = [fig([0.1, 0.5, 0.9], [[1, 0], [0, 1]]), fig([0.3, 0.5, 0.7], [[0, 1], [1, 0]]), fig([0.2, 0.5, 0.8], [[0.5, 0.5], [0.5, 0.5]])];
  const m = mergeSeedFigures(figs, [0, 1, 2]);
  const [line, bar, heat] = m.data as Record<string, any>[];
  assert.deepEqual(line.y.map((v: number) => +v.toFixed(9)), [0.2, 0.5, 0.8]);
  const half = (T2 * 0.1) / Math.sqrt(3);
  assert.ok(Math.abs(line.error_y.array[0] - half) < 1e-9 && Math.abs(line.error_y.arrayminus[2] - half) < 1e-9 && line.error_y.array[1] === 0);
  assert.equal(line.error_y.color, '#123456', 'bars in the curve’s colour');
  assert.ok(Math.abs(bar.x[0] - 0.2) < 1e-9 && bar.error_x.array.length === 1 && !('error_y' in bar), 'horizontal bars get x error bars');
  assert.deepEqual(heat.z, [[0.5, 0.5], [0.5, 0.5]]);
  assert.match((m.layout.title as { text: string }).text, /^T<br><sub>mean of seeds 0, 1, 2; bars: 95% t interval over seeds<\/sub>$/);
  assert.equal((m.layout.margin as { t: number }).t, 130, 'room for the subtitle');
  const explained = mergeSeedFigures(figs.map((f) => ({ ...f, layout: { ...f.layout, legend: { title: { text: 'bars: 95% Wilson interval over the test set' } } } })), [0, 1, 2]);
  assert.equal((explained.layout.legend as { title: { text: string } }).title.text, 'bars: 95% t interval over seeds', 'a legend that explained one seed\'s bars says what the bars are now');
  assert.equal((explained.layout.title as { yanchor: string }).yanchor, 'top');
  const maps = mergeSeedFigures(figs.map((f) => ({ ...f, data: [f.data[2]] })), [0, 1, 2]);
  assert.match((maps.layout.title as { text: string }).text, /<sub>mean of seeds 0, 1, 2<\/sub>$/, 'heat maps alone: a mean, no bars to explain');

  // Another prompt per seed: the map is seed 0's, and the title says so. Another x grid: one curve per seed.
  const other = fig([0.3, 0.5, 0.7], [[0, 1], [1, 0]], ['c', 'd']);
  (other.data[0] as { x: number[] }).x = [0, 5, 20];
  const kept = mergeSeedFigures([figs[0], other], [0, 1]);
  assert.equal(kept.data.length, 4);
  assert.deepEqual((kept.data[3] as { z: number[][] }).z, [[1, 0], [0, 1]]);
  assert.equal((kept.data[1] as { opacity: number; showlegend: boolean }).opacity, 0.35);
  assert.match((kept.layout.title as { text: string }).text, /maps that differ by seed: seed 0; curves on different grids: one per seed/);
  assert.throws(() => mergeSeedFigures([figs[0], { ...figs[1], data: figs[1].data.slice(1) }], [0, 1]), /different numbers of traces \(3, 2\)/);
});

test("seed figures: a y range fitted to one seed's values widens to show the seeds' bars whole, and never narrows", () => {
  const panel = (ys: number[]): Figure => ({
    data: [
      { type: 'scatter', name: 'acc', x: [0, 1], y: ys, xaxis: 'x1', yaxis: 'y1' },
      { type: 'scatter', name: 'acc', x: [0, 1], y: [0.6, 0.6], xaxis: 'x2', yaxis: 'y2' },
    ],
    layout: { yaxis1: { range: [0.5, 0.9] }, yaxis2: { range: [0, 1] } },
    fittedY: true,
  });
  const m = mergeSeedFigures([panel([0.6, 0.9]), panel([0.8, 0.9]), panel([0.7, 0.9])], [0, 1, 2]);
  const whole = mergeSeedFigures([panel([0.6, 0.9]), panel([0.8, 0.9]), panel([0.7, 0.9])].map((f) => ({ ...f, fittedY: undefined })), [0, 1, 2]);
  assert.deepEqual((whole.layout.yaxis1 as { range: number[] }).range, [0.5, 0.9], 'a range the figure did not fit to its values stays');
  const half = (T2 * 0.1) / Math.sqrt(3);
  const [lo, hi] = (m.layout.yaxis1 as { range: [number, number] }).range;
  const pad = 0.01 * (2 * half); // 1% of the bars' reach, wider than the old range's 0.4
  assert.ok(Math.abs(lo - (0.7 - half - pad)) < 1e-9, `lower end ${lo} shows the bar down to ${0.7 - half}`);
  assert.ok(Math.abs(hi - (0.7 + half + pad)) < 1e-9, `upper end ${hi} shows the bar up to ${0.7 + half}`);
  assert.deepEqual((m.layout.yaxis2 as { range: number[] }).range, [0, 1], 'a range that holds every bar stays as it was');
});

test('wraplab figures over seeds at smoke: each CSV is the merge of the single-seed CSVs, the HTML carries the error bars', async () => {
  process.env.WRAPLAB_QUIET = '1';
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-seedfig-'));
  try {
    const one = (seed: number) => generateFigures({ preset: 'smoke', seed, only: 'engine-demo', outDir: path.join(root, `s${seed}`), images: false, jobs: 2 });
    await one(0);
    await one(1);
    await generateFigures({ preset: 'smoke', seeds: [0, 1], only: 'engine-demo', outDir: path.join(root, 'both'), images: false, jobs: 2 });
    const read = (d: string, f: string) => fs.readFileSync(path.join(root, d, f), 'utf8');
    const csvRows = (d: string) => {
      const [head, ...lines] = read(d, 'engine_demo_results.csv').trim().split('\n');
      return { columns: head.split(','), rows: lines.map((l) => l.split(',').map((c) => (c !== '' && !Number.isNaN(Number(c)) ? Number(c) : c))) };
    };
    const expected = mergeSeedRows([csvRows('s0'), csvRows('s1')], [0, 1]);
    const got = csvRows('both');
    assert.deepEqual(got.columns, expected.columns);
    assert.deepEqual(got.rows, expected.rows.map((r) => r.map((c) => (typeof c === 'number' ? Number(c.toPrecision(6)) : c))));
    assert.ok(got.columns.includes('seeds'));
    const html = read('both', 'engine_demo_loss.html');
    assert.match(html, /"error_y":\{"type":"data","symmetric":false/);
    assert.match(html, /mean of seeds 0, 1/);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
