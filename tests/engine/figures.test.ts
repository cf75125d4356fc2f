import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateFigures, registerFigures, registerGroupPrefetch } from '../../lib/plots/registry';

test('a group\'s shared stages run once, before its sets, when two or more of its sets are regenerated', async () => {
  const calls: string[] = [];
  const empty = { figures: [], tables: [] };
  for (const id of ['prefetch-test-a', 'prefetch-test-b']) {
    registerFigures({ id, group: 'prefetch-test', title: id, build: async (preset) => (calls.push(`${id}:${preset}`), empty) });
  }
  registerGroupPrefetch('prefetch-test', async (preset, seed) => void calls.push(`prefetch:${preset}:${seed}`));
  assert.throws(() => registerGroupPrefetch('prefetch-test', async () => {}), /has a prefetch already/);
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-figures-'));
  const logs: string[] = [];
  await generateFigures({ preset: 'smoke', seed: 3, only: 'prefetch-test', outDir, images: false, log: (s) => logs.push(s) });
  assert.deepEqual(calls, ['prefetch:smoke:3', 'prefetch-test-a:smoke', 'prefetch-test-b:smoke']);
  assert.ok(logs.some((l) => /^figures: prefetch-test shared stages done in \d+ s$/.test(l)), logs.join('\n'));
  calls.length = 0;
  await generateFigures({ preset: 'smoke', only: 'prefetch-test-b', outDir, images: false });
  assert.deepEqual(calls, ['prefetch-test-b:smoke'], 'one set alone trains only what it needs');
  fs.rmSync(outDir, { recursive: true, force: true });
});
