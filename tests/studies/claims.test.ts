import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decide, tMean } from '../../lib/analysis/stats';
import { CLAIMS, chooseClaims, claimsMarkdown, measureClaims } from '../../lib/studies/claims';

test('claims: ids unique, each names its study and a threshold; --only picks by id, group or glob and names the known ones', async () => {
  const ids = CLAIMS.map((c) => c.id);
  assert.equal(new Set(ids).size, ids.length);
  assert.ok(CLAIMS.every((c) => c.study && Number.isFinite(c.threshold) && c.statement && c.paper));
  assert.deepEqual(new Set(CLAIMS.map((c) => c.group)), new Set(['pcfg', 'tracr', 'tinystories']));
  await assert.rejects(measureClaims({ preset: 'smoke', only: 'nope' }), /no claim matches "nope"; known: pcfg-shortcut/);
  await assert.rejects(measureClaims({ preset: 'smoke', seeds: [], only: 'tracr' }), /seeds must be non-negative integers/);
  assert.deepEqual(chooseClaims('tinystories-reft-faster, tracr-reft*').map((c) => c.id), ['tracr-reft-faster', 'tinystories-reft-faster'], 'comma lists, in table order');
  assert.deepEqual(chooseClaims('pcfg').map((c) => c.group), ['pcfg', 'pcfg', 'pcfg', 'pcfg', 'pcfg', 'pcfg']);
});

test('the Tracr claims over 2 seeds at smoke: one value per seed, seeds differ, a rerun gives identical rows, the verdict is the interval\'s', { timeout: 300_000 }, async () => {
  const saved = process.env.WRAPLAB_DATA;
  process.env.WRAPLAB_DATA = fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-claims-'));
  try {
    const rows = await measureClaims({ preset: 'smoke', seeds: 2, only: 'tracr', jobs: 1 });
    assert.deepEqual(rows.map((r) => r.id), ['tracr-attention-kept', 'tracr-prune-one-weight', 'tracr-prune-exact-weights', 'tracr-best-single-weight', 'tracr-reft-faster']);
    for (const r of rows) {
      assert.equal(r.values.length, 2, r.id);
      assert.deepEqual(r.seeds, [0, 1]);
      const e = tMean(r.values);
      assert.deepEqual([r.mean, r.lo95, r.hi95], [e.value, e.lo, e.hi]);
      assert.equal(r.verdict, decide(e, r));
    }
    assert.ok(rows.some((r) => r.values[0] !== r.values[1]), 'seed 1 is a different run, not a copy of seed 0');
    assert.deepEqual(await measureClaims({ preset: 'smoke', seeds: 2, only: 'tracr', jobs: 1 }), rows, 'same seeds, same rows');
    const md = claimsMarkdown(rows);
    assert.match(md, /\| 2 \| [-0-9.]+ \[[-0-9.]+, [-0-9.]+\] \| > 0 \| (yes|no|within noise) \|/);
    assert.match(md, /^Preset smoke, seeds 0, 1; .*Not measured here: pcfg-shortcut, /, 'the table says what it leaves out');
    // One claim over more seeds: its row extends the same seeds' values, the others stay, and the table says how.
    const more = await measureClaims({ preset: 'smoke', seeds: 2, seedsFor: { 'tracr-attention-kept': 3 }, only: 'tracr', jobs: 1 });
    assert.deepEqual(more.map((r) => r.id), rows.map((r) => r.id), 'table order kept');
    assert.deepEqual(more[0].seeds, [0, 1, 2]);
    assert.deepEqual(more[0].values.slice(0, 2), rows[0].values, 'seeds 0 and 1 are the same runs');
    assert.deepEqual(more.slice(1), rows.slice(1));
    assert.match(claimsMarkdown(more), /^Preset smoke, seeds 0, 1 \(tracr-attention-kept: seeds 0, 1, 2\); `npx wraplab claims --preset smoke --seeds 2 --seeds-for tracr-attention-kept=3`/);
    await assert.rejects(measureClaims({ preset: 'smoke', seedsFor: { 'pcfg-*': 4 }, only: 'tracr' }), /seeds for "pcfg-\*": it picks none of the claims measured here/);
  } finally {
    fs.rmSync(process.env.WRAPLAB_DATA!, { recursive: true, force: true });
    if (saved === undefined) delete process.env.WRAPLAB_DATA;
    else process.env.WRAPLAB_DATA = saved;
  }
});
