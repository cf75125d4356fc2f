import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { executeNotebooks } from '../../lib/jupyter';

// Needs Jupyter (nbconvert + nbclient) and Chromium, which .ci/run installs. WRAPLAB_SKIP_NOTEBOOKS=1 opts out locally.
test('the engine-tour notebook executes headless at smoke', { skip: process.env.WRAPLAB_SKIP_NOTEBOOKS === '1' ? 'WRAPLAB_SKIP_NOTEBOOKS=1' : false, timeout: 600_000 }, async () => {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-nb-'));
  const saved = process.env.WRAPLAB_DATA;
  process.env.WRAPLAB_DATA = data;
  try {
    const runs = await executeNotebooks({ preset: 'smoke', pattern: '00-engine-tour', outDir: path.join(data, 'executed') });
    assert.equal(runs.length, 1);
    assert.ok(runs[0].ok, runs[0].error);
    const nb = JSON.parse(fs.readFileSync(runs[0].output, 'utf8'));
    const outputs = nb.cells.flatMap((c: { outputs?: unknown[] }) => c.outputs ?? []);
    assert.ok(outputs.some((o: { data?: Record<string, unknown> }) => o.data?.['application/vnd.plotly.v1+json'] && o.data?.['image/png']), 'a figure with plotly JSON and a PNG');
    assert.ok(JSON.stringify(outputs).includes('bit-identical after reload: true'));
  } finally {
    if (saved === undefined) delete process.env.WRAPLAB_DATA;
    else process.env.WRAPLAB_DATA = saved;
  }
});
