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
    assert.deepEqual(rows.map((r) => r.id), ['tracr-attention-kept', 'tracr-prune-one-weight', 'tracr-prune-exact-weights', 'tracr-reft-faster']);
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
  } finally {
    fs.rmSync(process.env.WRAPLAB_DATA!, { recursive: true, force: true });
    if (saved === undefined) delete process.env.WRAPLAB_DATA;
    else process.env.WRAPLAB_DATA = saved;
  }
});
