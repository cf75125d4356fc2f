import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { executeNotebooks, listNotebooks } from '../../lib/jupyter';

// Every notebook must execute headless at `smoke`. Needs Jupyter (nbconvert + nbclient) and Chromium, which
// scripts/install.sh installs. WRAPLAB_SKIP_NOTEBOOKS=1 opts out on a machine without them.
const skip = process.env.WRAPLAB_SKIP_NOTEBOOKS === '1' ? 'WRAPLAB_SKIP_NOTEBOOKS=1' : false;
const data = fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-nb-'));

for (const nb of listNotebooks()) {
  const name = path.basename(nb, '.ipynb');
  test(`notebook ${name} executes headless at smoke`, { skip, timeout: 900_000 }, async () => {
    const saved = process.env.WRAPLAB_DATA;
    process.env.WRAPLAB_DATA = data; // runs shared between notebooks of this test file, kept out of data/
    try {
      const runs = await executeNotebooks({ preset: 'smoke', pattern: name, outDir: path.join(data, 'executed') });
      assert.equal(runs.length, 1);
      assert.ok(runs[0].ok, runs[0].error);
      const executed = JSON.parse(fs.readFileSync(runs[0].output, 'utf8'));
      const outputs = executed.cells.flatMap((c: { outputs?: unknown[] }) => c.outputs ?? []);
      assert.ok(!outputs.some((o: { output_type?: string }) => o.output_type === 'error'), 'no error outputs');
      if (name === '00-engine-tour') {
        assert.ok(outputs.some((o: { data?: Record<string, unknown> }) => o.data?.['application/vnd.plotly.v1+json'] && o.data?.['image/png']), 'a figure with plotly JSON and a PNG');
        assert.ok(JSON.stringify(outputs).includes('bit-identical after reload: true'));
      }
    } finally {
      if (saved === undefined) delete process.env.WRAPLAB_DATA;
      else process.env.WRAPLAB_DATA = saved;
    }
  });
}
